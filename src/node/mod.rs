//! The Dynamo protocol as sans-IO state machines. A `Node` takes inputs
//! (`handle_message(now, from, msg)`, `handle_timer(now, timer, gossip_rng)`) and pushes effects
//! (messages to send, timers to set) into a buffer its host provides. It never sees the
//! event queue, the network model, the fault injector or the observer, so the same inputs
//! always give the same outputs and it can be tested alone.

pub mod coordinator;
pub mod detector;
pub mod hints;
pub mod membership;
pub mod merkle;
pub mod message;
pub mod version;

pub use coordinator::{Completion, Coordinator, Origin, QuorumConfig};
pub use detector::{FailureDetector, Target, select_targets};
pub use hints::{HintStats, HintStore};
pub use membership::{GossipConfig, TransferStats};
pub use message::{DiskOp, Effect, FailCause, Message, MessageKind, OpId, Route, Timer};
pub use version::{VClock, Version, VersionRules, Versions};

use crate::engine::{SimRng, SimTime};
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
    /// Anti-entropy settings; `None` when it is off (trees are not maintained either).
    pub anti_entropy: Option<AntiEntropyConfig>,
    /// Gossip settings; `None` switches membership gossip off.
    pub gossip: Option<GossipConfig>,
    /// Rate at which a node streams a moving range to its new owner.
    pub transfer_rate_bytes_per_s: u64,
    /// Size of a value, for byte accounting of transfers.
    pub value_bytes: u64,
}

#[derive(Clone, Debug)]
pub struct AntiEntropyConfig {
    /// Each node exchanges every range it replicates once per interval.
    pub interval: SimTime,
    pub depth: u32,
}

/// What a node's anti-entropy did.
#[derive(Clone, Debug, Default)]
pub struct AntiEntropyStats {
    pub exchanges: u64,
    pub hashes_compared: u64,
    pub keys_transferred: u64,
}

/// One Dynamo node: its storage engine, hint store, the requests it coordinates, what it
/// believes about its peers, and its local clock.
///
/// Laid out in declaration order with the fields every message touches first: a node is
/// usually cold in the cache when an event reaches it, and each extra cache line it
/// touches is a miss. Rarely used state (statistics, anti-entropy bookkeeping) comes
/// last. A node holds no random generator: gossip draws come in with each timer.
#[repr(C)]
pub struct Node {
    id: NodeId,
    probe_armed: bool,
    scan_armed: bool,
    cfg: Arc<NodeConfig>,
    ring: Arc<Ring>,
    /// Its epoch is read after every event, and writes check for moving ranges.
    membership: membership::MembershipState,
    detector: FailureDetector,
    store: FxHashMap<KeyId, Versions>,
    coordinator: Coordinator,
    hints: HintStore,
    /// One Merkle tree per key range (slot) this node holds data for.
    trees: FxHashMap<u32, merkle::MerkleTree>,
    /// Skew of this node's wall clock from true time, in µs (clock_skew faults).
    clock_offset_us: i64,
    targets: SmallVec<[Target; 4]>,
    ae_cursor: u64,
    ae_stats: AntiEntropyStats,
}

impl Node {
    pub fn new(id: NodeId, cfg: Arc<NodeConfig>, ring: Arc<Ring>, epoch: u32) -> Node {
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
            trees: FxHashMap::default(),
            ae_cursor: 0,
            ae_stats: AntiEntropyStats::default(),
            membership: membership::MembershipState::new(epoch),
        }
    }

    /// The ring this node routes by (its own view).
    pub fn ring(&self) -> &Arc<Ring> {
        &self.ring
    }

    pub fn anti_entropy_stats(&self) -> &AntiEntropyStats {
        &self.ae_stats
    }

    /// The Merkle tree root of `slot` (0 when the node holds nothing there).
    pub fn tree_root(&self, slot: u32) -> u64 {
        self.trees.get(&slot).map(|t| t.root()).unwrap_or(0)
    }

    /// Called once when the simulation starts: arms periodic work. `gossip_rng` is the
    /// host's gossip stream (see `handle_timer`).
    pub fn start(&mut self, gossip_rng: &mut SimRng, out: &mut Vec<Effect>) {
        self.arm_anti_entropy(true, out);
        self.arm_gossip(gossip_rng, out);
    }

    /// Merges `versions` into the stored versions of `key`, keeping the key's range tree
    /// current. Returns whether anything changed.
    fn store_merge(&mut self, key: KeyId, versions: &[Version]) -> bool {
        let held = self.store.entry(key).or_default();
        let old = merkle::versions_hash(held);
        for v in versions {
            self.cfg.quorum.rules.apply(held, v);
        }
        let new = merkle::versions_hash(held);
        if old == new {
            return false;
        }
        if let Some(ae) = &self.cfg.anti_entropy {
            let slot = self.ring.slot_of(key);
            self.trees
                .entry(slot)
                .or_insert_with(|| merkle::MerkleTree::new(ae.depth))
                .update(key, old, new);
        }
        true
    }

    /// Arms the next anti-entropy step. Ranges are visited one per step, spread evenly over
    /// the interval; the first step is offset by node id so nodes do not move in lockstep.
    fn arm_anti_entropy(&mut self, first: bool, out: &mut Vec<Effect>) {
        let Some(ae) = &self.cfg.anti_entropy else {
            return;
        };
        let ranges = self.ring.home_slots(self.id).len().max(1) as u64;
        let step = SimTime((ae.interval.as_micros() / ranges).max(1_000));
        let after = if first {
            SimTime(crate::engine::rng::mix64(self.id.0 as u64) % ae.interval.as_micros().max(1))
        } else {
            step
        };
        out.push(Effect::SetTimer {
            after,
            timer: Timer::AntiEntropy,
        });
    }

    /// Starts an exchange of the next range with one of its other home replicas (in turn).
    fn anti_entropy_step(&mut self, out: &mut Vec<Effect>) {
        let slots = self.ring.home_slots(self.id);
        if slots.is_empty() {
            return;
        }
        let slot = slots[(self.ae_cursor % slots.len() as u64) as usize];
        let round = self.ae_cursor / slots.len() as u64;
        self.ae_cursor += 1;
        let peers: SmallVec<[NodeId; 4]> = self
            .ring
            .slot_replicas(slot)
            .iter()
            .copied()
            .filter(|n| *n != self.id && self.is_reachable(*n))
            .collect();
        if peers.is_empty() {
            return;
        }
        let peer = peers[(round % peers.len() as u64) as usize];
        self.ae_stats.exchanges += 1;
        out.push(Effect::Send {
            to: Endpoint::Node(peer),
            msg: Message::AeHashes {
                slot,
                level: 0,
                hashes: vec![(0, self.tree_root(slot))],
            },
            disk: DiskOp::None,
        });
    }

    fn on_ae_hashes(
        &mut self,
        from: Endpoint,
        slot: u32,
        level: u8,
        hashes: Vec<(u32, u64)>,
        out: &mut Vec<Effect>,
    ) {
        let Some(ae) = &self.cfg.anti_entropy else {
            return;
        };
        let depth = ae.depth;
        self.ae_stats.hashes_compared += hashes.len() as u64;
        let tree = self.trees.get(&slot);
        let mine = |i: u32| tree.map(|t| t.hash_at(level as u32, i)).unwrap_or(0);
        let differing: Vec<u32> = hashes
            .iter()
            .filter(|(i, h)| mine(*i) != *h)
            .map(|(i, _)| *i)
            .collect();
        if differing.is_empty() {
            return;
        }
        let msg = if level as u32 >= depth {
            let keys = differing
                .iter()
                .flat_map(|leaf| tree.into_iter().flat_map(move |t| t.keys_in_leaf(*leaf)))
                .map(|k| (k, merkle::versions_hash(self.stored(k))))
                .collect();
            Message::AeKeys {
                slot,
                leaves: differing,
                keys,
            }
        } else {
            let next = level + 1;
            let hashes = differing
                .iter()
                .flat_map(|i| [2 * i, 2 * i + 1])
                .map(|c| (c, tree.map(|t| t.hash_at(next as u32, c)).unwrap_or(0)))
                .collect();
            Message::AeHashes {
                slot,
                level: next,
                hashes,
            }
        };
        out.push(Effect::Send {
            to: from,
            msg,
            disk: DiskOp::None,
        });
    }

    fn on_ae_keys(
        &mut self,
        from: Endpoint,
        slot: u32,
        leaves: Vec<u32>,
        theirs: Vec<(KeyId, u64)>,
        out: &mut Vec<Effect>,
    ) {
        self.ae_stats.hashes_compared += theirs.len() as u64;
        let mut mine: Vec<(KeyId, u64)> = match self.trees.get(&slot) {
            Some(t) => leaves
                .iter()
                .flat_map(|l| t.keys_in_leaf(*l))
                .map(|k| (k, 0))
                .collect(),
            None => Vec::new(),
        };
        for entry in mine.iter_mut() {
            entry.1 = merkle::versions_hash(self.stored(entry.0));
        }
        mine.sort_unstable();
        // Keys whose hashes differ, or that only one side holds.
        let their_hash = |k: KeyId| theirs.iter().find(|(t, _)| *t == k).map(|(_, h)| *h);
        let mut send: Vec<(KeyId, Versions)> = Vec::new();
        for (k, h) in &mine {
            if their_hash(*k) != Some(*h) {
                send.push((*k, self.store.get(k).cloned().unwrap_or_default()));
            }
        }
        let want: Vec<KeyId> = theirs
            .iter()
            .filter(|(k, h)| {
                mine.binary_search_by_key(k, |(m, _)| *m)
                    .map(|i| mine[i].1 != *h)
                    .unwrap_or(true)
            })
            .map(|(k, _)| *k)
            .collect();
        if send.is_empty() && want.is_empty() {
            return;
        }
        self.ae_stats.keys_transferred += send.len() as u64;
        out.push(Effect::Send {
            to: from,
            msg: Message::AeData {
                slot,
                entries: send,
                want,
            },
            disk: DiskOp::Read,
        });
    }

    fn on_ae_data(
        &mut self,
        from: Endpoint,
        slot: u32,
        entries: Vec<(KeyId, Versions)>,
        want: Vec<KeyId>,
        out: &mut Vec<Effect>,
    ) {
        for (key, versions) in &entries {
            self.store_merge(*key, versions);
        }
        if want.is_empty() {
            return;
        }
        let send: Vec<(KeyId, Versions)> = want
            .iter()
            .filter_map(|k| self.store.get(k).map(|vs| (*k, vs.clone())))
            .collect();
        if send.is_empty() {
            return;
        }
        self.ae_stats.keys_transferred += send.len() as u64;
        out.push(Effect::Send {
            to: from,
            msg: Message::AeData {
                slot,
                entries: send,
                want: Vec::new(),
            },
            disk: DiskOp::Read,
        });
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
        self.membership.gossip_armed_reset();
    }

    /// The disk is lost: stored data and hints go with it.
    pub fn wipe_disk(&mut self) {
        self.store = FxHashMap::default();
        self.hints.clear();
        self.trees = FxHashMap::default();
    }

    /// The process starts again: re-arm periodic work that survives on disk.
    pub fn restart(&mut self, gossip_rng: &mut SimRng, out: &mut Vec<Effect>) {
        self.arm_scan(out);
        self.arm_anti_entropy(true, out);
        self.arm_gossip(gossip_rng, out);
        self.arm_transfer(out);
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
                route,
            } => {
                self.note_route(key, route);
                if route != Route::Forwarded
                    && let Some(to) = self.forward_to(key)
                {
                    let msg = Message::Get {
                        req,
                        client,
                        key,
                        route: Route::Forwarded,
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
                route,
            } => {
                self.note_route(key, route);
                if route != Route::Forwarded
                    && let Some(to) = self.forward_to(key)
                {
                    let msg = Message::Put {
                        req,
                        client,
                        key,
                        write,
                        context,
                        blind,
                        route: Route::Forwarded,
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
                        // Copy the stored versions only while a range is being moved:
                        // the common write path stays free of the clone.
                        if self.store_merge(key, std::slice::from_ref(&version))
                            && self.is_moving_data()
                        {
                            let held = self.store.get(&key).cloned().unwrap_or_default();
                            self.forward_moving_write(key, &held, out);
                        }
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
                self.store_merge(key, &versions);
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
            Message::AeHashes {
                slot,
                level,
                hashes,
            } => self.on_ae_hashes(from, slot, level, hashes, out),
            Message::AeKeys { slot, leaves, keys } => {
                self.on_ae_keys(from, slot, leaves, keys, out)
            }
            Message::AeData {
                slot,
                entries,
                want,
            } => self.on_ae_data(from, slot, entries, want, out),
            Message::Gossip { epoch } => self.on_gossip(from, epoch, out),
            Message::GossipUpdate { epoch, ring, .. } => self.learn_ring(epoch, ring),
            Message::MembershipPoll => out.push(Effect::Send {
                to: from,
                msg: Message::MembershipReply {
                    epoch: self.membership.epoch,
                    ring: self.ring.clone(),
                    bytes: self.membership_bytes(0),
                },
                disk: DiskOp::None,
            }),
            Message::TransferBatch { entries } => self.on_transfer_batch(entries),
            Message::TransferDone => self.on_transfer_done(from, out),
            Message::TransferDoneAck => self.on_transfer_done_ack(from),
            Message::GetReply { .. }
            | Message::PutReply { .. }
            | Message::MembershipReply { .. } => {
                debug_assert!(false, "a node received a client reply");
            }
        }
    }

    /// A timer fired. Randomness is an input like time: `gossip_rng` is the host's stream
    /// for gossip (peer choice), one stream for every node, so a round reads no per-node
    /// generator state (a cold cache line or two on each of thousands of nodes a second).
    pub fn handle_timer(
        &mut self,
        now: SimTime,
        timer: Timer,
        gossip_rng: &mut SimRng,
        out: &mut Vec<Effect>,
    ) {
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
            Timer::AntiEntropy => {
                self.anti_entropy_step(out);
                self.arm_anti_entropy(false, out);
            }
            Timer::Gossip => self.gossip_round(gossip_rng, out),
            Timer::Transfer => self.transfer_tick(out),
            Timer::MembershipPoll => {}
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

    /// Counts requests a client sent here believing this node a home replica when, by
    /// this node's view, it is not: the cost of stale membership views.
    fn note_route(&mut self, key: KeyId, route: Route) {
        if route == Route::Direct && !self.ring.is_replica(key, self.id) {
            self.membership.stats.misrouted_requests += 1;
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
