//! Whether replicas agree: divergent keys (live home replicas holding different version
//! sets, compared by write id) counted incrementally over a watch list, and when the
//! cluster converged after the last fault. It reads hosts and the observer's record of
//! recent writes; it changes nothing.

use super::event::CONVERGENCE_CHECK;
use super::host::Hosts;
use crate::engine::SimTime;
use crate::ids::{KeyId, NodeId};
use crate::node::{Message, Version};
use crate::observer::Observer;
use crate::ring::Ring;

pub struct Convergence {
    /// Keys to look at in the next scan (see `scan`), each once: keys that received data,
    /// the keys of nodes that went down or came back, and keys found diverging.
    watch: Vec<KeyId>,
    /// Which keys `watch` holds: a bit per key id.
    watched: Vec<u64>,
    /// Keys whose last write was still settling when a scan looked at them, with the time
    /// it stops settling (µs): no scan before then counts them (a later write only moves
    /// that time later), so none looks at them. Unordered, with repeats.
    settling: Vec<(u64, KeyId)>,
    /// The earliest time in `settling` (`u64::MAX` when it is empty).
    settling_next: u64,
    /// The replica sets themselves changed (the ring did): rescan every key once.
    full_scan: bool,
    /// How long after a write started its replicas may differ without counting as divergent.
    settle: SimTime,
    /// When the last fault's effects end, if any fault has an end.
    last_fault_end: Option<SimTime>,
    converged_at: Option<SimTime>,
    /// The scan this one replaced, run side by side in unit tests (`tests::Plain`).
    #[cfg(test)]
    shadow: tests::Plain,
}

/// What one convergence check found.
pub enum Check {
    Converged,
    /// Still diverging: check again at this time.
    Again(SimTime),
}

impl Convergence {
    pub fn new(settle: SimTime, last_fault_end: Option<SimTime>) -> Convergence {
        Convergence {
            watch: Vec::new(),
            watched: Vec::new(),
            settling: Vec::new(),
            settling_next: u64::MAX,
            full_scan: false,
            settle,
            last_fault_end,
            converged_at: None,
            #[cfg(test)]
            shadow: tests::Plain::default(),
        }
    }

    /// When to check convergence first: when the last fault ends.
    pub fn first_check(&self) -> Option<SimTime> {
        self.last_fault_end
    }

    /// Keys whose live home replicas hold different version sets, leaving out keys a client
    /// started writing within the settle window (request timeout plus read-repair window):
    /// in-flight writes explain their differences. A full scan over every key.
    pub fn divergent_keys(&self, now: SimTime, v: View) -> u64 {
        let keys = v.ring.key_count() as u32;
        (0..keys)
            .filter(|k| diverges(now, v, self.settle, KeyId(*k)))
            .count() as u64
    }

    /// `divergent_keys`, incrementally: only keys whose replicas received data since they
    /// were last seen converged are looked at, unless something changed the replica sets
    /// themselves (the ring changed), which forces a full scan. Keys still diverging stay
    /// watched; keys still settling wait until their settle window ends, and are looked at
    /// again then. Rare (once a timeline interval, or a second after a fault): kept out of
    /// the event loop's code.
    #[inline(never)]
    pub fn scan(&mut self, now: SimTime, v: View) -> u64 {
        let mut divergent = 0;
        if self.full_scan {
            self.full_scan = false;
            self.watch.clear();
            self.watched.clear();
            self.settling.clear();
            self.settling_next = u64::MAX;
            for key in (0..v.ring.key_count() as u32).map(KeyId) {
                divergent += self.look(now, v, key) as u64;
            }
        } else {
            let mut keys = std::mem::take(&mut self.watch);
            self.take_settled(now, &mut keys);
            for key in &keys {
                self.watched[key.index() / 64] &= !(1 << (key.index() % 64));
            }
            for key in keys.iter() {
                divergent += self.look(now, v, *key) as u64;
            }
            // The next scan's list (the keys found diverging) keeps this one's allocation.
            keys.clear();
            keys.append(&mut self.watch);
            self.watch = keys;
        }
        #[cfg(test)]
        self.shadow.compare(now, v, self.settle, divergent);
        divergent
    }

    /// Where a scan puts `key`: waiting while it settles, watched while it diverges
    /// (returns true), dropped when its live replicas agree.
    fn look(&mut self, now: SimTime, v: View, key: KeyId) -> bool {
        if let Some(until) = v.observer.recent_until(key, now, self.settle) {
            self.settling.push((until.as_micros(), key));
            self.settling_next = self.settling_next.min(until.as_micros());
            false
        } else if replicas_differ(v, key) {
            self.watch_key(key);
            true
        } else {
            false
        }
    }

    /// Moves the keys whose settle window ended by `now` into `keys` (the watch list, taken
    /// out: a key already there or already moved is not added again).
    fn take_settled(&mut self, now: SimTime, keys: &mut Vec<KeyId>) {
        let now = now.as_micros();
        if now < self.settling_next {
            return;
        }
        let mut next = u64::MAX;
        let mut settled = std::mem::take(&mut self.settling);
        settled.retain(|&(until, key)| {
            if until <= now {
                if !self.mark_watched(key) {
                    keys.push(key);
                }
                false
            } else {
                next = next.min(until);
                true
            }
        });
        self.settling = settled;
        self.settling_next = next;
    }

    /// Sets `key`'s bit in `watched`; returns whether it was set already.
    #[inline]
    fn mark_watched(&mut self, key: KeyId) -> bool {
        let (word, bit) = (key.index() / 64, 1u64 << (key.index() % 64));
        if word >= self.watched.len() {
            self.watched.resize(word + 1, 0);
        }
        let was = self.watched[word] & bit != 0;
        self.watched[word] |= bit;
        was
    }

    /// Adds `key` to the next scan's list, unless it is there.
    #[inline]
    fn watch_key(&mut self, key: KeyId) {
        if !self.mark_watched(key) {
            self.watch.push(key);
        }
    }

    /// The convergence check after the last fault: records the first moment no key diverged.
    pub fn check(&mut self, now: SimTime, v: View) -> Check {
        if self.scan(now, v) == 0 {
            self.converged_at = Some(now);
            Check::Converged
        } else {
            Check::Again(now + CONVERGENCE_CHECK)
        }
    }

    /// A node went down or came back: the live replica sets of its keys changed.
    pub fn watch_node_keys(&mut self, ring: &Ring, node: NodeId) {
        #[cfg(test)]
        self.shadow.watch_node_keys(ring, node);
        for slot in ring.home_slots(node) {
            for key in ring.keys_of_slot(*slot) {
                self.watch_key(*key);
            }
        }
    }

    /// The ring changed: every key's replica set may have.
    pub fn ring_changed(&mut self) {
        #[cfg(test)]
        self.shadow.ring_changed();
        self.full_scan = true;
    }

    /// Data arriving at a replica may make its key diverge (or converge): watch it.
    #[inline]
    pub fn watch_delivery(&mut self, msg: &Message) {
        #[cfg(test)]
        self.shadow.watch_delivery(msg);
        match msg {
            Message::ReplicaWrite { key, .. } | Message::HintHandoff { key, .. } => {
                self.watch_key(*key);
            }
            Message::AeData { entries, .. } | Message::TransferBatch { entries, .. } => {
                for (key, _) in entries {
                    self.watch_key(*key);
                }
            }
            // Nothing else carries data to a replica's store.
            Message::Get { .. }
            | Message::Put { .. }
            | Message::ReplicaRead { .. }
            | Message::ReplicaReadReply { .. }
            | Message::ReplicaWriteAck { .. }
            | Message::GetReply { .. }
            | Message::PutReply { .. }
            | Message::Ping
            | Message::Pong
            | Message::Heartbeat
            | Message::HeartbeatAck
            | Message::HintAck { .. }
            | Message::AeHashes { .. }
            | Message::AeKeys { .. }
            | Message::AeDone { .. }
            | Message::AeAsk { .. }
            | Message::Gossip { .. }
            | Message::GossipUpdate { .. }
            | Message::MembershipPoll
            | Message::MembershipReply { .. }
            | Message::TransferBatchAck { .. }
            | Message::TransferDone
            | Message::TransferDoneAck => {}
        }
    }

    /// Seconds from the end of the last fault until no key diverged (checked every second);
    /// `None` if that never happened or there was no fault with an end.
    pub fn time_to_converge_s(&self) -> Option<f64> {
        Some(
            self.converged_at?
                .saturating_sub(self.last_fault_end?)
                .as_secs_f64(),
        )
    }
}

/// What the convergence judgements read: the hosts, the current ring and the observer.
#[derive(Clone, Copy)]
pub struct View<'a> {
    pub hosts: &'a Hosts,
    pub ring: &'a Ring,
    pub observer: &'a Observer,
}

/// Whether `key` counts as divergent: its live home replicas hold different version sets,
/// and no client started writing it within `settle` before `now`.
fn diverges(now: SimTime, v: View, settle: SimTime, key: KeyId) -> bool {
    !v.observer.written_recently(key, now, settle) && replicas_differ(v, key)
}

/// Whether the live home replicas of `key` hold different version sets.
fn replicas_differ(v: View, key: KeyId) -> bool {
    let mut live = v.ring.replicas(key).iter().filter(|n| v.hosts.is_up(**n));
    let Some(first) = live.next() else {
        return false;
    };
    let reference = v.hosts.node(*first).stored(key);
    live.any(|n| !same_writes(reference, v.hosts.node(*n).stored(key)))
}

/// Whether two version sets hold the same writes.
fn same_writes(a: &[Version], b: &[Version]) -> bool {
    a.len() == b.len() && a.iter().all(|v| b.iter().any(|w| w.write == v.write))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::FxHashSet;
    use crate::sim::Simulation;

    /// The scan `Convergence::scan` replaced: one watch set, every watched key looked at in
    /// every scan (settling or not), and the count taken in a second pass. `Convergence`
    /// runs it side by side in unit tests and compares every scan's count (`compare`).
    #[derive(Default)]
    pub(super) struct Plain {
        watch: FxHashSet<KeyId>,
        full_scan: bool,
        /// Scans compared, and how many of them counted divergent keys.
        pub(super) scans: u64,
        pub(super) divergent_scans: u64,
    }

    impl Plain {
        fn scan(&mut self, now: SimTime, v: View, settle: SimTime) -> u64 {
            let keep = |k: &KeyId| {
                v.observer.written_recently(*k, now, settle) || diverges(now, v, settle, *k)
            };
            if self.full_scan {
                self.full_scan = false;
                let keys = v.ring.key_count() as u32;
                self.watch = (0..keys).map(KeyId).filter(keep).collect();
            } else {
                let watch = std::mem::take(&mut self.watch);
                self.watch = watch.into_iter().filter(keep).collect();
            }
            (self.watch.iter())
                .filter(|k| diverges(now, v, settle, **k))
                .count() as u64
        }

        pub(super) fn compare(&mut self, now: SimTime, v: View, settle: SimTime, got: u64) {
            let want = self.scan(now, v, settle);
            assert_eq!(got, want, "scan at {now:?}");
            self.scans += 1;
            self.divergent_scans += (want > 0) as u64;
        }

        pub(super) fn watch_node_keys(&mut self, ring: &Ring, node: NodeId) {
            for slot in ring.home_slots(node) {
                self.watch.extend(ring.keys_of_slot(*slot));
            }
        }

        pub(super) fn ring_changed(&mut self) {
            self.full_scan = true;
        }

        pub(super) fn watch_delivery(&mut self, msg: &Message) {
            match msg {
                Message::ReplicaWrite { key, .. } | Message::HintHandoff { key, .. } => {
                    self.watch.insert(*key);
                }
                Message::AeData { entries, .. } | Message::TransferBatch { entries, .. } => {
                    self.watch.extend(entries.iter().map(|(k, _)| *k));
                }
                _ => {}
            }
        }
    }

    /// Runs `file` (a shipped scenario), scanning every `step_ms` besides the run's own
    /// scans: every scan's count equals the plain scan's (checked inside `scan`). Returns
    /// (scans compared, scans that counted divergent keys, scans that counted fewer keys
    /// than a full scan of the key space, scans that counted more).
    fn run_scanning(file: &str, step_ms: u64) -> (u64, u64, u64, u64) {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(file);
        let scenario = crate::scenario::load_file(&path, &[]).expect("a shipped scenario");
        let mut sim = Simulation::new(&scenario);
        let (mut fewer, mut more) = (0, 0);
        let mut t = SimTime::ZERO;
        while t < sim.end {
            t = t + SimTime(step_ms * 1_000);
            sim.run_until(t);
            let view = View {
                hosts: &sim.hosts,
                ring: &sim.ring,
                observer: &sim.observer,
            };
            let got = sim.convergence.scan(sim.now, view);
            let full = sim.convergence.divergent_keys(sim.now, view);
            fewer += (got < full) as u64;
            more += (got > full) as u64;
        }
        sim.run();
        let shadow = &sim.convergence.shadow;
        (shadow.scans, shadow.divergent_scans, fewer, more)
    }

    /// Faults of every kind (crashes, a partition, a lost disk, joins and leaves that
    /// change the ring, deletes): the settling list and the watch list count
    /// exactly what the plain watch set counted, at the run's own scans and at scans every
    /// 700 ms in between; and never a key a full scan of the key space would not count.
    #[test]
    fn scans_count_what_the_plain_scan_counted() {
        let mut total = (0, 0);
        for file in [
            "scenarios/node-crash.json",
            "scenarios/partition.json",
            "scenarios/disk-failure.json",
            "scenarios/dc-outage.json",
            "scenarios/churn.json",
            "scenarios/rolling-restart.json",
            "scenarios/random-crashes.json",
            "scenarios/pathologies/anti-entropy-storm.json",
            "scenarios/pathologies/deleted-data-resurrected.json",
            "scenarios/pathologies/hint-backlog-dropped.json",
            "scenarios/pathologies/stale-reads-from-fallbacks.json",
        ] {
            let (scans, divergent, fewer, more) = run_scanning(file, 700);
            // Never more than a full scan counts, and as many everywhere but at some moments
            // of the anti-entropy storm (where the plain scan, compared in `scan`, counted
            // fewer as well).
            assert_eq!(more, 0, "{file}");
            if !file.contains("anti-entropy-storm") {
                assert_eq!(fewer, 0, "{file}");
            }
            total.0 += scans;
            total.1 += divergent;
        }
        assert!(total.0 > 500, "{total:?}");
        assert!(total.1 > 50, "{total:?}");
    }
}
