//! End-to-end behaviour of the core simulator: determinism and the consistency of quorum
//! settings without faults.

mod common;
use common::*;
use serde_json::json;

#[test]
fn same_seed_gives_byte_identical_reports() {
    let doc = small_scenario();
    let a = report_json(&doc);
    let b = report_json(&doc);
    assert_eq!(a, b);
    assert!(a.contains("\"digest\""));
}

#[test]
fn another_seed_gives_another_digest() {
    let mut doc = small_scenario();
    let (_, a) = run(&doc);
    set(&mut doc, "seed", json!(8));
    let (_, b) = run(&doc);
    assert_ne!(a.digest, b.digest);
    assert_eq!(b.seed, 8);
}

#[test]
fn strict_quorums_without_faults_never_read_stale() {
    // R + W > N with every routing mode and both versioning schemes.
    for routing in ["partition_aware", "load_balancer", "client_driven"] {
        for versioning in ["vector_clock", "last_write_wins"] {
            let mut doc = small_scenario();
            set(&mut doc, "workload.routing", json!(routing));
            set(&mut doc, "replication.versioning", json!(versioning));
            let (_, report) = run(&doc);
            let c = &report.observed.consistency;
            assert!(
                c.judged_reads > 1_000,
                "{routing}/{versioning}: too few judged reads ({})",
                c.judged_reads
            );
            assert_eq!(
                c.stale_reads, 0,
                "{routing}/{versioning}: stale reads with R+W>N"
            );
            assert_eq!(report.observed.availability.read, Some(1.0));
            assert_eq!(report.observed.availability.write, Some(1.0));
        }
    }
}

#[test]
fn partial_quorums_with_a_slow_replica_path_read_stale() {
    let mut doc = small_scenario();
    set(&mut doc, "replication.r", json!(1));
    set(&mut doc, "replication.w", json!(1));
    set(&mut doc, "workload.routing", json!("load_balancer"));
    set(&mut doc, "workload.write_mode", json!("blind"));
    // Replica writes crawl; everything else is fast.
    set(
        &mut doc,
        "network.by_message_ms",
        json!({"write_request": {"exponential": {"mean": 200}}}),
    );
    let (_, report) = run(&doc);
    let c = &report.observed.consistency;
    assert!(
        c.stale_reads > 50,
        "expected stale reads, got {} of {}",
        c.stale_reads,
        c.judged_reads
    );
    let fraction = c.stale_read_fraction.unwrap_or(0.0);
    assert!(fraction > 0.01 && fraction < 1.0, "{fraction}");
    // Stale reads miss at least one write, counted from the newest.
    assert!(c.k_staleness.iter().all(|k| k.k >= 1));
    assert_eq!(
        c.k_staleness.iter().map(|k| k.reads).sum::<u64>(),
        c.stale_reads
    );
}

#[test]
fn concurrent_writers_through_different_coordinators_create_siblings() {
    let mut doc = small_scenario();
    set(&mut doc, "workload.routing", json!("load_balancer"));
    set(&mut doc, "workload.keys", json!(5));
    let (_, report) = run(&doc);
    let v = &report.observed.consistency.versions_per_read;
    assert!(v.two + v.three + v.four_or_more > 0, "{v:?}");
    // Last write wins never returns siblings.
    set(&mut doc, "replication.versioning", json!("last_write_wins"));
    let (_, report) = run(&doc);
    let v = &report.observed.consistency.versions_per_read;
    assert_eq!(v.two + v.three + v.four_or_more, 0, "{v:?}");
}

#[test]
fn replicas_hold_every_acknowledged_write_after_a_quiet_run() {
    let doc = small_scenario();
    let (sim, _) = run(&doc);
    let truth = sim.observer().causality();
    let ids = |vs: &[dynasim::node::Version]| vs.iter().map(|v| v.write).collect::<Vec<_>>();
    for key in 0..200u32 {
        let key = dynasim::ids::KeyId(key);
        for w in sim.observer().acknowledged(key) {
            let holders = sim
                .ring()
                .replicas(key)
                .iter()
                .filter(|n| truth.covers(&ids(sim.node(**n).stored(key)), w.write))
                .count();
            assert_eq!(
                holders, 3,
                "write {} of key {key:?} is on {holders} of 3 replicas",
                w.write
            );
        }
    }
}

#[test]
fn staleness_probes_measure_visibility_by_delay() {
    let mut doc = small_scenario();
    set(
        &mut doc,
        "workload",
        json!({"kind": "staleness_probe", "probes": 3000, "probes_per_s": 200,
               "read_delay_ms": {"uniform": {"low": 0, "high": 400}}, "routing": "client_driven"}),
    );
    set(&mut doc, "replication.r", json!(1));
    set(&mut doc, "replication.w", json!(1));
    set(
        &mut doc,
        "network.latency_ms.intra_dc",
        json!({"exponential": {"mean": 20}}),
    );
    set(
        &mut doc,
        "network.latency_ms.inter_dc",
        json!({"exponential": {"mean": 20}}),
    );
    let (_, report) = run(&doc);
    let c = &report.observed.consistency;
    assert!(c.judged_reads > 2_500, "{}", c.judged_reads);
    // Reads within 20 ms of the acknowledgement, pooled (about 150 of them: a single bin
    // that early holds too few reads for a stable share), against the last full bin.
    let early = c
        .t_visibility
        .iter()
        .filter(|b| b.to_ms.is_some_and(|to| to <= 20.0));
    let (reads, fresh) = early.fold((0, 0), |(r, f), b| (r + b.reads, f + b.fresh));
    assert!(reads > 100, "{reads} early reads");
    let first = fresh as f64 / reads as f64;
    let bins: Vec<_> = c.t_visibility.iter().filter(|b| b.reads > 50).collect();
    let last = bins.last().and_then(|b| b.p_fresh).unwrap_or(0.0);
    assert!(
        first < 0.95,
        "early reads should sometimes be stale: {first}"
    );
    assert!(last > 0.99, "late reads should be fresh: {last}");
}

/// PBS's WAN setting: a replica per datacenter, 75 ms more on every leg between
/// datacenters. A probe read back by its writer finds the write at the writer's own
/// replica; one read back by any client is stale whenever the reader sits in another
/// datacenter (two times in three) and reads before the write crossed.
#[test]
fn wide_area_probes_are_stale_when_the_reader_is_elsewhere() {
    let p_fresh = |reader: &str| {
        let mut doc = small_scenario();
        set(
            &mut doc,
            "cluster.datacenters",
            json!([{"name": "a", "nodes": 3}, {"name": "b", "nodes": 3}, {"name": "c", "nodes": 3}]),
        );
        set(
            &mut doc,
            "replication",
            json!({"n": 3, "r": 1, "w": 1, "versioning": "last_write_wins",
                   "replicas_per_datacenter": {"a": 1, "b": 1, "c": 1}}),
        );
        set(
            &mut doc,
            "network.latency_ms",
            json!({"local": {"constant": 0}, "intra_dc": {"constant": 1}, "inter_dc": {"constant": 1}}),
        );
        set(
            &mut doc,
            "network.inter_dc_added_ms",
            json!({"constant": 75}),
        );
        set(
            &mut doc,
            "workload",
            json!({"kind": "staleness_probe", "probes": 3000, "probes_per_s": 200, "clients": 9,
                   "read_delay_ms": {"constant": 0}, "routing": "client_driven",
                   "reader": reader}),
        );
        let (_, report) = run(&doc);
        let c = &report.observed.consistency;
        assert!(c.judged_reads > 2_900, "{}", c.judged_reads);
        1.0 - c.stale_read_fraction.expect("reads were judged")
    };
    let writer = p_fresh("writer");
    let any = p_fresh("any_client");
    assert!(
        writer > 0.99,
        "the writer's own datacenter has the write: {writer}"
    );
    assert!(
        (0.29..0.38).contains(&any),
        "a reader in one of three datacenters at random: about 1/3 fresh, got {any}"
    );
}
