//! Gossip membership and range transfer (Dynamo §4.8, §4.9), the node's side.
//!
//! Membership changes (joins, leaves) are administrator actions applied one at a time,
//! so the cluster's history of rings is a sequence of epochs. A node knows a prefix of it:
//! its `epoch` and that epoch's ring, which it routes by. Every gossip interval it sends
//! its epoch to one random member it knows (and now and then to a seed); a peer that knows
//! more answers with the newer ring, one that knows less answers with its own epoch so the
//! first one pushes. A round costs O(changes), never O(cluster size).
//!
//! Moving data: the administrator tells old owners which keys a new owner needs; they
//! stream them at a bounded rate, forward writes to those keys while the move lasts, and
//! report done. A joining node adopts the new ring once every source is done; a leaving
//! node adopts it once its own transfers are acknowledged, and stops.

use super::{DiskOp, Effect, Message, Node, Timer};
use crate::engine::rng::below;
use crate::engine::{SimRng, SimTime};
use crate::ids::FxHashSet;
use crate::ids::{Endpoint, KeyId, NodeId};
use crate::node::Versions;
use crate::ring::Ring;
use smallvec::SmallVec;
use std::collections::{BTreeMap, BTreeSet, VecDeque};

use std::sync::Arc;

/// Gossip settings.
#[derive(Clone, Debug)]
pub struct GossipConfig {
    pub interval: SimTime,
    /// Nodes everyone also gossips with now and then, so views cannot drift apart.
    pub seeds: Vec<NodeId>,
    /// Bytes one membership change adds to a gossip update (its tokens).
    pub change_bytes: u64,
}

/// Every `SEED_EVERY`-th round a node gossips with a seed instead of a random member.
const SEED_EVERY: u64 = 10;
/// How often a source sends the next transfer batch.
pub const TRANSFER_TICK: SimTime = SimTime(100_000);
/// Transfer ticks after which a batch not acknowledged is sent again (1 s), at first.
const RESEND_AFTER_TICKS: u64 = 10;
/// Each resend doubles a transfer's wait before the next (as TCP backs off its
/// retransmission timer), up to this (64 s); an acknowledgement brings it back to
/// `RESEND_AFTER_TICKS`. A batch slow to leave a busy sender's disk is then not sent
/// again every second while its first copy still waits.
const MAX_RESEND_AFTER_TICKS: u64 = 640;
/// Batches of one transfer that may be on their way unacknowledged at once (a second's
/// worth at the transfer rate): a stream's window, so that a receiver or a sender's disk
/// that falls behind slows the stream down instead of being sent ever more batches.
const MAX_UNACKED_BATCHES: usize = 10;

/// Data a node streams to a new owner.
#[derive(Debug)]
pub struct OutgoingTransfer {
    to: NodeId,
    pending: VecDeque<KeyId>,
    /// Keys already sent: later writes to them are forwarded.
    sent: FxHashSet<KeyId>,
    /// Batches sent and not acknowledged yet: seq -> (tick sent, keys). Past
    /// `resend_after` ticks their keys are queued again.
    unacked: BTreeMap<u32, (u64, Vec<KeyId>)>,
    /// Ticks a batch may go unacknowledged before it is sent again (backs off).
    resend_after: u64,
    /// The epoch whose ring makes `to` an owner; forwarding stops once it is known.
    epoch: u32,
    acknowledged: bool,
}

/// A change this node is carrying out: it adopts `ring` as `epoch` when it is done.
#[derive(Debug)]
pub struct PendingRing {
    epoch: u32,
    ring: Arc<Ring>,
    /// Joining: sources that have not reported done yet.
    waiting_for: BTreeSet<NodeId>,
    /// Leaving: adopt once every outgoing transfer is acknowledged.
    leaving: bool,
}

/// What moving data cost this node.
#[derive(Clone, Debug, Default)]
pub struct TransferStats {
    pub keys_sent: u64,
    pub bytes_sent: u64,
    pub misrouted_requests: u64,
}

impl OutgoingTransfer {
    fn new(to: NodeId, pending: VecDeque<KeyId>, epoch: u32) -> OutgoingTransfer {
        OutgoingTransfer {
            to,
            pending,
            sent: FxHashSet::default(),
            unacked: BTreeMap::new(),
            resend_after: RESEND_AFTER_TICKS,
            epoch,
            acknowledged: false,
        }
    }

    /// The keys this transfer still owes its receiver: queued, or sent in a batch not
    /// acknowledged yet.
    fn owed(&self) -> impl Iterator<Item = KeyId> + '_ {
        let unacked = self.unacked.values().flat_map(|(_, keys)| keys.iter());
        self.pending.iter().chain(unacked).copied()
    }
}

impl MembershipState {
    pub(super) fn new(epoch: u32) -> Self {
        MembershipState {
            epoch,
            ..Default::default()
        }
    }

    pub(super) fn gossip_armed_reset(&mut self) {
        self.gossip_armed = false;
        self.transfer_armed = false;
    }
}

/// In declaration order, the fields read on every event first (see `Node`).
#[derive(Default)]
#[repr(C)]
pub struct MembershipState {
    pub(super) epoch: u32,
    gossip_armed: bool,
    transfer_armed: bool,
    outgoing: Vec<OutgoingTransfer>,
    round: u64,
    /// Transfer ticks so far (the clock of batch resends) and the next batch's name.
    transfer_ticks: u64,
    next_batch: u32,
    /// This node carried out its leave: it accepts no data any more (what it took in
    /// after its transfers were acknowledged would leave with it).
    pub(super) left: bool,
    pending: Option<PendingRing>,
    pub(super) stats: TransferStats,
}

impl Node {
    /// The membership epoch this node knows (0 = the initial ring).
    pub fn epoch(&self) -> u32 {
        self.membership.epoch
    }

    pub fn transfer_stats(&self) -> &TransferStats {
        &self.membership.stats
    }

    /// Whether an outgoing range transfer is under way (writes may need forwarding).
    pub fn is_moving_data(&self) -> bool {
        !self.membership.outgoing.is_empty()
    }

    /// Whether the change this node is joining by makes it a replica of `key` (data
    /// arriving for such a key has reached its new owner early, not a wrong node).
    pub(super) fn will_own(&self, key: KeyId) -> bool {
        (self.membership.pending.as_ref())
            .is_some_and(|p| !p.leaving && p.ring.is_replica(key, self.id))
    }

    /// The keys this node still owes a receiver: queued or sent and not acknowledged in a
    /// transfer not finished (a move, a forwarded write, a pass-on). It holds them and
    /// keeps sending them, as a fallback keeps sending its hints.
    pub fn owed_keys(&self) -> BTreeSet<KeyId> {
        let mut owed = BTreeSet::new();
        for t in self.membership.outgoing.iter().filter(|t| !t.acknowledged) {
            owed.extend(t.owed());
        }
        owed
    }

    /// Whether this node still has data to move or a change to finish.
    pub fn is_transferring(&self) -> bool {
        !self.membership.outgoing.is_empty() || self.membership.pending.is_some()
    }

    pub(super) fn arm_gossip(&mut self, rng: &mut SimRng, out: &mut Vec<Effect>) {
        let Some(g) = &self.cfg.gossip else { return };
        if !self.membership.gossip_armed {
            self.membership.gossip_armed = true;
            // Spread first rounds over the interval so nodes do not gossip in lockstep.
            let after = if self.membership.round == 0 {
                SimTime(below(rng, g.interval.as_micros().max(1)))
            } else {
                g.interval
            };
            out.push(Effect::SetTimer {
                after,
                timer: Timer::Gossip,
            });
        }
    }

    pub(super) fn gossip_round(&mut self, rng: &mut SimRng, out: &mut Vec<Effect>) {
        self.membership.gossip_armed = false;
        if self.cfg.gossip.is_none() {
            return;
        }
        self.membership.round += 1;
        if let Some(peer) = self.gossip_peer(rng) {
            out.push(Effect::Send {
                to: Endpoint::Node(peer),
                msg: Message::Gossip {
                    epoch: self.membership.epoch,
                },
                disk: DiskOp::None,
            });
        }
        self.arm_gossip(rng, out);
    }

    /// This round's peer: a random member, or every `SEED_EVERY` rounds a random seed;
    /// never this node itself.
    fn gossip_peer(&self, rng: &mut SimRng) -> Option<NodeId> {
        let g = self.cfg.gossip.as_ref()?;
        let use_seed = self.membership.round.is_multiple_of(SEED_EVERY) && !g.seeds.is_empty();
        let pool: &[NodeId] = if use_seed {
            &g.seeds
        } else {
            self.ring.members()
        };
        if pool.len() > 1 || (pool.len() == 1 && pool[0] != self.id) {
            let mut peer = pool[below(rng, pool.len() as u64) as usize];
            if peer == self.id {
                peer = pool[(pool.iter().position(|p| *p == peer).unwrap_or(0) + 1) % pool.len()];
            }
            return (peer != self.id).then_some(peer);
        }
        None
    }

    /// Push-pull: answer a digest with what the other side lacks, or with our own digest.
    pub(super) fn on_gossip(&mut self, from: Endpoint, epoch: u32, out: &mut Vec<Effect>) {
        let mine = self.membership.epoch;
        if epoch < mine {
            out.push(Effect::Send {
                to: from,
                msg: self.gossip_update(epoch),
                disk: DiskOp::None,
            });
        } else if epoch > mine {
            out.push(Effect::Send {
                to: from,
                msg: Message::Gossip { epoch: mine },
                disk: DiskOp::None,
            });
        }
    }

    /// A client polls this node's membership view.
    pub(super) fn on_membership_poll(&self, from: Endpoint, out: &mut Vec<Effect>) {
        out.push(Effect::Send {
            to: from,
            msg: Message::MembershipReply {
                epoch: self.membership.epoch,
                ring: self.ring.clone(),
                bytes: self.membership_bytes(0),
            },
            disk: DiskOp::None,
        });
    }

    fn gossip_update(&self, their_epoch: u32) -> Message {
        Message::GossipUpdate {
            epoch: self.membership.epoch,
            ring: self.ring.clone(),
            bytes: self.membership_bytes(their_epoch),
        }
    }

    /// What the membership changes after `their_epoch` weigh on the wire (a full view for
    /// epoch 0 requests from clients is approximated by one change per epoch as well).
    fn membership_bytes(&self, their_epoch: u32) -> u64 {
        let per_change = self
            .cfg
            .gossip
            .as_ref()
            .map(|g| g.change_bytes)
            .unwrap_or(64);
        64 + per_change * self.membership.epoch.saturating_sub(their_epoch) as u64
    }

    /// Administrator: a membership change is persisted on this node (the one the
    /// administrator contacts), which then gossips it.
    pub fn learn_from_admin(&mut self, epoch: u32, ring: Arc<Ring>) {
        self.learn_ring(epoch, ring);
    }

    /// A newer view arrived (from gossip, or a client's poll reply): adopt it.
    pub(super) fn learn_ring(&mut self, epoch: u32, ring: Arc<Ring>) {
        // A node carrying out a change adopts its ring itself, once its part is done:
        // hearing it from a carrier that finished first must not let it skip its
        // transfers (a leaver would leave with data not handed off).
        if (self.membership.pending.as_ref()).is_some_and(|p| epoch >= p.epoch) {
            return;
        }
        if epoch > self.membership.epoch {
            self.membership.epoch = epoch;
            let same_ranges = self.ring.same_ranges(&ring);
            let old = std::mem::replace(&mut self.ring, ring);
            if !same_ranges {
                let reads = (self.storage).rebuild_trees(&self.cfg, &old, &self.ring);
                self.rebuild_reads.extend(reads);
                // Range numbers name other ranges now: exchanges of the old ones are over.
                self.ae_flights.clear();
            }
            // Forwarding for a move ends once its new ring is known here.
            self.membership
                .outgoing
                .retain(|t| !(t.acknowledged && t.epoch <= epoch));
        }
    }

    /// Administrator: stream `keys` (those this node holds) to `to`, which owns them from
    /// `epoch` on.
    pub fn begin_transfer(
        &mut self,
        to: NodeId,
        keys: Vec<KeyId>,
        epoch: u32,
        out: &mut Vec<Effect>,
    ) {
        // Every planned key, held or not: one first written here after the move began is
        // marked sent when its turn comes, so that write and later ones are forwarded
        // (filtering by what is held now lost them; issue 21, item 2).
        let pending: VecDeque<KeyId> = keys.into_iter().collect();
        self.membership
            .outgoing
            .push(OutgoingTransfer::new(to, pending, epoch));
        self.arm_transfer(out);
    }

    /// Administrator: this node is joining; adopt `ring` as `epoch` once every source in
    /// `sources` has reported done.
    pub fn begin_join(&mut self, epoch: u32, ring: Arc<Ring>, sources: BTreeSet<NodeId>) {
        self.membership.pending = Some(PendingRing {
            epoch,
            ring,
            waiting_for: sources,
            leaving: false,
        });
        self.try_adopt_pending();
    }

    /// Administrator: this node is leaving; adopt `ring` (without it) as `epoch` once its
    /// transfers are acknowledged.
    pub fn begin_leave(&mut self, epoch: u32, ring: Arc<Ring>) {
        self.membership.pending = Some(PendingRing {
            epoch,
            ring,
            waiting_for: BTreeSet::new(),
            leaving: true,
        });
        self.try_adopt_pending();
    }

    fn try_adopt_pending(&mut self) {
        let ready = match &self.membership.pending {
            Some(p) if p.leaving => self.membership.outgoing.iter().all(|t| t.acknowledged),
            Some(p) => p.waiting_for.is_empty(),
            None => false,
        };
        if ready && let Some(p) = self.membership.pending.take() {
            self.membership.left = p.leaving;
            self.learn_ring(p.epoch, p.ring);
        }
    }

    pub(super) fn arm_transfer(&mut self, out: &mut Vec<Effect>) {
        if !self.membership.transfer_armed
            && self.membership.outgoing.iter().any(|t| !t.acknowledged)
        {
            self.membership.transfer_armed = true;
            out.push(Effect::SetTimer {
                after: TRANSFER_TICK,
                timer: Timer::Transfer,
            });
        }
    }

    /// Sends each unfinished transfer its next batch (rate-limited, and only while fewer
    /// than `MAX_UNACKED_BATCHES` wait for their acknowledgement), or its done notice
    /// once every batch is acknowledged; batches unacknowledged for too long are queued
    /// again first.
    pub(super) fn transfer_tick(&mut self, out: &mut Vec<Effect>) {
        self.membership.transfer_armed = false;
        self.retarget_orphaned_transfers(out);
        self.membership.transfer_ticks += 1;
        let tick = self.membership.transfer_ticks;
        let budget =
            (self.cfg.transfer_rate_bytes_per_s as f64 * TRANSFER_TICK.as_secs_f64()) as u64;
        let value_bytes = self.cfg.value_bytes;
        for i in 0..self.membership.outgoing.len() {
            let t = &mut self.membership.outgoing[i];
            if t.acknowledged {
                continue;
            }
            requeue_expired(t, tick);
            let to = Endpoint::Node(t.to);
            if t.pending.is_empty() {
                if t.unacked.is_empty() {
                    out.push(Effect::Send {
                        to,
                        msg: Message::TransferDone,
                        disk: DiskOp::None,
                    });
                }
                continue;
            }
            if t.unacked.len() >= MAX_UNACKED_BATCHES {
                continue;
            }
            let mut entries: Vec<(KeyId, Versions)> = Vec::new();
            let mut keys = Vec::new();
            let mut bytes = 0;
            while let Some(key) = t.pending.front().copied() {
                if !keys.is_empty() && bytes >= budget {
                    break;
                }
                t.pending.pop_front();
                t.sent.insert(key);
                keys.push(key);
                if let Some(vs) = self.storage.entry(key) {
                    bytes += value_bytes * vs.len() as u64 + 16;
                    entries.push((key, vs.clone()));
                }
            }
            let seq = self.membership.next_batch;
            self.membership.next_batch = seq.wrapping_add(1);
            t.unacked.insert(seq, (tick, keys));
            self.membership.stats.keys_sent += entries.len() as u64;
            self.membership.stats.bytes_sent += bytes;
            out.push(Effect::Send {
                to,
                msg: Message::TransferBatch { entries, seq },
                disk: DiskOp::Read,
            });
        }
        self.arm_transfer(out);
    }

    pub(super) fn on_transfer_batch(
        &mut self,
        from: Endpoint,
        entries: Vec<(KeyId, Versions)>,
        seq: u32,
        out: &mut Vec<Effect>,
    ) {
        if self.membership.left {
            return; // it would leave with this node: the sender resends elsewhere
        }
        for (key, versions) in &entries {
            self.store_merge(*key, versions, out);
        }
        out.push(Effect::Send {
            to: from,
            msg: Message::TransferBatchAck { seq },
            disk: DiskOp::None,
        });
    }

    pub(super) fn on_transfer_batch_ack(&mut self, from: Endpoint, seq: u32) {
        let Endpoint::Node(target) = from else { return };
        for t in self
            .membership
            .outgoing
            .iter_mut()
            .filter(|t| t.to == target)
        {
            if t.unacked.remove(&seq).is_some() {
                t.resend_after = RESEND_AFTER_TICKS;
            }
        }
    }

    pub(super) fn on_transfer_done(&mut self, from: Endpoint, out: &mut Vec<Effect>) {
        let Endpoint::Node(source) = from else { return };
        if let Some(p) = &mut self.membership.pending {
            p.waiting_for.remove(&source);
        }
        out.push(Effect::Send {
            to: from,
            msg: Message::TransferDoneAck,
            disk: DiskOp::None,
        });
        self.try_adopt_pending();
    }

    pub(super) fn on_transfer_done_ack(&mut self, from: Endpoint) {
        let Endpoint::Node(target) = from else { return };
        for t in self
            .membership
            .outgoing
            .iter_mut()
            .filter(|t| t.to == target && t.pending.is_empty() && t.unacked.is_empty())
        {
            t.acknowledged = true;
        }
        let epoch = self.membership.epoch;
        self.membership
            .outgoing
            .retain(|t| !(t.acknowledged && t.epoch <= epoch));
        self.try_adopt_pending();
    }

    /// A replica write from a coordinator routing by an older ring reached this node,
    /// which by its own (newer) ring holds no replica of `key`: it keeps the write (and
    /// acknowledges it) and passes the key on to its home replicas as a transfer of its
    /// own (batched, acknowledged, resent), so an acknowledged write does not stay where
    /// no read or repair will look.
    pub(super) fn pass_on_to_owners(&mut self, key: KeyId, out: &mut Vec<Effect>) {
        let epoch = self.membership.epoch;
        let owners: SmallVec<[NodeId; 8]> = (self.ring.replicas(key).iter())
            .copied()
            .filter(|o| *o != self.id)
            .collect();
        for owner in owners {
            let open = (self.membership.outgoing.iter_mut())
                .find(|t| t.to == owner && t.epoch == epoch && !t.acknowledged);
            match open {
                Some(t) => t.pending.push_back(key),
                None => self.membership.outgoing.push(OutgoingTransfer::new(
                    owner,
                    VecDeque::from([key]),
                    epoch,
                )),
            }
        }
        self.arm_transfer(out);
    }

    /// While a move lasts, writes to moving keys are copied to their new owner as a
    /// batch of their own (acknowledged and resent like the others).
    pub(super) fn forward_moving_write(
        &mut self,
        key: KeyId,
        versions: &[super::Version],
        out: &mut Vec<Effect>,
    ) {
        let epoch = self.membership.epoch;
        let tick = self.membership.transfer_ticks;
        let mut forwarded = false;
        for t in &mut self.membership.outgoing {
            // Keys still queued go out with their batch; sent ones need the new write now.
            if t.epoch > epoch && t.sent.contains(&key) {
                let seq = self.membership.next_batch;
                self.membership.next_batch = seq.wrapping_add(1);
                t.unacked.insert(seq, (tick, vec![key]));
                // Done was acknowledged already: keep the transfer going until this batch is.
                t.acknowledged = false;
                forwarded = true;
                out.push(Effect::Send {
                    to: Endpoint::Node(t.to),
                    msg: Message::TransferBatch {
                        entries: vec![(key, versions.iter().cloned().collect())],
                        seq,
                    },
                    disk: DiskOp::None,
                });
            }
        }
        if forwarded {
            self.arm_transfer(out);
        }
    }

    /// Transfers to a node that is no member of the ring this node knows, for a change
    /// that ring already includes (a pass-on aimed by an older ring at a node that has
    /// left since): their keys still owed go to the keys' owners now, and the transfer
    /// is dropped. It would otherwise resend to a stopped node forever.
    fn retarget_orphaned_transfers(&mut self, out: &mut Vec<Effect>) {
        let epoch = self.membership.epoch;
        let ring = self.ring.clone();
        let orphaned = |t: &OutgoingTransfer| {
            !t.acknowledged && t.epoch <= epoch && !ring.members().contains(&t.to)
        };
        if !self.membership.outgoing.iter().any(orphaned) {
            return;
        }
        let mut owed: Vec<KeyId> = Vec::new();
        for t in self.membership.outgoing.iter().filter(|t| orphaned(t)) {
            owed.extend(t.owed());
        }
        self.membership.outgoing.retain(|t| !orphaned(t));
        owed.sort_unstable();
        owed.dedup();
        for key in owed {
            if self.storage.contains(key) && !ring.is_replica(key, self.id) && !self.will_own(key) {
                self.pass_on_to_owners(key, out);
            }
        }
    }
}

/// Queues again the keys of `t`'s batches that went unacknowledged for too long, and
/// backs off the wait before the next resend.
fn requeue_expired(t: &mut OutgoingTransfer, tick: u64) {
    let mut expired = false;
    while let Some(entry) = t.unacked.first_entry() {
        if entry.get().0 + t.resend_after > tick {
            break;
        }
        expired = true;
        for key in entry.remove().1.into_iter().rev() {
            t.pending.push_front(key);
        }
    }
    if expired {
        t.resend_after = (2 * t.resend_after).min(MAX_RESEND_AFTER_TICKS);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn transfer_with_batch_sent_at(tick: u64) -> OutgoingTransfer {
        let mut t = OutgoingTransfer::new(NodeId(1), VecDeque::new(), 1);
        t.unacked.insert(0, (tick, vec![KeyId(7), KeyId(8)]));
        t
    }

    #[test]
    fn an_unacknowledged_batch_is_resent_with_a_doubling_wait_up_to_the_cap() {
        let mut t = transfer_with_batch_sent_at(0);
        requeue_expired(&mut t, RESEND_AFTER_TICKS - 1);
        assert!(t.pending.is_empty());
        requeue_expired(&mut t, RESEND_AFTER_TICKS);
        assert_eq!(t.pending, [KeyId(7), KeyId(8)]);
        assert_eq!(t.resend_after, 2 * RESEND_AFTER_TICKS);
        // Sent again at tick 10: not due before 10 + 20.
        t.pending.clear();
        t.unacked.insert(1, (10, vec![KeyId(7)]));
        requeue_expired(&mut t, 29);
        assert!(t.pending.is_empty());
        requeue_expired(&mut t, 30);
        assert_eq!(t.resend_after, 4 * RESEND_AFTER_TICKS);
        for _ in 0..10 {
            t.unacked.insert(2, (0, vec![KeyId(9)]));
            requeue_expired(&mut t, u64::MAX / 2);
        }
        assert_eq!(t.resend_after, MAX_RESEND_AFTER_TICKS);
    }
}
