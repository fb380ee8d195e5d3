//! Determinism at the sizes the benchmark suite runs: the benchmark scenario (every
//! mechanism on, a crash and a partition) gives a byte-identical report when run twice,
//! and a different one under another seed. Sizes here are kept to what a debug build runs
//! in seconds; `dynasim bench` runs the same scenario longer and larger.

mod common;
use common::*;
use serde_json::json;

/// The benchmark scenario at `nodes` nodes for a few simulated seconds, with its faults
/// inside that time.
fn bench_doc(nodes: u32) -> serde_json::Value {
    dynasim::bench::scenario(nodes, 6.0, 2_778.0, false)
}

#[test]
fn the_benchmark_scenario_is_deterministic_at_1000_and_10000_nodes() {
    for nodes in [1_000, 10_000] {
        let doc = bench_doc(nodes);
        let (sim_a, a) = run(&doc);
        let (sim_b, b) = run(&doc);
        assert_eq!(a.to_json(), b.to_json(), "{nodes} nodes: reports differ");
        assert_eq!(sim_a.events(), sim_b.events());
        // The run did the work the benchmark measures: gossip, anti-entropy and faults.
        let sent = |kind: &str| a.messages.by_kind.get(kind).map_or(0, |m| m.sent);
        assert!(
            sent("gossip") >= nodes as u64 * 5,
            "{nodes} nodes: gossip {}",
            sent("gossip")
        );
        assert!(
            sent("ae_hashes") > 0,
            "{nodes} nodes: no anti-entropy exchange"
        );
        assert!(
            a.messages.partitioned > 0,
            "{nodes} nodes: the partition cut nothing"
        );

        let mut other = doc.clone();
        set(&mut other, "seed", json!(2));
        let (_, c) = run(&other);
        assert_ne!(
            a.digest, c.digest,
            "{nodes} nodes: the seed changed nothing"
        );
    }
}
