//! The hint store (Dynamo §4.6): replicas a node holds on behalf of an unreachable home
//! replica, kept apart from its own data, scanned periodically and handed to the owner
//! once it answers. Bounded: past `capacity` entries new hints are dropped and counted.
//! The node's side of handoff lives here too: the periodic scan that sends each reachable
//! owner a batch of its hints, the owner storing them, and the acknowledgement that
//! deletes them.
//!
//! Two limits operators know from Cassandra: a hint window (`replication.hint_window_s`,
//! `max_hint_window`) past which a node stores no more hints for an owner it believes
//! down, judged from what the node itself knows (the first hint it accepted for the owner
//! since it last heard from it); and a handoff throttle
//! (`replication.hint_handoff_bytes_per_s`, `hinted_handoff_throttle`) that paces the
//! bytes a node hands off, resuming each owner's handoff where the last scan stopped.

use super::fact::{Fact, ids_of, push_discards};
use super::versioning::{Version, VersionRules, Versions};
use super::{DiskOp, Effect, Message, Node, Timer};
use crate::engine::SimTime;
use crate::ids::{Endpoint, KeyId, NodeId};
use smallvec::SmallVec;
use std::collections::BTreeMap;
use std::ops::Bound;

#[derive(Default, Clone, Debug)]
pub struct HintStats {
    pub stored: u64,
    pub delivered: u64,
    pub dropped: u64,
    pub max_backlog: u64,
    /// Hinted writes refused because the owner had been down, as this node judged it,
    /// longer than the hint window.
    pub past_window: u64,
    /// Hinted writes refused because the hint would have held more siblings than
    /// `max_siblings`.
    pub too_many_siblings: u64,
}

#[derive(Default)]
pub struct HintStore {
    /// owner -> key -> versions. Ordered maps: scans hand hints off in a fixed order.
    by_owner: BTreeMap<NodeId, BTreeMap<KeyId, Versions>>,
    entries: usize,
    pub stats: HintStats,
    /// In memory (a crash forgets them): since when this node has believed each owner
    /// down, from the first hint it accepted for it since it last heard from it.
    down_since: BTreeMap<NodeId, SimTime>,
    /// In memory: a throttled handoff's pace and where each owner's handoff stands.
    pace: Pace,
}

/// A throttled handoff (`hint_handoff_bytes_per_s`): a token bucket of bytes, refilled at
/// the rate up to one second's worth, and per owner the last key handed off this pass.
#[derive(Default)]
struct Pace {
    tokens: f64,
    refilled_at: SimTime,
    cursors: BTreeMap<NodeId, Cursor>,
}

/// Where a throttled handoff to one owner stands: the pass goes on after `after`; a pass
/// that reached the owner's last hint rests until `rest_until` before it starts over
/// (hints still held then were not acknowledged, and are sent again).
#[derive(Default, Clone, Copy)]
struct Cursor {
    after: Option<KeyId>,
    rest_until: SimTime,
}

impl HintStore {
    pub fn len(&self) -> usize {
        self.entries
    }

    pub fn is_empty(&self) -> bool {
        self.entries == 0
    }

    /// Stores a hinted replica; returns false if the store is full and the hint dropped.
    pub fn add(
        &mut self,
        owner: NodeId,
        key: KeyId,
        set: &[Version],
        rules: VersionRules,
        capacity: usize,
        facts: &mut Vec<Fact>,
    ) -> bool {
        let per_owner = self.by_owner.entry(owner).or_default();
        if !per_owner.contains_key(&key) && self.entries >= capacity {
            self.stats.dropped += 1;
            if per_owner.is_empty() {
                self.by_owner.remove(&owner);
            }
            return false;
        }
        let held = per_owner.entry(key).or_insert_with(|| {
            self.entries += 1;
            Versions::new()
        });
        let before = ids_of(held);
        rules.merge(held, set);
        push_discards(facts, key, &before, set, held, true);
        // A new key is admitted only below capacity, so the store never outgrows its bound.
        assert!(self.entries <= capacity, "hint store above its bound");
        self.stats.stored += 1;
        self.stats.max_backlog = self.stats.max_backlog.max(self.entries as u64);
        true
    }

    /// Whether the hint of `key` for `owner` would hold more than `max` versions with
    /// `set` merged in (merged into a copy only when the two together could pass it).
    pub fn would_exceed(
        &self,
        owner: NodeId,
        key: KeyId,
        set: &[Version],
        rules: VersionRules,
        max: usize,
    ) -> bool {
        let held = self.by_owner.get(&owner).and_then(|m| m.get(&key));
        let held_len = held.map_or(0, |h| h.len());
        if held_len + set.len() <= max {
            return false;
        }
        let mut merged = held.cloned().unwrap_or_default();
        rules.merge(&mut merged, set);
        merged.len() > max
    }

    /// Versions of `key` held for any owner (a fallback answers reads from them too).
    pub fn versions_of(&self, key: KeyId) -> impl Iterator<Item = &Version> {
        self.sets_of(key).flatten()
    }

    /// The sets of versions of `key` held for each owner, in owner order.
    pub fn sets_of(&self, key: KeyId) -> impl Iterator<Item = &Versions> {
        self.by_owner.values().filter_map(move |m| m.get(&key))
    }

    pub fn owners(&self) -> impl Iterator<Item = NodeId> + '_ {
        self.by_owner.keys().copied()
    }

    /// Up to `limit` hints for `owner`, in key order.
    pub fn batch(&self, owner: NodeId, limit: usize) -> impl Iterator<Item = (KeyId, &Versions)> {
        self.by_owner
            .get(&owner)
            .into_iter()
            .flatten()
            .take(limit)
            .map(|(k, v)| (*k, v))
    }

    /// The owner acknowledged `key`: drop the hint if it still holds only what was sent
    /// (`delivered`); newer hinted versions stay for the next scan.
    pub fn acknowledge(
        &mut self,
        owner: NodeId,
        key: KeyId,
        delivered: &[Version],
        rules: VersionRules,
    ) {
        let Some(per_owner) = self.by_owner.get_mut(&owner) else {
            return;
        };
        let Some(held) = per_owner.get(&key) else {
            return;
        };
        if held.iter().all(|v| rules.covers(delivered, v)) {
            per_owner.remove(&key);
            self.entries -= 1;
            self.stats.delivered += 1;
            if per_owner.is_empty() {
                self.by_owner.remove(&owner);
            }
        }
    }

    /// The keys held for `owner`, in key order.
    pub fn keys_for(&self, owner: NodeId) -> Vec<KeyId> {
        (self.by_owner.get(&owner)).map_or_else(Vec::new, |m| m.keys().copied().collect())
    }

    /// Removes and returns the hint of `key` held for `owner`.
    pub fn take(&mut self, owner: NodeId, key: KeyId) -> Option<Versions> {
        let per_owner = self.by_owner.get_mut(&owner)?;
        let taken = per_owner.remove(&key)?;
        self.entries -= 1;
        if per_owner.is_empty() {
            self.by_owner.remove(&owner);
            self.pace.cursors.remove(&owner);
            self.down_since.remove(&owner);
        }
        Some(taken)
    }

    /// The disk is gone.
    pub fn clear(&mut self) {
        self.by_owner.clear();
        self.entries = 0;
        self.forget();
    }

    /// Refills the throttle's bucket at `now`, at `rate` bytes per second up to one
    /// second's worth.
    fn refill(&mut self, now: SimTime, rate: f64) {
        let p = &mut self.pace;
        let elapsed_s = now.saturating_sub(p.refilled_at).as_micros() as f64 / 1e6;
        p.tokens = (p.tokens + rate * elapsed_s).min(rate);
        p.refilled_at = now;
        let owners = &self.by_owner;
        p.cursors.retain(|o, _| owners.contains_key(o));
    }

    /// A throttled pass over `owner`'s hints at `now`: the hints after its cursor, at
    /// most `batch`, while the bucket holds tokens (a message is sent whole and may take
    /// it below zero). A pass that reached the owner's last hint rests for `rest`.
    fn throttled_batch(
        &mut self,
        owner: NodeId,
        now: SimTime,
        batch: usize,
        rest: SimTime,
        value_bytes: u64,
    ) -> Vec<Message> {
        let cursor = self.pace.cursors.get(&owner).copied().unwrap_or_default();
        let Some(hints) = self.by_owner.get(&owner) else {
            return Vec::new();
        };
        if now < cursor.rest_until || self.pace.tokens <= 0.0 {
            return Vec::new();
        }
        let rest_of = match cursor.after {
            Some(k) => hints.range((Bound::Excluded(k), Bound::Unbounded)),
            None => hints.range(..),
        };
        let (mut msgs, mut after, mut finished) = (Vec::new(), cursor.after, true);
        for (key, versions) in rest_of {
            if msgs.len() >= batch || self.pace.tokens <= 0.0 {
                finished = false;
                break;
            }
            let msg = Message::HintHandoff {
                key: *key,
                versions: versions.clone(),
            };
            self.pace.tokens -= msg.size_bytes(value_bytes) as f64;
            msgs.push(msg);
            after = Some(*key);
        }
        let next = if finished {
            Cursor {
                after: None,
                rest_until: now + rest,
            }
        } else {
            Cursor {
                after,
                rest_until: SimTime::ZERO,
            }
        };
        self.pace.cursors.insert(owner, next);
        msgs
    }

    /// The process stopped: what it knew in memory is gone (hints stay on disk).
    pub fn forget(&mut self) {
        self.down_since.clear();
        self.pace = Pace::default();
    }

    /// A message from `node` arrived: it is up, and a later hint for it starts a new
    /// window.
    pub fn heard_from(&mut self, node: NodeId) {
        if !self.down_since.is_empty() {
            self.down_since.remove(&node);
        }
    }

    /// Whether a hint for `owner` may be stored at `now` under the hint window: the
    /// window counts from the first hint accepted for it since this node last heard from
    /// it (a hinted write is this node's news that a coordinator found the owner
    /// unreachable).
    fn within_window(&mut self, owner: NodeId, now: SimTime, window: Option<SimTime>) -> bool {
        let Some(window) = window else {
            return true;
        };
        let since = *self.down_since.entry(owner).or_insert(now);
        if now.saturating_sub(since) > window {
            self.stats.past_window += 1;
            return false;
        }
        true
    }
}

impl Node {
    /// Stores a hinted replica for `owner` unless it would hold too many siblings, the hint
    /// window has passed or the store is full; returns whether it was stored.
    pub(super) fn store_hint(
        &mut self,
        now: SimTime,
        owner: NodeId,
        key: KeyId,
        set: &[Version],
        out: &mut Vec<Effect>,
    ) -> bool {
        // The coordinator bounds the siblings of the copy it holds; a fallback bounds its
        // hint for the owner the same way (`max_siblings`), else, while the owner is
        // suspected, every concurrent put of a hot key would pile onto one hint set and
        // each read would carry them all.
        if (self.hints).would_exceed(
            owner,
            key,
            set,
            self.cfg.quorum.rules,
            self.cfg.max_siblings,
        ) {
            self.hints.stats.too_many_siblings += 1;
            return false;
        }
        // Checked second: a hint refused for its siblings does not start the owner's window.
        if !(self.hints).within_window(owner, now, self.cfg.hint_window) {
            return false;
        }
        let ok = self.hints.add(
            owner,
            key,
            set,
            self.cfg.quorum.rules,
            self.cfg.max_hints,
            &mut self.facts,
        );
        self.arm_scan(out);
        ok
    }

    pub(super) fn arm_scan(&mut self, out: &mut Vec<Effect>) {
        self.arm_scan_after(self.cfg.hint_scan_interval, out);
    }

    fn arm_scan_after(&mut self, after: SimTime, out: &mut Vec<Effect>) {
        if self.cfg.hinted_handoff && !self.scan_armed && !self.hints.is_empty() {
            self.scan_armed = true;
            out.push(Effect::SetTimer {
                after,
                timer: Timer::HintScan,
            });
        }
    }

    /// The scan timer fired: hand hints off, re-arm while any are left (sooner when the
    /// throttle held hints back).
    pub(super) fn on_hint_scan_timer(&mut self, now: SimTime, out: &mut Vec<Effect>) {
        self.scan_armed = false;
        self.readdress_departed(out);
        let next = match self.cfg.handoff_bytes_per_s {
            Some(rate) => self.hand_off_throttled(now, rate, out),
            None => {
                self.hand_off_hints(out);
                None
            }
        };
        self.arm_scan_after(next.unwrap_or(self.cfg.hint_scan_interval), out);
    }

    /// Hints held for owners that are no longer in this node's ring (they left, and will
    /// not come back for them) are addressed to the key's home replicas by this ring
    /// instead: to its own storage when it is one, as hints for the others, which hand
    /// off as any hint does (a home that already holds the data just acknowledges). A
    /// hint is moved only when the store has room for all its new entries.
    /// Without this, a write whose coordinator still routed to the leaver reached none of
    /// the new owners until anti-entropy found it.
    fn readdress_departed(&mut self, out: &mut Vec<Effect>) {
        let departed: SmallVec<[NodeId; 4]> = (self.hints.owners())
            .filter(|o| !self.ring.is_member(*o))
            .collect();
        for owner in departed {
            for key in self.hints.keys_for(owner) {
                let homes: SmallVec<[NodeId; 8]> = self.ring.replicas(key).into();
                let others = homes.iter().filter(|h| **h != self.id).count();
                // A hint is never dropped to make room: one the store cannot re-address
                // whole stays with the departed owner (held, as before, for the audit).
                if self.hints.len() - 1 + others > self.cfg.max_hints {
                    continue;
                }
                let Some(versions) = self.hints.take(owner, key) else {
                    continue;
                };
                for home in homes {
                    if home == self.id {
                        self.store_merge(key, &versions, out);
                    } else {
                        let stored = self.hints.add(
                            home,
                            key,
                            &versions,
                            self.cfg.quorum.rules,
                            self.cfg.max_hints,
                            &mut self.facts,
                        );
                        assert!(stored, "a re-addressed hint fits: room was checked");
                    }
                }
            }
        }
    }

    /// The owners a scan hands hints to: those this node does not suspect.
    fn handoff_owners(&self) -> SmallVec<[NodeId; 8]> {
        (self.hints.owners())
            .filter(|o| !self.detector.is_suspected(*o))
            .collect()
    }

    /// Sends each reachable owner a batch of the hints held for it; they are deleted when
    /// the owner acknowledges.
    fn hand_off_hints(&mut self, out: &mut Vec<Effect>) {
        for owner in self.handoff_owners() {
            for (key, versions) in self.hints.batch(owner, self.cfg.handoff_batch) {
                out.push(Effect::Send {
                    to: Endpoint::Node(owner),
                    msg: Message::HintHandoff {
                        key,
                        versions: versions.clone(),
                    },
                    disk: DiskOp::Read,
                });
            }
        }
    }

    /// Hands hints off under the throttle: each reachable owner's pass goes on where the
    /// last scan stopped while the bucket holds bytes. Returns when to scan again when the
    /// throttle held hints back (when the bucket is above zero again).
    fn hand_off_throttled(
        &mut self,
        now: SimTime,
        rate: f64,
        out: &mut Vec<Effect>,
    ) -> Option<SimTime> {
        self.hints.refill(now, rate);
        let (batch, rest) = (self.cfg.handoff_batch, self.cfg.hint_scan_interval);
        for owner in self.handoff_owners() {
            let msgs = (self.hints).throttled_batch(owner, now, batch, rest, self.cfg.value_bytes);
            for msg in msgs {
                out.push(Effect::Send {
                    to: Endpoint::Node(owner),
                    msg,
                    disk: DiskOp::Read,
                });
            }
        }
        let deficit = -self.hints.pace.tokens;
        (deficit >= 0.0).then(|| {
            let wait = SimTime::from_secs_f64((deficit + 1.0) / rate);
            wait.max(SimTime(1_000)).min(rest)
        })
    }

    /// This node is the owner: store the handed-off versions and acknowledge them.
    pub(super) fn on_hint_handoff(
        &mut self,
        from: Endpoint,
        key: KeyId,
        versions: Versions,
        out: &mut Vec<Effect>,
    ) {
        if self.membership.left {
            return; // it would leave with this node: the holder keeps its hint
        }
        self.store_merge(key, &versions, out);
        out.push(Effect::Send {
            to: from,
            msg: Message::HintAck { key, versions },
            disk: DiskOp::Write,
        });
    }

    /// The owner stored what was handed off: drop the hint unless it has grown since.
    pub(super) fn on_hint_ack(&mut self, from: Endpoint, key: KeyId, versions: Versions) {
        if let Endpoint::Node(owner) = from {
            self.hints
                .acknowledge(owner, key, &versions, self.cfg.quorum.rules);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::WriteId;
    use crate::node::versioning::{Causal, VClock};

    fn v(w: u64) -> Version {
        Version {
            write: WriteId(w),
            causal: Causal::from_clock(VClock::default().increment(NodeId(9), w as i64, 10)),
            stamp_us: w as i64,
            tombstone: false,
        }
    }

    #[test]
    fn hints_are_bounded_and_deleted_once_acknowledged() {
        let rules = VersionRules::VectorClock;
        let mut h = HintStore::default();
        assert!(h.add(NodeId(1), KeyId(1), &[v(1)], rules, 2, &mut Vec::new()));
        assert!(h.add(NodeId(1), KeyId(2), &[v(2)], rules, 2, &mut Vec::new()));
        assert!(
            !h.add(NodeId(2), KeyId(3), &[v(3)], rules, 2, &mut Vec::new()),
            "full"
        );
        assert_eq!(h.stats.dropped, 1);
        assert_eq!(h.versions_of(KeyId(2)).count(), 1);
        h.acknowledge(NodeId(1), KeyId(1), &[v(1)], rules);
        assert_eq!(h.len(), 1);
        // An ack for an older version leaves a newer hint in place.
        h.add(NodeId(1), KeyId(2), &[v(5)], rules, 2, &mut Vec::new());
        h.acknowledge(NodeId(1), KeyId(2), &[v(2)], rules);
        assert_eq!(h.len(), 1);
        assert_eq!(h.stats.delivered, 1);
        assert_eq!(h.stats.max_backlog, 2);
    }

    #[test]
    fn taking_a_hint_frees_its_entry_and_forgets_an_owner_left_without_hints() {
        let rules = VersionRules::VectorClock;
        let mut h = HintStore::default();
        h.add(NodeId(1), KeyId(1), &[v(1)], rules, 3, &mut Vec::new());
        h.add(NodeId(1), KeyId(4), &[v(4)], rules, 3, &mut Vec::new());
        h.add(NodeId(2), KeyId(1), &[v(2)], rules, 3, &mut Vec::new());
        assert_eq!(h.keys_for(NodeId(1)), vec![KeyId(1), KeyId(4)]);
        assert_eq!(h.take(NodeId(1), KeyId(4)).map(|s| s.len()), Some(1));
        assert_eq!(h.take(NodeId(1), KeyId(4)), None, "taken once");
        assert_eq!(h.len(), 2);
        h.take(NodeId(1), KeyId(1));
        assert_eq!(h.owners().collect::<Vec<_>>(), vec![NodeId(2)]);
        // The freed entries are room again: the bound counts what is held.
        assert!(h.add(NodeId(3), KeyId(7), &[v(7)], rules, 3, &mut Vec::new()));
        assert!(h.add(NodeId(3), KeyId(8), &[v(8)], rules, 3, &mut Vec::new()));
        assert!(!h.add(NodeId(3), KeyId(9), &[v(9)], rules, 3, &mut Vec::new()));
    }

    fn secs(s: f64) -> SimTime {
        SimTime::from_secs_f64(s)
    }

    #[test]
    fn the_window_counts_from_the_first_hint_since_the_owner_was_last_heard_from() {
        let mut h = HintStore::default();
        let window = Some(secs(10.0));
        assert!(h.within_window(NodeId(1), secs(5.0), window));
        assert!(
            h.within_window(NodeId(1), secs(15.0), window),
            "10 s: not longer"
        );
        assert!(!h.within_window(NodeId(1), secs(15.5), window));
        assert!(h.within_window(NodeId(2), secs(15.5), window), "per owner");
        assert_eq!(h.stats.past_window, 1);
        // A message from the owner: it is up; its next hint starts a new window.
        h.heard_from(NodeId(1));
        assert!(h.within_window(NodeId(1), secs(30.0), window));
        assert!(!h.within_window(NodeId(1), secs(40.5), window));
        // A restart forgets what the node believed.
        h.forget();
        assert!(h.within_window(NodeId(1), secs(41.0), window));
        assert!(h.within_window(NodeId(9), secs(1e6), None), "no window");
    }

    #[test]
    fn a_throttled_handoff_paces_bytes_and_resumes_where_it_stopped() {
        let rules = VersionRules::VectorClock;
        let mut h = HintStore::default();
        for k in 0..10 {
            h.add(
                NodeId(1),
                KeyId(k),
                &[v(k as u64)],
                rules,
                100,
                &mut Vec::new(),
            );
        }
        let size = Message::HintHandoff {
            key: KeyId(0),
            versions: [v(0)].into_iter().collect(),
        }
        .size_bytes(100) as f64;
        // 2.5 messages a second; the bucket holds at most one second's worth.
        let rate = 2.5 * size;
        let keys = |msgs: Vec<Message>| -> Vec<u32> {
            (msgs.iter())
                .filter_map(|m| match m {
                    Message::HintHandoff { key, .. } => Some(key.0),
                    _ => None,
                })
                .collect()
        };
        let rest = secs(10.0);
        h.refill(secs(100.0), rate);
        assert_eq!(
            keys(h.throttled_batch(NodeId(1), secs(100.0), 100, rest, 100)),
            [0, 1, 2]
        );
        assert!(h.pace.tokens < 0.0);
        // Nothing until the bucket is above zero again; then on from key 3.
        h.refill(secs(100.1), rate);
        assert!(keys(h.throttled_batch(NodeId(1), secs(100.1), 100, rest, 100)).is_empty());
        h.refill(secs(101.0), rate);
        assert_eq!(
            keys(h.throttled_batch(NodeId(1), secs(101.0), 100, rest, 100)),
            [3, 4]
        );
        // The batch bound holds too.
        h.refill(secs(200.0), rate);
        assert_eq!(
            keys(h.throttled_batch(NodeId(1), secs(200.0), 1, rest, 100)),
            [5]
        );
        h.refill(secs(300.0), rate);
        assert_eq!(
            keys(h.throttled_batch(NodeId(1), secs(300.0), 100, rest, 100)),
            [6, 7, 8]
        );
        h.refill(secs(400.0), rate);
        assert_eq!(
            keys(h.throttled_batch(NodeId(1), secs(400.0), 100, rest, 100)),
            [9]
        );
        // The pass reached the last hint: it rests, then starts over with what is unacked.
        h.refill(secs(405.0), rate);
        assert!(keys(h.throttled_batch(NodeId(1), secs(405.0), 100, rest, 100)).is_empty());
        h.acknowledge(NodeId(1), KeyId(0), &[v(0)], rules);
        h.refill(secs(411.0), rate);
        assert_eq!(
            keys(h.throttled_batch(NodeId(1), secs(411.0), 100, rest, 100)),
            [1, 2, 3]
        );
    }
}
