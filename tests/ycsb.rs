//! YCSB's core workloads as `workload.preset`, inserts and the `latest` distribution:
//! each preset resolves to the shares YCSB's workload files give, stated fields (in the
//! file or with `--set`) win over it, a run's measured shares match it within sampling
//! error, and `latest` reads favour the newest inserts and never a key whose insert is
//! still in flight.

mod common;

use common::{Scratch, run, set, small_scenario};
use dynasim::observer::History;
use dynasim::scenario::{KeyDistribution, OpenLoop, Scenario, Workload, WriteMode, load_str};
use dynasim::sim::Simulation;
use serde_json::{Value, json};

/// YCSB's workloads/workloada ... workloadf: (preset, read, update, insert, read-modify-
/// write, request distribution). E's 95% scans are read here as single-key reads.
const YCSB: [(&str, f64, f64, f64, f64, &str); 6] = [
    ("ycsb_a", 0.5, 0.5, 0.0, 0.0, "zipfian"),
    ("ycsb_b", 0.95, 0.05, 0.0, 0.0, "zipfian"),
    ("ycsb_c", 1.0, 0.0, 0.0, 0.0, "zipfian"),
    ("ycsb_d", 0.95, 0.0, 0.05, 0.0, "latest"),
    ("ycsb_e", 0.95, 0.0, 0.05, 0.0, "zipfian"),
    ("ycsb_f", 0.5, 0.0, 0.0, 0.5, "zipfian"),
];

/// The small scenario with a bare open-loop workload (no shares, distribution or write
/// mode stated) under `preset`.
fn with_preset(preset: &str) -> Value {
    let mut doc = small_scenario();
    set(
        &mut doc,
        "workload",
        json!({"kind": "open_loop", "preset": preset, "ops_per_s": 1000, "clients": 8,
               "keys": 500, "routing": "partition_aware", "request_timeout_ms": 500}),
    );
    doc
}

fn load(doc: &Value, sets: &[(&str, &str)]) -> Scenario {
    let sets: Vec<(String, String)> = (sets.iter())
        .map(|(p, v)| (p.to_string(), v.to_string()))
        .collect();
    load_str(&doc.to_string(), "test", &sets).unwrap_or_else(|e| panic!("{e}"))
}

fn open_loop(s: &Scenario) -> &OpenLoop {
    match &s.workload {
        Workload::OpenLoop(w) => w,
        Workload::StalenessProbe(_) => panic!("an open-loop workload"),
    }
}

#[test]
fn each_preset_resolves_to_ycsbs_shares_distribution_and_write_mode() {
    for (name, read, update, insert, rmw, distribution) in YCSB {
        let s = load(&with_preset(name), &[]);
        let w = open_loop(&s);
        assert_eq!(w.preset.map(|p| p.name()), Some(name));
        assert_eq!(w.read_fraction, read, "{name}");
        assert_eq!(w.insert_fraction, insert, "{name}");
        // The rest of the operations are writes of the key drawn: YCSB's updates (blind)
        // or its read-modify-writes.
        assert!((1.0 - read - insert - update - rmw).abs() < 1e-12, "{name}");
        let expected_mode = if rmw > 0.0 {
            WriteMode::ReadModifyWrite
        } else {
            WriteMode::Blind
        };
        if update + rmw > 0.0 {
            assert_eq!(w.write_mode, expected_mode, "{name}");
        }
        let expected = match distribution {
            "latest" => KeyDistribution::Latest(0.99),
            _ => KeyDistribution::Zipf(0.99),
        };
        assert_eq!(w.key_distribution, expected, "{name}");
        // The resolved scenario (embedded in report.json) keeps the name and the values.
        let resolved = serde_json::to_value(&s).expect("serializes");
        assert_eq!(resolved["workload"]["preset"], json!(name));
        assert_eq!(resolved["workload"]["read_fraction"], json!(read));
    }
}

#[test]
fn stated_fields_win_over_the_preset_in_the_file_and_with_set() {
    let mut doc = with_preset("ycsb_a");
    set(&mut doc, "workload.read_fraction", json!(0.8));
    set(&mut doc, "workload.write_mode", json!("read_modify_write"));
    let s = load(&doc, &[]);
    let w = open_loop(&s);
    assert_eq!(
        (w.read_fraction, w.write_mode),
        (0.8, WriteMode::ReadModifyWrite)
    );
    assert_eq!(w.key_distribution, KeyDistribution::Zipf(0.99), "from A");

    // Another preset with --set: the file's stated fields still win, the rest follow D.
    let s = load(&doc, &[("workload.preset", "ycsb_d")]);
    let w = open_loop(&s);
    assert_eq!(w.read_fraction, 0.8, "stated in the file");
    assert_eq!(
        w.write_mode,
        WriteMode::ReadModifyWrite,
        "stated in the file"
    );
    assert_eq!(
        (w.insert_fraction, w.key_distribution),
        (0.05, KeyDistribution::Latest(0.99))
    );

    // A field set with --set wins too, whichever order the edits come in.
    let bare = with_preset("ycsb_d");
    for sets in [
        [
            ("workload.insert_fraction", "0.01"),
            ("workload.preset", "ycsb_e"),
        ],
        [
            ("workload.preset", "ycsb_e"),
            ("workload.insert_fraction", "0.01"),
        ],
    ] {
        let s = load(&bare, &sets);
        let w = open_loop(&s);
        assert_eq!(
            (w.read_fraction, w.insert_fraction),
            (0.95, 0.01),
            "{sets:?}"
        );
        assert_eq!(w.key_distribution, KeyDistribution::Zipf(0.99), "E's");
    }

    // Switching presets with --set leaves nothing of the first behind.
    let s = load(&bare, &[("workload.preset", "ycsb_f")]);
    let w = open_loop(&s);
    assert_eq!(
        (w.read_fraction, w.insert_fraction, w.write_mode),
        (0.5, 0.0, WriteMode::ReadModifyWrite)
    );
    // And removing the preset brings back the defaults.
    let s = load(&bare, &[("workload.preset", "null")]);
    let w = open_loop(&s);
    assert_eq!(w.preset, None);
    assert_eq!(
        (w.read_fraction, w.insert_fraction, w.key_distribution),
        (0.5, 0.0, KeyDistribution::Zipf(0.99))
    );
}

#[test]
fn a_preset_on_a_staleness_probe_workload_is_refused() {
    let mut doc = small_scenario();
    set(
        &mut doc,
        "workload",
        json!({"kind": "staleness_probe", "preset": "ycsb_c", "probes": 10,
               "probes_per_s": 5, "read_delay_ms": {"constant": 1}}),
    );
    let e = load_str(&doc.to_string(), "test", &[]).expect_err("refused");
    let message = e.to_string();
    assert_eq!(e.errors.len(), 1, "reported once: {message}");
    assert!(
        message.contains("workload.preset: \"ycsb_c\" is not allowed for kind `staleness_probe`")
            && message.contains("kind `open_loop`"),
        "{message}"
    );
}

#[test]
fn a_misspelt_preset_names_the_allowed_ones_and_the_nearest() {
    let allowed = "`ycsb_a`, `ycsb_b`, `ycsb_c`, `ycsb_d`, `ycsb_e`, `ycsb_f`";
    let in_file = load_str(&with_preset("ycsbf").to_string(), "test", &[]);
    let with_set = load_str(
        &with_preset("ycsb_a").to_string(),
        "test",
        &[("workload.preset".into(), "ycsb-b".into())],
    );
    for (result, bad, nearest) in [(in_file, "ycsbf", "ycsb_f"), (with_set, "ycsb-b", "ycsb_b")] {
        let message = result.expect_err("refused").to_string();
        assert!(
            message.contains(&format!("workload.preset: unknown variant `{bad}`"))
                && message.contains(allowed)
                && message.contains(&format!("did you mean `{nearest}`?")),
            "{message}"
        );
    }
}

/// Whether `measured` out of `n` is within five standard deviations of share `p`.
fn within_sampling_error(measured: u64, n: u64, p: f64) -> bool {
    let sd = (p * (1.0 - p) / n as f64).sqrt();
    (measured as f64 / n as f64 - p).abs() <= 5.0 * sd + 1e-12
}

#[test]
fn a_runs_measured_shares_match_the_preset() {
    for (name, read, update, insert, rmw, _) in YCSB {
        let mut doc = with_preset(name);
        set(&mut doc, "duration_s", json!(10));
        let (_, report) = run(&doc);
        let report: Value = serde_json::from_str(&report.to_json()).expect("JSON");
        let ops = &report["ops"];
        let count = |path: &str| ops.pointer(path).and_then(Value::as_u64).unwrap_or(0);
        let reads = count("/read/attempted");
        let writes = count("/write/attempted");
        let inserts = count("/insert/attempted");
        let rmws = count("/context_read/attempted");
        // Every operation is one read or one write (a read-modify-write's put is its
        // write; its context read is counted apart).
        let total = reads + writes;
        assert!(total > 8_000, "{name}: {total} operations");
        let updates = writes - inserts - rmws;
        for (what, measured, share) in [
            ("reads", reads, read),
            ("updates", updates, update),
            ("inserts", inserts, insert),
            ("read-modify-writes", rmws, rmw),
        ] {
            assert!(
                within_sampling_error(measured, total, share),
                "{name}: {measured} {what} of {total}, expected a share of {share}"
            );
        }
        assert_eq!(
            ops.get("insert").is_some(),
            insert > 0.0,
            "{name}: ops.insert only when the workload inserts"
        );
    }
}

/// A run of `doc` with its history, as parsed JSON lines.
fn history_of(doc: &Value, name: &str) -> Vec<Value> {
    let scenario = load(doc, &[]);
    let dir = Scratch::new(&format!("ycsb-{name}"));
    let path = dir.join("history.jsonl");
    let mut sim = Simulation::new(&scenario);
    sim.observer_mut()
        .record_history(History::create(&path).expect("history file"));
    sim.run();
    let path = sim
        .take_history()
        .expect("recorded")
        .finish()
        .expect("written");
    let text = std::fs::read_to_string(&path).expect("history");
    text.lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect()
}

/// For each read invocation (not context reads), the key and how many inserts had ended
/// before it, in event order; inserts are the writes of keys from `loaded` up.
fn reads_and_inserts_ended(history: &[Value], loaded: u64) -> Vec<(u64, u64)> {
    let mut ended = std::collections::BTreeSet::new();
    let mut reads = Vec::new();
    for line in history {
        let key = line["key"].as_u64().unwrap_or(0);
        let is = |field: &str, v: &str| line[field].as_str() == Some(v);
        if is("f", "write") && !is("type", "invoke") && key >= loaded {
            ended.insert(key);
        }
        if is("f", "read") && is("type", "invoke") && line.get("context").is_none() {
            reads.push((key, ended.len() as u64));
        }
    }
    reads
}

#[test]
fn latest_reads_favour_the_newest_inserts_and_only_ended_ones() {
    let loaded = 500;
    let mut doc = with_preset("ycsb_d");
    set(&mut doc, "duration_s", json!(10));
    let history = history_of(&doc, "d");
    let reads = reads_and_inserts_ended(&history, loaded);
    assert!(reads.len() > 8_000, "{} reads", reads.len());
    // Inserts end in about the order they were issued, so the keys of the inserts ended
    // so far are (nearly) loaded .. loaded + ended: the newest is loaded + ended - 1.
    let mut near_newest = 0;
    for (key, ended) in &reads {
        let newest = loaded + ended;
        // A read only asks for a key whose insert (and every earlier one) has ended.
        assert!(
            *key < newest,
            "read of key {key} with {ended} inserts ended"
        );
        near_newest += u64::from(newest - key <= 10);
    }
    // Zipf 0.99 over the distance from the newest of 500 to 1,000 keys puts about a third
    // of the reads on the ten newest keys (H(10) / H(1000) = 0.39, a little less with
    // 0.99); uniform popularity would put 1-2% there, `zipf` by key number almost none.
    let share = near_newest as f64 / reads.len() as f64;
    assert!(
        share > 0.3,
        "{share} of the reads within 10 keys of the newest"
    );

    // E draws the same shares by key number instead: inserted keys are the coldest.
    let mut doc = with_preset("ycsb_e");
    set(&mut doc, "duration_s", json!(10));
    let history = history_of(&doc, "e");
    let reads = reads_and_inserts_ended(&history, loaded);
    let of_inserted = reads.iter().filter(|(k, _)| *k >= loaded).count();
    let share = of_inserted as f64 / reads.len() as f64;
    assert!(share < 0.1, "{share} of E's reads on inserted keys");
}
