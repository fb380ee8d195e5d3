//! Tombstone collection (`replication.tombstone_gc_grace_s`, as Cassandra's
//! `gc_grace_seconds`): a tombstone is kept until its delete's own timestamp (the
//! coordinator's wall clock, carried in the version) plus the grace period, and then the
//! key is forgotten. Every replica therefore collects a delete at about the same moment,
//! however late the tombstone reached it; one that arrives after its deadline (a repair
//! from a replica that still had it) is collected at once. A replica that missed the
//! delete and is repaired after that brings the deleted value back: the resurrection the
//! grace period exists to prevent.
//!
//! Stored tombstones wait in deadline order. The handler that stored one arms its timer
//! once it knows the time (`arm_new_tombstones`, after each message); a timer collects
//! every tombstone due by the node's wall clock, and the last timer of a life re-arms for
//! the earliest left (a clock skew that changed meanwhile can make a timer early).

use super::fact::{Fact, ids_of};
use super::{Effect, Node, Timer, Version};
use crate::engine::time::SimTime;
use crate::ids::{KeyId, WriteId};
use std::collections::BTreeSet;

/// Stored tombstones by collection deadline (wall-clock µs), and the timers armed for them
/// in the node's current life.
#[derive(Default, Debug)]
pub struct TombstoneQueue {
    due: BTreeSet<(i64, KeyId, WriteId)>,
    /// Deadlines queued whose timer is not armed yet.
    unarmed: Vec<i64>,
    armed: u32,
}

impl TombstoneQueue {
    pub fn clear(&mut self) {
        self.due.clear();
        self.unarmed.clear();
        self.armed = 0;
    }
}

impl Node {
    /// `incoming` was just merged into `key`: queue each tombstone of it the key now holds.
    pub(super) fn note_tombstones(&mut self, key: KeyId, incoming: &[Version]) {
        let Some(grace) = self.cfg.tombstone_gc_grace else {
            return;
        };
        let grace_us = i64::try_from(grace.as_micros()).unwrap_or(i64::MAX);
        for v in incoming.iter().filter(|v| v.tombstone) {
            if self.storage.get(key).iter().any(|h| h.write == v.write) {
                let deadline = v.stamp_us.saturating_add(grace_us);
                if self.tombstones.due.insert((deadline, key, v.write)) {
                    self.tombstones.unarmed.push(deadline);
                }
            }
        }
    }

    /// Arms a collection timer for each tombstone queued since the last call.
    pub(super) fn arm_new_tombstones(&mut self, now: SimTime, out: &mut Vec<Effect>) {
        if self.tombstones.unarmed.is_empty() {
            return;
        }
        let clock = self.wall_clock_us(now);
        for deadline in std::mem::take(&mut self.tombstones.unarmed) {
            self.arm_tombstone_timer(clock, deadline, out);
        }
    }

    fn arm_tombstone_timer(&mut self, clock: i64, deadline: i64, out: &mut Vec<Effect>) {
        let wait_us = u64::try_from(deadline.saturating_sub(clock)).unwrap_or(0);
        self.tombstones.armed += 1;
        out.push(Effect::SetTimer {
            after: SimTime::from_micros(wait_us),
            timer: Timer::TombstoneGc,
        });
    }

    /// A collection timer fired: every tombstone due by now is collected, its key
    /// forgotten if what it holds is still only tombstones, that one among them (a later
    /// put or a newer tombstone keeps it).
    pub(super) fn on_tombstone_timer(&mut self, now: SimTime, out: &mut Vec<Effect>) {
        // Every timer of this life was counted when armed.
        assert!(self.tombstones.armed > 0, "a tombstone timer nobody armed");
        self.tombstones.armed -= 1;
        let clock = self.wall_clock_us(now);
        while let Some(&(deadline, key, write)) = self.tombstones.due.first()
            && deadline <= clock
        {
            self.tombstones.due.pop_first();
            let held = self.storage.get(key);
            let only_tombstones = held.iter().all(|v| v.tombstone);
            if !held.is_empty() && only_tombstones && held.iter().any(|v| v.write == write) {
                let writes = ids_of(held);
                self.storage.restore(key, &[], &self.cfg, &self.ring);
                self.facts.push(Fact::Collected { key, writes });
            }
        }
        self.rearm_if_idle(clock, out);
    }

    /// A new life: the timers of the old one died; one timer for the earliest deadline
    /// restarts collection (each firing re-arms while tombstones remain).
    pub(super) fn rearm_tombstones(&mut self, now: SimTime, out: &mut Vec<Effect>) {
        self.tombstones.armed = 0;
        self.tombstones.unarmed.clear();
        let clock = self.wall_clock_us(now);
        self.rearm_if_idle(clock, out);
    }

    fn rearm_if_idle(&mut self, clock: i64, out: &mut Vec<Effect>) {
        if self.tombstones.armed == 0
            && let Some(&(deadline, ..)) = self.tombstones.due.first()
        {
            self.arm_tombstone_timer(clock, deadline, out);
        }
    }
}
