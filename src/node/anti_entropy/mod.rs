//! Anti-entropy (Dynamo §4.7): each node walks the key ranges it replicates, one range per
//! step spread over `interval`, and exchanges that range's Merkle tree with another home
//! replica of it (in turn). An exchange descends level by level through the differing
//! subtrees (`AeHashes`), compares per-key hashes at the leaves (`AeKeys`), and moves the
//! versions of the keys that differ in both directions (`AeData`); with `leaf_range`
//! (Cassandra's repair) it moves every key under a differing leaf instead. The trees
//! themselves (`merkle`) are kept by `Storage`: the root on every write, the rest when an
//! exchange reads it (`Storage::settle_tree`).
//!
//! An exchange that moves data is recorded on both sides, per range, until the peer says
//! it stored what was sent (`AeDone`, or the answering `AeData`): a node runs one data
//! exchange of a range at a time (as Riak's AAE locks a partition's tree), so it does not
//! start the next exchange of a range while data of the last one is still queued for a
//! disk, and no replica is sent the same keys again. A record lapses after
//! `IN_FLIGHT_INTERVALS` intervals (a lost message must not block a range forever); the
//! peer starting an exchange of the range itself clears it (a node starts only when it
//! holds no record of the range, so it has nothing of it in flight with this one); and a
//! node that defers an exchange asks the peer of its record (`AeAsk`), which answers
//! `AeDone` unless it holds the same record: a peer that crashed (and forgot) or whose
//! `AeDone` was lost frees the range at the next step.

pub mod merkle;

use super::{DiskOp, Effect, Message, Node, Timer, Versions};
use crate::engine::SimTime;
use crate::ids::{Endpoint, KeyId, NodeId};
use smallvec::SmallVec;
use std::collections::BTreeMap;

#[derive(Clone, Debug)]
pub struct AntiEntropyConfig {
    /// Each node exchanges every range it replicates once per interval.
    pub interval: SimTime,
    pub depth: u32,
    /// Stream every key under a differing leaf (`anti_entropy.stream: "leaf_range"`), not
    /// only the keys that differ.
    pub leaf_range: bool,
}

/// How many intervals an exchange's in-flight record lasts at most.
pub const IN_FLIGHT_INTERVALS: u64 = 4;

/// What a node's anti-entropy did.
#[derive(Clone, Debug, Default)]
pub struct AntiEntropyStats {
    pub exchanges: u64,
    pub hashes_compared: u64,
    /// Keys whose versions this node sent (`AeData` entries).
    pub keys_transferred: u64,
    /// Keys whose version sets differed between the two sides at the leaves, counted by
    /// the side that compared them (the receiver of `AeKeys`).
    pub keys_differing: u64,
    /// Keys whose stored versions changed when anti-entropy data arrived here.
    pub keys_repaired: u64,
    /// Exchanges not started: data of the last exchange of the range with that peer was
    /// still in flight.
    pub exchanges_deferred: u64,
    /// In-flight records that lapsed after `IN_FLIGHT_INTERVALS` intervals.
    pub in_flight_expired: u64,
}

/// Exchanges with data in flight, by range: the peer, and until when the record holds.
pub type InFlight = BTreeMap<u32, (NodeId, SimTime)>;

impl Node {
    /// Arms the next anti-entropy step. Ranges are visited one per step, spread evenly over
    /// the interval; the first step is offset by node id so nodes do not move in lockstep.
    pub(super) fn arm_anti_entropy(&mut self, first: bool, out: &mut Vec<Effect>) {
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

    /// The anti-entropy timer fired: exchange the next range, arm the next step.
    pub(super) fn on_anti_entropy_timer(&mut self, now: SimTime, out: &mut Vec<Effect>) {
        self.anti_entropy_step(now, out);
        self.arm_anti_entropy(false, out);
    }

    /// Starts an exchange of the next range with one of its other home replicas (in turn),
    /// unless data of the last exchange with that replica is still in flight.
    fn anti_entropy_step(&mut self, now: SimTime, out: &mut Vec<Effect>) {
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
        if self.ae_in_flight(slot, now) {
            self.ae_stats.exchanges_deferred += 1;
            // Ask the peer whether the exchange is over on its side: one that crashed
            // since, or whose AeDone was lost, answers that it is.
            if let Some((held_with, _)) = self.ae_flights.get(&slot) {
                out.push(Effect::Send {
                    to: Endpoint::Node(*held_with),
                    msg: Message::AeAsk { slot },
                    disk: DiskOp::None,
                });
            }
            return;
        }
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

    /// Whether an exchange of `slot` (with any peer) still has data in flight. A record
    /// past its bound is dropped (counted), and so is one with a peer that by this node's
    /// ring no longer replicates the range.
    fn ae_in_flight(&mut self, slot: u32, now: SimTime) -> bool {
        self.ae_held_with(slot, now).is_some()
    }

    /// The peer of the exchange of `slot` whose data is in flight, if any (see
    /// `ae_in_flight`).
    fn ae_held_with(&mut self, slot: u32, now: SimTime) -> Option<NodeId> {
        let (peer, until) = self.ae_flights.get(&slot).copied()?;
        let replicates = (slot as usize) < self.ring.slot_count()
            && self.ring.slot_replicas(slot).contains(&peer);
        if now >= until {
            self.ae_stats.in_flight_expired += 1;
        } else if replicates {
            return Some(peer);
        }
        self.ae_flights.remove(&slot);
        None
    }

    /// Records that an exchange of `slot` with `peer` has data in flight.
    fn ae_hold(&mut self, slot: u32, from: Endpoint, now: SimTime) {
        let (Some(ae), Endpoint::Node(peer)) = (&self.cfg.anti_entropy, from) else {
            return;
        };
        let bound = SimTime(ae.interval.as_micros().saturating_mul(IN_FLIGHT_INTERVALS));
        self.ae_flights.insert(slot, (peer, now + bound));
    }

    /// Whether this node holds a record of an exchange of `slot` with `peer`.
    fn ae_holds_with(&self, slot: u32, peer: NodeId) -> bool {
        self.ae_flights.get(&slot).is_some_and(|(p, _)| *p == peer)
    }

    /// The exchange of `slot` with `from` is over: drop its record (not another peer's).
    fn ae_release(&mut self, slot: u32, from: Endpoint) {
        if let Endpoint::Node(peer) = from
            && self.ae_holds_with(slot, peer)
        {
            self.ae_flights.remove(&slot);
        }
    }

    /// The peer's hashes of tree nodes at `level`: answer with the children of the
    /// differing ones, or at the leaves with the keys they hold here.
    pub(super) fn on_ae_hashes(
        &mut self,
        now: SimTime,
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
        if level == 0 {
            // The peer starts only when it holds no record of this range with this node,
            // so nothing of it is in flight between them any more.
            self.ae_release(slot, from);
        }
        self.ae_stats.hashes_compared += hashes.len() as u64;
        // The root is always current: most exchanges end at it, with no tree to settle.
        if level > 0 {
            self.storage.settle_tree(slot, &self.ring);
        }
        let tree = self.storage.tree(slot);
        let mine = |i: u32| tree.map(|t| t.hash_at(level as u32, i)).unwrap_or(0);
        let differing: Vec<u32> = hashes
            .iter()
            .filter(|(i, h)| mine(*i) != *h)
            .map(|(i, _)| *i)
            .collect();
        if differing.is_empty() {
            return;
        }
        // The answer reads the next level (or the leaves).
        self.storage.settle_tree(slot, &self.ring);
        let tree = self.storage.tree(slot);
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
        if let Message::AeKeys { .. } = &msg {
            // Data follows the keys: not while another exchange's is in flight.
            if self.ae_in_flight(slot, now) {
                return;
            }
            self.ae_hold(slot, from, now);
        }
        out.push(Effect::Send {
            to: from,
            msg,
            disk: DiskOp::None,
        });
    }

    /// The peer's (key, version-set hash) pairs in differing leaves: send the keys whose
    /// hashes differ or that only this side holds, and ask for the ones only it holds
    /// (`leaf_range`: send every key held here under those leaves and ask for every key
    /// the peer holds there).
    pub(super) fn on_ae_keys(
        &mut self,
        now: SimTime,
        from: Endpoint,
        slot: u32,
        leaves: Vec<u32>,
        theirs: Vec<(KeyId, u64)>,
        out: &mut Vec<Effect>,
    ) {
        let leaf_range = self.cfg.anti_entropy.as_ref().is_some_and(|a| a.leaf_range);
        if let Some(held_with) = self.ae_held_with(slot, now) {
            match from {
                // Both sides reached the leaves at once (each started an exchange of the
                // range with the other): the lower id answers, the higher waits for it.
                Endpoint::Node(peer) if peer == held_with && self.id > peer => return,
                Endpoint::Node(peer) if peer == held_with => {}
                // Another peer's data for this range is in flight: decline.
                _ => {
                    out.push(ae_done(from, slot));
                    return;
                }
            }
        }
        self.storage.settle_tree(slot, &self.ring);
        let mine = self.leaf_hashes(slot, &leaves);
        let (send, want) = differing_keys(&mine, &theirs);
        self.ae_stats.keys_differing += (send.len() + want.len()) as u64;
        let (send, want): (Vec<KeyId>, Vec<KeyId>) = if leaf_range {
            (
                mine.iter().map(|(k, _)| *k).collect(),
                theirs.iter().map(|(k, _)| *k).collect(),
            )
        } else {
            self.ae_stats.hashes_compared += theirs.len() as u64;
            (send, want)
        };
        if send.is_empty() && want.is_empty() {
            out.push(ae_done(from, slot));
            return;
        }
        let entries: Vec<(KeyId, Versions)> = (send.iter())
            .map(|k| (*k, self.storage.entry(*k).cloned().unwrap_or_default()))
            .collect();
        self.ae_stats.keys_transferred += entries.len() as u64;
        self.ae_hold(slot, from, now);
        out.push(Effect::Send {
            to: from,
            msg: Message::AeData {
                slot,
                entries,
                want,
            },
            disk: DiskOp::Read,
        });
    }

    /// (key, version-set hash) of every key held here under `leaves` of `slot`'s tree, in
    /// key order.
    fn leaf_hashes(&self, slot: u32, leaves: &[u32]) -> Vec<(KeyId, u64)> {
        let Some(tree) = self.storage.tree(slot) else {
            return Vec::new();
        };
        let mut mine: Vec<(KeyId, u64)> = (leaves.iter())
            .flat_map(|l| tree.keys_in_leaf(*l))
            .map(|k| (k, merkle::versions_hash(self.stored(k))))
            .collect();
        mine.sort_unstable();
        mine
    }

    /// The peer's versions of differing keys (handed over once their disk write is done):
    /// store them, and send back what it wants; with nothing to send back, say that the
    /// data is stored (`AeDone`).
    pub(super) fn on_ae_data(
        &mut self,
        now: SimTime,
        from: Endpoint,
        slot: u32,
        entries: Vec<(KeyId, Versions)>,
        want: Vec<KeyId>,
        out: &mut Vec<Effect>,
    ) {
        for (key, versions) in &entries {
            if self.store_merge(*key, versions, out) {
                self.ae_stats.keys_repaired += 1;
            }
        }
        let send: Vec<(KeyId, Versions)> = want
            .iter()
            .filter_map(|k| self.storage.entry(*k).map(|vs| (*k, vs.clone())))
            .collect();
        if send.is_empty() {
            self.ae_release(slot, from);
            out.push(ae_done(from, slot));
            return;
        }
        self.ae_stats.keys_transferred += send.len() as u64;
        self.ae_hold(slot, from, now);
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

    /// The peer stored what this node sent of `slot` (or had nothing to exchange).
    pub(super) fn on_ae_done(&mut self, from: Endpoint, slot: u32) {
        self.ae_release(slot, from);
    }

    /// The peer holds a record of an exchange of `slot` with this node: say that it is
    /// over here, unless this node holds the same record (its data is still in flight).
    pub(super) fn on_ae_ask(&mut self, from: Endpoint, slot: u32, out: &mut Vec<Effect>) {
        let Endpoint::Node(peer) = from else {
            return;
        };
        if !self.ae_holds_with(slot, peer) {
            out.push(ae_done(from, slot));
        }
    }
}

fn ae_done(to: Endpoint, slot: u32) -> Effect {
    Effect::Send {
        to,
        msg: Message::AeDone { slot },
        disk: DiskOp::None,
    }
}

/// Compares two sides' (key, hash) lists (`mine` sorted): the keys to send (different
/// hash, or held only here) and to ask for (held only there, or different hash).
fn differing_keys(mine: &[(KeyId, u64)], theirs: &[(KeyId, u64)]) -> (Vec<KeyId>, Vec<KeyId>) {
    let mut sorted = theirs.to_vec();
    sorted.sort_unstable();
    let their_hash = |k: KeyId| {
        (sorted.binary_search_by_key(&k, |(t, _)| *t))
            .ok()
            .map(|i| sorted[i].1)
    };
    let send = (mine.iter())
        .filter(|(k, h)| their_hash(*k) != Some(*h))
        .map(|(k, _)| *k)
        .collect();
    let want = (theirs.iter())
        .filter(|(k, h)| {
            mine.binary_search_by_key(k, |(m, _)| *m)
                .map(|i| mine[i].1 != *h)
                .unwrap_or(true)
        })
        .map(|(k, _)| *k)
        .collect();
    (send, want)
}
