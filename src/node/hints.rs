//! The hint store (Dynamo §4.6): replicas a node holds on behalf of an unreachable home
//! replica, kept apart from its own data, scanned periodically and handed to the owner
//! once it answers. Bounded: past `capacity` entries new hints are dropped and counted.

use super::version::{Version, VersionRules, Versions};
use crate::ids::{KeyId, NodeId};
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
        version: &Version,
        rules: VersionRules,
        capacity: usize,
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
        rules.apply(held, version);
        self.stats.stored += 1;
        self.stats.max_backlog = self.stats.max_backlog.max(self.entries as u64);
        true
    }

    /// Versions of `key` held for any owner (a fallback answers reads from them too).
    pub fn versions_of(&self, key: KeyId) -> impl Iterator<Item = &Version> {
        self.by_owner
            .values()
            .filter_map(move |m| m.get(&key))
            .flatten()
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::WriteId;
    use crate::node::version::VClock;

    fn v(w: u64) -> Version {
        Version {
            write: WriteId(w),
            clock: VClock::default().increment(NodeId(9), w, 10),
            stamp_us: w,
        }
    }

    #[test]
    fn hints_are_bounded_and_deleted_once_acknowledged() {
        let rules = VersionRules::VectorClock;
        let mut h = HintStore::default();
        assert!(h.add(NodeId(1), KeyId(1), &v(1), rules, 2));
        assert!(h.add(NodeId(1), KeyId(2), &v(2), rules, 2));
        assert!(!h.add(NodeId(2), KeyId(3), &v(3), rules, 2), "full");
        assert_eq!(h.stats.dropped, 1);
        assert_eq!(h.versions_of(KeyId(2)).count(), 1);
        h.acknowledge(NodeId(1), KeyId(1), &[v(1)], rules);
        assert_eq!(h.len(), 1);
        // An ack for an older version leaves a newer hint in place.
        h.add(NodeId(1), KeyId(2), &v(5), rules, 2);
        h.acknowledge(NodeId(1), KeyId(2), &[v(2)], rules);
        assert_eq!(h.len(), 1);
        assert_eq!(h.stats.delivered, 1);
        assert_eq!(h.stats.max_backlog, 2);
    }
}
