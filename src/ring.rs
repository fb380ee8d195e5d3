//! Consistent hashing (Dynamo §4.2, §6.2): key positions, the three partitioning
//! strategies, and preference lists.
//!
//! Keys are placed by MD5 (as in Dynamo) of the key's name `key-<id>`, taking the first 8
//! bytes big-endian as a position on a 2^64 ring. The ring is a circle of *slots*, each
//! owned by one node: token ranges (strategy 1), equal partitions walked from their end
//! token (strategy 2), or equal partitions owned directly (strategy 3). A key's preference
//! list is the walk clockwise from its slot collecting distinct nodes; it is precomputed per
//! slot, with fallbacks past the first N for sloppy quorum.

use crate::engine::rng::{SimRng, below};
use crate::ids::{DcId, KeyId, NodeId};
use crate::scenario::{PartitionAssignment, PartitionStrategy, Partitioning};
use md5::{Digest, Md5};
use rand::Rng;
use std::collections::{BTreeMap, BTreeSet};

/// How many fallback nodes past the first N each precomputed preference list holds.
pub const FALLBACKS: usize = 8;

/// The position of a key on the ring: MD5("key-<id>"), first 8 bytes, big-endian.
pub fn key_position(key: KeyId) -> u64 {
    let digest = Md5::digest(format!("key-{}", key.0).as_bytes());
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    u64::from_be_bytes(first)
}

/// Index of the equal-sized partition (of `q`) holding `position`.
fn partition_of(position: u64, q: u32) -> u32 {
    ((position as u128 * q as u128) >> 64) as u32
}

#[derive(Clone, Debug)]
pub struct RingConfig<'a> {
    pub partitioning: &'a Partitioning,
    pub replicas: ReplicaRule,
}

/// How many replicas a key has and where they go.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReplicaRule {
    /// N: the home replicas of every key.
    pub n: usize,
    /// Spread the N over the datacenters (at most ceil(N / datacenters) in each).
    pub across_dcs: bool,
    /// Replicas per datacenter, by datacenter index (Cassandra's
    /// NetworkTopologyStrategy); they add up to N. Overrides `across_dcs`.
    pub per_dc: Option<Vec<usize>>,
}

/// Who holds which part of the ring, kept across membership changes so that a join or
/// a leave moves only what it must: the random tokens of strategies 1 and 2, or the owner
/// of each equal partition under strategy 3.
#[derive(Clone, Debug)]
pub struct Placement {
    strategy: PartitionStrategy,
    assignment: PartitionAssignment,
    partitions: u32,
    tokens_per_node: u32,
    /// Strategies 1 and 2: every member's tokens, sorted.
    tokens: Vec<(u64, NodeId)>,
    /// Strategy 3: the owner of each partition.
    owners: Vec<NodeId>,
    /// Sorted.
    members: Vec<NodeId>,
}

impl Placement {
    /// The initial placement of nodes `0..node_dc.len()`.
    pub fn initial(node_dc: &[DcId], p: &Partitioning, rng: &mut SimRng) -> Placement {
        let members: Vec<NodeId> = (0..node_dc.len() as u32).map(NodeId).collect();
        let mut placement = Placement {
            strategy: p.strategy,
            assignment: p.assignment,
            partitions: p.partitions,
            tokens_per_node: p.tokens_per_node,
            tokens: Vec::new(),
            owners: Vec::new(),
            members: Vec::new(),
        };
        match p.strategy {
            PartitionStrategy::EqualPartitions => {
                placement.owners = striped_owners(node_dc, p.partitions as usize);
                if p.assignment == PartitionAssignment::Random {
                    deal_within_datacenters(&mut placement.owners, node_dc, rng);
                }
                placement.members = members;
            }
            _ => placement = placement.with_joined(&members, rng),
        }
        placement
    }

    pub fn members(&self) -> &[NodeId] {
        &self.members
    }

    /// Adds `joining` nodes: new random tokens (strategies 1, 2), or under strategy 3 each
    /// takes partitions one at a time from the member holding the most, until it holds its
    /// share Q/S.
    pub fn with_joined(&self, joining: &[NodeId], rng: &mut SimRng) -> Placement {
        let mut next = self.clone();
        for node in joining {
            if next.members.binary_search(node).is_err() {
                next.members.push(*node);
            }
        }
        next.members.sort_unstable();
        match self.strategy {
            PartitionStrategy::EqualPartitions => {
                let share = self.partitions as usize / next.members.len().max(1);
                // Each owner's partitions, kept current as they move: a step finds the
                // donor among the owners, never by rescanning every partition (that made
                // one join quadratic in Q: 75 s at Q = 262,144).
                let mut held: BTreeMap<NodeId, Vec<usize>> = BTreeMap::new();
                for (i, o) in next.owners.iter().enumerate() {
                    held.entry(*o).or_default().push(i);
                }
                for node in joining {
                    for _ in 0..share {
                        let Some((&donor, _)) = held
                            .iter()
                            .filter(|(o, slots)| *o != node && !slots.is_empty())
                            .max_by_key(|(o, slots)| (slots.len(), std::cmp::Reverse(**o)))
                        else {
                            break;
                        };
                        let Some(slots) = held.get_mut(&donor) else {
                            break;
                        };
                        let pick = slots.swap_remove(below(rng, slots.len() as u64) as usize);
                        next.owners[pick] = *node;
                        held.entry(*node).or_default().push(pick);
                    }
                }
            }
            _ => {
                for node in joining {
                    for _ in 0..self.tokens_per_node {
                        next.tokens.push((rng.next_u64(), *node));
                    }
                }
                next.tokens.sort_unstable();
            }
        }
        next
    }

    /// Removes `leaving` nodes: their tokens go (strategies 1, 2), or under strategy 3 each
    /// of their partitions goes to the remaining member holding the fewest; ties go to the
    /// lowest id under `striped`, to an order drawn from `rng` under `random` (Dynamo §4.2:
    /// a leaver's tokens are spread at random, keeping Q/S per node).
    pub fn without(&self, leaving: &[NodeId], rng: &mut SimRng) -> Placement {
        let mut next = self.clone();
        next.members.retain(|m| !leaving.contains(m));
        next.tokens.retain(|(_, n)| !leaving.contains(n));
        if self.strategy == PartitionStrategy::EqualPartitions && !next.members.is_empty() {
            let mut counts: BTreeMap<NodeId, usize> =
                next.members.iter().map(|m| (*m, 0)).collect();
            for o in &next.owners {
                if let Some(c) = counts.get_mut(o) {
                    *c += 1;
                }
            }
            // The member holding fewest (lowest id on ties) takes each freed partition: an
            // ordered set of (count, node) finds it without a scan per partition.
            let random = self.assignment == PartitionAssignment::Random;
            let mut fewest: BTreeSet<(usize, u64, NodeId)> = counts
                .iter()
                .map(|(n, c)| (*c, if random { rng.next_u64() } else { 0 }, *n))
                .collect();
            let leaving: BTreeSet<NodeId> = leaving.iter().copied().collect();
            for owner in next.owners.iter_mut() {
                if leaving.contains(owner) {
                    let Some((c, tie, taker)) = fewest.pop_first() else {
                        break;
                    };
                    *owner = taker;
                    fewest.insert((c + 1, tie, taker));
                }
            }
        }
        next
    }
}

/// A fixed ring: who owns which slot, each key's slot, and each slot's preference list.
#[derive(Clone, Debug)]
pub struct Ring {
    n: usize,
    stride: usize,
    slot_owner: Vec<NodeId>,
    key_slot: Vec<u32>,
    /// Preference lists, `stride` entries per slot (the first N are the replicas).
    preference: Vec<NodeId>,
    /// Per node, the slots it is a home replica of, in ring order.
    home_slots: Vec<Vec<u32>>,
    members: Vec<NodeId>,
    slot_keys: Vec<KeyId>,
    slot_key_start: Vec<u32>,
    /// The datacenter of every node id ever created (members or not).
    node_dc: Vec<DcId>,
}

impl Ring {
    /// Builds the initial ring for `node_dc` (each node's datacenter) and `keys` keys.
    /// Token draws come from `rng` (the ring's own stream).
    pub fn build(node_dc: &[DcId], cfg: &RingConfig, keys: u32, rng: &mut SimRng) -> Ring {
        let placement = Placement::initial(node_dc, cfg.partitioning, rng);
        Ring::from_placement(&placement, node_dc, &cfg.replicas, keys)
    }

    /// Builds the ring of a placement. `node_dc` covers every node id ever created
    /// (members or not).
    pub fn from_placement(
        placement: &Placement,
        node_dc: &[DcId],
        replicas: &ReplicaRule,
        keys: u32,
    ) -> Ring {
        assert!(!placement.members.is_empty(), "a ring needs members");
        let node_count = node_dc.len();
        let q = placement.partitions;
        // (slot owners in ring order, how a key position maps to its starting slot)
        let (slot_owner, key_slot): (Vec<NodeId>, Vec<u32>) = match placement.strategy {
            PartitionStrategy::EqualPartitions => {
                let key_slot = (0..keys)
                    .map(|k| partition_of(key_position(KeyId(k)), q))
                    .collect();
                (placement.owners.clone(), key_slot)
            }
            PartitionStrategy::RandomTokens | PartitionStrategy::RandomTokensEqualPartitions => {
                let tokens = &placement.tokens;
                let successor = |pos: u64| -> u32 {
                    (tokens.partition_point(|(t, _)| *t < pos) % tokens.len()) as u32
                };
                let key_slot = if placement.strategy == PartitionStrategy::RandomTokens {
                    (0..keys)
                        .map(|k| successor(key_position(KeyId(k))))
                        .collect()
                } else {
                    // A partition is stored on the nodes that follow its end on the ring.
                    let qq = q as u128;
                    let partition_start: Vec<u32> = (0..qq)
                        .map(|i| successor((((i + 1) << 64) / qq).saturating_sub(1) as u64))
                        .collect();
                    (0..keys)
                        .map(|k| partition_start[partition_of(key_position(KeyId(k)), q) as usize])
                        .collect()
                };
                (tokens.iter().map(|(_, n)| *n).collect(), key_slot)
            }
        };
        let member_count = placement.members.len();
        let n = replicas.n.min(member_count);
        let stride = (n + FALLBACKS).min(member_count);
        let dc_count = node_dc.iter().map(|d| d.0 as usize + 1).max().unwrap_or(1);
        let dcs_present = {
            let mut present = vec![false; dc_count];
            for m in &placement.members {
                present[node_dc[m.index()].index()] = true;
            }
            present.iter().filter(|p| **p).count().max(1)
        };
        let mut preference = Vec::with_capacity(slot_owner.len() * stride);
        let mut scratch = WalkScratch::new(node_count, dc_count);
        // The most replicas each datacenter may take in the walk's first pass.
        let quota: Vec<usize> = match &replicas.per_dc {
            Some(per_dc) => (0..dc_count)
                .map(|d| per_dc.get(d).copied().unwrap_or(0))
                .collect(),
            None if replicas.across_dcs => vec![n.div_ceil(dcs_present); dc_count],
            None => vec![n; dc_count],
        };
        let rule = WalkRule {
            n,
            len: stride,
            quota: &quota,
        };
        for start in 0..slot_owner.len() {
            let list = preference_walk(&slot_owner, start, node_dc, rule, &mut scratch);
            preference.extend_from_slice(list);
        }
        let mut home_slots = vec![Vec::new(); node_count];
        for slot in 0..slot_owner.len() {
            for node in &preference[slot * stride..slot * stride + n] {
                home_slots[node.index()].push(slot as u32);
            }
        }
        // Keys grouped by slot (a counting sort): slot s's keys are
        // slot_keys[slot_key_start[s]..slot_key_start[s + 1]].
        let mut slot_key_start = vec![0u32; slot_owner.len() + 1];
        for s in &key_slot {
            slot_key_start[*s as usize + 1] += 1;
        }
        for i in 1..slot_key_start.len() {
            slot_key_start[i] += slot_key_start[i - 1];
        }
        let mut fill = slot_key_start.clone();
        let mut slot_keys = vec![KeyId(0); key_slot.len()];
        for (k, s) in key_slot.iter().enumerate() {
            slot_keys[fill[*s as usize] as usize] = KeyId(k as u32);
            fill[*s as usize] += 1;
        }
        Ring {
            n,
            stride,
            node_dc: node_dc.to_vec(),
            slot_owner,
            key_slot,
            preference,
            home_slots,
            members: placement.members.clone(),
            slot_keys,
            slot_key_start,
        }
    }

    /// The nodes on this ring, sorted.
    pub fn members(&self) -> &[NodeId] {
        &self.members
    }

    pub fn is_member(&self, node: NodeId) -> bool {
        self.members.binary_search(&node).is_ok()
    }

    /// Replication factor the ring was built for.
    pub fn n(&self) -> usize {
        self.n
    }

    /// The key's preference list: the N replicas first, then up to `FALLBACKS` fallbacks
    /// in ring order.
    pub fn preference(&self, key: KeyId) -> &[NodeId] {
        let slot = self.key_slot[key.index()] as usize;
        &self.preference[slot * self.stride..(slot + 1) * self.stride]
    }

    /// Whether every key falls in the same numbered range under both rings (then Merkle
    /// trees built under one serve the other).
    pub fn same_ranges(&self, other: &Ring) -> bool {
        self.key_slot == other.key_slot
    }

    /// The slot (key range) a key belongs to: the unit of Merkle trees and ownership.
    pub fn slot_of(&self, key: KeyId) -> u32 {
        self.key_slot[key.index()]
    }

    /// A slot's preference list: its home replicas, then its fallbacks.
    pub fn slot_preference(&self, slot: u32) -> &[NodeId] {
        let s = slot as usize;
        &self.preference[s * self.stride..(s + 1) * self.stride]
    }

    /// The home replicas of a slot.
    pub fn slot_replicas(&self, slot: u32) -> &[NodeId] {
        let s = slot as usize;
        &self.preference[s * self.stride..s * self.stride + self.n]
    }

    /// The keys of the workload's key space that fall in `slot`, in key order.
    pub fn keys_of_slot(&self, slot: u32) -> &[KeyId] {
        let s = slot as usize;
        match (self.slot_key_start.get(s), self.slot_key_start.get(s + 1)) {
            (Some(a), Some(b)) => &self.slot_keys[*a as usize..*b as usize],
            _ => &[],
        }
    }

    /// The slots `node` is a home replica of. Slots that no key maps to are included.
    pub fn home_slots(&self, node: NodeId) -> &[u32] {
        self.home_slots
            .get(node.index())
            .map(Vec::as_slice)
            .unwrap_or(&[])
    }

    /// The first N entries of the preference list: the key's home replicas.
    pub fn replicas(&self, key: KeyId) -> &[NodeId] {
        &self.preference(key)[..self.n]
    }

    /// The datacenter of `node` (every node this ring was built with, member or not).
    pub fn dc_of(&self, node: NodeId) -> DcId {
        self.node_dc.get(node.index()).copied().unwrap_or(DcId(0))
    }

    pub fn is_replica(&self, key: KeyId, node: NodeId) -> bool {
        self.replicas(key).contains(&node)
    }

    pub fn key_count(&self) -> usize {
        self.key_slot.len()
    }

    pub fn slot_count(&self) -> usize {
        self.slot_owner.len()
    }
}

/// Strategy 3's placement: partitions dealt to nodes in turn, the nodes ordered so that
/// consecutive ones alternate datacenters (east-0, west-0, east-1, west-1, ...). Every node
/// owns Q/S partitions (give or take one) and, since a preference list walks consecutive
/// partitions, is a replica of about N*Q/S: the even spread that makes strategy 3 balance
/// best (Dynamo §6.2).
fn striped_owners(node_dc: &[DcId], count: usize) -> Vec<NodeId> {
    let dcs = node_dc.iter().map(|d| d.index() + 1).max().unwrap_or(1);
    let mut per_dc: Vec<Vec<NodeId>> = vec![Vec::new(); dcs];
    for (n, d) in node_dc.iter().enumerate() {
        per_dc[d.index()].push(NodeId(n as u32));
    }
    let longest = per_dc.iter().map(Vec::len).max().unwrap_or(0);
    let order: Vec<NodeId> = (0..longest)
        .flat_map(|i| per_dc.iter().filter_map(move |nodes| nodes.get(i).copied()))
        .collect();
    (0..count).map(|p| order[p % order.len()]).collect()
}

/// Strategy 3's random deal: the stripe's datacenter pattern is kept (consecutive
/// partitions alternate datacenters, so every preference list spans them the same way),
/// while each datacenter's partitions are shuffled among its own nodes: counts stay
/// exactly the stripe's, but a node's neighbours on the ring, and so the nodes it shares
/// replica sets with, are drawn from the seed.
fn deal_within_datacenters(owners: &mut [NodeId], node_dc: &[DcId], rng: &mut SimRng) {
    let dcs = node_dc.iter().map(|d| d.index() + 1).max().unwrap_or(1);
    for dc in 0..dcs {
        let slots: Vec<usize> = (0..owners.len())
            .filter(|p| node_dc[owners[*p].index()].index() == dc)
            .collect();
        let mut dealt: Vec<NodeId> = slots.iter().map(|p| owners[*p]).collect();
        shuffle(&mut dealt, rng);
        for (p, node) in slots.into_iter().zip(dealt) {
            owners[p] = node;
        }
    }
}

/// Fisher-Yates from the seeded stream (the crate's own shuffle could change with a
/// `rand` upgrade and with it every seeded run).
fn shuffle<T>(items: &mut [T], rng: &mut SimRng) {
    for i in (1..items.len()).rev() {
        let j = below(rng, i as u64 + 1) as usize;
        items.swap(i, j);
    }
}

struct WalkScratch {
    taken: Vec<bool>,
    per_dc: Vec<usize>,
    out: Vec<NodeId>,
}

impl WalkScratch {
    fn new(nodes: usize, dcs: usize) -> Self {
        WalkScratch {
            taken: vec![false; nodes],
            per_dc: vec![0; dcs],
            out: Vec::new(),
        }
    }
}

/// How a preference list is walked: `n` replicas, at most `quota[d]` of them in
/// datacenter d on the first pass, then fallbacks up to `len` nodes.
#[derive(Clone, Copy)]
struct WalkRule<'q> {
    n: usize,
    len: usize,
    quota: &'q [usize],
}

/// Walks clockwise from `start`, collecting distinct nodes: the first `n` within each
/// datacenter's quota (a datacenter too small for its quota leaves a shortfall the second
/// pass fills from any datacenter), then fallbacks in plain ring order, up to `len` nodes.
fn preference_walk<'s>(
    owners: &[NodeId],
    start: usize,
    node_dc: &[DcId],
    rule: WalkRule,
    s: &'s mut WalkScratch,
) -> &'s [NodeId] {
    for node in s.out.drain(..) {
        s.taken[node.index()] = false;
    }
    s.per_dc.iter_mut().for_each(|c| *c = 0);
    let WalkRule { n, len, quota } = rule;
    let slots = owners.len();
    // Pass 1: replicas under the datacenter quota. Pass 2: fill any shortfall (a
    // datacenter too small for its share). Pass 3: fallbacks.
    for pass in 0..3 {
        let target = if pass < 2 { n } else { len };
        if s.out.len() >= target {
            continue;
        }
        for step in 0..slots {
            let node = owners[(start + step) % slots];
            if s.taken[node.index()] {
                continue;
            }
            let dc = node_dc[node.index()].index();
            if pass == 0 && s.per_dc[dc] >= quota[dc] {
                continue;
            }
            s.taken[node.index()] = true;
            s.per_dc[dc] += 1;
            s.out.push(node);
            if s.out.len() >= target {
                break;
            }
        }
    }
    &s.out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::rng::{RngStreams, Stream};

    fn ring(strategy: PartitionStrategy, dcs: &[u32], n: usize, across: bool) -> (Ring, Vec<DcId>) {
        let node_dc: Vec<DcId> = dcs
            .iter()
            .enumerate()
            .flat_map(|(d, count)| (0..*count).map(move |_| DcId(d as u16)))
            .collect();
        let partitioning = Partitioning {
            strategy,
            partitions: 256,
            tokens_per_node: 8,
            assignment: PartitionAssignment::Random,
        };
        let cfg = RingConfig {
            partitioning: &partitioning,
            replicas: ReplicaRule {
                n,
                across_dcs: across,
                per_dc: None,
            },
        };
        let mut rng = RngStreams::new(5).stream(Stream::Ring, 0);
        (Ring::build(&node_dc, &cfg, 2_000, &mut rng), node_dc)
    }

    /// Strategy 3 at a large Q: joins and leaves keep every member within one partition
    /// of an equal share (a join here was quadratic in Q: 75 s at Q = 262,144).
    #[test]
    fn equal_partition_joins_and_leaves_stay_balanced_at_large_q() {
        let p = Partitioning {
            strategy: PartitionStrategy::EqualPartitions,
            partitions: 65_536,
            tokens_per_node: 8,
            assignment: PartitionAssignment::Random,
        };
        let mut rng = RngStreams::new(5).stream(Stream::Ring, 0);
        let node_dc = vec![DcId(0); 6];
        let balance = |pl: &Placement| {
            let mut counts: BTreeMap<NodeId, usize> = pl.members.iter().map(|m| (*m, 0)).collect();
            for o in &pl.owners {
                *counts.entry(*o).or_default() += 1;
            }
            let (lo, hi) = (counts.values().min(), counts.values().max());
            (
                counts.len(),
                lo.copied().unwrap_or(0),
                hi.copied().unwrap_or(0),
            )
        };
        let start = Placement::initial(&node_dc, &p, &mut rng);
        let joined = start.with_joined(&[NodeId(6), NodeId(7)], &mut rng);
        let (members, lo, hi) = balance(&joined);
        assert_eq!(members, 8);
        assert!(hi - lo <= 1, "after the joins: {lo}..{hi}");
        let left = joined.without(&[NodeId(2), NodeId(6), NodeId(7)], &mut rng);
        let (members, lo, hi) = balance(&left);
        assert_eq!(members, 5);
        assert!(hi - lo <= 1, "after the leaves: {lo}..{hi}");
        assert!(left.owners.iter().all(|o| ![2, 6, 7].contains(&o.0)));
    }

    const ALL: [PartitionStrategy; 3] = [
        PartitionStrategy::RandomTokens,
        PartitionStrategy::RandomTokensEqualPartitions,
        PartitionStrategy::EqualPartitions,
    ];

    #[test]
    fn preference_lists_hold_n_distinct_nodes_then_fallbacks() {
        for strategy in ALL {
            let (ring, _) = ring(strategy, &[20], 3, false);
            for k in 0..2_000 {
                let list = ring.preference(KeyId(k));
                assert_eq!(list.len(), 3 + FALLBACKS);
                let mut sorted = list.to_vec();
                sorted.sort();
                sorted.dedup();
                assert_eq!(sorted.len(), list.len(), "{strategy:?} key {k}: {list:?}");
            }
        }
    }

    #[test]
    fn replicas_span_datacenters_when_asked() {
        for strategy in ALL {
            let (ring, node_dc) = ring(strategy, &[10, 10], 3, true);
            for k in 0..2_000 {
                let dcs: Vec<DcId> = ring
                    .replicas(KeyId(k))
                    .iter()
                    .map(|n| node_dc[n.index()])
                    .collect();
                assert!(
                    dcs.contains(&DcId(0)) && dcs.contains(&DcId(1)),
                    "{strategy:?} key {k}: {dcs:?}"
                );
            }
            // Three datacenters and N=3: one replica in each.
            let (ring, node_dc) = self::ring(strategy, &[5, 5, 5], 3, true);
            for k in 0..2_000 {
                let mut dcs: Vec<DcId> = ring
                    .replicas(KeyId(k))
                    .iter()
                    .map(|n| node_dc[n.index()])
                    .collect();
                dcs.sort();
                assert_eq!(dcs, vec![DcId(0), DcId(1), DcId(2)]);
            }
        }
    }

    #[test]
    fn replicas_per_datacenter_place_exactly_that_many_in_each() {
        let node_dc: Vec<DcId> = [(0u16, 6), (1, 4), (2, 3)]
            .iter()
            .flat_map(|(d, count)| (0..*count).map(move |_| DcId(*d)))
            .collect();
        for strategy in [
            PartitionStrategy::RandomTokens,
            PartitionStrategy::RandomTokensEqualPartitions,
            PartitionStrategy::EqualPartitions,
        ] {
            let partitioning = Partitioning {
                strategy,
                partitions: 128,
                tokens_per_node: 8,
                assignment: PartitionAssignment::Random,
            };
            let cfg = RingConfig {
                partitioning: &partitioning,
                replicas: ReplicaRule {
                    n: 5,
                    across_dcs: true,
                    per_dc: Some(vec![3, 0, 2]),
                },
            };
            let mut rng = RngStreams::new(3).stream(Stream::Ring, 0);
            let ring = Ring::build(&node_dc, &cfg, 1_000, &mut rng);
            for k in 0..1_000 {
                let mut per_dc = [0; 3];
                for n in ring.replicas(KeyId(k)) {
                    per_dc[ring.dc_of(*n).index()] += 1;
                }
                assert_eq!(per_dc, [3, 0, 2], "{strategy:?} key {k}");
            }
        }
    }

    #[test]
    fn a_small_cluster_still_gets_n_replicas() {
        // One datacenter of 2 nodes and one of 1: with N=3 every node is a replica.
        let (ring, _) = ring(PartitionStrategy::EqualPartitions, &[2, 1], 3, true);
        for k in 0..100 {
            let mut r = ring.replicas(KeyId(k)).to_vec();
            r.sort();
            assert_eq!(r, vec![NodeId(0), NodeId(1), NodeId(2)]);
        }
    }

    #[test]
    fn equal_partitions_spread_ownership_evenly() {
        let (ring, _) = ring(PartitionStrategy::EqualPartitions, &[16], 3, false);
        let mut per_node = [0usize; 16];
        for owner in &ring.slot_owner {
            per_node[owner.index()] += 1;
        }
        assert!(per_node.iter().all(|c| *c == 16), "{per_node:?}");
    }

    /// The nodes that share a replica set with `node`: the successors a failed node's
    /// load and hints spread over.
    fn replica_peers(ring: &Ring, node: NodeId) -> BTreeSet<NodeId> {
        (0..ring.slot_count() as u32)
            .map(|slot| ring.slot_replicas(slot))
            .filter(|r| r.contains(&node))
            .flat_map(|r| r.iter().copied())
            .filter(|n| *n != node)
            .collect()
    }

    /// Dynamo §4.2's strategy 3 deals Q/S partitions per node at random: ownership stays
    /// exact while each node shares replica sets with most others; the fixed stripe pairs
    /// a node with only its ring neighbours.
    #[test]
    fn random_assignment_spreads_replica_sets_striped_does_not() {
        let node_dc = vec![DcId(0); 32];
        let build = |assignment| {
            let partitioning = Partitioning {
                strategy: PartitionStrategy::EqualPartitions,
                partitions: 1024,
                tokens_per_node: 8,
                assignment,
            };
            let cfg = RingConfig {
                partitioning: &partitioning,
                replicas: ReplicaRule {
                    n: 3,
                    across_dcs: false,
                    per_dc: None,
                },
            };
            let mut rng = RngStreams::new(9).stream(Stream::Ring, 0);
            Ring::build(&node_dc, &cfg, 1_000, &mut rng)
        };
        let random = build(PartitionAssignment::Random);
        let striped = build(PartitionAssignment::Striped);
        for ring in [&random, &striped] {
            let mut per_node = [0usize; 32];
            for owner in &ring.slot_owner {
                per_node[owner.index()] += 1;
            }
            assert!(per_node.iter().all(|c| *c == 32), "{per_node:?}");
        }
        let striped_peers = replica_peers(&striped, NodeId(0)).len();
        let random_peers = replica_peers(&random, NodeId(0)).len();
        assert_eq!(striped_peers, 4, "the stripe's two neighbours each side");
        assert!(random_peers >= 25, "random: {random_peers} of 31 peers");
        // Another seed deals another ring.
        let mut rng = RngStreams::new(10).stream(Stream::Ring, 0);
        let other = Placement::initial(
            &node_dc,
            &Partitioning {
                strategy: PartitionStrategy::EqualPartitions,
                partitions: 1024,
                tokens_per_node: 8,
                assignment: PartitionAssignment::Random,
            },
            &mut rng,
        );
        assert_ne!(other.owners, random.slot_owner);
    }

    #[test]
    fn key_positions_are_stable() {
        // MD5("key-0") = 9f0f5c5d..., a fixed point of the documented hash.
        let expected = u64::from_be_bytes(Md5::digest(b"key-0")[..8].try_into().unwrap_or([0; 8]));
        assert_eq!(key_position(KeyId(0)), expected);
        assert_ne!(key_position(KeyId(0)), key_position(KeyId(1)));
    }
}
