//! summary.md's findings on repair and handoff as operators know them (the pathology
//! library's behaviours): an anti-entropy storm hurting foreground work, repair
//! over-streaming under coarse Merkle leaves, hint backlogs dropped before they reach
//! their owners, and handoff that did not complete. Each is written only when the
//! report's numbers show the behaviour, and names the knob behind it and the one that
//! cures it.

use super::Report;
use super::format::{count, counted, short};

/// Over-streaming below this ratio (keys streamed / keys that differed) is not worth a
/// finding: under `stream: keys` the ratio is 1.
const OVER_STREAMING_WORTH_A_FINDING: f64 = 2.0;
/// Nor over fewer keys streamed than this.
const STREAMED_KEYS_WORTH_A_FINDING: u64 = 100;
/// A storm: foreground throughput below this share of its level before the fault, or a
/// read p99 past this many times its worst before the fault.
const STORM_THROUGHPUT_SHARE: f64 = 0.9;
const STORM_P99_FACTOR: f64 = 5.0;

/// Appends the repair and handoff findings that the report shows.
pub(super) fn findings(r: &Report, out: &mut Vec<String>) {
    out.extend(storm(r));
    out.extend(over_streaming(r));
    out.extend(hints_dropped(r));
    out.extend(handoff_not_completed(r));
}

/// Foreground work before the first fault and while replicas refilled after the last:
/// successful requests per second (mean over the intervals) and the worst read p99.
struct Refill {
    ok_per_s_before: f64,
    ok_per_s_during: f64,
    p99_before_ms: f64,
    p99_during_ms: f64,
    /// The span the refill intervals cover, seconds.
    span_s: f64,
}

/// The timeline's view of the refill: from the end of the last fault until replicas
/// converged (or the load stopped), against the intervals before the first fault.
fn refill(r: &Report) -> Option<Refill> {
    // Without a fault there is nothing to refill.
    if r.faults.is_empty() {
        return None;
    }
    let first = r
        .faults
        .iter()
        .map(|f| f.at_s)
        .fold(f64::INFINITY, f64::min);
    let last_end = last_fault_end(r)?;
    let load_end = r.scenario.duration_s;
    let refill_end = r
        .convergence
        .time_to_converge_s
        .map_or(load_end, |t| (last_end + t).min(load_end));
    let ok_per_s = |p: &crate::observer::TimelinePoint| {
        let ok = p.reads as f64 * p.read_availability.unwrap_or(0.0)
            + p.writes as f64 * p.write_availability.unwrap_or(0.0);
        ok / (p.to_s - p.from_s).max(1e-9)
    };
    let before: Vec<_> = (r.timeline.iter()).filter(|p| p.to_s <= first).collect();
    let during: Vec<_> = (r.timeline.iter())
        .filter(|p| p.from_s >= last_end && p.from_s < refill_end && p.to_s <= load_end)
        .collect();
    if before.is_empty() || during.is_empty() {
        return None;
    }
    let mean = |ps: &[&crate::observer::TimelinePoint]| {
        ps.iter().map(|p| ok_per_s(p)).sum::<f64>() / ps.len() as f64
    };
    let worst_p99 = |ps: &[&crate::observer::TimelinePoint]| {
        ps.iter()
            .filter_map(|p| p.read_p99_ms)
            .fold(0.0f64, f64::max)
    };
    Some(Refill {
        ok_per_s_before: mean(&before),
        ok_per_s_during: mean(&during),
        p99_before_ms: worst_p99(&before),
        p99_during_ms: worst_p99(&during),
        span_s: during.iter().map(|p| p.to_s - p.from_s).sum(),
    })
}

/// An anti-entropy storm: after a fault, anti-entropy's disk work (the bulk of the
/// background work) went with a drop in foreground throughput or a jump in read latency.
fn storm(r: &Report) -> Option<String> {
    let b = r.capacity.as_ref()?.background.as_ref()?;
    let ae = &b.anti_entropy;
    if ae.disk_jobs == 0 || ae.bytes < b.hint_handoff.bytes {
        return None;
    }
    let f = refill(r)?;
    let slower = f.p99_before_ms > 0.0 && f.p99_during_ms > STORM_P99_FACTOR * f.p99_before_ms;
    let fewer = f.ok_per_s_during < STORM_THROUGHPUT_SHARE * f.ok_per_s_before;
    if !slower && !fewer {
        return None;
    }
    let admission = (r.scenario.capacity.as_ref())
        .and_then(|c| c.background.as_ref())
        .map(|b| b.admission)
        .unwrap_or_default();
    let cure = match admission {
        crate::scenario::Admission::None => {
            "Background work queued with foreground work (capacity.background.admission: \"none\"); Dynamo's admission control (\"dynamo\") gives it slices of a share of the disk that shrinks while foreground disk latency is above its target, at the price of a slower refill."
        }
        crate::scenario::Admission::Dynamo => {
            "Admission control (\"dynamo\") let it through: a lower capacity.background.max_share or target_disk_latency_ms protects the foreground more, at the price of a slower refill."
        }
    };
    let share_of_before = format!(
        "{:.0}%",
        100.0 * f.ok_per_s_during / f.ok_per_s_before.max(1e-9)
    );
    Some(format!(
        "Anti-entropy storm: after the last fault ended, anti-entropy held the disks {} s for {} MB (summed over nodes) while foreground throughput fell to {} of its level before the fault ({} against {} successful requests/s over the {} s of the refill) and an interval's read p99 reached {} ms ({} ms before). {cure}",
        short(ae.disk_busy_s),
        short(ae.bytes as f64 / 1e6),
        share_of_before,
        count(f.ok_per_s_during.round() as u64),
        count(f.ok_per_s_before.round() as u64),
        short(f.span_s),
        short(f.p99_during_ms),
        short(f.p99_before_ms),
    ))
}

/// Repair over-streaming: far more keys streamed than differed.
fn over_streaming(r: &Report) -> Option<String> {
    let a = &r.anti_entropy;
    let ratio = a.over_streaming?;
    if ratio < OVER_STREAMING_WORTH_A_FINDING || a.keys_transferred < STREAMED_KEYS_WORTH_A_FINDING
    {
        return None;
    }
    let ae = &r.scenario.anti_entropy;
    let cause = match ae.stream {
        crate::scenario::AeStream::LeafRange => format!(
            "with anti_entropy.stream \"leaf_range\" an exchange streams every key under a differing Merkle leaf, and merkle_depth {} gives each key range only {} leaves",
            ae.merkle_depth,
            count(1u64 << ae.merkle_depth.min(63))
        ),
        crate::scenario::AeStream::Keys => {
            "keys changed between the comparison of their hashes and the transfer".to_string()
        }
    };
    Some(format!(
        "Repair over-streaming: anti-entropy streamed {} keys ({} bytes of data) where {} key transfers would have repaired what differed ({:.1}×): {cause}. Finer leaves (a larger merkle_depth) or stream \"keys\" move only what differs.",
        count(a.keys_transferred),
        count(a.bytes_streamed),
        count(a.keys_differing),
        ratio
    ))
}

/// Stale reads outside fault windows: after an outage, the ones a lagging replica served.
fn stale_after(r: &Report) -> u64 {
    let c = &r.observed.consistency;
    c.stale_reads.saturating_sub(c.stale_reads_during_faults)
}

/// Hint backlogs that grew until hints were dropped, leaving replicas out of sync until a
/// full repair.
fn hints_dropped(r: &Report) -> Option<String> {
    let h = &r.handoff;
    let refused = h.hints_dropped + h.hints_past_window;
    if refused == 0 {
        return None;
    }
    let rep = &r.scenario.replication;
    let mut why = Vec::new();
    if h.hints_dropped > 0 {
        why.push(format!(
            "{} with the hint store full at replication.max_hints_per_node = {}",
            count(h.hints_dropped),
            count(rep.max_hints_per_node as u64)
        ));
    }
    if let (true, Some(w)) = (h.hints_past_window > 0, rep.hint_window_s) {
        why.push(format!(
            "{} for owners down longer than replication.hint_window_s = {} s",
            count(h.hints_past_window),
            short(w)
        ));
    }
    let ae = &r.scenario.anti_entropy;
    let repair = if ae.enabled {
        format!("anti-entropy, every {} s", short(ae.interval_s))
    } else {
        "a full repair, and anti-entropy is off".to_string()
    };
    let divergent = r.convergence.divergent_keys_at_end;
    let outcome = if divergent > 0 {
        format!(
            "{} still diverged at the end and {} reads outside fault windows were stale: the writes those hints carried reach their owners only by {repair}",
            counted(divergent, "key", "keys"),
            count(stale_after(r))
        )
    } else {
        format!(
            "replicas were back in sync by the end ({repair}, and read repair, caught up what the hints would have carried)"
        )
    };
    Some(format!(
        "Hint backlog dropped: fallbacks refused {} hinted replicas ({}); {outcome}. A larger hint store or a longer hint window keeps them; anti-entropy repairs what they miss.",
        count(refused),
        why.join("; ")
    ))
}

/// Handoff delayed or never completed after the owners returned: a throttled backlog
/// still held at the end.
fn handoff_not_completed(r: &Report) -> Option<String> {
    let h = &r.handoff;
    let rate = r.scenario.replication.hint_handoff_bytes_per_s?;
    if h.backlog_at_end == 0 {
        return None;
    }
    let last_end = last_fault_end(r)?;
    let when = if r.faults.is_empty() {
        String::new()
    } else {
        format!(
            ", {} s after the last fault did",
            short(r.simulated_s - last_end)
        )
    };
    let value_bytes = r.scenario.workload.value_bytes() as f64;
    Some(format!(
        "Handoff not completed: {} hints were still held when the run ended{when}; replication.hint_handoff_bytes_per_s = {} lets each node hand off about {} a second of {}-byte values. Meanwhile their owners served reads without those writes: {} reads outside fault windows were stale. A higher throttle (Cassandra's default is 1024 KiB/s) drains the backlog.",
        count(h.backlog_at_end),
        count(rate.round() as u64),
        hints_per_s(rate / value_bytes.max(1.0)),
        count(value_bytes as u64),
        count(stale_after(r)),
    ))
}

/// "1 hint", "2.5 hints".
fn hints_per_s(n: f64) -> String {
    if n == 1.0 {
        "1 hint".into()
    } else {
        format!("{} hints", short(n))
    }
}

/// When the last fault ended (0 without faults); `None` while one is still open at the end.
fn last_fault_end(r: &Report) -> Option<f64> {
    (r.faults.iter())
        .map(|f| f.end_s)
        .try_fold(0.0f64, |acc, e| e.map(|e| acc.max(e)))
}
