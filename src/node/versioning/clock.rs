//! The vector clock type the clock-based schemes share (Dynamo §4.4): (actor, counter)
//! entries sorted by actor, each with the wall-clock stamp of its last increment, which
//! decides what truncation past `max_entries` drops (oldest stamp first, as Dynamo does).

use super::Actor;
#[cfg(test)]
use crate::ids::NodeId;
use std::cmp::Ordering;
use std::sync::Arc;

/// One (actor, counter) pair of a vector clock, with the wall-clock time (µs, skew
/// included, may be negative) at which the actor last advanced it; the stamp decides
/// which entry truncation drops.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClockEntry {
    pub actor: Actor,
    pub counter: u32,
    pub stamp_us: i64,
}

/// A vector clock: entries sorted by actor, shared immutably (cloning is a reference count).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct VClock(Option<Arc<[ClockEntry]>>);

/// How two clocks relate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Causality {
    Equal,
    /// The left clock has seen everything the right one has, and more.
    Descends,
    /// The right clock descends from the left.
    Precedes,
    Concurrent,
}

impl VClock {
    pub fn entries(&self) -> &[ClockEntry] {
        self.0.as_deref().unwrap_or(&[])
    }

    pub fn is_empty(&self) -> bool {
        self.entries().is_empty()
    }

    pub fn len(&self) -> usize {
        self.entries().len()
    }

    fn from_entries(entries: Vec<ClockEntry>) -> VClock {
        if entries.is_empty() {
            VClock(None)
        } else {
            VClock(Some(entries.into()))
        }
    }

    pub fn counter(&self, actor: impl Into<Actor>) -> u32 {
        let actor = actor.into();
        let e = self.entries();
        e.binary_search_by_key(&actor, |x| x.actor)
            .map(|i| e[i].counter)
            .unwrap_or(0)
    }

    /// Compares two clocks entry by entry (both are sorted by actor).
    pub fn compare(&self, other: &VClock) -> Causality {
        let (a, b) = (self.entries(), other.entries());
        let (mut i, mut j) = (0, 0);
        let (mut a_ahead, mut b_ahead) = (false, false);
        while i < a.len() || j < b.len() {
            let order = match (a.get(i), b.get(j)) {
                (Some(x), Some(y)) => x.actor.cmp(&y.actor),
                (Some(_), None) => Ordering::Less,
                (None, _) => Ordering::Greater,
            };
            match order {
                Ordering::Less => {
                    a_ahead |= a[i].counter > 0;
                    i += 1;
                }
                Ordering::Greater => {
                    b_ahead |= b[j].counter > 0;
                    j += 1;
                }
                Ordering::Equal => {
                    a_ahead |= a[i].counter > b[j].counter;
                    b_ahead |= b[j].counter > a[i].counter;
                    i += 1;
                    j += 1;
                }
            }
            if a_ahead && b_ahead {
                return Causality::Concurrent;
            }
        }
        match (a_ahead, b_ahead) {
            (false, false) => Causality::Equal,
            (true, false) => Causality::Descends,
            (false, true) => Causality::Precedes,
            (true, true) => Causality::Concurrent,
        }
    }

    /// True when this clock has seen everything `other` has (equal counts as descending).
    pub fn descends(&self, other: &VClock) -> bool {
        matches!(self.compare(other), Causality::Equal | Causality::Descends)
    }

    /// The least upper bound: the maximum counter per actor.
    pub fn merge(&self, other: &VClock) -> VClock {
        if other.is_empty() {
            return self.clone();
        }
        if self.is_empty() {
            return other.clone();
        }
        let (a, b) = (self.entries(), other.entries());
        let mut out = Vec::with_capacity(a.len() + b.len());
        let (mut i, mut j) = (0, 0);
        while i < a.len() || j < b.len() {
            match (a.get(i), b.get(j)) {
                (Some(x), Some(y)) if x.actor == y.actor => {
                    out.push(ClockEntry {
                        actor: x.actor,
                        counter: x.counter.max(y.counter),
                        stamp_us: x.stamp_us.max(y.stamp_us),
                    });
                    i += 1;
                    j += 1;
                }
                (Some(x), Some(y)) if x.actor < y.actor => {
                    out.push(*x);
                    i += 1;
                }
                (Some(x), None) => {
                    out.push(*x);
                    i += 1;
                }
                (_, Some(y)) => {
                    out.push(*y);
                    j += 1;
                }
                (None, None) => break,
            }
        }
        VClock::from_entries(out)
    }

    /// This clock advanced by `actor` at wall time `stamp_us` (its counter plus one).
    /// When more than `max_entries` remain, the entries with the oldest stamps are dropped
    /// (never the one just advanced), as Dynamo does; this can make later versions look
    /// concurrent (false conflicts).
    pub fn increment(&self, actor: impl Into<Actor>, stamp_us: i64, max_entries: usize) -> VClock {
        let actor = actor.into();
        let next = self.counter(actor).saturating_add(1);
        self.with_event(actor, next, stamp_us, max_entries)
    }

    /// This clock with `actor`'s entry raised to `counter` (an event the actor numbered
    /// itself), truncated like `increment`.
    pub fn with_event(
        &self,
        actor: Actor,
        counter: u32,
        stamp_us: i64,
        max_entries: usize,
    ) -> VClock {
        let old = self.entries();
        let limit = max_entries.max(1);
        // Without truncation (the usual case): the new clock is built in its shared
        // allocation at once, with no vector in between.
        let spliced = |before: &[ClockEntry], entry: ClockEntry, after: &[ClockEntry]| {
            let entries = (before.iter().copied())
                .chain(std::iter::once(entry))
                .chain(after.iter().copied());
            VClock(Some(entries.collect()))
        };
        match old.binary_search_by_key(&actor, |e| e.actor) {
            Ok(i) if old.len() <= limit => {
                let raised = ClockEntry {
                    actor,
                    counter: old[i].counter.max(counter),
                    stamp_us: old[i].stamp_us.max(stamp_us),
                };
                return spliced(&old[..i], raised, &old[i + 1..]);
            }
            Err(i) if old.len() < limit => {
                let added = ClockEntry {
                    actor,
                    counter,
                    stamp_us,
                };
                return spliced(&old[..i], added, &old[i..]);
            }
            _ => {}
        }
        // Room for the entry this may add, so the insert never moves the vector.
        let mut entries = Vec::with_capacity(self.entries().len() + 1);
        entries.extend_from_slice(self.entries());
        match entries.binary_search_by_key(&actor, |e| e.actor) {
            Ok(i) => {
                entries[i].counter = entries[i].counter.max(counter);
                entries[i].stamp_us = entries[i].stamp_us.max(stamp_us);
            }
            Err(i) => entries.insert(
                i,
                ClockEntry {
                    actor,
                    counter,
                    stamp_us,
                },
            ),
        }
        while entries.len() > max_entries.max(1) {
            let oldest = entries
                .iter()
                .enumerate()
                .filter(|(_, e)| e.actor != actor)
                .min_by_key(|(_, e)| (e.stamp_us, e.actor))
                .map(|(i, _)| i);
            match oldest {
                Some(i) => {
                    entries.remove(i);
                }
                None => break,
            }
        }
        VClock::from_entries(entries)
    }

    /// Whether this clock counts `actor`'s event `counter` (a dot) in its past.
    pub fn contains_event(&self, actor: Actor, counter: u32) -> bool {
        self.counter(actor) >= counter
    }
}

/// A clock from (node, counter) pairs, each entry stamped with its counter.
#[cfg(test)]
pub(super) fn clock_of(pairs: &[(u32, u32)]) -> VClock {
    let mut e: Vec<ClockEntry> = pairs
        .iter()
        .map(|(n, c)| ClockEntry {
            actor: NodeId(*n).into(),
            counter: *c,
            stamp_us: *c as i64,
        })
        .collect();
    e.sort_by_key(|x| x.actor);
    VClock::from_entries(e)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::rng::{RngStreams, Stream, below};

    use super::clock_of as clock;

    #[test]
    fn compare_covers_all_four_outcomes() {
        let a = clock(&[(1, 2), (2, 1)]);
        assert_eq!(a.compare(&a.clone()), Causality::Equal);
        assert_eq!(a.compare(&clock(&[(1, 1)])), Causality::Descends);
        assert_eq!(clock(&[(1, 1)]).compare(&a), Causality::Precedes);
        assert_eq!(a.compare(&clock(&[(1, 1), (3, 1)])), Causality::Concurrent);
        assert_eq!(VClock::default().compare(&a), Causality::Precedes);
        assert_eq!(
            VClock::default().compare(&VClock::default()),
            Causality::Equal
        );
    }

    /// Property: over random clocks, merge is an upper bound, commutative, and compare is
    /// antisymmetric and agrees with the per-entry definition.
    #[test]
    fn merge_and_compare_properties() {
        let mut rng = RngStreams::new(11).stream(Stream::Test, 0);
        let random_clock = |rng: &mut crate::engine::SimRng| {
            let pairs: Vec<(u32, u32)> = (0..5u32)
                .filter_map(|n| {
                    let c = below(rng, 4) as u32;
                    (c > 0).then_some((n, c))
                })
                .collect();
            clock(&pairs)
        };
        for _ in 0..5_000 {
            let (a, b) = (random_clock(&mut rng), random_clock(&mut rng));
            let m = a.merge(&b);
            assert!(m.descends(&a) && m.descends(&b));
            assert_eq!(m, b.merge(&a));
            let expected = {
                let ge = (0..5).all(|n| a.counter(NodeId(n)) >= b.counter(NodeId(n)));
                let le = (0..5).all(|n| a.counter(NodeId(n)) <= b.counter(NodeId(n)));
                match (ge, le) {
                    (true, true) => Causality::Equal,
                    (true, false) => Causality::Descends,
                    (false, true) => Causality::Precedes,
                    (false, false) => Causality::Concurrent,
                }
            };
            assert_eq!(a.compare(&b), expected, "{a:?} vs {b:?}");
            let flipped = match expected {
                Causality::Descends => Causality::Precedes,
                Causality::Precedes => Causality::Descends,
                other => other,
            };
            assert_eq!(b.compare(&a), flipped);
        }
    }

    #[test]
    fn increment_truncates_the_oldest_entry() {
        let c = clock(&[(1, 1), (2, 5), (3, 3)]);
        let next = c.increment(NodeId(4), 100, 3);
        let nodes: Vec<u32> = next.entries().iter().map(|e| e.actor.node.0).collect();
        assert_eq!(nodes, vec![2, 3, 4], "node 1 had the oldest stamp");
        assert_eq!(next.counter(NodeId(4)), 1);
        assert_eq!(c.increment(NodeId(2), 7, 10).counter(NodeId(2)), 6);
    }

    /// Property: `with_event` (built in place when nothing is truncated) gives exactly the
    /// clock of the plain algorithm: copy, raise or insert the entry, drop the oldest
    /// other entries past the limit.
    #[test]
    fn with_event_matches_the_plain_algorithm() {
        let reference = |c: &VClock, actor: Actor, counter: u32, stamp_us: i64, max: usize| {
            let mut e = c.entries().to_vec();
            match e.binary_search_by_key(&actor, |x| x.actor) {
                Ok(i) => {
                    e[i].counter = e[i].counter.max(counter);
                    e[i].stamp_us = e[i].stamp_us.max(stamp_us);
                }
                Err(i) => e.insert(
                    i,
                    ClockEntry {
                        actor,
                        counter,
                        stamp_us,
                    },
                ),
            }
            while e.len() > max.max(1) {
                let oldest = (e.iter().enumerate())
                    .filter(|(_, x)| x.actor != actor)
                    .min_by_key(|(_, x)| (x.stamp_us, x.actor))
                    .map(|(i, _)| i);
                match oldest {
                    Some(i) => {
                        e.remove(i);
                    }
                    None => break,
                }
            }
            VClock::from_entries(e)
        };
        let mut rng = RngStreams::new(12).stream(Stream::Test, 0);
        for _ in 0..5_000 {
            let pairs: Vec<(u32, u32)> = (0..6u32)
                .filter_map(|n| {
                    let c = below(&mut rng, 4) as u32;
                    (c > 0).then_some((n, c))
                })
                .collect();
            let c = clock(&pairs);
            let actor: Actor = NodeId(below(&mut rng, 7) as u32).into();
            let counter = below(&mut rng, 6) as u32;
            let stamp = below(&mut rng, 6) as i64;
            let max = below(&mut rng, 8) as usize;
            assert_eq!(
                c.with_event(actor, counter, stamp, max),
                reference(&c, actor, counter, stamp, max),
                "{c:?} + ({actor:?}, {counter}, {stamp}) max {max}"
            );
        }
    }
}
