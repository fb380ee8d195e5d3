//! Request coordination (Dynamo §4.5, §5): fan a get or put out to the replicas, count
//! replies toward R or W, answer, and repair stale replicas from late read replies.
//! Hosted by a node, or by a client when the client coordinates (`client_driven`).

use super::message::{Effect, FailCause, Message, OpId, Timer};
use super::op::{Op, OpResult};
use super::quorum::{QuorumRule, Tally};
use super::versioning::{NewObject, Version, VersionRules, Versions, copy_versions};
use crate::engine::{Deadlines, SimTime};
use crate::ids::{ClientId, Endpoint, FxHashMap, KeyId, NodeId, RequestId};
use smallvec::SmallVec;

/// Who asked for an operation and where the answer goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Origin {
    pub client: ClientId,
    pub req: RequestId,
}

/// The quorum rules a coordinator applies.
#[derive(Clone, Debug)]
pub struct QuorumConfig {
    /// How reads count replies (R, or a consistency level; `pr`; `notfound_ok`).
    pub read: QuorumRule,
    /// How writes count acknowledgements (W, or a consistency level; `pw`).
    pub write: QuorumRule,
    pub rules: VersionRules,
    pub read_repair: bool,
    pub read_repair_window: SimTime,
    /// How long an operation is kept: the longer of the client's request timeout and
    /// the failure detector's op timeout (its answer is useless after the first, its
    /// silent targets are only suspected after the second).
    pub op_timeout: SimTime,
    /// How long a target may stay silent before it is suspected
    /// (`failure_detector.op_timeout_ms`).
    pub suspect_after: SimTime,
    /// Replies to reads name the replica that answered first (the coordinator of the
    /// next write under `workload.write_coordinator: fastest_read`).
    pub name_fastest: bool,
    /// The first this many targets of a put write it durably (past any write buffer).
    pub durable_writes: usize,
}

/// Where a put goes and what must acknowledge it: its targets (node, home replica it
/// stands in for) and the tally planned over them.
pub struct Fanout<'a> {
    pub targets: &'a [(NodeId, Option<NodeId>)],
    pub tally: Tally,
}

/// A finished operation, for the host to deliver.
#[derive(Clone, Debug)]
pub struct Completion {
    pub origin: Origin,
    pub result: OpResult,
    /// For a read, when asked for (`QuorumConfig::name_fastest`): the replica whose
    /// reply arrived first.
    pub fastest: Option<NodeId>,
}

impl Completion {
    pub fn new(origin: Origin, result: OpResult) -> Completion {
        Completion {
            origin,
            result,
            fastest: None,
        }
    }
}

type Targets = SmallVec<[NodeId; 4]>;

/// The nodes of (node, hint) targets, pushed: `SmallVec`'s `collect` costs more than the
/// copy of a few ids (here and wherever an operation starts).
pub fn nodes_of(targets: &[(NodeId, Option<NodeId>)]) -> Targets {
    let mut nodes = Targets::new();
    for (node, _) in targets {
        nodes.push(*node);
    }
    nodes
}

struct ReadOp {
    key: KeyId,
    origin: Origin,
    targets: Targets,
    tally: Tally,
    replies: SmallVec<[(NodeId, Versions); 4]>,
    merged: Versions,
    answered: bool,
    /// Read repair already ran (its window closed); later replies only prove liveness.
    repaired: bool,
    /// Targets still silent at `suspect_after` were handed to the failure detector.
    suspected: bool,
}

struct WriteOp {
    origin: Origin,
    targets: Targets,
    /// Bit i set when targets[i] acknowledged (N <= 64 is validated).
    acked: u64,
    tally: Tally,
    version: Version,
    answered: bool,
    /// Targets still silent at `suspect_after` were handed to the failure detector.
    suspected: bool,
}

// Reads carry their replies inline; boxing them would cost an allocation per read on the
// hot path, for a map whose entries live a few milliseconds.
#[allow(clippy::large_enum_variant)]
enum InFlight {
    Read(ReadOp),
    Write(WriteOp),
}

impl InFlight {
    fn op(&self) -> Op {
        match self {
            InFlight::Read(_) => Op::Get,
            InFlight::Write(_) => Op::Put,
        }
    }

    fn origin(&self) -> Origin {
        match self {
            InFlight::Read(op) => op.origin,
            InFlight::Write(op) => op.origin,
        }
    }

    fn answered(&self) -> bool {
        match self {
            InFlight::Read(op) => op.answered,
            InFlight::Write(op) => op.answered,
        }
    }

    fn suspected(&mut self) -> &mut bool {
        match self {
            InFlight::Read(op) => &mut op.suspected,
            InFlight::Write(op) => &mut op.suspected,
        }
    }

    /// The targets that have not answered yet.
    fn silent_targets(&self, into: &mut Vec<NodeId>) {
        match self {
            InFlight::Read(r) => into.extend(
                r.targets
                    .iter()
                    .filter(|t| !r.replies.iter().any(|(n, _)| n == *t)),
            ),
            InFlight::Write(w) => into.extend(
                w.targets
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| w.acked & (1 << i) == 0)
                    .map(|(_, t)| *t),
            ),
        }
    }
}

/// The timers of an operation, one lane of the coordinator's deadlines each: every kind
/// has one fixed delay (`QuorumConfig`), so each lane is in time order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OpTimer {
    /// Give up on the operation (`op_timeout`).
    Timeout = 0,
    /// Its targets still silent are suspected (`suspect_after`, when shorter).
    Suspect = 1,
    /// The read-repair window after a read was answered has closed.
    RepairWindow = 2,
}

impl OpTimer {
    const ALL: [OpTimer; 3] = [OpTimer::Timeout, OpTimer::Suspect, OpTimer::RepairWindow];
}

/// The in-flight operations of one host.
#[derive(Default)]
pub struct Coordinator {
    ops: FxHashMap<OpId, InFlight>,
    /// Every operation's timers. They nearly always fall due after the operation ended,
    /// so they wait here, and one `Timer::OpDeadlines` wakeup at a time stands in the
    /// host's queue for the earliest of a running operation (see `engine::deadlines`).
    deadlines: Deadlines<OpId, 3>,
    next_op: u64,
    /// Targets that never answered an operation that has now ended; the host drains this
    /// into its failure detector.
    pub unanswered: Vec<NodeId>,
}

impl Coordinator {
    pub fn in_flight(&self) -> usize {
        self.ops.len()
    }

    /// Forgets every operation (the host crashed): nothing will be answered. Operation
    /// ids keep counting, so a late reply to an operation from before the crash can
    /// never be taken for one of a new operation.
    pub fn clear(&mut self) {
        self.ops.clear();
        self.unanswered.clear();
        self.deadlines.clear();
    }

    /// The timers the next `on_deadlines` at `now` will run, for operations still in
    /// flight (a look for observers such as the tracer; it changes nothing).
    pub fn timers_due(&self, now: SimTime) -> Vec<(OpId, OpTimer)> {
        (self.deadlines.due(now).into_iter())
            .filter(|(_, op)| self.ops.contains_key(op))
            .map(|(lane, op)| (op, OpTimer::ALL[lane]))
            .collect()
    }

    /// Starts `kind`'s timer for `op`, asking the host for a wakeup when it needs one.
    fn set_timer(
        &mut self,
        now: SimTime,
        kind: OpTimer,
        op: OpId,
        after: SimTime,
        out: &mut Vec<Effect>,
    ) {
        if let Some(at) = self.deadlines.add(now + after, kind as usize, op) {
            out.push(wakeup(now, at));
        }
    }

    /// The timers every operation starts with: its end, and the moment its silent targets
    /// are suspected when that comes first.
    fn set_op_timers(&mut self, now: SimTime, op: OpId, cfg: &QuorumConfig, out: &mut Vec<Effect>) {
        self.set_timer(now, OpTimer::Timeout, op, cfg.op_timeout, out);
        if cfg.suspect_after < cfg.op_timeout {
            self.set_timer(now, OpTimer::Suspect, op, cfg.suspect_after, out);
        }
    }

    fn new_op(&mut self) -> OpId {
        self.next_op += 1;
        OpId(self.next_op)
    }

    /// Starts a get: asks every target; answers when `tally` is met (R replies).
    #[allow(clippy::too_many_arguments)] // the host's clock, then what the operation is
    pub fn start_read(
        &mut self,
        now: SimTime,
        key: KeyId,
        targets: &[NodeId],
        tally: Tally,
        origin: Origin,
        cfg: &QuorumConfig,
        out: &mut Vec<Effect>,
    ) {
        let op = self.new_op();
        for node in targets {
            out.push(Effect::Send {
                to: Endpoint::Node(*node),
                msg: Message::ReplicaRead { op, key },
                disk: super::message::DiskOp::None,
            });
        }
        self.set_op_timers(now, op, cfg, out);
        self.ops.insert(
            op,
            InFlight::Read(ReadOp {
                key,
                origin,
                targets: Targets::from_slice(targets),
                tally,
                replies: SmallVec::new(),
                merged: Versions::new(),
                answered: false,
                repaired: false,
                suspected: false,
            }),
        );
    }

    /// Starts a put of `object` (the new version and the siblings that travel with it):
    /// sends it to every target (with the hint for each, if any); answers after W
    /// acknowledgements (when `tally` is met).
    #[allow(clippy::too_many_arguments)] // the host's clock, then what the operation is
    pub fn start_write(
        &mut self,
        now: SimTime,
        key: KeyId,
        object: NewObject,
        fanout: Fanout,
        origin: Origin,
        cfg: &QuorumConfig,
        out: &mut Vec<Effect>,
    ) {
        let Fanout { targets, tally } = fanout;
        let op = self.new_op();
        for (i, (node, hint)) in targets.iter().enumerate() {
            out.push(Effect::Send {
                to: Endpoint::Node(*node),
                msg: Message::ReplicaWrite {
                    op: Some(op),
                    key,
                    version: object.version.clone(),
                    siblings: object.siblings.clone(),
                    hint: *hint,
                    durable: i < cfg.durable_writes,
                },
                disk: super::message::DiskOp::None,
            });
        }
        self.set_op_timers(now, op, cfg, out);
        self.ops.insert(
            op,
            InFlight::Write(WriteOp {
                origin,
                targets: nodes_of(targets),
                acked: 0,
                tally,
                version: object.version,
                answered: false,
                suspected: false,
            }),
        );
    }

    pub fn on_read_reply(
        &mut self,
        now: SimTime,
        op_id: OpId,
        from: NodeId,
        versions: Versions,
        cfg: &QuorumConfig,
        out: &mut Vec<Effect>,
    ) -> Option<Completion> {
        let Some(InFlight::Read(op)) = self.ops.get_mut(&op_id) else {
            return None; // late reply to a finished operation
        };
        // Only the replicas asked count (and each once).
        let i = op.targets.iter().position(|t| *t == from)?;
        if op.replies.iter().any(|(n, _)| *n == from) {
            return None;
        }
        // Under notfound_ok = false an empty answer waits for one that holds the key,
        // unless every replica asked has answered.
        if cfg.read.notfound_ok || !versions.is_empty() {
            op.tally.count(i);
        }
        cfg.rules.merge(&mut op.merged, &versions);
        op.replies.push((from, versions));
        let all_in = op.replies.len() >= op.targets.len();
        let mut done = None;
        if !op.answered && (op.tally.met() || (all_in && !cfg.read.notfound_ok)) {
            op.answered = true;
            done = Some(Completion {
                origin: op.origin,
                result: OpResult::Get(Ok(copy_versions(&op.merged))),
                fastest: cfg.name_fastest.then(|| op.replies[0].0),
            });
        }
        let answered = op.answered;
        if cfg.read_repair && done.is_some() && !all_in {
            self.set_timer(
                now,
                OpTimer::RepairWindow,
                op_id,
                cfg.read_repair_window,
                out,
            );
        }
        if answered && all_in {
            self.finish_read(op_id, cfg, out);
        }
        done
    }

    pub fn on_write_ack(&mut self, op_id: OpId, from: NodeId) -> Option<Completion> {
        let Some(InFlight::Write(op)) = self.ops.get_mut(&op_id) else {
            return None;
        };
        let i = op.targets.iter().position(|t| *t == from)?;
        if op.acked & (1 << i) != 0 {
            return None;
        }
        op.acked |= 1 << i;
        op.tally.count(i);
        // Each target acknowledges at most once (the bit mask), so a write never counts
        // more acks than it has targets.
        let acks = op.acked.count_ones() as usize;
        assert!(
            acks <= op.targets.len(),
            "a write counted more acks than targets"
        );
        let mut done = None;
        if !op.answered && op.tally.met() {
            op.answered = true;
            done = Some(Completion::new(
                op.origin,
                OpResult::Put(Ok(op.version.clone())),
            ));
        }
        if acks >= op.targets.len() {
            self.ops.remove(&op_id);
        }
        done
    }

    /// The wakeup for operation timers fired: runs every timer due by `now` whose operation
    /// is still in flight, in the order they fell due, then asks for the next wakeup.
    pub fn on_deadlines(
        &mut self,
        now: SimTime,
        cfg: &QuorumConfig,
        out: &mut Vec<Effect>,
    ) -> SmallVec<[Completion; 1]> {
        self.deadlines.woke(now);
        let mut done = SmallVec::new();
        while let Some((lane, op)) = self.deadlines.pop_due(now) {
            done.extend(self.on_timer(OpTimer::ALL[lane], op, cfg, out));
        }
        let ops = &self.ops;
        if let Some(at) = self.deadlines.rearm(|op| ops.contains_key(op)) {
            out.push(wakeup(now, at));
        }
        done
    }

    /// One of `op_id`'s timers is due; it does nothing once the operation ended.
    fn on_timer(
        &mut self,
        timer: OpTimer,
        op_id: OpId,
        cfg: &QuorumConfig,
        out: &mut Vec<Effect>,
    ) -> Option<Completion> {
        match timer {
            OpTimer::RepairWindow => {
                // Repair what the window caught; keep the op until every target answered
                // or it times out, so silent targets are still noticed.
                if let Some(InFlight::Read(op)) = self.ops.get(&op_id)
                    && !op.repaired
                {
                    self.repair(op, cfg, out);
                }
                if let Some(InFlight::Read(op)) = self.ops.get_mut(&op_id) {
                    op.repaired = true;
                }
                None
            }
            OpTimer::Suspect => {
                let op = self.ops.get_mut(&op_id)?;
                *op.suspected() = true;
                op.silent_targets(&mut self.unanswered);
                None
            }
            OpTimer::Timeout => {
                let mut op = self.ops.remove(&op_id)?;
                if !*op.suspected() {
                    op.silent_targets(&mut self.unanswered);
                }
                if op.answered() {
                    // Answered already; only late replies were still awaited.
                    if let InFlight::Read(read) = op
                        && !read.repaired
                    {
                        self.repair(&read, cfg, out);
                    }
                    return None;
                }
                Some(Completion::new(
                    op.origin(),
                    OpResult::failed(op.op(), FailCause::Timeout),
                ))
            }
        }
    }

    /// Ends a read; with read repair on, sends each replica that answered with stale data
    /// the versions it lacks.
    fn finish_read(&mut self, op_id: OpId, cfg: &QuorumConfig, out: &mut Vec<Effect>) {
        let Some(InFlight::Read(op)) = self.ops.remove(&op_id) else {
            return;
        };
        if !op.repaired {
            self.repair(&op, cfg, out);
        }
    }

    fn repair(&self, op: &ReadOp, cfg: &QuorumConfig, out: &mut Vec<Effect>) {
        if !cfg.read_repair {
            return;
        }
        for (node, held) in &op.replies {
            let stale = op.merged.iter().filter(|v| !cfg.rules.covers(held, v));
            if cfg.rules.ships_siblings() {
                // The whole reconciled set in one message: siblings travel together.
                if let (true, Some((first, rest))) = (stale.count() > 0, op.merged.split_first()) {
                    out.push(repair_write(*node, op.key, first.clone(), rest.to_vec()));
                }
            } else {
                for v in stale {
                    out.push(repair_write(*node, op.key, v.clone(), Vec::new()));
                }
            }
        }
    }
}

/// The effect asking the host for the coordinator's next wakeup, at `at`.
fn wakeup(now: SimTime, at: SimTime) -> Effect {
    // A new deadline is after now, and a wakeup takes every due one before it asks again.
    assert!(at >= now, "a wakeup asked for at {at} before now ({now})");
    Effect::SetTimer {
        after: SimTime(at.as_micros() - now.as_micros()),
        timer: Timer::OpDeadlines,
    }
}

/// A read repair: a write without an operation id (no acknowledgement wanted).
fn repair_write(node: NodeId, key: KeyId, version: Version, siblings: Vec<Version>) -> Effect {
    Effect::Send {
        to: Endpoint::Node(node),
        msg: Message::ReplicaWrite {
            op: None,
            key,
            version,
            siblings,
            hint: None,
            durable: false,
        },
        disk: super::message::DiskOp::None,
    }
}

/// The coordinator hosted by a node: replies and timers reach it through these, and what
/// finishes is answered to the client.
impl super::Node {
    pub(super) fn on_replica_read_reply(
        &mut self,
        now: SimTime,
        from: Endpoint,
        op: OpId,
        versions: Versions,
        out: &mut Vec<Effect>,
    ) {
        let Endpoint::Node(from) = from else { return };
        let done = self
            .coordinator
            .on_read_reply(now, op, from, versions, &self.cfg.quorum, out);
        self.deliver(done, out);
    }

    pub(super) fn on_replica_write_ack(&mut self, from: Endpoint, op: OpId, out: &mut Vec<Effect>) {
        let Endpoint::Node(from) = from else { return };
        let done = self.coordinator.on_write_ack(op, from);
        self.deliver(done, out);
    }

    /// Operations' timeouts, suspicions or read-repair windows fell due: finish them,
    /// suspect who stayed silent.
    pub(super) fn on_op_deadlines(&mut self, now: SimTime, out: &mut Vec<Effect>) {
        let done = self.coordinator.on_deadlines(now, &self.cfg.quorum, out);
        for finished in done {
            self.deliver(Some(finished), out);
        }
        self.absorb_unanswered(now, out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::WriteId;
    use crate::node::versioning::{Causal, VClock};

    fn cfg(r: usize, w: usize) -> QuorumConfig {
        QuorumConfig {
            read: QuorumRule::count(r),
            write: QuorumRule::count(w),
            rules: VersionRules::VectorClock,
            read_repair: true,
            read_repair_window: SimTime(10_000),
            op_timeout: SimTime(300_000),
            suspect_after: SimTime(300_000),
            name_fastest: false,
            durable_writes: 0,
        }
    }

    fn alone(version: Version) -> NewObject {
        NewObject {
            version,
            siblings: Vec::new(),
        }
    }

    fn version(write: u64, counter: u32) -> Version {
        let mut clock = VClock::default();
        for _ in 0..counter {
            clock = clock.increment(NodeId(0), 1, 10);
        }
        Version {
            write: WriteId(write),
            causal: Causal::from_clock(clock),
            stamp_us: 0,
            tombstone: false,
        }
    }

    /// The tally of plain R or W over `targets` (all primaries, one datacenter).
    fn tally(rule: &QuorumRule, targets: &[NodeId]) -> Tally {
        let direct: Vec<_> = targets.iter().map(|t| (*t, None)).collect();
        Tally::plan(
            rule,
            targets,
            &direct,
            |_| crate::ids::DcId(0),
            crate::ids::DcId(0),
        )
        .expect("enough targets")
    }

    const ORIGIN: Origin = Origin {
        client: ClientId(0),
        req: RequestId(1),
    };

    #[test]
    fn read_answers_after_r_replies_and_repairs_the_stale_replica() {
        let mut c = Coordinator::default();
        let mut out = Vec::new();
        let cfg = cfg(2, 2);
        let targets = [NodeId(0), NodeId(1), NodeId(2)];
        c.start_read(
            SimTime(0),
            KeyId(7),
            &targets,
            tally(&cfg.read, &targets),
            ORIGIN,
            &cfg,
            &mut out,
        );
        assert_eq!(out.len(), 4, "three requests and a timeout");
        let op = OpId(1);
        out.clear();
        let fresh: Versions = [version(2, 2)].into_iter().collect();
        let stale: Versions = [version(1, 1)].into_iter().collect();
        assert!(
            c.on_read_reply(SimTime(0), op, NodeId(0), fresh.clone(), &cfg, &mut out)
                .is_none()
        );
        let done = c.on_read_reply(SimTime(0), op, NodeId(1), stale, &cfg, &mut out);
        match done {
            Some(Completion {
                result: OpResult::Get(Ok(vs)),
                ..
            }) => {
                assert_eq!(vs.iter().map(|v| v.write.0).collect::<Vec<_>>(), vec![2]);
            }
            other => panic!("expected an answer, got {other:?}"),
        }
        // The third reply closes the op and triggers repair of node 1 only.
        out.clear();
        assert!(
            c.on_read_reply(SimTime(0), op, NodeId(2), fresh, &cfg, &mut out)
                .is_none()
        );
        let repaired: Vec<_> = out
            .iter()
            .filter_map(|e| match e {
                Effect::Send {
                    to,
                    msg: Message::ReplicaWrite { op: None, .. },
                    ..
                } => Some(*to),
                _ => None,
            })
            .collect();
        assert_eq!(repaired, vec![Endpoint::Node(NodeId(1))]);
        assert_eq!(c.in_flight(), 0);
    }

    #[test]
    fn write_answers_after_w_acks_and_times_out_without_them() {
        let mut c = Coordinator::default();
        let mut out = Vec::new();
        let cfg = cfg(1, 2);
        let targets = [(NodeId(0), None), (NodeId(1), None), (NodeId(2), None)];
        c.start_write(
            SimTime(0),
            KeyId(1),
            alone(version(1, 1)),
            Fanout {
                targets: &targets,
                tally: tally(&cfg.write, &[NodeId(0), NodeId(1), NodeId(2)]),
            },
            ORIGIN,
            &cfg,
            &mut out,
        );
        assert!(c.on_write_ack(OpId(1), NodeId(0)).is_none());
        assert!(
            c.on_write_ack(OpId(1), NodeId(0)).is_none(),
            "duplicate ack"
        );
        assert!(matches!(
            c.on_write_ack(OpId(1), NodeId(2)),
            Some(Completion {
                result: OpResult::Put(Ok(_)),
                ..
            })
        ));
        // A second write, a little later, gets one ack only, then times out.
        c.start_write(
            SimTime(10),
            KeyId(1),
            alone(version(2, 2)),
            Fanout {
                targets: &targets,
                tally: tally(&cfg.write, &[NodeId(0), NodeId(1), NodeId(2)]),
            },
            ORIGIN,
            &cfg,
            &mut out,
        );
        assert!(c.on_write_ack(OpId(2), NodeId(1)).is_none());
        // The first write's timeout falls due after it was answered: nothing to report,
        // but node 1 never acknowledged it.
        assert!(c.on_deadlines(cfg.op_timeout, &cfg, &mut out).is_empty());
        assert_eq!(c.in_flight(), 1);
        let t = c.on_deadlines(SimTime(cfg.op_timeout.0 + 10), &cfg, &mut out);
        assert!(matches!(
            t.as_slice(),
            [Completion {
                result: OpResult::Put(Err(FailCause::Timeout)),
                ..
            }]
        ));
        assert_eq!(c.in_flight(), 0);
        let mut silent = std::mem::take(&mut c.unanswered);
        silent.sort();
        assert_eq!(silent, vec![NodeId(0), NodeId(1), NodeId(2)]);
    }

    #[test]
    fn operation_ids_keep_counting_across_a_crash() {
        let mut c = Coordinator::default();
        let mut out = Vec::new();
        let cfg = cfg(2, 2);
        let targets = [NodeId(0), NodeId(1), NodeId(2)];
        c.start_read(
            SimTime(0),
            KeyId(1),
            &targets,
            tally(&cfg.read, &targets),
            ORIGIN,
            &cfg,
            &mut out,
        );
        c.clear(); // the host crashed
        c.start_read(
            SimTime(0),
            KeyId(1),
            &targets,
            tally(&cfg.read, &targets),
            ORIGIN,
            &cfg,
            &mut out,
        );
        assert_eq!(c.in_flight(), 1);
        let fresh: Versions = [version(1, 1)].into_iter().collect();
        // Replies to the operation from before the crash find nothing.
        for n in [NodeId(0), NodeId(1)] {
            assert!(
                c.on_read_reply(SimTime(0), OpId(1), n, fresh.clone(), &cfg, &mut out)
                    .is_none()
            );
        }
        assert_eq!(c.in_flight(), 1);
        assert!(
            c.on_read_reply(
                SimTime(0),
                OpId(2),
                NodeId(0),
                fresh.clone(),
                &cfg,
                &mut out
            )
            .is_none()
        );
        assert!(
            c.on_read_reply(SimTime(0), OpId(2), NodeId(1), fresh, &cfg, &mut out)
                .is_some()
        );
    }

    #[test]
    fn without_notfound_ok_an_empty_answer_waits_for_one_that_holds_the_key() {
        let mut c = Coordinator::default();
        let mut out = Vec::new();
        let mut cfg = cfg(1, 1);
        cfg.read.notfound_ok = false;
        let targets = [NodeId(0), NodeId(1), NodeId(2)];
        let held: Versions = [version(1, 1)].into_iter().collect();
        c.start_read(
            SimTime(0),
            KeyId(1),
            &targets,
            tally(&cfg.read, &targets),
            ORIGIN,
            &cfg,
            &mut out,
        );
        assert!(
            c.on_read_reply(
                SimTime(0),
                OpId(1),
                NodeId(0),
                Versions::new(),
                &cfg,
                &mut out
            )
            .is_none(),
            "an empty answer does not meet R = 1"
        );
        match c.on_read_reply(SimTime(0), OpId(1), NodeId(2), held, &cfg, &mut out) {
            Some(Completion {
                result: OpResult::Get(Ok(vs)),
                ..
            }) => assert_eq!(vs.len(), 1),
            other => panic!("expected the held version, got {other:?}"),
        }
        // When every replica asked says "not found", that is the answer.
        c.start_read(
            SimTime(0),
            KeyId(2),
            &targets,
            tally(&cfg.read, &targets),
            ORIGIN,
            &cfg,
            &mut out,
        );
        for (i, n) in targets.iter().enumerate() {
            let done = c.on_read_reply(SimTime(0), OpId(2), *n, Versions::new(), &cfg, &mut out);
            assert_eq!(done.is_some(), i == 2, "reply {i}");
        }
    }

    #[test]
    fn a_read_reply_from_a_node_not_asked_does_not_count() {
        let mut c = Coordinator::default();
        let mut out = Vec::new();
        let cfg = cfg(2, 2);
        let targets = [NodeId(0), NodeId(1)];
        c.start_read(
            SimTime(0),
            KeyId(1),
            &targets,
            tally(&cfg.read, &targets),
            ORIGIN,
            &cfg,
            &mut out,
        );
        let fresh: Versions = [version(1, 1)].into_iter().collect();
        assert!(
            c.on_read_reply(
                SimTime(0),
                OpId(1),
                NodeId(0),
                fresh.clone(),
                &cfg,
                &mut out
            )
            .is_none()
        );
        assert!(
            c.on_read_reply(
                SimTime(0),
                OpId(1),
                NodeId(7),
                fresh.clone(),
                &cfg,
                &mut out
            )
            .is_none(),
            "node 7 was not a target"
        );
        let done = c.on_read_reply(SimTime(0), OpId(1), NodeId(1), fresh, &cfg, &mut out);
        assert!(matches!(done, Some(Completion { fastest: None, .. })));
    }

    #[test]
    fn silent_targets_are_suspected_at_suspect_after_and_the_op_lives_on() {
        let mut c = Coordinator::default();
        let mut out = Vec::new();
        let mut cfg = cfg(2, 2);
        cfg.suspect_after = SimTime(50_000);
        cfg.name_fastest = true;
        let targets = [NodeId(0), NodeId(1), NodeId(2)];
        c.start_read(
            SimTime(0),
            KeyId(1),
            &targets,
            tally(&cfg.read, &targets),
            ORIGIN,
            &cfg,
            &mut out,
        );
        assert!(out.iter().any(|e| matches!(
            e,
            Effect::SetTimer {
                after: SimTime(50_000),
                timer: Timer::OpDeadlines
            }
        )));
        let fresh: Versions = [version(1, 1)].into_iter().collect();
        c.on_read_reply(
            SimTime(0),
            OpId(1),
            NodeId(2),
            fresh.clone(),
            &cfg,
            &mut out,
        );
        assert!(c.on_deadlines(SimTime(50_000), &cfg, &mut out).is_empty());
        let mut silent = std::mem::take(&mut c.unanswered);
        silent.sort();
        assert_eq!(silent, vec![NodeId(0), NodeId(1)]);
        // Still open: a late reply answers it, naming the first replier as fastest.
        let done = c.on_read_reply(SimTime(0), OpId(1), NodeId(0), fresh, &cfg, &mut out);
        assert!(matches!(
            done,
            Some(Completion {
                fastest: Some(NodeId(2)),
                ..
            })
        ));
        // At its end, node 1 (still silent) is not reported a second time.
        c.on_deadlines(cfg.op_timeout, &cfg, &mut out);
        assert!(c.unanswered.is_empty());
    }
}
