//! The outside history checker (tests/common/history_checker.rs): each oracle rule on a
//! small hand-written history, then the checker against report.json on every shipped
//! scenario and on random small scenarios. The checker is written from the oracle's spec
//! alone, so a disagreement means a bug in the observer, the checker or the spec.

mod common;

use common::Scratch;
use common::history_checker::{Verdicts, check_history};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

/// Builds a history line by line; each line is 1 µs after the previous one unless `same_time`
/// is called first.
struct History {
    lines: Vec<String>,
    time_ns: u64,
    hold_time: bool,
}

impl History {
    fn new(versioning: &str) -> Self {
        let meta = json!({"type": "meta", "versioning": versioning, "n": 3, "r": 2, "w": 2});
        History {
            lines: vec![meta.to_string()],
            time_ns: 0,
            hold_time: false,
        }
    }

    fn push(&mut self, mut line: Value) -> &mut Self {
        if !self.hold_time {
            self.time_ns += 1000;
        }
        self.hold_time = false;
        if line["type"] != "final" {
            line["time"] = json!(self.time_ns);
        }
        self.lines.push(line.to_string());
        self
    }

    /// The next line shares the previous line's time.
    fn same_time(&mut self) -> &mut Self {
        self.hold_time = true;
        self
    }

    /// A read-modify-write put that saw `parents`.
    fn put(&mut self, req: &str, key: u64, w: &str, parents: &[&str]) -> &mut Self {
        self.push(
            json!({"type": "invoke", "f": "write", "process": 0, "key": key, "req": req,
            "value": w, "blind": false, "parents": parents}),
        )
    }

    fn blind_put(&mut self, req: &str, key: u64, w: &str) -> &mut Self {
        self.push(
            json!({"type": "invoke", "f": "write", "process": 0, "key": key, "req": req,
            "value": w, "blind": true}),
        )
    }

    fn put_ok(&mut self, req: &str, key: u64, w: &str) -> &mut Self {
        self.push(
            json!({"type": "ok", "f": "write", "process": 0, "key": key, "req": req, "value": w}),
        )
    }

    fn put_info(&mut self, req: &str, key: u64, w: &str) -> &mut Self {
        self.push(
            json!({"type": "info", "f": "write", "process": 0, "key": key, "req": req,
            "value": w, "error": "timeout"}),
        )
    }

    fn get(&mut self, req: &str, key: u64) -> &mut Self {
        self.push(json!({"type": "invoke", "f": "read", "process": 1, "key": key, "req": req, "value": null}))
    }

    fn get_ok(&mut self, req: &str, key: u64, versions: &[&str]) -> &mut Self {
        self.push(json!({"type": "ok", "f": "read", "process": 1, "key": key, "req": req, "value": versions}))
    }

    fn context_get(&mut self, req: &str, key: u64) -> &mut Self {
        self.push(
            json!({"type": "invoke", "f": "read", "process": 1, "key": key, "req": req,
            "context": true, "value": null}),
        )
    }

    fn context_get_ok(&mut self, req: &str, key: u64, versions: &[&str]) -> &mut Self {
        self.push(
            json!({"type": "ok", "f": "read", "process": 1, "key": key, "req": req,
            "context": true, "value": versions}),
        )
    }

    /// A whole judged read: invoke, then its completion.
    fn read(&mut self, req: &str, key: u64, versions: &[&str]) -> &mut Self {
        self.get(req, key).get_ok(req, key, versions)
    }

    fn merge(&mut self, w: &str, key: u64, parents: &[&str]) -> &mut Self {
        self.push(json!({"type": "merge", "write": w, "key": key, "parents": parents}))
    }

    fn discard(&mut self, node: u64, key: u64, w: &str, kept: &[&str]) -> &mut Self {
        self.push(json!({"type": "discard", "node": node, "key": key, "write": w, "kept": kept}))
    }

    fn final_set(&mut self, key: u64, held: &[&str]) -> &mut Self {
        self.push(json!({"type": "final", "key": key, "value": held}))
    }

    fn text(&self) -> String {
        self.lines.join("\n") + "\n"
    }

    fn check(&self) -> Verdicts {
        check_history(&self.text()).unwrap_or_else(|e| panic!("{e}\n{}", self.text()))
    }

    fn error(&self) -> String {
        match check_history(&self.text()) {
            Ok(v) => panic!("expected an error, got {v:?}\n{}", self.text()),
            Err(e) => e,
        }
    }
}

fn k_histogram(pairs: &[(u32, u64)]) -> std::collections::BTreeMap<u32, u64> {
    pairs.iter().copied().collect()
}

// ---- stale reads ----

#[test]
fn a_read_that_returns_the_acknowledged_write_is_fresh() {
    let mut h = History::new("vector_clock");
    h.put("r-0", 1, "w-0", &[]).put_ok("r-0", 1, "w-0");
    h.read("r-1", 1, &["w-0"]);
    h.final_set(1, &["w-0"]);
    let v = h.check();
    assert_eq!((v.judged_reads, v.stale_reads), (1, 0));
    assert!(v.k_staleness.is_empty());
    assert_eq!(v.versions_per_read, [0, 1, 0, 0, 0]);
}

#[test]
fn a_read_of_a_key_with_no_acknowledged_write_is_not_judged() {
    let mut h = History::new("vector_clock");
    h.put("r-0", 1, "w-0", &[]).put_info("r-0", 1, "w-0");
    h.read("r-1", 1, &[]);
    h.read("r-2", 2, &[]);
    let v = h.check();
    assert_eq!(v.judged_reads, 0);
    assert_eq!(v.versions_per_read, [2, 0, 0, 0, 0]);
}

#[test]
fn a_read_two_writes_behind_on_a_chain_has_k_two() {
    let mut h = History::new("vector_clock");
    h.put("r-0", 1, "w-0", &[]).put_ok("r-0", 1, "w-0");
    h.put("r-1", 1, "w-1", &["w-0"]).put_ok("r-1", 1, "w-1");
    h.put("r-2", 1, "w-2", &["w-1"]).put_ok("r-2", 1, "w-2");
    h.read("r-3", 1, &["w-0"]);
    h.read("r-4", 1, &["w-1"]);
    h.read("r-5", 1, &["w-2"]);
    h.final_set(1, &["w-2"]);
    let v = h.check();
    assert_eq!((v.judged_reads, v.stale_reads), (3, 2));
    assert_eq!(v.k_staleness, k_histogram(&[(1, 1), (2, 1)]));
}

#[test]
fn a_read_missing_one_of_two_concurrent_acknowledged_writes_is_stale() {
    let mut h = History::new("vector_clock");
    h.blind_put("r-0", 1, "w-0").blind_put("r-1", 1, "w-1");
    h.merge("w-0", 1, &[]).merge("w-1", 1, &[]);
    h.put_ok("r-0", 1, "w-0").put_ok("r-1", 1, "w-1");
    h.read("r-2", 1, &["w-1"]);
    h.read("r-3", 1, &["w-0", "w-1"]);
    h.final_set(1, &["w-0", "w-1"]);
    let v = h.check();
    assert_eq!((v.judged_reads, v.stale_reads), (2, 1));
    assert_eq!(v.k_staleness, k_histogram(&[(1, 1)]));
    assert_eq!(v.versions_per_read, [0, 1, 1, 0, 0]);
    assert_eq!(v.false_siblings, 0);
}

#[test]
fn a_write_begun_after_an_acknowledgement_retires_it() {
    let mut h = History::new("vector_clock");
    h.blind_put("r-0", 1, "w-0")
        .merge("w-0", 1, &[])
        .put_ok("r-0", 1, "w-0");
    // w-1 begins after w-0's acknowledgement but its coordinator had not seen w-0.
    h.blind_put("r-1", 1, "w-1")
        .merge("w-1", 1, &[])
        .put_ok("r-1", 1, "w-1");
    h.read("r-2", 1, &["w-1"]);
    // Nothing covered: w-1 is not retired, and w-0's retirer is not covered, so k = 2.
    h.read("r-3", 1, &[]);
    // w-0 covered, w-1 missed.
    h.read("r-4", 1, &["w-0"]);
    h.final_set(1, &["w-0", "w-1"]);
    let v = h.check();
    assert_eq!((v.judged_reads, v.stale_reads), (3, 2));
    assert_eq!(v.k_staleness, k_histogram(&[(1, 1), (2, 1)]));
}

#[test]
fn a_write_still_in_flight_does_not_retire() {
    let mut h = History::new("vector_clock");
    h.blind_put("r-0", 1, "w-0")
        .merge("w-0", 1, &[])
        .put_ok("r-0", 1, "w-0");
    h.blind_put("r-1", 1, "w-1").merge("w-1", 1, &[]);
    // w-1 is not acknowledged before the read begins: not in A(r), so it retires nothing.
    h.get("r-2", 1)
        .put_ok("r-1", 1, "w-1")
        .get_ok("r-2", 1, &["w-1"]);
    h.final_set(1, &["w-0", "w-1"]);
    let v = h.check();
    assert_eq!((v.judged_reads, v.stale_reads), (1, 1));
    assert_eq!(v.k_staleness, k_histogram(&[(1, 1)]));
}

#[test]
fn a_read_begun_at_the_acknowledgement_time_but_after_its_line_is_judged_against_it() {
    let mut h = History::new("vector_clock");
    h.put("r-0", 1, "w-0", &[]);
    // Same time, before the acknowledgement line: not judged.
    h.get("r-1", 1).same_time().put_ok("r-0", 1, "w-0");
    // Same time, after it: judged, and stale.
    h.same_time().get("r-2", 1);
    h.get_ok("r-1", 1, &[]).get_ok("r-2", 1, &[]);
    h.final_set(1, &["w-0"]);
    let v = h.check();
    assert_eq!((v.judged_reads, v.stale_reads), (1, 1));
    assert_eq!(v.versions_per_read, [2, 0, 0, 0, 0]);
}

#[test]
fn a_version_that_descends_from_the_missed_write_covers_it() {
    let mut h = History::new("vector_clock");
    h.put("r-0", 1, "w-0", &[]).put_ok("r-0", 1, "w-0");
    // Seen edge: w-1's client read w-0; w-1 is not acknowledged yet.
    h.put("r-1", 1, "w-1", &["w-0"]);
    h.read("r-2", 1, &["w-1"]);
    // Merged edge: a blind put's coordinator merged w-1 into w-2.
    h.blind_put("r-3", 1, "w-2").merge("w-2", 1, &["w-1"]);
    h.read("r-4", 1, &["w-2"]);
    h.put_ok("r-1", 1, "w-1").put_ok("r-3", 1, "w-2");
    h.final_set(1, &["w-2"]);
    let v = h.check();
    assert_eq!((v.judged_reads, v.stale_reads), (2, 0));
}

#[test]
fn k_staleness_is_capped_at_1000() {
    let mut h = History::new("vector_clock");
    let mut previous: Vec<String> = Vec::new();
    for i in 0..1005 {
        let (req, w) = (format!("r-{i}"), format!("w-{i}"));
        let parents: Vec<&str> = previous.iter().map(String::as_str).collect();
        h.put(&req, 1, &w, &parents).put_ok(&req, 1, &w);
        previous = vec![w];
    }
    h.read("r-2000", 1, &[]);
    h.final_set(1, &["w-1004"]);
    let v = h.check();
    assert_eq!(v.k_staleness, k_histogram(&[(1000, 1)]));
    assert_eq!(v.stale_reads, 1);
}

// ---- versions per read and false siblings ----

#[test]
fn a_returned_version_that_another_descends_from_is_a_false_sibling() {
    let mut h = History::new("vector_clock");
    h.put("r-0", 1, "w-0", &[]).put_ok("r-0", 1, "w-0");
    h.put("r-1", 1, "w-1", &["w-0"]).put_ok("r-1", 1, "w-1");
    h.blind_put("r-2", 1, "w-2")
        .merge("w-2", 1, &[])
        .put_ok("r-2", 1, "w-2");
    h.blind_put("r-3", 1, "w-3")
        .merge("w-3", 1, &["w-1"])
        .put_ok("r-3", 1, "w-3");
    // w-0 under w-1 (seen) and under w-3 (merged, two steps): 1 false sibling; w-1 under w-3: 1.
    h.read("r-4", 1, &["w-0", "w-1", "w-2", "w-3"]);
    // Concurrent siblings: none.
    h.read("r-5", 1, &["w-2", "w-3"]);
    // Context reads are not counted.
    h.context_get("r-6", 1)
        .context_get_ok("r-6", 1, &["w-0", "w-1"]);
    h.read("r-7", 1, &["w-1", "w-2", "w-0"]);
    h.final_set(1, &["w-2", "w-3"]);
    let v = h.check();
    assert_eq!(v.false_siblings, 2 + 1);
    assert_eq!(v.versions_per_read, [0, 0, 1, 1, 1]);
    assert_eq!(v.judged_reads, 3);
}

// ---- durability ----

#[test]
fn kept_overwritten_and_lost_writes() {
    let mut h = History::new("vector_clock");
    // Key 1: a seen chain; both kept.
    h.put("r-0", 1, "w-0", &[]).put_ok("r-0", 1, "w-0");
    h.put("r-1", 1, "w-1", &["w-0"]).put_ok("r-1", 1, "w-1");
    // Key 2: w-2 merged blindly into w-3, then seen by w-4: w-2 overwritten, w-3 kept.
    h.put("r-2", 2, "w-2", &[]).put_ok("r-2", 2, "w-2");
    h.blind_put("r-3", 2, "w-3")
        .merge("w-3", 2, &["w-2"])
        .put_ok("r-3", 2, "w-3");
    h.put("r-4", 2, "w-4", &["w-3"]).put_ok("r-4", 2, "w-4");
    // Key 3: w-5 gone without a discard (a disk wiped): lost, not a lost update.
    h.put("r-5", 3, "w-5", &[]).put_ok("r-5", 3, "w-5");
    h.put("r-6", 3, "w-6", &[]).put_ok("r-6", 3, "w-6");
    // An unacknowledged write is not judged.
    h.put("r-7", 3, "w-7", &[]).put_info("r-7", 3, "w-7");
    h.final_set(1, &["w-1"])
        .final_set(2, &["w-4"])
        .final_set(3, &["w-6"]);
    let v = h.check();
    assert_eq!(v.acknowledged_writes, 7);
    assert_eq!(
        (v.lost_writes, v.lost_updates, v.overwritten_writes),
        (1, 0, 1)
    );
}

#[test]
fn a_discard_whose_kept_set_does_not_descend_is_a_lost_update() {
    let mut h = History::new("vector_clock_naive");
    h.put("r-0", 1, "w-0", &[]).put_ok("r-0", 1, "w-0");
    h.put("r-1", 1, "w-1", &[]).put_ok("r-1", 1, "w-1");
    // Equal clocks: a replica keeps w-1 in place of w-0.
    h.discard(4, 1, "w-0", &["w-1"]);
    // Key 2: w-2 dropped for w-3, which descends from it, then w-3 lost without a discard:
    // both lost, neither a lost update (w-3 never displaced, w-2's discard kept a descendant).
    h.put("r-2", 2, "w-2", &[]).put_ok("r-2", 2, "w-2");
    h.put("r-3", 2, "w-3", &["w-2"]).put_ok("r-3", 2, "w-3");
    h.discard(5, 2, "w-2", &["w-3"]);
    h.final_set(1, &["w-1"]).final_set(2, &[]);
    let v = h.check();
    assert_eq!(v.acknowledged_writes, 4);
    assert_eq!(
        (v.lost_writes, v.lost_updates, v.overwritten_writes),
        (3, 1, 0)
    );
}

#[test]
fn under_last_write_wins_a_displaced_write_is_overwritten() {
    let mut h = History::new("last_write_wins");
    h.blind_put("r-0", 1, "w-0")
        .merge("w-0", 1, &[])
        .put_ok("r-0", 1, "w-0");
    h.blind_put("r-1", 1, "w-1")
        .merge("w-1", 1, &[])
        .put_ok("r-1", 1, "w-1");
    h.discard(2, 1, "w-0", &["w-1"]);
    // w-2 gone with no discard: lost even under last_write_wins.
    h.blind_put("r-2", 1, "w-2")
        .merge("w-2", 1, &[])
        .put_ok("r-2", 1, "w-2");
    h.final_set(1, &["w-1"]);
    let v = h.check();
    assert_eq!(v.acknowledged_writes, 3);
    assert_eq!(
        (v.lost_writes, v.lost_updates, v.overwritten_writes),
        (1, 0, 1)
    );
}

// ---- errors ----

#[test]
fn errors_name_the_line() {
    let cases: Vec<(String, &str)> = vec![
        ("".into(), "line 1"),
        (
            r#"{"type":"invoke"}"#.into(),
            "line 1: expected a `meta` line",
        ),
        (
            format!(
                "{}\nnot json\n",
                History::new("vector_clock").text().trim_end()
            ),
            "line 2: not JSON",
        ),
        (
            {
                let mut h = History::new("vector_clock");
                h.get_ok("r-1", 1, &[]);
                h.text()
            },
            "line 2: a `ok` completion of `r-1`, which was not invoked",
        ),
        (
            {
                let mut h = History::new("vector_clock");
                h.put("r-0", 1, "w-0", &["w-9"]);
                h.text()
            },
            "line 2: in `parents`: unknown write id `w-9`",
        ),
        (
            {
                let mut h = History::new("vector_clock");
                h.put("r-0", 1, "w-0", &[]).put_ok("r-0", 1, "w-0");
                h.read("r-1", 1, &["w-7"]);
                h.text()
            },
            "line 5: in `value`: unknown write id `w-7`",
        ),
        (
            {
                let mut h = History::new("vector_clock");
                h.put("r-0", 1, "w-0", &[]).put_ok("r-0", 1, "w-0");
                h.text()
            },
            "no final line for key 1",
        ),
        (
            {
                let mut h = History::new("vector_clock");
                h.blind_put("r-0", 1, "w-0").blind_put("r-1", 1, "w-1");
                h.put("r-2", 1, "w-2", &["w-0"]).merge("w-0", 1, &[]);
                h.text()
            },
            "line 4: `w-2` has parent `w-0`, whose version was made later (line 5)",
        ),
        (
            {
                let mut h = History::new("vector_clock");
                h.blind_put("r-0", 1, "w-0").merge("w-0", 2, &[]);
                h.text()
            },
            "line 3: `w-0` is a write of key 1, not of key 2",
        ),
        (
            { History::new("strong").text() },
            "line 1: unknown versioning `strong`",
        ),
    ];
    for (text, expected) in cases {
        match check_history(&text) {
            Ok(v) => panic!("expected `{expected}`, got {v:?} for\n{text}"),
            Err(e) => assert!(
                e.contains(expected),
                "expected `{expected}`, got `{e}` for\n{text}"
            ),
        }
    }
    let mut h = History::new("vector_clock");
    h.get("r-0", 1);
    assert!(
        h.error()
            .contains("line 2: an invocation that never completes")
    );
}

// ---- against the simulator ----

/// Every difference between the checker's verdicts on a history and a report.json.
fn differences(name: &str, verdicts: &Verdicts, report: &Value) -> Vec<String> {
    let mut found = Vec::new();
    let mut compare = |path: &str, ours: u64| {
        let mut node = report;
        for part in path.split('.') {
            node = &node[part];
        }
        match node.as_u64() {
            Some(theirs) if theirs == ours => {}
            Some(theirs) => found.push(format!("{name}: {path}: report {theirs}, history {ours}")),
            None => found.push(format!(
                "{name}: report.json has no {path} (history says {ours})"
            )),
        }
    };
    compare("consistency.judged_reads", verdicts.judged_reads);
    compare("consistency.stale_reads", verdicts.stale_reads);
    let buckets = ["zero", "one", "two", "three", "four_or_more"];
    for (bucket, count) in buckets.iter().zip(verdicts.versions_per_read) {
        compare(&format!("consistency.versions_per_read.{bucket}"), count);
    }
    compare(
        "durability.acknowledged_writes",
        verdicts.acknowledged_writes,
    );
    compare("durability.lost_writes", verdicts.lost_writes);
    compare("durability.lost_updates", verdicts.lost_updates);
    compare("durability.overwritten_writes", verdicts.overwritten_writes);
    compare("versioning.false_siblings", verdicts.false_siblings);
    // Present in the report only when the workload deletes.
    if !report["durability"]["acknowledged_deletes"].is_null() || verdicts.acknowledged_deletes > 0
    {
        compare(
            "durability.acknowledged_deletes",
            verdicts.acknowledged_deletes,
        );
        compare(
            "durability.resurrected_deletes",
            verdicts.resurrected_deletes,
        );
    }
    let reported: Option<Vec<(u64, u64)>> =
        report["consistency"]["k_staleness"].as_array().map(|rows| {
            rows.iter()
                .filter_map(|r| Some((r["k"].as_u64()?, r["reads"].as_u64()?)))
                .collect()
        });
    let ours: Vec<(u64, u64)> = verdicts
        .k_staleness
        .iter()
        .map(|(&k, &n)| (u64::from(k), n))
        .collect();
    match reported {
        Some(theirs) if theirs == ours => {}
        Some(theirs) => found.push(format!(
            "{name}: consistency.k_staleness: report {theirs:?}, history {ours:?}"
        )),
        None => found.push(format!(
            "{name}: report.json has no consistency.k_staleness list"
        )),
    }
    found
}

fn scratch(name: &str) -> Scratch {
    Scratch::new(&format!("history-checker-{name}"))
}

/// Runs one scenario with --history and returns the differences (or why it could not be
/// compared).
fn run_and_compare(name: &str, scenario: &Path, dir: &Path) -> Vec<String> {
    let out = dir.join(name);
    let history = dir.join(format!("{name}.jsonl"));
    let status = Command::new(env!("CARGO_BIN_EXE_dynasim"))
        .arg("run")
        .arg(scenario)
        .arg("--out")
        .arg(&out)
        .arg("--history")
        .arg(&history)
        .arg("--quiet")
        .output()
        .expect("the dynasim binary runs");
    if !status.status.success() {
        let stderr = String::from_utf8_lossy(&status.stderr);
        return vec![format!(
            "{name}: dynasim run failed ({}): {stderr}",
            status.status
        )];
    }
    let text = std::fs::read_to_string(&history).expect("the history file");
    let report: Value = serde_json::from_str(
        &std::fs::read_to_string(out.join("report.json")).expect("report.json"),
    )
    .expect("report.json is JSON");
    let found = match check_history(&text) {
        Ok(verdicts) => differences(name, &verdicts, &report),
        Err(e) => vec![format!("{name}: the checker rejects the history: {e}")],
    };
    // A shipped scenario's history is hundreds of MB: never left behind; the failure message
    // says how to write it again.
    let _ = std::fs::remove_file(&history);
    let _ = std::fs::remove_dir_all(&out);
    found
}

/// Runs the cases two at a time and gathers every difference.
fn compare_all(cases: Vec<(String, PathBuf)>, dir: &Path) -> Vec<String> {
    let queue = Mutex::new(cases);
    let found = Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..2 {
            s.spawn(|| {
                loop {
                    let next = queue.lock().expect("queue").pop();
                    let Some((name, path)) = next else { break };
                    let diffs = run_and_compare(&name, &path, dir);
                    found.lock().expect("differences").extend(diffs);
                }
            });
        }
    });
    let mut found = found.into_inner().expect("differences");
    found.sort();
    found
}

#[test]
fn history_agrees_with_report_on_every_shipped_scenario() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios");
    let folders = [root.clone(), root.join("pathologies")];
    let mut cases: Vec<(String, PathBuf)> = (folders.iter())
        .flat_map(|f| std::fs::read_dir(f).expect("scenarios/ and scenarios/pathologies/"))
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .map(|p| {
            (
                p.file_stem()
                    .unwrap_or_default()
                    .to_string_lossy()
                    .into_owned(),
                p,
            )
        })
        .collect();
    // Popped from the end: the longest runs first.
    cases.sort();
    cases.sort_by_key(|(name, _)| {
        HEAVY
            .iter()
            .position(|h| h == name)
            .map_or(0, |i| HEAVY.len() - i)
    });
    assert!(
        cases.len() >= 10,
        "expected the shipped scenarios in {}",
        root.display()
    );
    let dir = scratch("shipped");
    let found = compare_all(cases, &dir);
    // Gone even when the runs disagree: the failure message says how to write a history again.
    drop(dir);
    assert!(
        found.is_empty(),
        "{} differences between the history checker and report.json (to look at one: \
         `dynasim run scenarios/NAME.json --out /tmp/NAME --history /tmp/NAME/h.jsonl`):\n{}",
        found.len(),
        found.join("\n")
    );
}

/// The longest shipped runs, started first so that the two workers finish together.
const HEAVY: [&str; 4] = [
    "large-2000",
    "baseline",
    "random-crashes",
    "rolling-restart",
];

/// splitmix64: a tiny seeded generator, independent of the crate's streams.
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in lo..=hi.
    fn int(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next() % (hi - lo + 1)
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.next() as usize % items.len()]
    }

    /// Uniform in lo..hi, rounded to 3 decimals.
    fn real(&mut self, lo: f64, hi: f64) -> f64 {
        let unit = (self.next() >> 11) as f64 / (1u64 << 53) as f64;
        ((lo + unit * (hi - lo)) * 1000.0).round() / 1000.0
    }
}

fn random_fault(g: &mut SplitMix, duration_s: u64, dcs: &[(&str, u64)]) -> Option<Value> {
    let at = g.real(1.0, duration_s as f64 * 0.6);
    let span = g.real(1.0, duration_s as f64 * 0.4);
    let node = {
        let (dc, nodes) = dcs[g.next() as usize % dcs.len()];
        format!("{dc}-{}", g.int(0, nodes - 1))
    };
    let fault = match g.pick(&[
        "none",
        "crash",
        "partition",
        "disk_failure",
        "message_loss",
        "clock_skew",
    ]) {
        "crash" => json!({"kind": "crash", "at_s": at, "duration_s": span, "nodes": [node]}),
        "partition" if dcs.len() == 2 => {
            json!({"kind": "partition", "at_s": at, "duration_s": span, "groups": [["east"], ["west"]]})
        }
        "partition" => {
            let rest: Vec<String> = (0..dcs[0].1)
                .map(|i| format!("east-{i}"))
                .filter(|n| *n != node)
                .collect();
            json!({"kind": "partition", "at_s": at, "duration_s": span, "groups": [[node], rest]})
        }
        "disk_failure" => {
            json!({"kind": "disk_failure", "at_s": at, "nodes": [node], "replace_after_s": span})
        }
        "message_loss" => {
            json!({"kind": "message_loss", "at_s": at, "duration_s": span, "probability": g.real(0.01, 0.3)})
        }
        "clock_skew" => {
            json!({"kind": "clock_skew", "at_s": at, "nodes": [node], "offset_ms": g.real(-2000.0, 2000.0)})
        }
        _ => return None,
    };
    Some(fault)
}

fn random_scenario(g: &mut SplitMix, index: u64) -> Value {
    let nodes = g.int(4, 12);
    let dcs: Vec<(&str, u64)> = if g.int(1, 2) == 2 {
        vec![("east", nodes / 2), ("west", nodes - nodes / 2)]
    } else {
        vec![("east", nodes)]
    };
    let n = g.int(1, 3);
    let duration_s = g.int(20, 60);
    let faults: Vec<Value> = random_fault(g, duration_s, &dcs).into_iter().collect();
    json!({
        "name": format!("history-random-{index}"),
        "seed": g.int(0, u64::from(u32::MAX)),
        "duration_s": duration_s,
        "cluster": {
            "datacenters": dcs.iter().map(|(name, n)| json!({"name": name, "nodes": n})).collect::<Vec<_>>(),
            "partitioning": {"strategy": "equal_partitions", "partitions": 64}
        },
        "replication": {
            "n": n, "r": g.int(1, n), "w": g.int(1, n),
            "versioning": g.pick(&["vector_clock", "dotted_version_vector", "vector_clock_naive", "last_write_wins"]),
        },
        "network": {
            "latency_ms": {
                "local": {"constant": 0},
                "intra_dc": {"lognormal": {"median": 0.5, "sigma": 0.5}},
                "inter_dc": {"lognormal": {"median": 30, "sigma": 0.3}}
            }
        },
        "workload": {
            "kind": "open_loop",
            "ops_per_s": g.int(100, 400),
            "clients": g.int(2, 16),
            "read_fraction": g.real(0.2, 0.8),
            "keys": g.int(5, 50),
            "key_distribution": {"zipf": g.real(0.5, 1.2)},
            "write_mode": g.pick(&["read_modify_write", "blind"]),
            "routing": g.pick(&["partition_aware", "load_balancer", "client_driven"]),
            "request_timeout_ms": 500
        },
        "faults": faults,
        "metrics": {"quiet_period_s": 10}
    })
}

#[test]
fn history_agrees_with_report_on_random_scenarios() {
    const SEED: u64 = 20_261_202;
    let mut g = SplitMix(SEED);
    let dir = scratch("random");
    let cases: Vec<(String, PathBuf)> = (0..12)
        .map(|i| {
            let doc = random_scenario(&mut g, i);
            let name = format!("random-{i}");
            let path = dir.join(format!("{name}.json"));
            std::fs::write(
                &path,
                serde_json::to_string_pretty(&doc).expect("a scenario serializes"),
            )
            .expect("write the scenario");
            (name, path)
        })
        .collect();
    let found = compare_all(cases, &dir);
    assert!(
        found.is_empty(),
        "{} differences between the history checker and report.json on random scenarios \
         (seed {SEED}; the scenarios are kept in {}):\n{}",
        found.len(),
        dir.display(),
        found.join("\n")
    );
}

// ---- the checker's shortcuts against the definitions applied literally ----

/// A random small history that follows the spec's rules: several keys, writes blind or
/// not with random parents among the versions made so far, merges, acknowledgements and
/// timeouts in any order, reads returning random versions, discards and final sets.
fn random_history(g: &mut SplitMix) -> Vec<Value> {
    let versioning = g.pick(&[
        "vector_clock",
        "dotted_version_vector",
        "vector_clock_naive",
        "last_write_wins",
    ]);
    let mut lines = vec![json!({"type": "meta", "versioning": versioning, "n": 3, "r": 2, "w": 2})];
    let mut made: std::collections::BTreeMap<u64, Vec<String>> = Default::default();
    // (req, key, write id or None for a read, blind and not merged yet, context)
    let mut pending: Vec<(String, u64, Option<String>, bool, bool)> = Vec::new();
    let (mut time, mut writes, mut reqs) = (0u64, 0, 0);
    let sample = |g: &mut SplitMix, pool: &[String], most: u64| -> Vec<String> {
        let mut picked: Vec<String> = Vec::new();
        for _ in 0..g.int(0, most) {
            if !pool.is_empty() {
                let w = &pool[g.next() as usize % pool.len()];
                if !picked.contains(w) {
                    picked.push(w.clone());
                }
            }
        }
        picked
    };
    for _ in 0..g.int(20, 150) {
        time += 1000 * g.int(0, 1);
        let key = g.int(1, 3);
        let pool = made.get(&key).cloned().unwrap_or_default();
        match g.int(0, 19) {
            0..=5 => {
                let (w, req) = (format!("w-{writes}"), format!("r-{reqs}"));
                (writes, reqs) = (writes + 1, reqs + 1);
                let blind = g.int(0, 1) == 0;
                let mut line = json!({"type": "invoke", "f": "write", "process": 0, "time": time,
                    "key": key, "req": req, "value": w, "blind": blind});
                if !blind {
                    line["parents"] = json!(sample(g, &pool, 2));
                    made.entry(key).or_default().push(w.clone());
                }
                lines.push(line);
                pending.push((req, key, Some(w), blind, false));
            }
            6..=10 if !pending.is_empty() => {
                let (req, key, write, unmerged, context) =
                    pending.remove(g.next() as usize % pending.len());
                let pool = made.get(&key).cloned().unwrap_or_default();
                let f = if write.is_some() { "write" } else { "read" };
                let mut line = json!({"type": "info", "f": f, "process": 0, "time": time, "key": key, "req": req});
                match write {
                    Some(w) if unmerged && g.int(0, 4) > 0 => {
                        let parents = if versioning == "last_write_wins" {
                            Vec::new()
                        } else {
                            sample(g, &pool, 2)
                        };
                        lines.push(json!({"type": "merge", "write": w, "key": key, "time": time, "parents": parents}));
                        made.entry(key).or_default().push(w.clone());
                        pending.push((req, key, Some(w), false, false));
                        continue;
                    }
                    Some(w) => {
                        if !unmerged && g.int(0, 4) > 0 {
                            line["type"] = json!("ok");
                        }
                        line["value"] = json!(w);
                    }
                    None if g.int(0, 9) > 0 => {
                        line["type"] = json!("ok");
                        line["value"] = json!(sample(g, &pool, 3));
                    }
                    None => line["type"] = json!("fail"),
                }
                if context {
                    line["context"] = json!(true);
                }
                lines.push(line);
            }
            11..=16 => {
                let req = format!("r-{reqs}");
                reqs += 1;
                let context = g.int(0, 4) == 0;
                let mut line = json!({"type": "invoke", "f": "read", "process": 1, "time": time, "key": key, "req": req});
                if context {
                    line["context"] = json!(true);
                }
                lines.push(line);
                pending.push((req, key, None, false, context));
            }
            _ if !pool.is_empty() => {
                let w = &pool[g.next() as usize % pool.len()];
                lines.push(
                    json!({"type": "discard", "node": 1, "key": key, "time": time, "write": w,
                    "kept": sample(g, &pool, 2)}),
                );
            }
            _ => {}
        }
    }
    for (req, key, write, _, context) in pending {
        let f = if write.is_some() { "write" } else { "read" };
        let mut line = json!({"type": "info", "f": f, "process": 0, "time": time, "key": key, "req": req, "value": write});
        if context {
            line["context"] = json!(true);
        }
        lines.push(line);
    }
    for (key, pool) in &made {
        lines.push(json!({"type": "final", "key": key, "value": sample(g, pool, 2)}));
    }
    lines
}

/// The spec's judgements word for word: full ancestor sets, every pair of writes.
// long: one pass per rule of the spec, kept together so it reads like the spec.
fn literal_verdicts(lines: &[Value]) -> Verdicts {
    use std::collections::{BTreeMap, BTreeSet};
    let versioning = lines[0]["versioning"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let (mut parents, mut seen_edges) = (BTreeMap::new(), BTreeMap::new());
    let (mut invoke, mut ack, mut key_of) = (BTreeMap::new(), BTreeMap::new(), BTreeMap::new());
    let ids = |v: &Value| -> Vec<String> {
        v.as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|x| x.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default()
    };
    for (i, o) in lines.iter().enumerate() {
        let w = o["value"].as_str().unwrap_or_default().to_string();
        match (o["type"].as_str(), o["f"].as_str()) {
            (Some("invoke"), Some("write")) => {
                invoke.insert(w.clone(), i);
                key_of.insert(w.clone(), o["key"].as_u64());
                seen_edges.insert(w.clone(), o["blind"] == false);
                parents.insert(w, ids(&o["parents"]));
            }
            (Some("ok"), Some("write")) => {
                ack.insert(w, i);
            }
            (Some("merge"), _) => {
                parents.insert(
                    o["write"].as_str().unwrap_or_default().to_string(),
                    ids(&o["parents"]),
                );
            }
            _ => {}
        }
    }
    let ancestors = |x: &str, seen_only: bool| -> BTreeSet<String> {
        let (mut found, mut todo) = (BTreeSet::new(), vec![x.to_string()]);
        while let Some(y) = todo.pop() {
            if seen_only && !seen_edges[&y] {
                continue;
            }
            for p in &parents[&y] {
                if found.insert(p.clone()) {
                    todo.push(p.clone());
                }
            }
        }
        found
    };
    let covers = |r: &[String], w: &str, seen_only: bool| {
        r.iter()
            .any(|x| x == w || ancestors(x, seen_only).contains(w))
    };
    let mut v = Verdicts {
        versioning: versioning.clone(),
        ..Verdicts::default()
    };
    let mut read_invoke = BTreeMap::new();
    for (i, o) in lines.iter().enumerate() {
        if o["type"] == "invoke" && o["f"] == "read" {
            read_invoke.insert(o["req"].as_str().unwrap_or_default().to_string(), i);
        }
        if o["type"] != "ok" || o["f"] != "read" || o["context"] == true {
            continue;
        }
        let r = ids(&o["value"]);
        let p = read_invoke[o["req"].as_str().unwrap_or_default()];
        v.versions_per_read[r.len().min(4)] += 1;
        v.false_siblings += r
            .iter()
            .filter(|x| {
                r.iter()
                    .any(|y| y != *x && ancestors(y, false).contains(*x))
            })
            .count() as u64;
        let a: Vec<&String> = ack
            .iter()
            .filter(|(w, line)| key_of[*w] == o["key"].as_u64() && **line < p)
            .map(|(w, _)| w)
            .collect();
        if a.is_empty() {
            continue;
        }
        v.judged_reads += 1;
        // Under last_write_wins a returned version u also reflects w when u was not
        // acknowledged before w was invoked.
        let lww = versioning == "last_write_wins";
        let covered = |w: &String| {
            covers(&r, w, false)
                || (lww && r.iter().any(|u| ack.get(u).is_none_or(|a| *a > invoke[w])))
        };
        let retired = |w: &String, by: &[&String]| by.iter().any(|u| invoke[*u] > ack[w]);
        if a.iter().any(|w| !covered(w) && !retired(w, &a)) {
            v.stale_reads += 1;
        }
        let covered_a: Vec<&String> = a.iter().copied().filter(|w| covered(w)).collect();
        let k = a
            .iter()
            .filter(|w| !covered(w) && !retired(w, &covered_a))
            .count()
            .min(1000) as u32;
        if k > 0 {
            *v.k_staleness.entry(k).or_default() += 1;
        }
    }
    let finals: BTreeMap<Option<u64>, Vec<String>> = lines
        .iter()
        .filter(|o| o["type"] == "final")
        .map(|o| (o["key"].as_u64(), ids(&o["value"])))
        .collect();
    let discards: Vec<&Value> = lines.iter().filter(|o| o["type"] == "discard").collect();
    for w in ack.keys() {
        v.acknowledged_writes += 1;
        let f = &finals[&key_of[w]];
        if covers(f, w, true) {
            continue;
        }
        if covers(f, w, false) {
            // Kept when some write made from a context that returned w is in H's past.
            let seen_child_in_past = parents
                .iter()
                .any(|(x, ps)| seen_edges[x] && ps.contains(w) && covers(f, x, false));
            if !seen_child_in_past {
                v.overwritten_writes += 1;
            }
            continue;
        }
        // Some discard dropped w, or a write descending from w, keeping nothing that
        // descends from the dropped write.
        let displaced = discards.iter().any(|d| {
            let x = d["write"].as_str().unwrap_or_default().to_string();
            (x == *w || ancestors(&x, false).contains(w)) && !covers(&ids(&d["kept"]), &x, false)
        });
        match (versioning == "last_write_wins", displaced) {
            (true, true) => v.overwritten_writes += 1,
            (_, false) => v.lost_writes += 1,
            (false, true) => {
                v.lost_writes += 1;
                v.lost_updates += 1;
            }
        }
    }
    v
}

#[test]
fn the_checker_agrees_with_the_literal_definitions_on_random_histories() {
    let mut g = SplitMix(7);
    // Over all cases, so that a dull generator cannot pass unnoticed.
    let mut seen = [0u64; 6];
    for case in 0..300 {
        let lines = random_history(&mut g);
        let text: String = lines.iter().map(|l| l.to_string() + "\n").collect();
        let fast = check_history(&text).unwrap_or_else(|e| panic!("case {case}: {e}\n{text}"));
        assert_eq!(fast, literal_verdicts(&lines), "case {case}:\n{text}");
        let deep = fast.k_staleness.range(2..).map(|(_, n)| n).sum::<u64>();
        let counts = [
            fast.stale_reads,
            deep,
            fast.false_siblings,
            fast.lost_writes,
            fast.lost_updates,
            fast.overwritten_writes,
        ];
        for (total, n) in seen.iter_mut().zip(counts) {
            *total += n;
        }
    }
    let names = [
        "stale reads",
        "k >= 2",
        "false siblings",
        "lost writes",
        "lost updates",
        "overwritten writes",
    ];
    for (name, total) in names.iter().zip(seen) {
        assert!(
            total >= 10,
            "the random histories produced only {total} {name}"
        );
    }
}
