//! The pathology library (scenarios/pathologies/): each shipped scenario shows its
//! behaviour, and turning the knob that cures it makes the behaviour go away.

mod common;

use common::{run, set};
use serde_json::{Value, json};

fn pathology(name: &str) -> Value {
    let path = format!("scenarios/pathologies/{name}.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

#[test]
fn a_grace_period_shorter_than_the_downtime_resurrects_deletes_and_a_longer_one_does_not() {
    let short = pathology("deleted-data-resurrected");
    let (_, shown) = run(&short);
    let d = &shown.durability;
    let acked = d.acknowledged_deletes.expect("the workload deletes");
    let back = d.resurrected_deletes.expect("the workload deletes");
    assert!(acked > 1000, "{acked} acknowledged deletes");
    assert!(back > 20, "only {back} of {acked} deletes came back");
    // Resurrection undoes deletes; it loses no write (collected tombstones still stand).
    assert_eq!(d.lost_writes, 0, "{:?}", d.lost_examples);
    let examples = d.resurrected_examples.as_ref().expect("examples");
    assert_eq!(examples.len() as u64, back.min(10));

    let mut long = short.clone();
    set(&mut long, "replication.tombstone_gc_grace_s", json!(3600));
    let (_, cured) = run(&long);
    assert_eq!(cured.durability.acknowledged_deletes, Some(acked));
    assert_eq!(cured.durability.resurrected_deletes, Some(0));
    assert_eq!(cured.durability.lost_writes, 0);
}

#[test]
fn without_deletes_the_report_has_no_delete_fields() {
    let mut doc = pathology("deleted-data-resurrected");
    set(&mut doc, "workload.delete_fraction", json!(0));
    let (_, report) = run(&doc);
    assert_eq!(report.durability.acknowledged_deletes, None);
    let json: Value = serde_json::from_str(&report.to_json()).expect("report JSON");
    let durability = json["durability"].as_object().expect("durability");
    assert!(durability.contains_key("lost_writes"));
    assert!(!durability.contains_key("resurrected_deletes"));
    assert!(!durability.contains_key("acknowledged_deletes"));
}

#[test]
fn a_timeout_detector_flaps_on_pausing_nodes_into_quorum_failures_and_phi_accrual_does_not() {
    let timeout = pathology("failure-detector-flapping");
    let (_, shown) = run(&timeout);
    let fd = &shown.observed.failure_detection;
    let failed =
        |r: &dynasim::report::Report| r.observed.ops.read.failed + r.observed.ops.write.failed;
    assert_eq!(fd.kind, "timeout");
    assert!(fd.flaps > 1000, "only {} flaps", fd.flaps);
    assert!(fd.false_suspicions >= fd.flaps);
    assert_eq!(fd.downs_detected, 1, "the crash of east-6 is seen");
    assert!(fd.detection_mean_s.expect("detected") < 1.0);
    let finding = dynasim::report::summary::findings(&shown);
    assert!(
        finding
            .iter()
            .any(|f| f.starts_with("Failure-detector flapping")),
        "{finding:?}"
    );

    let mut phi = timeout.clone();
    set(&mut phi, "failure_detector.kind", json!("phi_accrual"));
    let (_, cured) = run(&phi);
    let fd = &cured.observed.failure_detection;
    assert_eq!(
        (fd.kind.as_str(), fd.false_suspicions, fd.flaps),
        ("phi_accrual", 0, 0)
    );
    // Healthy replicas stay in the quorum: fewer requests fail...
    assert!(
        failed(&cured) * 10 < failed(&shown) * 8,
        "phi accrual failed {} requests, timeouts {}",
        failed(&cured),
        failed(&shown)
    );
    // ...at the price of detection: φ passes 8 after about 18 heartbeat intervals.
    let took = fd.detection_mean_s.expect("detected");
    assert!((17.0..20.0).contains(&took), "detected after {took} s");
}

#[test]
fn with_r_1_fallbacks_answer_not_found_unless_notfound_ok_is_false() {
    let shown_doc = pathology("stale-reads-from-fallbacks");
    let (_, shown) = run(&shown_doc);
    let c = &shown.observed.consistency;
    assert!(c.judged_reads > 100_000, "{} judged reads", c.judged_reads);
    assert!(
        c.stale_not_found_reads > 1_000,
        "only {} not-found stale reads",
        c.stale_not_found_reads
    );
    // Most of the staleness is the empty answers, not old versions.
    assert!(c.stale_not_found_reads * 10 > c.stale_reads * 9, "{c:?}");
    let findings = dynasim::report::summary::findings(&shown);
    assert!(
        findings.iter().any(|f| f.starts_with("Not-found reads")),
        "{findings:?}"
    );

    let mut cured_doc = shown_doc.clone();
    set(&mut cured_doc, "replication.notfound_ok", json!(false));
    let (_, cured) = run(&cured_doc);
    let cc = &cured.observed.consistency;
    assert_eq!(cc.stale_not_found_reads, 0);
    assert!(
        cc.stale_reads * 10 < c.stale_reads,
        "stale reads {} with notfound_ok = false against {}",
        cc.stale_reads,
        c.stale_reads
    );
    // Waiting for a replica that holds the key costs no availability here.
    assert_eq!(cured.observed.availability.read, Some(1.0));
    let findings = dynasim::report::summary::findings(&cured);
    assert!(!findings.iter().any(|f| f.starts_with("Not-found reads")));
}

fn has_finding(report: &dynasim::report::Report, start: &str) -> bool {
    dynasim::report::summary::findings(report)
        .iter()
        .any(|f| f.starts_with(start))
}

#[test]
fn a_clock_that_jumps_makes_last_write_wins_discard_newer_writes_and_causality_does_not() {
    let doc = pathology("lww-clock-skew");
    let (_, shown) = run(&doc);
    let d = &shown.durability;
    let older = d.overwritten_by_older_writes.expect("last_write_wins");
    assert!(older > 1_000, "only {older} writes lost to an older one");
    assert!(older <= d.overwritten_writes);
    assert!(shown.observed.consistency.stale_reads > 1_000);
    assert!(has_finding(
        &shown,
        "Last write wins discarded newer writes"
    ));

    // Without the jump, last write wins still overwrites concurrent writes, but never a
    // newer one for an older.
    let mut steady = doc.clone();
    set(&mut steady, "faults", json!([]));
    let (_, steady) = run(&steady);
    assert_eq!(steady.durability.overwritten_by_older_writes, Some(0));
    assert!(!has_finding(
        &steady,
        "Last write wins discarded newer writes"
    ));

    let mut dvv = doc.clone();
    set(
        &mut dvv,
        "replication.versioning",
        json!("dotted_version_vector"),
    );
    let (_, cured) = run(&dvv);
    assert_eq!(cured.durability.overwritten_by_older_writes, None);
    assert_eq!(cured.durability.overwritten_writes, 0);
    assert_eq!(cured.durability.lost_writes, 0);
    assert_eq!(cured.observed.consistency.stale_reads, 0);
}

#[test]
fn interleaved_writers_explode_siblings_under_vector_clocks_and_not_under_dvv() {
    let doc = pathology("sibling-explosion");
    let (_, shown) = run(&doc);
    let v = &shown.observed.versioning;
    let per_read = v.siblings_per_read.expect("reads found values");
    assert!(per_read > 10.0, "{per_read} siblings per read");
    assert!(
        v.false_siblings > 10_000,
        "{} false siblings",
        v.false_siblings
    );
    assert!(shown.observed.ops.write.failed_too_many_siblings > 0);
    assert!(has_finding(&shown, "Sibling explosion"));

    let mut dvv = doc.clone();
    set(
        &mut dvv,
        "replication.versioning",
        json!("dotted_version_vector"),
    );
    let (_, cured) = run(&dvv);
    let c = &cured.observed.versioning;
    assert_eq!(c.false_siblings, 0);
    assert!(c.siblings_per_read.expect("found") * 3.0 < per_read);
    assert_eq!(cured.observed.ops.write.failed_too_many_siblings, 0);
    assert!(!has_finding(&cured, "Sibling explosion"));
    // Neither scheme loses an acknowledged write: the explosion costs space and work.
    assert_eq!(
        (shown.durability.lost_writes, cured.durability.lost_writes),
        (0, 0)
    );
}

/// Successful requests per second over the timeline's intervals inside [from_s, to_s].
fn throughput(r: &dynasim::report::Report, from_s: f64, to_s: f64) -> f64 {
    let points: Vec<_> = (r.timeline.iter())
        .filter(|p| p.from_s >= from_s && p.to_s <= to_s)
        .collect();
    assert!(!points.is_empty(), "no interval in [{from_s}, {to_s}]");
    let ok: f64 = (points.iter())
        .map(|p| {
            p.reads as f64 * p.read_availability.unwrap_or(0.0)
                + p.writes as f64 * p.write_availability.unwrap_or(0.0)
        })
        .sum();
    ok / points.iter().map(|p| p.to_s - p.from_s).sum::<f64>()
}

/// The worst interval's read p99 inside [from_s, to_s], ms.
fn worst_read_p99(r: &dynasim::report::Report, from_s: f64, to_s: f64) -> f64 {
    (r.timeline.iter())
        .filter(|p| p.from_s >= from_s && p.to_s <= to_s)
        .filter_map(|p| p.read_p99_ms)
        .fold(0.0, f64::max)
}

#[test]
fn a_refill_without_admission_control_starves_the_foreground_and_dynamo_admission_protects_it() {
    let none = pathology("anti-entropy-storm");
    let (_, shown) = run(&none);
    // east-2's disk fails at 50 s and is back at 55 s; the load runs to 100 s.
    let (before, refill) = (
        throughput(&shown, 0.0, 50.0),
        throughput(&shown, 55.0, 100.0),
    );
    assert!(refill < 0.8 * before, "{refill} vs {before} requests/s");
    let (p99_before, p99_refill) = (
        worst_read_p99(&shown, 0.0, 50.0),
        worst_read_p99(&shown, 55.0, 100.0),
    );
    assert!(
        p99_refill > 10.0 * p99_before,
        "{p99_refill} vs {p99_before} ms"
    );
    let failed =
        |r: &dynasim::report::Report| r.observed.ops.read.failed + r.observed.ops.write.failed;
    assert!(failed(&shown) > 5_000, "{} failed", failed(&shown));
    assert!(has_finding(&shown, "Anti-entropy storm"));

    let mut dynamo = none.clone();
    set(
        &mut dynamo,
        "capacity.background.admission",
        json!("dynamo"),
    );
    let (_, cured) = run(&dynamo);
    let refill_cured = throughput(&cured, 55.0, 100.0);
    assert!(refill_cured > 0.95 * before, "{refill_cured} vs {before}");
    assert!(worst_read_p99(&cured, 55.0, 100.0) < 3.0 * p99_before);
    assert!(failed(&cured) < failed(&shown) / 20, "{}", failed(&cured));
    assert!(!has_finding(&cured, "Anti-entropy storm"));
    // The same refill, paced: slower to finish, and without the repair work the storm's
    // half-done writes added.
    let background = |r: &dynasim::report::Report| {
        (r.capacity.clone())
            .and_then(|c| c.background)
            .expect("a finite disk")
            .anti_entropy
    };
    assert!(background(&cured).bytes < background(&shown).bytes);
    let converged = |r: &dynasim::report::Report| r.convergence.time_to_converge_s;
    assert!(
        matches!((converged(&shown), converged(&cured)), (Some(a), Some(b)) if b > a),
        "{:?} vs {:?}",
        converged(&shown),
        converged(&cured)
    );
}

#[test]
fn few_random_tokens_stay_unbalanced_through_joins_and_leaves_and_strategy_3_does_not() {
    let doc = pathology("ownership-imbalance");
    let last_window = |r: &dynasim::report::Report| {
        let w = r.load_balance.windows.last().expect("windows");
        (
            w.out_of_balance_fraction,
            w.request_efficiency.expect("served"),
        )
    };
    let (_, shown) = run(&doc);
    assert_eq!(shown.membership.changes.len(), 2);
    let (off, efficiency) = last_window(&shown);
    assert!(off > 0.5 && efficiency < 0.75, "{off} {efficiency}");
    assert!(has_finding(&shown, "Ownership imbalance"));

    let mut equal = doc.clone();
    set(
        &mut equal,
        "cluster.partitioning.strategy",
        json!("equal_partitions"),
    );
    let (_, cured) = run(&equal);
    let (off, efficiency) = last_window(&cured);
    assert!(off < 0.25 && efficiency > 0.8, "{off} {efficiency}");
    assert!(!has_finding(&cured, "Ownership imbalance"));
}

#[test]
fn leaf_range_repair_over_coarse_leaves_streams_far_more_than_differs_and_finer_leaves_do_not() {
    let coarse = pathology("repair-over-streaming");
    let (_, shown) = run(&coarse);
    let a = &shown.anti_entropy;
    assert!(a.keys_differing > 100, "{a:?}");
    assert!(a.keys_transferred > 5 * a.keys_differing, "{a:?}");
    assert!(a.over_streaming.is_some_and(|x| x > 5.0), "{a:?}");
    assert!(has_finding(&shown, "Repair over-streaming"));
    assert_eq!(shown.convergence.divergent_keys_at_end, 0);

    let mut fine = coarse.clone();
    set(&mut fine, "anti_entropy.merkle_depth", json!(10));
    let (_, finer) = run(&fine);
    let f = &finer.anti_entropy;
    assert!(f.over_streaming.is_some_and(|x| x < 2.0), "{f:?}");
    assert!(f.bytes_streamed * 5 < a.bytes_streamed, "{f:?} vs {a:?}");
    assert!(!has_finding(&finer, "Repair over-streaming"));
    assert_eq!(finer.convergence.divergent_keys_at_end, 0);

    // Streaming keys moves exactly what differed, whatever the leaves.
    let mut keys = coarse.clone();
    set(&mut keys, "anti_entropy.stream", json!("keys"));
    let (_, exact) = run(&keys);
    let k = &exact.anti_entropy;
    assert_eq!(k.keys_transferred, k.keys_differing, "{k:?}");
    assert_eq!(k.over_streaming, Some(1.0));
    assert_eq!(exact.convergence.divergent_keys_at_end, 0);
}

/// Keys a cure may still leave apart in the two handoff pathologies: writes sent to east-3
/// after it crashed but before its coordinators suspected it are lost with the process and
/// never hinted; with anti-entropy off, a key not written again keeps the gap. Seeds 1-6
/// leave 0-2 such keys (with anti-entropy on, none), against more than 100 without the cure.
const IN_FLIGHT_AT_CRASH: u64 = 3;

/// Stale reads outside fault windows (after the outage).
fn stale_after(r: &dynasim::report::Report) -> u64 {
    let c = &r.observed.consistency;
    c.stale_reads - c.stale_reads_during_faults
}

#[test]
fn a_hint_store_or_window_smaller_than_the_outage_leaves_replicas_apart_and_a_larger_one_does_not()
{
    let small = pathology("hint-backlog-dropped");
    let (_, shown) = run(&small);
    assert!(shown.handoff.hints_dropped > 1_000, "{:?}", shown.handoff);
    assert!(shown.convergence.divergent_keys_at_end > 100);
    assert!(stale_after(&shown) > 200, "{}", stale_after(&shown));
    assert!(has_finding(&shown, "Hint backlog dropped"));

    let mut large = small.clone();
    set(&mut large, "replication.max_hints_per_node", json!(100_000));
    let (_, cured) = run(&large);
    assert_eq!(cured.handoff.hints_dropped, 0);
    assert!(cured.convergence.divergent_keys_at_end <= IN_FLIGHT_AT_CRASH);
    assert!(stale_after(&cured) * 10 < stale_after(&shown));
    assert!(!has_finding(&cured, "Hint backlog dropped"));

    // The same through Cassandra's hint window: shorter than the 60 s outage, hints for
    // the owner are refused once the fallback has believed it down for 20 s.
    let mut window = large.clone();
    set(&mut window, "replication.hint_window_s", json!(20));
    let (_, refused) = run(&window);
    assert!(
        refused.handoff.hints_past_window > 1_000,
        "{:?}",
        refused.handoff
    );
    assert_eq!(refused.handoff.hints_dropped, 0);
    assert!(refused.convergence.divergent_keys_at_end > 100);
    set(&mut window, "replication.hint_window_s", json!(90));
    let (_, kept) = run(&window);
    assert_eq!(kept.handoff.hints_past_window, 0);
    assert!(kept.convergence.divergent_keys_at_end <= IN_FLIGHT_AT_CRASH);
}

#[test]
fn a_low_handoff_throttle_leaves_the_backlog_draining_long_after_the_return_and_a_higher_one_does_not()
 {
    let slow = pathology("handoff-never-completed");
    let (_, shown) = run(&slow);
    let backlog_at = |r: &dynasim::report::Report, t: f64| {
        (r.timeline.iter())
            .find(|p| p.to_s >= t)
            .map(|p| p.hint_backlog)
            .expect("an interval")
    };
    // east-3 returns at 120 s: the backlog drains, slowly, to the end of the run.
    assert!(backlog_at(&shown, 130.0) < backlog_at(&shown, 120.0));
    assert!(
        backlog_at(&shown, 240.0) > 1_000,
        "{}",
        backlog_at(&shown, 240.0)
    );
    assert!(shown.handoff.backlog_at_end > 1_000, "{:?}", shown.handoff);
    assert!(shown.convergence.divergent_keys_at_end > 100);
    assert!(stale_after(&shown) > 300, "{}", stale_after(&shown));
    assert!(has_finding(&shown, "Handoff not completed"));

    let mut fast = slow.clone();
    set(
        &mut fast,
        "replication.hint_handoff_bytes_per_s",
        json!(1_048_576),
    );
    let (_, cured) = run(&fast);
    assert_eq!(backlog_at(&cured, 140.0), 0);
    assert_eq!(cured.handoff.backlog_at_end, 0);
    assert!(cured.convergence.divergent_keys_at_end <= IN_FLIGHT_AT_CRASH);
    assert!(stale_after(&cured) * 10 < stale_after(&shown));
    assert!(!has_finding(&cured, "Handoff not completed"));
}
