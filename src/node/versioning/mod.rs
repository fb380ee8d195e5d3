//! Versioning (Dynamo §4.4): what a version is, and the scheme that orders versions of a
//! key. A version is one client write (its `WriteId` stands in for the value) with the
//! causal metadata the coordinator gave it and the coordinator's wall-clock stamp. The
//! run's scheme (`VersionRules`) decides which versions a replica keeps, whether a held
//! version covers another, how a coordinator makes a new version and what context a
//! read hands back to a read-modify-write client.
//!
//! Each scheme is one file implementing `Scheme`; `VersionRules` is the closed set of
//! them, and the `scheme!` dispatch below is the only place that matches on it. A new
//! scheme is a new file and one arm there (plus its scenario name). Code outside this
//! module treats `Causal` as opaque.

mod last_write_wins;
mod vector_clock;

pub use vector_clock::{Causality, ClockEntry, VClock};

use crate::ids::{NodeId, WriteId};
use smallvec::SmallVec;

/// The causal metadata a version carries. What it holds is the schemes' business: vector
/// clocks keep a clock here, last-write-wins keeps nothing (its order is `stamp_us`). A
/// scheme needing more (a dot) adds it here; nothing outside this module looks inside.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Causal {
    clock: VClock,
}

impl Causal {
    /// Metadata made of a vector clock (tests and the vector-clock scheme build these).
    pub fn from_clock(clock: VClock) -> Causal {
        Causal { clock }
    }

    /// The clock inside, for tests that build versions by hand.
    #[cfg(test)]
    pub fn clock(&self) -> &VClock {
        &self.clock
    }

    /// How many (node, counter) entries it puts on the wire, for byte accounting.
    pub fn wire_entries(&self) -> usize {
        self.clock.len()
    }

    /// Bytes of causal metadata on the wire: 12 per clock entry (node, counter, stamp),
    /// 8 for the coordinator's timestamp every version carries.
    pub fn wire_bytes(&self) -> usize {
        8 + 12 * self.clock.len()
    }
}

/// One stored version of a key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Version {
    pub write: WriteId,
    pub causal: Causal,
    /// The coordinator's wall clock (µs, skew included) when it made the version.
    pub stamp_us: u64,
}

impl Version {
    /// Last-write-wins order: later stamp wins; ties go to the larger write id so every
    /// replica picks the same winner.
    pub fn lww_key(&self) -> (u64, WriteId) {
        (self.stamp_us, self.write)
    }
}

/// The versions of one key that a replica holds or a read returns. Almost always one.
pub type Versions = SmallVec<[Version; 1]>;

/// What a replica did with an incoming version.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Applied {
    /// Stored; it replaced every version it supersedes, and no other version remains.
    Stored,
    /// Stored beside concurrent versions (siblings).
    SiblingKept,
    /// Not stored: a held version already supersedes it (or it is already held).
    Obsolete,
}

/// What a coordinator needs to make the version of a put.
pub struct NewVersion<'a> {
    pub coordinator: NodeId,
    pub write: WriteId,
    /// The coordinator's wall clock, µs.
    pub stamp_us: u64,
    /// The client's context; `None` for a blind put.
    pub context: Option<&'a Causal>,
    /// What the coordinator holds for the key (a blind put's context, for schemes that
    /// use one).
    pub stored: &'a [Version],
    pub max_entries: usize,
}

/// One versioning scheme. Stateless: the functions are the scheme.
trait Scheme {
    /// Whether replicas may hold several concurrent versions (siblings) of a key.
    const KEEPS_SIBLINGS: bool;
    /// Adds `incoming` to `held`, keeping what the scheme keeps.
    fn apply(held: &mut Versions, incoming: &Version) -> Applied;
    /// Whether `held` supersedes `v` (a different write that makes `v` obsolete).
    fn supersedes(held: &Version, v: &Version) -> bool;
    /// Whether `a` causally precedes `b` by the scheme's own metadata.
    fn happened_before(a: &Version, b: &Version) -> bool;
    /// The version a coordinator makes for a put.
    fn new_version(put: NewVersion) -> Version;
    /// The context a read-modify-write client sends back after reading `versions`.
    fn read_context(versions: &[Version]) -> Causal;
    /// The version a client-driven client makes itself, when the scheme lets it.
    fn client_version(write: WriteId, stamp_us: u64) -> Option<Version>;
}

/// Versioning rules, fixed per run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VersionRules {
    VectorClock,
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
            VersionRules::LastWriteWins => {
                type $s = last_write_wins::LastWriteWins;
                $body
            }
        }
    };
}

impl VersionRules {
    /// Adds `incoming` to `held`, keeping only causally-maximal versions (vector clocks) or
    /// the single winner (last write wins).
    #[inline]
    pub fn apply(self, held: &mut Versions, incoming: &Version) -> Applied {
        scheme!(self, S => S::apply(held, incoming))
    }

    /// Merges several replies into the set a coordinator returns to the client.
    pub fn reconcile_into(self, acc: &mut Versions, incoming: &[Version]) {
        for v in incoming {
            self.apply(acc, v);
        }
    }

    /// Whether `versions` covers `v`: holds it or something that supersedes it.
    pub fn covers(self, versions: &[Version], v: &Version) -> bool {
        scheme!(self, S => versions
            .iter()
            .any(|h| h.write == v.write || S::supersedes(h, v)))
    }

    /// Whether replicas may hold siblings (concurrent versions) of one key.
    pub fn keeps_siblings(self) -> bool {
        scheme!(self, S => S::KEEPS_SIBLINGS)
    }

    /// Whether `a` causally precedes `b` by the protocol's own metadata (never under
    /// last-write-wins, which records no causality).
    pub fn happened_before(self, a: &Version, b: &Version) -> bool {
        scheme!(self, S => S::happened_before(a, b))
    }

    /// The version a coordinator makes for a put.
    pub fn new_version(self, put: NewVersion) -> Version {
        scheme!(self, S => S::new_version(put))
    }

    /// The context a read-modify-write client sends back after reading `versions`.
    pub fn read_context(self, versions: &[Version]) -> Causal {
        scheme!(self, S => S::read_context(versions))
    }

    /// The version a client coordinating its own put (`client_driven`) makes, if the
    /// scheme lets a client version writes; otherwise the put goes through a node.
    pub fn client_version(self, write: WriteId, stamp_us: u64) -> Option<Version> {
        scheme!(self, S => S::client_version(write, stamp_us))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn version(write: u64, pairs: &[(u32, u32)]) -> Version {
        Version {
            write: WriteId(write),
            causal: Causal::from_clock(vector_clock::clock_of(pairs)),
            stamp_us: write,
        }
    }

    #[test]
    fn replicas_keep_only_causally_maximal_versions() {
        let rules = VersionRules::VectorClock;
        let mut held = Versions::new();
        assert_eq!(
            rules.apply(&mut held, &version(1, &[(1, 1)])),
            Applied::Stored
        );
        assert_eq!(
            rules.apply(&mut held, &version(2, &[(1, 2)])),
            Applied::Stored
        );
        assert_eq!(
            rules.apply(&mut held, &version(1, &[(1, 1)])),
            Applied::Obsolete
        );
        assert_eq!(
            rules.apply(&mut held, &version(3, &[(1, 1), (2, 1)])),
            Applied::SiblingKept
        );
        assert_eq!(held.len(), 2);
        // A client merges both siblings and writes back through node 1.
        let ctx = rules.read_context(&held);
        let merged = rules.new_version(NewVersion {
            coordinator: NodeId(1),
            write: WriteId(4),
            stamp_us: 9,
            context: Some(&ctx),
            stored: &[],
            max_entries: 10,
        });
        assert_eq!(rules.apply(&mut held, &merged), Applied::Stored);
        assert_eq!(held.iter().map(|v| v.write.0).collect::<Vec<_>>(), vec![4]);
        assert!(rules.covers(&held, &version(3, &[(1, 1), (2, 1)])));
        assert!(rules.happened_before(&version(3, &[(1, 1), (2, 1)]), &held[0]));
    }

    #[test]
    fn a_blind_put_under_vector_clocks_descends_from_what_the_coordinator_holds() {
        let rules = VersionRules::VectorClock;
        let stored = [version(1, &[(2, 3)])];
        let v = rules.new_version(NewVersion {
            coordinator: NodeId(1),
            write: WriteId(2),
            stamp_us: 5,
            context: None,
            stored: &stored,
            max_entries: 10,
        });
        assert_eq!(v.causal.wire_entries(), 2);
        assert!(rules.happened_before(&stored[0], &v));
        assert_eq!(rules.client_version(WriteId(3), 7), None);
    }

    #[test]
    fn last_write_wins_keeps_the_latest_stamp() {
        let rules = VersionRules::LastWriteWins;
        let mut held = Versions::new();
        let first = rules.client_version(WriteId(1), 50);
        rules.apply(
            &mut held,
            first.as_ref().expect("lww clients version writes"),
        );
        let older = Version {
            write: WriteId(2),
            causal: Causal::default(),
            stamp_us: 40,
        };
        assert_eq!(rules.apply(&mut held, &older), Applied::Obsolete);
        assert_eq!(held[0].write, WriteId(1));
        assert!(!rules.covers(std::slice::from_ref(&older), &held[0]));
        assert!(rules.covers(&held, &older));
        assert!(!rules.keeps_siblings());
        assert!(!rules.happened_before(&older, &held[0]));
    }
}
