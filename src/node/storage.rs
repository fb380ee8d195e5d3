//! The node's storage engine: the versions it holds for each key as a home replica, and
//! the per-range Merkle trees that summarise them for anti-entropy. Every change to the
//! stored data goes through `Storage::merge` (or `restore`), which keeps the key's range
//! tree's root current and notes the key in it; `settle_tree` brings the rest of a tree
//! up to date from the stored data before an exchange reads it, so a tree read can never
//! drift from the data it describes. Hints live apart, in the hint store.

use super::NodeConfig;
use super::anti_entropy::merkle::{self, MerkleTree};
use super::fact::{Fact, ids_of, push_discards};
use super::versioning::{Version, Versions};
use crate::ids::{FxHashMap, KeyId};
use crate::ring::Ring;
use std::collections::BTreeMap;

/// Key -> versions, and one Merkle tree per key range (slot) with data here. The map is
/// first: every replica read and write touches it, the trees only writes with
/// anti-entropy on.
#[derive(Default)]
pub struct Storage {
    versions: FxHashMap<KeyId, Versions>,
    trees: FxHashMap<u32, MerkleTree>,
}

impl Storage {
    /// The versions held for `key` (empty when none).
    pub fn get(&self, key: KeyId) -> &[Version] {
        self.versions.get(&key).map(|v| v.as_slice()).unwrap_or(&[])
    }

    /// The versions held for `key`, if the key has an entry at all.
    pub fn entry(&self, key: KeyId) -> Option<&Versions> {
        self.versions.get(&key)
    }

    pub fn contains(&self, key: KeyId) -> bool {
        self.versions.contains_key(&key)
    }

    /// Number of keys with an entry.
    pub fn len(&self) -> usize {
        self.versions.len()
    }

    pub fn is_empty(&self) -> bool {
        self.versions.is_empty()
    }

    /// The tree of range `slot`, if this node ever held data there (anti-entropy on).
    /// Its root is always current; reading its inner hashes or leaves needs `settle_tree`
    /// first.
    pub fn tree(&self, slot: u32) -> Option<&MerkleTree> {
        self.trees.get(&slot)
    }

    /// Brings `slot`'s tree up to date with the stored data (`ring` is the node's ring,
    /// the one its trees' ranges follow), so that an exchange can read it.
    pub fn settle_tree(&mut self, slot: u32, ring: &Ring) {
        if let Some(tree) = self.trees.get_mut(&slot) {
            let versions = &self.versions;
            tree.settle(ring.keys_of_slot(slot), |key| {
                merkle::versions_hash(versions.get(&key).map(|v| v.as_slice()).unwrap_or(&[]))
            });
        }
    }

    /// Merges `incoming` into the versions of `key` by the run's versioning rules,
    /// updating the key's range tree (`MerkleTree::update`), and records in `facts` every
    /// version the rules discarded. Returns whether anything changed.
    pub fn merge(
        &mut self,
        key: KeyId,
        incoming: &[Version],
        cfg: &NodeConfig,
        ring: &Ring,
        facts: &mut Vec<Fact>,
    ) -> bool {
        let held = self.versions.entry(key).or_default();
        // Merging what is held already changes nothing under any scheme (the versioning
        // tests hold every scheme to it): the coordinator's own replica write, which it
        // stored when it made the version, comes back to it this way.
        if held.as_slice() == incoming {
            return false;
        }
        let old = merkle::versions_hash(held);
        let before = ids_of(held);
        cfg.quorum.rules.merge(held, incoming);
        push_discards(facts, key, &before, incoming, held, false);
        let new = merkle::versions_hash(held);
        if old == new {
            return false;
        }
        self.note_in_tree(key, old, new, cfg, ring);
        true
    }

    /// `key`'s version-set hash went from `old` to `new`: its range tree (created on first
    /// use) follows, when anti-entropy is on.
    fn note_in_tree(&mut self, key: KeyId, old: u64, new: u64, cfg: &NodeConfig, ring: &Ring) {
        if let Some(ae) = &cfg.anti_entropy {
            let slot = ring.slot_of(key);
            self.trees
                .entry(slot)
                .or_insert_with(|| MerkleTree::new(ae.depth, ring.keys_of_slot(slot).len()))
                .update(key, old, new);
        }
    }

    /// What memory held for `key` is gone; `on_disk` (the last flushed copy) is what the
    /// key holds now. The tree follows.
    pub fn restore(&mut self, key: KeyId, on_disk: &[Version], cfg: &NodeConfig, ring: &Ring) {
        let old = merkle::versions_hash(self.get(key));
        if on_disk.is_empty() {
            self.versions.remove(&key);
        } else {
            self.versions.insert(key, on_disk.iter().cloned().collect());
        }
        let new = merkle::versions_hash(on_disk);
        if old != new {
            self.note_in_tree(key, old, new, cfg, ring);
        }
    }

    /// The ring's key ranges changed from `old` to `ring` (Dynamo §4.7: a join or leave
    /// moves range boundaries): every tree is recomputed from the data under the new
    /// ranges, or an exchange would compare one range's keys against another's (the roots
    /// here, the rest at each tree's next read). Trees are XOR sums, so the map's order
    /// does not reach them. Returns, per range whose keys
    /// changed (in range order), the bytes its rebuild reads from disk: every key held in
    /// it, whole (a range whose keys are those of an old range keeps its tree's content
    /// and costs nothing).
    pub fn rebuild_trees(&mut self, cfg: &NodeConfig, old: &Ring, ring: &Ring) -> Vec<u64> {
        let Some(ae) = &cfg.anti_entropy else {
            return Vec::new();
        };
        self.trees = FxHashMap::default();
        // Sums per range: the order of the additions does not reach them.
        let mut bytes: BTreeMap<u32, u64> = BTreeMap::new();
        for (key, held) in &self.versions {
            let hash = merkle::versions_hash(held);
            if hash != merkle::versions_hash(&[]) {
                let slot = ring.slot_of(*key);
                let tree = (self.trees.entry(slot)).or_insert_with(|| {
                    let mut tree = MerkleTree::new(ae.depth, ring.keys_of_slot(slot).len());
                    tree.mark_all_stale();
                    tree
                });
                tree.update(*key, merkle::versions_hash(&[]), hash);
                *bytes.entry(slot).or_default() += held.len() as u64 * cfg.value_bytes + 16;
            }
        }
        let moved = |slot: u32| {
            let keys = ring.keys_of_slot(slot);
            keys.first()
                .is_none_or(|k| old.keys_of_slot(old.slot_of(*k)) != keys)
        };
        (bytes.into_iter())
            .filter(|(slot, _)| moved(*slot))
            .map(|(_, b)| b)
            .collect()
    }

    /// The disk is lost: data and trees go with it.
    pub fn clear(&mut self) {
        self.versions = FxHashMap::default();
        self.trees = FxHashMap::default();
    }
}
