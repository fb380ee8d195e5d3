//! What the oracle keeps of failure detection: each node's suspicions of its peers, as
//! the nodes report them, judged against the ground truth the simulator holds at that
//! moment (was the peer's process running, did a partition cut the two apart). A
//! suspicion of a peer that was up and reachable is false; a false suspicion that ends
//! with the peer trusted again is a flap (the view went down and up while nothing
//! happened). For a peer that really went down, the time from its going down to the first
//! node suspecting it is the detection time.

use crate::engine::SimTime;
use crate::ids::NodeId;
use serde::Serialize;
use std::collections::BTreeMap;

/// The ground truth about a suspected peer when it was suspected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PeerTruth {
    /// Its process was running.
    pub up: bool,
    /// No partition separated it from the suspecting node.
    pub reachable: bool,
    /// It is leaving the cluster (a leave naming it is under way): once its part of the
    /// move is done it accepts no data, so a coordinator on the old ring may rightly
    /// stop counting on it.
    pub leaving: bool,
    /// Raised by phi accrual's heartbeat verdict, not by an operation's timeout.
    pub by_heartbeats: bool,
}

#[derive(Default, Debug)]
pub struct DetectionRecord {
    /// Open suspicions (by, peer) -> whether it was false when raised.
    open: BTreeMap<(NodeId, NodeId), bool>,
    /// Per node: since when it has been down, until some node suspected it.
    undetected_down: BTreeMap<NodeId, SimTime>,
    suspicions: u64,
    false_suspicions: u64,
    false_by_heartbeats: u64,
    flaps: u64,
    detections: u64,
    detection_us_sum: u64,
    detection_us_max: u64,
}

/// The report's `failure_detection` section.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct DetectionSummary {
    /// The scenario's `failure_detector.kind`.
    pub kind: String,
    /// Times a node began to suspect a peer.
    pub suspicions: u64,
    /// Suspicions of a peer whose process was up, that no partition cut off and that no
    /// leave under way names.
    pub false_suspicions: u64,
    /// Under phi accrual: the false suspicions its heartbeat verdicts raised (the rest
    /// came from timeouts of operations sent to peers outside the neighbours).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub false_suspicions_by_heartbeats: Option<u64>,
    /// False suspicions that ended with the peer trusted again.
    pub flaps: u64,
    /// Nodes that went down and were suspected by some node while still down.
    pub downs_detected: u64,
    /// Mean and longest time from a node going down to the first suspicion of it.
    pub detection_mean_s: Option<f64>,
    pub detection_max_s: Option<f64>,
}

impl DetectionRecord {
    pub fn suspected(&mut self, now: SimTime, by: NodeId, peer: NodeId, truth: PeerTruth) {
        let false_suspicion = truth.up && truth.reachable && !truth.leaving;
        self.suspicions += 1;
        self.false_suspicions += u64::from(false_suspicion);
        self.false_by_heartbeats += u64::from(false_suspicion && truth.by_heartbeats);
        self.open.insert((by, peer), false_suspicion);
        if !truth.up
            && let Some(since) = self.undetected_down.remove(&peer)
        {
            let took = now.saturating_sub(since).as_micros();
            self.detections += 1;
            self.detection_us_sum += took;
            self.detection_us_max = self.detection_us_max.max(took);
        }
    }

    pub fn trusted(&mut self, by: NodeId, peer: NodeId) {
        if self.open.remove(&(by, peer)) == Some(true) {
            self.flaps += 1;
        }
    }

    /// `node`'s process stopped: what it suspected is forgotten, and its own downtime
    /// starts counting toward detection.
    pub fn went_down(&mut self, now: SimTime, node: NodeId) {
        let mine: Vec<_> = (self
            .open
            .range((node, NodeId(0))..=(node, NodeId(u32::MAX))))
        .map(|(k, _)| *k)
        .collect();
        for k in mine {
            self.open.remove(&k);
        }
        self.undetected_down.insert(node, now);
    }

    pub fn came_up(&mut self, node: NodeId) {
        self.undetected_down.remove(&node);
    }

    pub fn summary(&self, kind: &str) -> DetectionSummary {
        let mean = (self.detections > 0)
            .then(|| self.detection_us_sum as f64 / self.detections as f64 / 1e6);
        DetectionSummary {
            kind: kind.to_string(),
            suspicions: self.suspicions,
            false_suspicions: self.false_suspicions,
            false_suspicions_by_heartbeats: (kind == "phi_accrual")
                .then_some(self.false_by_heartbeats),
            flaps: self.flaps,
            downs_detected: self.detections,
            detection_mean_s: mean,
            detection_max_s: (self.detections > 0).then(|| self.detection_us_max as f64 / 1e6),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const UP: PeerTruth = PeerTruth {
        up: true,
        reachable: true,
        leaving: false,
        by_heartbeats: false,
    };

    #[test]
    fn false_suspicions_flap_when_trust_comes_back_and_true_ones_time_the_detection() {
        let mut d = DetectionRecord::default();
        let (a, b, c) = (NodeId(0), NodeId(1), NodeId(2));
        d.suspected(SimTime(10), a, b, UP);
        d.trusted(a, b);
        d.suspected(SimTime(20), a, b, UP);
        d.went_down(SimTime(30), a); // a crashed: its open suspicion is gone, no flap
        d.trusted(a, b);
        d.went_down(SimTime(1_000_000), c);
        let down = PeerTruth { up: false, ..UP };
        d.suspected(SimTime(3_000_000), b, c, down);
        d.suspected(SimTime(4_000_000), a, c, down);
        d.trusted(b, c); // c came back: a true suspicion ended, no flap
        let cut = PeerTruth {
            reachable: false,
            ..UP
        };
        d.suspected(SimTime(5_000_000), a, b, cut);
        let leaving = PeerTruth {
            leaving: true,
            ..UP
        };
        d.suspected(SimTime(6_000_000), c, b, leaving);
        let s = d.summary("timeout");
        assert_eq!(
            (s.suspicions, s.false_suspicions, s.flaps),
            (6, 2, 1),
            "{s:?}"
        );
        assert_eq!(s.downs_detected, 1);
        assert_eq!(s.detection_mean_s, Some(2.0));
    }
}
