//! Naive vector clocks, kept on purpose as a demonstration: the new clock is the client's
//! context (a blind put: the clocks the coordinator holds) advanced by the coordinator,
//! nothing more. Two puts with the same context through one coordinator get equal
//! clocks, and a later put that saw one of them "descends" both, so the other is
//! discarded although no client saw it: the observer counts these as lost updates.
//! This is dynasim's behaviour before the `vector_clock` scheme, byte for byte.

use super::clock::{Causality, VClock};
use super::{Causal, NewObject, NewVersion, Scheme, Version, Versions};
use crate::ids::WriteId;

/// The naive vector-clock scheme.
pub(super) struct NaiveVectorClocks;

fn clock(v: &Version) -> &VClock {
    &v.causal.clock
}

/// The merge of every version's clock.
pub(super) fn merged(versions: &[Version]) -> VClock {
    versions
        .iter()
        .fold(VClock::default(), |acc, v| acc.merge(clock(v)))
}

/// Adds one version, keeping only causally-maximal ones.
fn apply(held: &mut Versions, incoming: &Version) {
    for v in held.iter() {
        if v.write == incoming.write || clock(v).compare(clock(incoming)) == Causality::Descends {
            return;
        }
    }
    held.retain(|v| clock(incoming).compare(clock(v)) != Causality::Descends);
    held.push(incoming.clone());
}

impl Scheme for NaiveVectorClocks {
    const KEEPS_SIBLINGS: bool = true;
    const SHIPS_SIBLINGS: bool = false;

    fn merge(held: &mut Versions, incoming: &[Version]) {
        for v in incoming {
            apply(held, v);
        }
    }

    fn covers(held: &[Version], v: &Version) -> bool {
        held.iter()
            .any(|h| h.write == v.write || clock(h).compare(clock(v)) == Causality::Descends)
    }

    fn new_version(put: NewVersion) -> NewObject {
        let base = match put.context {
            Some(context) => context.clock.clone(),
            None => merged(put.stored),
        };
        NewObject::alone(Version {
            write: put.write,
            causal: Causal::from_clock(base.increment(
                put.actor.node,
                put.stamp_us,
                put.max_entries,
            )),
            stamp_us: put.stamp_us,
            tombstone: put.tombstone,
        })
    }

    fn read_context(versions: &[Version]) -> Causal {
        Causal::from_clock(merged(versions))
    }

    fn client_version(_write: WriteId, _stamp_us: i64) -> Option<Version> {
        None
    }
}
