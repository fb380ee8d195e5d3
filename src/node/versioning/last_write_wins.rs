//! Last write wins: a replica keeps one version per key, the one with the latest
//! coordinator stamp (ties to the larger write id, so every replica picks the same
//! winner). No causal metadata: concurrent writes and skewed clocks silently lose data,
//! which the observer counts (a replica discarding an acknowledged write because it holds
//! a later stamp reports it). Stamps are the coordinator's skewed clock, unclamped: a
//! clock behind by more than the run's age stamps negative times.

use super::{Causal, NewObject, NewVersion, Scheme, Version, Versions};
use crate::ids::WriteId;

/// The last-write-wins scheme.
pub(super) struct LastWriteWins;

impl Scheme for LastWriteWins {
    const KEEPS_SIBLINGS: bool = false;
    const SHIPS_SIBLINGS: bool = false;

    fn merge(held: &mut Versions, incoming: &[Version]) {
        for v in incoming {
            match held.first() {
                Some(current) if current.lww_key() >= v.lww_key() => {}
                _ => {
                    held.clear();
                    held.push(v.clone());
                }
            }
        }
    }

    fn covers(held: &[Version], v: &Version) -> bool {
        held.iter().any(|h| h.lww_key() >= v.lww_key())
    }

    fn new_version(put: NewVersion) -> NewObject {
        NewObject::alone(Version {
            write: put.write,
            causal: Causal::default(),
            stamp_us: put.stamp_us,
            tombstone: put.tombstone,
        })
    }

    fn read_context(_versions: &[Version]) -> Causal {
        Causal::default()
    }

    /// The client stamps the write itself, with its own (true) clock.
    fn client_version(write: WriteId, stamp_us: i64) -> Option<Version> {
        Some(Version {
            write,
            causal: Causal::default(),
            stamp_us,
            tombstone: false,
        })
    }
}
