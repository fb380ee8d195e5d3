//! The consistency judgements, as pure functions over what clients saw. Definitions follow
//! SCENARIO-FORMAT.md ("Metrics"); this file is the one place they are implemented.

use crate::ids::WriteId;
use crate::node::version::{Causality, Version, VersionRules};

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
    let covered = |w: &AckedWrite| {
        rules.covers(returned, &w.version)
            || returned
                .iter()
                .any(|v| concurrent_with(rules, v, w, &invoke_of))
    };
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

fn concurrent_with(
    rules: VersionRules,
    v: &Version,
    w: &AckedWrite,
    invoke_of: &impl Fn(WriteId) -> (u64, Option<u64>),
) -> bool {
    if v.write == w.version.write {
        return true;
    }
    if rules == VersionRules::VectorClock
        && v.clock.compare(&w.version.clock) == Causality::Precedes
    {
        return false;
    }
    let (v_invoke, v_ack) = invoke_of(v.write);
    v_invoke < w.ack_us && v_ack.is_none_or(|a| a > w.invoke_us)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::NodeId;
    use crate::node::version::VClock;

    /// A chain of writes through node 0: write i has counter i+1 and ran over [10i, 10i+5].
    fn chain(n: u64) -> Vec<AckedWrite> {
        let mut clock = VClock::default();
        (0..n)
            .map(|i| {
                clock = clock.increment(NodeId(0), i, 10);
                AckedWrite {
                    version: Version {
                        write: WriteId(i),
                        clock: clock.clone(),
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
            clock: VClock::default().increment(NodeId(1), 0, 10),
            stamp_us: 0,
        };
        let b = Version {
            write: WriteId(1),
            clock: VClock::default().increment(NodeId(2), 10, 10),
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
    fn last_write_wins_judges_by_timestamp() {
        let lww = VersionRules::LastWriteWins;
        let v = |w: u64, stamp: u64| Version {
            write: WriteId(w),
            clock: VClock::default(),
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
