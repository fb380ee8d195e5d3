//! The consistency judgements, as pure functions over what clients saw. Definitions follow
//! SCENARIO-FORMAT.md ("Metrics"); this file is the one place they are implemented.

use crate::ids::WriteId;
use crate::node::{Version, VersionRules};

/// An acknowledged write as the observer recorded it.
#[derive(Clone, Debug)]
pub struct AckedWrite {
    pub version: Version,
    pub invoke_us: u64,
    pub ack_us: u64,
}

/// The verdict on one successful read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// No write to the key was acknowledged before the read started.
    NotJudged,
    Fresh {
        /// Read start minus the acknowledgement of the newest write acknowledged before it.
        since_ack_us: u64,
    },
    Stale {
        since_ack_us: u64,
        /// Acknowledged writes missed, counted from the newest (k-staleness).
        k: u32,
        /// The newest acknowledged write the read missed.
        missed: WriteId,
    },
}

/// How far back k-staleness is counted; deeper misses are reported as this value.
pub const K_MAX: u32 = 1_000;

/// Judges a read of one key that started at `start_us` and returned `returned`.
///
/// `acked` holds the key's acknowledged writes in acknowledgement order. `invoke_of(w)`
/// gives (invoke time, ack time or None) of any write, acknowledged or not.
///
/// A read is stale when the newest write acknowledged before it started (w) is neither
/// returned nor superseded by a returned version. A returned version whose write ran
/// concurrently with w (its real-time interval overlapped w's, and it does not causally
/// precede w) also counts as covering w: either order of two concurrent writes is correct.
pub fn judge_read(
    rules: VersionRules,
    acked: &[AckedWrite],
    start_us: u64,
    returned: &[Version],
    invoke_of: impl Fn(WriteId) -> (u64, Option<u64>),
) -> Verdict {
    let before = acked.partition_point(|a| a.ack_us < start_us);
    if before == 0 {
        return Verdict::NotJudged;
    }
    let newest = &acked[before - 1];
    let since_ack_us = start_us - newest.ack_us;
    let covered = |w: &AckedWrite| covers_acked(rules, returned, w, &invoke_of);
    if covered(newest) {
        return Verdict::Fresh { since_ack_us };
    }
    let k = acked[..before]
        .iter()
        .rev()
        .take(K_MAX as usize)
        .take_while(|w| !covered(w))
        .count() as u32;
    Verdict::Stale {
        since_ack_us,
        k,
        missed: newest.version.write,
    }
}

/// Whether a read that returned `returned` covers the acknowledged write `w`: it returned
/// `w` or a version that supersedes it, or a version whose write ran concurrently with `w`.
/// This is the coverage rule of every judgement that compares a read with a write.
fn covers_acked(
    rules: VersionRules,
    returned: &[Version],
    w: &AckedWrite,
    invoke_of: &impl Fn(WriteId) -> (u64, Option<u64>),
) -> bool {
    rules.covers(returned, &w.version)
        || returned
            .iter()
            .any(|v| concurrent_with(rules, v, w, invoke_of))
}

/// The verdict of a session guarantee on one read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Guarantee {
    /// Nothing to compare with (no earlier write or read of the key by the same client).
    NotJudged,
    Kept,
    Violated,
}

/// Read-your-writes: a successful read of a key by client c violates it when it does not
/// cover (in the sense of [`judge_read`]) the newest write to the key that c itself had
/// acknowledged before the read started.
///
/// `own` holds c's acknowledged writes to the key in acknowledgement order (only the last
/// few are needed: the newest one acknowledged before `start_us` is found from the end).
pub fn read_your_writes<'a>(
    rules: VersionRules,
    own: impl DoubleEndedIterator<Item = &'a AckedWrite>,
    start_us: u64,
    returned: &[Version],
    invoke_of: impl Fn(WriteId) -> (u64, Option<u64>),
) -> Guarantee {
    let mut own = own;
    match own.rfind(|w| w.ack_us < start_us) {
        None => Guarantee::NotJudged,
        Some(w) if covers_acked(rules, returned, w, &invoke_of) => Guarantee::Kept,
        Some(_) => Guarantee::Violated,
    }
}

/// Monotonic reads: a successful read of a key by client c violates it when the versions
/// it returned do not cover every version that c's previous successful read of the key
/// returned (`previous`: the versions and the time that read completed). Coverage here is
/// the version order alone (descends under vector clocks, a larger timestamp under
/// last_write_wins): a version once seen must not disappear from the client's view, even
/// in favour of a concurrent one. Reads that overlapped the previous one in time are not
/// ordered after it and are not judged.
pub fn monotonic_reads(
    rules: VersionRules,
    previous: Option<(u64, &[Version])>,
    start_us: u64,
    returned: &[Version],
) -> Guarantee {
    match previous {
        Some((end_us, seen)) if end_us <= start_us => {
            if seen.iter().all(|p| rules.covers(returned, p)) {
                Guarantee::Kept
            } else {
                Guarantee::Violated
            }
        }
        _ => Guarantee::NotJudged,
    }
}

fn concurrent_with(
    rules: VersionRules,
    v: &Version,
    w: &AckedWrite,
    invoke_of: &impl Fn(WriteId) -> (u64, Option<u64>),
) -> bool {
    if v.write == w.version.write {
        return true;
    }
    // The protocol's own causality (vector clocks); kept from before the versioning seam.
    if rules.happened_before(v, &w.version) {
        return false;
    }
    let (v_invoke, v_ack) = invoke_of(v.write);
    v_invoke < w.ack_us && v_ack.is_none_or(|a| a > w.invoke_us)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::NodeId;
    use crate::node::versioning::{Causal, VClock};

    /// A chain of writes through node 0: write i has counter i+1 and ran over [10i, 10i+5].
    fn chain(n: u64) -> Vec<AckedWrite> {
        let mut clock = VClock::default();
        (0..n)
            .map(|i| {
                clock = clock.increment(NodeId(0), i, 10);
                AckedWrite {
                    version: Version {
                        write: WriteId(i),
                        causal: Causal::from_clock(clock.clone()),
                        stamp_us: i,
                    },
                    invoke_us: 10 * i,
                    ack_us: 10 * i + 5,
                }
            })
            .collect()
    }

    fn times(w: WriteId) -> (u64, Option<u64>) {
        (10 * w.0, Some(10 * w.0 + 5))
    }

    const VC: VersionRules = VersionRules::VectorClock;

    #[test]
    fn a_read_missing_the_latest_acknowledged_write_is_stale() {
        let acked = chain(4);
        // Starts at 40: writes 0..=3 acked (last at 35); returns write 1.
        let returned = [acked[1].version.clone()];
        assert_eq!(
            judge_read(VC, &acked, 40, &returned, times),
            Verdict::Stale {
                since_ack_us: 5,
                k: 2,
                missed: WriteId(3)
            }
        );
    }

    #[test]
    fn returning_the_latest_or_a_descendant_is_fresh() {
        let acked = chain(4);
        assert!(matches!(
            judge_read(VC, &acked, 40, &[acked[3].version.clone()], times),
            Verdict::Fresh { .. }
        ));
        // A read that started at 26 (write 2 acked at 25) returning write 3 (descendant).
        assert_eq!(
            judge_read(VC, &acked, 26, &[acked[3].version.clone()], times),
            Verdict::Fresh { since_ack_us: 1 }
        );
    }

    #[test]
    fn reads_before_any_acknowledged_write_are_not_judged() {
        let acked = chain(2);
        assert_eq!(judge_read(VC, &acked, 5, &[], times), Verdict::NotJudged);
        assert_eq!(judge_read(VC, &[], 500, &[], times), Verdict::NotJudged);
        // A not-found read after an acknowledged write is stale with k = all writes.
        assert!(matches!(
            judge_read(VC, &acked, 100, &[], times),
            Verdict::Stale { k: 2, .. }
        ));
    }

    #[test]
    fn a_concurrent_write_is_not_stale() {
        // Write A (node 1) over [0, 20], write B (node 2) over [10, 30]: concurrent.
        let a = Version {
            write: WriteId(0),
            causal: Causal::from_clock(VClock::default().increment(NodeId(1), 0, 10)),
            stamp_us: 0,
        };
        let b = Version {
            write: WriteId(1),
            causal: Causal::from_clock(VClock::default().increment(NodeId(2), 10, 10)),
            stamp_us: 10,
        };
        let acked = vec![
            AckedWrite {
                version: a.clone(),
                invoke_us: 0,
                ack_us: 20,
            },
            AckedWrite {
                version: b,
                invoke_us: 10,
                ack_us: 30,
            },
        ];
        let t = |w: WriteId| {
            if w.0 == 0 {
                (0, Some(20))
            } else {
                (10, Some(30))
            }
        };
        assert!(matches!(
            judge_read(VC, &acked, 40, std::slice::from_ref(&a), t),
            Verdict::Fresh { .. }
        ));
        // Had A finished before B started, returning A would be stale.
        let t2 = |w: WriteId| {
            if w.0 == 0 {
                (0, Some(5))
            } else {
                (10, Some(30))
            }
        };
        assert!(matches!(
            judge_read(VC, &acked, 40, &[a], t2),
            Verdict::Stale { k: 1, .. }
        ));
    }

    #[test]
    fn a_read_missing_the_clients_own_acknowledged_write_violates_read_your_writes() {
        let acked = chain(4);
        // The client wrote 1 and 3 itself; others wrote 0 and 2.
        let own = [acked[1].clone(), acked[3].clone()];
        let ryw = |start: u64, returned: &[Version]| {
            read_your_writes(VC, own.iter(), start, returned, times)
        };
        // Started at 40 (own write 3 acked at 35) and returned write 2: violated.
        assert_eq!(
            ryw(40, std::slice::from_ref(&acked[2].version)),
            Guarantee::Violated
        );
        assert_eq!(
            ryw(40, std::slice::from_ref(&acked[3].version)),
            Guarantee::Kept
        );
        // Started at 30: only own write 1 (acked at 15) counts; write 2 descends from it.
        assert_eq!(
            ryw(30, std::slice::from_ref(&acked[2].version)),
            Guarantee::Kept
        );
        assert_eq!(
            ryw(30, std::slice::from_ref(&acked[0].version)),
            Guarantee::Violated
        );
        // Before the client's first acknowledged write there is nothing to judge.
        assert_eq!(ryw(15, &[]), Guarantee::NotJudged);
        assert_eq!(
            read_your_writes(VC, [].iter(), 100, &[], times),
            Guarantee::NotJudged
        );
    }

    #[test]
    fn a_concurrent_write_by_another_client_does_not_violate_read_your_writes() {
        // Own write A (node 1) over [0, 20]; another client's B (node 2) over [10, 30].
        let a = AckedWrite {
            version: Version {
                write: WriteId(0),
                causal: Causal::from_clock(VClock::default().increment(NodeId(1), 0, 10)),
                stamp_us: 0,
            },
            invoke_us: 0,
            ack_us: 20,
        };
        let b = Version {
            write: WriteId(1),
            causal: Causal::from_clock(VClock::default().increment(NodeId(2), 10, 10)),
            stamp_us: 10,
        };
        let overlapping = |w: WriteId| {
            if w.0 == 0 {
                (0, Some(20))
            } else {
                (10, Some(30))
            }
        };
        assert_eq!(
            read_your_writes(
                VC,
                [&a].into_iter(),
                40,
                std::slice::from_ref(&b),
                overlapping
            ),
            Guarantee::Kept
        );
        // Had B started after A was acknowledged, returning B alone misses A.
        let after = |w: WriteId| {
            if w.0 == 0 {
                (0, Some(20))
            } else {
                (25, Some(30))
            }
        };
        assert_eq!(
            read_your_writes(VC, [&a].into_iter(), 40, &[b], after),
            Guarantee::Violated
        );
    }

    #[test]
    fn monotonic_read_violations_are_counted_against_the_previous_read() {
        let acked = chain(4);
        let v = |i: usize| acked[i].version.clone();
        // A client's reads of one key: (start, end, returned).
        let reads: [(u64, u64, Vec<Version>); 6] = [
            (0, 5, vec![]),
            (10, 12, vec![v(1)]),
            (20, 22, vec![v(2)]), // descends from 1: kept
            (30, 32, vec![v(0)]), // went back to 0: violated
            (31, 40, vec![v(0)]), // overlapped the previous read: not judged
            (50, 52, vec![v(3)]), // kept
        ];
        let mut previous: Option<(u64, Vec<Version>)> = None;
        let mut verdicts = Vec::new();
        for (start, end, returned) in &reads {
            let prev = previous.as_ref().map(|(e, vs)| (*e, vs.as_slice()));
            verdicts.push(monotonic_reads(VC, prev, *start, returned));
            previous = Some((*end, returned.clone()));
        }
        use Guarantee::*;
        assert_eq!(verdicts, [NotJudged, Kept, Kept, Violated, NotJudged, Kept]);
        // Siblings: having seen {a, b}, a read returning only b lost a.
        let a = Version {
            write: WriteId(10),
            causal: Causal::from_clock(VClock::default().increment(NodeId(1), 0, 10)),
            stamp_us: 0,
        };
        let b = Version {
            write: WriteId(11),
            causal: Causal::from_clock(VClock::default().increment(NodeId(2), 0, 10)),
            stamp_us: 0,
        };
        let seen = [a.clone(), b.clone()];
        assert_eq!(
            monotonic_reads(VC, Some((5, &seen)), 10, std::slice::from_ref(&b)),
            Violated
        );
        assert_eq!(monotonic_reads(VC, Some((5, &seen)), 10, &seen), Kept);
    }

    #[test]
    fn last_write_wins_judges_by_timestamp() {
        let lww = VersionRules::LastWriteWins;
        let v = |w: u64, stamp: u64| Version {
            write: WriteId(w),
            causal: Causal::from_clock(VClock::default()),
            stamp_us: stamp,
        };
        let acked = vec![AckedWrite {
            version: v(0, 100),
            invoke_us: 0,
            ack_us: 5,
        }];
        assert!(matches!(
            judge_read(lww, &acked, 10, &[v(7, 200)], |_| (50, Some(60))),
            Verdict::Fresh { .. }
        ));
        assert!(matches!(
            judge_read(lww, &acked, 10, &[v(8, 50)], |_| (50, Some(60))),
            Verdict::Stale { .. }
        ));
    }
}
