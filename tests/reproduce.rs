//! `dynasim reproduce` end to end on a tiny experiment (staleness probes with LNKD-SSD legs,
//! a thousand probes a run): verdicts judged from the runs and the WARS model, the files it
//! writes, results that do not depend on the thread count, the CI rule against a baseline
//! (exit 1 only when a row that agreed stops agreeing), and bad experiment files refused
//! with the field named. Also: every shipped experiment in scenarios/paper/ loads (its
//! scenarios and edits validate, its expressions name real runs). No timing.

mod common;

use common::Scratch;
use std::path::Path;
use std::process::{Command, Output};

const SSD: &str = r#"{"mixture": [{"weight": 0.9122, "dist": {"pareto": {"scale": 0.235, "shape": 10}}},
  {"weight": 0.0878, "dist": {"exponential": {"mean": 0.6024096385542169}}}]}"#;

fn scenario() -> String {
    format!(
        r#"{{
  "name": "tiny-probe",
  "duration_s": 3,
  "cluster": {{"datacenters": [{{"name": "dc", "nodes": 5}}], "partitioning": {{"strategy": "equal_partitions", "partitions": 20}}}},
  "replication": {{"n": 3, "r": 1, "w": 1, "replicas_across_datacenters": false, "versioning": "last_write_wins"}},
  "failure_detector": {{"op_timeout_ms": 60000}},
  "network": {{"by_message_ms": {{"write_request": {SSD}, "write_ack": {SSD}, "read_request": {SSD}, "read_response": {SSD}}}}},
  "storage": {{"read_ms": {{"constant": 0}}, "write_ms": {{"constant": 0}}}},
  "workload": {{"kind": "staleness_probe", "probes": 1000, "probes_per_s": 500, "read_delay_ms": {{"constant": 0}},
    "routing": "client_driven", "request_timeout_ms": 60000, "clients": 5}}
}}"#
    )
}

/// The experiment: P(consistent) at two delays, against the model and against made-up
/// "paper" numbers, one of which cannot agree.
const EXPERIMENT: &str = r#"{
  "id": "tiny",
  "title": "A tiny PBS experiment",
  "paper": "pbs",
  "scenario": "scenarios/tiny-probe.json",
  "modelled": "Probes with LNKD-SSD legs.",
  "assumed": "Nothing.",
  "model": {"seed": 1, "trials": 20000},
  "runs": [
    {"name": "t{t}", "for_each": {"t": [0, 3]}, "set": {"workload.read_delay_ms": {"constant": "{t}"}}},
    {"name": "strict", "set": {"replication.r": 2, "replication.w": 2}, "full_only": true}
  ],
  "rows": [
    {"id": "late-reads-fresh", "source": "test", "metric": "P(consistent) at 3 ms",
     "paper": 0.99, "dynasim": {"one_minus": {"run": "t3", "path": "consistency.stale_read_fraction"}},
     "compare": {"kind": "at_least"}, "tolerance_reason": "one-sided"},
    {"id": "model-curve", "source": "WARS", "metric": "P(consistent) at 0 and 3 ms",
     "paper": {"list_for": {"var": "t", "values": [0, 3], "of": {"wars": {"fit": "lnkd-ssd", "n": 3, "r": 1, "w": 1, "p_consistent_at_ms": "{t}"}}}},
     "dynasim": {"list_for": {"var": "t", "values": [0, 3], "of": {"one_minus": {"run": "t{t}", "path": "consistency.stale_read_fraction"}}}},
     "compare": {"kind": "binomial", "sigmas": 4, "n": {"list_for": {"var": "t", "values": [0, 3], "of": {"run": "t{t}", "path": "consistency.judged_reads"}}}, "paper_n": 20000},
     "tolerance_reason": "two samples"},
    {"id": "impossible", "source": "test", "metric": "P(consistent) at 0 ms",
     "paper": 0.5, "dynasim": {"one_minus": {"run": "t0", "path": "consistency.stale_read_fraction"}},
     "compare": {"kind": "absolute", "tolerance": 0.01}, "tolerance_reason": "made up", "why": "the paper's number is made up"},
    {"id": "strict-fresh", "source": "test", "metric": "strict quorum", "paper": 1,
     "dynasim": {"one_minus": {"run": "strict", "path": "consistency.stale_read_fraction"}},
     "compare": {"kind": "absolute", "tolerance": 0.000001}, "tolerance_reason": "R + W > N", "full_only": true}
  ],
  "plots": [{"file": "tiny-plot", "title": "tiny", "x_label": "t", "y_label": "P",
    "series": [
      {"label": "model", "style": "line", "color": 0, "points": {"for": "t", "values": {"linspace": [0, 3, 7]}, "x": "{t}", "y": {"wars": {"fit": "lnkd-ssd", "n": 3, "r": 1, "w": 1, "p_consistent_at_ms": "{t}"}}}},
      {"label": "dynasim", "style": "points", "color": 0, "points": [[0, {"one_minus": {"run": "t0", "path": "consistency.stale_read_fraction"}}], [3, {"one_minus": {"run": "t3", "path": "consistency.stale_read_fraction"}}]]},
      {"label": "paper", "style": "paper", "points": [[3, 0.99]]}
    ]}]
}"#;

struct Workspace {
    dir: Scratch,
}

impl Workspace {
    fn new(test: &str) -> Workspace {
        let dir = Scratch::new(&format!("reproduce-{test}"));
        std::fs::create_dir_all(dir.join("paper/scenarios")).expect("create the test folder");
        std::fs::write(dir.join("paper/scenarios/tiny-probe.json"), scenario()).expect("scenario");
        std::fs::write(dir.join("paper/tiny.json"), EXPERIMENT).expect("experiment");
        Workspace { dir }
    }

    fn reproduce(&self, out: &str, extra: &[&str]) -> Output {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_dynasim"));
        cmd.arg("reproduce")
            .arg("--experiments")
            .arg(self.dir.join("paper"))
            .arg("--out")
            .arg(self.dir.join(out))
            .arg("--quiet")
            .args(extra);
        cmd.output().expect("run dynasim")
    }

    fn json(&self, out: &str) -> serde_json::Value {
        let text = std::fs::read_to_string(self.dir.join(out).join("reproduce.json"))
            .expect("reproduce.json");
        serde_json::from_str(&text).expect("JSON")
    }
}

fn verdicts(doc: &serde_json::Value) -> Vec<(String, String)> {
    doc["rows"]
        .as_array()
        .expect("rows")
        .iter()
        .map(|r| {
            (
                r["id"].as_str().unwrap_or("").to_string(),
                r["verdict"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn rows_are_judged_and_written_the_same_whatever_the_threads() {
    let w = Workspace::new("judged");
    let one = w.reproduce("one", &["--quick", "--jobs", "1"]);
    assert_eq!(one.status.code(), Some(0), "{}", stderr(&one));
    let doc = w.json("one");
    assert_eq!(doc["set"], "quick");
    assert_eq!(
        verdicts(&doc),
        [
            ("late-reads-fresh".to_string(), "agrees".to_string()),
            ("model-curve".to_string(), "agrees".to_string()),
            ("impossible".to_string(), "differs".to_string()),
        ],
        "the quick set leaves the full-only row out"
    );
    let impossible = &doc["rows"][2];
    assert_eq!(impossible["why"], "the paper's number is made up");
    assert!(
        impossible["dynasim"].as_f64().is_some_and(|p| p > 0.9),
        "{impossible}"
    );
    assert_eq!(doc["summary"]["agrees"], 2);
    let md = std::fs::read_to_string(w.dir.join("one/reproduce.md")).expect("reproduce.md");
    assert!(
        md.contains("| `impossible` |") && md.contains("**differs**"),
        "{md}"
    );
    assert!(md.contains("![tiny-plot](plots/tiny-plot.svg)"));
    for ext in ["svg", "png"] {
        assert!(w.dir.join(format!("one/plots/tiny-plot.{ext}")).is_file());
    }
    let two = w.reproduce("two", &["--quick", "--jobs", "2"]);
    assert_eq!(two.status.code(), Some(0), "{}", stderr(&two));
    for f in [
        "reproduce.json",
        "reproduce.md",
        "plots/tiny-plot.svg",
        "plots/tiny-plot.png",
    ] {
        let a = std::fs::read(w.dir.join("one").join(f)).expect("first");
        let b = std::fs::read(w.dir.join("two").join(f)).expect("second");
        assert!(a == b, "{f} differs between --jobs 1 and --jobs 2");
    }
    // The full set has the strict-quorum run and row.
    let full = w.reproduce("full", &["--jobs", "2"]);
    assert_eq!(full.status.code(), Some(0), "{}", stderr(&full));
    let doc = w.json("full");
    assert_eq!(doc["set"], "full");
    assert!(verdicts(&doc).contains(&("strict-fresh".to_string(), "agrees".to_string())));
}

#[test]
fn ci_fails_only_when_an_agreeing_row_stops_agreeing() {
    let w = Workspace::new("baseline");
    let first = w.reproduce("base", &["--quick"]);
    assert_eq!(first.status.code(), Some(0), "{}", stderr(&first));
    let base = w.dir.join("base/reproduce.json");
    // Against itself: every agreeing row still agrees.
    let same = w.reproduce(
        "again",
        &["--quick", "--baseline", base.to_str().unwrap_or("")],
    );
    assert_eq!(same.status.code(), Some(0), "{}", stderr(&same));
    // A baseline in which the impossible row agreed: now it differs, exit 1 naming it.
    let text = std::fs::read_to_string(&base).expect("baseline");
    let mut doc: serde_json::Value = serde_json::from_str(&text).expect("JSON");
    doc["rows"][2]["verdict"] = "agrees".into();
    // And one where an agreeing row differed: an improvement, reported, not a failure.
    doc["rows"][0]["verdict"] = "differs".into();
    let edited = w.dir.join("edited.json");
    std::fs::write(&edited, serde_json::to_string(&doc).expect("JSON")).expect("write");
    let run = w.reproduce(
        "third",
        &["--quick", "--baseline", edited.to_str().unwrap_or("")],
    );
    assert_eq!(run.status.code(), Some(1), "{}", stderr(&run));
    assert!(
        stderr(&run).contains("impossible: agrees -> differs"),
        "{}",
        stderr(&run)
    );
    assert!(
        !stderr(&run).contains("late-reads-fresh"),
        "an improvement is no failure"
    );
    // A baseline that is not a reproduce.json is bad input, found before any run.
    let bad = w.reproduce(
        "fourth",
        &[
            "--quick",
            "--baseline",
            w.dir.join("paper/tiny.json").to_str().unwrap_or(""),
        ],
    );
    assert_eq!(bad.status.code(), Some(2), "{}", stderr(&bad));
    assert!(!w.dir.join("fourth").exists(), "nothing ran");
}

fn refused(w: &Workspace, experiment: &str, expect: &str) {
    std::fs::write(w.dir.join("paper/tiny.json"), experiment).expect("write");
    let run = w.reproduce("out", &["--quick"]);
    assert_eq!(run.status.code(), Some(2), "{}", stderr(&run));
    assert!(
        stderr(&run).contains(expect),
        "expected {expect:?} in: {}",
        stderr(&run)
    );
}

#[test]
fn bad_experiments_are_refused_with_the_field_named() {
    let w = Workspace::new("bad");
    refused(
        &w,
        &EXPERIMENT.replace("\"assumed\"", "\"asumed\""),
        "unknown field `asumed`",
    );
    refused(
        &w,
        &EXPERIMENT.replace("{\"run\": \"t3\"", "{\"run\": \"t4\""),
        "rows[0] (late-reads-fresh): dynasim: no run named \"t4\" (did you mean",
    );
    refused(
        &w,
        &EXPERIMENT.replace("\"kind\": \"at_least\"", "\"kind\": \"roughly\""),
        "unknown kind \"roughly\"",
    );
    refused(
        &w,
        &EXPERIMENT.replace("\"replication.r\": 2", "\"replication.r\": 7"),
        "replication.r",
    );
    refused(
        &w,
        &EXPERIMENT.replace("\"id\": \"tiny\"", "\"id\": \"small\""),
        "must be the file's name",
    );
    refused(
        &w,
        &EXPERIMENT.replacen("lnkd-ssd", "lnkd-hdd", 1),
        "unknown fit \"lnkd-hdd\"",
    );
    refused(
        &w,
        &EXPERIMENT.replace("\"file\": \"tiny-plot\"", "\"file\": \"../escaped\""),
        "plots[0]: file \"../escaped\"",
    );
    // A row id another experiment uses too.
    std::fs::write(
        w.dir.join("paper/twin.json"),
        EXPERIMENT
            .replace(r#""id": "tiny""#, r#""id": "twin""#)
            .replace(r#""file": "tiny-plot""#, r#""file": "twin-plot""#),
    )
    .expect("write");
    refused(
        &w,
        EXPERIMENT,
        "row id \"late-reads-fresh\" is used by experiment \"tiny\" too",
    );
    std::fs::remove_file(w.dir.join("paper/twin.json")).expect("remove");
    std::fs::write(w.dir.join("paper/tiny.json"), EXPERIMENT).expect("write");
    let run = w.reproduce("out", &["--quick", "--only", "tinny"]);
    assert_eq!(run.status.code(), Some(2));
    assert!(
        stderr(&run).contains("did you mean tiny?"),
        "{}",
        stderr(&run)
    );
}

#[test]
fn every_shipped_experiment_loads_in_both_sets() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/paper");
    for quick in [true, false] {
        let experiments =
            dynasim::reproduce::load_all(&dir, &[], quick).expect("the shipped experiments load");
        assert!(experiments.len() >= 8, "{} experiments", experiments.len());
        let rows: usize = experiments.iter().map(|e| e.rows.len()).sum();
        assert!(rows >= 12, "the issue asks for at least 12 rows; {rows}");
        for e in &experiments {
            assert!(
                !e.file.modelled.is_empty() && !e.file.assumed.is_empty(),
                "{}",
                e.file.id
            );
            for r in &e.rows {
                assert!(
                    !r.def.tolerance_reason.is_empty() && !r.def.source.is_empty(),
                    "{}",
                    r.def.id
                );
            }
        }
    }
}

/// The table lines of a Markdown text: from the header row to the first line after it
/// that is not a table row.
fn table_of(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let start = lines
        .iter()
        .position(|l| l.starts_with("| row | source | metric |"))
        .expect("a verdict table");
    let end = (start..lines.len())
        .find(|i| !lines[*i].starts_with('|'))
        .unwrap_or(lines.len());
    lines[start..end].join("\n")
}

#[test]
fn the_readme_table_is_the_committed_quick_sets() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let read =
        |p: &str| std::fs::read_to_string(root.join(p)).unwrap_or_else(|e| panic!("{p}: {e}"));
    let committed = table_of(&read("reports/reproduce/reproduce.md"));
    assert_eq!(
        table_of(&read("README.md")),
        committed,
        "README's \"Does it match the papers?\" table must be a copy of reports/reproduce/reproduce.md's"
    );
    let doc: serde_json::Value =
        serde_json::from_str(&read("reports/reproduce/reproduce.json")).expect("JSON");
    assert_eq!(doc["set"], "quick");
    let rows = doc["rows"].as_array().expect("rows");
    assert_eq!(
        committed.lines().count(),
        rows.len() + 2,
        "one table line per row"
    );
    for r in rows {
        let verdict = r["verdict"].as_str().unwrap_or("");
        assert!(["agrees", "qualitative-agrees", "differs"].contains(&verdict));
        assert_eq!(
            verdict == "differs",
            r["why"].is_string(),
            "a row that differs says why: {r}"
        );
        assert!(r["source"].as_str().is_some_and(|s| !s.is_empty()));
    }
}

/// Two experiments asking the WARS model for one configuration with different seeds each
/// get their own draw, and an experiment's numbers are the same alone (`--only`) as in
/// company: the model's settings come from the experiment that evaluates it.
#[test]
fn each_experiment_gets_the_model_it_asked_for() {
    let w = Workspace::new("models");
    let other = EXPERIMENT
        .replace(r#""id": "tiny""#, r#""id": "tiny-seed-2""#)
        .replace(
            r#""seed": 1, "trials": 20000"#,
            r#""seed": 2, "trials": 20000"#,
        )
        .replace(r#""file": "tiny-plot""#, r#""file": "tiny-seed-2-plot""#);
    // Row ids are unique across experiments.
    let other = [
        "late-reads-fresh",
        "model-curve",
        "impossible",
        "strict-fresh",
    ]
    .iter()
    .fold(other, |text, id| {
        text.replace(&format!(r#""id": "{id}""#), &format!(r#""id": "{id}-2""#))
    });
    std::fs::write(w.dir.join("paper/tiny-seed-2.json"), other).expect("second experiment");
    let model_value = |doc: &serde_json::Value, experiment: &str| {
        doc["rows"]
            .as_array()
            .expect("rows")
            .iter()
            .find(|r| {
                r["experiment"] == experiment
                    && r["id"]
                        .as_str()
                        .is_some_and(|id| id.starts_with("model-curve"))
            })
            .map(|r| r["paper"].clone())
            .expect("the model row")
    };
    let both = w.reproduce("both", &["--quick", "--jobs", "2"]);
    assert_eq!(both.status.code(), Some(0), "{}", stderr(&both));
    let doc = w.json("both");
    let (seed1, seed2) = (model_value(&doc, "tiny"), model_value(&doc, "tiny-seed-2"));
    assert_ne!(seed1, seed2, "two seeds, two draws of the model");
    for (id, value) in [("tiny", &seed1), ("tiny-seed-2", &seed2)] {
        let out = format!("only-{id}");
        let alone = w.reproduce(&out, &["--quick", "--jobs", "2", "--only", id]);
        assert_eq!(alone.status.code(), Some(0), "{}", stderr(&alone));
        assert_eq!(&model_value(&w.json(&out), id), value, "{id} alone");
    }
}

/// reproduce.json is the same whether the experiments' folder is given relative to the
/// working folder or absolutely: recorded paths are relative to the working folder.
#[test]
fn recorded_paths_do_not_depend_on_how_the_folder_was_given() {
    let w = Workspace::new("paths");
    let run = |folder: &Path, out: &str| {
        let o = Command::new(env!("CARGO_BIN_EXE_dynasim"))
            .current_dir(&w.dir)
            .args([
                "reproduce",
                "--quick",
                "--quiet",
                "--jobs",
                "1",
                "--experiments",
            ])
            .arg(folder)
            .args(["--out", out])
            .output()
            .expect("run dynasim");
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        std::fs::read(w.dir.join(out).join("reproduce.json")).expect("reproduce.json")
    };
    let relative = run(Path::new("paper"), "relative");
    let absolute = run(&w.dir.join("paper"), "absolute");
    assert!(relative == absolute, "the two reproduce.json differ");
    let doc: serde_json::Value = serde_json::from_slice(&relative).expect("JSON");
    assert_eq!(doc["experiments"][0]["file"], "paper/tiny.json");
}
