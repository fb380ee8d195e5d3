//! Facts about a node's own data, for the observer's record of ground truth: which write
//! ids a blind put's coordinator merged, and which versions a replica discarded by its
//! versioning rules. A node only appends them; no node ever reads them, and nothing that
//! depends on them flows back into the protocol.

use super::versioning::Version;
use crate::ids::{KeyId, NodeId, WriteId};
use smallvec::SmallVec;

/// Write ids of the versions held for one key.
pub type HeldIds = SmallVec<[WriteId; 2]>;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fact {
    /// The coordinator of blind put `write` made its version from what it held for `key`
    /// (`merged`: the write ids its new version replaces; empty when the scheme merges
    /// nothing).
    BlindMerge {
        write: WriteId,
        key: KeyId,
        merged: HeldIds,
    },
    /// This node dropped version `write` of `key` by a version comparison; `kept` is what
    /// it holds for the key right after (home data, or the hint store when `hint`).
    Discard {
        key: KeyId,
        write: WriteId,
        kept: HeldIds,
        hint: bool,
    },
    /// This node collected `key`'s tombstones `writes` (its grace period was over): it
    /// holds nothing for the key any more.
    Collected { key: KeyId, writes: HeldIds },
    /// This node's failure detector began to suspect `peer` (a request it sent went
    /// unanswered, or phi accrual convicted it).
    Suspected { peer: NodeId },
    /// This node's failure detector trusts `peer` again (it heard from it).
    Trusted { peer: NodeId },
}

/// The write ids of `versions`.
pub fn ids_of(versions: &[Version]) -> HeldIds {
    // Pushed, not collected: `SmallVec`'s `extend` costs more than the one or two ids.
    let mut ids = HeldIds::new();
    for v in versions {
        ids.push(v.write);
    }
    ids
}

/// Appends a `Discard` for every write of `before` or `incoming` that `after` no longer
/// holds: the diff of one merge, so a version dropped and re-added within it is no
/// discard.
pub fn push_discards(
    facts: &mut Vec<Fact>,
    key: KeyId,
    before: &[WriteId],
    incoming: &[Version],
    after: &[Version],
    hint: bool,
) {
    let held = |w: WriteId| after.iter().any(|v| v.write == w);
    let dropped = before
        .iter()
        .copied()
        .chain(incoming.iter().map(|v| v.write))
        .filter(|w| !held(*w));
    let mut seen = HeldIds::new();
    for w in dropped {
        if seen.contains(&w) {
            continue;
        }
        seen.push(w);
        facts.push(Fact::Discard {
            key,
            write: w,
            kept: ids_of(after),
            hint,
        });
    }
}
