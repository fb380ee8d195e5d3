//! The observer: ground truth from outside the system. It records every request a client
//! made and what it got back, every acknowledged write, and judges consistency. It only
//! receives; nothing it holds ever reaches a node.

pub mod causality;
mod deletes;
pub mod detection;
pub use detection::{DetectionSummary, PeerTruth};
pub mod history;
pub mod judge;

pub use causality::{Acked, Ancestry, Causality, Children, Order};
pub use history::{Call, History};
pub use judge::{Guarantee, Verdict, judge_read};

use crate::engine::SimTime;
use crate::ids::{ClientId, DcId, FxHashMap, KeyId, NodeId, RequestId, WriteId};
use crate::node::{Fact, FailCause, Version};
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
    /// The read's place in event order, as `request_invoked` returned it.
    pub start_order: Order,
    pub end: SimTime,
    /// A fault window was open when the request started.
    pub during_fault: bool,
    pub result: Result<&'a [Version], FailCause>,
}

/// A write as its client invoked it.
#[derive(Clone, Copy, Debug)]
pub struct WriteInvocation<'a> {
    pub write: WriteId,
    /// The write ids the client's context read returned (read-modify-write); `None` for a
    /// blind put, whose coordinator decides what it replaces.
    pub parents: Option<&'a [WriteId]>,
    /// A delete (its version is a tombstone).
    pub delete: bool,
}

/// What the observer is told about the run before it starts.
#[derive(Clone, Debug)]
pub struct ObserverSetup {
    /// The versioning scheme's scenario name (for the report and the history).
    pub versioning: String,
    /// Replicas keep one version per key by timestamp: a displaced acknowledged write is
    /// counted as overwritten rather than lost.
    pub last_write_wins: bool,
    pub n: u32,
    pub r: u32,
    pub w: u32,
    pub keys: u32,
    pub sla: SimTime,
    /// The workload deletes: the observer keeps the record deletes need.
    pub deletes: bool,
    /// The workload inserts new keys: the report counts them (`ops.insert`).
    pub inserts: bool,
    /// The failure detector's scenario name (`failure_detector.kind`).
    pub detector: String,
}

/// A finished write (put), as its client saw it.
pub struct WriteRecord {
    pub req: RequestId,
    pub client: ClientId,
    /// The client's datacenter.
    pub dc: DcId,
    pub key: KeyId,
    pub write: WriteId,
    pub start: SimTime,
    pub end: SimTime,
    pub during_fault: bool,
    /// An insert: the first write of a new key (`workload.insert_fraction`).
    pub insert: bool,
    pub result: Result<(), FailCause>,
    /// The bytes the acknowledged version's clock takes on the wire, counted by the host
    /// (the observer never reads the protocol's clocks); 0 for a failed write.
    pub clock_bytes: u64,
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
    too_many_siblings: u64,
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
            too_many_siblings: 0,
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
            Err(FailCause::TooManySiblings) => self.too_many_siblings += 1,
        }
    }
}

pub struct Observer {
    setup: ObserverSetup,
    sla: SimTime,
    reads: OpStats,
    writes: OpStats,
    context_reads: [u64; 2],
    /// Inserts [attempted, ok].
    inserts: [u64; 2],
    /// The observer's event counter: every invocation, completion and replica fact gets
    /// the next number, so "before" is event order even within one simulated instant.
    order: Order,
    /// Ground-truth ancestry of every write.
    causality: Causality,
    /// Per key, acknowledged writes in acknowledgement order.
    acked: Vec<Vec<Acked>>,
    /// Per key: when a client last started a write to it (µs), or u64::MAX if never.
    last_write_start: Vec<u64>,
    judged_reads: u64,
    stale_reads: u64,
    /// Stale reads that returned no visible version ("not found").
    stale_not_found_reads: u64,
    /// Reads that started while a fault window was open: [judged, stale].
    judged_during_faults: [u64; 2],
    /// versions_per_read[i] = successful reads that returned i versions (last bin is 4+).
    versions_per_read: [u64; 5],
    /// Versions returned by successful reads that found the key, and false siblings among
    /// them (returned versions another returned version descends from).
    versions_returned: u64,
    false_siblings: u64,
    /// Clock bytes of the versions acknowledged to clients, summed.
    clock_bytes: u64,
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
    /// What deletes need (`None` when the workload deletes nothing).
    deletes: Option<deletes::DeleteRecord>,
    /// Nodes' suspicions of their peers, against the ground truth.
    detection: detection::DetectionRecord,
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
    /// When the client's last successful read completed (event order) and what it returned.
    last_read: Option<(Order, SmallVec<[WriteId; 2]>)>,
}

/// Bytes of one (client, key) entry of the session map, for the memory guard.
pub const fn bytes_per_session() -> usize {
    std::mem::size_of::<((ClientId, KeyId), Session)>()
}

impl Observer {
    pub fn new(setup: ObserverSetup) -> Observer {
        let keys = setup.keys;
        let last_write_wins = setup.last_write_wins;
        let deletes = setup.deletes.then(deletes::DeleteRecord::default);
        Observer {
            sla: setup.sla,
            setup,
            reads: OpStats::new(),
            writes: OpStats::new(),
            context_reads: [0; 2],
            inserts: [0; 2],
            order: 0,
            causality: Causality::new(last_write_wins),
            acked: (0..keys).map(|_| Vec::new()).collect(),
            last_write_start: vec![u64::MAX; keys as usize],
            judged_reads: 0,
            stale_reads: 0,
            stale_not_found_reads: 0,
            judged_during_faults: [0; 2],
            versions_per_read: [0; 5],
            versions_returned: 0,
            false_siblings: 0,
            clock_bytes: 0,
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
            deletes,
            detection: Default::default(),
        }
    }

    /// The next number in event order.
    fn next_order(&mut self) -> Order {
        self.order += 1;
        self.order
    }

    /// Whether a client started a write to `key` within `window` before `now`: replicas
    /// of such a key may legitimately differ while the write is in flight.
    pub fn written_recently(&self, key: KeyId, now: SimTime, window: SimTime) -> bool {
        match self.last_write_start.get(key.index()) {
            Some(&t) if t != u64::MAX => now.as_micros().saturating_sub(t) < window.as_micros(),
            _ => false,
        }
    }

    /// When `key` stops being `written_recently` for `window`, if it still is at `now`. It
    /// stays so until then at least: the last write's start only moves later.
    pub fn recent_until(&self, key: KeyId, now: SimTime, window: SimTime) -> Option<SimTime> {
        if !self.written_recently(key, now, window) {
            return None;
        }
        let start = self.last_write_start.get(key.index())?;
        Some(SimTime(start.saturating_add(window.as_micros())))
    }

    /// From now on, every request and completion is also written to `history`, which
    /// starts with a line naming the run's versioning and quorum.
    pub fn record_history(&mut self, mut history: History) {
        let s = &self.setup;
        history.meta(&s.versioning, s.n, s.r, s.w);
        self.history = Some(history);
    }

    /// The history being recorded, handed back (to be finished) once the run is over.
    pub fn take_history(&mut self) -> Option<History> {
        self.history.take()
    }

    /// A client sent a request; returns its place in event order (a read hands it back in
    /// its `ReadRecord`). A write's ground-truth parents are recorded here.
    pub fn request_invoked(
        &mut self,
        now: SimTime,
        client: ClientId,
        op: Call,
        key: KeyId,
        req: RequestId,
        write: Option<WriteInvocation>,
    ) -> Order {
        let at = self.next_order();
        if let Some(w) = write {
            (self.causality).invoked(w.write, key, at, now.as_micros(), w.parents, w.delete);
            if let Some(t) = self.last_write_start.get_mut(key.index()) {
                *t = now.as_micros();
            }
        }
        if let Some(h) = self.history.as_mut() {
            h.invoke(now, client, op, key, req, write);
        }
        at
    }

    /// A fact a node recorded about its own data (see `node::fact`).
    pub fn replica_fact(&mut self, now: SimTime, node: NodeId, fact: &Fact) {
        let at = self.next_order();
        match fact {
            Fact::BlindMerge { write, merged, .. } => self.causality.merged(*write, merged, at),
            Fact::Discard { write, kept, .. } => self.causality.discarded(*write, kept),
            Fact::Collected { key, writes } => {
                if let Some(d) = self.deletes.as_mut() {
                    d.collected(*key, writes);
                }
            }
            // Judged with the simulator's ground truth (see `suspicion`), not recorded.
            Fact::Suspected { .. } | Fact::Trusted { .. } => return,
        }
        if let Some(h) = self.history.as_mut() {
            h.fact(now, node, fact);
        }
    }

    fn flag_client(&mut self, client: ClientId, bit: u8) {
        if self.client_flags.len() <= client.index() {
            self.client_flags.resize(client.index() + 1, 0);
        }
        self.client_flags[client.index()] |= bit;
    }

    /// The get before a read-modify-write put finished. Only counted (and written to the
    /// history): it is not a read the user asked for, so it is not judged.
    pub fn context_read_done(&mut self, r: ReadRecord) {
        self.next_order();
        self.context_reads[usize::from(r.result.is_ok())] += 1;
        if let Some(h) = self.history.as_mut() {
            h.read_done(r.end, r.client, Call::CONTEXT_READ, r.key, r.req, r.result);
        }
    }

    pub fn write_done(&mut self, w: WriteRecord) {
        let at = self.next_order();
        if w.insert {
            self.inserts[0] += 1;
            self.inserts[1] += u64::from(w.result.is_ok());
        }
        self.writes
            .record(w.start, w.end, w.during_fault, w.dc, w.result, self.sla);
        if let Some(h) = self.history.as_mut() {
            h.write_done(w.end, w.client, w.key, w.req, w.write, w.result);
        }
        self.interval.writes[0] += 1;
        if w.result.is_err() {
            return;
        }
        self.interval.writes[1] += 1;
        let latency_us = w.end.saturating_sub(w.start).as_micros();
        self.interval.write_latency_us.saturating_record(latency_us);
        self.clock_bytes += w.clock_bytes;
        let acked = self.causality.acknowledged(w.write, at, w.end.as_micros());
        if let Some(d) = self.deletes.as_mut() {
            d.acknowledged += u64::from(self.causality.is_delete(w.write));
        }
        if let Some(list) = self.acked.get_mut(w.key.index()) {
            debug_assert!(list.last().is_none_or(|l| l.ack < at));
            list.push(acked);
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
        let end_order = self.next_order();
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
        let Ok(versions) = r.result else { return };
        self.interval.reads[1] += 1;
        let latency_us = r.end.saturating_sub(r.start).as_micros();
        self.interval.read_latency_us.saturating_record(latency_us);
        // Pushed, not collected: `SmallVec`'s `extend` costs more than the read's judgement.
        let mut returned: SmallVec<[WriteId; 2]> = SmallVec::new();
        for v in versions {
            returned.push(v.write);
        }
        // Over what the replicas returned, tombstones included, before any stand-in.
        self.false_siblings += u64::from(judge::false_siblings(&self.causality, &returned));
        // What the user sees: tombstones are hidden (the oracle knows its deletes itself).
        let mut visible = returned.len();
        if let Some(d) = self.deletes.as_mut() {
            let acked = (self.acked.get(r.key.index())).map_or(&[][..], Vec::as_slice);
            visible = d.judge_read(&self.causality, acked, r.start_order, r.key, &mut returned);
        }
        self.versions_per_read[visible.min(4)] += 1;
        self.versions_returned += visible as u64;
        self.judge_session(&r, end_order, &returned);
        let acked = self
            .acked
            .get(r.key.index())
            .map(Vec::as_slice)
            .unwrap_or(&[]);
        let verdict = judge_read(
            &self.causality,
            acked,
            r.start_order,
            r.start.as_micros(),
            &returned,
        );
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
                self.stale_not_found_reads += u64::from(visible == 0);
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
    fn judge_session(&mut self, r: &ReadRecord, end_order: Order, returned: &[WriteId]) {
        let acked = self
            .acked
            .get(r.key.index())
            .map(Vec::as_slice)
            .unwrap_or(&[]);
        let session = self.sessions.entry((r.client, r.key)).or_default();
        let own = session
            .own_writes
            .iter()
            .filter_map(|i| acked.get(*i as usize));
        let start = r.start_order;
        let ryw = judge::read_your_writes(&self.causality, own, acked, start, returned);
        let previous = (session.last_read.as_ref()).map(|(end, vs)| judge::PreviousRead {
            end: *end,
            returned: vs,
        });
        let monotonic = judge::monotonic_reads(&self.causality, previous, acked, start, returned);
        session.last_read = Some((end_order, SmallVec::from_slice(returned)));
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
                insert: self.setup.inserts.then_some(Inserts {
                    attempted: self.inserts[0],
                    ok: self.inserts[1],
                }),
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
            versioning: self.versioning(),
            failure_detection: self.detection.summary(&self.setup.detector),
        }
    }

    /// Node `by` began to suspect `peer`; `truth` is what the simulator knows of the peer.
    pub fn suspicion(&mut self, now: SimTime, by: NodeId, peer: NodeId, truth: PeerTruth) {
        self.detection.suspected(now, by, peer, truth);
    }

    /// Node `by` trusts `peer` again.
    pub fn trust(&mut self, by: NodeId, peer: NodeId) {
        self.detection.trusted(by, peer);
    }

    /// A node's process stopped (a crash, a lost disk, an outage, a leave) or started.
    pub fn node_went_down(&mut self, now: SimTime, node: NodeId) {
        self.detection.went_down(now, node);
    }

    pub fn node_came_up(&mut self, node: NodeId) {
        self.detection.came_up(node);
    }

    fn versioning(&self) -> VersioningSummary {
        let found: u64 = self.versions_per_read[1..].iter().sum();
        let with_siblings: u64 = self.versions_per_read[2..].iter().sum();
        let sibling_versions = self.versions_returned - self.versions_per_read[1];
        VersioningSummary {
            scheme: self.setup.versioning.clone(),
            siblings_per_read: fraction(self.versions_returned, found),
            reads_with_siblings: with_siblings,
            false_siblings: self.false_siblings,
            false_sibling_fraction: fraction(self.false_siblings, sibling_versions),
            clock_bytes_per_version: fraction(self.clock_bytes, self.writes.ok),
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
            stale_not_found_reads: self.stale_not_found_reads,
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
        self.causality.times(write)
    }

    /// The ground-truth ancestry the judgements use (for `dynasim trace` and tests).
    pub fn causality(&self) -> &Causality {
        &self.causality
    }

    /// Acknowledged writes per key, in acknowledgement order.
    pub fn acknowledged(&self, key: KeyId) -> &[Acked] {
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
    pub versioning: VersioningSummary,
    pub failure_detection: DetectionSummary,
}

/// What the run's versioning scheme cost readers and the wire.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct VersioningSummary {
    /// The scheme's scenario name.
    pub scheme: String,
    /// Mean versions returned by a successful read that found the key (1 = a reader never
    /// had siblings to reconcile); null when no read found anything.
    pub siblings_per_read: Option<f64>,
    /// Successful reads that returned two versions or more.
    pub reads_with_siblings: u64,
    /// Returned versions that another version returned by the same read descends from in
    /// ground truth: siblings that were not concurrent.
    pub false_siblings: u64,
    /// false_siblings / versions returned by reads with siblings.
    pub false_sibling_fraction: Option<f64>,
    /// Mean bytes of causal metadata (clock, dot, timestamp) of an acknowledged version.
    pub clock_bytes_per_version: Option<f64>,
}

#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Ops {
    pub read: OpCounts,
    pub write: OpCounts,
    /// Gets made by read-modify-write clients to fetch a context before their put.
    pub context_read: ContextReads,
    /// The writes that inserted a new key, counted in `write` too (absent when the
    /// workload inserts nothing).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub insert: Option<Inserts>,
}

/// Inserts: puts of a key never written before.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Inserts {
    pub attempted: u64,
    pub ok: u64,
}

#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct OpCounts {
    pub attempted: u64,
    pub ok: u64,
    pub failed: u64,
    pub failed_timeout: u64,
    pub failed_not_enough_replicas: u64,
    /// Puts refused because the key would have held more than `replication.max_siblings`.
    pub failed_too_many_siblings: u64,
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
    /// Stale reads that answered "not found" (no visible version) although a value of
    /// the key had been acknowledged: typically a fallback or an emptied replica answered
    /// first (Riak's `notfound_ok`).
    pub stale_not_found_reads: u64,
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
    /// Mean and 99.9th percentile of the interval's successful requests (Dynamo Figure 4).
    pub read_mean_ms: Option<f64>,
    pub read_p999_ms: Option<f64>,
    pub write_mean_ms: Option<f64>,
    pub write_p999_ms: Option<f64>,
    pub stale_read_fraction: Option<f64>,
    /// Hints held by all nodes at the end of the interval.
    pub hint_backlog: u64,
    /// Keys whose live home replicas held different version sets at the end of the interval.
    pub divergent_keys: u64,
    /// A fault window was open at some point in the interval.
    pub fault_active: bool,
    /// With finite resources (`capacity`): the longest queues any node had at the end of
    /// the interval.
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub queues: Option<QueueSample>,
}

/// The longest queues over all nodes at one moment (jobs admitted and not started; for
/// the network interface, how long a message ready then would wait).
#[derive(Clone, Debug, Default, Serialize, PartialEq)]
pub struct QueueSample {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub disk_queue_max: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpu_queue_max: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nic_backlog_ms_max: Option<f64>,
}

/// The end-of-run audit of acknowledged writes, judged from the oracle's own causality.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct DurabilitySummary {
    pub acknowledged_writes: u64,
    /// Acknowledged writes that, at the end, are neither held by any replica (home
    /// replicas and hint stores) nor descended from by a held version. Includes the lost
    /// updates.
    pub lost_writes: u64,
    /// Lost writes that a replica discarded by its versioning rules although nothing it
    /// kept descends from them, or whose descendants all ended that way (the versioning
    /// lost them, not a failure).
    pub lost_updates: u64,
    /// Acknowledged writes replaced without any client having seen them: merged away by a
    /// blind put's coordinator, or (last_write_wins) discarded, they or the writes made
    /// from them, for a version that does not descend from them.
    pub overwritten_writes: u64,
    /// Under last_write_wins: overwritten writes a replica discarded for a write that was
    /// acknowledged before they began. Real time says they are the newer ones; a skewed
    /// clock stamped them older (absent under the other schemes).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub overwritten_by_older_writes: Option<u64>,
    /// The first few lost writes (ids as `w-N`), for `dynasim trace`.
    pub lost_examples: Vec<String>,
    pub lost_update_examples: Vec<String>,
    pub overwritten_examples: Vec<String>,
    /// Acknowledged deletes (absent when the workload deletes nothing).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub acknowledged_deletes: Option<u64>,
    /// Acknowledged deletes whose key a later read returned with a value the delete had
    /// removed, no later put acknowledged in between (docs/report.md, "durability").
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resurrected_deletes: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resurrected_examples: Option<Vec<String>>,
}

/// The fate of one acknowledged write at the end of the run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fate {
    /// Held, or descended from through versions clients saw.
    Kept,
    Overwritten,
    Lost {
        update: bool,
    },
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
        queues: Option<QueueSample>,
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
        let p999 = |h: &Histogram<u64>| {
            (!h.is_empty()).then(|| h.value_at_quantile(0.999) as f64 / 1_000.0)
        };
        let mean = |h: &Histogram<u64>| (!h.is_empty()).then(|| h.mean() / 1_000.0);
        self.timeline.push(TimelinePoint {
            from_s: from.as_secs_f64(),
            to_s: now.as_secs_f64(),
            reads: i.reads[0],
            writes: i.writes[0],
            read_availability: fraction(i.reads[1], i.reads[0]),
            write_availability: fraction(i.writes[1], i.writes[0]),
            read_p99_ms: p99(&i.read_latency_us),
            write_p99_ms: p99(&i.write_latency_us),
            read_mean_ms: mean(&i.read_latency_us),
            read_p999_ms: p999(&i.read_latency_us),
            write_mean_ms: mean(&i.write_latency_us),
            write_p999_ms: p999(&i.write_latency_us),
            stale_read_fraction: fraction(i.stale, i.judged),
            hint_backlog,
            divergent_keys,
            fault_active,
            queues,
        });
        self.interval.reset();
    }

    pub fn timeline(&self) -> &[TimelinePoint] {
        &self.timeline
    }

    /// Audits every acknowledged write against `held(key)`: the write ids the key's home
    /// replicas and every hint store hold at the end.
    pub fn audit(&self, held: impl Fn(KeyId) -> Vec<WriteId>) -> DurabilitySummary {
        // A collected tombstone still stands for its delete where no value came back.
        let held = |key: KeyId| {
            let mut h = held(key);
            if let Some(d) = &self.deletes {
                d.stand_in_for_collected(key, &mut h);
            }
            h
        };
        let mut d = DurabilitySummary {
            acknowledged_writes: 0,
            lost_writes: 0,
            lost_updates: 0,
            overwritten_writes: 0,
            overwritten_by_older_writes: self.setup.last_write_wins.then_some(0),
            lost_examples: Vec::new(),
            lost_update_examples: Vec::new(),
            overwritten_examples: Vec::new(),
            acknowledged_deletes: self.deletes.as_ref().map(|d| d.acknowledged),
            resurrected_deletes: self.deletes.as_ref().map(|d| d.resurrected.len() as u64),
            resurrected_examples: (self.deletes.as_ref()).map(|d| {
                d.resurrected
                    .iter()
                    .take(EXAMPLES)
                    .map(|w| w.to_string())
                    .collect()
            }),
        };
        let note = |list: &mut Vec<String>, w: WriteId| {
            if list.len() < EXAMPLES {
                list.push(w.to_string());
            }
        };
        let lineage = self.causality.displaced_lineage();
        let children = self.causality.seen_children();
        for (k, acked) in self.acked.iter().enumerate() {
            if acked.is_empty() {
                continue;
            }
            let held = held(KeyId(k as u32));
            let ancestry = self.causality.ancestry(&held);
            for w in acked {
                d.acknowledged_writes += 1;
                match self.fate(w.write, &held, &ancestry, &lineage, &children) {
                    Fate::Kept => {}
                    Fate::Overwritten => {
                        d.overwritten_writes += 1;
                        note(&mut d.overwritten_examples, w.write);
                        if let Some(older) = d.overwritten_by_older_writes.as_mut()
                            && self.causality.displaced_by_older(w.write)
                        {
                            *older += 1;
                        }
                    }
                    Fate::Lost { update } => {
                        d.lost_writes += 1;
                        note(&mut d.lost_examples, w.write);
                        if update {
                            d.lost_updates += 1;
                            note(&mut d.lost_update_examples, w.write);
                        }
                    }
                }
            }
        }
        d
    }

    /// The fate of write `w` given the write ids held for its key at the end, what they
    /// descend from (`Causality::ancestry`), `lineage` (`Causality::displaced_lineage`)
    /// and `children` (`Causality::seen_children`) (docs/report.md, "durability").
    pub fn fate(
        &self,
        w: WriteId,
        held: &[WriteId],
        ancestry: &Ancestry,
        lineage: &[bool],
        children: &Children,
    ) -> Fate {
        let displaced = lineage.get(w.index()).copied().unwrap_or(false);
        let covered = |x: WriteId| held.contains(&x) || ancestry.by_any(x);
        if held.contains(&w) || ancestry.by_seen(w) {
            Fate::Kept
        } else if covered(w) {
            // Replaced by a write whose client saw it (that one may itself have been
            // merged away later): kept. Only a write merged away unseen is overwritten.
            if children.of(w).iter().any(|x| covered(*x)) {
                Fate::Kept
            } else {
                Fate::Overwritten
            }
        } else if displaced && self.setup.last_write_wins {
            Fate::Overwritten
        } else {
            Fate::Lost { update: displaced }
        }
    }

    /// Writes the history's closing `final` lines: per key with an acknowledged write, the
    /// write ids held at the end (as for `audit`).
    pub fn write_final_state(&mut self, held: impl Fn(KeyId) -> Vec<WriteId>) {
        let Some(h) = self.history.as_mut() else {
            return;
        };
        for (k, acked) in self.acked.iter().enumerate() {
            if !acked.is_empty() {
                let key = KeyId(k as u32);
                h.final_state(key, &held(key));
            }
        }
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
        failed_too_many_siblings: s.too_many_siblings,
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
    use crate::node::fact::HeldIds;
    use crate::node::{Causal, VClock};

    const MS: u64 = 1_000;

    fn setup(keys: u32, last_write_wins: bool) -> ObserverSetup {
        ObserverSetup {
            versioning: if last_write_wins {
                "last_write_wins"
            } else {
                "vector_clock"
            }
            .into(),
            last_write_wins,
            n: 3,
            r: 2,
            w: 2,
            keys,
            sla: SimTime(300 * MS),
            deletes: true,
            inserts: false,
            detector: "timeout".into(),
        }
    }

    fn version(write: u64) -> Version {
        Version {
            write: WriteId(write),
            causal: Causal::from_clock(VClock::default().increment(NodeId(0), write as i64, 10)),
            stamp_us: write as i64,
            tombstone: false,
        }
    }

    /// Records write `v` of `key` by `client`, invoked at `start_ms` having read
    /// `parents` (None: blind), acknowledged at `end_ms`.
    fn write(
        o: &mut Observer,
        client: u32,
        key: u32,
        v: &Version,
        parents: Option<&[WriteId]>,
        (start_ms, end_ms): (u64, u64),
    ) {
        let invocation = WriteInvocation {
            write: v.write,
            parents,
            delete: v.tombstone,
        };
        let (start, end) = (SimTime(start_ms * MS), SimTime(end_ms * MS));
        let req = RequestId(v.write.0);
        o.request_invoked(
            start,
            ClientId(client),
            Call::WRITE,
            KeyId(key),
            req,
            Some(invocation),
        );
        o.write_done(WriteRecord {
            req,
            client: ClientId(client),
            dc: DcId(0),
            key: KeyId(key),
            write: v.write,
            start,
            end,
            during_fault: false,
            insert: false,
            result: Ok(()),
            clock_bytes: v.causal.wire_bytes() as u64,
        });
    }

    fn read(o: &mut Observer, client: u32, key: u32, start_ms: u64, returned: &[Version]) {
        let (start, req) = (SimTime(start_ms * MS), RequestId(1_000 + start_ms));
        let start_order =
            o.request_invoked(start, ClientId(client), Call::READ, KeyId(key), req, None);
        o.read_done(ReadRecord {
            req,
            client: ClientId(client),
            dc: DcId(1),
            key: KeyId(key),
            start,
            start_order,
            end: SimTime((start_ms + 1) * MS),
            during_fault: false,
            result: Ok(returned),
        });
    }

    fn discard(o: &mut Observer, key: u32, w: u64, kept: &[u64]) {
        let fact = Fact::Discard {
            key: KeyId(key),
            write: WriteId(w),
            kept: kept.iter().map(|k| WriteId(*k)).collect(),
            hint: false,
        };
        o.replica_fact(SimTime(0), NodeId(0), &fact);
    }

    #[test]
    fn the_audit_tells_kept_lost_updated_and_overwritten_apart() {
        for lww in [false, true] {
            let mut o = Observer::new(setup(4, lww));
            let v: Vec<Version> = (0..8).map(version).collect();
            let id = |i: u64| WriteId(i);
            // Key 0: 0, then 1 read 0 and replaced it: 0 is kept (superseded, seen).
            write(&mut o, 0, 0, &v[0], Some(&[]), (0, 5));
            write(&mut o, 0, 0, &v[1], Some(&[id(0)]), (10, 15));
            discard(&mut o, 0, 0, &[1]);
            // Key 1: 2 and 3 both read nothing; a replica dropped 2 keeping 3.
            write(&mut o, 0, 1, &v[2], Some(&[]), (0, 20));
            write(&mut o, 1, 1, &v[3], Some(&[]), (10, 30));
            discard(&mut o, 1, 2, &[3]);
            // Key 2: 4 acknowledged, then gone without any discard (a failure lost it).
            write(&mut o, 0, 2, &v[4], Some(&[]), (40, 50));
            // Key 3: 5, then a blind put 6 whose coordinator merged 5.
            write(&mut o, 0, 3, &v[5], Some(&[]), (60, 70));
            let merge = Fact::BlindMerge {
                write: id(6),
                key: KeyId(3),
                merged: HeldIds::from_slice(&[id(5)]),
            };
            o.request_invoked(
                SimTime(80 * MS),
                ClientId(0),
                Call::WRITE,
                KeyId(3),
                RequestId(60),
                Some(WriteInvocation {
                    write: id(6),
                    parents: None,
                    delete: false,
                }),
            );
            o.replica_fact(SimTime(81 * MS), NodeId(0), &merge);
            let held = [vec![id(1)], vec![id(3)], vec![], vec![id(6)]];
            let audit = o.audit(|k| held[k.index()].clone());
            assert_eq!(audit.acknowledged_writes, 6);
            assert_eq!(
                audit.overwritten_examples.len() as u64,
                audit.overwritten_writes
            );
            if lww {
                assert_eq!((audit.lost_writes, audit.lost_updates), (1, 0));
                assert_eq!(audit.overwritten_examples, ["w-2", "w-5"]);
            } else {
                assert_eq!((audit.lost_writes, audit.lost_updates), (2, 1));
                assert_eq!(audit.lost_update_examples, ["w-2"]);
                assert_eq!(audit.overwritten_examples, ["w-5"]);
            }
            assert!(audit.lost_examples.contains(&"w-4".to_string()));
        }
    }

    #[test]
    fn t_visibility_bins_add_up_to_judged_reads() {
        let mut o = Observer::new(setup(4, false));
        let vs: Vec<Version> = (0..4).map(version).collect();
        for (k, v) in vs.iter().enumerate() {
            write(&mut o, 0, k as u32, v, Some(&[]), (0, 10));
        }
        // Reads at many delays after the acknowledgement, fresh and stale alike, and a
        // failed read.
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
            read(&mut o, 1, key, 10 + delay_ms, returned);
            expected_judged += 1;
        }
        o.read_done(ReadRecord {
            req: RequestId(9),
            client: ClientId(1),
            dc: DcId(1),
            key: KeyId(3),
            start: SimTime(50 * MS),
            start_order: 0,
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
            bins[0].reads, 1,
            "the read at the acknowledgement's instant is judged"
        );
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
    fn session_guarantees_and_sibling_costs_are_counted() {
        let mut o = Observer::new(setup(2, false));
        let (v0, v1, v2) = (version(0), version(1), version(2));
        write(&mut o, 0, 0, &v0, Some(&[]), (0, 10));
        write(&mut o, 0, 0, &v1, Some(&[WriteId(0)]), (20, 30));
        // Client 0 reads back its own write v1: kept; then an old v0: both violated.
        read(&mut o, 0, 0, 40, std::slice::from_ref(&v1));
        read(&mut o, 0, 0, 50, std::slice::from_ref(&v0));
        // Client 1 never wrote: only monotonic reads apply to it.
        read(&mut o, 1, 0, 40, std::slice::from_ref(&v0));
        read(&mut o, 1, 0, 50, std::slice::from_ref(&v1));
        // Key 1: siblings 0 and 1 returned together: 1 descends from 0, a false sibling;
        // 2 (concurrent, read nothing) is a true one.
        write(&mut o, 2, 1, &v2, Some(&[]), (60, 70));
        read(&mut o, 3, 1, 80, &[v0.clone(), v1.clone(), v2.clone()]);
        let summary = o.summarize();
        let s = summary.consistency.session;
        assert_eq!(s.read_your_writes.judged_reads, 2);
        assert_eq!(s.read_your_writes.violations, 1);
        assert_eq!(s.read_your_writes.violation_fraction, Some(0.5));
        assert_eq!(s.read_your_writes.clients_with_violations, 1);
        assert_eq!(s.monotonic_reads.judged_reads, 2);
        assert_eq!(s.monotonic_reads.violations, 1);
        assert_eq!(s.monotonic_reads.clients_with_violations, 1);
        let v = summary.versioning;
        assert_eq!(v.false_siblings, 1);
        assert_eq!(v.reads_with_siblings, 1);
        assert_eq!(v.siblings_per_read, Some(7.0 / 5.0));
        assert_eq!(v.false_sibling_fraction, Some(1.0 / 3.0));
    }

    #[test]
    fn availability_is_split_by_the_clients_datacenter() {
        let mut o = Observer::new(setup(1, false));
        read(&mut o, 0, 0, 1, &[]);
        o.read_done(ReadRecord {
            req: RequestId(1),
            client: ClientId(1),
            dc: DcId(1),
            key: KeyId(0),
            start: SimTime(0),
            start_order: 0,
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

    fn tombstone(write: u64) -> Version {
        Version {
            tombstone: true,
            ..version(write)
        }
    }

    #[test]
    fn a_deleted_value_read_back_is_a_resurrection_and_not_found_after_collection_is_fresh() {
        let mut o = Observer::new(setup(2, false));
        let (v, d) = (version(1), tombstone(2));
        let collect = |o: &mut Observer, key: u32, w: u64| {
            let fact = Fact::Collected {
                key: KeyId(key),
                writes: HeldIds::from_slice(&[WriteId(w)]),
            };
            o.replica_fact(SimTime(0), NodeId(0), &fact);
        };
        // Key 0: put 1, delete 2 (having read 1), collected; a read finds nothing: fresh.
        write(&mut o, 0, 0, &v, Some(&[]), (0, 5));
        write(&mut o, 0, 0, &d, Some(&[WriteId(1)]), (10, 15));
        // Before any replica collected the tombstone, reading 1 back is only stale.
        read(&mut o, 1, 0, 16, std::slice::from_ref(&v));
        collect(&mut o, 0, 2);
        read(&mut o, 1, 0, 20, &[]);
        // ...then a read returns 1 again: the delete was undone.
        read(&mut o, 1, 0, 30, std::slice::from_ref(&v));
        // Key 1: put 3, delete 4 without having read 3 (concurrent), then 3 read back:
        // a sibling the delete never removed, not a resurrection.
        let (v3, d4) = (version(3), tombstone(4));
        write(&mut o, 0, 1, &v3, Some(&[]), (0, 5));
        write(&mut o, 1, 1, &d4, Some(&[]), (1, 6));
        read(&mut o, 1, 1, 30, std::slice::from_ref(&v3));
        let summary = o.summarize();
        let audit = o.audit(|_| Vec::new());
        assert_eq!(audit.acknowledged_deletes, Some(2));
        assert_eq!(audit.resurrected_deletes, Some(1));
        assert_eq!(audit.resurrected_examples, Some(vec!["w-2".to_string()]));
        // Nothing is held at the end: key 0's collected delete still stands for 1 and 2;
        // key 1's writes were never collected, so both are lost.
        assert_eq!(audit.lost_writes, 2, "{:?}", audit.lost_examples);
        // Of the four reads, the not-found one after collection is fresh; the one before
        // collection, the resurrected one and key 1's (it missed the concurrent
        // tombstone) are stale.
        assert_eq!(summary.consistency.stale_reads, 3);
        // Tombstones are not versions a user sees.
        let per_read = &summary.consistency.versions_per_read;
        assert_eq!((per_read.zero, per_read.one, per_read.two), (1, 3, 0));
    }
}
