//! The single event queue, ordered by (time, insertion sequence). Ties in time are broken
//! by the order of scheduling, so the run is a pure function of its inputs.
//!
//! Simulated time never goes backwards, which lets the queue be a radix heap with radix
//! 64 (a hierarchical timing wheel without a fixed horizon): an event is filed by the
//! highest base-64 digit in which its time differs from the time last popped, and by its
//! value there. A push is O(1); an event moves down at most once per digit (three or four
//! times for the milliseconds-to-seconds delays of a simulation) before it is popped.
//!
//! Events sit in a slab and never move; slots shuffle only 16-byte (time, index, locality
//! hint) entries.
//! The slab reuses the most recently freed place first, which is still in the cache when
//! the handler of one event schedules the next (storing events inline in the slots was
//! tried: it doubled the cache misses on writes).

use std::collections::VecDeque;

/// Bits per digit: 64 slots a level, one `u64` occupancy mask each.
const DIGIT_BITS: u32 = 6;
const SLOTS: usize = 1 << DIGIT_BITS;
const LEVELS: usize = 64usize.div_ceil(DIGIT_BITS as usize);

/// (level, slot) of `time` relative to `last` (`time > last`): the highest differing digit
/// and the value of `time` there.
fn place(time: u64, last: u64) -> (usize, usize) {
    let highest_bit = 63 - (time ^ last).leading_zeros();
    let level = (highest_bit / DIGIT_BITS) as usize;
    let slot = ((time >> (level as u32 * DIGIT_BITS)) & (SLOTS as u64 - 1)) as usize;
    (level, slot)
}

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

/// An event pushed without a locality hint.
/// The start of the panic message when an event is scheduled before the last one popped
/// (the swarm files such a panic under "time never goes backwards").
pub const PAST_EVENT: &str = "event scheduled in the past";

pub const NO_HINT: u32 = u32::MAX;

/// A monotone priority queue of events keyed by (time, scheduling order).
///
/// Invariant: an entry in (level l, slot d) agrees with `last` on every digit above l and
/// has digit d > last's digit at l. The lowest occupied slot of the lowest occupied level
/// therefore holds the earliest events. Every slot is in scheduling order: pushes append,
/// and a slot receives moved entries only while its whole level is empty (levels below the
/// lowest occupied one are empty), from a slot that is itself in order and older than any
/// later push. So the events at the minimum time come out of one slot already in
/// scheduling order, and no sequence number is stored or compared. `current` holds the
/// events at time `last`; events pushed for that time join its back.
pub struct EventQueue<E> {
    /// The events at time `last`, in scheduling order.
    current: VecDeque<Entry>,
    slots: Vec<Vec<Entry>>,
    /// Bit d of `occupied[l]` is set when slot (l, d) is non-empty.
    occupied: [u64; LEVELS],
    /// Bit l set when `occupied[l] != 0`.
    levels: u32,
    slab: Vec<Option<E>>,
    free: Vec<u32>,
    last: u64,
    len: usize,
}

impl<E> Default for EventQueue<E> {
    fn default() -> Self {
        Self::new()
    }
}

impl<E> EventQueue<E> {
    pub fn new() -> Self {
        EventQueue {
            current: VecDeque::new(),
            slots: (0..LEVELS * SLOTS).map(|_| Vec::new()).collect(),
            occupied: [0; LEVELS],
            levels: 0,
            slab: Vec::new(),
            free: Vec::new(),
            last: 0,
            len: 0,
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
                self.slab[index as usize] = Some(event);
                index
            }
            None => {
                self.slab.push(Some(event));
                (self.slab.len() - 1) as u32
            }
        };
        self.len += 1;
        let entry = Entry { time, index, hint };
        if time == self.last {
            self.current.push_back(entry);
        } else {
            self.file(entry);
        }
    }

    fn file(&mut self, entry: Entry) {
        let (level, slot) = place(entry.time, self.last);
        self.slots[level * SLOTS + slot].push(entry);
        self.occupied[level] |= 1 << slot;
        self.levels |= 1 << level;
    }

    /// Time of the next event without removing it.
    pub fn peek_time(&mut self) -> Option<u64> {
        self.refill();
        (!self.current.is_empty()).then_some(self.last)
    }

    /// Removes and returns the earliest event with its time.
    pub fn pop(&mut self) -> Option<(u64, E)> {
        self.refill();
        let index = self.current.pop_front()?.index;
        let event = self.slab[index as usize].take()?;
        self.free.push(index);
        self.len -= 1;
        if let Some(next) = self.known_next()
            && let Some(event) = self.slab.get(next.index as usize)
        {
            prefetch(event);
        }
        Some((self.last, event))
    }

    /// The locality hint of the next event, when it is known without moving anything.
    pub fn next_hint(&self) -> Option<u32> {
        self.known_next()
            .map(|e| e.hint)
            .filter(|hint| *hint != NO_HINT)
    }

    /// The next event, when it is known cheaply: a tie at the current time, the first
    /// entry of the lowest level-0 slot (one time), or the only entry of a slot.
    /// Knowing it early lets its memory load while the current event is handled: events
    /// wait long enough for their slab lines (and their nodes) to leave the cache.
    fn known_next(&self) -> Option<Entry> {
        if let Some(entry) = self.current.front() {
            return Some(*entry);
        }
        if self.levels == 0 {
            return None;
        }
        let level = self.levels.trailing_zeros() as usize;
        let slot = self.occupied[level].trailing_zeros() as usize;
        let entries = &self.slots[level * SLOTS + slot];
        // A level-0 slot holds one time; a longer slot at a higher level would need a scan
        // (tried: the scan cost what the prefetch saved).
        if level == 0 || entries.len() == 1 {
            return entries.first().copied();
        }
        None
    }

    /// Makes `current` hold the events at the minimum time, in scheduling order.
    fn refill(&mut self) {
        if !self.current.is_empty() || self.levels == 0 {
            return;
        }
        let level = self.levels.trailing_zeros() as usize;
        let slot = self.occupied[level].trailing_zeros() as usize;
        self.occupied[level] &= !(1 << slot);
        if self.occupied[level] == 0 {
            self.levels &= !(1 << level);
        }
        let index = level * SLOTS + slot;
        let mut entries = std::mem::take(&mut self.slots[index]);
        if level == 0 {
            // Every digit agrees: all entries share one time.
            self.last = entries.first().map(|e| e.time).unwrap_or(self.last);
            self.current.extend(entries.drain(..));
        } else {
            let min = entries.iter().map(|e| e.time).min().unwrap_or(self.last);
            self.last = min;
            // Every entry lands at a lower level (it agrees with `min` on digits >= level),
            // so this slot stays empty while the others fill.
            for entry in entries.drain(..) {
                if entry.time == min {
                    self.current.push_back(entry);
                } else {
                    self.file(entry);
                }
            }
        }
        // Give the emptied slot its allocation back for reuse.
        self.slots[index] = entries;
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
    #[should_panic(expected = "in the past")]
    fn refuses_to_schedule_in_the_past() {
        let mut q = EventQueue::new();
        q.push(10, ());
        q.pop();
        q.push(9, ());
    }
}
