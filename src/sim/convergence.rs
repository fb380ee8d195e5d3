//! Whether replicas agree: divergent keys (live home replicas holding different version
//! sets, compared by write id) counted incrementally over a watch list, and when the
//! cluster converged after the last fault. It reads hosts and the observer's record of
//! recent writes; it changes nothing.

use super::event::CONVERGENCE_CHECK;
use super::host::Hosts;
use crate::engine::SimTime;
use crate::ids::{FxHashSet, KeyId, NodeId};
use crate::node::{Message, Version};
use crate::observer::Observer;
use crate::ring::Ring;

pub struct Convergence {
    /// Keys that may diverge (see `scan`); a set only counted, never iterated into an
    /// outcome that depends on order.
    watch: FxHashSet<KeyId>,
    /// The replica sets themselves changed (the ring did): rescan every key once.
    full_scan: bool,
    /// How long after a write started its replicas may differ without counting as divergent.
    settle: SimTime,
    /// When the last fault's effects end, if any fault has an end.
    last_fault_end: Option<SimTime>,
    converged_at: Option<SimTime>,
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
            watch: Default::default(),
            full_scan: false,
            settle,
            last_fault_end,
            converged_at: None,
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
            .filter(|k| self.diverges(now, v, KeyId(*k)))
            .count() as u64
    }

    fn diverges(&self, now: SimTime, v: View, key: KeyId) -> bool {
        if v.observer.written_recently(key, now, self.settle) {
            return false;
        }
        let mut live = v.ring.replicas(key).iter().filter(|n| v.hosts.is_up(**n));
        let Some(first) = live.next() else {
            return false;
        };
        let reference = v.hosts.node(*first).stored(key);
        live.any(|n| !same_writes(reference, v.hosts.node(*n).stored(key)))
    }

    /// `divergent_keys`, incrementally: only keys whose replicas received data since they
    /// were last seen converged are looked at, unless something changed the replica sets
    /// themselves (the ring changed), which forces a full scan. Keys still settling or
    /// diverging stay on the watch list.
    pub fn scan(&mut self, now: SimTime, v: View) -> u64 {
        if self.full_scan {
            self.full_scan = false;
            let keys = v.ring.key_count() as u32;
            self.watch = (0..keys)
                .map(KeyId)
                .filter(|k| self.watch_key(now, v, *k))
                .collect();
        } else {
            let watch = std::mem::take(&mut self.watch);
            self.watch = watch
                .into_iter()
                .filter(|k| self.watch_key(now, v, *k))
                .collect();
        }
        self.watch
            .iter()
            .filter(|k| self.diverges(now, v, **k))
            .count() as u64
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

    /// Whether a key must stay watched: it diverges, or a write to it is still settling.
    fn watch_key(&self, now: SimTime, v: View, key: KeyId) -> bool {
        v.observer.written_recently(key, now, self.settle) || self.diverges(now, v, key)
    }

    /// A node went down or came back: the live replica sets of its keys changed.
    pub fn watch_node_keys(&mut self, ring: &Ring, node: NodeId) {
        for slot in ring.home_slots(node) {
            self.watch.extend(ring.keys_of_slot(*slot));
        }
    }

    /// The ring changed: every key's replica set may have.
    pub fn ring_changed(&mut self) {
        self.full_scan = true;
    }

    /// Data arriving at a replica may make its key diverge (or converge): watch it.
    pub fn watch_delivery(&mut self, msg: &Message) {
        match msg {
            Message::ReplicaWrite { key, .. } | Message::HintHandoff { key, .. } => {
                self.watch.insert(*key);
            }
            Message::AeData { entries, .. } | Message::TransferBatch { entries, .. } => {
                self.watch.extend(entries.iter().map(|(k, _)| *k));
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

/// Whether two version sets hold the same writes.
fn same_writes(a: &[Version], b: &[Version]) -> bool {
    a.len() == b.len() && a.iter().all(|v| b.iter().any(|w| w.write == v.write))
}
