//! Turning a validated scenario into the settings the parts of a run are built from: the
//! nodes' protocol configuration, the clients' routing context, gossip seeds, the end of
//! the run. Pure functions of the scenario.

use crate::engine::{RngStreams, SimTime, Stream};
use crate::ids::{DcId, NodeId};
use crate::node::phi::PhiConfig;
use crate::node::quorum::{Level, QuorumRule};
use crate::node::{AntiEntropyConfig, GossipConfig, NodeConfig, QuorumConfig, VersionRules};
use crate::observer::ObserverSetup;
use crate::ring::{Placement, ReplicaRule, Ring};
use crate::scenario::{
    AeStream, ConsistencyLevel, DetectorKind, FailureDetectorConfig, PartitionStrategy, Scenario,
    Versioning, WriteCoordinator,
};
use crate::workload::ClientContext;
use std::sync::Arc;

/// The datacenter of every starting node, in node-id order.
pub fn node_datacenters(s: &Scenario) -> Vec<DcId> {
    (s.cluster.datacenters.iter())
        .enumerate()
        .flat_map(|(d, dc)| (0..dc.nodes).map(move |_| DcId(d as u16)))
        .collect()
}

/// The starting placement and ring, drawn from the seed's ring stream.
pub fn initial_ring(s: &Scenario, streams: &RngStreams) -> (Placement, Arc<Ring>) {
    let node_dc = node_datacenters(s);
    let placement = Placement::initial(
        &node_dc,
        &s.cluster.partitioning,
        &mut streams.stream(Stream::Ring, 0),
    );
    let ring = Ring::from_placement(&placement, &node_dc, &replica_rule(s), s.key_count());
    (placement, Arc::new(ring))
}

/// How far back a suspicion can judge: an operation's timeout, or under phi accrual the
/// silence φ's threshold stands for at the longest heartbeat gap kept (twice the interval).
/// A peer down or cut off within it before a suspicion was really silent to the suspecter.
pub fn suspicion_horizon(s: &Scenario) -> SimTime {
    let fd = &s.failure_detector;
    let phi_s = match fd.kind {
        DetectorKind::Timeout => 0.0,
        DetectorKind::PhiAccrual => {
            fd.phi_threshold / std::f64::consts::LOG10_E * 2.0 * fd.heartbeat_interval_s
        }
    };
    SimTime::from_ms_f64(s.op_lifetime_ms()) + SimTime::from_secs_f64(phi_s)
}

/// How many replicas each key has and where (`replication.n`, `replicas_across_datacenters`,
/// `replicas_per_datacenter` by datacenter index).
pub fn replica_rule(s: &Scenario) -> ReplicaRule {
    let rep = &s.replication;
    ReplicaRule {
        n: rep.n as usize,
        across_dcs: rep.replicas_across_datacenters,
        per_dc: rep.replicas_per_datacenter.as_ref().map(|per_dc| {
            (s.cluster.datacenters.iter())
                .map(|d| per_dc.get(&d.name).copied().unwrap_or(0) as usize)
                .collect()
        }),
    }
}

/// How reads or writes count replies: a consistency level when the scenario gives one,
/// else R or W; Riak's `pr`/`pw` and `notfound_ok` on top.
fn quorum_rule(
    s: &Scenario,
    level: Option<ConsistencyLevel>,
    count: u32,
    primaries: u32,
) -> QuorumRule {
    QuorumRule {
        level: match level {
            None => Level::Count(count as usize),
            Some(ConsistencyLevel::One) => Level::Count(1),
            Some(ConsistencyLevel::Two) => Level::Count(2),
            Some(ConsistencyLevel::Three) => Level::Count(3),
            Some(ConsistencyLevel::Quorum) => Level::Quorum,
            Some(ConsistencyLevel::All) => Level::All,
            Some(ConsistencyLevel::LocalOne) => Level::LocalOne,
            Some(ConsistencyLevel::LocalQuorum) => Level::LocalQuorum,
            Some(ConsistencyLevel::EachQuorum) => Level::EachQuorum,
            Some(ConsistencyLevel::Any) => Level::Any,
        },
        primaries: primaries as usize,
        notfound_ok: s.replication.notfound_ok,
    }
}

pub fn version_rules(s: &Scenario) -> VersionRules {
    match s.replication.versioning {
        Versioning::VectorClock => VersionRules::VectorClock,
        Versioning::DottedVersionVector => VersionRules::DottedVersionVector,
        Versioning::VectorClockNaive => VersionRules::VectorClockNaive,
        Versioning::LastWriteWins => VersionRules::LastWriteWins,
    }
}

/// What the observer is told: the scheme's scenario name, the quorum, the key count.
pub fn observer_setup(s: &Scenario, keys: u32) -> ObserverSetup {
    let rep = &s.replication;
    let versioning = serde_json::to_value(rep.versioning)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default();
    ObserverSetup {
        versioning,
        last_write_wins: !version_rules(s).keeps_siblings(),
        n: rep.n,
        r: rep.r,
        w: rep.w,
        keys,
        sla: SimTime::from_ms_f64(s.metrics.sla_ms),
        deletes: s.workload.delete_fraction() > 0.0,
        inserts: s.workload.insert_fraction() > 0.0,
        detector: match s.failure_detector.kind {
            DetectorKind::Timeout => "timeout",
            DetectorKind::PhiAccrual => "phi_accrual",
        }
        .to_string(),
    }
}

pub fn quorum_config(s: &Scenario) -> QuorumConfig {
    let rep = &s.replication;
    let levels = rep.consistency;
    QuorumConfig {
        read: quorum_rule(s, levels.map(|l| l.read), rep.r, rep.pr),
        write: quorum_rule(s, levels.map(|l| l.write), rep.w, rep.pw),
        rules: version_rules(s),
        read_repair: rep.read_repair,
        read_repair_window: SimTime::from_ms_f64(rep.read_repair_window_ms),
        op_timeout: SimTime::from_ms_f64(s.op_lifetime_ms()),
        suspect_after: SimTime::from_ms_f64(s.failure_detector.op_timeout_ms),
        name_fastest: s.workload.write_coordinator() == WriteCoordinator::FastestRead,
        durable_writes: rep.durable_writes as usize,
    }
}

pub fn node_config(s: &Scenario, node_dc: &[DcId]) -> NodeConfig {
    let rep = &s.replication;
    NodeConfig {
        quorum: quorum_config(s),
        n: rep.n as usize,
        vclock_max_entries: rep.vclock_max_entries as usize,
        max_siblings: rep.max_siblings.map_or(usize::MAX, |m| m as usize),
        sloppy_quorum: rep.sloppy_quorum,
        hinted_handoff: rep.hinted_handoff,
        max_hints: rep.max_hints_per_node as usize,
        hint_scan_interval: SimTime::from_secs_f64(rep.hint_scan_interval_s),
        handoff_batch: rep.hint_handoff_batch as usize,
        hint_window: rep.hint_window_s.map(SimTime::from_secs_f64),
        handoff_bytes_per_s: rep.hint_handoff_bytes_per_s,
        probe_interval: SimTime::from_secs_f64(s.failure_detector.probe_interval_s),
        anti_entropy: s.anti_entropy.enabled.then(|| AntiEntropyConfig {
            interval: SimTime::from_secs_f64(s.anti_entropy.interval_s),
            depth: s.anti_entropy.merkle_depth,
            leaf_range: s.anti_entropy.stream == AeStream::LeafRange,
        }),
        gossip: Some(GossipConfig {
            interval: SimTime::from_secs_f64(s.gossip.interval_s),
            seeds: seed_nodes(node_dc, s.gossip.seeds as usize),
            change_bytes: change_bytes(s),
        }),
        transfer_rate_bytes_per_s: s.membership.transfer_rate_bytes_per_s as u64,
        value_bytes: s.workload.value_bytes() as u64,
        tombstone_gc_grace: (s.replication.tombstone_gc_grace_s).map(SimTime::from_secs_f64),
        phi: phi_config(&s.failure_detector),
    }
}

/// What clients know to route requests: the ring, routing, quorum settings, and the
/// nodes of each datacenter.
pub fn client_context(s: &Scenario, ring: Arc<Ring>, node_dc: &[DcId]) -> ClientContext {
    let rep = &s.replication;
    let nodes_by_dc = (0..s.cluster.datacenters.len())
        .map(|d| {
            (0..node_dc.len())
                .filter(|n| node_dc[*n].index() == d)
                .map(|n| NodeId(n as u32))
                .collect()
        })
        .collect();
    ClientContext {
        ring,
        routing: s.workload.routing(),
        quorum: quorum_config(s),
        nodes_by_dc,
        n: rep.n as usize,
        sloppy_quorum: rep.sloppy_quorum,
        retry_after: SimTime::from_secs_f64(s.failure_detector.client_retry_s),
        refresh_every: SimTime::from_secs_f64(s.membership.client_refresh_s),
    }
}

/// Clients are spread evenly over datacenters, in turn.
pub fn client_datacenters(s: &Scenario) -> Vec<DcId> {
    let dc_count = s.cluster.datacenters.len();
    (0..s.workload.clients())
        .map(|c| DcId((c as usize % dc_count) as u16))
        .collect()
}

/// When arrivals stop.
pub fn arrivals_end(s: &Scenario) -> SimTime {
    SimTime::from_secs_f64(s.duration_s)
}

/// When the run ends: after the last arrival, requests finish (operation lifetime plus
/// repair window) and the repair machinery gets the configured quiet period.
pub fn run_end(s: &Scenario) -> SimTime {
    let drain =
        SimTime::from_ms_f64(s.op_lifetime_ms() * 2.0 + s.replication.read_repair_window_ms)
            + SimTime::from_secs_f64(s.metrics.quiet_period_s);
    arrivals_end(s) + drain
}

/// How long after a write started its replicas may differ without counting as divergent.
pub fn settle_window(s: &Scenario) -> SimTime {
    SimTime::from_ms_f64(s.op_lifetime_ms() + s.replication.read_repair_window_ms)
}

/// Gossip seeds: the first `count` nodes taking datacenters in turn, so every datacenter
/// has one when it can.
pub fn seed_nodes(node_dc: &[DcId], count: usize) -> Vec<NodeId> {
    let dcs = node_dc.iter().map(|d| d.index() + 1).max().unwrap_or(1);
    let mut per_dc: Vec<Vec<NodeId>> = vec![Vec::new(); dcs];
    for (n, d) in node_dc.iter().enumerate() {
        per_dc[d.index()].push(NodeId(n as u32));
    }
    let longest = per_dc.iter().map(Vec::len).max().unwrap_or(0);
    (0..longest)
        .flat_map(|i| per_dc.iter().filter_map(move |nodes| nodes.get(i).copied()))
        .take(count)
        .collect()
}

/// What one membership change weighs in a gossip message: the tokens (or partitions) of
/// one node, 16 bytes each, plus its address and status.
fn change_bytes(s: &Scenario) -> u64 {
    let p = &s.cluster.partitioning;
    let per_node = match p.strategy {
        PartitionStrategy::EqualPartitions => (p.partitions / s.node_count().max(1)).max(1),
        PartitionStrategy::RandomTokens | PartitionStrategy::RandomTokensEqualPartitions => {
            p.tokens_per_node
        }
    };
    64 + 16 * per_node as u64
}

/// Phi accrual's settings when it is the detector.
fn phi_config(fd: &FailureDetectorConfig) -> Option<PhiConfig> {
    (fd.kind == DetectorKind::PhiAccrual).then(|| PhiConfig {
        threshold: fd.phi_threshold,
        interval: SimTime::from_secs_f64(fd.heartbeat_interval_s),
    })
}
