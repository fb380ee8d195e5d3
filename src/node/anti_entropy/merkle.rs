//! Merkle trees for anti-entropy (Dynamo §4.7), one per key range a node replicates.
//!
//! A key's contribution is a hash of (key, the set of versions held); a leaf is the XOR
//! of the contributions of its keys and an inner node the XOR of its children (the
//! "tictac" construction Riak adopted). XOR makes every update incremental: a write
//! changes one key's contribution and the root, and never requires a rebuild.
//! Two replicas holding the same versions have identical trees; an exchange compares
//! roots, descends only into differing children, and at the leaves compares per-key
//! hashes so that exactly the differing keys are transferred.

use crate::engine::rng::mix64;
use crate::ids::KeyId;
use crate::node::versioning::Version;
use std::collections::BTreeMap;

/// Order-independent hash of a set of versions (by write id); 0 for no versions.
pub fn versions_hash(versions: &[Version]) -> u64 {
    versions
        .iter()
        .fold(0, |acc, v| acc ^ mix64(v.write.0 ^ 0x5bd1_e995))
}

fn packed(leaf: u64, key: KeyId) -> u64 {
    leaf << 32 | key.0 as u64
}

fn contribution(key: KeyId, set_hash: u64) -> u64 {
    if set_hash == 0 {
        0
    } else {
        mix64(mix64(key.0 as u64) ^ set_hash)
    }
}

/// The leaf a key falls in, for a tree of `depth` levels below the root.
pub fn leaf_of(key: KeyId, depth: u32) -> u32 {
    (mix64(key.0 as u64 ^ 0xA5A5_A5A5) >> (64 - depth)) as u32
}

#[derive(Clone, Debug)]
pub struct MerkleTree {
    depth: u32,
    /// Each key's contribution, ordered by (leaf, key) packed as `leaf << 32 | key`. Inner
    /// hashes are XORs over a leaf range, computed when an exchange asks for them: writes
    /// are far more frequent than exchanges, so a write touches one entry instead of a
    /// path of depth + 1 hashes, and memory follows keys, not ranges x 2^depth.
    contributions: Contributions,
    /// Keys new to the tree since it was last settled, unsorted: a new key is appended
    /// here (no search, no shift of the sorted entries) and sorted in when an exchange
    /// reads the tree (`settle`). Whether a key is new is known without a search: a key
    /// has an entry exactly when its version-set hash is not 0.
    pending: Vec<(u64, u64)>,
    /// XOR of every contribution, kept current because every exchange starts with it.
    root: u64,
}

/// A range holds tens of keys, where a sorted vector beats a B-tree's pointer chasing (a
/// new key shifts the entries after it once). Past `SORTED_MAX` keys that shift makes
/// every new key cost the range's size (3 ranges over millions of keys ran for minutes),
/// so a tree that grows past it moves to a B-tree for good.
#[derive(Clone, Debug, PartialEq)]
enum Contributions {
    Sorted(Vec<(u64, u64)>),
    Map(BTreeMap<u64, u64>),
}

const SORTED_MAX: usize = 4_096;

/// New keys wait unsorted up to this many: one merge then moves the sorted entries once
/// for all of them, and an update of a key that waits finds it in a short scan.
const PENDING_MAX: usize = 32;

impl Contributions {
    fn len(&self) -> usize {
        match self {
            Contributions::Sorted(v) => v.len(),
            Contributions::Map(m) => m.len(),
        }
    }

    /// Sets the contribution of `entry` (`None`: the key holds nothing, drop it).
    fn set(&mut self, entry: u64, value: Option<u64>) {
        match self {
            Contributions::Sorted(v) => {
                match (v.binary_search_by_key(&entry, |(e, _)| *e), value) {
                    (Ok(i), None) => {
                        v.remove(i);
                    }
                    (Ok(i), Some(c)) => v[i].1 = c,
                    (Err(_), None) => {}
                    (Err(i), Some(c)) => v.insert(i, (entry, c)),
                }
                if v.len() > SORTED_MAX {
                    *self = Contributions::Map(v.iter().copied().collect());
                }
            }
            Contributions::Map(m) => match value {
                None => {
                    m.remove(&entry);
                }
                Some(c) => {
                    m.insert(entry, c);
                }
            },
        }
    }

    /// Adds entries of keys that have none yet (`new`, in any order, emptied).
    fn add_new(&mut self, new: &mut Vec<(u64, u64)>) {
        match self {
            Contributions::Sorted(v) => {
                new.sort_unstable_by_key(|(e, _)| *e);
                merge_sorted(v, new);
                if v.len() > SORTED_MAX {
                    *self = Contributions::Map(v.iter().copied().collect());
                }
            }
            Contributions::Map(m) => m.extend(new.drain(..)),
        }
    }

    /// The entries of leaves `first..=last`, in order.
    fn in_leaves(&self, first: u64, last: u64) -> Box<dyn Iterator<Item = (u64, u64)> + '_> {
        let (lo, hi) = (first << 32, (last << 32) | u32::MAX as u64);
        match self {
            Contributions::Sorted(v) => {
                let a = v.partition_point(|(e, _)| *e < lo);
                let b = v.partition_point(|(e, _)| *e <= hi);
                Box::new(v[a..b].iter().copied())
            }
            Contributions::Map(m) => Box::new(m.range(lo..=hi).map(|(e, c)| (*e, *c))),
        }
    }
}

/// Merges `new` (sorted, no entry shared with `v`; emptied) into the sorted `v`, from the
/// back, so that each entry of `v` moves at most once.
fn merge_sorted(v: &mut Vec<(u64, u64)>, new: &mut Vec<(u64, u64)>) {
    let old_len = v.len();
    v.resize(old_len + new.len(), (0, 0));
    let (mut i, mut out) = (old_len, v.len());
    while let Some(&last) = new.last() {
        out -= 1;
        if i > 0 && v[i - 1].0 > last.0 {
            v[out] = v[i - 1];
            i -= 1;
        } else {
            v[out] = last;
            new.pop();
        }
    }
}

impl MerkleTree {
    pub fn new(depth: u32) -> MerkleTree {
        let depth = depth.clamp(1, 24);
        MerkleTree {
            depth,
            contributions: Contributions::Sorted(Vec::new()),
            pending: Vec::new(),
            root: 0,
        }
    }

    pub fn depth(&self) -> u32 {
        self.depth
    }

    pub fn root(&self) -> u64 {
        self.root
    }

    pub fn key_count(&self) -> usize {
        self.contributions.len() + self.pending.len()
    }

    /// Sorts the keys added since the last call into the tree: reading it (`hash_at`,
    /// `keys_in_leaf`) needs this first.
    pub fn settle(&mut self) {
        if !self.pending.is_empty() {
            self.contributions.add_new(&mut self.pending);
        }
    }

    /// The tree is settled: every key is in order (an unsettled read would miss keys).
    fn assert_settled(&self) {
        assert!(
            self.pending.is_empty(),
            "a Merkle tree is read before its new keys were settled"
        );
    }

    /// Hash of node `index` at `level` (0 = root, `depth` = leaves): the XOR of the
    /// contributions of the keys in its leaves.
    pub fn hash_at(&self, level: u32, index: u32) -> u64 {
        if level > self.depth {
            return 0;
        }
        if level == 0 {
            return self.root;
        }
        self.assert_settled();
        let shift = self.depth - level;
        let first = (index as u64) << shift;
        let last = ((index as u64 + 1) << shift) - 1;
        if first > u32::MAX as u64 {
            return 0;
        }
        let last = last.min(u32::MAX as u64);
        self.contributions
            .in_leaves(first, last)
            .fold(0, |acc, (_, c)| acc ^ c)
    }

    /// A key's version set changed from `old` to `new` (hashes from `versions_hash`).
    /// The key has an entry exactly when its hash is not 0, so `old == 0` means a key new
    /// to the tree: it waits in `pending` until the tree is read.
    pub fn update(&mut self, key: KeyId, old: u64, new: u64) {
        let delta = contribution(key, old) ^ contribution(key, new);
        self.root ^= delta;
        let entry = packed(leaf_of(key, self.depth) as u64, key);
        let value = (new != 0).then(|| contribution(key, new));
        if old == 0 {
            // A key new to the tree (or a delete of a key it never had).
            if let Some(c) = value {
                self.pending.push((entry, c));
                if self.pending.len() >= PENDING_MAX {
                    self.settle();
                }
            }
            return;
        }
        // An existing key: it may still wait unsorted.
        match (self.pending.iter().position(|(e, _)| *e == entry), value) {
            (Some(i), Some(c)) => self.pending[i].1 = c,
            (Some(i), None) => {
                self.pending.swap_remove(i);
            }
            (None, value) => self.contributions.set(entry, value),
        }
    }

    /// Keys held in `leaf`.
    pub fn keys_in_leaf(&self, leaf: u32) -> impl Iterator<Item = KeyId> + '_ {
        self.assert_settled();
        self.contributions
            .in_leaves(leaf as u64, leaf as u64)
            .map(|(e, _)| KeyId(e as u32))
    }

    /// Every (entry, contribution), in order (tests compare trees by it).
    #[cfg(test)]
    fn entries(&self) -> Vec<(u64, u64)> {
        self.assert_settled();
        self.contributions.in_leaves(0, u32::MAX as u64).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::{NodeId, WriteId};
    use crate::node::versioning::{Causal, VClock};
    use std::collections::{BTreeMap, BTreeSet};

    fn v(w: u64) -> Version {
        Version {
            write: WriteId(w),
            causal: Causal::from_clock(VClock::default().increment(NodeId(0), w as i64, 10)),
            stamp_us: w as i64,
            tombstone: false,
        }
    }

    type Store = BTreeMap<KeyId, Vec<Version>>;

    fn build(store: &Store, depth: u32) -> MerkleTree {
        let mut t = MerkleTree::new(depth);
        for (k, vs) in store {
            t.update(*k, 0, versions_hash(vs));
        }
        t.settle();
        t
    }

    /// Runs the exchange descent between two trees and returns the keys whose data would
    /// be transferred (the differing keys found at the leaves), and the hashes compared.
    fn exchange(
        a: &MerkleTree,
        sa: &Store,
        b: &MerkleTree,
        sb: &Store,
    ) -> (BTreeSet<KeyId>, usize) {
        let mut frontier = vec![0u32];
        let mut compared = 0;
        for level in 0..=a.depth() {
            compared += frontier.len();
            let differing: Vec<u32> = frontier
                .into_iter()
                .filter(|i| a.hash_at(level, *i) != b.hash_at(level, *i))
                .collect();
            if level == a.depth() {
                let mut keys = BTreeSet::new();
                for leaf in differing {
                    for k in a.keys_in_leaf(leaf).chain(b.keys_in_leaf(leaf)) {
                        let ha = sa.get(&k).map(|v| versions_hash(v)).unwrap_or(0);
                        let hb = sb.get(&k).map(|v| versions_hash(v)).unwrap_or(0);
                        if ha != hb {
                            keys.insert(k);
                        }
                    }
                }
                return (keys, compared);
            }
            frontier = differing.iter().flat_map(|i| [2 * i, 2 * i + 1]).collect();
        }
        (BTreeSet::new(), compared)
    }

    #[test]
    fn trees_that_differ_in_k_keys_transfer_exactly_those_keys() {
        let mut a: Store = (0..5_000).map(|k| (KeyId(k), vec![v(k as u64)])).collect();
        let mut b = a.clone();
        let changed = [KeyId(3), KeyId(777), KeyId(4_000)];
        if let Some(vs) = b.get_mut(&changed[0]) {
            vs.push(v(10_000));
        }
        a.remove(&changed[1]);
        b.insert(changed[2], vec![v(20_000)]);
        let (ta, tb) = (build(&a, 10), build(&b, 10));
        assert_ne!(ta.root(), tb.root());
        let (keys, compared) = exchange(&ta, &a, &tb, &b);
        assert_eq!(keys, changed.into_iter().collect());
        assert!(
            compared < 100,
            "descended only into differing subtrees: {compared} hashes"
        );
        // Identical stores: equal roots, nothing to transfer.
        let (keys, compared) = exchange(&ta, &a, &build(&a, 10), &a);
        assert!(keys.is_empty());
        assert_eq!(compared, 1);
    }

    /// A tree past `SORTED_MAX` keys (a B-tree inside) hashes exactly as the XOR of its
    /// keys' contributions, level by level, and keeps updating in place.
    #[test]
    fn a_large_tree_hashes_as_a_small_one() {
        let keys = 3 * SORTED_MAX as u32;
        let store: Store = (0..keys).map(|k| (KeyId(k), vec![v(k as u64)])).collect();
        let mut tree = build(&store, 6);
        assert!(matches!(tree.contributions, Contributions::Map(_)));
        tree.update(KeyId(5), versions_hash(&store[&KeyId(5)]), 0);
        let naive = |level: u32, i: u32| {
            (store.iter())
                .filter(|(k, _)| k.0 != 5 && leaf_of(**k, 6) >> (6 - level) == i)
                .fold(0, |acc, (k, vs)| acc ^ contribution(*k, versions_hash(vs)))
        };
        for level in 0..=6 {
            for i in 0..(1u32 << level) {
                assert_eq!(
                    tree.hash_at(level, i),
                    naive(level, i),
                    "level {level}, node {i}"
                );
            }
        }
        assert_eq!(tree.key_count(), keys as usize - 1);
        assert!(
            tree.keys_in_leaf(leaf_of(KeyId(5), 6))
                .all(|k| k != KeyId(5))
        );
    }

    #[test]
    fn incremental_updates_equal_a_rebuild() {
        let mut store: Store = BTreeMap::new();
        let mut tree = MerkleTree::new(8);
        for step in 0..3_000u64 {
            let key = KeyId((mix64(step) % 400) as u32);
            let old = store.get(&key).map(|vs| versions_hash(vs)).unwrap_or(0);
            let entry = store.entry(key).or_default();
            if step % 7 == 0 {
                entry.clear();
            } else {
                entry.push(v(step));
            }
            let new = versions_hash(entry);
            tree.update(key, old, new);
            if entry.is_empty() {
                store.remove(&key);
            }
            if step % 97 == 0 {
                // Reads come between writes: new keys merge into sorted ones.
                tree.settle();
            }
        }
        tree.settle();
        let rebuilt = build(&store, 8);
        assert_eq!(tree.root(), rebuilt.root());
        assert_eq!(tree.entries(), rebuilt.entries());
        for level in 0..=8 {
            for i in 0..(1u32 << level) {
                assert_eq!(tree.hash_at(level, i), rebuilt.hash_at(level, i));
                if level < 8 {
                    // An inner node is the XOR of its children.
                    let children =
                        tree.hash_at(level + 1, 2 * i) ^ tree.hash_at(level + 1, 2 * i + 1);
                    assert_eq!(tree.hash_at(level, i), children);
                }
            }
        }
    }
}
