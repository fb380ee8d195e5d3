//! Anti-entropy (Dynamo §4.7): each node walks the key ranges it replicates, one range per
//! step spread over `interval`, and exchanges that range's Merkle tree with another home
//! replica of it (in turn). An exchange descends level by level through the differing
//! subtrees (`AeHashes`), compares per-key hashes at the leaves (`AeKeys`), and moves only
//! the versions of keys that differ, in both directions (`AeData`). The trees themselves
//! (`merkle`) are kept current by `Storage` on every write.

pub mod merkle;

use super::{DiskOp, Effect, Message, Node, Timer, Versions};
use crate::engine::SimTime;
use crate::ids::{Endpoint, KeyId, NodeId};
use smallvec::SmallVec;

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
    pub(super) fn on_anti_entropy_timer(&mut self, out: &mut Vec<Effect>) {
        self.anti_entropy_step(out);
        self.arm_anti_entropy(false, out);
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

    /// The peer's hashes of tree nodes at `level`: answer with the children of the
    /// differing ones, or at the leaves with the keys they hold here.
    pub(super) fn on_ae_hashes(
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

    /// The peer's (key, version-set hash) pairs in differing leaves: send the keys whose
    /// hashes differ or that only this side holds, and ask for the ones only it holds.
    pub(super) fn on_ae_keys(
        &mut self,
        from: Endpoint,
        slot: u32,
        leaves: Vec<u32>,
        theirs: Vec<(KeyId, u64)>,
        out: &mut Vec<Effect>,
    ) {
        self.ae_stats.hashes_compared += theirs.len() as u64;
        let mut mine: Vec<(KeyId, u64)> = match self.storage.tree(slot) {
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
                send.push((*k, self.storage.entry(*k).cloned().unwrap_or_default()));
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

    /// The peer's versions of differing keys: store them, and send back what it wants.
    pub(super) fn on_ae_data(
        &mut self,
        from: Endpoint,
        slot: u32,
        entries: Vec<(KeyId, Versions)>,
        want: Vec<KeyId>,
        out: &mut Vec<Effect>,
    ) {
        for (key, versions) in &entries {
            self.store_merge(*key, versions, out);
        }
        if want.is_empty() {
            return;
        }
        let send: Vec<(KeyId, Versions)> = want
            .iter()
            .filter_map(|k| self.storage.entry(*k).map(|vs| (*k, vs.clone())))
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
}
