//! The single event queue, ordered by (time, insertion sequence). Ties in time are broken
//! by the order of scheduling, so the run is a pure function of its inputs.
//!
//! Simulated time never goes backwards, which lets the queue be a radix heap (a
//! hierarchical timing wheel without a fixed horizon): an event is filed by the highest
//! digit in which its time differs from the time last popped, and by its value there. The
//! lowest digit is 12 bits wide (4,096 slots of one microsecond each, found through two
//! levels of occupancy masks), the digits above it 6 bits (64 slots a level, one `u64`
//! mask each). An event within the same 4,096 µs window as the last popped time goes
//! straight to its own one-time slot; a later one moves down at most once per digit (once
//! or twice for the milliseconds-to-seconds delays of a simulation) before it is popped.
//! A push is O(1); a pop takes the first entry of the lowest occupied one-time slot, in
//! place. On the probe job's recorded push and pop sequence a 12-bit lowest digit writes
//! an entry about 2.1 times per event against about 3 with a 6-bit one, and the sequence
//! costs 703 million instructions against 957 (766 with 10 bits, 861 with 8); the 4,096
//! slot headers (96 KiB) did not make the 1,000- and 10,000-node benchmarks slower.
//!
//! Events sit in a slab and never move; slots shuffle only 16-byte (time, index, locality
//! hint) entries.
//! The slab reuses the most recently freed place first, which is still in the cache when
//! the handler of one event schedules the next (storing events inline in the slots was
//! tried: it doubled the cache misses on writes).

/// Bits of the lowest digit: one slot per microsecond of a 4,096 µs window.
const LOW_BITS: u32 = 12;
const LOW_SLOTS: usize = 1 << LOW_BITS;
/// One occupancy word per 64 low slots; a single summary word covers them all.
const LOW_WORDS: usize = LOW_SLOTS / 64;
const LOW_MASK: u64 = LOW_SLOTS as u64 - 1;
/// Bits per digit above the lowest: 64 slots a level, one `u64` occupancy mask each.
const DIGIT_BITS: u32 = 6;
const SLOTS: usize = 1 << DIGIT_BITS;
const LEVELS: usize = (64 - LOW_BITS as usize).div_ceil(DIGIT_BITS as usize);

/// A hint to the CPU to start loading `value`'s cache line; no effect on results.
#[inline(always)]
pub fn prefetch<T>(value: &T) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
        // SAFETY: prefetching is a hint; it never faults, even on an invalid address,
        // and here the address is a live reference.
        unsafe { _mm_prefetch::<_MM_HINT_T0>((value as *const T).cast::<i8>()) };
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = value;
}

#[derive(Clone, Copy)]
struct Entry {
    time: u64,
    index: u32,
    /// The caller's locality hint (what the event will touch, e.g. a node), or `NO_HINT`.
    hint: u32,
}

/// The start of the panic message when an event is scheduled before the last one popped
/// (the swarm files such a panic under "time never goes backwards").
pub const PAST_EVENT: &str = "event scheduled in the past";

/// An event pushed without a locality hint.
pub const NO_HINT: u32 = u32::MAX;

/// Bytes a queue holds whatever it contains, for the memory guard: the slot headers, and
/// the small buffer (four entries and the allocator's header) each slot keeps for reuse
/// once it has held an entry.
pub const FIXED_BYTES: usize =
    (LOW_SLOTS + LEVELS * SLOTS) * (size_of::<Vec<Entry>>() + 4 * size_of::<Entry>() + 16);

/// A monotone priority queue of events keyed by (time, scheduling order).
///
/// Invariant: an entry in (upper level l, slot d) agrees with `last` on every digit above
/// l and has digit d > last's digit at l. An entry in low slot s agrees with `last` on
/// every bit above the lowest digit, and s >= last's lowest digit: a low slot holds one
/// time. The lowest occupied low slot, if any, therefore holds the earliest events; otherwise
/// the lowest occupied slot of the lowest occupied upper level does. Every slot is in
/// scheduling order: pushes append, and a slot receives moved entries only while every
/// level below the one moved from is empty, from a slot that is itself in order and older
/// than any later push. So the events at the minimum time come out of one slot already in
/// scheduling order, and no sequence number is stored or compared. The events at time
/// `last` are those of low slot `last & LOW_MASK` from `head` on (a pop advances `head`
/// rather than shifting the slot); events pushed for that time join its back.
pub struct EventQueue<E> {
    low: Box<[Vec<Entry>; LOW_SLOTS]>,
    /// Bit s % 64 of `low_words[s / 64]` is set when low slot s is non-empty.
    low_words: [u64; LOW_WORDS],
    /// Bit w set when `low_words[w] != 0`.
    low_summary: u64,
    /// Entries of low slot `last & LOW_MASK` already popped; 0 for any other slot.
    head: usize,
    upper: Box<[[Vec<Entry>; SLOTS]; LEVELS]>,
    /// Bit d of `occupied[l]` is set when upper slot (l, d) is non-empty.
    occupied: [u64; LEVELS],
    /// Bit l set when `occupied[l] != 0`.
    levels: u32,
    slab: Vec<Option<E>>,
    free: Vec<u32>,
    last: u64,
    len: usize,
    /// The hint of the next event as known right after the last pop (`NO_HINT` when
    /// unknown), while no push has come since; `None` otherwise. The loop asks for it
    /// right after each pop, and the pop has just looked it up to prefetch the event.
    after_pop: Option<u32>,
}

impl<E> Default for EventQueue<E> {
    fn default() -> Self {
        Self::new()
    }
}

impl<E> EventQueue<E> {
    pub fn new() -> Self {
        EventQueue {
            low: Box::new(std::array::from_fn(|_| Vec::new())),
            low_words: [0; LOW_WORDS],
            low_summary: 0,
            head: 0,
            upper: Box::new(std::array::from_fn(|_| std::array::from_fn(|_| Vec::new()))),
            occupied: [0; LEVELS],
            levels: 0,
            slab: Vec::new(),
            free: Vec::new(),
            last: 0,
            len: 0,
            after_pop: None,
        }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Schedules `event` at `time`. Scheduling in the past is a bug in the caller: the
    /// engine asserts it even in release builds because it would break causality.
    pub fn push(&mut self, time: u64, event: E) {
        self.push_hinted(time, event, NO_HINT);
    }

    /// `push` with a locality hint: when this event is known to come next, `next_hint`
    /// returns `hint` so that the caller can start loading what the event will touch.
    pub fn push_hinted(&mut self, time: u64, event: E, hint: u32) {
        assert!(time >= self.last, "{PAST_EVENT}: {time} < {}", self.last);
        let index = match self.free.pop() {
            Some(index) => {
                // A free index came from a pop, so its place exists (and holds `None`).
                self.slab[index as usize] = Some(event);
                index
            }
            None => {
                self.slab.push(Some(event));
                (self.slab.len() - 1) as u32
            }
        };
        self.len += 1;
        self.after_pop = None;
        self.file(Entry { time, index, hint });
    }

    /// Puts `entry` (not earlier than `last`) in its slot.
    #[inline(always)]
    fn file(&mut self, entry: Entry) {
        let diff = entry.time ^ self.last;
        if diff <= LOW_MASK {
            let slot = (entry.time & LOW_MASK) as usize;
            self.low[slot].push(entry);
            self.low_words[slot / 64] |= 1 << (slot % 64);
            self.low_summary |= 1 << (slot / 64);
        } else {
            let highest = 63 - diff.leading_zeros();
            let level = ((highest - LOW_BITS) / DIGIT_BITS) as usize;
            let shift = LOW_BITS + level as u32 * DIGIT_BITS;
            let slot = (entry.time >> shift) as usize % SLOTS;
            self.upper[level][slot].push(entry);
            self.occupied[level] |= 1 << slot;
            self.levels |= 1 << level;
        }
    }

    /// The lowest occupied low slot, with its occupancy word, when there is one.
    #[inline(always)]
    fn lowest_low(&self) -> Option<(usize, usize)> {
        if self.low_summary == 0 {
            return None;
        }
        let word = self.low_summary.trailing_zeros() as usize;
        let slot = word * 64 + self.low_words[word].trailing_zeros() as usize;
        Some((word, slot % LOW_SLOTS))
    }

    /// The lowest occupied slot of the lowest occupied upper level, when there is one.
    #[inline(always)]
    fn lowest_upper(&self) -> Option<(usize, usize)> {
        if self.levels == 0 {
            return None;
        }
        let level = self.levels.trailing_zeros() as usize % LEVELS;
        let slot = self.occupied[level].trailing_zeros() as usize % SLOTS;
        Some((level, slot))
    }

    /// Time of the next event without removing it.
    pub fn peek_time(&self) -> Option<u64> {
        if let Some((_, slot)) = self.lowest_low() {
            return Some((self.last & !LOW_MASK) | slot as u64);
        }
        let (level, slot) = self.lowest_upper()?;
        self.upper[level][slot].iter().map(|e| e.time).min()
    }

    /// Removes and returns the earliest event with its time.
    pub fn pop(&mut self) -> Option<(u64, E)> {
        self.pop_until(u64::MAX)
    }

    /// Removes and returns the earliest event with its time if that time is at most
    /// `limit`; otherwise leaves the queue as it is (a later push may still be scheduled
    /// at any time from the last one popped on) and returns `None`.
    pub fn pop_until(&mut self, limit: u64) -> Option<(u64, E)> {
        let (word, slot) = loop {
            if let Some(found) = self.lowest_low() {
                break found;
            }
            let (level, slot) = self.lowest_upper()?;
            if !self.move_down(level, slot, limit) {
                return None;
            }
        };
        let time = (self.last & !LOW_MASK) | slot as u64;
        if time > limit {
            return None;
        }
        self.last = time;
        let entries = &mut self.low[slot];
        // The invariant: an occupied low slot has an entry at `head`. A broken one must
        // stop the run, not end it quietly as if the queue were empty.
        let entry = *entries
            .get(self.head)
            .expect("an occupied slot has an entry at head");
        self.head += 1;
        if self.head == entries.len() {
            entries.clear();
            self.head = 0;
            self.low_words[word] &= !(1 << (slot % 64));
            if self.low_words[word] == 0 {
                self.low_summary &= !(1 << word);
            }
        }
        let event = (self.slab[entry.index as usize].take()).expect("a filed entry's event");
        self.free.push(entry.index);
        self.len -= 1;
        let next = self.known_next();
        if let Some(next) = next
            && let Some(event) = self.slab.get(next.index as usize)
        {
            prefetch(event);
        }
        self.after_pop = Some(next.map_or(NO_HINT, |e| e.hint));
        Some((time, event))
    }

    /// Moves the entries of upper slot (level, slot), the lowest occupied, down to lower
    /// levels relative to their earliest time, which becomes `last`; unless that time is
    /// after `limit`, when it leaves everything in place and returns false. Called only
    /// while the low slots are empty. Kept out of line: about one pop in ten needs it, and
    /// the pop inlined into the loop stays small.
    #[inline(never)]
    fn move_down(&mut self, level: usize, slot: usize, limit: u64) -> bool {
        let mut entries = std::mem::take(&mut self.upper[level][slot]);
        let min = entries.iter().map(|e| e.time).min().unwrap_or(u64::MAX);
        if min > limit {
            self.upper[level][slot] = entries;
            return false;
        }
        self.occupied[level] &= !(1 << slot);
        if self.occupied[level] == 0 {
            self.levels &= !(1 << level);
        }
        self.last = min;
        // Every entry lands below `level` (it agrees with `min` on digits >= level), so
        // this slot stays empty while the others fill.
        for entry in &entries {
            self.file(*entry);
        }
        entries.clear();
        // Give the emptied slot its allocation back for reuse.
        self.upper[level][slot] = entries;
        true
    }

    /// The locality hint of the next event, when it is known without moving anything.
    pub fn next_hint(&self) -> Option<u32> {
        let hint = match self.after_pop {
            Some(hint) => hint,
            None => self.known_next()?.hint,
        };
        (hint != NO_HINT).then_some(hint)
    }

    /// The next event, when it is known cheaply: the first unpopped entry of the lowest
    /// occupied low slot (one time), or the only entry of an upper slot.
    /// Knowing it early lets its memory load while the current event is handled: events
    /// wait long enough for their slab lines (and their nodes) to leave the cache.
    fn known_next(&self) -> Option<Entry> {
        if let Some((_, slot)) = self.lowest_low() {
            // `head` is 0 unless this is the slot of `last`.
            return self.low[slot].get(self.head).copied();
        }
        let (level, slot) = self.lowest_upper()?;
        let entries = &self.upper[level][slot];
        // A longer upper slot would need a scan (tried: the scan cost what the prefetch
        // saved).
        if entries.len() == 1 {
            return entries.first().copied();
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::rng::{RngStreams, Stream};
    use rand::Rng;

    #[test]
    fn pops_in_time_then_insertion_order() {
        let mut q = EventQueue::new();
        q.push(10, "c");
        q.push(5, "a");
        q.push(10, "d");
        q.push(5, "b");
        let order: Vec<_> = std::iter::from_fn(|| q.pop()).collect();
        assert_eq!(order, vec![(5, "a"), (5, "b"), (10, "c"), (10, "d")]);
    }

    #[test]
    fn matches_a_sorted_reference_under_interleaved_pushes() {
        let mut rng = RngStreams::new(7).stream(Stream::Test, 0);
        let mut q = EventQueue::new();
        let mut reference: Vec<(u64, u64)> = Vec::new();
        let mut now = 0u64;
        let mut id = 0u64;
        for round in 0..20_000 {
            for _ in 0..(rng.next_u64() % 3) {
                let t = now + rng.next_u64() % 1_000;
                q.push(t, id);
                reference.push((t, id));
                id += 1;
            }
            if round % 2 == 0
                && let Some((t, e)) = q.pop()
            {
                reference.sort();
                let expected = reference.remove(0);
                assert_eq!((t, e), expected);
                now = t;
            }
        }
        assert_eq!(q.len(), reference.len());
    }

    /// Pushes `count` events at times from `draw` (given the stream and the last popped
    /// time), popping after each push where `pop_now` says so, and checks every pop and
    /// the final drain against a sorted reference of (time, scheduling order).
    fn replay_against_sorted_reference(
        seed: u64,
        count: u64,
        mut draw: impl FnMut(&mut crate::engine::SimRng, u64) -> u64,
        mut pop_now: impl FnMut(&mut crate::engine::SimRng, u64) -> bool,
    ) {
        let mut rng = RngStreams::new(seed).stream(Stream::Test, 0);
        let mut q = EventQueue::new();
        let mut reference: Vec<(u64, u64)> = Vec::new();
        let mut now = 0u64;
        for id in 0..count {
            let t = draw(&mut rng, now);
            q.push(t, id);
            reference.push((t, id));
            if pop_now(&mut rng, id)
                && let Some((t, e)) = q.pop()
            {
                reference.sort();
                assert_eq!((t, e), reference.remove(0));
                now = t;
            }
        }
        reference.sort();
        let rest: Vec<_> = std::iter::from_fn(|| q.pop()).collect();
        assert_eq!(rest, reference);
        assert!(q.is_empty());
    }

    #[test]
    fn many_ties_across_bucket_moves_keep_scheduling_order() {
        // Few distinct times far apart: ties pass through several slots before popping.
        replay_against_sorted_reference(
            11,
            50_000,
            |rng, now| now + (rng.next_u64() % 4) * 70_000 + (rng.next_u64() % 2),
            |rng, _| !rng.next_u64().is_multiple_of(3),
        );
    }

    #[test]
    fn times_spread_over_every_level_pop_in_order() {
        // Delays from microseconds to days, so entries start at every level and cascade.
        replay_against_sorted_reference(
            13,
            20_000,
            |rng, now| {
                let bits = rng.next_u64() % 48;
                now + (rng.next_u64() & ((1u64 << bits) - 1))
            },
            |_, id| id % 2 == 1,
        );
    }

    #[test]
    fn a_known_next_hint_belongs_to_the_event_popped_next() {
        // Each event carries its own hint; whenever the queue names the next event's hint,
        // the next pop must return that event (a wrong hint would only cost a cache miss,
        // but it would mean `known_next` misjudged the order).
        let mut rng = RngStreams::new(21).stream(Stream::Test, 0);
        let mut q = EventQueue::new();
        let mut now = 0u64;
        let mut named = 0;
        for id in 0..50_000u32 {
            let spread = [0u64, 10, 1_000, 100_000][(rng.next_u64() % 4) as usize];
            q.push_hinted(now + rng.next_u64() % (spread + 1), id, id);
            if id % 3 != 0 {
                continue;
            }
            for _ in 0..2 {
                let hint = q.next_hint();
                let Some((t, popped)) = q.pop() else { break };
                now = t;
                if let Some(h) = hint {
                    assert_eq!(h, popped, "hint named another event");
                    named += 1;
                }
            }
        }
        assert!(named > 10_000, "the next event was rarely known: {named}");
        while let Some((t, _)) = q.pop() {
            now = t;
        }
        q.push(now, u32::MAX);
        assert_eq!(
            q.next_hint(),
            None,
            "an event pushed without a hint has none"
        );
    }

    #[test]
    fn pop_until_stops_at_the_limit_without_moving_time_on() {
        let mut q = EventQueue::new();
        q.push(10, "a");
        q.push(5_000, "c"); // beyond the first 4,096 µs window: an upper slot
        q.push(10, "b");
        assert_eq!(q.pop_until(10), Some((10, "a")));
        assert_eq!(q.pop_until(10), Some((10, "b")));
        assert_eq!(q.pop_until(4_999), None);
        assert_eq!(q.peek_time(), Some(5_000));
        // The refused pop left the last popped time at 10: an event between the limit and
        // the next one may still be scheduled, and it comes first.
        q.push(11, "later but first");
        assert_eq!(q.pop_until(10), None);
        assert_eq!(q.peek_time(), Some(11));
        assert_eq!(q.pop_until(4_999), Some((11, "later but first")));
        assert_eq!(q.pop_until(5_000), Some((5_000, "c")));
        assert_eq!(q.pop_until(u64::MAX), None);
        assert!(q.is_empty());
    }

    #[test]
    fn limited_pops_and_peeks_match_a_sorted_reference() {
        // Random limits, some before the next event (a refused pop) and some after it;
        // pushes continue from the last popped time, not from the limit.
        let mut rng = RngStreams::new(17).stream(Stream::Test, 0);
        let mut q = EventQueue::new();
        let mut reference: Vec<(u64, u64)> = Vec::new();
        let mut now = 0u64;
        let mut refused = 0;
        for id in 0..40_000u64 {
            let spread = [0u64, 50, 3_000, 70_000, 5_000_000][(rng.next_u64() % 5) as usize];
            let t = now + rng.next_u64() % (spread + 1);
            q.push(t, id);
            reference.push((t, id));
            if id % 2 == 0 {
                continue;
            }
            reference.sort();
            assert_eq!(q.peek_time(), reference.first().map(|e| e.0));
            let reach = [0u64, 10, 2_000, 100_000][(rng.next_u64() % 4) as usize];
            let limit = now + rng.next_u64() % (reach + 1);
            match q.pop_until(limit) {
                Some((t, e)) => {
                    assert_eq!((t, e), reference.remove(0));
                    assert!(t <= limit);
                    now = t;
                }
                None => {
                    assert!(reference.first().is_none_or(|e| e.0 > limit));
                    refused += 1;
                }
            }
        }
        assert!(refused > 1_000, "the limit rarely refused a pop: {refused}");
        reference.sort();
        let rest: Vec<_> = std::iter::from_fn(|| q.pop()).collect();
        assert_eq!(rest, reference);
    }

    #[test]
    fn a_push_after_a_pop_replaces_the_hint_the_pop_found() {
        let mut q = EventQueue::new();
        q.push_hinted(10, "a", 1);
        q.push_hinted(20, "b", 2);
        assert_eq!(q.pop(), Some((10, "a")));
        assert_eq!(q.next_hint(), Some(2));
        q.push_hinted(15, "c", 3);
        assert_eq!(
            q.next_hint(),
            Some(3),
            "the hint must follow the earlier push"
        );
        assert_eq!(q.pop(), Some((15, "c")));
        assert_eq!(q.next_hint(), Some(2));
        q.push(15, "d");
        assert_eq!(q.next_hint(), None, "the next event now has no hint");
    }

    #[test]
    #[should_panic(expected = "in the past")]
    fn refuses_to_schedule_in_the_past() {
        let mut q = EventQueue::new();
        q.push(10, ());
        q.pop();
        q.push(9, ());
    }
}
