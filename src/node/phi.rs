//! Phi accrual failure detection (Hayashibara, Défago, Yared, Katayama, 2004), as
//! Cassandra does it. A node sends a heartbeat to each of its neighbours every interval
//! and keeps, per neighbour, the recent gaps between the heartbeats it received. Its
//! suspicion of a neighbour is a level, φ = -log10 P(a gap at least this long), not a
//! yes or no; it convicts when φ passes the threshold. Like Cassandra, it takes the gaps
//! as exponentially distributed, so φ = elapsed / mean gap × log10(e): with heartbeats
//! every second and threshold 8, a silent neighbour is suspected after about 18 s, and a
//! neighbour whose heartbeats come late now and then (a slow network, a pause) raises φ
//! a little, not over the line.
//!
//! Neighbours are the nodes a node shares a preference list with (home replicas and
//! fallbacks of any range it is a home replica of): the peers it coordinates with. The
//! relation is symmetric, so whoever watches a node is sent its heartbeats. Pure
//! arithmetic on arrival times: no logarithm is taken, so runs match on every platform.

use crate::engine::SimTime;
use crate::ids::NodeId;
use crate::ring::Ring;
use std::collections::{BTreeMap, BTreeSet};

/// log10(e): φ of an exponential gap distribution is elapsed / mean × log10(e).
const LOG10_E: f64 = std::f64::consts::LOG10_E;
/// Gaps remembered per neighbour (Cassandra keeps 1,000; the mean of the last 100 moves
/// as little once the interval is steady, and costs a tenth of the memory).
pub const WINDOW: usize = 100;

/// Phi accrual settings.
#[derive(Clone, Copy, Debug)]
pub struct PhiConfig {
    /// φ above which a neighbour is suspected (Cassandra's `phi_convict_threshold`, 8).
    pub threshold: f64,
    /// How often a node sends its neighbours a heartbeat.
    pub interval: SimTime,
}

impl PhiConfig {
    /// Gaps longer than this are not remembered (a neighbour that was down must not
    /// teach the detector that long silences are normal; Cassandra's limit is twice the
    /// gossip interval).
    fn max_gap(&self) -> SimTime {
        SimTime(self.interval.as_micros().saturating_mul(2))
    }
}

/// The heartbeat gaps seen from one neighbour.
#[derive(Clone, Debug)]
struct Arrivals {
    /// The last heartbeat, or when watching began until one arrives.
    last: SimTime,
    /// A heartbeat arrived: the next gap is a real one (not from when watching began).
    heard: bool,
    /// The last `WINDOW` gaps in µs, a ring buffer; `next` is where the next one goes.
    gaps: Vec<u32>,
    next: usize,
    sum: u64,
    suspected: bool,
}

impl Arrivals {
    fn new(now: SimTime) -> Arrivals {
        Arrivals {
            last: now,
            heard: false,
            gaps: Vec::new(),
            next: 0,
            sum: 0,
            suspected: false,
        }
    }

    fn record(&mut self, now: SimTime, max_gap: SimTime) {
        let gap = now.saturating_sub(self.last);
        self.last = now;
        // The first heartbeat seeds the window with the longest gap kept, as Cassandra's
        // ArrivalWindow does with its initial value: with a few short gaps alone the mean
        // would be small, and a single late heartbeat would pass the threshold ("better
        // to err high than low", since false suspicions flap).
        let gap = if !std::mem::replace(&mut self.heard, true) {
            max_gap
        } else if gap > max_gap {
            return;
        } else {
            gap
        };
        let gap = u32::try_from(gap.as_micros()).unwrap_or(u32::MAX);
        if self.gaps.len() < WINDOW {
            self.gaps.push(gap);
        } else {
            self.sum -= u64::from(self.gaps[self.next]);
            self.gaps[self.next] = gap;
            self.next = (self.next + 1) % WINDOW;
        }
        self.sum += u64::from(gap);
    }

    /// φ at `now`; until a gap is known the mean is taken to be the heartbeat interval.
    fn phi(&self, now: SimTime, interval: SimTime) -> f64 {
        let mean_us = if self.gaps.is_empty() {
            interval.as_micros() as f64
        } else {
            self.sum as f64 / self.gaps.len() as f64
        };
        let elapsed = now.saturating_sub(self.last).as_micros() as f64;
        elapsed / mean_us.max(1.0) * LOG10_E
    }
}

/// A node's phi accrual state: its neighbours and what their heartbeats told it.
#[derive(Clone, Debug)]
pub struct PhiMonitor {
    cfg: PhiConfig,
    /// The ring epoch the neighbours were taken from.
    epoch: u32,
    /// A BTreeMap: heartbeats go out and verdicts are taken in a fixed order.
    peers: BTreeMap<NodeId, Arrivals>,
}

/// A change in what the monitor believes about a neighbour.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    Suspected(NodeId),
    Trusted(NodeId),
}

impl PhiMonitor {
    pub fn new(cfg: PhiConfig, epoch: u32) -> PhiMonitor {
        PhiMonitor {
            cfg,
            epoch,
            peers: BTreeMap::new(),
        }
    }

    pub fn epoch(&self) -> u32 {
        self.epoch
    }

    pub fn set_epoch(&mut self, epoch: u32) {
        self.epoch = epoch;
    }

    pub fn interval(&self) -> SimTime {
        self.cfg.interval
    }

    /// Watches `me`'s neighbours on `ring` from `now`: a neighbour it watched before
    /// keeps its history, a new one starts with a heartbeat taken as just received,
    /// one that is no neighbour any more is dropped (returned if it was suspected).
    pub fn watch_neighbours(&mut self, me: NodeId, ring: &Ring, now: SimTime) -> Vec<NodeId> {
        let wanted = neighbours(me, ring);
        let mut forgotten = Vec::new();
        self.peers.retain(|peer, a| {
            let keep = wanted.contains(peer);
            if !keep && a.suspected {
                forgotten.push(*peer);
            }
            keep
        });
        for peer in wanted {
            self.peers.entry(peer).or_insert_with(|| Arrivals::new(now));
        }
        forgotten
    }

    /// Forgets every history (the process restarted): each neighbour starts as if its
    /// heartbeat had just arrived.
    pub fn restart(&mut self, now: SimTime) {
        for a in self.peers.values_mut() {
            *a = Arrivals::new(now);
        }
    }

    pub fn watches(&self, peer: NodeId) -> bool {
        self.peers.contains_key(&peer)
    }

    pub fn neighbours(&self) -> impl Iterator<Item = NodeId> + '_ {
        self.peers.keys().copied()
    }

    /// A heartbeat from `peer` arrived: returns `Trusted` if it was suspected.
    pub fn heartbeat(&mut self, peer: NodeId, now: SimTime) -> Option<Verdict> {
        let max_gap = self.cfg.max_gap();
        let a = self.peers.get_mut(&peer)?;
        a.record(now, max_gap);
        if a.suspected {
            a.suspected = false;
            return Some(Verdict::Trusted(peer));
        }
        None
    }

    /// Takes a verdict on every neighbour at `now`: those whose φ passed the threshold
    /// since the last check are pushed as `Suspected`.
    pub fn check(&mut self, now: SimTime, out: &mut Vec<Verdict>) {
        let (threshold, interval) = (self.cfg.threshold, self.cfg.interval);
        for (peer, a) in &mut self.peers {
            if !a.suspected && a.phi(now, interval) > threshold {
                a.suspected = true;
                out.push(Verdict::Suspected(*peer));
            }
        }
    }

    /// φ of `peer` at `now` (None if it is not watched).
    pub fn phi(&self, peer: NodeId, now: SimTime) -> Option<f64> {
        (self.peers.get(&peer)).map(|a| a.phi(now, self.cfg.interval))
    }

    /// Bytes this monitor holds, for the memory estimate.
    pub fn approx_bytes(&self) -> usize {
        self.peers.len() * (std::mem::size_of::<Arrivals>() + 48 + WINDOW * 4)
    }
}

/// The nodes `me` shares a preference list with, home replicas and fallbacks of every
/// range it is a home replica of, `me` left out.
pub fn neighbours(me: NodeId, ring: &Ring) -> BTreeSet<NodeId> {
    let mut out = BTreeSet::new();
    for slot in ring.home_slots(me) {
        out.extend(ring.slot_preference(*slot).iter().copied());
    }
    out.remove(&me);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn monitor() -> PhiMonitor {
        PhiMonitor {
            cfg: PhiConfig {
                threshold: 8.0,
                interval: SimTime::from_secs_f64(1.0),
            },
            epoch: 0,
            peers: BTreeMap::from([(NodeId(1), Arrivals::new(SimTime::ZERO))]),
        }
    }

    fn at(s: f64) -> SimTime {
        SimTime::from_secs_f64(s)
    }

    #[test]
    fn a_silent_neighbour_is_suspected_once_phi_passes_the_threshold() {
        let mut m = monitor();
        for s in 1..=10 {
            assert_eq!(m.heartbeat(NodeId(1), at(s as f64)), None);
        }
        // The first heartbeat seeds a 2 s gap, then nine of 1 s: a mean of 1.1 s, so
        // φ = elapsed / 1.1 × 0.434 passes 8 after 20.3 s of silence.
        let mut out = Vec::new();
        m.check(at(10.0 + 20.0), &mut out);
        assert!(out.is_empty(), "φ 7.9 is under the threshold");
        m.check(at(10.0 + 20.5), &mut out);
        assert_eq!(out, vec![Verdict::Suspected(NodeId(1))]);
        m.check(at(40.0), &mut out);
        assert_eq!(out.len(), 1, "a suspicion is reported once");
        assert_eq!(
            m.heartbeat(NodeId(1), at(41.0)),
            Some(Verdict::Trusted(NodeId(1)))
        );
        // The 31 s gap was not remembered: the mean is still 1.1 s.
        let phi = m.phi(NodeId(1), at(42.0)).unwrap();
        assert!((phi - LOG10_E / 1.1).abs() < 1e-9, "φ after 1 s is {phi}");
    }

    #[test]
    fn a_new_neighbour_with_one_short_gap_is_not_convicted_by_a_late_heartbeat() {
        // Heartbeats 0.1 s apart at first (answers that crossed a slow network together):
        // without the seeded 2 s gap the mean would be 0.1 s and 2 s of silence φ 8.7.
        let mut m = monitor();
        m.heartbeat(NodeId(1), at(1.0));
        m.heartbeat(NodeId(1), at(1.1));
        let mut out = Vec::new();
        m.check(at(3.1), &mut out);
        assert!(out.is_empty(), "φ is {:?}", m.phi(NodeId(1), at(3.1)));
    }

    #[test]
    fn the_mean_gap_follows_the_last_window_of_heartbeats() {
        let mut m = monitor();
        let mut t = 0.0;
        for _ in 0..WINDOW {
            t += 0.5;
            m.heartbeat(NodeId(1), at(t));
        }
        for _ in 0..WINDOW {
            t += 1.5;
            m.heartbeat(NodeId(1), at(t));
        }
        // Only the 1.5 s gaps are left (the seeded one too is gone): 3 s of silence is φ = 2 × log10(e).
        let phi = m.phi(NodeId(1), at(t + 3.0)).unwrap();
        assert!((phi - 2.0 * LOG10_E).abs() < 1e-9, "φ is {phi}");
        assert_eq!(m.phi(NodeId(7), at(t)), None);
    }
}
