//! Last write wins: a replica keeps one version per key, the one with the latest
//! coordinator stamp (ties to the larger write id, so every replica picks the same
//! winner). No causal metadata: concurrent writes and skewed clocks silently lose data.

use super::{Applied, Causal, NewVersion, Scheme, Version, Versions};
use crate::ids::WriteId;

/// The last-write-wins scheme.
pub(super) struct LastWriteWins;

impl Scheme for LastWriteWins {
    const KEEPS_SIBLINGS: bool = false;

    fn apply(held: &mut Versions, incoming: &Version) -> Applied {
        match held.first() {
            Some(current) if current.lww_key() >= incoming.lww_key() => Applied::Obsolete,
            _ => {
                held.clear();
                held.push(incoming.clone());
                Applied::Stored
            }
        }
    }

    fn supersedes(held: &Version, v: &Version) -> bool {
        held.lww_key() > v.lww_key()
    }

    fn happened_before(_a: &Version, _b: &Version) -> bool {
        false
    }

    fn new_version(put: NewVersion) -> Version {
        Version {
            write: put.write,
            causal: Causal::default(),
            stamp_us: put.stamp_us,
        }
    }

    fn read_context(_versions: &[Version]) -> Causal {
        Causal::default()
    }

    /// The client stamps the write itself, with its own (true) clock.
    fn client_version(write: WriteId, stamp_us: u64) -> Option<Version> {
        Some(Version {
            write,
            causal: Causal::default(),
            stamp_us,
        })
    }
}
