//! The single event queue, ordered by (time, insertion sequence). Ties in time are broken
//! by the order of scheduling, so the run is a pure function of its inputs.
//!
//! Simulated time never goes backwards, which lets the queue be a radix heap: times are
//! bucketed by the highest bit in which they differ from the last time popped, so a push
//! is O(1) and a pop costs amortised O(log range) with no comparisons of whole events.

use std::collections::VecDeque;

/// Bucket index for `time` relative to `last`: 0 when equal, else 1 + the index of the
/// highest differing bit.
fn bucket_of(time: u64, last: u64) -> usize {
    let diff = time ^ last;
    if diff == 0 {
        0
    } else {
        64 - diff.leading_zeros() as usize
    }
}

const BUCKETS: usize = 65;

/// A monotone priority queue of events keyed by (time, sequence).
///
/// Buckets are keyed by time only, and each bucket is always in scheduling order: pushes
/// append, and a bucket is refilled from a higher one only while it is empty (everything
/// below the lowest non-empty bucket is empty), with entries that are themselves in order
/// and older than any later push. So the events at the minimum time come out of one
/// bucket already in scheduling order and no sequence number needs storing or sorting.
/// `current` holds them as a FIFO; events pushed for the current time join its back.
/// A bit mask of non-empty buckets finds the next one without scanning. Events sit in a
/// slab and never move; buckets shuffle only 16-byte (time, slot) entries.
pub struct EventQueue<E> {
    current: VecDeque<u32>,
    buckets: Vec<Vec<Entry>>,
    /// Bit i set when `buckets[i]` is non-empty.
    occupied: u128,
    slab: Vec<Option<E>>,
    free: Vec<u32>,
    last: u64,
    len: usize,
}

#[derive(Clone, Copy)]
struct Entry {
    time: u64,
    slot: u32,
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
            buckets: (0..BUCKETS).map(|_| Vec::new()).collect(),
            occupied: 0,
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
        assert!(
            time >= self.last,
            "event scheduled in the past: {time} < {}",
            self.last
        );
        let slot = match self.free.pop() {
            Some(slot) => {
                self.slab[slot as usize] = Some(event);
                slot
            }
            None => {
                self.slab.push(Some(event));
                (self.slab.len() - 1) as u32
            }
        };
        self.len += 1;
        let b = bucket_of(time, self.last);
        if b == 0 {
            self.current.push_back(slot);
        } else {
            self.buckets[b].push(Entry { time, slot });
            self.occupied |= 1 << b;
        }
    }

    /// Time of the next event without removing it.
    pub fn peek_time(&mut self) -> Option<u64> {
        self.refill();
        (!self.current.is_empty()).then_some(self.last)
    }

    /// Removes and returns the earliest event with its time.
    pub fn pop(&mut self) -> Option<(u64, E)> {
        self.refill();
        let slot = self.current.pop_front()?;
        let event = self.slab[slot as usize].take()?;
        self.free.push(slot);
        self.len -= 1;
        Some((self.last, event))
    }

    /// Makes `current` hold the events at the minimum time, in scheduling order.
    fn refill(&mut self) {
        if !self.current.is_empty() || self.occupied == 0 {
            return;
        }
        let index = self.occupied.trailing_zeros() as usize;
        let mut bucket = std::mem::take(&mut self.buckets[index]);
        self.occupied &= !(1 << index);
        let min = bucket.iter().map(|e| e.time).min().unwrap_or(self.last);
        self.last = min;
        // Every entry lands in a lower bucket (they agree with `min` above bit index - 1),
        // so `bucket` can be drained while the others fill.
        for e in bucket.drain(..) {
            let b = bucket_of(e.time, min);
            if b == 0 {
                self.current.push_back(e.slot);
            } else {
                self.buckets[b].push(e);
                self.occupied |= 1 << b;
            }
        }
        // Give the emptied bucket's allocation back for reuse.
        self.buckets[index] = bucket;
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

    #[test]
    fn many_ties_across_bucket_moves_keep_scheduling_order() {
        // Few distinct times far apart: ties pass through several buckets before popping.
        let mut rng = RngStreams::new(11).stream(Stream::Test, 0);
        let mut q = EventQueue::new();
        let mut reference: Vec<(u64, u64)> = Vec::new();
        let mut now = 0u64;
        for id in 0..50_000u64 {
            let t = now + (rng.next_u64() % 4) * 70_000 + (rng.next_u64() % 2);
            q.push(t, id);
            reference.push((t, id));
            if !rng.next_u64().is_multiple_of(3)
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
