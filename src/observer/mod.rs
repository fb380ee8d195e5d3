//! The observer: ground truth from outside the system. It records every request a client
//! made and what it got back, every acknowledged write, and judges consistency. It only
//! receives; nothing it holds ever reaches a node.

pub mod judge;

pub use judge::{AckedWrite, Verdict, judge_read};

use crate::engine::SimTime;
use crate::ids::{ClientId, KeyId, RequestId, WriteId};
use crate::node::{FailCause, Version, VersionRules};
use hdrhistogram::Histogram;
use serde::Serialize;

/// A finished read, as its client saw it.
pub struct ReadRecord<'a> {
    pub req: RequestId,
    pub client: ClientId,
    pub key: KeyId,
    pub start: SimTime,
    pub end: SimTime,
    /// A fault window was open when the request started.
    pub during_fault: bool,
    pub result: Result<&'a [Version], FailCause>,
}

/// A finished write (put), as its client saw it.
pub struct WriteRecord<'a> {
    pub req: RequestId,
    pub client: ClientId,
    pub key: KeyId,
    pub write: WriteId,
    pub start: SimTime,
    pub end: SimTime,
    pub during_fault: bool,
    pub result: Result<&'a Version, FailCause>,
}

/// Upper edges (ms) of the t-visibility bins; the last bin is open-ended.
pub const T_VISIBILITY_EDGES_MS: [f64; 13] = [
    1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 200.0, 500.0, 1_000.0, 2_000.0, 5_000.0, 10_000.0,
];

/// Counts and latencies of one operation type.
struct OpStats {
    attempted: u64,
    ok: u64,
    timeouts: u64,
    not_enough_replicas: u64,
    within_sla: u64,
    /// [outside fault windows, inside] x [attempted, ok]
    by_phase: [[u64; 2]; 2],
    latency_us: Histogram<u64>,
    latency_sum_us: u128,
}

impl OpStats {
    fn new() -> OpStats {
        OpStats {
            attempted: 0,
            ok: 0,
            timeouts: 0,
            not_enough_replicas: 0,
            within_sla: 0,
            by_phase: [[0; 2]; 2],
            // 1 µs to 10 simulated hours at 3 significant figures; larger values saturate.
            latency_us: Histogram::new_with_bounds(1, 36_000_000_000, 3)
                .unwrap_or_else(|_| unreachable!("constant bounds are valid")),
            latency_sum_us: 0,
        }
    }

    fn record(
        &mut self,
        start: SimTime,
        end: SimTime,
        during_fault: bool,
        ok: Result<(), FailCause>,
        sla: SimTime,
    ) {
        self.attempted += 1;
        let phase = &mut self.by_phase[usize::from(during_fault)];
        phase[0] += 1;
        phase[1] += u64::from(ok.is_ok());
        match ok {
            Ok(()) => {
                let us = end.saturating_sub(start).as_micros();
                self.ok += 1;
                self.latency_us.saturating_record(us);
                self.latency_sum_us += us as u128;
                if us <= sla.as_micros() {
                    self.within_sla += 1;
                }
            }
            Err(FailCause::Timeout) => self.timeouts += 1,
            Err(FailCause::NotEnoughReplicas) => self.not_enough_replicas += 1,
        }
    }
}

pub struct Observer {
    rules: VersionRules,
    sla: SimTime,
    reads: OpStats,
    writes: OpStats,
    context_reads: [u64; 2],
    /// Per key, acknowledged writes in acknowledgement order.
    acked: Vec<Vec<AckedWrite>>,
    /// Per write id: (invoke µs, ack µs or u64::MAX while unacknowledged).
    write_times: Vec<(u64, u64)>,
    /// Per key: when a client last started a write to it (µs), or u64::MAX if never.
    last_write_start: Vec<u64>,
    judged_reads: u64,
    stale_reads: u64,
    /// versions_per_read[i] = successful reads that returned i versions (last bin is 4+).
    versions_per_read: [u64; 5],
    k_staleness: std::collections::BTreeMap<u32, u64>,
    /// Per bin: (judged reads, fresh reads).
    t_visibility: [(u64, u64); T_VISIBILITY_EDGES_MS.len() + 1],
    interval: IntervalStats,
    timeline: Vec<TimelinePoint>,
}

impl Observer {
    pub fn new(rules: VersionRules, keys: u32, sla: SimTime) -> Observer {
        Observer {
            rules,
            sla,
            reads: OpStats::new(),
            writes: OpStats::new(),
            context_reads: [0; 2],
            acked: (0..keys).map(|_| Vec::new()).collect(),
            write_times: Vec::new(),
            last_write_start: vec![u64::MAX; keys as usize],
            judged_reads: 0,
            stale_reads: 0,
            versions_per_read: [0; 5],
            k_staleness: Default::default(),
            t_visibility: Default::default(),
            interval: IntervalStats::new(),
            timeline: Vec::new(),
        }
    }

    /// Whether a client started a write to `key` within `window` before `now`: replicas
    /// of such a key may legitimately differ while the write is in flight.
    pub fn written_recently(&self, key: KeyId, now: SimTime, window: SimTime) -> bool {
        match self.last_write_start.get(key.index()) {
            Some(&t) if t != u64::MAX => now.as_micros().saturating_sub(t) < window.as_micros(),
            _ => false,
        }
    }

    pub fn write_started(&mut self, key: KeyId, now: SimTime) {
        if let Some(t) = self.last_write_start.get_mut(key.index()) {
            *t = now.as_micros();
        }
    }

    pub fn write_invoked(&mut self, write: WriteId, now: SimTime) {
        let i = write.index();
        if self.write_times.len() <= i {
            self.write_times.resize(i + 1, (u64::MAX, u64::MAX));
        }
        self.write_times[i] = (now.as_micros(), u64::MAX);
    }

    fn times_of(&self, write: WriteId) -> (u64, Option<u64>) {
        match self.write_times.get(write.index()) {
            Some(&(invoke, ack)) => (invoke, (ack != u64::MAX).then_some(ack)),
            None => (u64::MAX, None),
        }
    }

    pub fn context_read_done(&mut self, ok: bool) {
        self.context_reads[usize::from(ok)] += 1;
    }

    pub fn write_done(&mut self, w: WriteRecord) {
        self.writes.record(
            w.start,
            w.end,
            w.during_fault,
            w.result.map(|_| ()),
            self.sla,
        );
        self.interval.writes[0] += 1;
        let Ok(version) = w.result else { return };
        self.interval.writes[1] += 1;
        let latency_us = w.end.saturating_sub(w.start).as_micros();
        self.interval.write_latency_us.saturating_record(latency_us);
        let (ack_us, invoke_us) = (w.end.as_micros(), w.start.as_micros());
        if let Some(t) = self.write_times.get_mut(w.write.index()) {
            t.1 = ack_us;
        }
        if let Some(list) = self.acked.get_mut(w.key.index()) {
            debug_assert!(list.last().is_none_or(|l| l.ack_us <= ack_us));
            list.push(AckedWrite {
                version: version.clone(),
                invoke_us,
                ack_us,
            });
        }
    }

    pub fn read_done(&mut self, r: ReadRecord) {
        self.reads.record(
            r.start,
            r.end,
            r.during_fault,
            r.result.map(|_| ()),
            self.sla,
        );
        self.interval.reads[0] += 1;
        let Ok(returned) = r.result else { return };
        self.interval.reads[1] += 1;
        let latency_us = r.end.saturating_sub(r.start).as_micros();
        self.interval.read_latency_us.saturating_record(latency_us);
        self.versions_per_read[returned.len().min(4)] += 1;
        let acked = self
            .acked
            .get(r.key.index())
            .map(Vec::as_slice)
            .unwrap_or(&[]);
        let verdict = judge_read(self.rules, acked, r.start.as_micros(), returned, |w| {
            self.times_of(w)
        });
        let (since_ack_us, fresh) = match verdict {
            Verdict::NotJudged => return,
            Verdict::Fresh { since_ack_us } => (since_ack_us, true),
            Verdict::Stale {
                since_ack_us, k, ..
            } => {
                self.stale_reads += 1;
                self.interval.stale += 1;
                *self.k_staleness.entry(k).or_default() += 1;
                (since_ack_us, false)
            }
        };
        self.judged_reads += 1;
        self.interval.judged += 1;
        let ms = since_ack_us as f64 / 1_000.0;
        let bin = T_VISIBILITY_EDGES_MS.partition_point(|edge| *edge <= ms);
        self.t_visibility[bin].0 += 1;
        self.t_visibility[bin].1 += u64::from(fresh);
    }

    pub fn summarize(&self) -> ObserverSummary {
        let op = |s: &OpStats| OpCounts {
            attempted: s.attempted,
            ok: s.ok,
            failed: s.attempted - s.ok,
            failed_timeout: s.timeouts,
            failed_not_enough_replicas: s.not_enough_replicas,
        };
        let fraction = |num: u64, den: u64| {
            if den == 0 {
                None
            } else {
                Some(num as f64 / den as f64)
            }
        };
        let latency = |s: &OpStats| {
            let h = &s.latency_us;
            let q = |p: f64| {
                if s.ok == 0 {
                    0.0
                } else {
                    h.value_at_quantile(p) as f64 / 1_000.0
                }
            };
            LatencySummary {
                p50: q(0.5),
                p90: q(0.9),
                p99: q(0.99),
                p999: q(0.999),
                max: if s.ok == 0 {
                    0.0
                } else {
                    h.max() as f64 / 1_000.0
                },
                mean: if s.ok == 0 {
                    0.0
                } else {
                    s.latency_sum_us as f64 / s.ok as f64 / 1_000.0
                },
            }
        };
        let mut lower = 0.0;
        let t_visibility = self
            .t_visibility
            .iter()
            .enumerate()
            .map(|(i, (judged, fresh))| {
                let upper = T_VISIBILITY_EDGES_MS.get(i).copied();
                let bin = TVisibilityBin {
                    from_ms: lower,
                    to_ms: upper,
                    reads: *judged,
                    fresh: *fresh,
                    p_fresh: fraction(*fresh, *judged),
                };
                lower = upper.unwrap_or(lower);
                bin
            })
            .collect();
        ObserverSummary {
            ops: Ops {
                read: op(&self.reads),
                write: op(&self.writes),
                context_read: ContextReads {
                    attempted: self.context_reads[0] + self.context_reads[1],
                    ok: self.context_reads[1],
                },
            },
            availability: Availability {
                read: fraction(self.reads.ok, self.reads.attempted),
                write: fraction(self.writes.ok, self.writes.attempted),
                read_during_faults: fraction(self.reads.by_phase[1][1], self.reads.by_phase[1][0]),
                write_during_faults: fraction(
                    self.writes.by_phase[1][1],
                    self.writes.by_phase[1][0],
                ),
                read_outside_faults: fraction(self.reads.by_phase[0][1], self.reads.by_phase[0][0]),
                write_outside_faults: fraction(
                    self.writes.by_phase[0][1],
                    self.writes.by_phase[0][0],
                ),
            },
            sla: Sla {
                sla_ms: self.sla.as_ms_f64(),
                read_within: fraction(self.reads.within_sla, self.reads.attempted),
                write_within: fraction(self.writes.within_sla, self.writes.attempted),
            },
            latency_ms: Latencies {
                read: latency(&self.reads),
                write: latency(&self.writes),
            },
            consistency: Consistency {
                judged_reads: self.judged_reads,
                stale_reads: self.stale_reads,
                stale_read_fraction: fraction(self.stale_reads, self.judged_reads),
                versions_per_read: VersionsPerRead {
                    zero: self.versions_per_read[0],
                    one: self.versions_per_read[1],
                    two: self.versions_per_read[2],
                    three: self.versions_per_read[3],
                    four_or_more: self.versions_per_read[4],
                },
                k_staleness: self
                    .k_staleness
                    .iter()
                    .map(|(k, n)| KCount { k: *k, reads: *n })
                    .collect(),
                t_visibility,
            },
        }
    }

    /// Acknowledged writes per key (for the durability audit and tests).
    pub fn acknowledged(&self, key: KeyId) -> &[AckedWrite] {
        self.acked
            .get(key.index())
            .map(Vec::as_slice)
            .unwrap_or(&[])
    }
}

#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct ObserverSummary {
    pub ops: Ops,
    pub availability: Availability,
    pub sla: Sla,
    pub latency_ms: Latencies,
    pub consistency: Consistency,
}

#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Ops {
    pub read: OpCounts,
    pub write: OpCounts,
    /// Gets made by read-modify-write clients to fetch a context before their put.
    pub context_read: ContextReads,
}

#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct OpCounts {
    pub attempted: u64,
    pub ok: u64,
    pub failed: u64,
    pub failed_timeout: u64,
    pub failed_not_enough_replicas: u64,
}

#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct ContextReads {
    pub attempted: u64,
    pub ok: u64,
}

#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Availability {
    pub read: Option<f64>,
    pub write: Option<f64>,
    /// Requests that started while a fault window was open (null when there were none).
    pub read_during_faults: Option<f64>,
    pub write_during_faults: Option<f64>,
    pub read_outside_faults: Option<f64>,
    pub write_outside_faults: Option<f64>,
}

#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Sla {
    pub sla_ms: f64,
    pub read_within: Option<f64>,
    pub write_within: Option<f64>,
}

#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Latencies {
    pub read: LatencySummary,
    pub write: LatencySummary,
}

#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct LatencySummary {
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub p999: f64,
    pub max: f64,
    pub mean: f64,
}

#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Consistency {
    pub judged_reads: u64,
    pub stale_reads: u64,
    pub stale_read_fraction: Option<f64>,
    pub versions_per_read: VersionsPerRead,
    pub k_staleness: Vec<KCount>,
    pub t_visibility: Vec<TVisibilityBin>,
}

#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct VersionsPerRead {
    /// Not found: the read returned no version.
    pub zero: u64,
    pub one: u64,
    pub two: u64,
    pub three: u64,
    pub four_or_more: u64,
}

#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct KCount {
    pub k: u32,
    pub reads: u64,
}

#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct TVisibilityBin {
    pub from_ms: f64,
    /// Upper edge (exclusive); null for the open-ended last bin.
    pub to_ms: Option<f64>,
    pub reads: u64,
    pub fresh: u64,
    pub p_fresh: Option<f64>,
}

/// Per-interval figures for the timeline.
pub(crate) struct IntervalStats {
    reads: [u64; 2],
    writes: [u64; 2],
    judged: u64,
    stale: u64,
    read_latency_us: Histogram<u64>,
    write_latency_us: Histogram<u64>,
}

impl IntervalStats {
    pub(crate) fn new() -> IntervalStats {
        let h = || {
            Histogram::new_with_bounds(1, 36_000_000_000, 2)
                .unwrap_or_else(|_| unreachable!("constant bounds are valid"))
        };
        IntervalStats {
            reads: [0; 2],
            writes: [0; 2],
            judged: 0,
            stale: 0,
            read_latency_us: h(),
            write_latency_us: h(),
        }
    }

    fn reset(&mut self) {
        self.reads = [0; 2];
        self.writes = [0; 2];
        self.judged = 0;
        self.stale = 0;
        self.read_latency_us.reset();
        self.write_latency_us.reset();
    }
}

/// One timeline sample: what happened in (`from_s`, `to_s`].
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct TimelinePoint {
    pub from_s: f64,
    pub to_s: f64,
    pub reads: u64,
    pub writes: u64,
    pub read_availability: Option<f64>,
    pub write_availability: Option<f64>,
    pub read_p99_ms: Option<f64>,
    pub write_p99_ms: Option<f64>,
    pub stale_read_fraction: Option<f64>,
    /// Hints held by all nodes at the end of the interval.
    pub hint_backlog: u64,
    /// Keys whose live home replicas held different version sets at the end of the interval.
    pub divergent_keys: u64,
    /// A fault window was open at some point in the interval.
    pub fault_active: bool,
}

/// The end-of-run audit of acknowledged writes.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct DurabilitySummary {
    pub acknowledged_writes: u64,
    /// Acknowledged writes neither present nor superseded on any replica (home replicas and
    /// hint stores) at the end of the run.
    pub lost_writes: u64,
    /// last_write_wins only: acknowledged writes discarded in favour of a write that did
    /// not follow them in real time (a concurrent write, or an earlier one with a skewed
    /// clock).
    pub overwritten_writes: u64,
    /// The first few lost writes (ids as `w-N`), for `dynasim trace`.
    pub lost_examples: Vec<String>,
    pub overwritten_examples: Vec<String>,
}

const EXAMPLES: usize = 10;

impl Observer {
    /// Closes the timeline interval ending at `now`.
    pub fn close_interval(
        &mut self,
        from: SimTime,
        now: SimTime,
        hint_backlog: u64,
        divergent_keys: u64,
        fault_active: bool,
    ) {
        let i = &self.interval;
        let fraction = |num: u64, den: u64| {
            if den == 0 {
                None
            } else {
                Some(num as f64 / den as f64)
            }
        };
        let p99 = |h: &Histogram<u64>| {
            (!h.is_empty()).then(|| h.value_at_quantile(0.99) as f64 / 1_000.0)
        };
        self.timeline.push(TimelinePoint {
            from_s: from.as_secs_f64(),
            to_s: now.as_secs_f64(),
            reads: i.reads[0],
            writes: i.writes[0],
            read_availability: fraction(i.reads[1], i.reads[0]),
            write_availability: fraction(i.writes[1], i.writes[0]),
            read_p99_ms: p99(&i.read_latency_us),
            write_p99_ms: p99(&i.write_latency_us),
            stale_read_fraction: fraction(i.stale, i.judged),
            hint_backlog,
            divergent_keys,
            fault_active,
        });
        self.interval.reset();
    }

    pub fn timeline(&self) -> &[TimelinePoint] {
        &self.timeline
    }

    /// Audits every acknowledged write against `final_versions(key)`: the union of what
    /// the key's home replicas and every hint store hold at the end.
    pub fn audit<'a>(
        &self,
        final_versions: impl Fn(KeyId) -> Vec<&'a Version>,
    ) -> DurabilitySummary {
        let mut d = DurabilitySummary {
            acknowledged_writes: 0,
            lost_writes: 0,
            overwritten_writes: 0,
            lost_examples: Vec::new(),
            overwritten_examples: Vec::new(),
        };
        for (k, acked) in self.acked.iter().enumerate() {
            if acked.is_empty() {
                continue;
            }
            let held: Vec<Version> = final_versions(KeyId(k as u32))
                .into_iter()
                .cloned()
                .collect();
            let winner = held.iter().max_by_key(|v| v.lww_key());
            for w in acked {
                d.acknowledged_writes += 1;
                let id = w.version.write;
                let fate = match self.rules {
                    VersionRules::VectorClock => {
                        self.rules.covers(&held, &w.version).then_some(true)
                    }
                    VersionRules::LastWriteWins => match winner {
                        Some(v) if v.write == id => Some(true),
                        // Replaced by a write that began after this one was acknowledged.
                        Some(v) if v.lww_key() > w.version.lww_key() => {
                            Some(self.times_of(v.write).0 >= w.ack_us)
                        }
                        _ => None,
                    },
                };
                match fate {
                    Some(true) => {}
                    Some(false) => {
                        d.overwritten_writes += 1;
                        if d.overwritten_examples.len() < EXAMPLES {
                            d.overwritten_examples.push(id.to_string());
                        }
                    }
                    None => {
                        d.lost_writes += 1;
                        if d.lost_examples.len() < EXAMPLES {
                            d.lost_examples.push(id.to_string());
                        }
                    }
                }
            }
        }
        d
    }
}
