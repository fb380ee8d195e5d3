//! The single event queue, ordered by (time, insertion sequence). Ties in time are broken
//! by the order of scheduling, so the run is a pure function of its inputs.
//!
//! Simulated time never goes backwards, which lets the queue be a radix heap: keys are
//! bucketed by the highest bit in which they differ from the last key popped, so a push is
//! O(1) and a pop costs amortised O(log range) with no comparisons of whole events.

/// A queued event's position in the total order: time first, then scheduling order.
type Key = u128;

fn key_of(time: u64, seq: u64) -> Key {
    ((time as u128) << 64) | seq as u128
}

/// Bucket index for `key` relative to `last`: 0 when equal, else 1 + the index of the
/// highest differing bit.
fn bucket_of(key: Key, last: Key) -> usize {
    let diff = key ^ last;
    if diff == 0 {
        0
    } else {
        128 - diff.leading_zeros() as usize
    }
}

const BUCKETS: usize = 129;

/// A monotone priority queue of events keyed by (time, sequence).
pub struct EventQueue<E> {
    buckets: Vec<Vec<(Key, E)>>,
    last: Key,
    len: usize,
    next_seq: u64,
}

impl<E> Default for EventQueue<E> {
    fn default() -> Self {
        Self::new()
    }
}

impl<E> EventQueue<E> {
    pub fn new() -> Self {
        EventQueue {
            buckets: (0..BUCKETS).map(|_| Vec::new()).collect(),
            last: 0,
            len: 0,
            next_seq: 0,
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
        let key = key_of(time, self.next_seq);
        self.next_seq += 1;
        assert!(
            key >= self.last,
            "event scheduled in the past: {} < {}",
            time,
            (self.last >> 64) as u64
        );
        self.buckets[bucket_of(key, self.last)].push((key, event));
        self.len += 1;
    }

    /// Time of the next event without removing it.
    pub fn peek_time(&mut self) -> Option<u64> {
        self.refill();
        self.buckets[0].last().map(|(k, _)| (*k >> 64) as u64)
    }

    /// Removes and returns the earliest event with its time.
    pub fn pop(&mut self) -> Option<(u64, E)> {
        self.refill();
        let (key, event) = self.buckets[0].pop()?;
        self.len -= 1;
        Some(((key >> 64) as u64, event))
    }

    /// Makes bucket 0 hold the minimum key, if any event is queued. Bucket 0 holds keys
    /// equal to `last`; since every key is unique (the sequence differs) it holds at most one.
    fn refill(&mut self) {
        if !self.buckets[0].is_empty() || self.len == 0 {
            return;
        }
        let Some(index) = self.buckets.iter().position(|b| !b.is_empty()) else {
            return;
        };
        let bucket = std::mem::take(&mut self.buckets[index]);
        let min = bucket.iter().map(|(k, _)| *k).min().unwrap_or(self.last);
        self.last = min;
        for (key, event) in bucket {
            self.buckets[bucket_of(key, min)].push((key, event));
        }
        // Reuse the allocation of the emptied bucket.
        debug_assert!(self.buckets[index].is_empty());
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
    #[should_panic(expected = "in the past")]
    fn refuses_to_schedule_in_the_past() {
        let mut q = EventQueue::new();
        q.push(10, ());
        q.pop();
        q.push(9, ());
    }
}
