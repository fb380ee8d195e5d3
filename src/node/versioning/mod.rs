//! Versioning (Dynamo §4.4): what a version is, and the scheme that orders versions of a
//! key. A version is one client write (its `WriteId` stands in for the value) with the
//! causal metadata the coordinator gave it and the coordinator's wall-clock stamp. The
//! run's scheme (`VersionRules`) decides which versions a replica keeps when sets of
//! versions meet, whether a held set covers a version, how a coordinator makes the
//! version of a put (and which stored siblings travel with it), and what context a read
//! hands back to a read-modify-write client.
//!
//! Each scheme is one file implementing `Scheme`; `VersionRules` is the closed set of
//! them, and the `scheme!` dispatch below is the only place that matches on it. A new
//! scheme is a new file and one arm there (plus its scenario name). Code outside this
//! module treats `Causal` as opaque.

mod clock;
mod dotted_version_vector;
mod last_write_wins;
mod vector_clock;
mod vector_clock_naive;

pub use clock::{Causality, ClockEntry, VClock};

use crate::ids::{NodeId, WriteId};
use smallvec::SmallVec;

/// Who numbers an event in a clock: a node, in one incarnation of its data. A node's
/// home actor changes when its disk is lost (it can no longer know what it numbered);
/// a write it coordinates for a key it is not a home replica of gets a fresh actor of its
/// own, since the node keeps no data there to number its next event from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Actor {
    pub node: NodeId,
    pub incarnation: u32,
}

impl Default for Actor {
    fn default() -> Actor {
        NodeId(0).into()
    }
}

impl From<NodeId> for Actor {
    fn from(node: NodeId) -> Actor {
        Actor {
            node,
            incarnation: 0,
        }
    }
}

/// One event: the `counter`-th numbered by `actor` (counters start at 1; the default,
/// counter 0, is no event).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Dot {
    pub actor: Actor,
    pub counter: u32,
}

/// The causal metadata a version carries. What it holds is the schemes' business: the
/// clock schemes keep a vector clock; dotted version vectors keep the version's dot and
/// its causal past (a version vector, in `clock`); last-write-wins keeps nothing (its
/// order is `stamp_us`). Nothing outside this module looks inside.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Causal {
    clock: VClock,
    dot: Option<Dot>,
}

impl Causal {
    /// Metadata made of a vector clock (tests and the clock schemes build these).
    pub fn from_clock(clock: VClock) -> Causal {
        Causal { clock, dot: None }
    }

    /// The clock inside, for tests that build versions by hand.
    #[cfg(test)]
    pub fn clock(&self) -> &VClock {
        &self.clock
    }

    /// How many (actor, counter) entries it puts on the wire, for byte accounting (a dot
    /// is one more).
    pub fn wire_entries(&self) -> usize {
        self.clock.len() + usize::from(self.dot.is_some())
    }

    /// Bytes of causal metadata on the wire: 12 per (actor, counter) entry (clock entries
    /// and the dot), 8 for the coordinator's timestamp every version carries.
    pub fn wire_bytes(&self) -> usize {
        8 + 12 * self.wire_entries()
    }
}

/// One stored version of a key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Version {
    pub write: WriteId,
    pub causal: Causal,
    /// The coordinator's wall clock (µs, skew included, negative when a clock runs far
    /// enough behind) when it made the version.
    pub stamp_us: i64,
    /// The version is a delete's tombstone: it orders and travels like any version, reads
    /// hide it, and a replica collects it after `replication.tombstone_gc_grace_s`.
    pub tombstone: bool,
}

impl Version {
    /// Last-write-wins order: later stamp wins; ties go to the larger write id so every
    /// replica picks the same winner.
    pub fn lww_key(&self) -> (i64, WriteId) {
        (self.stamp_us, self.write)
    }
}

/// The versions of one key that a replica holds or a read returns. Almost always one.
pub type Versions = SmallVec<[Version; 1]>;

/// A copy of `versions` made by pushing: `SmallVec`'s general `clone` and `collect` (its
/// `extend`) cost about 90 instructions for the one version a key usually holds, a
/// tenth of a replica read in the staleness-probe benchmark.
pub fn copy_versions(versions: &[Version]) -> Versions {
    let mut copy = Versions::new();
    for v in versions {
        copy.push(v.clone());
    }
    copy
}

/// What a coordinator needs to make the version of a put.
pub struct NewVersion<'a> {
    /// The actor numbering this event, and its number (strictly increasing per actor).
    pub actor: Actor,
    pub counter: u32,
    pub write: WriteId,
    /// The coordinator's wall clock, µs.
    pub stamp_us: i64,
    /// The put is a delete: its version is a tombstone.
    pub tombstone: bool,
    /// The client's context; `None` for a blind put.
    pub context: Option<&'a Causal>,
    /// What the coordinator holds for the key (a blind put merges it; schemes that keep
    /// siblings keep what the context did not see).
    pub stored: &'a [Version],
    pub max_entries: usize,
}

/// The version a put makes and the stored siblings that travel with it (empty unless the
/// scheme ships siblings).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewObject {
    pub version: Version,
    pub siblings: Vec<Version>,
}

impl NewObject {
    /// A version that travels alone.
    pub fn alone(version: Version) -> NewObject {
        NewObject {
            version,
            siblings: Vec::new(),
        }
    }

    /// The version followed by its siblings: the set a replica merges (inline when the
    /// version travels alone, as most do: no allocation).
    pub fn all(&self) -> Versions {
        let mut set = Versions::with_capacity(1 + self.siblings.len());
        set.push(self.version.clone());
        set.extend(self.siblings.iter().cloned());
        set
    }
}

/// One versioning scheme. Stateless: the functions are the scheme.
trait Scheme {
    /// Whether replicas may hold several concurrent versions (siblings) of a key.
    const KEEPS_SIBLINGS: bool;
    /// Whether versions travel as whole sets: a put ships the siblings it kept, read
    /// repair the whole reconciled set, and the coordinator stores its own put at once.
    const SHIPS_SIBLINGS: bool;
    /// Merges `incoming`, a set that travelled together, into `held`.
    fn merge(held: &mut Versions, incoming: &[Version]);
    /// Whether `held` covers `v`: holds it or something that makes it obsolete.
    fn covers(held: &[Version], v: &Version) -> bool;
    /// The version a coordinator makes for a put, with the siblings that go with it.
    fn new_version(put: NewVersion) -> NewObject;
    /// The context a read-modify-write client sends back after reading `versions`.
    fn read_context(versions: &[Version]) -> Causal;
    /// The version a client-driven client makes itself, when the scheme lets it.
    fn client_version(write: WriteId, stamp_us: i64) -> Option<Version>;
}

/// Versioning rules, fixed per run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VersionRules {
    VectorClock,
    DottedVersionVector,
    VectorClockNaive,
    LastWriteWins,
}

/// Runs `$body` with `$s` naming the scheme type of `$rules`: the one match on the scheme.
macro_rules! scheme {
    ($rules:expr, $s:ident => $body:expr) => {
        match $rules {
            VersionRules::VectorClock => {
                type $s = vector_clock::VectorClocks;
                $body
            }
            VersionRules::DottedVersionVector => {
                type $s = dotted_version_vector::DottedVersionVectors;
                $body
            }
            VersionRules::VectorClockNaive => {
                type $s = vector_clock_naive::NaiveVectorClocks;
                $body
            }
            VersionRules::LastWriteWins => {
                type $s = last_write_wins::LastWriteWins;
                $body
            }
        }
    };
}

impl VersionRules {
    /// Merges `incoming`, a set of versions that travelled together (one replica's
    /// holding, a put with its siblings, a repair), into `held`.
    #[inline]
    pub fn merge(self, held: &mut Versions, incoming: &[Version]) {
        scheme!(self, S => S::merge(held, incoming))
    }

    /// Whether `versions` covers `v`: holds it or something that supersedes it.
    pub fn covers(self, versions: &[Version], v: &Version) -> bool {
        scheme!(self, S => S::covers(versions, v))
    }

    /// Whether replicas may hold siblings (concurrent versions) of one key.
    pub fn keeps_siblings(self) -> bool {
        scheme!(self, S => S::KEEPS_SIBLINGS)
    }

    /// Whether versions travel as whole sets (see `Scheme::SHIPS_SIBLINGS`).
    pub fn ships_siblings(self) -> bool {
        scheme!(self, S => S::SHIPS_SIBLINGS)
    }

    /// The version a coordinator makes for a put, with the siblings that go with it.
    pub fn new_version(self, put: NewVersion) -> NewObject {
        scheme!(self, S => S::new_version(put))
    }

    /// The context a read-modify-write client sends back after reading `versions`.
    pub fn read_context(self, versions: &[Version]) -> Causal {
        scheme!(self, S => S::read_context(versions))
    }

    /// The version a client coordinating its own put (`client_driven`) makes, if the
    /// scheme lets a client version writes; otherwise the put goes through a node.
    pub fn client_version(self, write: WriteId, stamp_us: i64) -> Option<Version> {
        scheme!(self, S => S::client_version(write, stamp_us))
    }
}

#[cfg(test)]
mod tests;
