//! Consistency policies beyond Dynamo's R and W: Cassandra's consistency levels with
//! per-datacenter replica counts, and Riak's `pr`, `pw` and `notfound_ok`. Their checks,
//! and what a reader of a report needs to know about them: how the quorums are written
//! ("R=2 W=2" or "read QUORUM, write ONE") and whether every read must meet every
//! acknowledged write.

use super::error::{ScenarioError, nearest};
use super::{ConsistencyLevel, Scenario};

/// The checks on `replication.consistency`, `replicas_per_datacenter`, `pr` and `pw`.
pub(super) fn check_policy(s: &Scenario, errors: &mut Vec<ScenarioError>) {
    let rep = &s.replication;
    let mut err = |path: &str, message: String| errors.push(ScenarioError::new(path, message));
    if let Some(per_dc) = &rep.replicas_per_datacenter {
        let names = || s.cluster.datacenters.iter().map(|d| d.name.as_str());
        for (name, count) in per_dc {
            let path = format!("replication.replicas_per_datacenter.{name}");
            match s.cluster.datacenters.iter().find(|d| &d.name == name) {
                None => err(
                    &path,
                    format!(
                        "no datacenter is named `{name}`{}; the datacenters are {}",
                        nearest(name, names())
                            .map(|n| format!(" (did you mean `{n}`?)"))
                            .unwrap_or_default(),
                        names()
                            .map(|n| format!("`{n}`"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                ),
                Some(dc) if *count > dc.nodes => err(
                    &path,
                    format!(
                        "{count} replicas is more than the {} nodes of datacenter `{name}`",
                        dc.nodes
                    ),
                ),
                Some(_) => {}
            }
        }
        let sum: u64 = per_dc.values().map(|c| *c as u64).sum();
        if sum != rep.n as u64 {
            err(
                "replication.replicas_per_datacenter",
                format!(
                    "the counts add up to {sum} but replication.n is {}; they must be equal (set n to {sum})",
                    rep.n
                ),
            );
        }
    }
    if let Some(levels) = rep.consistency {
        if levels.read == ConsistencyLevel::Any {
            err(
                "replication.consistency.read",
                "ANY is for writes only (a stored hint is no replica to read from); use ONE".into(),
            );
        }
        for (path, level) in [
            ("replication.consistency.read", levels.read),
            ("replication.consistency.write", levels.write),
        ] {
            let needs = match level {
                ConsistencyLevel::Two => 2,
                ConsistencyLevel::Three => 3,
                _ => 1,
            };
            if needs > rep.n {
                err(
                    path,
                    format!(
                        "{} needs {needs} replicas but replication.n is {}",
                        level.name(),
                        rep.n
                    ),
                );
            }
        }
    }
    for (path, value) in [("replication.pr", rep.pr), ("replication.pw", rep.pw)] {
        if value > rep.n {
            err(
                path,
                format!(
                    "{value} is not allowed; at most N ({}) primaries can answer",
                    rep.n
                ),
            );
        }
    }
}

/// How strongly a level covers the replicas of a key, for the overlap rule.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Cover {
    /// This many of the N, wherever they are.
    Count(u32),
    /// A majority in the coordinator's datacenter only.
    LocalMajority,
    /// One in the coordinator's datacenter only.
    LocalOne,
    /// A majority in every datacenter.
    EachMajority,
    /// A hint may be all there is.
    Nothing,
}

impl Scenario {
    /// How reads and writes count, as a reader sees it: `R=2 W=2`, or
    /// `read QUORUM, write ONE`, with `pr`, `pw` and `notfound_ok` when set.
    pub fn quorum_label(&self) -> String {
        let rep = &self.replication;
        let mut label = match rep.consistency {
            None => format!("R={} W={}", rep.r, rep.w),
            Some(l) => format!("read {}, write {}", l.read.name(), l.write.name()),
        };
        if rep.pr > 0 {
            label.push_str(&format!(" pr={}", rep.pr));
        }
        if rep.pw > 0 {
            label.push_str(&format!(" pw={}", rep.pw));
        }
        if !rep.notfound_ok {
            label.push_str(" notfound_ok=false");
        }
        label
    }

    /// Whether every read's counted replies must include a replica that acknowledged
    /// every earlier acknowledged write: R + W > N (or the levels' equivalent) with a
    /// strict quorum, or pr + pw > N (primaries are never stand-ins). Conservative: false
    /// where the rule depends on where keys' replicas fall.
    pub fn quorums_overlap(&self) -> bool {
        self.overlap(self.replication.sloppy_quorum)
    }

    /// Whether the quorums would overlap if only home replicas counted (sloppy quorum
    /// off, everything else as the scenario says).
    pub fn quorums_overlap_without_stand_ins(&self) -> bool {
        self.overlap(false)
    }

    fn overlap(&self, sloppy: bool) -> bool {
        let rep = &self.replication;
        if rep.pr + rep.pw > rep.n {
            return true;
        }
        if sloppy {
            return false;
        }
        let single_dc = self.cluster.datacenters.len() == 1;
        let cover = |level: Option<ConsistencyLevel>, count: u32| match level {
            None => Cover::Count(count),
            Some(ConsistencyLevel::One) => Cover::Count(1),
            Some(ConsistencyLevel::Two) => Cover::Count(2),
            Some(ConsistencyLevel::Three) => Cover::Count(3),
            Some(ConsistencyLevel::Quorum) => Cover::Count(rep.n / 2 + 1),
            Some(ConsistencyLevel::All) => Cover::Count(rep.n),
            Some(ConsistencyLevel::LocalQuorum) if single_dc => Cover::Count(rep.n / 2 + 1),
            Some(ConsistencyLevel::LocalOne) if single_dc => Cover::Count(1),
            Some(ConsistencyLevel::LocalQuorum) => Cover::LocalMajority,
            Some(ConsistencyLevel::LocalOne) => Cover::LocalOne,
            Some(ConsistencyLevel::EachQuorum) => Cover::EachMajority,
            Some(ConsistencyLevel::Any) => Cover::Nothing,
        };
        let levels = rep.consistency;
        let read = cover(levels.map(|l| l.read), rep.r);
        let write = cover(levels.map(|l| l.write), rep.w);
        match (read, write) {
            (Cover::Nothing, _) | (_, Cover::Nothing) => false,
            (Cover::Count(r), Cover::Count(w)) => r + w > rep.n,
            (_, Cover::Count(w)) | (Cover::Count(w), _) if w == rep.n => true,
            (Cover::EachMajority | Cover::LocalMajority, Cover::EachMajority)
            | (Cover::EachMajority, Cover::LocalMajority) => true,
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::scenario::{ConsistencyLevel as L, ConsistencyLevels, Scenario};

    fn scenario(dcs: usize) -> Scenario {
        let text = crate::scenario::starter::starter("policy");
        let mut s: Scenario = crate::scenario::load_str(&text, "starter", &[]).expect("loads");
        s.cluster.datacenters.truncate(dcs);
        s.replication.sloppy_quorum = false;
        s
    }

    fn with_levels(mut s: Scenario, read: L, write: L) -> Scenario {
        s.replication.consistency = Some(ConsistencyLevels { read, write });
        s
    }

    #[test]
    fn overlap_follows_the_levels() {
        let two = scenario(2);
        assert!(two.quorums_overlap(), "R=2 W=2 of 3");
        assert!(with_levels(two.clone(), L::Quorum, L::Quorum).quorums_overlap());
        assert!(with_levels(two.clone(), L::One, L::All).quorums_overlap());
        assert!(!with_levels(two.clone(), L::One, L::Quorum).quorums_overlap());
        assert!(!with_levels(two.clone(), L::LocalQuorum, L::LocalQuorum).quorums_overlap());
        assert!(with_levels(two.clone(), L::LocalQuorum, L::EachQuorum).quorums_overlap());
        assert!(!with_levels(two.clone(), L::One, L::Any).quorums_overlap());
        assert!(with_levels(scenario(1), L::LocalQuorum, L::LocalQuorum).quorums_overlap());
        let mut sloppy = with_levels(two.clone(), L::Quorum, L::Quorum);
        sloppy.replication.sloppy_quorum = true;
        assert!(
            !sloppy.quorums_overlap(),
            "stand-ins count under sloppy quorum"
        );
        sloppy.replication.pr = 2;
        sloppy.replication.pw = 2;
        assert!(
            sloppy.quorums_overlap(),
            "pr + pw > N holds among primaries"
        );
    }

    #[test]
    fn the_label_names_levels_and_riak_options() {
        let mut s = with_levels(scenario(2), L::LocalQuorum, L::One);
        s.replication.pw = 1;
        s.replication.notfound_ok = false;
        assert_eq!(
            s.quorum_label(),
            "read LOCAL_QUORUM, write ONE pw=1 notfound_ok=false"
        );
        assert_eq!(scenario(2).quorum_label(), "R=2 W=2");
    }
}
