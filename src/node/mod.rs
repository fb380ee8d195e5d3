//! The Dynamo protocol as sans-IO state machines. A `Node` takes inputs
//! (`handle_message(now, from, msg)`, `handle_timer(now, timer)`) and pushes effects
//! (messages to send, timers to set) into a buffer its host provides. It never sees the
//! event queue, the network model, the fault injector or the observer, so the same inputs
//! always give the same outputs and it can be tested alone.

pub mod coordinator;
pub mod message;
pub mod version;

pub use coordinator::{Completion, Coordinator, Origin, QuorumConfig};
pub use message::{DiskOp, Effect, FailCause, Message, MessageKind, OpId, Timer};
pub use version::{VClock, Version, VersionRules, Versions};

use crate::engine::SimTime;
use crate::ids::{Endpoint, FxHashMap, KeyId, NodeId};
use crate::ring::Ring;
use smallvec::SmallVec;
use std::sync::Arc;

/// Protocol settings shared by every node of a run.
#[derive(Clone, Debug)]
pub struct NodeConfig {
    pub quorum: QuorumConfig,
    pub vclock_max_entries: usize,
}

/// One Dynamo node: its storage engine, the requests it coordinates, its local clock.
pub struct Node {
    id: NodeId,
    cfg: Arc<NodeConfig>,
    ring: Arc<Ring>,
    store: FxHashMap<KeyId, Versions>,
    coordinator: Coordinator,
    /// Skew of this node's wall clock from true time, in µs (clock_skew faults).
    clock_offset_us: i64,
}

impl Node {
    pub fn new(id: NodeId, cfg: Arc<NodeConfig>, ring: Arc<Ring>) -> Node {
        Node {
            id,
            cfg,
            ring,
            store: FxHashMap::default(),
            coordinator: Coordinator::default(),
            clock_offset_us: 0,
        }
    }

    pub fn id(&self) -> NodeId {
        self.id
    }

    /// The versions this node stores for `key` (for inspection by the observer and tests).
    pub fn stored(&self, key: KeyId) -> &[Version] {
        self.store.get(&key).map(|v| v.as_slice()).unwrap_or(&[])
    }

    /// Number of keys with at least one stored version.
    pub fn key_count(&self) -> usize {
        self.store.len()
    }

    pub fn coordinating(&self) -> usize {
        self.coordinator.in_flight()
    }

    /// This node's wall clock: true time plus its skew, never below zero.
    pub fn wall_clock_us(&self, now: SimTime) -> u64 {
        (now.as_micros() as i64).saturating_add(self.clock_offset_us).max(0) as u64
    }

    pub fn set_clock_offset_us(&mut self, offset_us: i64) {
        self.clock_offset_us = offset_us;
    }

    /// The process stops: requests it was coordinating are forgotten; its disk is kept.
    pub fn crash(&mut self) {
        self.coordinator.clear();
    }

    /// The disk is lost: all stored data goes with it.
    pub fn wipe_disk(&mut self) {
        self.store = FxHashMap::default();
    }

    pub fn handle_message(&mut self, now: SimTime, from: Endpoint, msg: Message, out: &mut Vec<Effect>) {
        match msg {
            Message::Get { req, client, key, forwarded } => {
                let replicas = self.ring.replicas(key);
                if !forwarded && !replicas.contains(&self.id) {
                    // Load-balanced request for a key this node does not hold: forward to
                    // the first of the top N (Dynamo §4.5).
                    let to = Endpoint::Node(replicas[0]);
                    let msg = Message::Get { req, client, key, forwarded: true };
                    out.push(Effect::Send { to, msg, disk: DiskOp::None });
                    return;
                }
                let targets: SmallVec<[NodeId; 4]> = replicas.iter().copied().collect();
                let origin = Origin { client, req };
                self.coordinator.start_read(key, &targets, origin, &self.cfg.quorum, out);
            }
            Message::Put { req, client, key, write, context, blind, forwarded } => {
                let replicas = self.ring.replicas(key);
                if !forwarded && !replicas.contains(&self.id) {
                    let to = Endpoint::Node(replicas[0]);
                    let msg = Message::Put { req, client, key, write, context, blind, forwarded: true };
                    out.push(Effect::Send { to, msg, disk: DiskOp::None });
                    return;
                }
                let version = self.new_version(now, key, write, &context, blind);
                let targets: SmallVec<[(NodeId, Option<NodeId>); 4]> =
                    replicas.iter().map(|n| (*n, None)).collect();
                let origin = Origin { client, req };
                self.coordinator.start_write(key, version, &targets, origin, &self.cfg.quorum, out);
            }
            Message::ReplicaRead { op, key } => {
                let versions = self.store.get(&key).cloned().unwrap_or_default();
                out.push(Effect::Send {
                    to: from,
                    msg: Message::ReplicaReadReply { op, versions },
                    disk: DiskOp::Read,
                });
            }
            Message::ReplicaWrite { op, key, version, hint: _ } => {
                let held = self.store.entry(key).or_default();
                self.cfg.quorum.rules.apply(held, &version);
                if let Some(op) = op {
                    out.push(Effect::Send {
                        to: from,
                        msg: Message::ReplicaWriteAck { op },
                        disk: DiskOp::Write,
                    });
                }
            }
            Message::ReplicaReadReply { op, versions } => {
                let Endpoint::Node(from) = from else { return };
                let done = self.coordinator.on_read_reply(op, from, versions, &self.cfg.quorum, out);
                self.deliver(done, out);
            }
            Message::ReplicaWriteAck { op } => {
                let done = self.coordinator.on_write_ack(op, &self.cfg.quorum);
                self.deliver(done, out);
            }
            Message::GetReply { .. } | Message::PutReply { .. } => {
                debug_assert!(false, "a node received a client reply");
            }
        }
    }

    pub fn handle_timer(&mut self, _now: SimTime, timer: Timer, out: &mut Vec<Effect>) {
        let done = self.coordinator.on_timer(timer, &self.cfg.quorum, out);
        self.deliver(done, out);
    }

    /// The coordinator's new version: the client's context (or, for a blind put, the
    /// clocks this node holds for the key) advanced by this node.
    fn new_version(&self, now: SimTime, key: KeyId, write: crate::ids::WriteId, context: &VClock, blind: bool) -> Version {
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
        Version { write, clock, stamp_us }
    }

    fn deliver(&self, done: Option<Completion>, out: &mut Vec<Effect>) {
        let Some(done) = done else { return };
        let (client, msg) = match done {
            Completion::Read { origin, result } => (origin.client, Message::GetReply { req: origin.req, result }),
            Completion::Write { origin, result } => (origin.client, Message::PutReply { req: origin.req, result }),
        };
        out.push(Effect::Send {
            to: Endpoint::Client(client),
            msg,
            disk: DiskOp::None,
        });
    }
}
