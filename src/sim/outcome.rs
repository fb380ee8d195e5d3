//! What a finished run leaves behind, as plain data: everything the report is made of,
//! gathered once from the loop's parts so that `report` never reads the simulation itself.

use super::membership::ChangeReport;
use super::resources::{Resources, Waits};
use super::transport::MessageStats;
use crate::engine::SimTime;
use crate::faults::ResolvedFault;
use crate::node::{AntiEntropyStats, HintStats, TransferStats};
use crate::observer::{DurabilitySummary, ObserverSummary, TimelinePoint};
use crate::scenario::Scenario;

#[derive(Clone, Debug)]
pub struct RunOutcome {
    pub scenario: Scenario,
    /// Hash over the sequence of processed events.
    pub digest: u64,
    pub events: u64,
    /// Simulated time when the run stopped.
    pub simulated: SimTime,
    pub faults: Vec<ResolvedFault>,
    pub observed: ObserverSummary,
    pub timeline: Vec<TimelinePoint>,
    pub durability: DurabilitySummary,
    pub divergent_keys_at_end: u64,
    pub time_to_converge_s: Option<f64>,
    pub messages: MessageStats,
    /// Per node, in node-id order (nodes that joined included).
    pub nodes: Vec<NodeOutcome>,
    /// The ring epoch published last (0 = no change completed).
    pub final_epoch: u32,
    pub membership_changes: Vec<ChangeReport>,
    /// Queueing delays per resource, when the scenario bounds any (`capacity`).
    pub waits: Option<Waits>,
    /// Replica requests per node in each `metrics.balance_window_s` window.
    pub load_windows: LoadWindows,
}

/// Replica requests per node per time window (Dynamo §6.2 judges balance per 30-minute
/// window): `counts[w][node]`, grown as windows pass and nodes join.
#[derive(Clone, Debug, Default)]
pub struct LoadWindows {
    pub window: SimTime,
    pub counts: Vec<Vec<u64>>,
}

impl LoadWindows {
    pub fn new(window: SimTime) -> LoadWindows {
        assert!(
            window > SimTime::ZERO,
            "validate refuses a zero balance window"
        );
        LoadWindows {
            window,
            counts: Vec::new(),
        }
    }

    /// Counts one replica request at `node` at `now`.
    pub fn count(&mut self, now: SimTime, node: usize) {
        let w = (now.as_micros() / self.window.as_micros()) as usize;
        if self.counts.len() <= w {
            self.counts.resize_with(w + 1, Vec::new);
        }
        let row = &mut self.counts[w];
        if row.len() <= node {
            row.resize(node + 1, 0);
        }
        row[node] += 1;
    }
}

/// One node's counters at the end of the run.
#[derive(Clone, Debug)]
pub struct NodeOutcome {
    pub name: String,
    pub hints: HintStats,
    /// Hints still held at the end.
    pub hint_backlog: u64,
    pub anti_entropy: AntiEntropyStats,
    pub transfer: TransferStats,
    /// Replica reads and writes it served.
    pub replica_requests: u64,
    /// Keys it stores as a home replica at the end.
    pub keys: u64,
    /// Its host's disk, CPU and network interface use, when bounded.
    pub resources: Option<Resources>,
}
