//! Scenario files: the public interface described in docs/scenario.md. This module holds
//! the serde types (with their defaults), loading with `--set` edits, and validation. A
//! loaded `Scenario` is fully resolved: every default is filled in, so it can be embedded in
//! a report and replayed exactly.

pub mod checks;
mod error;
mod load;
mod policy;
pub mod preset;
pub mod starter;
mod validate;

pub use error::{ScenarioError, ScenarioErrors, nearest};
pub use load::{apply_set, from_value, load_file, load_str, parse_sets};
pub use preset::Preset;
pub use validate::validate;

use crate::engine::dist::Distribution;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// The JSON Schema an editor validates and completes this file with (`dynasim new`
    /// writes `scenario.schema.json` beside the scenario); ignored by the simulator.
    #[serde(rename = "$schema", default, skip_serializing_if = "Option::is_none")]
    pub schema: Option<String>,
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default = "default_seed")]
    pub seed: u64,
    pub duration_s: f64,
    pub cluster: Cluster,
    #[serde(default)]
    pub replication: Replication,
    #[serde(default)]
    pub anti_entropy: AntiEntropy,
    #[serde(default)]
    pub gossip: Gossip,
    #[serde(default)]
    pub failure_detector: FailureDetectorConfig,
    #[serde(default)]
    pub membership: MembershipConfig,
    #[serde(default)]
    pub network: Network,
    #[serde(default)]
    pub storage: Storage,
    /// Finite resources per node (docs/scenario.md, "Capacity"); absent means unbounded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capacity: Option<Capacity>,
    pub workload: Workload,
    #[serde(default)]
    pub faults: Vec<Fault>,
    #[serde(default)]
    pub metrics: Metrics,
}

fn default_seed() -> u64 {
    1
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Cluster {
    pub datacenters: Vec<Datacenter>,
    #[serde(default)]
    pub partitioning: Partitioning,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Datacenter {
    pub name: String,
    pub nodes: u32,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum PartitionStrategy {
    /// Dynamo strategy 1: T random tokens per node; ranges are the gaps between tokens.
    RandomTokens,
    /// Dynamo strategy 2: T random tokens per node, Q equal-sized partitions.
    RandomTokensEqualPartitions,
    /// Dynamo strategy 3: Q equal-sized partitions spread evenly, Q/S per node.
    EqualPartitions,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct Partitioning {
    pub strategy: PartitionStrategy,
    /// Q: the number of equal-sized partitions (strategies 2 and 3).
    pub partitions: u32,
    /// T: tokens per node (strategies 1 and 2).
    pub tokens_per_node: u32,
    /// How strategy 3 deals its Q partitions to the nodes: `random` (default, Dynamo
    /// §4.2: each node gets Q/S partitions chosen from the seed) or `striped` (partition p
    /// to node p mod S, datacenters alternating: perfectly even, but each node shares
    /// replica sets with only a few others).
    pub assignment: PartitionAssignment,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum PartitionAssignment {
    Random,
    Striped,
}

impl Default for Partitioning {
    fn default() -> Self {
        Partitioning {
            strategy: PartitionStrategy::EqualPartitions,
            partitions: 1024,
            tokens_per_node: 8,
            assignment: PartitionAssignment::Random,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Versioning {
    VectorClock,
    DottedVersionVector,
    VectorClockNaive,
    LastWriteWins,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct Replication {
    pub n: u32,
    pub r: u32,
    pub w: u32,
    pub sloppy_quorum: bool,
    pub hinted_handoff: bool,
    pub read_repair: bool,
    pub replicas_across_datacenters: bool,
    pub versioning: Versioning,
    pub vclock_max_entries: u32,
    /// How long a read coordinator waits after answering for late replies to repair.
    pub read_repair_window_ms: f64,
    /// How often a node scans its hint store to hand hints to recovered owners.
    pub hint_scan_interval_s: f64,
    /// Bound on each node's hint store; hints past it are dropped and counted.
    pub max_hints_per_node: u32,
    /// Hints handed to one owner per scan (limits the handoff burst).
    pub hint_handoff_batch: u32,
    /// A put that would leave a key with more siblings than this fails (Riak's
    /// `max_siblings`); `null` means no limit.
    pub max_siblings: Option<u32>,
    /// Of the N replicas a put is sent to, how many write it to disk at once instead of
    /// into their write buffer (Dynamo §6.1's "durable write"; with `storage.write_buffer`).
    #[serde(skip_serializing_if = "is_zero")]
    pub durable_writes: u32,
    /// How long a replica keeps a delete's tombstone before collecting it; `null` (the
    /// default): never collected.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tombstone_gc_grace_s: Option<f64>,
    /// Cassandra's consistency levels for reads and writes; when given they replace `r`
    /// and `w` (absent: R and W count replies from any of the N targets, as Dynamo).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub consistency: Option<ConsistencyLevels>,
    /// How many of the N replicas each datacenter holds (Cassandra's
    /// NetworkTopologyStrategy), by datacenter name; the counts must add up to `n`
    /// (absent: replicas spread by `replicas_across_datacenters`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replicas_per_datacenter: Option<BTreeMap<String, u32>>,
    /// Riak's `pr`: of the replies a read counts, how many must come from primaries (home
    /// replicas, not fallbacks standing in for one).
    #[serde(skip_serializing_if = "is_zero")]
    pub pr: u32,
    /// Riak's `pw`: of the acknowledgements a write counts, how many must come from
    /// primaries.
    #[serde(skip_serializing_if = "is_zero")]
    pub pw: u32,
    /// Riak's `notfound_ok`: whether a replica's "not found" counts toward R (true, the
    /// default) or a read waits for a replica that holds the key, answering "not found"
    /// only once every replica asked has said so.
    #[serde(skip_serializing_if = "is_true")]
    pub notfound_ok: bool,
    /// A node stops storing hints for an owner it has believed down longer than this
    /// (Cassandra's `max_hint_window`, 3 h); `null` (the default): no window. The node
    /// counts from the first hint it accepted for the owner since it last heard from it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint_window_s: Option<f64>,
    /// Hint handoff throttle per node, bytes per second (Cassandra's
    /// `hinted_handoff_throttle`, 1024 KiB/s); `null` (the default): no throttle.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint_handoff_bytes_per_s: Option<f64>,
}

fn is_true(v: &bool) -> bool {
    *v
}

/// The consistency levels of reads and writes (`replication.consistency`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ConsistencyLevels {
    pub read: ConsistencyLevel,
    pub write: ConsistencyLevel,
}

/// Cassandra's consistency levels: how many replicas must answer, and where.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ConsistencyLevel {
    /// One replica.
    One,
    /// Two replicas.
    Two,
    /// Three replicas.
    Three,
    /// A majority of the N replicas: N / 2 + 1.
    Quorum,
    /// A majority of the replicas in the coordinator's datacenter.
    LocalQuorum,
    /// A majority of the replicas in every datacenter that holds any (writes only).
    EachQuorum,
    /// One replica in the coordinator's datacenter.
    LocalOne,
    /// All N replicas.
    All,
    /// Writes only: one acknowledgement from any node, a fallback's stored hint included.
    Any,
}

impl ConsistencyLevel {
    /// The name as written in scenarios.
    pub fn name(self) -> &'static str {
        match self {
            ConsistencyLevel::One => "ONE",
            ConsistencyLevel::Two => "TWO",
            ConsistencyLevel::Three => "THREE",
            ConsistencyLevel::Quorum => "QUORUM",
            ConsistencyLevel::LocalQuorum => "LOCAL_QUORUM",
            ConsistencyLevel::EachQuorum => "EACH_QUORUM",
            ConsistencyLevel::LocalOne => "LOCAL_ONE",
            ConsistencyLevel::All => "ALL",
            ConsistencyLevel::Any => "ANY",
        }
    }
}

fn is_zero(v: &u32) -> bool {
    *v == 0
}

impl Default for Replication {
    fn default() -> Self {
        Replication {
            n: 3,
            r: 2,
            w: 2,
            sloppy_quorum: true,
            hinted_handoff: true,
            read_repair: true,
            replicas_across_datacenters: true,
            versioning: Versioning::VectorClock,
            vclock_max_entries: 10,
            read_repair_window_ms: 50.0,
            hint_scan_interval_s: 10.0,
            max_hints_per_node: 100_000,
            hint_handoff_batch: 1_000,
            max_siblings: Some(100),
            durable_writes: 0,
            tombstone_gc_grace_s: None,
            consistency: None,
            replicas_per_datacenter: None,
            pr: 0,
            pw: 0,
            notfound_ok: true,
            hint_window_s: None,
            hint_handoff_bytes_per_s: None,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct AntiEntropy {
    pub enabled: bool,
    pub interval_s: f64,
    pub merkle_depth: u32,
    /// What an exchange moves under a differing Merkle leaf: only the keys that differ
    /// (`keys`, the default) or the leaf's whole key range (`leaf_range`, as Cassandra's
    /// repair streams).
    #[serde(skip_serializing_if = "AeStream::is_keys")]
    pub stream: AeStream,
}

impl Default for AntiEntropy {
    fn default() -> Self {
        AntiEntropy {
            enabled: true,
            interval_s: 60.0,
            merkle_depth: 10,
            stream: AeStream::Keys,
        }
    }
}

/// What an anti-entropy exchange streams under a differing Merkle leaf.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum AeStream {
    /// Only the keys whose version sets differ (per-key hashes compared at the leaves).
    #[default]
    Keys,
    /// Every key under a differing leaf, in both directions (Cassandra's repair): coarse
    /// leaves over-stream.
    LeafRange,
}

impl AeStream {
    fn is_keys(&self) -> bool {
        *self == AeStream::Keys
    }
}

/// Joins, leaves and what clients know of the ring.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct MembershipConfig {
    /// Rate at which an old owner streams a moving range to its new owner.
    pub transfer_rate_bytes_per_s: f64,
    /// How often a client refreshes its view of the ring from a node (Dynamo §6.4: 10 s).
    pub client_refresh_s: f64,
}

impl Default for MembershipConfig {
    fn default() -> Self {
        MembershipConfig {
            transfer_rate_bytes_per_s: 10_000_000.0,
            client_refresh_s: 10.0,
        }
    }
}

/// How nodes and clients notice unreachable peers (Dynamo §4.8: purely local).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct FailureDetectorConfig {
    /// How often a node pings the peers it suspects.
    pub probe_interval_s: f64,
    /// How long a client avoids a node that let one of its requests time out.
    pub client_retry_s: f64,
    /// How long a coordinator waits for a replica before suspecting it; independent of
    /// the client's `workload.request_timeout_ms`.
    pub op_timeout_ms: f64,
    /// Which detector judges a node's neighbours.
    pub kind: DetectorKind,
    /// `phi_accrual`: φ above which a neighbour is suspected (Cassandra's 8).
    pub phi_threshold: f64,
    /// `phi_accrual`: how often a node asks each neighbour for a heartbeat.
    pub heartbeat_interval_s: f64,
}

impl Default for FailureDetectorConfig {
    fn default() -> Self {
        FailureDetectorConfig {
            probe_interval_s: 1.0,
            client_retry_s: 5.0,
            op_timeout_ms: 300.0,
            kind: DetectorKind::Timeout,
            phi_threshold: 8.0,
            heartbeat_interval_s: 1.0,
        }
    }
}

/// How a node decides a peer is down.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum DetectorKind {
    /// A peer that lets a request go unanswered for `op_timeout_ms` is suspected until
    /// any message from it arrives (Dynamo §4.8).
    #[default]
    Timeout,
    /// Phi accrual (Hayashibara et al. 2004, as Cassandra) over heartbeats between
    /// neighbours; peers outside the neighbours are still judged by timeouts.
    PhiAccrual,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct Gossip {
    pub interval_s: f64,
    pub seeds: u32,
}

impl Default for Gossip {
    fn default() -> Self {
        Gossip {
            interval_s: 1.0,
            seeds: 3,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct Network {
    pub latency_ms: LinkLatencies,
    /// Per message kind overrides of the link-class latency (e.g. `write_request`).
    pub by_message_ms: BTreeMap<String, Distribution>,
    /// Added to every message between two datacenters, whatever set its latency (the
    /// link class or `by_message_ms`): a wide-area delay on top of per-kind fits (PBS's
    /// WAN: 75 ms on each leg to a remote replica).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub inter_dc_added_ms: Option<Distribution>,
    pub drop_probability: f64,
}

impl Default for Network {
    fn default() -> Self {
        Network {
            latency_ms: LinkLatencies::default(),
            by_message_ms: BTreeMap::new(),
            inter_dc_added_ms: None,
            drop_probability: 0.0,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct LinkLatencies {
    pub local: Distribution,
    pub intra_dc: Distribution,
    pub inter_dc: Distribution,
}

impl Default for LinkLatencies {
    fn default() -> Self {
        LinkLatencies {
            local: Distribution::Constant(0.0),
            intra_dc: Distribution::Lognormal {
                median: 0.5,
                sigma: 0.5,
            },
            inter_dc: Distribution::Lognormal {
                median: 40.0,
                sigma: 0.2,
            },
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct Storage {
    pub read_ms: Distribution,
    pub write_ms: Distribution,
    /// Disk bandwidth: an operation also takes its bytes / this (absent: size is free).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bytes_per_s: Option<f64>,
    /// Dynamo §6.1's object buffer: writes land in memory and a writer flushes them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub write_buffer: Option<WriteBuffer>,
}

/// An in-memory object buffer per node, flushed to disk by a writer every interval.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WriteBuffer {
    /// Objects (keys) it holds at most; a write past it goes to disk directly.
    pub objects: u32,
    pub flush_interval_ms: f64,
}

impl Default for Storage {
    fn default() -> Self {
        Storage {
            read_ms: Distribution::Constant(0.2),
            write_ms: Distribution::Constant(0.5),
            bytes_per_s: None,
            write_buffer: None,
        }
    }
}

/// What each node's host can do at once. Every part is optional and unbounded when absent.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Capacity {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disk: Option<DiskCapacity>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu: Option<CpuCapacity>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network: Option<NicCapacity>,
    /// How background disk work (handoff, anti-entropy, range transfer) shares the disk.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub background: Option<Background>,
}

/// Dynamo §6.5: background tasks and the admission controller that limits them.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Background {
    #[serde(default)]
    pub admission: Admission,
    /// The foreground disk latency (wait and service) the controller defends, at p99.
    #[serde(default = "default_target_disk_latency_ms")]
    pub target_disk_latency_ms: f64,
    /// The largest share of one disk server's time background work may take.
    #[serde(default = "default_max_share")]
    pub max_share: f64,
}

fn default_target_disk_latency_ms() -> f64 {
    10.0
}

fn default_max_share() -> f64 {
    0.3
}

#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Admission {
    /// Background work queues with foreground work, one job per operation.
    #[default]
    None,
    /// Background work gets disk time in slices, at a share the controller adapts.
    Dynamo,
}

/// The jobs one resource's queue holds at most when its `max_queue` is absent. Every
/// waiting job of a finite resource is a message held in memory, so no queue is left
/// unbounded: an overloaded node drops past this (counted as `rejected`), as Riak's vnodes
/// refuse requests past 10,000 queued messages. No shipped scenario that leaves
/// `max_queue` out queues more than 2,706 jobs (anti-entropy-storm's disk) or 69
/// messages on a network interface (overload's).
pub const DEFAULT_MAX_QUEUE: u32 = 4_096;

/// A node's storage: `concurrency` servers with one FIFO queue.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DiskCapacity {
    pub concurrency: u32,
    /// Jobs that may wait at once; a job past it is rejected (absent: `DEFAULT_MAX_QUEUE`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_queue: Option<u32>,
}

impl DiskCapacity {
    pub fn queue_bound(&self) -> u32 {
        self.max_queue.unwrap_or(DEFAULT_MAX_QUEUE)
    }
}

impl CpuCapacity {
    pub fn queue_bound(&self) -> u32 {
        self.max_queue.unwrap_or(DEFAULT_MAX_QUEUE)
    }
}

impl NicCapacity {
    pub fn queue_bound(&self) -> u32 {
        self.max_queue.unwrap_or(DEFAULT_MAX_QUEUE)
    }
}

/// A node's processors: every message it receives holds one of `threads` servers.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CpuCapacity {
    pub threads: u32,
    pub per_message_ms: Distribution,
    /// Messages that may wait at once; one past it is dropped (absent:
    /// `DEFAULT_MAX_QUEUE`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_queue: Option<u32>,
}

/// A node's network interface: outgoing messages leave one after another at this rate.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NicCapacity {
    pub node_bytes_per_s: f64,
    /// Messages that may wait to leave at once; one past it is dropped (absent:
    /// `DEFAULT_MAX_QUEUE`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_queue: Option<u32>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Workload {
    OpenLoop(OpenLoop),
    StalenessProbe(StalenessProbe),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Routing {
    PartitionAware,
    LoadBalancer,
    ClientDriven,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum WriteMode {
    ReadModifyWrite,
    Blind,
}

/// Which keys requests pick, among the keys that exist: the `keys` of the key space and
/// the keys inserted so far (`insert_fraction`).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum KeyDistribution {
    /// Every existing key equally.
    Uniform,
    /// Zipf's law with this exponent over the keys by number: key 0 is the most popular,
    /// inserted keys the least.
    Zipf(f64),
    /// YCSB's `latest` (SkewedLatestGenerator): Zipf's law with this exponent over the
    /// distance from the newest key, so the most recently inserted keys are the most
    /// popular.
    Latest(f64),
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OpenLoop {
    /// A YCSB core workload (`ycsb_a` ... `ycsb_f`; E's scans run as single-key reads):
    /// it fills `read_fraction`, `insert_fraction`, `key_distribution` and `write_mode`,
    /// each unless the scenario states it (docs/scenario.md, "YCSB presets").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preset: Option<Preset>,
    pub ops_per_s: f64,
    #[serde(default = "default_clients")]
    pub clients: u32,
    #[serde(default = "default_read_fraction")]
    pub read_fraction: f64,
    /// The share of operations that insert a key never written before (a blind put to the
    /// next key past `keys` and the keys inserted so far); the key space grows.
    #[serde(default, skip_serializing_if = "is_zero_f64")]
    pub insert_fraction: f64,
    pub keys: u32,
    #[serde(default = "default_key_distribution")]
    pub key_distribution: KeyDistribution,
    #[serde(default = "default_write_mode")]
    pub write_mode: WriteMode,
    #[serde(default = "default_value_bytes")]
    pub value_bytes: u32,
    #[serde(default = "default_routing")]
    pub routing: Routing,
    #[serde(default = "default_request_timeout_ms")]
    pub request_timeout_ms: f64,
    /// Which home replica coordinates a read-modify-write's put.
    #[serde(default)]
    pub write_coordinator: WriteCoordinator,
    /// The arrival rate over time, as a factor of `ops_per_s` (absent: constant).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub load_curve: Option<LoadCurve>,
    /// The share of writes that are deletes (a tombstone put with the client's context).
    #[serde(default, skip_serializing_if = "is_zero_f64")]
    pub delete_fraction: f64,
}

fn is_zero_f64(v: &f64) -> bool {
    *v == 0.0
}

impl OpenLoop {
    /// The most inserts a run of `duration_s` can make, as far as key space is concerned:
    /// the expected count μ (at the load curve's peak rate, which errs high) plus 10√μ +
    /// 40. Inserts are a thinned Poisson process, so their count is Poisson with a mean
    /// of at most μ, and by the Chernoff bound it exceeds this with probability below
    /// e^-50, about 2·10^-22 (an insert past it is sent as an update; docs/scenario.md).
    pub fn insert_bound(&self, duration_s: f64) -> u64 {
        if self.insert_fraction <= 0.0 || self.insert_fraction.is_nan() {
            return 0;
        }
        let peak = self.load_curve.as_ref().map_or(1.0, |c| c.peak());
        let mean = self.insert_fraction * self.ops_per_s * peak * duration_s;
        // `as` saturates: an infinite or huge mean gives u64::MAX, which validation refuses.
        (mean + 10.0 * mean.max(0.0).sqrt() + 40.0).ceil() as u64
    }
}

/// A repeating load profile (Dynamo Figure 4's diurnal cycle): `points` are
/// `[fraction of the period, factor of ops_per_s]`, linear between them, from fraction 0
/// to fraction 1.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LoadCurve {
    pub period_s: f64,
    pub points: Vec<(f64, f64)>,
}

impl LoadCurve {
    /// The factor at `t_s` seconds into the run.
    pub fn factor_at(&self, t_s: f64) -> f64 {
        let x = (t_s / self.period_s).fract();
        let p = &self.points;
        let i = p.partition_point(|(f, _)| *f <= x).clamp(1, p.len() - 1);
        let ((x0, y0), (x1, y1)) = (p[i - 1], p[i]);
        if x1 <= x0 {
            return y1;
        }
        y0 + (y1 - y0) * (x - x0) / (x1 - x0)
    }

    pub fn peak(&self) -> f64 {
        self.points.iter().map(|p| p.1).fold(0.0, f64::max)
    }
}

/// Which of a key's top N replicas coordinates a put (Dynamo §4.5, §6.4).
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum WriteCoordinator {
    /// The first home replica the client (or the node it reached) believes reachable.
    #[default]
    FirstReachable,
    /// The replica that answered the put's context read fastest (its reply carries the
    /// replica's id); blind puts fall back to the first reachable.
    FastestRead,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StalenessProbe {
    pub probes: u32,
    pub probes_per_s: f64,
    pub read_delay_ms: Distribution,
    #[serde(default = "default_clients")]
    pub clients: u32,
    #[serde(default = "default_value_bytes")]
    pub value_bytes: u32,
    #[serde(default = "default_routing")]
    pub routing: Routing,
    #[serde(default = "default_probe_timeout_ms")]
    pub request_timeout_ms: f64,
    /// Which client reads a probe's key back.
    #[serde(default, skip_serializing_if = "ProbeReader::is_writer")]
    pub reader: ProbeReader,
}

/// Which client reads a staleness probe's key back.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum ProbeReader {
    /// The client that wrote it.
    #[default]
    Writer,
    /// A client drawn uniformly from all clients, so that the reader's datacenter is
    /// independent of the writer's (as in PBS's WAN experiment).
    AnyClient,
}

impl ProbeReader {
    fn is_writer(&self) -> bool {
        *self == ProbeReader::Writer
    }
}

fn default_clients() -> u32 {
    100
}
fn default_read_fraction() -> f64 {
    0.5
}
fn default_key_distribution() -> KeyDistribution {
    KeyDistribution::Zipf(0.99)
}
fn default_write_mode() -> WriteMode {
    WriteMode::ReadModifyWrite
}
fn default_value_bytes() -> u32 {
    1024
}
fn default_routing() -> Routing {
    Routing::PartitionAware
}
fn default_request_timeout_ms() -> f64 {
    300.0
}
fn default_probe_timeout_ms() -> f64 {
    10_000.0
}

impl Workload {
    pub fn clients(&self) -> u32 {
        match self {
            Workload::OpenLoop(w) => w.clients,
            Workload::StalenessProbe(p) => p.clients,
        }
    }
    pub fn routing(&self) -> Routing {
        match self {
            Workload::OpenLoop(w) => w.routing,
            Workload::StalenessProbe(p) => p.routing,
        }
    }
    pub fn write_coordinator(&self) -> WriteCoordinator {
        match self {
            Workload::OpenLoop(w) => w.write_coordinator,
            Workload::StalenessProbe(_) => WriteCoordinator::FirstReachable,
        }
    }
    pub fn request_timeout_ms(&self) -> f64 {
        match self {
            Workload::OpenLoop(w) => w.request_timeout_ms,
            Workload::StalenessProbe(p) => p.request_timeout_ms,
        }
    }
    /// The share of writes that are deletes (probes never delete).
    pub fn delete_fraction(&self) -> f64 {
        match self {
            Workload::OpenLoop(w) => w.delete_fraction,
            Workload::StalenessProbe(_) => 0.0,
        }
    }
    /// The share of operations that insert a new key (probes never do).
    pub fn insert_fraction(&self) -> f64 {
        match self {
            Workload::OpenLoop(w) => w.insert_fraction,
            Workload::StalenessProbe(_) => 0.0,
        }
    }
    pub fn value_bytes(&self) -> u32 {
        match self {
            Workload::OpenLoop(w) => w.value_bytes,
            Workload::StalenessProbe(p) => p.value_bytes,
        }
    }
}

/// A scheduled fault or membership change. Node targets are given either by name
/// (`nodes`) or as a count drawn from the seed (`random_nodes`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Fault {
    Crash {
        at_s: f64,
        #[serde(default)]
        duration_s: Option<f64>,
        #[serde(default)]
        nodes: Option<Vec<String>>,
        #[serde(default)]
        random_nodes: Option<u32>,
    },
    DiskFailure {
        at_s: f64,
        #[serde(default)]
        nodes: Option<Vec<String>>,
        #[serde(default)]
        random_nodes: Option<u32>,
        replace_after_s: f64,
    },
    Partition {
        at_s: f64,
        duration_s: f64,
        groups: Vec<Vec<String>>,
    },
    DatacenterOutage {
        at_s: f64,
        duration_s: f64,
        datacenter: String,
    },
    SlowNode {
        at_s: f64,
        duration_s: f64,
        #[serde(default)]
        nodes: Option<Vec<String>>,
        #[serde(default)]
        random_nodes: Option<u32>,
        extra_ms: Distribution,
    },
    MessageLoss {
        at_s: f64,
        duration_s: f64,
        probability: f64,
    },
    ClockSkew {
        at_s: f64,
        #[serde(default)]
        duration_s: Option<f64>,
        #[serde(default)]
        nodes: Option<Vec<String>>,
        #[serde(default)]
        random_nodes: Option<u32>,
        offset_ms: f64,
    },
    RandomCrashes {
        at_s: f64,
        #[serde(default)]
        duration_s: Option<f64>,
        mtbf_s: f64,
        mttr_s: f64,
    },
    Join {
        at_s: f64,
        datacenter: String,
        count: u32,
    },
    Leave {
        at_s: f64,
        #[serde(default)]
        nodes: Option<Vec<String>>,
        #[serde(default)]
        random_nodes: Option<u32>,
    },
}

impl Fault {
    pub fn kind(&self) -> &'static str {
        match self {
            Fault::Crash { .. } => "crash",
            Fault::DiskFailure { .. } => "disk_failure",
            Fault::Partition { .. } => "partition",
            Fault::DatacenterOutage { .. } => "datacenter_outage",
            Fault::SlowNode { .. } => "slow_node",
            Fault::MessageLoss { .. } => "message_loss",
            Fault::ClockSkew { .. } => "clock_skew",
            Fault::RandomCrashes { .. } => "random_crashes",
            Fault::Join { .. } => "join",
            Fault::Leave { .. } => "leave",
        }
    }

    pub fn at_s(&self) -> f64 {
        match self {
            Fault::Crash { at_s, .. }
            | Fault::DiskFailure { at_s, .. }
            | Fault::Partition { at_s, .. }
            | Fault::DatacenterOutage { at_s, .. }
            | Fault::SlowNode { at_s, .. }
            | Fault::MessageLoss { at_s, .. }
            | Fault::ClockSkew { at_s, .. }
            | Fault::RandomCrashes { at_s, .. }
            | Fault::Join { at_s, .. }
            | Fault::Leave { at_s, .. } => *at_s,
        }
    }

    /// The node targets as written: (names, random count).
    pub fn targets(&self) -> Option<(&Option<Vec<String>>, &Option<u32>)> {
        match self {
            Fault::Crash {
                nodes,
                random_nodes,
                ..
            }
            | Fault::DiskFailure {
                nodes,
                random_nodes,
                ..
            }
            | Fault::SlowNode {
                nodes,
                random_nodes,
                ..
            }
            | Fault::ClockSkew {
                nodes,
                random_nodes,
                ..
            }
            | Fault::Leave {
                nodes,
                random_nodes,
                ..
            } => Some((nodes, random_nodes)),
            _ => None,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct Metrics {
    pub sla_ms: f64,
    pub timeline_interval_s: f64,
    /// The window load balance is also judged in (Dynamo §6.2 uses 30 minutes).
    pub balance_window_s: f64,
    /// Quiet time after the last request before the durability audit, so that hinted
    /// handoff, read repair and anti-entropy can finish.
    pub quiet_period_s: f64,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics {
            sla_ms: 300.0,
            timeline_interval_s: 10.0,
            balance_window_s: 1800.0,
            quiet_period_s: 0.0,
        }
    }
}

impl Scenario {
    /// How long a coordinator keeps an operation, in ms: the client's request timeout
    /// or the failure detector's op timeout, whichever is longer.
    pub fn op_lifetime_ms(&self) -> f64 {
        self.workload
            .request_timeout_ms()
            .max(self.failure_detector.op_timeout_ms)
    }

    /// Size of the key space the run can touch: the workload's keys (or probes) and room
    /// for every insert it can make (`OpenLoop::insert_bound`). Key ids run from 0 to
    /// this minus one; the ring and the observer are sized by it.
    pub fn key_count(&self) -> u32 {
        match &self.workload {
            Workload::OpenLoop(w) => {
                let total = u64::from(w.keys).saturating_add(w.insert_bound(self.duration_s));
                total.min(u64::from(u32::MAX)) as u32
            }
            Workload::StalenessProbe(p) => p.probes,
        }
    }

    pub fn node_count(&self) -> u32 {
        self.cluster.datacenters.iter().map(|d| d.nodes).sum()
    }

    /// Nodes joins add over the run (a node that leaves keeps its host record).
    pub fn joined_nodes(&self) -> u64 {
        (self.faults.iter())
            .map(|f| match f {
                Fault::Join { count, .. } => *count as u64,
                _ => 0,
            })
            .sum()
    }

    /// Joins and leaves: each publishes one more ring, and every ring is kept.
    pub fn membership_changes(&self) -> usize {
        (self.faults.iter())
            .filter(|f| matches!(f, Fault::Join { .. } | Fault::Leave { .. }))
            .count()
    }
}
