//! Server-side vector clocks with siblings kept (Dynamo §4.4, as Riak's vnode clocks
//! before 2.0): what a replica holds for a key is one object, a set of sibling values
//! under one clock (every held version carries that clock). Merging objects follows the
//! clocks: a strictly newer clock replaces, an older one is ignored, concurrent ones
//! become the union of their values under the merged clock.
//!
//! A coordinator never lets a new version replace a stored one its context did not see:
//! the new clock is the client's context merged with the coordinator's own clock for the
//! key and advanced by the coordinator's event, and when the context does not descend the
//! stored clock, the stored values stay as siblings of the new one, shipped with it. The
//! coordinator stores the result at once, so its next event on the key sees it. What
//! this cannot tell apart is a stored value the client did see from one it did not, once
//! the clocks have moved: such values are kept too (false siblings, which the observer
//! counts). Truncation past `max_entries` can only make clocks look concurrent.

use super::clock::{Causality, VClock};
use super::{Causal, NewObject, NewVersion, Scheme, Version, Versions};
use crate::ids::WriteId;
use std::borrow::Cow;

/// The vector-clock scheme.
pub(super) struct VectorClocks;

/// The clock of a set of versions: the merge of their clocks (one clock when the set is
/// one object). A single version's clock is borrowed, not shared again: the merge of one
/// clock is that clock, and a clone would touch its (usually cold) reference count twice.
fn object_clock(versions: &[Version]) -> Cow<'_, VClock> {
    match versions {
        [one] => Cow::Borrowed(&one.causal.clock),
        _ => Cow::Owned(super::vector_clock_naive::merged(versions)),
    }
}

/// `versions` with every clock set to `clock` (built field by field: cloning a version
/// only to replace its clock would share and release the old clock for nothing).
/// Pushed one by one, as in `copy_versions`.
fn under(clock: &VClock, versions: &[Version]) -> Versions {
    let mut out = Versions::new();
    for v in versions {
        out.push(Version {
            write: v.write,
            causal: Causal::from_clock(clock.clone()),
            stamp_us: v.stamp_us,
            tombstone: v.tombstone,
        });
    }
    out
}

/// Adds the values of `incoming` that `held` lacks, then sets every clock to `clock`.
fn union_under(held: &mut Versions, incoming: &[Version], clock: &VClock) {
    for v in incoming {
        if !held.iter().any(|h| h.write == v.write) {
            held.push(v.clone());
        }
    }
    for v in held.iter_mut() {
        if v.causal.clock != *clock {
            v.causal = Causal::from_clock(clock.clone());
        }
    }
}

impl Scheme for VectorClocks {
    const KEEPS_SIBLINGS: bool = true;
    const SHIPS_SIBLINGS: bool = true;

    /// `incoming` is one object (a replica's holding, a put with its siblings, a repair).
    fn merge(held: &mut Versions, incoming: &[Version]) {
        if incoming.is_empty() {
            return;
        }
        let theirs = object_clock(incoming);
        if held.is_empty() {
            *held = under(&theirs, incoming);
            return;
        }
        let ours = object_clock(held);
        let clock = match theirs.compare(&ours) {
            Causality::Descends => None,
            Causality::Precedes => return,
            Causality::Equal => Some(ours.into_owned()),
            Causality::Concurrent => Some(ours.merge(&theirs)),
        };
        match clock {
            None => *held = under(&theirs, incoming),
            Some(clock) => union_under(held, incoming, &clock),
        }
    }

    fn covers(held: &[Version], v: &Version) -> bool {
        held.iter().any(|h| h.write == v.write)
            || object_clock(held).compare(&v.causal.clock) == Causality::Descends
    }

    fn new_version(put: NewVersion) -> NewObject {
        let stored = object_clock(put.stored);
        let base = match put.context {
            Some(context) => Cow::Owned(context.clock.merge(&stored)),
            None => stored.clone(),
        };
        let clock = base.with_event(put.actor, put.counter, put.stamp_us, put.max_entries);
        let version = Version {
            write: put.write,
            causal: Causal::from_clock(clock.clone()),
            stamp_us: put.stamp_us,
            tombstone: put.tombstone,
        };
        // A blind put merges what the coordinator holds; a put whose context saw the
        // stored clock replaces it; otherwise the stored values stay, as siblings.
        let unseen = match put.context {
            Some(context) if !context.clock.descends(&stored) => under(&clock, put.stored),
            _ => Versions::new(),
        };
        NewObject {
            version,
            siblings: unseen.into_vec(),
        }
    }

    fn read_context(versions: &[Version]) -> Causal {
        Causal::from_clock(object_clock(versions).into_owned())
    }

    /// A client cannot advance a clock in a node's name.
    fn client_version(_write: WriteId, _stamp_us: i64) -> Option<Version> {
        None
    }
}
