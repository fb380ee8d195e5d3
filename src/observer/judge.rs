//! The consistency judgements, as functions over the oracle's own record: which writes
//! were acknowledged before a read began (event order), and ground-truth ancestry
//! (`Causality`, whose `reflects` is the one notion of "a read reflects a write"). No
//! protocol clock or timestamp is consulted. docs/report.md
//! ("How reads are judged") states the same rules with examples; this file is the one
//! place they are implemented.

use super::causality::{Acked, Causality, Order};
use crate::ids::WriteId;

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
        /// Acknowledged writes missed (k-staleness), see [`judge_read`].
        k: u32,
        /// The most recently acknowledged write the read missed.
        missed: WriteId,
    },
}

/// How far back k-staleness is counted; deeper misses are reported as this value.
pub const K_MAX: u32 = 1_000;

/// Judges a read that began at `start` (event order; `start_us` in time) and returned
/// `returned`, against `acked`: the key's acknowledged writes in acknowledgement order.
///
/// A(r) = the writes acknowledged before the read began. A write w in A(r) is *retired*
/// by u in A(r) when u was invoked after w was acknowledged: from then on u is what a
/// fresh read must reflect. The read is stale when it misses (neither returns nor
/// returns a descendant of) some w in A(r) that nothing in A(r) retires. k counts the
/// writes of A(r) it misses that no write it did reflect retires; stale iff k >= 1.
pub fn judge_read(
    causality: &Causality,
    acked: &[Acked],
    start: Order,
    start_us: u64,
    returned: &[WriteId],
) -> Verdict {
    let before = acked.partition_point(|a| a.ack < start);
    if before == 0 {
        return Verdict::NotJudged;
    }
    let since_ack_us = start_us.saturating_sub(acked[before - 1].ack_us);
    let miss = misses(causality, &acked[..before], returned, K_MAX);
    match miss {
        None => Verdict::Fresh { since_ack_us },
        Some((k, missed)) => Verdict::Stale {
            since_ack_us,
            k,
            missed,
        },
    }
}

/// Walks `acked` (acknowledged before the read, in acknowledgement order) from the newest,
/// counting writes `returned` misses that no covered write retires; stops at `cap` misses
/// or once every older write is retired by a covered one (older writes were acknowledged
/// before that write was invoked). Returns (k, the newest missed write) when k >= 1.
fn misses(
    causality: &Causality,
    acked: &[Acked],
    returned: &[WriteId],
    cap: u32,
) -> Option<(u32, WriteId)> {
    let mut covered_invoke: Option<Order> = None;
    let mut k = 0u32;
    let mut newest_missed = None;
    for w in acked.iter().rev() {
        if covered_invoke.is_some_and(|c| w.ack < c) {
            break;
        }
        if causality.reflects(returned, w.write) {
            covered_invoke = Some(covered_invoke.map_or(w.invoke, |c| c.max(w.invoke)));
        } else {
            k += 1;
            newest_missed.get_or_insert(w.write);
            if k == cap {
                break;
            }
        }
    }
    newest_missed.map(|m| (k, m))
}

/// The verdict of a session guarantee on one read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Guarantee {
    /// Nothing to compare with (no earlier write or read of the key by the same client).
    NotJudged,
    Kept,
    Violated,
}

/// Read-your-writes: a read of a key by client c violates it when it misses c's newest
/// own write acknowledged before the read began, unless a write the read did reflect
/// retires that write (was invoked after its acknowledgement), as in [`judge_read`].
///
/// `own` holds c's acknowledged writes to the key in acknowledgement order (only the
/// newest few are kept); `acked` is A(r) as for `judge_read`.
pub fn read_your_writes<'a>(
    causality: &Causality,
    own: impl DoubleEndedIterator<Item = &'a Acked>,
    acked: &[Acked],
    start: Order,
    returned: &[WriteId],
) -> Guarantee {
    let mut own = own;
    let Some(w) = own.rfind(|w| w.ack < start) else {
        return Guarantee::NotJudged;
    };
    if causality.reflects(returned, w.write)
        || retired_by_covered(causality, acked, start, w.ack, returned)
    {
        Guarantee::Kept
    } else {
        Guarantee::Violated
    }
}

/// Whether some write acknowledged before `start` and reflected by `returned` was invoked
/// after `after`.
fn retired_by_covered(
    causality: &Causality,
    acked: &[Acked],
    start: Order,
    after: Order,
    returned: &[WriteId],
) -> bool {
    let before = acked.partition_point(|a| a.ack < start);
    acked[..before]
        .iter()
        .rev()
        .take_while(|u| u.ack > after)
        .any(|u| u.invoke > after && causality.reflects(returned, u.write))
}

/// The client's previous successful read of a key: when it completed and what it returned.
pub struct PreviousRead<'a> {
    pub end: Order,
    pub returned: &'a [WriteId],
}

/// Monotonic reads: a read of a key by client c violates it when a version c's previous
/// successful read of the key returned is neither returned again nor descended from,
/// unless a write the read reflects was invoked after that previous read completed (a
/// newer write replaced it). Reads that overlapped the previous one are not judged.
pub fn monotonic_reads(
    causality: &Causality,
    previous: Option<PreviousRead>,
    acked: &[Acked],
    start: Order,
    returned: &[WriteId],
) -> Guarantee {
    let Some(prev) = previous.filter(|p| p.end < start) else {
        return Guarantee::NotJudged;
    };
    let lost_sight = prev
        .returned
        .iter()
        .any(|p| !causality.reflects(returned, *p));
    if !lost_sight || retired_by_covered(causality, acked, start, prev.end, returned) {
        Guarantee::Kept
    } else {
        Guarantee::Violated
    }
}

/// Versions in `returned` that another returned version descends from: siblings the
/// ground truth says are ordered (a reader reconciles what was already reconciled).
pub fn false_siblings(causality: &Causality, returned: &[WriteId]) -> u32 {
    causality.ancestors_among(returned)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::KeyId;

    /// A record where write i was invoked at order 10i and acknowledged at 10i+5, each
    /// having read the previous one (a chain), unless `concurrent` lists it as having read
    /// nothing.
    struct Run {
        c: Causality,
        acked: Vec<Acked>,
    }

    fn run(parents: &[&[u64]]) -> Run {
        let mut c = Causality::default();
        let mut acked = Vec::new();
        for (i, ps) in parents.iter().enumerate() {
            let w = WriteId(i as u64);
            let ps: Vec<WriteId> = ps.iter().map(|p| WriteId(*p)).collect();
            let t = 10 * i as u64;
            c.invoked(w, KeyId(0), t, t, Some(&ps), false);
            acked.push(c.acknowledged(w, t + 5, t + 5));
        }
        Run { c, acked }
    }

    fn ids(v: &[u64]) -> Vec<WriteId> {
        v.iter().map(|i| WriteId(*i)).collect()
    }

    #[test]
    fn a_read_missing_the_latest_acknowledged_write_is_stale_with_k() {
        let r = run(&[&[], &[0], &[1], &[2]]);
        assert_eq!(
            judge_read(&r.c, &r.acked, 40, 40, &ids(&[1])),
            Verdict::Stale {
                since_ack_us: 5,
                k: 2,
                missed: WriteId(3)
            }
        );
        assert!(matches!(
            judge_read(&r.c, &r.acked, 40, 40, &ids(&[3])),
            Verdict::Fresh { since_ack_us: 5 }
        ));
        // A not-found read after four acknowledged writes misses all four... but only the
        // ones no reflected write retires: nothing is reflected, so k = 4.
        assert!(matches!(
            judge_read(&r.c, &r.acked, 40, 40, &[]),
            Verdict::Stale { k: 4, .. }
        ));
        assert_eq!(judge_read(&r.c, &r.acked, 5, 5, &[]), Verdict::NotJudged);
    }

    #[test]
    fn an_acknowledgement_at_the_same_instant_but_earlier_in_event_order_is_judged() {
        let r = run(&[&[]]);
        // The write was acknowledged at order 5; a read beginning at order 6 (same µs).
        assert!(matches!(
            judge_read(&r.c, &r.acked, 6, 5, &[]),
            Verdict::Stale {
                since_ack_us: 0,
                k: 1,
                ..
            }
        ));
        assert_eq!(judge_read(&r.c, &r.acked, 5, 5, &[]), Verdict::NotJudged);
    }

    #[test]
    fn missing_one_of_two_concurrent_writes_is_stale_whichever_was_acknowledged_last() {
        // Writes 0 and 1 both read nothing and overlap: 0 over [0, 20], 1 over [10, 30].
        let mut c = Causality::default();
        c.invoked(WriteId(0), KeyId(0), 0, 0, Some(&[]), false);
        c.invoked(WriteId(1), KeyId(0), 10, 10, Some(&[]), false);
        let acked = vec![
            c.acknowledged(WriteId(0), 20, 20),
            c.acknowledged(WriteId(1), 30, 30),
        ];
        for returned in [&[0u64][..], &[1]] {
            assert!(matches!(
                judge_read(&c, &acked, 40, 40, &ids(returned)),
                Verdict::Stale { k: 1, .. }
            ));
        }
        assert!(matches!(
            judge_read(&c, &acked, 40, 40, &ids(&[0, 1])),
            Verdict::Fresh { .. }
        ));
    }

    #[test]
    fn a_write_begun_after_an_acknowledgement_retires_it() {
        // Write 1 read nothing but began (10) after write 0 was acknowledged (5).
        let r = run(&[&[], &[]]);
        assert!(matches!(
            judge_read(&r.c, &r.acked, 40, 40, &ids(&[1])),
            Verdict::Fresh { .. }
        ));
        // Returning the older write misses the newer one.
        assert!(matches!(
            judge_read(&r.c, &r.acked, 40, 40, &ids(&[0])),
            Verdict::Stale { k: 1, .. }
        ));
    }

    #[test]
    fn read_your_writes_and_monotonic_reads_use_the_same_record() {
        let r = run(&[&[], &[0], &[1], &[2]]);
        let own = [r.acked[1], r.acked[3]];
        let ryw = |r: &Run, start: Order, returned: &[u64]| {
            read_your_writes(&r.c, own.iter(), &r.acked, start, &ids(returned))
        };
        assert_eq!(ryw(&r, 40, &[2]), Guarantee::Violated);
        assert_eq!(ryw(&r, 40, &[3]), Guarantee::Kept);
        assert_eq!(ryw(&r, 30, &[2]), Guarantee::Kept, "2 descends from 1");
        assert_eq!(ryw(&r, 30, &[0]), Guarantee::Violated);
        assert_eq!(ryw(&r, 15, &[]), Guarantee::NotJudged);
        let acked = &r.acked;
        let prev = |end, returned: &'static [WriteId]| Some(PreviousRead { end, returned });
        const TWO: &[WriteId] = &[WriteId(2)];
        assert_eq!(
            monotonic_reads(&r.c, prev(26, TWO), acked, 40, &ids(&[3])),
            Guarantee::Kept
        );
        assert_eq!(
            monotonic_reads(&r.c, prev(26, TWO), acked, 40, &ids(&[1])),
            Guarantee::Violated
        );
        assert_eq!(
            monotonic_reads(&r.c, prev(45, TWO), acked, 40, &ids(&[1])),
            Guarantee::NotJudged,
            "overlapping reads are not ordered"
        );
    }

    #[test]
    fn false_siblings_are_returned_versions_another_returned_version_descends_from() {
        let r = run(&[&[], &[0], &[]]);
        assert_eq!(false_siblings(&r.c, &ids(&[0, 1, 2])), 1);
        assert_eq!(false_siblings(&r.c, &ids(&[1, 2])), 0);
    }
}
