//! The `capacity` section of report.json: how busy each bounded resource was (per node,
//! with the hottest nodes by name) and how long work queued for it. Present only when the
//! scenario bounds a resource.

use crate::sim::RunOutcome;
use crate::sim::resources::Servers;
use hdrhistogram::Histogram;
use serde::Serialize;

/// How many of the busiest nodes are named per resource.
const HOTTEST: usize = 3;

#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct CapacitySummary {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub disk: Option<ResourceSummary>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpu: Option<ResourceSummary>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub network: Option<ResourceSummary>,
    /// Dynamo admission control of background disk work, when on.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub admission: Option<AdmissionSummary>,
    /// The object buffer (`storage.write_buffer`), when on.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub write_buffer: Option<WriteBufferSummary>,
    /// Background disk work by kind, when the disk is finite.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub background: Option<BackgroundSummary>,
}

/// Disk work of each kind of background task over the whole run, all nodes.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct BackgroundSummary {
    pub hint_handoff: BackgroundKind,
    pub anti_entropy: BackgroundKind,
    pub transfer: BackgroundKind,
    /// Reads of Merkle tree rebuilds after membership changes moved range boundaries.
    pub merkle_rebuild: BackgroundKind,
}

#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct BackgroundKind {
    /// Disk jobs: a read where the work is sent, a write where it arrives.
    pub disk_jobs: u64,
    pub bytes: u64,
    /// Disk time those jobs held, seconds (summed over nodes).
    pub disk_busy_s: f64,
}

impl BackgroundKind {
    fn of(u: &crate::sim::resources::BackgroundUse) -> BackgroundKind {
        BackgroundKind {
            disk_jobs: u.jobs,
            bytes: u.bytes,
            disk_busy_s: u.disk_us as f64 / 1e6,
        }
    }
}

#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct WriteBufferSummary {
    /// Writer passes, and the keys they wrote to disk.
    pub flushes: u64,
    pub objects_flushed: u64,
    /// Keys whose buffered writes crashes lost (their disks held an older copy).
    pub objects_lost_in_crashes: u64,
    /// Replica reads answered from the buffer, with no disk read.
    pub reads_from_memory: u64,
    /// Replica writes that went to disk directly: durable writes, or the buffer was full.
    pub writes_through: u64,
}

#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct AdmissionSummary {
    /// Time background slices waited for their share, summed over nodes and jobs.
    pub throttled_s: f64,
    /// Nodes whose background work ever waited for its share.
    pub nodes_throttled: u64,
    /// The smallest background share any node's controller set.
    pub lowest_share: f64,
    /// Background messages refused because their host's lane was full (its bound of
    /// jobs, or of keys among them), dropped; their senders send them again on their own
    /// clocks.
    pub rejected: u64,
}

#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct ResourceSummary {
    /// Servers per node (disk concurrency, CPU threads; 1 for a network interface).
    pub servers_per_node: u32,
    /// Jobs served over all nodes (disk operations, messages processed or sent).
    pub jobs: u64,
    /// Busy server time / (servers x duration_s), per node: the load's window (what
    /// arrivals leave to drain after it is not counted).
    pub utilization_mean: f64,
    pub utilization_max: f64,
    /// The busiest nodes, busiest first.
    pub hottest: Vec<NodeUse>,
    /// From admission to the start of service, over every job.
    pub wait_ms: WaitSummary,
    /// The longest queue (jobs admitted and not started) any node had, and where; null
    /// for a network interface (its backlog is the wait).
    pub max_queue: Option<NodeQueue>,
    /// The part of the mean utilization that background work (hint handoff,
    /// anti-entropy, range transfer) took; null for the CPU and the network interface.
    pub background_utilization_mean: Option<f64>,
    /// Jobs refused because the queue was full (`max_queue`): a dropped message, or a
    /// replica read whose answer was never sent. Null for the network interface.
    pub rejected: Option<u64>,
}

#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct NodeUse {
    pub node: String,
    pub utilization: f64,
}

#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct NodeQueue {
    pub node: String,
    pub length: u32,
}

#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct WaitSummary {
    pub mean: f64,
    pub p50: f64,
    pub p99: f64,
    pub p999: f64,
    pub max: f64,
}

fn wait_summary(h: &Histogram<u64>) -> WaitSummary {
    let ms = |us: u64| us as f64 / 1_000.0;
    WaitSummary {
        mean: h.mean() / 1_000.0,
        p50: ms(h.value_at_quantile(0.5)),
        p99: ms(h.value_at_quantile(0.99)),
        p999: ms(h.value_at_quantile(0.999)),
        max: ms(h.max()),
    }
}

/// One resource's use on each node: (name, busy µs, jobs, longest queue).
struct PerNode<'a> {
    name: &'a str,
    busy_us: u64,
    jobs: u64,
    max_queue: Option<u32>,
    background_us: Option<u64>,
    rejected: Option<u64>,
}

fn summarize(
    servers: u32,
    nodes: &[PerNode],
    span_us: u64,
    waits: &Histogram<u64>,
) -> ResourceSummary {
    let capacity_us = (servers as f64 * span_us as f64).max(1.0);
    let mut uses: Vec<NodeUse> = nodes
        .iter()
        .map(|n| NodeUse {
            node: n.name.to_string(),
            utilization: n.busy_us as f64 / capacity_us,
        })
        .collect();
    let mean = uses.iter().map(|u| u.utilization).sum::<f64>() / uses.len().max(1) as f64;
    // Busiest first; ties in node order (the sort is stable).
    uses.sort_by(|a, b| b.utilization.total_cmp(&a.utilization));
    let max = uses.first().map_or(0.0, |u| u.utilization);
    uses.truncate(HOTTEST);
    let max_queue = nodes
        .iter()
        .filter_map(|n| n.max_queue.map(|q| (q, n.name)))
        .fold(None, |best: Option<(u32, &str)>, (q, name)| match best {
            Some((b, _)) if b >= q => best,
            _ => Some((q, name)),
        })
        .map(|(length, node)| NodeQueue {
            node: node.to_string(),
            length,
        });
    let background = nodes
        .iter()
        .map(|n| n.background_us)
        .sum::<Option<u64>>()
        .map(|bg| bg as f64 / capacity_us / nodes.len().max(1) as f64);
    ResourceSummary {
        rejected: nodes.iter().map(|n| n.rejected).sum::<Option<u64>>(),
        background_utilization_mean: background,
        servers_per_node: servers,
        jobs: nodes.iter().map(|n| n.jobs).sum(),
        utilization_mean: mean,
        utilization_max: max,
        hottest: uses,
        wait_ms: wait_summary(waits),
        max_queue,
    }
}

impl CapacitySummary {
    /// `None` when the scenario bounds no resource.
    pub fn from_outcome(run: &RunOutcome) -> Option<CapacitySummary> {
        let waits = run.waits.as_ref()?;
        // Use is counted while the load runs (arrivals stop at duration_s).
        let span = crate::sim::build::arrivals_end(&run.scenario).as_micros();
        let servers = |pick: fn(&crate::sim::resources::Resources) -> Option<&Servers>| {
            let per_node: Vec<PerNode> = run
                .nodes
                .iter()
                .filter_map(|n| {
                    let s = pick(n.resources.as_ref()?)?;
                    Some((n.name.as_str(), s))
                })
                .map(|(name, s)| PerNode {
                    name,
                    busy_us: s.busy_us,
                    jobs: s.jobs,
                    max_queue: Some(s.max_waiting),
                    background_us: Some(s.busy_background_us),
                    rejected: Some(s.rejected),
                })
                .collect();
            let count = (run.nodes.iter())
                .find_map(|n| pick(n.resources.as_ref()?))
                .map(Servers::servers);
            count.map(|c| (c, per_node))
        };
        let disk =
            servers(|r| r.disk.as_ref()).map(|(c, nodes)| summarize(c, &nodes, span, &waits.disk));
        let cpu =
            servers(|r| r.cpu.as_ref()).map(|(c, nodes)| summarize(c, &nodes, span, &waits.cpu));
        // The network has no background share: its figure stays null.
        let network = servers(|r| r.nic.as_ref().map(|n| &n.link)).map(|(_, mut nodes)| {
            nodes.iter_mut().for_each(|n| n.background_us = None);
            summarize(1, &nodes, span, &waits.nic)
        });
        let lanes: Vec<&crate::sim::resources::AdmissionLane> = (run.nodes.iter())
            .filter_map(|n| n.resources.as_ref()?.lane.as_ref())
            .collect();
        let admission = (!lanes.is_empty()).then(|| AdmissionSummary {
            throttled_s: lanes.iter().map(|l| l.throttled_us).sum::<u64>() as f64 / 1e6,
            nodes_throttled: lanes.iter().filter(|l| l.throttled_us > 0).count() as u64,
            lowest_share: lanes
                .iter()
                .map(|l| l.lowest_share)
                .fold(f64::INFINITY, f64::min),
            rejected: lanes.iter().map(|l| l.rejected).sum(),
        });
        let buffers: Vec<&crate::sim::resources::WriteBufferState> = (run.nodes.iter())
            .filter_map(|n| n.resources.as_ref()?.buffer.as_ref())
            .collect();
        let write_buffer = (!buffers.is_empty()).then(|| WriteBufferSummary {
            flushes: buffers.iter().map(|b| b.flushes).sum(),
            objects_flushed: buffers.iter().map(|b| b.objects_flushed).sum(),
            objects_lost_in_crashes: buffers.iter().map(|b| b.objects_lost).sum(),
            reads_from_memory: buffers.iter().map(|b| b.reads_from_memory).sum(),
            writes_through: buffers.iter().map(|b| b.written_through).sum(),
        });
        let b = &waits.background;
        let background = disk.is_some().then(|| BackgroundSummary {
            hint_handoff: BackgroundKind::of(&b.hint_handoff),
            anti_entropy: BackgroundKind::of(&b.anti_entropy),
            transfer: BackgroundKind::of(&b.transfer),
            merkle_rebuild: BackgroundKind::of(&b.merkle_rebuild),
        });
        let mut summary = CapacitySummary {
            disk,
            cpu,
            network,
            admission,
            write_buffer,
            background,
        };
        // The CPU's background share is not tracked: only the disk's is.
        if let Some(c) = &mut summary.cpu {
            c.background_utilization_mean = None;
        }
        Some(summary)
    }

    /// The resource with the busiest node, by name, and that node's utilization.
    pub fn bottleneck(&self) -> Option<(&'static str, &NodeUse)> {
        [
            ("disk", &self.disk),
            ("CPU", &self.cpu),
            ("network interface", &self.network),
        ]
        .into_iter()
        .filter_map(|(name, r)| Some((name, r.as_ref()?.hottest.first()?)))
        .fold(
            None,
            |best: Option<(&'static str, &NodeUse)>, (name, u)| match best {
                Some((_, b)) if b.utilization >= u.utilization => best,
                _ => Some((name, u)),
            },
        )
    }
}
