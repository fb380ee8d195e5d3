//! Consistency policies end to end: Cassandra's levels with per-datacenter replica
//! counts, and Riak's pr/pw, on small clusters with faults that separate the levels.

mod common;

use common::{run, set, small_scenario};
use dynasim::report::Report;
use serde_json::{Value, json};

/// Two datacenters of four nodes, two replicas in each (N = 4), strict quorum, clients
/// coordinating their own requests; east and west are cut apart from 5 s to 25 s.
fn split_brain() -> Value {
    let mut doc = small_scenario();
    set(&mut doc, "duration_s", json!(30));
    set(
        &mut doc,
        "cluster.datacenters",
        json!([{"name": "east", "nodes": 4}, {"name": "west", "nodes": 4}]),
    );
    set(&mut doc, "replication.n", json!(4));
    set(
        &mut doc,
        "replication.replicas_per_datacenter",
        json!({"east": 2, "west": 2}),
    );
    set(&mut doc, "replication.sloppy_quorum", json!(false));
    set(&mut doc, "workload.routing", json!("client_driven"));
    set(
        &mut doc,
        "faults",
        json!([{"kind": "partition", "at_s": 5, "duration_s": 20, "groups": [["east"], ["west"]]}]),
    );
    doc
}

fn with_levels(doc: &Value, read: &str, write: &str) -> Report {
    let mut doc = doc.clone();
    set(
        &mut doc,
        "replication.consistency",
        json!({"read": read, "write": write}),
    );
    run(&doc).1
}

fn during_faults(r: &Report) -> (f64, f64) {
    let a = &r.observed.availability;
    (
        a.read_during_faults.expect("reads during the partition"),
        a.write_during_faults.expect("writes during the partition"),
    )
}

#[test]
fn local_quorum_survives_a_split_that_quorum_and_each_quorum_do_not() {
    let doc = split_brain();
    let local = with_levels(&doc, "LOCAL_QUORUM", "LOCAL_QUORUM");
    let global = with_levels(&doc, "QUORUM", "QUORUM");
    let each = with_levels(&doc, "LOCAL_ONE", "EACH_QUORUM");
    let (local_read, local_write) = during_faults(&local);
    let (global_read, global_write) = during_faults(&global);
    let (each_read, each_write) = during_faults(&each);
    // Both replicas of a key's local half stay in reach on each side.
    assert!(
        local_read > 0.99 && local_write > 0.99,
        "{local_read} {local_write}"
    );
    // QUORUM needs 3 of 4: no side holds three replicas of any key.
    assert!(
        global_read < 0.35 && global_write < 0.35,
        "{global_read} {global_write}"
    );
    // EACH_QUORUM writes need the far side; LOCAL_ONE reads do not.
    assert!(each_write < 0.35, "{each_write}");
    assert!(each_read > 0.99, "{each_read}");
    // LOCAL_QUORUM never needed the far side, so the heal costs it nothing (QUORUM
    // clients still back off from the far side's nodes for a while after it).
    let a = &local.observed.availability;
    assert!(a.read_outside_faults.unwrap_or(0.0) > 0.99, "{a:?}");
    assert!(a.write_outside_faults.unwrap_or(0.0) > 0.99, "{a:?}");
    // LOCAL_QUORUM on both sides: a read can miss the other side's writes.
    assert!(local.observed.consistency.stale_reads_during_faults > 0);
    // LOCAL_ONE reads after EACH_QUORUM writes meet every acknowledged write.
    assert_eq!(each.observed.consistency.stale_reads, 0);
}

#[test]
fn local_quorum_is_counted_in_the_coordinators_datacenter_only() {
    // Outside faults, LOCAL_QUORUM reads wait only for local replicas: about an
    // intra-datacenter round trip, where QUORUM (3 of 4) must hear the other datacenter.
    let mut doc = split_brain();
    set(&mut doc, "faults", json!([]));
    let local = with_levels(&doc, "LOCAL_QUORUM", "LOCAL_QUORUM");
    let global = with_levels(&doc, "QUORUM", "QUORUM");
    let local_p50 = local.observed.latency_ms.read.p50;
    let global_p50 = global.observed.latency_ms.read.p50;
    assert!(local_p50 < 5.0, "LOCAL_QUORUM read p50 {local_p50} ms");
    assert!(global_p50 > 15.0, "QUORUM read p50 {global_p50} ms");
}

#[test]
fn any_acknowledges_writes_whose_replicas_are_all_down() {
    // One datacenter of six; three consecutive nodes down hold every replica of some keys.
    let mut doc = small_scenario();
    set(
        &mut doc,
        "cluster.datacenters",
        json!([{"name": "east", "nodes": 6}]),
    );
    set(&mut doc, "replication.sloppy_quorum", json!(false));
    // Puts whose context read failed are concurrent: a key's hint gathers them all as
    // siblings, and past `max_siblings` a fallback refuses more (tested in
    // node_harness). Unbounded here, so that what is measured is ANY alone.
    set(&mut doc, "replication.max_siblings", json!(null));
    set(
        &mut doc,
        "cluster.partitioning",
        json!({"strategy": "equal_partitions", "partitions": 60, "assignment": "striped"}),
    );
    set(
        &mut doc,
        "faults",
        json!([{"kind": "crash", "at_s": 5, "duration_s": 10, "nodes": ["east-0", "east-1", "east-2"]}]),
    );
    let one = with_levels(&doc, "ONE", "ONE");
    let any = with_levels(&doc, "ONE", "ANY");
    let (_, one_write) = during_faults(&one);
    let (_, any_write) = during_faults(&any);
    // Both lose the writes sent before the detectors noticed the crash; ONE also loses
    // every write of a key whose three replicas are down.
    assert!(one_write < 0.9, "ONE writes during the outage: {one_write}");
    assert!(
        any_write > 0.95 && any_write > one_write + 0.1,
        "ANY writes during the outage: {any_write} (ONE: {one_write})"
    );
    // The hints ANY stored are handed back: nothing acknowledged is lost.
    assert!(any.handoff.hints_stored > 0);
    assert_eq!(any.durability.lost_writes, 0);
}

#[test]
fn primaries_required_refuse_what_sloppy_quorum_would_accept() {
    // With sloppy quorum, a crashed replica's stand-in acknowledges in its place; pw = 3
    // counts only the home replicas themselves.
    let mut doc = small_scenario();
    set(
        &mut doc,
        "faults",
        json!([{"kind": "crash", "at_s": 5, "duration_s": 10, "nodes": ["east-1"]}]),
    );
    let (_, sloppy) = run(&doc);
    set(&mut doc, "replication.pw", json!(3));
    let (_, primaries) = run(&doc);
    let (_, sloppy_write) = during_faults(&sloppy);
    let (_, primary_write) = during_faults(&primaries);
    assert!(sloppy_write > 0.99, "{sloppy_write}");
    assert!(
        primary_write < sloppy_write - 0.05,
        "pw = 3 kept {primary_write} of writes during the crash"
    );
}
