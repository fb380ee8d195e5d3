//! Merkle trees for anti-entropy (Dynamo §4.7), one per key range a node replicates.
//!
//! A key's contribution is a hash of (key, the set of versions held); a leaf is the XOR
//! of the contributions of its keys and an inner node the XOR of its children (the
//! "tictac" construction Riak adopted). XOR makes the root incremental: a write changes
//! one key's contribution, and the root by the difference. Below the root a tree is kept
//! lazily: exchanges read a range's inner hashes about once an interval, far less often
//! than its keys change, so a change only notes its key, and the entries are brought up
//! to date from the store when an exchange descends (`MerkleTree::settle`).
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
    /// XOR of every contribution, kept current on every change: every exchange starts with
    /// it, and most end there (equal roots).
    root: u64,
    /// Keys whose version sets changed since the tree was last settled, in any order and
    /// with repeats, up to `dirty_max`; past it the tree is rebuilt whole (`all_stale`).
    dirty: Vec<KeyId>,
    /// More changes than `dirty_max` since the tree was last settled: the next read
    /// rebuilds the entries from the range's keys.
    all_stale: bool,
    dirty_max: u32,
    depth: u32,
    /// Each key's contribution as of the last settle, ordered by (leaf, key) packed as
    /// `leaf << 32 | key`. Inner hashes are XORs over a leaf range, computed when an
    /// exchange asks for them, and memory follows keys, not ranges x 2^depth.
    contributions: Contributions,
}

/// A range holds tens of keys, where a sorted vector beats a B-tree's pointer chasing. Past
/// `SORTED_MAX` keys a settle that adds keys would move the whole vector, so a tree that
/// grows past it moves to a B-tree.
#[derive(Clone, Debug, PartialEq)]
enum Contributions {
    Sorted(Vec<(u64, u64)>),
    Map(BTreeMap<u64, u64>),
}

const SORTED_MAX: usize = 4_096;

/// A tree remembers at least this many changed keys before it gives up on them and is
/// rebuilt from its whole range at the next read.
pub const DIRTY_MIN: usize = 32;

/// The changed keys a tree remembers for a range of `range_keys` keys: a rebuild reads
/// every key of the range, so it waits for at least a sixteenth of the range's size in
/// changes (a rebuild then costs at most 16 key lookups a change).
pub fn dirty_max(range_keys: usize) -> usize {
    DIRTY_MIN.max(range_keys / 16)
}

impl Contributions {
    fn len(&self) -> usize {
        match self {
            Contributions::Sorted(v) => v.len(),
            Contributions::Map(m) => m.len(),
        }
    }

    /// Sets the contribution of each entry of `changes` (`None`: the key holds nothing, drop
    /// it); `changes` holds each entry at most once and is emptied.
    fn apply(&mut self, changes: &mut Vec<(u64, Option<u64>)>) {
        match self {
            Contributions::Sorted(v) => {
                let mut new: Vec<(u64, u64)> = Vec::new();
                let mut gone: Vec<u64> = Vec::new();
                for (entry, value) in changes.drain(..) {
                    match (v.binary_search_by_key(&entry, |(e, _)| *e), value) {
                        (Ok(i), Some(c)) => v[i].1 = c,
                        (Ok(_), None) => gone.push(entry),
                        (Err(_), Some(c)) => new.push((entry, c)),
                        (Err(_), None) => {}
                    }
                }
                if !gone.is_empty() {
                    gone.sort_unstable();
                    v.retain(|(e, _)| gone.binary_search(e).is_err());
                }
                new.sort_unstable_by_key(|(e, _)| *e);
                merge_sorted(v, &mut new);
                if v.len() > SORTED_MAX {
                    *self = Contributions::Map(v.iter().copied().collect());
                }
            }
            Contributions::Map(m) => {
                for (entry, value) in changes.drain(..) {
                    match value {
                        None => m.remove(&entry),
                        Some(c) => m.insert(entry, c),
                    };
                }
            }
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

/// The tree of a range is kept lazily: a change updates the root and notes the key
/// (`update`), and the entries are brought up to date from the store right before
/// anything reads them (`settle`). What a read sees is exactly the tree that updating
/// every entry on every change would have built: the entries are a function of the keys
/// the range holds and their version sets, whatever order the changes came in.
impl MerkleTree {
    /// An empty tree of `depth` levels for a range of `range_keys` keys (`Ring::keys_of_slot`).
    pub fn new(depth: u32, range_keys: usize) -> MerkleTree {
        let depth = depth.clamp(1, 24);
        MerkleTree {
            root: 0,
            dirty: Vec::new(),
            all_stale: false,
            dirty_max: dirty_max(range_keys).min(u32::MAX as usize) as u32,
            depth,
            contributions: Contributions::Sorted(Vec::new()),
        }
    }

    pub fn depth(&self) -> u32 {
        self.depth
    }

    pub fn root(&self) -> u64 {
        self.root
    }

    /// Keys in the tree (settled first).
    pub fn key_count(&self) -> usize {
        self.assert_settled();
        self.contributions.len()
    }

    /// A key's version set changed from `old` to `new` (hashes from `versions_hash`; 0
    /// for none). The root follows at once; the key's entry at the next `settle`.
    pub fn update(&mut self, key: KeyId, old: u64, new: u64) {
        self.root ^= contribution(key, old) ^ contribution(key, new);
        if self.all_stale {
            return;
        }
        if self.dirty.len() < self.dirty_max as usize {
            self.dirty.push(key);
        } else {
            self.mark_all_stale();
        }
    }

    /// Every entry may be out of date: the next `settle` rebuilds them from the range.
    pub fn mark_all_stale(&mut self) {
        self.all_stale = true;
        self.dirty.clear();
    }

    /// Brings the entries up to date before a read (`hash_at` below the root,
    /// `keys_in_leaf`, `key_count`): `range_keys` are every key of the range
    /// (`Ring::keys_of_slot`) and `hash_of` a key's `versions_hash` in the store now.
    pub fn settle(&mut self, range_keys: &[KeyId], hash_of: impl Fn(KeyId) -> u64) {
        if self.all_stale {
            self.rebuild(range_keys, hash_of);
        } else if !self.dirty.is_empty() {
            let depth = self.depth;
            let mut dirty = std::mem::take(&mut self.dirty);
            dirty.sort_unstable();
            dirty.dedup();
            let mut changes: Vec<(u64, Option<u64>)> = (dirty.drain(..))
                .map(|k| {
                    let hash = hash_of(k);
                    let entry = packed(leaf_of(k, depth) as u64, k);
                    (entry, (hash != 0).then(|| contribution(k, hash)))
                })
                .collect();
            self.contributions.apply(&mut changes);
            self.dirty = dirty;
        }
    }

    /// Recomputes every entry from the keys of the range, and checks the root against them.
    fn rebuild(&mut self, range_keys: &[KeyId], hash_of: impl Fn(KeyId) -> u64) {
        let depth = self.depth;
        let mut entries =
            match std::mem::replace(&mut self.contributions, Contributions::Sorted(Vec::new())) {
                Contributions::Sorted(mut v) => {
                    v.clear();
                    v
                }
                Contributions::Map(_) => Vec::new(),
            };
        entries.extend(range_keys.iter().filter_map(|k| {
            let hash = hash_of(*k);
            (hash != 0).then(|| {
                (
                    packed(leaf_of(*k, depth) as u64, *k),
                    contribution(*k, hash),
                )
            })
        }));
        entries.sort_unstable_by_key(|(e, _)| *e);
        let root = entries.iter().fold(0, |acc, (_, c)| acc ^ c);
        assert_eq!(
            root, self.root,
            "a Merkle tree rebuilt from its range disagrees with its root"
        );
        self.contributions = if entries.len() > SORTED_MAX {
            Contributions::Map(entries.into_iter().collect())
        } else {
            Contributions::Sorted(entries)
        };
        self.all_stale = false;
        self.dirty.clear();
    }

    /// The tree is settled: every entry is current (an unsettled read would see old ones).
    fn assert_settled(&self) {
        assert!(
            !self.all_stale && self.dirty.is_empty(),
            "a Merkle tree is read before it was settled"
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

    /// A key's `versions_hash` in `store` (0 when it holds nothing).
    fn hash_in(store: &Store) -> impl Fn(KeyId) -> u64 + '_ {
        |k| store.get(&k).map(|vs| versions_hash(vs)).unwrap_or(0)
    }

    /// A tree of one range holding every key of `store`, changed key by key and settled.
    fn build(store: &Store, depth: u32) -> MerkleTree {
        let range: Vec<KeyId> = store.keys().copied().collect();
        let mut t = MerkleTree::new(depth, range.len());
        for (k, vs) in store {
            t.update(*k, 0, versions_hash(vs));
        }
        t.settle(&range, hash_in(store));
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
        let range: Vec<KeyId> = store.keys().copied().collect();
        let mut without = store.clone();
        without.remove(&KeyId(5));
        tree.settle(&range, hash_in(&without));
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
        let range: Vec<KeyId> = (0..400).map(KeyId).collect();
        let mut tree = MerkleTree::new(8, range.len());
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
                tree.settle(&range, hash_in(&store));
            }
        }
        tree.settle(&range, hash_in(&store));
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

    /// The tree every change updating its entry at once builds (what `MerkleTree` did before
    /// it was lazy): the reference a lazily kept tree must equal.
    #[derive(Default)]
    struct Incremental {
        entries: BTreeMap<u64, u64>,
        root: u64,
    }

    impl Incremental {
        fn update(&mut self, depth: u32, key: KeyId, old: u64, new: u64) {
            self.root ^= contribution(key, old) ^ contribution(key, new);
            let entry = packed(leaf_of(key, depth) as u64, key);
            if new == 0 {
                self.entries.remove(&entry);
            } else {
                self.entries.insert(entry, contribution(key, new));
            }
        }

        fn hash_at(&self, depth: u32, level: u32, index: u32) -> u64 {
            let shift = depth - level;
            let lo = ((index as u64) << shift) << 32;
            let hi = ((((index as u64) + 1) << shift) << 32) - 1;
            (self.entries.range(lo..=hi)).fold(0, |acc, (_, c)| acc ^ c)
        }
    }

    /// Random sequences of changes (new keys, more versions, a version set replaced or
    /// emptied, changes that leave the hash as it was), with reads at random moments, on
    /// ranges small enough to overflow the changed-key list and large enough not to: after
    /// every read the lazy tree equals the incremental one in root, every inner hash, every
    /// leaf's keys (in order) and its key count.
    #[test]
    fn lazy_trees_equal_incremental_ones() {
        use crate::engine::rng::{RngStreams, Stream, below};
        let streams = RngStreams::new(0x1a2e);
        let mut reads = 0u64;
        let mut rebuilt = 0u64;
        for case in 0..3_000u64 {
            let mut rng = streams.stream(Stream::Test, case);
            let depth = 1 + below(&mut rng, 8) as u32;
            // The range: a sorted subset of a larger key space (`Ring::keys_of_slot`).
            let span = 1 + below(&mut rng, 1_200) as u32;
            let keep = 1 + below(&mut rng, 4);
            let range: Vec<KeyId> = (0..span)
                .filter(|k| mix64(case ^ ((*k as u64) << 20)).is_multiple_of(keep))
                .map(KeyId)
                .collect();
            if range.is_empty() {
                continue;
            }
            let mut store: Store = BTreeMap::new();
            let mut lazy = MerkleTree::new(depth, range.len());
            let mut reference = Incremental::default();
            let steps = below(&mut rng, 400);
            for step in 0..steps {
                let key = range[below(&mut rng, range.len() as u64) as usize];
                let old = hash_in(&store)(key);
                let write = (case << 20) | step;
                match below(&mut rng, 10) {
                    0 => {
                        store.remove(&key);
                    }
                    1 => {
                        store.insert(key, vec![v(write)]);
                    }
                    2 => {
                        // The same writes again: the hash does not change.
                        if let Some(vs) = store.get(&key) {
                            let same = vs.clone();
                            store.insert(key, same);
                        }
                    }
                    _ => store.entry(key).or_default().push(v(write)),
                }
                let new = hash_in(&store)(key);
                if old != new {
                    // `Storage` updates a tree only when the hash changed.
                    lazy.update(key, old, new);
                    reference.update(depth, key, old, new);
                }
                assert_eq!(lazy.root(), reference.root);
                if below(&mut rng, 25) == 0 || step + 1 == steps {
                    rebuilt += lazy.all_stale as u64;
                    lazy.settle(&range, hash_in(&store));
                    reads += 1;
                    assert_eq!(lazy.key_count(), reference.entries.len(), "case {case}");
                    let entries: Vec<(u64, u64)> =
                        reference.entries.iter().map(|(e, c)| (*e, *c)).collect();
                    assert_eq!(lazy.entries(), entries, "case {case}");
                    for level in 1..=depth {
                        for i in 0..(1u32 << level) {
                            assert_eq!(
                                lazy.hash_at(level, i),
                                reference.hash_at(depth, level, i),
                                "case {case}, level {level}, node {i}"
                            );
                        }
                    }
                    for leaf in 0..(1u32 << depth) {
                        let keys: Vec<KeyId> = lazy.keys_in_leaf(leaf).collect();
                        let want: Vec<KeyId> = (reference.entries.keys())
                            .filter(|e| *e >> 32 == leaf as u64)
                            .map(|e| KeyId(*e as u32))
                            .collect();
                        assert_eq!(keys, want, "case {case}, leaf {leaf}");
                    }
                }
            }
        }
        // Both ways of settling were exercised, many times.
        assert!(reads > 10_000, "{reads} reads");
        assert!(rebuilt > 1_000, "{rebuilt} rebuilds");
        assert!(
            reads - rebuilt > 1_000,
            "{} settles from changed keys",
            reads - rebuilt
        );
    }
}
