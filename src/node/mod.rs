//! The Dynamo protocol as sans-IO state machines. A `Node` takes inputs
//! (`handle_message(now, from, msg)`, `handle_timer(now, timer, gossip_rng)`) and pushes effects
//! (messages to send, timers to set) into a buffer its host provides. It never sees the
//! event queue, the network model, the fault injector or the observer, so the same inputs
//! always give the same outputs and it can be tested alone.

pub mod anti_entropy;
pub mod coordinator;
pub mod detector;
pub mod fact;
pub mod hints;
pub mod membership;
pub mod message;
pub mod op;
pub mod phi;
pub mod quorum;
mod replica;
mod router;
pub mod storage;
mod tombstones;
pub mod versioning;

pub use anti_entropy::{AntiEntropyConfig, AntiEntropyStats, merkle};
pub use coordinator::{Completion, Coordinator, Fanout, OpTimer, Origin, QuorumConfig, nodes_of};
pub use detector::{FailureDetector, Target, select_targets};
pub use fact::Fact;
pub use hints::{HintStats, HintStore};
pub use membership::{GossipConfig, TransferStats};
pub use message::{DiskOp, Effect, FailCause, Message, MessageKind, OpId, Route, Timer};
pub use op::{Op, OpResult};
pub use storage::Storage;
pub use versioning::{Actor, Causal, NewObject, VClock, Version, VersionRules, Versions};

use crate::engine::{SimRng, SimTime};
use crate::ids::{Endpoint, KeyId, NodeId};
use crate::ring::Ring;
use smallvec::SmallVec;
use std::sync::Arc;

/// Protocol settings shared by every node of a run.
#[derive(Clone, Debug)]
pub struct NodeConfig {
    pub quorum: QuorumConfig,
    pub n: usize,
    pub vclock_max_entries: usize,
    /// Most versions a put may leave a key with (`usize::MAX`: no limit).
    pub max_siblings: usize,
    pub sloppy_quorum: bool,
    pub hinted_handoff: bool,
    pub max_hints: usize,
    pub hint_scan_interval: SimTime,
    /// Hints handed to one owner per scan (a crude handoff rate limit).
    pub handoff_batch: usize,
    /// A node stops storing hints for an owner it has believed down longer than this
    /// (`replication.hint_window_s`; `None`: no window).
    pub hint_window: Option<SimTime>,
    /// Handoff throttle in bytes per second (`replication.hint_handoff_bytes_per_s`).
    pub handoff_bytes_per_s: Option<f64>,
    pub probe_interval: SimTime,
    /// Anti-entropy settings; `None` when it is off (trees are not maintained either).
    pub anti_entropy: Option<AntiEntropyConfig>,
    /// Gossip settings; `None` switches membership gossip off.
    pub gossip: Option<GossipConfig>,
    /// Rate at which a node streams a moving range to its new owner.
    pub transfer_rate_bytes_per_s: u64,
    /// Size of a value, for byte accounting of transfers.
    pub value_bytes: u64,
    /// How long a replica keeps a tombstone before collecting it (`None`: never).
    pub tombstone_gc_grace: Option<SimTime>,
    /// Phi accrual over the neighbours (`None`: the timeout detector alone).
    pub phi: Option<phi::PhiConfig>,
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
    /// Stored versions and the per-range Merkle trees over them.
    storage: Storage,
    coordinator: Coordinator,
    hints: HintStore,
    /// Skew of this node's wall clock from true time, in µs (clock_skew faults).
    clock_offset_us: i64,
    targets: SmallVec<[Target; 4]>,
    ae_cursor: u64,
    ae_stats: AntiEntropyStats,
    /// Anti-entropy exchanges with data in flight, by range (with their peer).
    ae_flights: anti_entropy::InFlight,
    /// Facts for the observer since the host last took them (see `fact.rs`).
    facts: Vec<Fact>,
    /// How this node numbers the events of the puts it coordinates.
    events: EventNumbers,
    /// Tombstones stored, oldest first, each with one collection timer armed.
    tombstones: tombstones::TombstoneQueue,
    /// Disk reads of Merkle tree rebuilds (bytes per range) its host has yet to do.
    rebuild_reads: Vec<u64>,
}

/// A node's numbering of its own events (versions it makes as coordinator). Kept with its
/// data: a crash keeps it, a lost disk starts a new home incarnation. Counters only grow,
/// so no event number repeats for one actor.
#[derive(Default, Clone, Copy, Debug)]
struct EventNumbers {
    /// Incarnation of the node's data (bumped when the disk is lost).
    home: u32,
    /// Fresh actors handed out for writes coordinated outside the key's home replicas.
    fallbacks: u32,
    counter: u32,
}

/// Fresh fallback actors live above every home incarnation.
const FALLBACK_INCARNATIONS: u32 = 1 << 31;

impl EventNumbers {
    /// The actor and number of the next event: the home actor when this node is a home
    /// replica of the key (it holds the key's data it numbered before), else a fresh one.
    fn next(&mut self, node: NodeId, home_replica: bool) -> (Actor, u32) {
        self.counter = self.counter.saturating_add(1);
        let incarnation = if home_replica {
            self.home
        } else {
            self.fallbacks = self.fallbacks.saturating_add(1);
            FALLBACK_INCARNATIONS | (self.fallbacks & (FALLBACK_INCARNATIONS - 1))
        };
        (Actor { node, incarnation }, self.counter)
    }
}

impl Node {
    pub fn new(id: NodeId, cfg: Arc<NodeConfig>, ring: Arc<Ring>, epoch: u32) -> Node {
        Node {
            id,
            detector: FailureDetector::new(id, &ring, epoch, cfg.phi),
            cfg,
            ring,
            storage: Storage::default(),
            hints: HintStore::default(),
            coordinator: Coordinator::default(),
            probe_armed: false,
            scan_armed: false,
            clock_offset_us: 0,
            targets: SmallVec::new(),
            ae_cursor: 0,
            ae_stats: AntiEntropyStats::default(),
            ae_flights: Default::default(),
            facts: Vec::new(),
            events: EventNumbers::default(),
            tombstones: Default::default(),
            rebuild_reads: Vec::new(),
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

    /// Key ranges with an anti-entropy exchange whose data is in flight (their records).
    pub fn anti_entropy_in_flight(&self) -> usize {
        self.ae_flights.len()
    }

    /// The Merkle tree root of `slot` (0 when the node holds nothing there).
    pub fn tree_root(&self, slot: u32) -> u64 {
        self.storage.tree(slot).map(|t| t.root()).unwrap_or(0)
    }

    /// Called once when the simulation starts: arms periodic work. `gossip_rng` is the
    /// host's gossip stream (see `handle_timer`).
    pub fn start(&mut self, gossip_rng: &mut SimRng, out: &mut Vec<Effect>) {
        self.arm_anti_entropy(true, out);
        self.arm_gossip(gossip_rng, out);
        self.restart_phi(SimTime::ZERO, out);
    }

    /// Merges `versions` into what this node stores for `key` (see `Storage::merge`),
    /// whatever path brought them (a replica write, the coordinator's own put, a repair,
    /// a handoff, anti-entropy, a transfer). A change goes on at once where the node
    /// knows it is not the last stop: to the new owner while a range it is moving
    /// includes the key (so a write the move's snapshot missed reaches it), and to the
    /// key's home replicas when by its own ring this node holds no replica of the key (a
    /// sender routing by an older ring sent it here).
    /// Returns whether anything changed.
    fn store_merge(&mut self, key: KeyId, versions: &[Version], out: &mut Vec<Effect>) -> bool {
        let changed = (self.storage).merge(key, versions, &self.cfg, &self.ring, &mut self.facts);
        if !changed {
            return false;
        }
        if versions.iter().any(|v| v.tombstone) {
            self.note_tombstones(key, versions);
        }
        // Copy the stored versions only while a range is being moved: the common write
        // path stays free of the clone.
        if self.is_moving_data() {
            let held = self.storage.entry(key).cloned().unwrap_or_default();
            self.forward_moving_write(key, &held, out);
        }
        if !self.ring.is_replica(key, self.id) && !self.will_own(key) {
            self.pass_on_to_owners(key, out);
        }
        true
    }

    /// Whether a Merkle tree rebuild left disk reads for the host (`take_rebuild_reads`).
    pub fn has_rebuild_reads(&self) -> bool {
        !self.rebuild_reads.is_empty()
    }

    /// The disk reads of the Merkle tree rebuilds since the last call: the bytes each
    /// rebuilt range reads (the host charges them as background disk work).
    pub fn take_rebuild_reads(&mut self) -> Vec<u64> {
        std::mem::take(&mut self.rebuild_reads)
    }

    /// Whether facts were recorded since the last `drain_facts`.
    pub fn has_facts(&self) -> bool {
        !self.facts.is_empty()
    }

    /// Hands the facts recorded since the last call to `f` (the host's observer tap).
    pub fn drain_facts(&mut self, mut f: impl FnMut(Fact)) {
        for fact in self.facts.drain(..) {
            f(fact);
        }
    }

    pub fn id(&self) -> NodeId {
        self.id
    }

    /// The versions this node stores for `key` as a home replica (not hints).
    pub fn stored(&self, key: KeyId) -> &[Version] {
        self.storage.get(key)
    }

    /// Number of keys with at least one stored version.
    pub fn key_count(&self) -> usize {
        self.storage.len()
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

    /// The operation timers an `OpDeadlines` wakeup at `now` runs (see
    /// `Coordinator::timers_due`).
    pub fn op_timers_due(&self, now: SimTime) -> Vec<(OpId, OpTimer)> {
        self.coordinator.timers_due(now)
    }

    pub fn suspects(&self) -> impl Iterator<Item = NodeId> + '_ {
        self.detector.suspects()
    }

    /// Bytes the failure detector's histories hold (phi accrual; for the memory estimate).
    pub fn detector_bytes(&self) -> usize {
        self.detector.approx_bytes()
    }

    /// This node's wall clock: true time plus its skew (negative when it runs far behind).
    pub fn wall_clock_us(&self, now: SimTime) -> i64 {
        (now.as_micros() as i64).saturating_add(self.clock_offset_us)
    }

    pub fn set_clock_offset_us(&mut self, offset_us: i64) {
        self.clock_offset_us = offset_us;
    }

    /// The process stops: requests it was coordinating and what it believed about its
    /// peers are forgotten; its disk (data and hints) is kept.
    pub fn crash(&mut self) {
        self.coordinator.clear();
        self.detector.clear();
        self.ae_flights.clear();
        self.hints.forget();
        self.probe_armed = false;
        self.scan_armed = false;
        self.membership.gossip_armed_reset();
    }

    /// The disk is lost: stored data and hints go with it.
    /// Physical: the process died before the host's writer flushed these keys from memory
    /// to disk; each now holds the copy its disk kept (Dynamo §6.1's risk). Events this
    /// node numbered are gone with them, so, as after a lost disk, it numbers anew as a
    /// new actor: a later version of its own must not look as if it saw a lost one.
    pub fn lose_unflushed(&mut self, lost: impl IntoIterator<Item = (KeyId, Versions)>) {
        let mut any = false;
        for (key, on_disk) in lost {
            self.storage.restore(key, &on_disk, &self.cfg, &self.ring);
            any = true;
        }
        if any {
            self.events.home = self.events.home.saturating_add(1) & (FALLBACK_INCARNATIONS - 1);
        }
    }

    pub fn wipe_disk(&mut self) {
        self.storage.clear();
        self.hints.clear();
        self.tombstones.clear();
        // What it numbered is gone with the data: number anew as a new actor.
        self.events.home = self.events.home.saturating_add(1) & (FALLBACK_INCARNATIONS - 1);
    }

    /// The process starts again: re-arm periodic work that survives on disk.
    pub fn restart(&mut self, now: SimTime, gossip_rng: &mut SimRng, out: &mut Vec<Effect>) {
        // Anything armed while down (an operator's transfer) armed a timer of the dead
        // life: arm everything anew.
        self.probe_armed = false;
        self.scan_armed = false;
        self.membership.gossip_armed_reset();
        self.arm_scan(out);
        self.arm_anti_entropy(true, out);
        self.arm_gossip(gossip_rng, out);
        self.arm_transfer(out);
        self.rearm_tombstones(now, out);
        self.restart_phi(now, out);
    }

    /// A message arrived from `from`. Any message proves its sender alive; each kind goes
    /// to the sub-protocol that handles it.
    pub fn handle_message(
        &mut self,
        now: SimTime,
        from: Endpoint,
        msg: Message,
        out: &mut Vec<Effect>,
    ) {
        if let Endpoint::Node(peer) = from {
            if self.detector.heard_from(peer) {
                self.facts.push(Fact::Trusted { peer });
            }
            self.hints.heard_from(peer);
        }
        match msg {
            Message::Get {
                req,
                client,
                key,
                route,
            } => self.on_get(now, req, client, key, route, out),
            Message::Put {
                req,
                client,
                key,
                write,
                context,
                blind,
                delete,
                route,
                prefer,
            } => {
                let put = router::PutRequest {
                    req,
                    client,
                    key,
                    write,
                    context,
                    blind,
                    delete,
                    prefer,
                };
                self.on_put(now, put, route, out)
            }
            Message::ReplicaRead { op, key } => self.on_replica_read(from, op, key, out),
            Message::ReplicaWrite {
                op,
                key,
                version,
                siblings,
                hint,
                durable: _,
            } => {
                let write = replica::IncomingWrite {
                    op,
                    key,
                    version,
                    siblings,
                    hint,
                };
                self.on_replica_write(now, from, write, out)
            }
            Message::ReplicaReadReply { op, versions } => {
                self.on_replica_read_reply(now, from, op, versions, out)
            }
            Message::ReplicaWriteAck { op } => self.on_replica_write_ack(from, op, out),
            Message::Ping => self.on_ping(from, out),
            Message::Pong => {}
            Message::Heartbeat => self.on_ping_heartbeat(from, out),
            Message::HeartbeatAck => self.on_heartbeat_ack(now, from),
            Message::HintHandoff { key, versions } => {
                self.on_hint_handoff(from, key, versions, out)
            }
            Message::HintAck { key, versions } => self.on_hint_ack(from, key, versions),
            Message::AeHashes {
                slot,
                level,
                hashes,
            } => self.on_ae_hashes(now, from, slot, level, hashes, out),
            Message::AeKeys { slot, leaves, keys } => {
                self.on_ae_keys(now, from, slot, leaves, keys, out)
            }
            Message::AeData {
                slot,
                entries,
                want,
            } => self.on_ae_data(now, from, slot, entries, want, out),
            Message::AeDone { slot } => self.on_ae_done(from, slot),
            Message::AeAsk { slot } => self.on_ae_ask(from, slot, out),
            Message::Gossip { epoch } => self.on_gossip(from, epoch, out),
            Message::GossipUpdate { epoch, ring, .. } => self.learn_ring(epoch, ring),
            Message::MembershipPoll => self.on_membership_poll(from, out),
            Message::TransferBatch { entries, seq } => {
                self.on_transfer_batch(from, entries, seq, out)
            }
            Message::TransferBatchAck { seq } => self.on_transfer_batch_ack(from, seq),
            Message::TransferDone => self.on_transfer_done(from, out),
            Message::TransferDoneAck => self.on_transfer_done_ack(from),
            Message::GetReply { .. }
            | Message::PutReply { .. }
            | Message::MembershipReply { .. } => {
                debug_assert!(false, "a node received a client reply");
            }
        }
        self.arm_new_tombstones(now, out);
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
            Timer::Probe => self.on_probe_timer(out),
            Timer::HintScan => self.on_hint_scan_timer(now, out),
            Timer::AntiEntropy => self.on_anti_entropy_timer(now, out),
            Timer::Gossip => self.gossip_round(gossip_rng, out),
            Timer::Transfer => self.transfer_tick(out),
            Timer::MembershipPoll => {}
            Timer::TombstoneGc => self.on_tombstone_timer(now, out),
            Timer::Heartbeat => self.on_heartbeat_timer(now, out),
            Timer::OpDeadlines => self.on_op_deadlines(now, out),
        }
    }
}
