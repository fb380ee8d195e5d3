//! The Dynamo protocol as sans-IO state machines. A `Node` takes inputs
//! (`handle_message(now, from, msg)`, `handle_timer(now, timer)`) and pushes effects
//! (messages to send, timers to set) into a buffer its host provides. It never sees the
//! event queue, the network model, the fault injector or the observer, so the same inputs
//! always give the same outputs and it can be tested alone.

pub mod coordinator;
pub mod detector;
pub mod hints;
pub mod message;
pub mod version;

pub use coordinator::{Completion, Coordinator, Origin, QuorumConfig};
pub use detector::{FailureDetector, Target, select_targets};
pub use hints::{HintStats, HintStore};
pub use message::{DiskOp, Effect, FailCause, Message, MessageKind, OpId, Timer};
pub use version::{VClock, Version, VersionRules, Versions};

use crate::engine::SimTime;
use crate::ids::{Endpoint, FxHashMap, KeyId, NodeId, WriteId};
use crate::ring::Ring;
use smallvec::SmallVec;
use std::sync::Arc;

/// Protocol settings shared by every node of a run.
#[derive(Clone, Debug)]
pub struct NodeConfig {
    pub quorum: QuorumConfig,
    pub n: usize,
    pub vclock_max_entries: usize,
    pub sloppy_quorum: bool,
    pub hinted_handoff: bool,
    pub max_hints: usize,
    pub hint_scan_interval: SimTime,
    /// Hints handed to one owner per scan (a crude handoff rate limit).
    pub handoff_batch: usize,
    pub probe_interval: SimTime,
}

/// One Dynamo node: its storage engine, hint store, the requests it coordinates, what it
/// believes about its peers, and its local clock.
pub struct Node {
    id: NodeId,
    cfg: Arc<NodeConfig>,
    ring: Arc<Ring>,
    store: FxHashMap<KeyId, Versions>,
    hints: HintStore,
    coordinator: Coordinator,
    detector: FailureDetector,
    probe_armed: bool,
    scan_armed: bool,
    /// Skew of this node's wall clock from true time, in µs (clock_skew faults).
    clock_offset_us: i64,
    targets: SmallVec<[Target; 4]>,
}

impl Node {
    pub fn new(id: NodeId, cfg: Arc<NodeConfig>, ring: Arc<Ring>) -> Node {
        Node {
            id,
            cfg,
            ring,
            store: FxHashMap::default(),
            hints: HintStore::default(),
            coordinator: Coordinator::default(),
            detector: FailureDetector::default(),
            probe_armed: false,
            scan_armed: false,
            clock_offset_us: 0,
            targets: SmallVec::new(),
        }
    }

    pub fn id(&self) -> NodeId {
        self.id
    }

    /// The versions this node stores for `key` as a home replica (not hints).
    pub fn stored(&self, key: KeyId) -> &[Version] {
        self.store.get(&key).map(|v| v.as_slice()).unwrap_or(&[])
    }

    /// Number of keys with at least one stored version.
    pub fn key_count(&self) -> usize {
        self.store.len()
    }

    /// Versions of `key` this node holds as hints for other nodes.
    pub fn hinted(&self, key: KeyId) -> impl Iterator<Item = &Version> {
        self.hints.versions_of(key)
    }

    pub fn hint_count(&self) -> usize {
        self.hints.len()
    }

    pub fn hint_stats(&self) -> &HintStats {
        &self.hints.stats
    }

    pub fn coordinating(&self) -> usize {
        self.coordinator.in_flight()
    }

    pub fn suspects(&self) -> impl Iterator<Item = NodeId> + '_ {
        self.detector.suspects()
    }

    /// This node's wall clock: true time plus its skew, never below zero.
    pub fn wall_clock_us(&self, now: SimTime) -> u64 {
        (now.as_micros() as i64)
            .saturating_add(self.clock_offset_us)
            .max(0) as u64
    }

    pub fn set_clock_offset_us(&mut self, offset_us: i64) {
        self.clock_offset_us = offset_us;
    }

    /// The process stops: requests it was coordinating and what it believed about its
    /// peers are forgotten; its disk (data and hints) is kept.
    pub fn crash(&mut self) {
        self.coordinator = Coordinator::default();
        self.detector.clear();
        self.probe_armed = false;
        self.scan_armed = false;
    }

    /// The disk is lost: stored data and hints go with it.
    pub fn wipe_disk(&mut self) {
        self.store = FxHashMap::default();
        self.hints.clear();
    }

    /// The process starts again: re-arm periodic work that survives on disk.
    pub fn restart(&mut self, out: &mut Vec<Effect>) {
        self.arm_scan(out);
    }

    pub fn handle_message(
        &mut self,
        now: SimTime,
        from: Endpoint,
        msg: Message,
        out: &mut Vec<Effect>,
    ) {
        if let Endpoint::Node(peer) = from {
            self.detector.heard_from(peer);
        }
        match msg {
            Message::Get {
                req,
                client,
                key,
                forwarded,
            } => {
                if !forwarded && let Some(to) = self.forward_to(key) {
                    let msg = Message::Get {
                        req,
                        client,
                        key,
                        forwarded: true,
                    };
                    out.push(Effect::Send {
                        to: Endpoint::Node(to),
                        msg,
                        disk: DiskOp::None,
                    });
                    return;
                }
                let origin = Origin { client, req };
                self.choose_targets(key);
                if self.targets.len() < self.cfg.quorum.r {
                    self.reply_failure(origin, true, out);
                    return;
                }
                let nodes: SmallVec<[NodeId; 4]> = self.targets.iter().map(|t| t.0).collect();
                self.coordinator
                    .start_read(key, &nodes, origin, &self.cfg.quorum, out);
            }
            Message::Put {
                req,
                client,
                key,
                write,
                context,
                blind,
                forwarded,
            } => {
                if !forwarded && let Some(to) = self.forward_to(key) {
                    let msg = Message::Put {
                        req,
                        client,
                        key,
                        write,
                        context,
                        blind,
                        forwarded: true,
                    };
                    out.push(Effect::Send {
                        to: Endpoint::Node(to),
                        msg,
                        disk: DiskOp::None,
                    });
                    return;
                }
                let origin = Origin { client, req };
                self.choose_targets(key);
                if self.targets.len() < self.cfg.quorum.w {
                    self.reply_failure(origin, false, out);
                    return;
                }
                let version = self.new_version(now, key, write, &context, blind);
                let targets = std::mem::take(&mut self.targets);
                self.coordinator
                    .start_write(key, version, &targets, origin, &self.cfg.quorum, out);
                self.targets = targets;
            }
            Message::ReplicaRead { op, key } => {
                let mut versions = self.store.get(&key).cloned().unwrap_or_default();
                if !self.hints.is_empty() {
                    let hinted: SmallVec<[Version; 1]> =
                        self.hints.versions_of(key).cloned().collect();
                    self.cfg.quorum.rules.reconcile_into(&mut versions, &hinted);
                }
                out.push(Effect::Send {
                    to: from,
                    msg: Message::ReplicaReadReply { op, versions },
                    disk: DiskOp::Read,
                });
            }
            Message::ReplicaWrite {
                op,
                key,
                version,
                hint,
            } => {
                let accepted = match hint {
                    Some(owner) if owner != self.id => {
                        let ok = self.hints.add(
                            owner,
                            key,
                            &version,
                            self.cfg.quorum.rules,
                            self.cfg.max_hints,
                        );
                        self.arm_scan(out);
                        ok
                    }
                    // A repair aimed at a fallback: its copy lives under a hint, not here.
                    None if op.is_none() && !self.ring.is_replica(key, self.id) => false,
                    _ => {
                        let held = self.store.entry(key).or_default();
                        self.cfg.quorum.rules.apply(held, &version);
                        true
                    }
                };
                if let (Some(op), true) = (op, accepted) {
                    out.push(Effect::Send {
                        to: from,
                        msg: Message::ReplicaWriteAck { op },
                        disk: DiskOp::Write,
                    });
                }
            }
            Message::ReplicaReadReply { op, versions } => {
                let Endpoint::Node(from) = from else { return };
                let done =
                    self.coordinator
                        .on_read_reply(op, from, versions, &self.cfg.quorum, out);
                self.deliver(done, out);
            }
            Message::ReplicaWriteAck { op } => {
                let Endpoint::Node(from) = from else { return };
                let done = self.coordinator.on_write_ack(op, from, &self.cfg.quorum);
                self.deliver(done, out);
            }
            Message::Ping => out.push(Effect::Send {
                to: from,
                msg: Message::Pong,
                disk: DiskOp::None,
            }),
            Message::Pong => {}
            Message::HintHandoff { key, versions } => {
                let held = self.store.entry(key).or_default();
                self.cfg.quorum.rules.reconcile_into(held, &versions);
                out.push(Effect::Send {
                    to: from,
                    msg: Message::HintAck { key, versions },
                    disk: DiskOp::Write,
                });
            }
            Message::HintAck { key, versions } => {
                if let Endpoint::Node(owner) = from {
                    self.hints
                        .acknowledge(owner, key, &versions, self.cfg.quorum.rules);
                }
            }
            Message::GetReply { .. } | Message::PutReply { .. } => {
                debug_assert!(false, "a node received a client reply");
            }
        }
    }

    pub fn handle_timer(&mut self, now: SimTime, timer: Timer, out: &mut Vec<Effect>) {
        match timer {
            Timer::Probe => {
                self.probe_armed = false;
                for peer in self.detector.suspects() {
                    out.push(Effect::Send {
                        to: Endpoint::Node(peer),
                        msg: Message::Ping,
                        disk: DiskOp::None,
                    });
                }
                self.arm_probe(out);
            }
            Timer::HintScan => {
                self.scan_armed = false;
                self.hand_off_hints(out);
                self.arm_scan(out);
            }
            Timer::OpTimeout(_) | Timer::RepairWindow(_) => {
                let done = self.coordinator.on_timer(timer, &self.cfg.quorum, out);
                self.deliver(done, out);
                self.absorb_unanswered(now, out);
            }
        }
    }

    /// Peers that let an operation time out become suspects, probed until they answer.
    fn absorb_unanswered(&mut self, now: SimTime, out: &mut Vec<Effect>) {
        if self.coordinator.unanswered.is_empty() {
            return;
        }
        for peer in std::mem::take(&mut self.coordinator.unanswered) {
            if peer != self.id {
                self.detector.suspect(peer, now);
            }
        }
        self.arm_probe(out);
    }

    fn arm_probe(&mut self, out: &mut Vec<Effect>) {
        if !self.probe_armed && !self.detector.is_empty() {
            self.probe_armed = true;
            out.push(Effect::SetTimer {
                after: self.cfg.probe_interval,
                timer: Timer::Probe,
            });
        }
    }

    fn arm_scan(&mut self, out: &mut Vec<Effect>) {
        if self.cfg.hinted_handoff && !self.scan_armed && !self.hints.is_empty() {
            self.scan_armed = true;
            out.push(Effect::SetTimer {
                after: self.cfg.hint_scan_interval,
                timer: Timer::HintScan,
            });
        }
    }

    /// Sends each reachable owner a batch of the hints held for it; they are deleted when
    /// the owner acknowledges.
    fn hand_off_hints(&mut self, out: &mut Vec<Effect>) {
        let owners: SmallVec<[NodeId; 8]> = self
            .hints
            .owners()
            .filter(|o| !self.detector.is_suspected(*o))
            .collect();
        for owner in owners {
            for (key, versions) in self.hints.batch(owner, self.cfg.handoff_batch) {
                out.push(Effect::Send {
                    to: Endpoint::Node(owner),
                    msg: Message::HintHandoff {
                        key,
                        versions: versions.clone(),
                    },
                    disk: DiskOp::Read,
                });
            }
        }
    }

    fn is_reachable(&self, node: NodeId) -> bool {
        node == self.id || !self.detector.is_suspected(node)
    }

    /// Where a request for `key` should go when this node is not one of its home replicas:
    /// the first reachable home replica (Dynamo §4.5). `None` means coordinate here.
    fn forward_to(&self, key: KeyId) -> Option<NodeId> {
        let homes = self.ring.replicas(key);
        if homes.contains(&self.id) {
            return None;
        }
        homes.iter().copied().find(|n| self.is_reachable(*n))
    }

    fn choose_targets(&mut self, key: KeyId) {
        let mut targets = std::mem::take(&mut self.targets);
        select_targets(
            self.ring.preference(key),
            self.cfg.n,
            self.cfg.sloppy_quorum,
            |n| self.is_reachable(n),
            &mut targets,
        );
        self.targets = targets;
    }

    fn reply_failure(&self, origin: Origin, read: bool, out: &mut Vec<Effect>) {
        let done = if read {
            Completion::Read {
                origin,
                result: Err(FailCause::NotEnoughReplicas),
            }
        } else {
            Completion::Write {
                origin,
                result: Err(FailCause::NotEnoughReplicas),
            }
        };
        self.deliver(Some(done), out);
    }

    /// The coordinator's new version: the client's context (or, for a blind put, the
    /// clocks this node holds for the key) advanced by this node.
    fn new_version(
        &self,
        now: SimTime,
        key: KeyId,
        write: WriteId,
        context: &VClock,
        blind: bool,
    ) -> Version {
        let stamp_us = self.wall_clock_us(now);
        let clock = match self.cfg.quorum.rules {
            VersionRules::LastWriteWins => VClock::default(),
            VersionRules::VectorClock => {
                let base = if blind {
                    version::merged_clock(self.stored(key))
                } else {
                    context.clone()
                };
                base.increment(self.id, stamp_us, self.cfg.vclock_max_entries)
            }
        };
        Version {
            write,
            clock,
            stamp_us,
        }
    }

    fn deliver(&self, done: Option<Completion>, out: &mut Vec<Effect>) {
        let Some(done) = done else { return };
        let (client, msg) = match done {
            Completion::Read { origin, result } => (
                origin.client,
                Message::GetReply {
                    req: origin.req,
                    result,
                },
            ),
            Completion::Write { origin, result } => (
                origin.client,
                Message::PutReply {
                    req: origin.req,
                    result,
                },
            ),
        };
        out.push(Effect::Send {
            to: Endpoint::Client(client),
            msg,
            disk: DiskOp::None,
        });
    }
}
