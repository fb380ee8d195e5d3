//! `dynasim sweep` and `dynasim merge` end to end, on a tiny scenario (4 nodes, 2 simulated
//! seconds): results that do not depend on the thread count or on sharding, resuming that
//! reruns only what is missing, invalid settings skipped and reported, and a changed grid
//! refused. Each test works in its own folder under the system's temporary directory.

mod common;

use common::Scratch;
use dynasim::error::{Exit, Failure};
use dynasim::sweep::{self, MergeArgs, SweepArgs, SweepOutcome};
use std::path::{Path, PathBuf};
use std::process::Command;

const TINY: &str = r#"{
  "name": "tiny",
  "duration_s": 2,
  "cluster": {
    "datacenters": [{"name": "east", "nodes": 2}, {"name": "west", "nodes": 2}],
    "partitioning": {"strategy": "equal_partitions", "partitions": 16}
  },
  "replication": {"n": 3, "r": 2, "w": 2},
  "workload": {
    "kind": "open_loop", "ops_per_s": 60, "clients": 4, "read_fraction": 0.5,
    "keys": 40, "key_distribution": "uniform", "write_mode": "read_modify_write",
    "value_bytes": 64, "routing": "partition_aware", "request_timeout_ms": 300
  },
  "faults": [{"kind": "partition", "at_s": 0.5, "duration_s": 1, "groups": [["east"], ["west"]]}]
}"#;

/// A fresh folder holding the tiny scenario; removed again when the test passes.
struct Workspace {
    dir: Scratch,
}

impl Workspace {
    fn new(test: &str) -> Workspace {
        let dir = Scratch::new(&format!("sweep-{test}"));
        std::fs::write(dir.join("tiny.json"), TINY).expect("write the scenario");
        Workspace { dir }
    }

    fn scenario(&self) -> PathBuf {
        self.dir.join("tiny.json")
    }

    fn out(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    fn args(&self, out: &str, grid: &[&str], seeds: &str) -> SweepArgs {
        SweepArgs {
            scenario: self.scenario(),
            grid: grid.iter().map(|g| g.to_string()).collect(),
            sets: Vec::new(),
            seeds: Some(seeds.to_string()),
            jobs: Some(1),
            out: Some(self.out(out)),
            shard: None,
            force: false,
            quiet: true,
            no_memory_check: false,
        }
    }
}

const RW: [&str; 2] = ["replication.r=1,2", "replication.w=1,2"];

fn ok<T>(r: Result<T, Failure>) -> T {
    match r {
        Ok(v) => v,
        Err(f) => panic!("exit {:?}: {}", f.exit, f.message),
    }
}

fn sweep(args: &SweepArgs) -> SweepOutcome {
    ok(sweep::sweep(args))
}

fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

#[test]
fn jobs_1_and_jobs_2_give_identical_results() {
    let ws = Workspace::new("jobs");
    let one = sweep(&ws.args("one", &RW, "1..2"));
    let mut args = ws.args("two", &RW, "1..2");
    args.jobs = Some(2);
    let two = sweep(&args);
    assert!(one.complete && two.complete);
    assert_eq!(one.executed.len(), 8);
    assert_eq!(one.executed, two.executed);
    for file in [
        "sweep.json",
        "sweep.md",
        "sweep.csv",
        "sweep.html",
        "plots/heatmap-stale_read_fraction.svg",
        "plots/tradeoff.png",
    ] {
        assert_eq!(
            read(&ws.out("one").join(file)),
            read(&ws.out("two").join(file)),
            "{file} differs"
        );
    }
    let doc: serde_json::Value =
        serde_json::from_slice(&read(&ws.out("one").join("sweep.json"))).expect("JSON");
    assert_eq!(doc["runs"].as_array().map(Vec::len), Some(8));
    assert_eq!(doc["runs"][0]["id"], "r=1,w=1,seed=1");
    assert_eq!(doc["runs"][1]["id"], "r=1,w=1,seed=2");
    assert_eq!(doc["settings"].as_array().map(Vec::len), Some(4));
    let ranks: Vec<u64> = doc["settings"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| s["rank"].as_u64())
        .collect();
    let mut sorted = ranks.clone();
    sorted.sort();
    assert_eq!(sorted, vec![1, 2, 3, 4], "every setting has its own rank");
    // sweep.html: a heatmap per headline metric over the 2 x 2 grid, a row per setting.
    let html = String::from_utf8(read(&ws.out("one").join("sweep.html"))).expect("UTF-8");
    assert_eq!(
        html.matches("<table class=\"heat\">").count(),
        5,
        "five heatmaps"
    );
    assert_eq!(
        html.matches("class=\"scale\"").count(),
        5,
        "a colour bar each"
    );
    let rows = html
        .split("<table id=\"settings\">")
        .nth(1)
        .expect("the settings table");
    assert_eq!(
        rows.matches("<tr><td data-v=").count(),
        4,
        "a row per setting"
    );
    assert!(
        !html.contains("src=\"http") && !html.contains("<link"),
        "self-contained"
    );
    // sweep.csv: a row per run with the same values as sweep.json.
    let csv = String::from_utf8(read(&ws.out("one").join("sweep.csv"))).expect("UTF-8");
    let lines: Vec<Vec<String>> = csv.lines().map(csv_fields).collect();
    assert_eq!(lines.len(), 1 + 8, "{csv}");
    let header = &lines[0];
    assert_eq!(
        &header[..6],
        &[
            "run",
            "setting",
            "replication.r",
            "replication.w",
            "seed",
            "digest"
        ]
    );
    let col = |name: &str| header.iter().position(|h| h == name).expect(name);
    for (row, run) in lines[1..].iter().zip(doc["runs"].as_array().expect("runs")) {
        assert_eq!(row[col("run")], run["id"].as_str().expect("id"));
        assert_eq!(row.len(), header.len());
        assert_eq!(row[col("digest")], run["digest"].as_str().expect("digest"));
        assert_eq!(row[col("seed")], run["seed"].to_string());
        let stale: f64 = row[col("stale_read_fraction")].parse().expect("number");
        assert_eq!(Some(stale), run["metrics"]["stale_read_fraction"].as_f64());
    }
    let avail = &doc["settings"][0]["metrics"]["read_availability"];
    assert_eq!(avail["n"], 2);
    assert!(
        avail["ci95"].is_array(),
        "two seeds give an interval: {avail}"
    );
}

#[test]
fn merged_shards_equal_the_single_machine_sweep() {
    let ws = Workspace::new("shards");
    let whole = sweep(&ws.args("whole", &RW, "1..2"));
    let mut shard_runs = Vec::new();
    for (k, name) in [(1, "shard1"), (2, "shard2")] {
        let mut args = ws.args(name, &RW, "1..2");
        args.shard = Some(format!("{k}/2"));
        let outcome = sweep(&args);
        assert!(!outcome.complete, "half a sweep writes no summary");
        assert!(!ws.out(name).join("sweep.json").exists());
        assert_eq!(outcome.executed.len(), 4);
        shard_runs.extend(outcome.executed);
    }
    shard_runs.sort();
    let mut all = whole.executed.clone();
    all.sort();
    assert_eq!(shard_runs, all, "the shards split the runs without overlap");
    let merged = ok(sweep::merge_dirs(&MergeArgs {
        dirs: vec![ws.out("shard1"), ws.out("shard2")],
        out: ws.out("merged"),
        force: false,
        quiet: true,
    }));
    assert!(merged.complete);
    for file in ["sweep.json", "sweep.md", "plots/heatmap-read_p999_ms.png"] {
        assert_eq!(
            read(&ws.out("whole").join(file)),
            read(&ws.out("merged").join(file)),
            "{file} differs"
        );
    }
    // A merge with a shard missing names what is missing instead of writing a partial summary.
    let partial = sweep::merge_dirs(&MergeArgs {
        dirs: vec![ws.out("shard1")],
        out: ws.out("partial"),
        force: false,
        quiet: true,
    });
    match partial {
        Ok(_) => panic!("a merge of one shard of two must fail"),
        Err(f) => assert!(
            f.exit == Exit::Trouble && f.message.contains("4 of 8 runs"),
            "{}",
            f.message
        ),
    }
}

#[test]
fn resuming_reruns_only_the_missing_run() {
    let ws = Workspace::new("resume");
    let args = ws.args("out", &RW, "1..2");
    let first = sweep(&args);
    let summary = read(&ws.out("out").join("sweep.json"));
    let lost = ws.out("out").join("runs").join("r=2,w=1,seed=2.json");
    std::fs::remove_file(&lost).expect("the run file exists");
    std::fs::remove_file(ws.out("out").join("sweep.json")).expect("the summary exists");
    let second = sweep(&args);
    assert_eq!(second.executed, vec!["r=2,w=1,seed=2".to_string()]);
    assert_eq!(second.reused.len(), first.executed.len() - 1);
    assert!(lost.exists());
    assert_eq!(
        read(&ws.out("out").join("sweep.json")),
        summary,
        "the rerun reproduces the lost run"
    );
    let third = sweep(&args);
    assert!(
        third.executed.is_empty(),
        "a finished sweep runs nothing: {:?}",
        third.executed
    );
    // A run file whose report was emptied (cut short, edited by hand) is run again, not
    // read as a run with every figure zero.
    let mut hollow: serde_json::Value =
        serde_json::from_slice(&read(&lost)).expect("a run file is JSON");
    hollow["report"] = serde_json::json!({});
    std::fs::write(&lost, hollow.to_string()).expect("write");
    std::fs::remove_file(ws.out("out").join("sweep.json")).expect("the summary exists");
    let fourth = sweep(&args);
    assert_eq!(fourth.executed, vec!["r=2,w=1,seed=2".to_string()]);
    assert_eq!(read(&ws.out("out").join("sweep.json")), summary);
}

#[test]
fn invalid_settings_are_skipped_and_reported() {
    let ws = Workspace::new("invalid");
    let outcome = sweep(&ws.args("out", &["replication.r=2,4", "replication.w=1"], "1"));
    assert_eq!(outcome.invalid, vec!["r=4,w=1".to_string()]);
    assert_eq!(outcome.executed, vec!["r=2,w=1,seed=1".to_string()]);
    assert!(
        !ws.out("out")
            .join("runs")
            .join("r=4,w=1,seed=1.json")
            .exists()
    );
    let doc: serde_json::Value =
        serde_json::from_slice(&read(&ws.out("out").join("sweep.json"))).expect("JSON");
    assert_eq!(doc["invalid"][0]["id"], "r=4,w=1");
    let why = doc["invalid"][0]["errors"][0].as_str().unwrap_or_default();
    assert!(why.contains("replication.r") && why.contains('4'), "{why}");
    let md = String::from_utf8(read(&ws.out("out").join("sweep.md"))).expect("UTF-8");
    assert!(md.contains("`r=4,w=1`: replication.r"), "{md}");
}

/// The binary: a changed grid is refused with exit code 2 unless --force, and a bad grid
/// value is named.
#[test]
fn changed_grid_is_refused_without_force() {
    let ws = Workspace::new("refuse");
    let out = ws.out("out");
    let dynasim = |extra: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_dynasim"))
            .arg("sweep")
            .arg(ws.scenario())
            .args(["--seeds", "1", "--jobs", "1", "--quiet", "--out"])
            .arg(&out)
            .args(extra)
            .output()
            .expect("run dynasim")
    };
    let first = dynasim(&["--grid", "replication.r=1"]);
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    let changed = dynasim(&["--grid", "replication.r=1,2"]);
    assert_eq!(changed.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&changed.stderr);
    assert!(
        stderr.contains("different sweep") && stderr.contains("--force"),
        "{stderr}"
    );
    let forced = dynasim(&["--grid", "replication.r=1,2", "--force"]);
    assert!(
        forced.status.success(),
        "{}",
        String::from_utf8_lossy(&forced.stderr)
    );
    let doc: serde_json::Value =
        serde_json::from_slice(&read(&out.join("sweep.json"))).expect("JSON");
    assert_eq!(doc["settings"].as_array().map(Vec::len), Some(2));

    let bad = dynasim(&["--grid", "replication.r=1,x"]);
    assert_eq!(bad.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&bad.stderr);
    assert!(
        stderr.contains("value `x`") && stderr.contains("replication.r"),
        "{stderr}"
    );
    let typo = dynasim(&["--grid", "replication.rr=1"]);
    assert_eq!(typo.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&typo.stderr).contains("did you mean `r`"));
}

/// `--set` edits the base scenario before the grid, as `dynasim run --set` does: it changes
/// every run (and so the sweep's fingerprint), a grid axis on the same path wins over it,
/// and a bad path or value is exit code 2 naming it.
#[test]
fn set_edits_the_base_scenario_before_the_grid() {
    let ws = Workspace::new("set");
    let plain = sweep(&ws.args("plain", &["replication.r=1,2"], "1"));
    let mut args = ws.args("set", &["replication.r=1,2"], "1");
    args.sets = vec!["duration_s=1".into(), "replication.r=3".into()];
    let edited = sweep(&args);
    assert_eq!(
        plain.executed, edited.executed,
        "the grid still names the runs"
    );
    let report = |out: &str, run: &str| -> serde_json::Value {
        let file = ws.out(out).join("runs").join(format!("{run}.json"));
        let doc: serde_json::Value = serde_json::from_slice(&read(&file)).expect("JSON");
        doc["report"].clone()
    };
    for (run, r) in [("r=1,seed=1", 1), ("r=2,seed=1", 2)] {
        let before = report("plain", run);
        let after = report("set", run);
        assert_eq!(before["scenario"]["duration_s"], 2.0);
        assert_eq!(after["scenario"]["duration_s"], 1.0, "{run}: --set applied");
        assert_eq!(
            after["scenario"]["replication"]["r"], r,
            "{run}: the grid value wins over --set on the same path"
        );
        assert_ne!(before["digest"], after["digest"], "{run}: another run");
    }
    let fingerprint = |out: &str| read(&ws.out(out).join("sweep-fingerprint.json"));
    assert_ne!(fingerprint("plain"), fingerprint("set"));
    assert_ne!(
        read(&ws.out("plain").join("sweep.json")),
        read(&ws.out("set").join("sweep.json"))
    );

    let dynasim = |set: &str| {
        Command::new(env!("CARGO_BIN_EXE_dynasim"))
            .arg("sweep")
            .arg(ws.scenario())
            .args([
                "--grid",
                "replication.r=1",
                "--seeds",
                "1",
                "--jobs",
                "1",
                "--quiet",
            ])
            .args(["--set", set, "--out"])
            .arg(ws.out("bad"))
            .output()
            .expect("run dynasim")
    };
    for (set, expected) in [
        ("replication.rr=1", "did you mean `r`"),
        ("replication.w=x", "\"x\""),
        ("replication.w", "expected PATH=VALUE"),
    ] {
        let out = dynasim(set);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "--set {set}: {stderr}");
        let path = set.split('=').next().unwrap_or_default();
        assert!(
            stderr.contains(path) && stderr.contains(expected),
            "--set {set}: {stderr}"
        );
    }
    assert!(!ws.out("bad").exists(), "a bad --set writes nothing");
}

/// Issue 21, item 5: a sweep taken over with `--force` by one without both R and W on its
/// grid removes the heatmaps of the old one (sweep.md says there are none).
#[test]
fn force_removes_the_old_sweeps_heatmaps() {
    let ws = Workspace::new("force-plots");
    assert!(sweep(&ws.args("out", &RW, "1")).complete);
    let plots = |ws: &Workspace| common::file_names(&ws.out("out").join("plots"));
    assert!(
        plots(&ws).iter().any(|p| p.starts_with("heatmap-")),
        "{:?}",
        plots(&ws)
    );
    let mut args = ws.args("out", &["replication.r=1,2"], "1");
    args.force = true;
    assert!(sweep(&args).complete);
    let md = String::from_utf8_lossy(&read(&ws.out("out").join("sweep.md"))).into_owned();
    assert!(md.contains("No heatmaps"), "{md}");
    assert!(
        plots(&ws).iter().all(|p| !p.starts_with("heatmap-")),
        "stale heatmaps: {:?}",
        plots(&ws)
    );
}

/// Issue 19: the sweep command says on the terminal what it found (the best settings),
/// not only where the results are.
#[test]
fn the_command_prints_the_best_settings() {
    let ws = Workspace::new("terminal");
    let out = Command::new(env!("CARGO_BIN_EXE_dynasim"))
        .arg("sweep")
        .arg(ws.scenario())
        .args([
            "--grid",
            "replication.r=1,2",
            "--seeds",
            "1",
            "--jobs",
            "1",
            "--out",
        ])
        .arg(ws.out("out"))
        .output()
        .expect("run dynasim");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(
        stdout.contains("2 runs in the sweep: 2 now, 0 already there"),
        "{stdout}"
    );
    assert!(
        stdout.contains("  #1 r=") && stdout.contains("  #2 r="),
        "{stdout}"
    );
    assert!(stdout.contains("read/write available"), "{stdout}");
}

/// One CSV line's fields (RFC 4180 quotes: the run ids hold commas).
fn csv_fields(line: &str) -> Vec<String> {
    let (mut fields, mut field, mut quoted) = (Vec::new(), String::new(), false);
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                field.push('"');
                chars.next();
            }
            ('"', _) => quoted = !quoted,
            (',', false) => fields.push(std::mem::take(&mut field)),
            (c, _) => field.push(c),
        }
    }
    fields.push(field);
    fields
}
