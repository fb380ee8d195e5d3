//! The oracle's own causality: for every write, the write ids it descends from in ground
//! truth, recorded from what clients saw and what replicas held, never from the protocol's
//! clocks or timestamps. A read-modify-write put descends from exactly the versions its
//! client's context read returned ("seen" edges); a blind put descends from what its
//! coordinator held for the key when it made the version ("merged" edges: nobody saw
//! those versions before they were replaced).
//!
//! Every fact carries the observer's own sequence number (`Order`), so "before" always
//! means event order, even between two things that happen at the same simulated instant.

use crate::ids::{KeyId, WriteId};
use smallvec::SmallVec;
use std::cell::RefCell;

/// The observer's sequence number of an observed event (invocation, completion, replica
/// fact): event order, finer than simulated time.
pub type Order = u64;

/// Not yet happened (an unacknowledged write's acknowledgement).
pub const NEVER: u64 = u64::MAX;

const BLIND: u8 = 1;
/// The parents came from a blind put's coordinator (merged, not seen).
const MERGED: u8 = 2;
/// A replica discarded the write in favour of versions none of which descends from it.
const DISPLACED: u8 = 4;
/// The parents are known (set once).
const HAS_PARENTS: u8 = 8;
/// The write is a delete (its client asked for a tombstone).
const DELETE: u8 = 16;
/// Displaced (last_write_wins) for a write acknowledged before it was invoked.
const DISPLACED_BY_OLDER: u8 = 32;

/// What the observer knows of one write.
#[derive(Clone, Copy, Debug)]
struct WriteFacts {
    invoke_us: u64,
    ack_us: u64,
    invoke: Order,
    ack: Order,
    /// When the write's parents became known; every ancestor was born earlier, which
    /// bounds the ancestry search.
    birth: Order,
    parents_at: u32,
    parents_len: u32,
    key: u32,
    flags: u8,
}

const UNKNOWN: WriteFacts = WriteFacts {
    invoke_us: NEVER,
    ack_us: NEVER,
    invoke: NEVER,
    ack: NEVER,
    birth: 0,
    parents_at: 0,
    parents_len: 0,
    key: u32::MAX,
    flags: 0,
};

/// Bytes the record holds per write besides its parents (for the memory estimate).
pub const fn bytes_per_write() -> usize {
    std::mem::size_of::<WriteFacts>() + std::mem::size_of::<u32>()
}

/// Ground-truth ancestry of every write of the run.
#[derive(Default)]
pub struct Causality {
    writes: Vec<WriteFacts>,
    /// Parents of every write, one slice each (`parents_at`, `parents_len`).
    parents: Vec<WriteId>,
    /// Search scratch, so that queries need only `&self`.
    scratch: RefCell<Scratch>,
    /// The run's scheme resolves concurrent writes to one (last_write_wins).
    last_write_wins: bool,
}

/// `marks[w] == epoch` when w was visited by the current search.
#[derive(Default)]
struct Scratch {
    marks: Vec<u32>,
    epoch: u32,
    stack: Vec<WriteId>,
}

/// Children lists of every write, flat (see `Causality::seen_children`).
pub struct Children {
    start: Vec<u32>,
    list: Vec<WriteId>,
}

impl Children {
    pub fn of(&self, w: WriteId) -> &[WriteId] {
        let i = w.index();
        match (self.start.get(i), self.start.get(i + 1)) {
            (Some(a), Some(b)) => &self.list[*a as usize..*b as usize],
            _ => &[],
        }
    }
}

impl Scratch {
    /// Starts a new search: a fresh epoch (marks of earlier searches no longer count) and
    /// an empty stack.
    fn begin(&mut self) {
        self.epoch = self.epoch.wrapping_add(1);
        if self.epoch == 0 {
            self.marks.iter_mut().for_each(|m| *m = 0);
            self.epoch = 1;
        }
        self.stack.clear();
    }
}

/// An acknowledged write, as the judgements see it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Acked {
    pub write: WriteId,
    pub invoke: Order,
    pub ack: Order,
    pub invoke_us: u64,
    pub ack_us: u64,
}

impl Causality {
    pub fn new(last_write_wins: bool) -> Causality {
        Causality {
            last_write_wins,
            ..Causality::default()
        }
    }

    /// Whether a read that returned `returned` reflects write `w`: it returned w or a
    /// descendant; or, under last_write_wins, a version whose write was not acknowledged
    /// before w began. Such a version may carry the larger timestamp by design, so it
    /// replaces w; one acknowledged before w was invoked must not (the anomaly clock skew
    /// causes). A put that failed is indeterminate (it may still land, Dynamo never rolls
    /// back), so it stays concurrent, as Jepsen treats `info`; a put refused before any
    /// replica wrote it can never be returned. Real time, not timestamps: the oracle never
    /// reads the protocol's.
    pub fn reflects(&self, returned: &[WriteId], w: WriteId) -> bool {
        if self.covers(returned, w) {
            return true;
        }
        self.last_write_wins && {
            let invoked = self.facts(w).invoke;
            returned.iter().any(|u| self.facts(*u).ack > invoked)
        }
    }

    fn facts_mut(&mut self, w: WriteId) -> &mut WriteFacts {
        let i = w.index();
        if self.writes.len() <= i {
            self.writes.resize(i + 1, UNKNOWN);
            self.scratch.get_mut().marks.resize(i + 1, 0);
        }
        &mut self.writes[i]
    }

    /// The parents recorded for a write (its slice of `parents`).
    fn parents_of(&self, f: &WriteFacts) -> &[WriteId] {
        let at = f.parents_at as usize;
        self.parents
            .get(at..at + f.parents_len as usize)
            .unwrap_or(&[])
    }

    fn facts(&self, w: WriteId) -> &WriteFacts {
        self.writes.get(w.index()).unwrap_or(&UNKNOWN)
    }

    /// A client invoked write `w` of `key`. `parents` is what its context read returned,
    /// or `None` for a blind put (its parents come later, from its coordinator).
    pub fn invoked(
        &mut self,
        w: WriteId,
        key: KeyId,
        at: Order,
        at_us: u64,
        parents: Option<&[WriteId]>,
        delete: bool,
    ) {
        let f = self.facts_mut(w);
        if delete {
            f.flags |= DELETE;
        }
        f.invoke = at;
        f.invoke_us = at_us;
        f.birth = at;
        f.key = key.0;
        match parents {
            Some(p) => self.set_parents(w, p, 0, at),
            None => self.facts_mut(w).flags |= BLIND,
        }
    }

    /// The coordinator of blind write `w` made its version from what it held (`held`).
    pub fn merged(&mut self, w: WriteId, held: &[WriteId], at: Order) {
        if self.facts(w).flags & (HAS_PARENTS | BLIND) == BLIND {
            self.set_parents(w, held, MERGED, at);
        }
    }

    fn set_parents(&mut self, w: WriteId, parents: &[WriteId], flag: u8, at: Order) {
        let at_index = self.parents.len() as u32;
        self.parents.extend(parents.iter().filter(|p| **p != w));
        let len = self.parents.len() as u32 - at_index;
        let f = self.facts_mut(w);
        f.parents_at = at_index;
        f.parents_len = len;
        f.birth = at;
        f.flags |= HAS_PARENTS | flag;
    }

    /// Write `w` was acknowledged to its client.
    pub fn acknowledged(&mut self, w: WriteId, at: Order, at_us: u64) -> Acked {
        let f = self.facts_mut(w);
        f.ack = at;
        f.ack_us = at_us;
        Acked {
            write: w,
            invoke: f.invoke,
            ack: at,
            invoke_us: f.invoke_us,
            ack_us: at_us,
        }
    }

    /// A replica discarded `w` keeping `kept`: a displacement unless something kept is w
    /// or descends from it.
    pub fn discarded(&mut self, w: WriteId, kept: &[WriteId]) {
        if !self.covers(kept, w) {
            // Real time says w is the newer one: a clock behind stamped it older.
            let invoked = self.facts(w).invoke;
            let by_older =
                self.last_write_wins && kept.iter().any(|u| self.facts(*u).ack < invoked);
            self.facts_mut(w).flags |= DISPLACED | if by_older { DISPLACED_BY_OLDER } else { 0 };
        }
    }

    /// Whether a replica discarded `w` (last_write_wins) for a write acknowledged before
    /// `w` was invoked.
    pub fn displaced_by_older(&self, w: WriteId) -> bool {
        self.facts(w).flags & DISPLACED_BY_OLDER != 0
    }

    /// Whether `w` is a delete, by the client's own call.
    pub fn is_delete(&self, w: WriteId) -> bool {
        self.facts(w).flags & DELETE != 0
    }

    pub fn displaced(&self, w: WriteId) -> bool {
        self.facts(w).flags & DISPLACED != 0
    }

    /// The children of every write through seen edges (the writes whose client's context
    /// read returned it), for the end-of-run audit.
    pub fn seen_children(&self) -> Children {
        let n = self.writes.len();
        let mut start = vec![0u32; n + 1];
        let seen_parents = |f: &WriteFacts| {
            if f.flags & MERGED != 0 {
                &[][..]
            } else {
                self.parents_of(f)
            }
        };
        for f in &self.writes {
            for p in seen_parents(f) {
                if p.index() < n {
                    start[p.index() + 1] += 1;
                }
            }
        }
        for i in 0..n {
            start[i + 1] += start[i];
        }
        let mut fill = start.clone();
        let mut list = vec![WriteId(0); start[n] as usize];
        for (i, f) in self.writes.iter().enumerate() {
            for p in seen_parents(f) {
                if p.index() < n {
                    list[fill[p.index()] as usize] = WriteId(i as u64);
                    fill[p.index()] += 1;
                }
            }
        }
        Children { start, list }
    }

    /// For every write: whether it or a write descending from it (by any edges) was
    /// displaced. A write whose whole line of descendants ended in a displacement was
    /// lost to the versioning rules, not to a failure. One pass up the parents from every
    /// displaced write, each write visited once.
    pub fn displaced_lineage(&self) -> Vec<bool> {
        let mut marked = vec![false; self.writes.len()];
        let mut stack: Vec<usize> = Vec::new();
        for (i, f) in self.writes.iter().enumerate() {
            if f.flags & DISPLACED != 0 {
                marked[i] = true;
                stack.push(i);
            }
        }
        while let Some(i) = stack.pop() {
            for p in self.parents_of(&self.writes[i]) {
                let pi = p.index();
                if pi < marked.len() && !marked[pi] {
                    marked[pi] = true;
                    stack.push(pi);
                }
            }
        }
        marked
    }

    /// (invoke µs, ack µs if acknowledged) of a write the observer saw invoked.
    pub fn times(&self, w: WriteId) -> Option<(u64, Option<u64>)> {
        let f = self.facts(w);
        (f.invoke != NEVER).then_some((f.invoke_us, (f.ack != NEVER).then_some(f.ack_us)))
    }

    /// The key a write was made for (None when never invoked).
    pub fn key_of(&self, w: WriteId) -> Option<KeyId> {
        let f = self.facts(w);
        (f.key != u32::MAX).then_some(KeyId(f.key))
    }

    /// The write's ground-truth parents and whether they were merged by a blind put's
    /// coordinator rather than seen by a client.
    pub fn parents(&self, w: WriteId) -> (&[WriteId], bool) {
        let f = self.facts(w);
        (self.parents_of(f), f.flags & MERGED != 0)
    }

    /// Whether `x` descends from `w` (w is a strict ancestor of x), by any edges.
    pub fn descends(&self, x: WriteId, w: WriteId) -> bool {
        self.search(std::slice::from_ref(&x), w, false)
    }

    /// Whether `versions` covers `w`: holds it or a version that descends from it.
    pub fn covers(&self, versions: &[WriteId], w: WriteId) -> bool {
        versions.contains(&w) || self.search(versions, w, false)
    }

    /// Depth-first walk from `from` down the parents, each write expanded once. For every
    /// parent reached that this walk has not expanded yet, `step` says whether to stop
    /// (the walk returns true), skip it (not expanded, may be reached again) or expand it;
    /// a parent the record does not know (`known` false) is never expanded. With
    /// `seen_only`, the parents of writes whose parents were merged are not followed.
    fn walk(
        &self,
        from: &[WriteId],
        seen_only: bool,
        mut step: impl FnMut(WriteId, bool) -> Step,
    ) -> bool {
        let mut scratch = self.scratch.borrow_mut();
        scratch.begin();
        let Scratch {
            marks,
            epoch,
            stack,
        } = &mut *scratch;
        stack.extend_from_slice(from);
        while let Some(x) = stack.pop() {
            let f = self.facts(x);
            if seen_only && f.flags & MERGED != 0 {
                continue;
            }
            for &p in self.parents_of(f) {
                let pi = p.index();
                let known = pi < marks.len();
                if known && marks[pi] == *epoch {
                    continue;
                }
                match step(p, known) {
                    Step::Stop => return true,
                    Step::Skip => {}
                    Step::Expand if known => {
                        marks[pi] = *epoch;
                        stack.push(p);
                    }
                    Step::Expand => {}
                }
            }
        }
        false
    }

    /// Whether `target` is a strict ancestor of a member of `from`. Only writes born after
    /// the target can descend from it, which bounds the search.
    fn search(&self, from: &[WriteId], target: WriteId, seen_only: bool) -> bool {
        let target_birth = self.facts(target).birth;
        let from: SmallVec<[WriteId; 4]> = from.iter().copied().filter(|x| *x != target).collect();
        self.walk(&from, seen_only, |p, _| {
            if p == target {
                Step::Stop
            } else if self.facts(p).birth > target_birth {
                Step::Expand
            } else {
                Step::Skip
            }
        })
    }

    /// How many members of `versions` another member descends from: one walk down from
    /// all members at once (no deeper than the oldest member), so a read of s siblings
    /// costs one walk of their recent history, not s² searches.
    pub fn ancestors_among(&self, versions: &[WriteId]) -> u32 {
        if versions.len() < 2 {
            return 0;
        }
        let floor = versions
            .iter()
            .map(|v| self.facts(*v).birth)
            .min()
            .unwrap_or(0);
        let mut among = 0;
        self.walk(versions, false, |p, known| {
            if known && self.facts(p).birth >= floor {
                // Expanded once, so each member is counted once per time it is listed.
                among += versions.iter().filter(|v| **v == p).count() as u32;
                Step::Expand
            } else {
                Step::Skip
            }
        });
        among
    }

    /// Whether some member of `versions` descends from `w` through seen edges only.
    pub fn descends_seen(&self, versions: &[WriteId], w: WriteId) -> bool {
        self.search(versions, w, true)
    }

    /// Everything `versions` descends from, by any edges and by seen edges only, in one
    /// walk each: what `covers` and `descends_seen` answer write by write, for the
    /// end-of-run audit of a key, whose searches one per acknowledged write would walk a
    /// hot key's chain of writes once each (quadratic in its length).
    pub fn ancestry(&self, versions: &[WriteId]) -> Ancestry {
        Ancestry {
            any: self.ancestors(versions, false),
            seen: self.ancestors(versions, true),
        }
    }

    /// The strict ancestors of `versions`, sorted; with `seen_only`, the parents of
    /// writes whose parents were merged are not followed (as `search`).
    fn ancestors(&self, versions: &[WriteId], seen_only: bool) -> Vec<WriteId> {
        let mut found = Vec::new();
        self.walk(versions, seen_only, |p, _| {
            found.push(p);
            Step::Expand
        });
        // A parent unknown to the record is never expanded, so it may be found twice.
        found.sort_unstable();
        found.dedup();
        found
    }
}

/// What `Causality::walk` does with a parent it reaches.
enum Step {
    Stop,
    Skip,
    Expand,
}

/// What a set of versions descends from (`Causality::ancestry`).
pub struct Ancestry {
    any: Vec<WriteId>,
    seen: Vec<WriteId>,
}

impl Ancestry {
    /// Some version descends from `w` (`Causality::covers` without the versions
    /// themselves).
    pub fn by_any(&self, w: WriteId) -> bool {
        self.any.binary_search(&w).is_ok()
    }

    /// Some version descends from `w` through seen edges only
    /// (`Causality::descends_seen`).
    pub fn by_seen(&self, w: WriteId) -> bool {
        self.seen.binary_search(&w).is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(i: u64) -> WriteId {
        WriteId(i)
    }

    #[test]
    fn ancestry_follows_parents_and_tells_seen_from_merged() {
        let mut c = Causality::default();
        // w0 blind (nothing held); w1 read w0; w2 read w1; w3 blind, merged w2.
        c.invoked(w(0), KeyId(0), 1, 10, None, false);
        c.merged(w(0), &[], 2);
        c.invoked(w(1), KeyId(0), 3, 20, Some(&[w(0)]), false);
        c.invoked(w(2), KeyId(0), 4, 30, Some(&[w(1)]), false);
        c.invoked(w(3), KeyId(0), 5, 40, None, false);
        c.merged(w(3), &[w(2)], 6);
        assert!(c.descends(w(2), w(0)));
        assert!(!c.descends(w(0), w(2)));
        assert!(!c.descends(w(1), w(1)));
        assert!(c.covers(&[w(3)], w(0)));
        assert!(c.covers(&[w(1)], w(1)));
        assert!(!c.covers(&[w(1)], w(2)));
        assert!(c.descends_seen(&[w(2)], w(0)));
        assert!(!c.descends_seen(&[w(3)], w(2)), "w3 merged w2 unseen");
        assert_eq!(c.parents(w(3)), (&[w(2)][..], true));
        // A second merge of the same write changes nothing.
        c.merged(w(3), &[w(1)], 7);
        assert_eq!(c.parents(w(3)).0, &[w(2)]);
    }

    #[test]
    fn the_ancestors_of_a_displaced_write_share_its_lineage() {
        let mut c = Causality::default();
        // w0 <- w1 <- w2 (seen), w3 independent; w2 displaced by w3.
        c.invoked(w(0), KeyId(0), 1, 10, Some(&[]), false);
        c.invoked(w(1), KeyId(0), 2, 20, Some(&[w(0)]), false);
        c.invoked(w(2), KeyId(0), 3, 30, Some(&[w(1)]), false);
        c.invoked(w(3), KeyId(0), 4, 40, Some(&[]), false);
        c.discarded(w(2), &[w(3)]);
        assert_eq!(c.displaced_lineage(), vec![true, true, true, false]);
    }

    /// `ancestry` answers what `covers` and `descends_seen` answer, write by write, on a
    /// history of read-modify-write and blind puts drawn from a fixed sequence.
    #[test]
    fn one_walk_of_ancestry_agrees_with_the_searches() {
        let mut c = Causality::default();
        let mut x: u64 = 12345;
        let mut next = |n: u64| {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (x >> 33) % n
        };
        let writes = 300u64;
        let mut at = 0;
        for i in 0..writes {
            at += 1;
            // Parents among the last 20 writes: up to three, seen or merged.
            let parents: Vec<WriteId> = (0..next(4))
                .map(|_| w(i.saturating_sub(1 + next(20.min(i.max(1))))))
                .filter(|p| p.0 < i)
                .collect();
            if next(3) == 0 {
                c.invoked(w(i), KeyId(0), at, at, None, false);
                at += 1;
                c.merged(w(i), &parents, at);
            } else {
                c.invoked(w(i), KeyId(0), at, at, Some(&parents), false);
            }
        }
        for _ in 0..60 {
            let held: Vec<WriteId> = (0..1 + next(3)).map(|_| w(next(writes))).collect();
            let a = c.ancestry(&held);
            for t in (0..writes).map(w) {
                assert_eq!(
                    held.contains(&t) || a.by_any(t),
                    c.covers(&held, t),
                    "{held:?} {t}"
                );
                assert_eq!(a.by_seen(t), c.descends_seen(&held, t), "{held:?} {t}");
            }
        }
    }

    #[test]
    fn a_discard_is_a_displacement_unless_a_descendant_is_kept() {
        let mut c = Causality::default();
        c.invoked(w(0), KeyId(0), 1, 0, Some(&[]), false);
        c.invoked(w(1), KeyId(0), 2, 0, Some(&[w(0)]), false);
        c.invoked(w(2), KeyId(0), 3, 0, Some(&[]), false);
        c.discarded(w(0), &[w(1)]);
        assert!(!c.displaced(w(0)));
        c.discarded(w(1), &[w(2)]);
        assert!(c.displaced(w(1)));
    }
}
