//! The hint store (Dynamo §4.6): replicas a node holds on behalf of an unreachable home
//! replica, kept apart from its own data, scanned periodically and handed to the owner
//! once it answers. Bounded: past `capacity` entries new hints are dropped and counted.
//! The node's side of handoff lives here too: the periodic scan that sends each reachable
//! owner a batch of its hints, the owner storing them, and the acknowledgement that
//! deletes them.

use super::fact::{Fact, ids_of, push_discards};
use super::versioning::{Version, VersionRules, Versions};
use super::{DiskOp, Effect, Message, Node, Timer};
use crate::ids::{Endpoint, KeyId, NodeId};
use smallvec::SmallVec;
use std::collections::BTreeMap;

#[derive(Default, Clone, Debug)]
pub struct HintStats {
    pub stored: u64,
    pub delivered: u64,
    pub dropped: u64,
    pub max_backlog: u64,
}

#[derive(Default)]
pub struct HintStore {
    /// owner -> key -> versions. Ordered maps: scans hand hints off in a fixed order.
    by_owner: BTreeMap<NodeId, BTreeMap<KeyId, Versions>>,
    entries: usize,
    pub stats: HintStats,
}

impl HintStore {
    pub fn len(&self) -> usize {
        self.entries
    }

    pub fn is_empty(&self) -> bool {
        self.entries == 0
    }

    /// Stores a hinted replica; returns false if the store is full and the hint dropped.
    pub fn add(
        &mut self,
        owner: NodeId,
        key: KeyId,
        set: &[Version],
        rules: VersionRules,
        capacity: usize,
        facts: &mut Vec<Fact>,
    ) -> bool {
        let per_owner = self.by_owner.entry(owner).or_default();
        if !per_owner.contains_key(&key) && self.entries >= capacity {
            self.stats.dropped += 1;
            if per_owner.is_empty() {
                self.by_owner.remove(&owner);
            }
            return false;
        }
        let held = per_owner.entry(key).or_insert_with(|| {
            self.entries += 1;
            Versions::new()
        });
        let before = ids_of(held);
        rules.merge(held, set);
        push_discards(facts, key, &before, set, held, true);
        // A new key is admitted only below capacity, so the store never outgrows its bound.
        assert!(self.entries <= capacity, "hint store above its bound");
        self.stats.stored += 1;
        self.stats.max_backlog = self.stats.max_backlog.max(self.entries as u64);
        true
    }

    /// Versions of `key` held for any owner (a fallback answers reads from them too).
    pub fn versions_of(&self, key: KeyId) -> impl Iterator<Item = &Version> {
        self.sets_of(key).flatten()
    }

    /// The sets of versions of `key` held for each owner, in owner order.
    pub fn sets_of(&self, key: KeyId) -> impl Iterator<Item = &Versions> {
        self.by_owner.values().filter_map(move |m| m.get(&key))
    }

    pub fn owners(&self) -> impl Iterator<Item = NodeId> + '_ {
        self.by_owner.keys().copied()
    }

    /// Up to `limit` hints for `owner`, in key order.
    pub fn batch(&self, owner: NodeId, limit: usize) -> impl Iterator<Item = (KeyId, &Versions)> {
        self.by_owner
            .get(&owner)
            .into_iter()
            .flatten()
            .take(limit)
            .map(|(k, v)| (*k, v))
    }

    /// The owner acknowledged `key`: drop the hint if it still holds only what was sent
    /// (`delivered`); newer hinted versions stay for the next scan.
    pub fn acknowledge(
        &mut self,
        owner: NodeId,
        key: KeyId,
        delivered: &[Version],
        rules: VersionRules,
    ) {
        let Some(per_owner) = self.by_owner.get_mut(&owner) else {
            return;
        };
        let Some(held) = per_owner.get(&key) else {
            return;
        };
        if held.iter().all(|v| rules.covers(delivered, v)) {
            per_owner.remove(&key);
            self.entries -= 1;
            self.stats.delivered += 1;
            if per_owner.is_empty() {
                self.by_owner.remove(&owner);
            }
        }
    }

    /// The disk is gone.
    pub fn clear(&mut self) {
        self.by_owner.clear();
        self.entries = 0;
    }
}

impl Node {
    pub(super) fn arm_scan(&mut self, out: &mut Vec<Effect>) {
        if self.cfg.hinted_handoff && !self.scan_armed && !self.hints.is_empty() {
            self.scan_armed = true;
            out.push(Effect::SetTimer {
                after: self.cfg.hint_scan_interval,
                timer: Timer::HintScan,
            });
        }
    }

    /// The scan timer fired: hand hints off, re-arm while any are left.
    pub(super) fn on_hint_scan_timer(&mut self, out: &mut Vec<Effect>) {
        self.scan_armed = false;
        self.hand_off_hints(out);
        self.arm_scan(out);
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

    /// This node is the owner: store the handed-off versions and acknowledge them.
    pub(super) fn on_hint_handoff(
        &mut self,
        from: Endpoint,
        key: KeyId,
        versions: Versions,
        out: &mut Vec<Effect>,
    ) {
        if self.membership.left {
            return; // it would leave with this node: the holder keeps its hint
        }
        self.store_merge(key, &versions, out);
        out.push(Effect::Send {
            to: from,
            msg: Message::HintAck { key, versions },
            disk: DiskOp::Write,
        });
    }

    /// The owner stored what was handed off: drop the hint unless it has grown since.
    pub(super) fn on_hint_ack(&mut self, from: Endpoint, key: KeyId, versions: Versions) {
        if let Endpoint::Node(owner) = from {
            self.hints
                .acknowledge(owner, key, &versions, self.cfg.quorum.rules);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::WriteId;
    use crate::node::versioning::{Causal, VClock};

    fn v(w: u64) -> Version {
        Version {
            write: WriteId(w),
            causal: Causal::from_clock(VClock::default().increment(NodeId(9), w as i64, 10)),
            stamp_us: w as i64,
            tombstone: false,
        }
    }

    #[test]
    fn hints_are_bounded_and_deleted_once_acknowledged() {
        let rules = VersionRules::VectorClock;
        let mut h = HintStore::default();
        assert!(h.add(NodeId(1), KeyId(1), &[v(1)], rules, 2, &mut Vec::new()));
        assert!(h.add(NodeId(1), KeyId(2), &[v(2)], rules, 2, &mut Vec::new()));
        assert!(
            !h.add(NodeId(2), KeyId(3), &[v(3)], rules, 2, &mut Vec::new()),
            "full"
        );
        assert_eq!(h.stats.dropped, 1);
        assert_eq!(h.versions_of(KeyId(2)).count(), 1);
        h.acknowledge(NodeId(1), KeyId(1), &[v(1)], rules);
        assert_eq!(h.len(), 1);
        // An ack for an older version leaves a newer hint in place.
        h.add(NodeId(1), KeyId(2), &[v(5)], rules, 2, &mut Vec::new());
        h.acknowledge(NodeId(1), KeyId(2), &[v(2)], rules);
        assert_eq!(h.len(), 1);
        assert_eq!(h.stats.delivered, 1);
        assert_eq!(h.stats.max_backlog, 2);
    }
}
