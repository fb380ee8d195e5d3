//! The observer: ground truth from outside the system. It records every request a client
//! made and what it got back, every acknowledged write, and judges consistency. It only
//! receives; nothing it holds ever reaches a node.

pub mod history;
pub mod judge;

pub use history::{Call, History};
pub use judge::{AckedWrite, Guarantee, Verdict, judge_read};

use crate::engine::SimTime;
use crate::ids::{ClientId, DcId, FxHashMap, KeyId, RequestId, WriteId};
use crate::node::{FailCause, Version, VersionRules, Versions};
use hdrhistogram::Histogram;
use serde::Serialize;
use smallvec::SmallVec;

/// A finished read, as its client saw it.
pub struct ReadRecord<'a> {
    pub req: RequestId,
    pub client: ClientId,
    /// The client's datacenter.
    pub dc: DcId,
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
    /// The client's datacenter.
    pub dc: DcId,
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

/// The quantiles at which `latency_ms.<op>.cdf` reports latency: 0.01 to 0.99 by 0.01,
/// then the tail.
pub fn cdf_quantiles() -> impl Iterator<Item = f64> {
    (1..=99)
        .map(|i| f64::from(i) / 100.0)
        .chain([0.995, 0.999, 0.9999, 1.0])
}

/// Counts and latencies of one operation type.
struct OpStats {
    attempted: u64,
    ok: u64,
    timeouts: u64,
    not_enough_replicas: u64,
    within_sla: u64,
    /// [outside fault windows, inside] x [attempted, ok]
    by_phase: [[u64; 2]; 2],
    /// Per datacenter of the client: [attempted, ok].
    by_dc: Vec<[u64; 2]>,
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
            by_dc: Vec::new(),
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
        dc: DcId,
        ok: Result<(), FailCause>,
        sla: SimTime,
    ) {
        self.attempted += 1;
        let phase = &mut self.by_phase[usize::from(during_fault)];
        phase[0] += 1;
        phase[1] += u64::from(ok.is_ok());
        if self.by_dc.len() <= dc.index() {
            self.by_dc.resize(dc.index() + 1, [0; 2]);
        }
        self.by_dc[dc.index()][0] += 1;
        self.by_dc[dc.index()][1] += u64::from(ok.is_ok());
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
    /// Reads that started while a fault window was open: [judged, stale].
    judged_during_faults: [u64; 2],
    /// versions_per_read[i] = successful reads that returned i versions (last bin is 4+).
    versions_per_read: [u64; 5],
    k_staleness: std::collections::BTreeMap<u32, u64>,
    /// Per bin: (judged reads, fresh reads).
    t_visibility: [(u64, u64); T_VISIBILITY_EDGES_MS.len() + 1],
    interval: IntervalStats,
    timeline: Vec<TimelinePoint>,
    /// Session state per (client, key); looked up, never iterated.
    sessions: FxHashMap<(ClientId, KeyId), Session>,
    /// Per client: bit 0 = saw a read-your-writes violation, bit 1 = a monotonic-read one.
    client_flags: Vec<u8>,
    /// [read-your-writes, monotonic reads] x [judged, violated]
    session_counts: [[u64; 2]; 2],
    /// The JSON Lines history, when one was asked for.
    history: Option<History>,
    /// The first stale reads, in completion order (for `dynasim trace`), at most
    /// `stale_kept_max` of them.
    stale_kept: Vec<StaleRead>,
    stale_kept_max: usize,
}

/// A stale read, as the observer judged it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StaleRead {
    pub req: RequestId,
    pub client: ClientId,
    pub key: KeyId,
    /// The newest acknowledged write the read missed, and k-staleness.
    pub missed: WriteId,
    pub k: u32,
    pub start_us: u64,
    pub end_us: u64,
    /// Read start minus the acknowledgement of the missed write.
    pub since_ack_us: u64,
}

/// Stale reads kept by default: enough for examples, bounded whatever the run.
pub const STALE_KEPT_DEFAULT: usize = 256;

/// How many of a client's own acknowledged writes to a key are remembered for
/// read-your-writes. The newest one acknowledged before a read started is needed; older
/// ones matter only while a read overlaps several acknowledgements of the same client.
const OWN_WRITES_KEPT: usize = 4;

/// What one client has done with one key, for the session guarantees.
#[derive(Default)]
struct Session {
    /// Indices into `acked[key]` of the client's newest acknowledged writes (oldest first).
    own_writes: SmallVec<[u32; 2]>,
    /// The completion time (µs) and the versions of the client's last successful read.
    last_read: Option<(u64, Versions)>,
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
            judged_during_faults: [0; 2],
            versions_per_read: [0; 5],
            k_staleness: Default::default(),
            t_visibility: Default::default(),
            interval: IntervalStats::new(),
            timeline: Vec::new(),
            sessions: FxHashMap::default(),
            client_flags: Vec::new(),
            session_counts: [[0; 2]; 2],
            history: None,
            stale_kept: Vec::new(),
            stale_kept_max: STALE_KEPT_DEFAULT,
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

    /// From now on, every request and completion is also written to `history`.
    pub fn record_history(&mut self, history: History) {
        self.history = Some(history);
    }

    /// The history being recorded, handed back (to be finished) once the run is over.
    pub fn take_history(&mut self) -> Option<History> {
        self.history.take()
    }

    /// A client sent a request (used by the history only).
    pub fn request_invoked(
        &mut self,
        now: SimTime,
        client: ClientId,
        op: Call,
        key: KeyId,
        req: RequestId,
        write: Option<WriteId>,
    ) {
        if let Some(h) = self.history.as_mut() {
            h.invoke(now, client, op, key, req, write);
        }
    }

    fn flag_client(&mut self, client: ClientId, bit: u8) {
        if self.client_flags.len() <= client.index() {
            self.client_flags.resize(client.index() + 1, 0);
        }
        self.client_flags[client.index()] |= bit;
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

    /// The get before a read-modify-write put finished. Only counted (and written to the
    /// history): it is not a read the user asked for, so it is not judged.
    pub fn context_read_done(&mut self, r: ReadRecord) {
        self.context_reads[usize::from(r.result.is_ok())] += 1;
        if let Some(h) = self.history.as_mut() {
            h.read_done(r.end, r.client, Call::CONTEXT_READ, r.key, r.req, r.result);
        }
    }

    pub fn write_done(&mut self, w: WriteRecord) {
        self.writes.record(
            w.start,
            w.end,
            w.during_fault,
            w.dc,
            w.result.map(|_| ()),
            self.sla,
        );
        if let Some(h) = self.history.as_mut() {
            h.write_done(w.end, w.client, w.key, w.req, w.write, w.result.map(|_| ()));
        }
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
            let own = &mut self
                .sessions
                .entry((w.client, w.key))
                .or_default()
                .own_writes;
            if own.len() == OWN_WRITES_KEPT {
                own.remove(0);
            }
            own.push((list.len() - 1) as u32);
        }
    }

    pub fn read_done(&mut self, r: ReadRecord) {
        self.reads.record(
            r.start,
            r.end,
            r.during_fault,
            r.dc,
            r.result.map(|_| ()),
            self.sla,
        );
        if let Some(h) = self.history.as_mut() {
            h.read_done(r.end, r.client, Call::READ, r.key, r.req, r.result);
        }
        self.interval.reads[0] += 1;
        let Ok(returned) = r.result else { return };
        self.interval.reads[1] += 1;
        let latency_us = r.end.saturating_sub(r.start).as_micros();
        self.interval.read_latency_us.saturating_record(latency_us);
        self.versions_per_read[returned.len().min(4)] += 1;
        self.judge_session(&r, returned);
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
                since_ack_us,
                k,
                missed,
            } => {
                if self.stale_kept.len() < self.stale_kept_max {
                    self.stale_kept.push(StaleRead {
                        req: r.req,
                        client: r.client,
                        key: r.key,
                        missed,
                        k,
                        start_us: r.start.as_micros(),
                        end_us: r.end.as_micros(),
                        since_ack_us,
                    });
                }
                self.stale_reads += 1;
                self.interval.stale += 1;
                *self.k_staleness.entry(k).or_default() += 1;
                (since_ack_us, false)
            }
        };
        self.judged_reads += 1;
        self.interval.judged += 1;
        if r.during_fault {
            self.judged_during_faults[0] += 1;
            self.judged_during_faults[1] += u64::from(!fresh);
        }
        let ms = since_ack_us as f64 / 1_000.0;
        let bin = T_VISIBILITY_EDGES_MS.partition_point(|edge| *edge <= ms);
        self.t_visibility[bin].0 += 1;
        self.t_visibility[bin].1 += u64::from(fresh);
    }

    /// Read-your-writes and monotonic reads for one successful read (see judge.rs).
    fn judge_session(&mut self, r: &ReadRecord, returned: &[Version]) {
        let start_us = r.start.as_micros();
        let acked = self
            .acked
            .get(r.key.index())
            .map(Vec::as_slice)
            .unwrap_or(&[]);
        let session = self.sessions.entry((r.client, r.key)).or_default();
        let times = |w: WriteId| match self.write_times.get(w.index()) {
            Some(&(invoke, ack)) => (invoke, (ack != u64::MAX).then_some(ack)),
            None => (u64::MAX, None),
        };
        let own = session
            .own_writes
            .iter()
            .filter_map(|i| acked.get(*i as usize));
        let ryw = judge::read_your_writes(self.rules, own, start_us, returned, times);
        let previous = session
            .last_read
            .as_ref()
            .map(|(end, vs)| (*end, vs.as_slice()));
        let monotonic = judge::monotonic_reads(self.rules, previous, start_us, returned);
        session.last_read = Some((r.end.as_micros(), returned.iter().cloned().collect()));
        for (i, verdict) in [ryw, monotonic].into_iter().enumerate() {
            if verdict == Guarantee::NotJudged {
                continue;
            }
            self.session_counts[i][0] += 1;
            if verdict == Guarantee::Violated {
                self.session_counts[i][1] += 1;
                self.flag_client(r.client, 1 << i);
            }
        }
    }

    pub fn summarize(&self) -> ObserverSummary {
        self.summarize_named(&[])
    }

    /// The summary, with datacenters named after `dc_names` (by index; missing names are
    /// shown as `dc-<index>`).
    pub fn summarize_named(&self, dc_names: &[String]) -> ObserverSummary {
        ObserverSummary {
            ops: Ops {
                read: op_counts(&self.reads),
                write: op_counts(&self.writes),
                context_read: ContextReads {
                    attempted: self.context_reads[0] + self.context_reads[1],
                    ok: self.context_reads[1],
                },
            },
            availability: self.availability(dc_names),
            sla: Sla {
                sla_ms: self.sla.as_ms_f64(),
                read_within: fraction(self.reads.within_sla, self.reads.attempted),
                write_within: fraction(self.writes.within_sla, self.writes.attempted),
            },
            latency_ms: Latencies {
                read: latency_summary(&self.reads),
                write: latency_summary(&self.writes),
            },
            consistency: self.consistency(),
        }
    }

    fn availability(&self, dc_names: &[String]) -> Availability {
        let (r, w) = (&self.reads.by_phase, &self.writes.by_phase);
        Availability {
            read: fraction(self.reads.ok, self.reads.attempted),
            write: fraction(self.writes.ok, self.writes.attempted),
            read_during_faults: fraction(r[1][1], r[1][0]),
            write_during_faults: fraction(w[1][1], w[1][0]),
            read_outside_faults: fraction(r[0][1], r[0][0]),
            write_outside_faults: fraction(w[0][1], w[0][0]),
            by_datacenter: self.by_datacenter(dc_names),
        }
    }

    fn consistency(&self) -> Consistency {
        let during = &self.judged_during_faults;
        Consistency {
            judged_reads: self.judged_reads,
            stale_reads: self.stale_reads,
            stale_read_fraction: fraction(self.stale_reads, self.judged_reads),
            judged_reads_during_faults: during[0],
            stale_reads_during_faults: during[1],
            stale_read_fraction_during_faults: fraction(during[1], during[0]),
            stale_read_fraction_outside_faults: fraction(
                self.stale_reads - during[1],
                self.judged_reads - during[0],
            ),
            versions_per_read: VersionsPerRead {
                zero: self.versions_per_read[0],
                one: self.versions_per_read[1],
                two: self.versions_per_read[2],
                three: self.versions_per_read[3],
                four_or_more: self.versions_per_read[4],
            },
            k_staleness: (self.k_staleness.iter())
                .map(|(k, n)| KCount { k: *k, reads: *n })
                .collect(),
            t_visibility: self.t_visibility_bins(),
            session: self.session_summary(),
        }
    }

    /// P(fresh) per bin of time since the last acknowledged write.
    fn t_visibility_bins(&self) -> Vec<TVisibilityBin> {
        let mut lower = 0.0;
        (self.t_visibility.iter().enumerate())
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
            .collect()
    }

    fn by_datacenter(&self, dc_names: &[String]) -> Vec<DcAvailability> {
        let count = dc_names
            .len()
            .max(self.reads.by_dc.len())
            .max(self.writes.by_dc.len());
        let get = |s: &OpStats, d: usize| s.by_dc.get(d).copied().unwrap_or([0; 2]);
        (0..count)
            .map(|d| {
                let (r, w) = (get(&self.reads, d), get(&self.writes, d));
                DcAvailability {
                    datacenter: dc_names
                        .get(d)
                        .cloned()
                        .unwrap_or_else(|| format!("dc-{d}")),
                    read: (r[0] > 0).then(|| r[1] as f64 / r[0] as f64),
                    write: (w[0] > 0).then(|| w[1] as f64 / w[0] as f64),
                    reads_attempted: r[0],
                    writes_attempted: w[0],
                }
            })
            .collect()
    }

    fn session_summary(&self) -> SessionSummary {
        let guarantee = |i: usize| {
            let [judged, violations] = self.session_counts[i];
            GuaranteeSummary {
                judged_reads: judged,
                violations,
                violation_fraction: (judged > 0).then(|| violations as f64 / judged as f64),
                clients_with_violations: self
                    .client_flags
                    .iter()
                    .filter(|f| *f & (1 << i) != 0)
                    .count() as u64,
            }
        };
        SessionSummary {
            read_your_writes: guarantee(0),
            monotonic_reads: guarantee(1),
        }
    }

    /// The first stale reads (at most the bound set by `keep_stale_reads`), in the order
    /// they completed.
    pub fn stale_read_list(&self) -> &[StaleRead] {
        &self.stale_kept
    }

    /// Keeps up to `max` stale reads for `stale_read_list` (default
    /// [`STALE_KEPT_DEFAULT`]); set before the run.
    pub fn keep_stale_reads(&mut self, max: usize) {
        self.stale_kept_max = max;
    }

    /// (invoke µs, ack µs) of a write, when the observer saw it invoked.
    pub fn write_times(&self, write: WriteId) -> Option<(u64, Option<u64>)> {
        let (invoke, ack) = self.times_of(write);
        (invoke != u64::MAX).then_some((invoke, ack))
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
    /// By the datacenter of the requesting client, in scenario order.
    pub by_datacenter: Vec<DcAvailability>,
}

#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct DcAvailability {
    pub datacenter: String,
    pub read: Option<f64>,
    pub write: Option<f64>,
    pub reads_attempted: u64,
    pub writes_attempted: u64,
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
    /// (quantile, ms) at each of [`cdf_quantiles`]; empty when nothing succeeded.
    pub cdf: Vec<(f64, f64)>,
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
    /// Judged reads that started while a fault window was open, and how many were stale.
    pub judged_reads_during_faults: u64,
    pub stale_reads_during_faults: u64,
    pub stale_read_fraction_during_faults: Option<f64>,
    pub stale_read_fraction_outside_faults: Option<f64>,
    pub versions_per_read: VersionsPerRead,
    pub k_staleness: Vec<KCount>,
    pub t_visibility: Vec<TVisibilityBin>,
    /// Session guarantees per client (see judge.rs).
    pub session: SessionSummary,
}

#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct SessionSummary {
    pub read_your_writes: GuaranteeSummary,
    pub monotonic_reads: GuaranteeSummary,
}

#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct GuaranteeSummary {
    /// Successful reads the guarantee applied to.
    pub judged_reads: u64,
    pub violations: u64,
    /// violations / judged_reads (null when nothing was judged).
    pub violation_fraction: Option<f64>,
    /// Clients that saw at least one violation.
    pub clients_with_violations: u64,
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
                let fate = if self.rules.keeps_siblings() {
                    self.rules.covers(&held, &w.version).then_some(true)
                } else {
                    match winner {
                        Some(v) if v.write == id => Some(true),
                        // Replaced by a write that began after this one was acknowledged.
                        Some(v) if v.lww_key() > w.version.lww_key() => {
                            Some(self.times_of(v.write).0 >= w.ack_us)
                        }
                        _ => None,
                    }
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

/// `num / den`, or `None` when nothing was counted.
fn fraction(num: u64, den: u64) -> Option<f64> {
    if den == 0 {
        None
    } else {
        Some(num as f64 / den as f64)
    }
}

fn op_counts(s: &OpStats) -> OpCounts {
    OpCounts {
        attempted: s.attempted,
        ok: s.ok,
        failed: s.attempted - s.ok,
        failed_timeout: s.timeouts,
        failed_not_enough_replicas: s.not_enough_replicas,
    }
}

/// Latency percentiles in ms of the successful operations (all zero when none succeeded).
fn latency_summary(s: &OpStats) -> LatencySummary {
    if s.ok == 0 {
        return LatencySummary {
            cdf: Vec::new(),
            p50: 0.0,
            p90: 0.0,
            p99: 0.0,
            p999: 0.0,
            max: 0.0,
            mean: 0.0,
        };
    }
    let h = &s.latency_us;
    let q = |p: f64| h.value_at_quantile(p) as f64 / 1_000.0;
    LatencySummary {
        cdf: cdf_quantiles().map(|p| (p, q(p))).collect(),
        p50: q(0.5),
        p90: q(0.9),
        p99: q(0.99),
        p999: q(0.999),
        max: h.max() as f64 / 1_000.0,
        mean: s.latency_sum_us as f64 / s.ok as f64 / 1_000.0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::NodeId;
    use crate::node::{Causal, VClock};

    const MS: u64 = 1_000;

    fn version(write: u64, stamp_us: u64) -> Version {
        Version {
            write: WriteId(write),
            causal: Causal::from_clock(VClock::default().increment(
                NodeId(write as u32),
                stamp_us,
                10,
            )),
            stamp_us,
        }
    }

    /// Records write `id` of `key` by `client` over [start_ms, end_ms], acknowledged.
    fn write(o: &mut Observer, client: u32, key: u32, v: &Version, start_ms: u64, end_ms: u64) {
        o.write_invoked(v.write, SimTime(start_ms * MS));
        o.write_done(WriteRecord {
            req: RequestId(v.write.0),
            client: ClientId(client),
            dc: DcId(0),
            key: KeyId(key),
            write: v.write,
            start: SimTime(start_ms * MS),
            end: SimTime(end_ms * MS),
            during_fault: false,
            result: Ok(v),
        });
    }

    fn read(o: &mut Observer, client: u32, key: u32, start_ms: u64, returned: &[Version]) {
        o.read_done(ReadRecord {
            req: RequestId(1_000 + start_ms),
            client: ClientId(client),
            dc: DcId(1),
            key: KeyId(key),
            start: SimTime(start_ms * MS),
            end: SimTime((start_ms + 1) * MS),
            during_fault: false,
            result: Ok(returned),
        });
    }

    #[test]
    fn the_audit_tells_a_lost_write_from_an_overwritten_one() {
        let mut o = Observer::new(VersionRules::LastWriteWins, 3, SimTime(300 * MS));
        // Key 0: A and B overlap in time; B carries the larger stamp and wins, so A was
        // overwritten (discarded in favour of a concurrent write), not lost.
        let (a, b) = (version(0, 1_000), version(1, 2_000));
        write(&mut o, 0, 0, &a, 0, 20);
        write(&mut o, 1, 0, &b, 10, 30);
        // Key 1: C acknowledged, then gone from every replica: lost.
        let c = version(2, 3_000);
        write(&mut o, 0, 1, &c, 40, 50);
        // Key 2: D, then E begun after D's acknowledgement: D is superseded, fine.
        let (d, e) = (version(3, 4_000), version(4, 5_000));
        write(&mut o, 0, 2, &d, 60, 70);
        write(&mut o, 0, 2, &e, 80, 90);
        let held = [vec![b.clone()], vec![], vec![e.clone()]];
        let audit = o.audit(|k| held[k.index()].iter().collect());
        assert_eq!(audit.acknowledged_writes, 5);
        assert_eq!(audit.lost_writes, 1);
        assert_eq!(audit.lost_examples, ["w-2"]);
        assert_eq!(audit.overwritten_writes, 1);
        assert_eq!(audit.overwritten_examples, ["w-0"]);
        // Had A been acknowledged before B began, B's win would be an ordinary overwrite.
        let mut o = Observer::new(VersionRules::LastWriteWins, 1, SimTime(300 * MS));
        write(&mut o, 0, 0, &a, 0, 5);
        write(&mut o, 1, 0, &b, 10, 30);
        let held = [b];
        let audit = o.audit(|_| held.iter().collect());
        assert_eq!((audit.lost_writes, audit.overwritten_writes), (0, 0));
    }

    #[test]
    fn t_visibility_bins_add_up_to_judged_reads() {
        let mut o = Observer::new(VersionRules::VectorClock, 4, SimTime(300 * MS));
        let vs: Vec<Version> = (0..4).map(|i| version(i, i * 10)).collect();
        for (k, v) in vs.iter().enumerate() {
            write(&mut o, 0, k as u32, v, 0, 10);
        }
        // Reads at many delays after the acknowledgement, fresh and stale alike, plus
        // reads of keys never written (not judged) and a failed read.
        let mut expected_judged = 0;
        for (i, delay_ms) in [0u64, 1, 3, 7, 15, 40, 90, 150, 400, 900, 4_000, 20_000]
            .into_iter()
            .enumerate()
        {
            let key = (i % 4) as u32;
            let returned: &[Version] = if i % 3 == 0 {
                &[]
            } else {
                std::slice::from_ref(&vs[key as usize])
            };
            read(&mut o, 1, key, 11 + delay_ms, returned);
            expected_judged += 1;
        }
        o.read_done(ReadRecord {
            req: RequestId(9),
            client: ClientId(1),
            dc: DcId(1),
            key: KeyId(3),
            start: SimTime(50 * MS),
            end: SimTime(60 * MS),
            during_fault: false,
            result: Err(FailCause::Timeout),
        });
        let s = o.summarize();
        let c = &s.consistency;
        assert_eq!(c.judged_reads, expected_judged);
        assert_eq!(c.stale_reads, 4);
        let bins = &c.t_visibility;
        assert_eq!(bins.len(), T_VISIBILITY_EDGES_MS.len() + 1);
        assert_eq!(bins.iter().map(|b| b.reads).sum::<u64>(), c.judged_reads);
        assert_eq!(
            bins.iter().map(|b| b.fresh).sum::<u64>(),
            c.judged_reads - c.stale_reads
        );
        // Bins tile [0, inf) without gaps.
        assert_eq!(bins[0].from_ms, 0.0);
        for pair in bins.windows(2) {
            assert_eq!(pair[0].to_ms, Some(pair[1].from_ms));
        }
        assert_eq!(bins.last().and_then(|b| b.to_ms), None);
        assert_eq!(
            c.k_staleness.iter().map(|k| k.reads).sum::<u64>(),
            c.stale_reads
        );
    }

    #[test]
    fn session_guarantees_are_counted_per_client() {
        let mut o = Observer::new(VersionRules::VectorClock, 2, SimTime(300 * MS));
        let v0 = version(0, 0);
        let v1 = Version {
            write: WriteId(1),
            causal: Causal::from_clock(v0.causal.clock().increment(NodeId(0), 20, 10)),
            stamp_us: 20,
        };
        write(&mut o, 0, 0, &v0, 0, 10);
        write(&mut o, 0, 0, &v1, 20, 30);
        // Client 0 reads back its own write v1: kept; then an old v0: both violated.
        read(&mut o, 0, 0, 40, std::slice::from_ref(&v1));
        read(&mut o, 0, 0, 50, std::slice::from_ref(&v0));
        // Client 1 never wrote: only monotonic reads apply to it.
        read(&mut o, 1, 0, 40, std::slice::from_ref(&v0));
        read(&mut o, 1, 0, 50, std::slice::from_ref(&v1));
        let s = o.summarize().consistency.session;
        assert_eq!(s.read_your_writes.judged_reads, 2);
        assert_eq!(s.read_your_writes.violations, 1);
        assert_eq!(s.read_your_writes.violation_fraction, Some(0.5));
        assert_eq!(s.read_your_writes.clients_with_violations, 1);
        assert_eq!(s.monotonic_reads.judged_reads, 2);
        assert_eq!(s.monotonic_reads.violations, 1);
        assert_eq!(s.monotonic_reads.clients_with_violations, 1);
    }

    #[test]
    fn availability_is_split_by_the_clients_datacenter() {
        let mut o = Observer::new(VersionRules::VectorClock, 1, SimTime(300 * MS));
        read(&mut o, 0, 0, 1, &[]);
        o.read_done(ReadRecord {
            req: RequestId(1),
            client: ClientId(1),
            dc: DcId(1),
            key: KeyId(0),
            start: SimTime(0),
            end: SimTime(MS),
            during_fault: true,
            result: Err(FailCause::NotEnoughReplicas),
        });
        let names = ["east".to_string(), "west".to_string(), "north".to_string()];
        let a = o.summarize_named(&names).availability;
        let dcs: Vec<_> = a
            .by_datacenter
            .iter()
            .map(|d| (d.datacenter.as_str(), d.read, d.reads_attempted, d.write))
            .collect();
        assert_eq!(
            dcs,
            [
                ("east", None, 0, None),
                ("west", Some(0.5), 2, None),
                ("north", None, 0, None)
            ]
        );
        let cdf = o.summarize().latency_ms.read.cdf;
        assert_eq!(cdf.len(), cdf_quantiles().count());
        assert!(cdf.windows(2).all(|p| p[0].0 < p[1].0 && p[0].1 <= p[1].1));
        assert_eq!(cdf.last().map(|p| p.0), Some(1.0));
    }
}
