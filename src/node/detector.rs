//! Local failure detection (Dynamo §4.8): a peer that does not answer is suspected, routed
//! around, and probed until it answers again. Purely local: a node's view comes only from
//! the messages it did or did not receive. With `failure_detector.kind: "phi_accrual"`
//! the node's neighbours are judged by phi accrual instead (see `phi.rs`); a peer outside
//! them (met only by forwarding or by coordinating away from home) still by timeouts.

use super::phi::{PhiConfig, PhiMonitor, Verdict};
use super::{DiskOp, Effect, Fact, Message, Node, Timer};
use crate::engine::SimTime;
use crate::ids::{Endpoint, NodeId};
use crate::ring::Ring;
use std::collections::BTreeMap;

/// Suspected peers and when each was last suspected. A BTreeMap so that probing walks
/// peers in a fixed order.
#[derive(Default, Clone, Debug)]
pub struct FailureDetector {
    suspects: BTreeMap<NodeId, SimTime>,
    /// Phi accrual over the neighbours, when it is the detector (boxed: cold).
    phi: Option<Box<PhiMonitor>>,
}

impl FailureDetector {
    /// The detector of `me` on `ring`: by timeouts, or by phi accrual over its neighbours.
    pub fn new(me: NodeId, ring: &Ring, epoch: u32, phi: Option<PhiConfig>) -> FailureDetector {
        let phi = phi.map(|cfg| {
            let mut m = PhiMonitor::new(cfg, epoch);
            m.watch_neighbours(me, ring, SimTime::ZERO);
            Box::new(m)
        });
        FailureDetector {
            suspects: BTreeMap::new(),
            phi,
        }
    }

    pub fn is_suspected(&self, node: NodeId) -> bool {
        !self.suspects.is_empty() && self.suspects.contains_key(&node)
    }

    /// Whether phi accrual, not timeouts, judges `node`.
    fn judged_by_phi(&self, node: NodeId) -> bool {
        self.phi.as_ref().is_some_and(|m| m.watches(node))
    }

    /// Marks `node` unreachable after an unanswered request; returns true if it was not
    /// suspected before. A neighbour under phi accrual is left to its heartbeats.
    pub fn suspect(&mut self, node: NodeId, now: SimTime) -> bool {
        if self.judged_by_phi(node) {
            return false;
        }
        self.suspects.insert(node, now).is_none()
    }

    /// Any message from `node` proves it alive (under phi accrual, only its heartbeats
    /// clear a neighbour); returns true if it was suspected.
    pub fn heard_from(&mut self, node: NodeId) -> bool {
        !self.suspects.is_empty()
            && self.suspects.contains_key(&node)
            && !self.judged_by_phi(node)
            && self.suspects.remove(&node).is_some()
    }

    /// Bytes phi accrual's histories hold (for the memory estimate).
    pub fn approx_bytes(&self) -> usize {
        self.phi.as_ref().map_or(0, |m| m.approx_bytes())
    }

    pub fn suspects(&self) -> impl Iterator<Item = NodeId> + '_ {
        self.suspects.keys().copied()
    }

    pub fn len(&self) -> usize {
        self.suspects.len()
    }

    pub fn is_empty(&self) -> bool {
        self.suspects.is_empty()
    }

    /// Forgets suspicions older than `max_age` (clients retry a node after a while).
    pub fn expire(&mut self, now: SimTime, max_age: SimTime) {
        if !self.suspects.is_empty() {
            self.suspects
                .retain(|_, since| now.saturating_sub(*since) < max_age);
        }
    }

    /// The process stopped: what it believed is forgotten (phi's histories restart
    /// with the process, see `restart_phi`).
    pub fn clear(&mut self) {
        self.suspects.clear();
    }
}

/// A replica to contact and, when it stands in for a home replica, the home it holds a
/// hint for.
pub type Target = (NodeId, Option<NodeId>);

/// Chooses the nodes to contact for a key from its preference list (home replicas first,
/// then fallbacks). Sloppy quorum: the first `n` reachable nodes, each fallback carrying a
/// hint naming the unreachable home replica it replaces. Strict quorum: only reachable
/// home replicas.
pub fn select_targets(
    preference: &[NodeId],
    n: usize,
    sloppy: bool,
    is_reachable: impl Fn(NodeId) -> bool,
    out: &mut smallvec::SmallVec<[Target; 4]>,
) {
    out.clear();
    let n = n.min(preference.len());
    let (homes, fallbacks) = preference.split_at(n);
    let mut spare = fallbacks.iter().copied().filter(|f| is_reachable(*f));
    for home in homes {
        if is_reachable(*home) {
            out.push((*home, None));
        } else if sloppy && let Some(f) = spare.next() {
            out.push((f, Some(*home)));
        }
    }
}

impl Node {
    /// The probe timer fired: ping every suspect; re-arm while any remain.
    pub(super) fn on_probe_timer(&mut self, out: &mut Vec<Effect>) {
        self.probe_armed = false;
        for peer in self.detector.suspects() {
            out.push(Effect::Send {
                to: Endpoint::Node(peer),
                msg: Message::Ping,
                disk: DiskOp::None,
            });
        }
        self.arm_probe(out);
    }

    /// The heartbeat timer fired (phi accrual): ask every neighbour for a heartbeat,
    /// suspect those whose φ passed the threshold, and re-arm. Neighbours are taken anew
    /// from the ring when this node's view of it changed.
    pub(super) fn on_heartbeat_timer(&mut self, now: SimTime, out: &mut Vec<Effect>) {
        let epoch = self.membership.epoch;
        let Some(phi) = self.detector.phi.as_deref_mut() else {
            return;
        };
        if phi.epoch() != epoch {
            phi.watch_neighbours(self.id, &self.ring, now);
            phi.set_epoch(epoch);
        }
        for peer in phi.neighbours() {
            out.push(Effect::Send {
                to: Endpoint::Node(peer),
                msg: Message::Heartbeat,
                disk: DiskOp::None,
            });
        }
        let mut verdicts = Vec::new();
        phi.check(now, &mut verdicts);
        let after = phi.interval();
        for v in verdicts {
            if let Verdict::Suspected(peer) = v {
                self.detector.suspects.insert(peer, now);
                self.facts.push(Fact::Suspected { peer });
            }
        }
        out.push(Effect::SetTimer {
            after,
            timer: Timer::Heartbeat,
        });
    }

    /// A neighbour answered a heartbeat: its gap goes into φ's history, and a suspicion
    /// of it ends.
    pub(super) fn on_heartbeat_ack(&mut self, now: SimTime, from: Endpoint) {
        let (Endpoint::Node(peer), Some(phi)) = (from, self.detector.phi.as_deref_mut()) else {
            return;
        };
        if let Some(Verdict::Trusted(peer)) = phi.heartbeat(peer, now) {
            self.detector.suspects.remove(&peer);
            self.facts.push(Fact::Trusted { peer });
        }
    }

    /// Phi accrual starts over with the process: arm the first heartbeat, each node at
    /// its own phase of the interval so that a cluster's heartbeats do not all leave at
    /// once.
    pub(super) fn restart_phi(&mut self, now: SimTime, out: &mut Vec<Effect>) {
        let Some(phi) = self.detector.phi.as_deref_mut() else {
            return;
        };
        phi.restart(now);
        let interval = phi.interval().as_micros();
        let phase = interval / 16 * (1 + u64::from(self.id.0) % 16);
        out.push(Effect::SetTimer {
            after: SimTime(phase),
            timer: Timer::Heartbeat,
        });
    }

    pub(super) fn on_ping_heartbeat(&self, from: Endpoint, out: &mut Vec<Effect>) {
        out.push(Effect::Send {
            to: from,
            msg: Message::HeartbeatAck,
            disk: DiskOp::None,
        });
    }

    pub(super) fn on_ping(&self, from: Endpoint, out: &mut Vec<Effect>) {
        out.push(Effect::Send {
            to: from,
            msg: Message::Pong,
            disk: DiskOp::None,
        });
    }

    /// Peers that let an operation time out become suspects, probed until they answer.
    pub(super) fn absorb_unanswered(&mut self, now: SimTime, out: &mut Vec<Effect>) {
        if self.coordinator.unanswered.is_empty() {
            return;
        }
        for peer in std::mem::take(&mut self.coordinator.unanswered) {
            if peer != self.id && self.detector.suspect(peer, now) {
                self.facts.push(Fact::Suspected { peer });
            }
        }
        self.arm_probe(out);
    }

    fn arm_probe(&mut self, out: &mut Vec<Effect>) {
        if !self.probe_armed && !self.detector.is_empty() {
            self.probe_armed = true;
            out.push(Effect::SetTimer {
                after: self.cfg.probe_interval,
                timer: Timer::Probe,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use smallvec::SmallVec;

    #[test]
    fn sloppy_quorum_replaces_unreachable_homes_with_hinted_fallbacks() {
        let pref: Vec<NodeId> = (0..6).map(NodeId).collect();
        let down = [NodeId(1), NodeId(3)];
        let mut out = SmallVec::new();
        select_targets(&pref, 3, true, |n| !down.contains(&n), &mut out);
        assert_eq!(
            out.as_slice(),
            &[
                (NodeId(0), None),
                (NodeId(4), Some(NodeId(1))),
                (NodeId(2), None)
            ]
        );
        select_targets(&pref, 3, false, |n| !down.contains(&n), &mut out);
        assert_eq!(out.as_slice(), &[(NodeId(0), None), (NodeId(2), None)]);
    }

    #[test]
    fn suspicion_lasts_until_heard_from_or_expired() {
        let mut d = FailureDetector::default();
        assert!(d.suspect(NodeId(2), SimTime(10)));
        assert!(!d.suspect(NodeId(2), SimTime(20)));
        assert!(d.is_suspected(NodeId(2)));
        assert!(d.heard_from(NodeId(2)));
        assert!(!d.is_suspected(NodeId(2)));
        d.suspect(NodeId(3), SimTime(0));
        d.expire(SimTime(100), SimTime(50));
        assert!(d.is_empty());
    }
}
