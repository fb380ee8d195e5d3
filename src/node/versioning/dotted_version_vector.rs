//! Dotted version vectors (Preguiça, Baquero et al., 2010; Riak 2.0): each version
//! carries its own dot, the (actor, counter) event that made it, and its causal past, the
//! version vector of the context its client read. A version is obsolete exactly when
//! another version's past contains its dot, so siblings are exactly the versions no
//! client has seen together: no false siblings. The coordinator numbers its events in
//! order and stores each at once, so every dot of an actor below one a past contains is
//! in that past too; a put ships the stored siblings its context did not cover with it,
//! so no replica ever holds a dot without the siblings it was made beside. The vector
//! holds one entry per coordinator that wrote the key's history: the home replicas, plus
//! one per write coordinated outside them.

use super::clock::VClock;
use super::{Causal, Dot, NewObject, NewVersion, Scheme, Version, Versions};
use crate::ids::WriteId;

/// The dotted-version-vector scheme.
pub(super) struct DottedVersionVectors;

fn dot(v: &Version) -> Dot {
    // Every version this scheme makes has a dot; one without (never made here) is
    // treated as the empty event, covered by nothing but itself.
    v.causal.dot.unwrap_or_default()
}

/// Whether `past` contains `v`'s event.
fn past_covers(past: &VClock, v: &Version) -> bool {
    let d = dot(v);
    d.counter > 0 && past.contains_event(d.actor, d.counter)
}

/// Whether `by` makes `v` obsolete: `v`'s dot is in `by`'s past.
fn obsoletes(by: &Version, v: &Version) -> bool {
    by.write != v.write && past_covers(&by.causal.clock, v)
}

/// The version vector of everything `versions` saw and are: pasts and dots.
fn join(versions: &[Version]) -> VClock {
    versions.iter().fold(VClock::default(), |acc, v| {
        let d = dot(v);
        let with_past = acc.merge(&v.causal.clock);
        if d.counter == 0 {
            with_past
        } else {
            with_past.with_event(d.actor, d.counter, v.stamp_us, usize::MAX)
        }
    })
}

impl Scheme for DottedVersionVectors {
    const KEEPS_SIBLINGS: bool = true;
    const SHIPS_SIBLINGS: bool = true;

    fn merge(held: &mut Versions, incoming: &[Version]) {
        for v in incoming {
            if held.iter().any(|h| h.write == v.write || obsoletes(h, v)) {
                continue;
            }
            held.retain(|h| !obsoletes(v, h));
            held.push(v.clone());
        }
    }

    fn covers(held: &[Version], v: &Version) -> bool {
        held.iter().any(|h| h.write == v.write || obsoletes(h, v))
    }

    fn new_version(put: NewVersion) -> NewObject {
        // A blind put's past is everything the coordinator holds (it merges them all).
        let past = match put.context {
            Some(context) => context.clock.clone(),
            None => join(put.stored),
        };
        let siblings = put
            .stored
            .iter()
            .filter(|v| !past_covers(&past, v))
            .cloned()
            .collect();
        let version = Version {
            write: put.write,
            causal: Causal {
                clock: past,
                dot: Some(Dot {
                    actor: put.actor,
                    counter: put.counter,
                }),
            },
            stamp_us: put.stamp_us,
            tombstone: put.tombstone,
        };
        NewObject { version, siblings }
    }

    /// The join of the versions' pasts and dots.
    fn read_context(versions: &[Version]) -> Causal {
        Causal::from_clock(join(versions))
    }

    /// A client has no event numbering of its own on a node's behalf.
    fn client_version(_write: WriteId, _stamp_us: i64) -> Option<Version> {
        None
    }
}
