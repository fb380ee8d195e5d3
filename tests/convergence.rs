//! Convergence machinery: anti-entropy with Merkle trees and read repair bring replicas
//! back together after faults; switched off, they stay apart.

mod common;
use common::*;
use dynasim::ids::{KeyId, NodeId};
use dynasim::sim::Simulation;
use serde_json::{Value, json};

fn healed_partition(anti_entropy: bool, read_repair: bool) -> Value {
    let mut doc = small_scenario();
    set(&mut doc, "duration_s", json!(40));
    set(&mut doc, "replication.r", json!(1));
    set(&mut doc, "replication.w", json!(1));
    set(&mut doc, "replication.read_repair", json!(read_repair));
    set(&mut doc, "replication.hinted_handoff", json!(false));
    set(&mut doc, "workload.write_mode", json!("blind"));
    set(&mut doc, "workload.keys", json!(500));
    set(&mut doc, "workload.key_distribution", json!("uniform"));
    set(
        &mut doc,
        "anti_entropy",
        json!({"enabled": anti_entropy, "interval_s": 5, "merkle_depth": 6}),
    );
    set(&mut doc, "metrics.quiet_period_s", json!(30));
    set(
        &mut doc,
        "faults",
        json!([{"kind": "partition", "at_s": 5, "duration_s": 20, "groups": [["east"], ["west"]]}]),
    );
    doc
}

/// Keys whose home replicas hold different sets of writes.
fn divergent(sim: &Simulation, keys: u32) -> usize {
    (0..keys)
        .filter(|k| {
            let key = KeyId(*k);
            let sets: Vec<Vec<u64>> = sim
                .ring()
                .replicas(key)
                .iter()
                .map(|n| {
                    let mut ids: Vec<u64> =
                        sim.node(*n).stored(key).iter().map(|v| v.write.0).collect();
                    ids.sort();
                    ids
                })
                .collect();
            sets.windows(2).any(|w| w[0] != w[1])
        })
        .count()
}

#[test]
fn anti_entropy_makes_replicas_identical_after_a_partition_heals() {
    let (sim, report) = run(&healed_partition(true, false));
    assert_eq!(divergent(&sim, 500), 0);
    assert_eq!(report.convergence.divergent_keys_at_end, 0);
    assert!(report.convergence.time_to_converge_s.is_some());
    assert!(report.anti_entropy.keys_transferred > 0 && report.anti_entropy.bytes > 0);
    // Trees of replicas with identical data have identical roots.
    for slot in 0..64u32 {
        let roots: Vec<u64> = sim
            .ring()
            .slot_replicas(slot)
            .iter()
            .map(|n| sim.node(*n).tree_root(slot))
            .collect();
        assert!(
            roots.windows(2).all(|w| w[0] == w[1]),
            "slot {slot}: {roots:?}"
        );
    }
}

#[test]
fn without_anti_entropy_or_read_repair_replicas_stay_divergent() {
    let (sim, report) = run(&healed_partition(false, false));
    assert!(divergent(&sim, 500) > 10, "{}", divergent(&sim, 500));
    assert!(report.convergence.divergent_keys_at_end > 10);
    // The timeline's incremental count agrees with a full scan at the end of the run.
    let last = report.timeline.last().map(|p| p.divergent_keys);
    assert_eq!(last, Some(report.convergence.divergent_keys_at_end));
    assert_eq!(report.convergence.time_to_converge_s, None);
    assert_eq!(report.anti_entropy.exchanges, 0);
}

#[test]
fn a_node_that_lost_its_disk_is_refilled_by_anti_entropy() {
    let mut doc = small_scenario();
    set(&mut doc, "duration_s", json!(30));
    set(&mut doc, "replication.read_repair", json!(false));
    set(
        &mut doc,
        "anti_entropy",
        json!({"enabled": true, "interval_s": 5, "merkle_depth": 8}),
    );
    set(&mut doc, "metrics.quiet_period_s", json!(20));
    // Writes stop at 30 s; west-2 loses its disk at 31 s and is back empty at 32 s.
    set(
        &mut doc,
        "faults",
        json!([{"kind": "disk_failure", "at_s": 31, "nodes": ["west-2"], "replace_after_s": 1}]),
    );
    let mut sim = Simulation::new(&scenario(&doc));
    let west2 = NodeId(8);
    sim.run_until(dynasim::engine::SimTime::from_secs_f64(30.5));
    let before = sim.node(west2).key_count();
    assert!(before > 20);
    sim.run_until(dynasim::engine::SimTime::from_secs_f64(32.0));
    assert_eq!(sim.node(west2).key_count(), 0);
    sim.run();
    assert_eq!(
        sim.node(west2).key_count(),
        before,
        "refilled with every key it held"
    );
    assert_eq!(divergent(&sim, 200), 0);
}
