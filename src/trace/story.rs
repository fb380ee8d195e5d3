//! The text story of a trace (one line per event, with simulated time) and the verdicts
//! that end it: what the observer decided about the target and why.

use super::{AnomalyKind, Category, OpTrace, RequestInfo, Trace, TraceEvent, TraceVerdict};
use crate::ids::{KeyId, NodeId, WriteId};
use crate::observer::StaleRead;
use crate::scenario::Versioning;
use crate::sim::Simulation;
use std::fmt::Write as _;

/// The story: a header, the events (at most `max_lines`; the middle is cut when there are
/// more), the verdict.
pub fn render(trace: &Trace, max_lines: usize) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "trace of {} in {} (seed {}): key k{}, home replicas at the run's end [{}]; window {:.3}–{:.3} s",
        trace.target,
        trace.scenario,
        trace.seed,
        trace.key,
        trace.home_replicas.join(", "),
        trace.from_s,
        trace.to_s
    );
    let _ = writeln!(
        out,
        "replayed with tracing: digest {} (same as the untraced run)",
        trace.digest
    );
    for f in &trace.faults {
        let end = f
            .end_s
            .map(|e| format!("{e:.3} s"))
            .unwrap_or_else(|| "the end".into());
        let nodes = if f.nodes.is_empty() {
            String::new()
        } else {
            format!(" [{}]", f.nodes.join(", "))
        };
        let _ = writeln!(
            out,
            "fault #{}: {}{nodes} from {:.3} s to {end}",
            f.index, f.kind, f.at_s
        );
    }
    let mut lines: Vec<&TraceEvent> = trace.events.iter().filter(|e| shown(e)).collect();
    let max = max_lines.max(2);
    if lines.len() > max && !trace.focus.is_empty() {
        lines.retain(|e| in_focus(trace, e));
        // The same denominator as trace.svg's title: every recorded event.
        let _ = writeln!(
            out,
            "(showing the {} lines about {}, of {} recorded events; trace.json has them all)",
            lines.len(),
            trace.focus.join(", "),
            trace.events.len()
        );
    }
    if lines.len() <= max {
        for e in &lines {
            line(&mut out, e);
        }
    } else {
        let head = max / 2;
        let tail = max - head;
        for e in &lines[..head] {
            line(&mut out, e);
        }
        let _ = writeln!(
            out,
            "… {} lines left out here (trace.json has all {} recorded events; --max-lines shows more) …",
            lines.len() - max,
            trace.events.len()
        );
        for e in &lines[lines.len() - tail..] {
            line(&mut out, e);
        }
    }
    if trace.events_not_kept > 0 {
        let _ = writeln!(
            out,
            "… and {} events after the recorded ones were never recorded: the recorder keeps the first {} of the window (narrow --from-s/--to-s to see them)",
            trace.events_not_kept,
            super::recorder::MAX_EVENTS
        );
    }
    let _ = writeln!(out, "verdict: {}", trace.verdict.text);
    out
}

/// Whether an event belongs to the requests or writes the trace is about (faults always do).
pub fn in_focus(trace: &Trace, e: &TraceEvent) -> bool {
    e.category == Category::Fault
        || e.req.as_ref().is_some_and(|r| trace.focus.contains(r))
        || e.writes.iter().any(|w| trace.focus.contains(w))
}

/// Deliveries to nodes are told by what the node did with them; the rest is shown.
fn shown(e: &TraceEvent) -> bool {
    e.category != Category::Deliver || e.to.as_deref().is_some_and(|t| t.starts_with("c-"))
}

fn line(out: &mut String, e: &TraceEvent) {
    let _ = writeln!(out, "{:>12.6}s  {}", e.time_us as f64 / 1e6, e.text);
}

/// Why a stale read was stale: the write it missed, which replicas it asked and what they
/// had, and the ways the missed write did not reach them.
pub fn stale_verdict(
    first: &Simulation,
    s: &StaleRead,
    ops: &[OpTrace],
    events: &[TraceEvent],
    names: &[String],
) -> TraceVerdict {
    let name = |n: NodeId| names.get(n.index()).cloned().unwrap_or_default();
    let mut text = format!(
        "stale: {} missed write {} acknowledged {:.1} ms before it started (k={})",
        s.req,
        s.missed,
        s.since_ack_us as f64 / 1e3,
        s.k
    );
    if let Some((_, Some(ack))) = first.observer().write_times(s.missed) {
        let _ = write!(text, " [acknowledged at {:.6} s]", ack as f64 / 1e6);
    }
    let read = ops.iter().rfind(|o| o.read && o.req == Some(s.req));
    let mut asked_nodes: Vec<NodeId> = Vec::new();
    if let Some(op) = read {
        let parts: Vec<String> = op
            .targets
            .iter()
            .map(|(t, stands_in_for)| {
                asked_nodes.push(*t);
                // By the coordinator's ring view at the read, not the run's last ring.
                let role = if stands_in_for.is_some() {
                    " (fallback)"
                } else {
                    ""
                };
                let reply = op.replies.iter().position(|(n, _)| n == t);
                let what = match reply {
                    None => "did not answer".to_string(),
                    Some(i) => {
                        let had = op.replies[i].1.contains(&s.missed);
                        let late = op.answered_after.is_some_and(|a| i >= a);
                        format!(
                            "{}{}",
                            if had { "had it" } else { "did not have it" },
                            if late { ", answered late" } else { "" }
                        )
                    }
                };
                format!("{}{role} {what}", name(*t))
            })
            .collect();
        let _ = write!(text, "; replicas asked: {}", parts.join(", "));
    }
    // How the missed write travelled.
    let missed = s.missed.to_string();
    let mut paths: Vec<String> = Vec::new();
    for e in events.iter().filter(|e| {
        e.category == Category::Send
            && e.writes.contains(&missed)
            && matches!(
                e.message,
                Some("write_request" | "hint_handoff" | "read_repair")
            )
    }) {
        let to = e.to.clone().unwrap_or_default();
        let fate = match e.fate {
            Some("partition") => "dropped by the partition".to_string(),
            Some("lost") => "lost by the network".to_string(),
            _ => match e.arrive_us {
                Some(at) if at > s.start_us => {
                    format!(
                        "arrived {:.1} ms after the read started",
                        (at - s.start_us) as f64 / 1e3
                    )
                }
                _ => "delivered".to_string(),
            },
        };
        let hint = if e.text.contains("(hint for") {
            let h = e.text.split("(hint for ").nth(1).unwrap_or("");
            format!(" as a hint for {}", h.trim_end_matches(')'))
        } else {
            String::new()
        };
        let kind = e.message.unwrap_or("");
        paths.push(format!("{kind} to {to}{hint}: {fate}"));
    }
    if paths.is_empty() {
        let _ = write!(
            text,
            "; {missed} was not sent to the replicas in the traced window"
        );
    } else {
        let _ = write!(text, "; {missed}: {}", paths.join("; "));
    }
    let not_sent: Vec<String> = asked_nodes
        .iter()
        .map(|n| name(*n))
        .filter(|n| {
            !events.iter().any(|e| {
                e.category == Category::Send
                    && e.writes.contains(&missed)
                    && e.to.as_deref() == Some(n.as_str())
            })
        })
        .collect();
    if !not_sent.is_empty() {
        let _ = write!(
            text,
            "; never sent to {} before the read",
            not_sent.join(", ")
        );
    }
    TraceVerdict {
        kind: "stale".into(),
        missed_write: Some(missed),
        text,
    }
}

/// The verdict on a request that is not a (kept) stale read.
pub fn request_verdict(first: &Simulation, info: &RequestInfo) -> TraceVerdict {
    let (kind, text) = match (info.f.as_str(), info.outcome.as_deref(), &info.error) {
        (_, None, _) => ("failed", format!("{} did not complete", info.req)),
        ("read", _, Some(e)) => ("failed", format!("{} failed ({e}): not judged", info.req)),
        ("read", _, None) if info.context => (
            "context_read",
            format!(
                "{} is the context read of a read-modify-write: counted, not judged",
                info.req
            ),
        ),
        ("read", _, None) => {
            let acked = first.observer().acknowledged(KeyId(info.key));
            match acked.iter().rev().find(|a| a.ack_us < info.invoke_us) {
                None => (
                    "not_judged",
                    format!(
                        "not judged: no write to k{} was acknowledged before {} started",
                        info.key, info.req
                    ),
                ),
                Some(a) => (
                    "fresh",
                    format!(
                        "fresh: {} returned the newest write acknowledged before it started ({}, {:.1} ms earlier) or one that supersedes it",
                        info.req,
                        a.write,
                        (info.invoke_us - a.ack_us) as f64 / 1e3
                    ),
                ),
            }
        }
        (_, Some("ok"), _) => (
            "acknowledged",
            format!(
                "{} acknowledged {}",
                info.req,
                info.value.as_str().unwrap_or("")
            ),
        ),
        (_, _, e) => (
            "failed",
            format!(
                "{} failed ({}): indeterminate, the write may still have reached replicas",
                info.req,
                e.as_deref().unwrap_or("unknown")
            ),
        ),
    };
    TraceVerdict {
        kind: kind.into(),
        missed_write: None,
        text,
    }
}

/// The verdict of a key trace: the stale reads of the key in the window.
pub fn key_verdict(stale: &[StaleRead], key: KeyId, from_us: u64, to_us: u64) -> TraceVerdict {
    let mine: Vec<&StaleRead> = stale
        .iter()
        .filter(|s| s.key == key && s.start_us >= from_us && s.start_us <= to_us)
        .collect();
    let text = if mine.is_empty() {
        format!("no stale read of k{} started in the window", key.0)
    } else {
        let list: Vec<String> = mine
            .iter()
            .take(10)
            .map(|s| format!("{} (missed {})", s.req, s.missed))
            .collect();
        format!(
            "{} stale reads of k{} in the window: {}{}",
            mine.len(),
            key.0,
            list.join(", "),
            if mine.len() > 10 { ", …" } else { "" }
        )
    };
    TraceVerdict {
        kind: "key".into(),
        missed_write: None,
        text,
    }
}

/// The verdict's name and what it says happened to the write, by the run's versioning
/// (docs/report.md: under the clock schemes a write is overwritten when a blind put's
/// coordinator merged it away before any client saw it).
fn overwritten_or_lost(kind: AnomalyKind, last_write_wins: bool) -> (&'static str, &'static str) {
    match (kind, last_write_wins) {
        (AnomalyKind::Lost, _) => (
            "lost",
            "neither present nor superseded on any replica at the end",
        ),
        (_, true) => (
            "overwritten",
            "discarded under last_write_wins in favour of a write that did not follow it",
        ),
        (_, false) => (
            "overwritten",
            "replaced before any client saw it (a blind put's coordinator merged it into its new version)",
        ),
    }
}

/// Lost or overwritten: what the home replicas and hint stores hold at the end.
pub fn durability_verdict(
    sim: &Simulation,
    kind: AnomalyKind,
    w: WriteId,
    key: KeyId,
) -> TraceVerdict {
    let names = sim.node_names();
    let held: Vec<String> = sim
        .ring()
        .replicas(key)
        .iter()
        .map(|n| {
            let ids: Vec<WriteId> = sim.node(*n).stored(key).iter().map(|v| v.write).collect();
            format!(
                "{} holds {}",
                names[n.index()],
                super::recorder::list_ids(&ids)
            )
        })
        .collect();
    let hinted: Vec<String> = sim
        .hosts()
        .nodes()
        .filter(|n| n.hinted(key).next().is_some())
        .map(|n| {
            let ids: Vec<WriteId> = n.hinted(key).map(|v| v.write).collect();
            format!(
                "{} hints {}",
                names[n.id().index()],
                super::recorder::list_ids(&ids)
            )
        })
        .collect();
    let lww = sim.scenario().replication.versioning == Versioning::LastWriteWins;
    let (name, what) = overwritten_or_lost(kind, lww);
    let mut text = format!(
        "{name}: {w} (k{}) was acknowledged but is {what}; {}",
        key.0,
        held.join(", ")
    );
    if !hinted.is_empty() {
        let _ = write!(text, "; {}", hinted.join(", "));
    }
    TraceVerdict {
        kind: name.into(),
        missed_write: Some(w.to_string()),
        text,
    }
}
