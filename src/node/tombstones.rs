//! Tombstone collection (`replication.tombstone_gc_grace_s`, as Cassandra's
//! `gc_grace_seconds`): a replica keeps a delete's tombstone for the grace period and then
//! forgets the key. A replica that missed the delete and is repaired after that brings
//! the deleted value back: the resurrection the grace period exists to prevent.
//!
//! Every tombstone stored arms one timer of the same length, so timers fire in the order
//! tombstones were queued and each firing takes the queue's front: no clock is kept, and
//! a run without deletes arms nothing.

use super::fact::{Fact, ids_of};
use super::{Effect, Node, Timer, Version};
use crate::ids::{KeyId, WriteId};
use std::collections::VecDeque;

/// Tombstones stored, oldest first; exactly one collection timer is armed per entry in
/// the node's current life.
#[derive(Default, Debug)]
pub struct TombstoneQueue {
    queue: VecDeque<(KeyId, WriteId)>,
}

impl TombstoneQueue {
    pub fn clear(&mut self) {
        self.queue.clear();
    }
}

impl Node {
    /// `incoming` was just merged into `key`: queue each tombstone of it the key now holds.
    pub(super) fn note_tombstones(
        &mut self,
        key: KeyId,
        incoming: &[Version],
        out: &mut Vec<Effect>,
    ) {
        let Some(grace) = self.cfg.tombstone_gc_grace else {
            return;
        };
        for v in incoming.iter().filter(|v| v.tombstone) {
            if self.storage.get(key).iter().any(|h| h.write == v.write) {
                self.tombstones.queue.push_back((key, v.write));
                out.push(Effect::SetTimer {
                    after: grace,
                    timer: Timer::TombstoneGc,
                });
            }
        }
    }

    /// The oldest queued tombstone's grace is over: the key is forgotten if what it holds
    /// is still only tombstones, that one among them (a later put or a newer tombstone
    /// keeps it).
    pub(super) fn collect_oldest_tombstone(&mut self) {
        let front = self.tombstones.queue.pop_front();
        // One timer per entry, re-armed per entry on restart: a timer always has one.
        assert!(
            front.is_some(),
            "a tombstone timer without a queued tombstone"
        );
        let Some((key, write)) = front else { return };
        let held = self.storage.get(key);
        let only_tombstones = held.iter().all(|v| v.tombstone);
        if !held.is_empty() && only_tombstones && held.iter().any(|v| v.write == write) {
            let writes = ids_of(held);
            self.storage.restore(key, &[], &self.cfg, &self.ring);
            self.facts.push(Fact::Collected { key, writes });
        }
    }

    /// A new life: the timers of the old one died, so each queued tombstone gets a full
    /// grace period again (a restarted node collects later, never earlier).
    pub(super) fn rearm_tombstones(&mut self, out: &mut Vec<Effect>) {
        let Some(grace) = self.cfg.tombstone_gc_grace else {
            return;
        };
        for _ in 0..self.tombstones.queue.len() {
            out.push(Effect::SetTimer {
                after: grace,
                timer: Timer::TombstoneGc,
            });
        }
    }
}
