//! Faults and the availability machinery: failure detection, sloppy quorum, hinted
//! handoff, disk loss, and determinism with every fault kind active.

mod common;
use common::*;
use dynasim::engine::SimTime;
use dynasim::ids::{KeyId, NodeId};
use dynasim::sim::Simulation;
use serde_json::{Value, json};
use std::path::Path;

/// Two datacenters, uniform keys (few concurrent writers per key), partition-aware clients.
fn partition_scenario(sloppy: bool) -> Value {
    let mut doc = small_scenario();
    set(&mut doc, "duration_s", json!(60));
    set(&mut doc, "workload.keys", json!(2000));
    set(&mut doc, "workload.key_distribution", json!("uniform"));
    set(&mut doc, "replication.sloppy_quorum", json!(sloppy));
    set(&mut doc, "metrics.quiet_period_s", json!(30));
    set(
        &mut doc,
        "faults",
        json!([{"kind": "partition", "at_s": 10, "duration_s": 30, "groups": [["east"], ["west"]]}]),
    );
    doc
}

#[test]
fn sloppy_quorum_keeps_both_sides_of_a_partition_writeable_and_leaves_siblings() {
    let (sim, report) = run(&partition_scenario(true));
    let a = &report.observed.availability;
    let during = a.write_during_faults.unwrap_or(0.0);
    assert!(
        during > 0.98,
        "write availability during the partition: {during}"
    );
    assert!(report.messages.partitioned > 0);
    assert!(report.handoff.hints_stored > 0);
    // Concurrent updates on both sides meet after the heal as siblings on the replicas.
    let keys_with_siblings = (0..2000)
        .filter(|k| sim.hosts().nodes().any(|n| n.stored(KeyId(*k)).len() > 1))
        .count();
    assert!(
        keys_with_siblings > 0,
        "no siblings after the partition healed"
    );
}

#[test]
fn strict_quorum_loses_availability_when_home_replicas_are_cut_off() {
    let (_, sloppy) = run(&partition_scenario(true));
    let (_, strict) = run(&partition_scenario(false));
    let during =
        |r: &dynasim::report::Report| r.observed.availability.write_during_faults.unwrap_or(0.0);
    assert!(
        during(&strict) < during(&sloppy) - 0.05,
        "strict {} vs sloppy {}",
        during(&strict),
        during(&sloppy)
    );
    assert!(strict.observed.ops.write.failed_not_enough_replicas > 0);
    assert_eq!(
        strict.handoff.hints_stored, 0,
        "strict quorum never writes to fallbacks"
    );
}

#[test]
fn hints_written_during_a_crash_reach_the_node_after_its_restart() {
    let mut doc = small_scenario();
    set(&mut doc, "duration_s", json!(60));
    set(&mut doc, "replication.hint_scan_interval_s", json!(2));
    set(&mut doc, "metrics.quiet_period_s", json!(10));
    set(
        &mut doc,
        "faults",
        json!([{"kind": "crash", "at_s": 10, "duration_s": 20, "nodes": ["east-1"]}]),
    );
    let mut sim = Simulation::new(&scenario(&doc));
    sim.run_until(SimTime::from_secs_f64(29.0));
    let held: usize = sim.hosts().nodes().map(|n| n.hint_count()).sum();
    assert!(held > 0, "fallbacks hold hints while east-1 is down");
    sim.run();
    let report = dynasim::report::Report::from_outcome(&sim.outcome());
    assert!(report.handoff.hints_delivered > 0);
    assert_eq!(
        report.handoff.backlog_at_end, 0,
        "the hint stores empty after the restart"
    );
    // east-1 holds every acknowledged write of the keys it is a home replica for.
    let truth = sim.observer().causality();
    let east1 = NodeId(1);
    for k in 0..200 {
        let key = KeyId(k);
        if !sim.ring().is_replica(key, east1) {
            continue;
        }
        for w in sim.observer().acknowledged(key) {
            let held: Vec<_> = sim
                .node(east1)
                .stored(key)
                .iter()
                .map(|v| v.write)
                .collect();
            assert!(
                truth.covers(&held, w.write),
                "east-1 misses {} of key {k}",
                w.write
            );
        }
    }
}

#[test]
fn a_disk_failure_empties_the_node() {
    let mut doc = small_scenario();
    set(
        &mut doc,
        "faults",
        json!([{"kind": "disk_failure", "at_s": 10, "nodes": ["west-2"], "replace_after_s": 5}]),
    );
    let mut sim = Simulation::new(&scenario(&doc));
    let west2 = NodeId(8);
    sim.run_until(SimTime::from_secs_f64(9.9));
    assert!(sim.node(west2).key_count() > 0);
    sim.run_until(SimTime::from_secs_f64(10.0));
    assert!(!sim.is_up(west2));
    assert_eq!(sim.node(west2).key_count(), 0);
    assert_eq!(sim.node(west2).hint_count(), 0);
    sim.run_until(SimTime::from_secs_f64(15.5));
    assert!(sim.is_up(west2), "replaced after 5 s");
}

#[test]
fn random_crashes_are_reproducible_from_the_seed() {
    let mut doc = small_scenario();
    set(
        &mut doc,
        "faults",
        json!([{"kind": "random_crashes", "at_s": 0, "mtbf_s": 20, "mttr_s": 2}]),
    );
    let a = report_json(&doc);
    assert_eq!(a, report_json(&doc));
    let (_, first) = run(&doc);
    assert!(first.faults[0].crash_windows.unwrap_or(0) > 3);
    set(&mut doc, "seed", json!(99));
    let (_, other) = run(&doc);
    assert_ne!(
        serde_json::to_string(&first.faults).ok(),
        serde_json::to_string(&other.faults).ok(),
        "another seed draws another crash schedule"
    );
}

#[test]
fn every_fault_kind_at_once_is_deterministic() {
    let mut doc = small_scenario();
    set(&mut doc, "replication.versioning", json!("last_write_wins"));
    set(
        &mut doc,
        "faults",
        json!([
            {"kind": "crash", "at_s": 2, "duration_s": 5, "nodes": ["east-0"]},
            {"kind": "disk_failure", "at_s": 3, "random_nodes": 1, "replace_after_s": 4},
            {"kind": "partition", "at_s": 5, "duration_s": 5, "groups": [["east"], ["west-0", "west-1"]]},
            {"kind": "datacenter_outage", "at_s": 12, "duration_s": 3, "datacenter": "west"},
            {"kind": "slow_node", "at_s": 0, "duration_s": 10, "random_nodes": 2, "extra_ms": {"exponential": {"mean": 30}}},
            {"kind": "message_loss", "at_s": 1, "duration_s": 8, "probability": 0.05},
            {"kind": "clock_skew", "at_s": 0, "nodes": ["east-2"], "offset_ms": 1500},
            {"kind": "random_crashes", "at_s": 0, "mtbf_s": 30, "mttr_s": 2}
        ]),
    );
    let (_, a) = run(&doc);
    assert_eq!(a.to_json(), report_json(&doc));
    assert!(a.messages.lost > 0 && a.messages.partitioned > 0 && a.messages.to_down_node > 0);
    assert_eq!(a.faults.len(), 8);
}

fn run_cli(dir: &Path, doc: &Value) -> (i32, String) {
    let file = dir.join(format!(
        "{:x}.json",
        dynasim::engine::rng::mix64(doc.to_string().len() as u64)
    ));
    std::fs::write(&file, doc.to_string()).expect("write scenario");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_dynasim"))
        .args(["run", "--quiet", "--out"])
        .arg(dir.join("out"))
        .arg(&file)
        .output()
        .expect("run dynasim");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn bad_faults_are_rejected_with_their_index_and_field() {
    let cases = [
        (
            json!({"kind": "crash", "at_s": 1, "nodes": ["east-99"]}),
            "faults[1].nodes[0]",
            "east-99",
        ),
        (
            json!({"kind": "crash", "at_s": 1, "duration_s": -5, "nodes": ["east-1"]}),
            "faults[1].duration_s",
            "-5",
        ),
        (
            json!({"kind": "partition", "at_s": 1, "duration_s": 5, "groups": [["east", "west-1"], ["west-1"]]}),
            "faults[1].groups[1][0]",
            "more than one place",
        ),
        (
            json!({"kind": "datacenter_outage", "at_s": 1, "duration_s": 5, "datacenter": "north"}),
            "faults[1].datacenter",
            "north",
        ),
    ];
    let dir = Scratch::new("faults");
    for (fault, path, detail) in cases {
        let mut doc = small_scenario();
        set(
            &mut doc,
            "faults",
            json!([{"kind": "message_loss", "at_s": 0, "duration_s": 1, "probability": 0.1}, fault]),
        );
        let (code, stderr) = run_cli(&dir, &doc);
        assert_eq!(code, 2, "{stderr}");
        assert!(
            stderr.contains(path) && stderr.contains(detail),
            "expected {path} and {detail} in: {stderr}"
        );
    }
}
