//! What an operation must hear before it answers. Dynamo counts R (or W) replies from any
//! of its N targets, a fallback standing in for a home replica included (sloppy quorum).
//! Cassandra's consistency levels count per datacenter where the level says so
//! (`LOCAL_QUORUM`, `EACH_QUORUM`, `LOCAL_ONE`), and Riak's `pr`/`pw` require some of the
//! replies to come from primaries (home replicas themselves, not stand-ins). A `Tally` is
//! planned once per operation from its targets and then counts replies; for plain R/W it
//! is a single counter.

use super::detector::Target;
use crate::ids::{DcId, KeyId, NodeId};
use crate::ring::Ring;
use smallvec::SmallVec;

/// A consistency level as the protocol applies it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Level {
    /// This many replies from any target (Dynamo's R or W; Cassandra's ONE, TWO, THREE).
    Count(usize),
    /// N / 2 + 1 of the key's N replicas.
    Quorum,
    /// Every one of the key's N replicas.
    All,
    /// One replica of the coordinator's datacenter.
    LocalOne,
    /// A majority of the coordinator's datacenter's replicas.
    LocalQuorum,
    /// A majority of the replicas in every datacenter that holds any.
    EachQuorum,
    /// Writes: one acknowledgement from any node, a fallback storing a hint included.
    Any,
}

/// How one kind of operation (reads or writes) counts its replies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QuorumRule {
    pub level: Level,
    /// Replies that must come from primaries (Riak's `pr` / `pw`).
    pub primaries: usize,
    /// Reads: whether an empty answer ("not found") counts (Riak's `notfound_ok`).
    pub notfound_ok: bool,
}

impl QuorumRule {
    /// Dynamo's rule: `count` replies from any target.
    pub fn count(count: usize) -> QuorumRule {
        QuorumRule {
            level: Level::Count(count),
            primaries: 0,
            notfound_ok: true,
        }
    }

    /// Whether targets are chosen sloppily for this rule even under a strict quorum:
    /// `ANY` counts a fallback's hint by definition.
    pub fn hints_count(&self) -> bool {
        self.level == Level::Any
    }
}

/// Datacenters one operation counts in; replication spans a few at most.
type PerDc = SmallVec<[(DcId, u8); 3]>;

/// The replies one operation has counted against what it needs.
#[derive(Clone, Debug)]
pub struct Tally {
    need: u8,
    got: u8,
    need_primaries: u8,
    got_primaries: u8,
    /// Bit i set when target i is a primary (a home replica, not a stand-in).
    primary: u64,
    /// Per datacenter: (datacenter, replies still missing there). Empty unless the level
    /// counts per datacenter.
    missing_in: PerDc,
    /// The datacenter each target counts for (its own, or that of the home replica it
    /// stands in for); only kept when `missing_in` is not empty.
    target_dc: SmallVec<[DcId; 4]>,
}

impl Tally {
    /// Plans the count for an operation on a key whose home replicas are `homes`, sent to
    /// `targets` (node, home replica it stands in for) by a coordinator in `local`.
    /// `None` when even every target answering could not meet the rule.
    pub fn plan(
        rule: &QuorumRule,
        homes: &[NodeId],
        targets: &[Target],
        dc_of: impl Fn(NodeId) -> DcId,
        local: DcId,
    ) -> Option<Tally> {
        let n = homes.len();
        let majority = |count: usize| count / 2 + 1;
        let counts_for = |t: &Target| dc_of(t.1.unwrap_or(t.0));
        let mut missing_in = PerDc::new();
        let need = match rule.level {
            Level::Count(c) => c,
            Level::Quorum => majority(n),
            Level::All => n,
            Level::Any => 1,
            Level::LocalOne | Level::LocalQuorum => {
                let local_homes = homes.iter().filter(|h| dc_of(**h) == local).count();
                let want = if rule.level == Level::LocalOne {
                    1
                } else {
                    majority(local_homes)
                };
                if local_homes == 0 {
                    return None;
                }
                missing_in.push((local, want as u8));
                want
            }
            Level::EachQuorum => {
                for h in homes {
                    let dc = dc_of(*h);
                    match missing_in.iter_mut().find(|(d, _)| *d == dc) {
                        Some((_, c)) => *c += 1,
                        None => missing_in.push((dc, 1)),
                    }
                }
                for (_, c) in missing_in.iter_mut() {
                    *c = majority(*c as usize) as u8;
                }
                missing_in.iter().map(|(_, c)| *c as usize).sum()
            }
        };
        let primary = (targets.iter().enumerate())
            .filter(|(_, t)| t.1.is_none())
            .fold(0u64, |mask, (i, _)| mask | 1 << i);
        let target_dc = if missing_in.is_empty() {
            SmallVec::new()
        } else {
            targets.iter().map(counts_for).collect()
        };
        let mut tally = Tally {
            need: need.max(rule.primaries) as u8,
            got: 0,
            need_primaries: rule.primaries as u8,
            got_primaries: 0,
            primary,
            missing_in,
            target_dc,
        };
        // Could every target answering meet it? Without per-datacenter counts that is a
        // matter of numbers (the common case, and every operation plans one).
        let possible = if tally.missing_in.is_empty() {
            targets.len() >= tally.need as usize
                && primary.count_ones() >= u32::from(tally.need_primaries)
        } else {
            let mut all = tally.clone();
            (0..targets.len()).for_each(|i| all.count(i));
            all.met()
        };
        possible.then(|| {
            tally.need = tally.need.max(1);
            tally
        })
    }

    /// Plans the count for an operation on `key` sent to `targets` by a coordinator (a
    /// node, or a client under client-driven routing) in datacenter `local`, with the key's
    /// home replicas and datacenters as `ring` has them.
    pub fn for_key(
        rule: &QuorumRule,
        ring: &Ring,
        key: KeyId,
        targets: &[Target],
        local: DcId,
    ) -> Option<Tally> {
        Tally::plan(rule, ring.replicas(key), targets, |n| ring.dc_of(n), local)
    }

    /// Counts the reply of target `i`.
    pub fn count(&mut self, i: usize) {
        self.got = self.got.saturating_add(1);
        if self.primary & (1 << i) != 0 {
            self.got_primaries = self.got_primaries.saturating_add(1);
        }
        if let Some(dc) = self.target_dc.get(i)
            && let Some((_, missing)) = self.missing_in.iter_mut().find(|(d, _)| d == dc)
        {
            *missing = missing.saturating_sub(1);
        }
    }

    /// Whether what was counted meets the rule.
    pub fn met(&self) -> bool {
        self.got >= self.need
            && self.got_primaries >= self.need_primaries
            && self.missing_in.iter().all(|(_, m)| *m == 0)
    }

    /// Replies counted so far.
    pub fn counted(&self) -> usize {
        self.got as usize
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Nodes 0-2 in datacenter 0, 3-5 in datacenter 1.
    fn dc_of(n: NodeId) -> DcId {
        DcId((n.0 / 3) as u16)
    }

    fn rule(level: Level) -> QuorumRule {
        QuorumRule {
            level,
            primaries: 0,
            notfound_ok: true,
        }
    }

    fn homes(ids: &[u32]) -> Vec<NodeId> {
        ids.iter().map(|i| NodeId(*i)).collect()
    }

    fn direct(ids: &[u32]) -> Vec<Target> {
        ids.iter().map(|i| (NodeId(*i), None)).collect()
    }

    /// Counts the targets at `indices` in turn; returns after how many replies it was met.
    fn met_after(tally: &mut Tally, indices: &[usize]) -> Option<usize> {
        for (k, i) in indices.iter().enumerate() {
            tally.count(*i);
            if tally.met() {
                return Some(k + 1);
            }
        }
        None
    }

    /// A plan exists exactly when every target answering would meet the rule: the plan's
    /// shortcut for rules without per-datacenter counts agrees with counting them all.
    #[test]
    fn a_plan_exists_exactly_when_all_targets_could_meet_it() {
        let h = homes(&[0, 1, 3]);
        let levels = [
            Level::Count(1),
            Level::Count(2),
            Level::Count(3),
            Level::Count(4),
            Level::Quorum,
            Level::All,
            Level::Any,
            Level::LocalOne,
            Level::LocalQuorum,
            Level::EachQuorum,
        ];
        // Targets: any subset of the homes, each answered directly or by a stand-in.
        for mask in 0u32..64 {
            let t: Vec<Target> = (0..3)
                .filter(|i| mask & (1 << i) != 0)
                .map(|i| match mask >> (3 + i) & 1 {
                    0 => (h[i], None),
                    _ => (NodeId(10 + i as u32), Some(h[i])),
                })
                .collect();
            for level in levels {
                for primaries in 0..3 {
                    let r = QuorumRule {
                        level,
                        primaries,
                        notfound_ok: true,
                    };
                    let plan = Tally::plan(&r, &h, &t, dc_of, DcId(0));
                    let mut all = match plan {
                        Some(p) => p,
                        None => {
                            // No plan: counting every target could not meet the rule.
                            let primaries_there = t.iter().filter(|x| x.1.is_none()).count();
                            let need = match level {
                                Level::Count(c) => c,
                                Level::Quorum => 2,
                                Level::All => 3,
                                _ => continue,
                            };
                            assert!(
                                t.len() < need.max(primaries) || primaries_there < primaries,
                                "{level:?} pr={primaries} targets={t:?}: refused but possible"
                            );
                            continue;
                        }
                    };
                    (0..t.len()).for_each(|i| all.count(i));
                    assert!(all.met(), "{level:?} pr={primaries} targets={t:?}");
                }
            }
        }
    }

    #[test]
    fn counts_quorum_all_and_plain_r() {
        let h = homes(&[0, 1, 3]);
        let t = direct(&[0, 1, 3]);
        for (level, replies) in [
            (Level::Count(1), 1),
            (Level::Count(2), 2),
            (Level::Quorum, 2),
            (Level::All, 3),
            (Level::Any, 1),
        ] {
            let mut tally = Tally::plan(&rule(level), &h, &t, dc_of, DcId(0)).expect("plan");
            assert_eq!(
                met_after(&mut tally, &[2, 0, 1]),
                Some(replies),
                "{level:?}"
            );
        }
    }

    #[test]
    fn local_levels_count_only_the_coordinators_datacenter() {
        // Homes 0, 1 (dc 0) and 3, 4 (dc 1): a local quorum in dc 0 is both 0 and 1.
        let h = homes(&[0, 1, 3, 4]);
        let t = direct(&[0, 1, 3, 4]);
        let mut q = Tally::plan(&rule(Level::LocalQuorum), &h, &t, dc_of, DcId(0)).unwrap();
        assert_eq!(
            met_after(&mut q, &[2, 3, 0, 1]),
            Some(4),
            "remote replies do not count"
        );
        let mut one = Tally::plan(&rule(Level::LocalOne), &h, &t, dc_of, DcId(1)).unwrap();
        assert_eq!(met_after(&mut one, &[0, 1, 2]), Some(3));
        // A coordinator in a datacenter without replicas cannot meet a local level.
        let h = homes(&[0, 1, 2]);
        assert!(
            Tally::plan(
                &rule(Level::LocalOne),
                &h,
                &direct(&[0, 1, 2]),
                dc_of,
                DcId(1)
            )
            .is_none()
        );
    }

    #[test]
    fn each_quorum_needs_a_majority_in_every_datacenter() {
        // dc 0 holds three replicas (majority 2), dc 1 holds one (majority 1).
        let h = homes(&[0, 1, 2, 3]);
        let t = direct(&[0, 1, 2, 3]);
        let mut each = Tally::plan(&rule(Level::EachQuorum), &h, &t, dc_of, DcId(0)).unwrap();
        assert_eq!(met_after(&mut each, &[0, 1, 2, 3]), Some(4));
        let mut each = Tally::plan(&rule(Level::EachQuorum), &h, &t, dc_of, DcId(0)).unwrap();
        assert_eq!(met_after(&mut each, &[3, 0, 1]), Some(3));
        // Without a target in dc 1 it can never be met.
        assert!(Tally::plan(&rule(Level::EachQuorum), &h, &t[..3], dc_of, DcId(0)).is_none());
    }

    #[test]
    fn a_stand_in_counts_for_its_home_but_not_as_a_primary() {
        // Node 3 (dc 1) stands in for home 2 (dc 0).
        let h = homes(&[0, 1, 2]);
        let t = vec![
            (NodeId(0), None),
            (NodeId(1), None),
            (NodeId(3), Some(NodeId(2))),
        ];
        let mut q = Tally::plan(&rule(Level::LocalQuorum), &h, &t, dc_of, DcId(0)).unwrap();
        assert_eq!(
            met_after(&mut q, &[2, 0]),
            Some(2),
            "the stand-in counts in dc 0"
        );
        let pw2 = QuorumRule {
            primaries: 2,
            ..rule(Level::Count(1))
        };
        let mut p = Tally::plan(&pw2, &h, &t, dc_of, DcId(0)).unwrap();
        assert_eq!(
            met_after(&mut p, &[2, 0, 1]),
            Some(3),
            "two primaries needed"
        );
        let pw3 = QuorumRule {
            primaries: 3,
            ..rule(Level::Count(1))
        };
        assert!(Tally::plan(&pw3, &h, &t, dc_of, DcId(0)).is_none());
    }

    #[test]
    fn too_few_targets_cannot_be_planned() {
        let h = homes(&[0, 1, 2]);
        assert!(Tally::plan(&rule(Level::Count(2)), &h, &direct(&[0]), dc_of, DcId(0)).is_none());
        assert!(Tally::plan(&rule(Level::All), &h, &direct(&[0, 1]), dc_of, DcId(0)).is_none());
        assert!(Tally::plan(&rule(Level::Quorum), &h, &direct(&[0, 1]), dc_of, DcId(0)).is_some());
    }
}
