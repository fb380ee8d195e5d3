//! Timers of fixed delays, kept by their owner instead of as one queued event each.
//!
//! An operation's timers (its timeout, the moment its silent targets are suspected, the
//! end of its read-repair window, a client's request timeout) nearly always fire after the
//! operation finished, when they do nothing. Each kind has one delay for the whole run, so
//! its deadlines come in time order: they wait in a FIFO lane per kind, and the owner keeps
//! one wakeup in the event queue, at the earliest deadline of an operation still running.
//! When the wakeup fires, the owner takes the due deadlines in order ([`Deadlines::pop_due`]),
//! drops the ones whose operation ended, and arms the next wakeup ([`Deadlines::rearm`]).
//! A deadline fires at exactly the time its own timer would have; what goes is the event
//! per operation that found nothing to do.

use super::SimTime;
use std::collections::VecDeque;

/// A deadline waiting in a lane: when it is due, the order it was added in (ties between
/// lanes go to the earlier), and what it is for.
#[derive(Clone, Copy, Debug)]
struct Entry<T> {
    due: SimTime,
    order: u64,
    item: T,
}

/// `LANES` kinds of deadlines; each kind is always the same delay after it was added.
#[derive(Debug)]
pub struct Deadlines<T, const LANES: usize> {
    lanes: [VecDeque<Entry<T>>; LANES],
    added: u64,
    /// The wakeups asked for that have not fired yet, latest first: one is only asked for
    /// earlier than every other, so they are distinct and fire from the end. A wakeup
    /// overtaken by an earlier one still fires and runs whatever is due then.
    wakeups: Vec<SimTime>,
}

impl<T: Copy, const LANES: usize> Default for Deadlines<T, LANES> {
    fn default() -> Self {
        Deadlines {
            lanes: std::array::from_fn(|_| VecDeque::new()),
            added: 0,
            wakeups: Vec::new(),
        }
    }
}

impl<T: Copy, const LANES: usize> Deadlines<T, LANES> {
    /// Adds a deadline of kind `lane` for `item` at `due` (its kind's fixed delay after
    /// now). Returns the time the owner must arm a wakeup at, when no wakeup is armed at
    /// or before it.
    pub fn add(&mut self, due: SimTime, lane: usize, item: T) -> Option<SimTime> {
        let queue = &mut self.lanes[lane];
        // Fixed delays and a clock that never goes back keep every lane in time order.
        assert!(queue.back().is_none_or(|last| last.due <= due));
        queue.push_back(Entry {
            due,
            order: self.added,
            item,
        });
        self.added += 1;
        self.arm(due)
    }

    /// A wakeup fired at `now`.
    pub fn woke(&mut self, now: SimTime) {
        while self.wakeups.last().is_some_and(|at| *at <= now) {
            self.wakeups.pop();
        }
    }

    /// The next deadline due by `now`, earliest first (ties in the order they were added),
    /// with its lane.
    pub fn pop_due(&mut self, now: SimTime) -> Option<(usize, T)> {
        let lane = (0..LANES)
            .filter_map(|i| self.lanes[i].front().map(|e| (e.due, e.order, i)))
            .filter(|(due, _, _)| *due <= now)
            .min()?
            .2;
        self.lanes[lane].pop_front().map(|e| (lane, e.item))
    }

    /// Drops, from the front of every lane, the deadlines `live` says no longer matter,
    /// then returns the time the owner must arm its next wakeup at, if one is needed.
    pub fn rearm(&mut self, live: impl Fn(&T) -> bool) -> Option<SimTime> {
        let mut next: Option<SimTime> = None;
        for queue in &mut self.lanes {
            while queue.front().is_some_and(|e| !live(&e.item)) {
                queue.pop_front();
            }
            if let Some(e) = queue.front() {
                next = Some(next.map_or(e.due, |n| n.min(e.due)));
            }
        }
        next.and_then(|at| self.arm(at))
    }

    /// Forgets every deadline and the wakeups asked for (the owner lost its state).
    pub fn clear(&mut self) {
        for queue in &mut self.lanes {
            queue.clear();
        }
        self.wakeups.clear();
    }

    /// The deadlines due by `now` that have not been taken yet, in the order
    /// [`Deadlines::pop_due`] would take them (a look, for observers).
    pub fn due(&self, now: SimTime) -> Vec<(usize, T)> {
        let mut due: Vec<(SimTime, u64, usize, T)> = Vec::new();
        for (i, queue) in self.lanes.iter().enumerate() {
            due.extend(
                queue
                    .iter()
                    .take_while(|e| e.due <= now)
                    .map(|e| (e.due, e.order, i, e.item)),
            );
        }
        due.sort_by_key(|(at, order, _, _)| (*at, *order));
        due.into_iter()
            .map(|(_, _, lane, item)| (lane, item))
            .collect()
    }

    /// Deadlines waiting, live or not.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.lanes.iter().map(VecDeque::len).sum()
    }

    /// Bytes one waiting deadline takes.
    pub const ENTRY_BYTES: usize = std::mem::size_of::<Entry<T>>();

    /// Wakeups asked for that have not fired yet.
    #[cfg(test)]
    fn wakeups_pending(&self) -> usize {
        self.wakeups.len()
    }

    /// A wakeup is needed at `at` unless one is already asked for at or before it (that
    /// one will arm the next when it fires).
    fn arm(&mut self, at: SimTime) -> Option<SimTime> {
        if self.wakeups.last().is_some_and(|first| *first <= at) {
            return None;
        }
        self.wakeups.push(at);
        Some(at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::rng::SimRng;
    use rand::{RngExt, SeedableRng};
    use std::collections::BTreeSet;

    /// Replays random adds, endings and wakeups against the plain model (one timer event
    /// per deadline, fired in (time, order added) order, doing nothing once its item
    /// ended): the same deadlines must fire at the same times in the same order.
    #[test]
    fn fires_what_one_timer_per_deadline_would() {
        for case in 0..300u64 {
            let mut rng = SimRng::seed_from_u64(case);
            let delays = [
                SimTime(rng.random_range(1..2_000)),
                SimTime(rng.random_range(1..2_000)),
                SimTime(rng.random_range(1..50)),
            ];
            let mut lanes: Deadlines<u64, 3> = Deadlines::default();
            // The event queue: wakeups (time, order pushed). The model: every deadline.
            let mut wakeups: BTreeSet<(SimTime, u64)> = BTreeSet::new();
            let mut model: BTreeSet<(SimTime, u64, usize, u64)> = BTreeSet::new();
            let mut pushed = 0u64;
            let mut ended: BTreeSet<u64> = BTreeSet::new();
            let (mut fired, mut expected) = (Vec::new(), Vec::new());
            let mut now = SimTime(0);
            let mut next_item = 0u64;
            for _ in 0..400 {
                // Whatever is due before the next step, in time order.
                let step = SimTime(now.0 + rng.random_range(0..300));
                while let Some(&(at, o)) = wakeups.first() {
                    if at > step {
                        break;
                    }
                    wakeups.remove(&(at, o));
                    lanes.woke(at);
                    while let Some((lane, item)) = lanes.pop_due(at) {
                        if !ended.contains(&item) {
                            fired.push((at, lane, item));
                        }
                    }
                    if let Some(again) = lanes.rearm(|item| !ended.contains(item)) {
                        assert!(again >= at);
                        wakeups.insert((again, pushed));
                        pushed += 1;
                    }
                }
                while let Some(&(at, order, lane, item)) = model.first() {
                    if at > step {
                        break;
                    }
                    model.remove(&(at, order, lane, item));
                    if !ended.contains(&item) {
                        expected.push((at, lane, item));
                    }
                }
                now = step;
                if rng.random_bool(0.6) {
                    let lane = rng.random_range(0..3);
                    let item = next_item;
                    next_item += 1;
                    model.insert((now + delays[lane], pushed, lane, item));
                    if let Some(at) = lanes.add(now + delays[lane], lane, item) {
                        wakeups.insert((at, pushed));
                    }
                    pushed += 1;
                } else if next_item > 0 {
                    ended.insert(rng.random_range(0..next_item));
                }
            }
            assert_eq!(fired, expected, "case {case}");
            // Every wakeup in the queue is one the lanes know of, at a distinct time.
            assert_eq!(wakeups.len(), lanes.wakeups_pending(), "case {case}");
            let times: BTreeSet<SimTime> = wakeups.iter().map(|w| w.0).collect();
            assert_eq!(times.len(), wakeups.len(), "case {case}");
        }
    }

    #[test]
    fn one_wakeup_serves_many_deadlines() {
        let mut lanes: Deadlines<u32, 1> = Deadlines::default();
        assert_eq!(lanes.add(SimTime(100), 0, 1), Some(SimTime(100)));
        assert_eq!(lanes.add(SimTime(110), 0, 2), None);
        assert_eq!(lanes.add(SimTime(120), 0, 3), None);
        lanes.woke(SimTime(100));
        assert_eq!(lanes.due(SimTime(100)), vec![(0, 1)]);
        assert_eq!(lanes.pop_due(SimTime(100)), Some((0, 1)));
        assert_eq!(lanes.pop_due(SimTime(100)), None);
        // Item 2 ended: the next wakeup is for item 3.
        assert_eq!(lanes.rearm(|item| *item != 2), Some(SimTime(120)));
        assert_eq!(lanes.len(), 1);
        assert_eq!(lanes.wakeups_pending(), 1);
        // A deadline earlier than the armed wakeup asks for its own.
        let mut two: Deadlines<u32, 2> = Deadlines::default();
        assert_eq!(two.add(SimTime(100), 0, 1), Some(SimTime(100)));
        assert_eq!(two.add(SimTime(6), 1, 2), Some(SimTime(6)));
        assert_eq!(two.wakeups_pending(), 2);
        two.woke(SimTime(6));
        assert_eq!(two.pop_due(SimTime(6)), Some((1, 2)));
        assert_eq!(
            two.rearm(|_| true),
            None,
            "the wakeup at 100 is still queued"
        );
        lanes.clear();
        assert_eq!(lanes.len(), 0);
        assert_eq!(lanes.add(SimTime(300), 0, 4), Some(SimTime(300)));
    }
}
