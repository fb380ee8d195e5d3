//! The resource guard: before a run, estimate the memory it will hold at its peak from the
//! scenario's size alone, and refuse (exit 2, nothing written) when that does not fit in
//! the memory the machine has available. A run that would swap for hours, or be killed by
//! the kernel after an hour, costs more than a clear message before it starts. The
//! estimate errs high: it counts every written key as stored on all N replicas, every
//! range with data as holding a Merkle tree, and every acknowledged write as remembered by
//! the observer. `--no-memory-check` skips the guard.
//!
//! Calibration: peak RSS (VmHWM, `dynasim run --timings`) of release builds on x86-64
//! Linux against this estimate. The peaks were measured for the shipped scenarios on
//! 2026-12-07, when the convergence tracker's lists were counted and the per-point figure
//! of a dense timeline was measured again (report.html, which embeds report.json, had
//! come since); the estimates were recomputed on 2026-12-08, when every resource queue got
//! a bound (`max_queue`, default 4,096) and hints began to be counted whenever resources
//! are finite. Those runs' outcomes did not change, so their peaks stand; `overload`'s
//! were measured again that day:
//!
//! | scenario                                           | measured  | estimated |
//! |----------------------------------------------------|----------:|----------:|
//! | `baseline` (100 nodes, 10k keys, 1000 ops/s)       |  76.7 MiB | 194.1 MiB |
//! | `baseline` with 1,000 clients                      |  95.5 MiB | 220.3 MiB |
//! | `baseline` as `ycsb_d` (30k inserts, `latest`)     | 120.2 MiB | 248.3 MiB |
//! | `baseline` with 50% inserts (300k new keys)        | 334.9 MiB | 571.3 MiB |
//! | `large-2000` (2,000 nodes)                         | 155.2 MiB |   1.6 GiB |
//! | `storm` (100k keys, 168k blind writes: siblings)   | 126.3 MiB | 240.8 MiB |
//! | `buffered-writes`                                  |  46.4 MiB | 105.4 MiB |
//! | `diurnal`                                          |  72.1 MiB | 231.0 MiB |
//! | `churn` (joins and leaves)                         |  28.3 MiB |  64.0 MiB |
//! | `node-crash`                                       |  26.6 MiB |  61.6 MiB |
//! | `node-crash` with 1 ms timeline points (330,650)   | 510.9 MiB | 591.3 MiB |
//! | `overload` (60 s at 2,000 ops/s)                   |  43.6 MiB |  76.6 MiB |
//! | `overload` at 8,000 ops/s for 15 s                 | 104.5 MiB |  77.7 MiB |
//! | `overload` at 8,000 ops/s for 60 s                 | 159.2 MiB | 124.7 MiB |
//!
//! Every queue is counted full on every node at once, which is most of `large-2000`'s
//! estimate (2,000 nodes with three 1,024-job queues: 1.4 GB) and of `diurnal`'s. The
//! runs above their estimates are `overload` at four times its load, where every disk is
//! saturated: memory stays bounded (the 60 s run peaks 55 MiB above the 15 s one; before
//! queues had a default bound the 15 s run peaked at 940 MiB and grew 45 MB/s), but a
//! saturated node is suspected while up, fallbacks take hints of the hottest keys, and
//! each such hint holds up to `max_siblings` versions while the estimate counts one; a
//! queued read's answer carries them too (about 1.1 KB a queued job there, against the
//! 244 bytes counted). Before this re-measurement, the dense timeline was
//! estimated at 383 MiB while the run peaked at 1,304 MiB: writing timeline.csv held
//! every point's fields at once (590 MB) and the simulation stayed alive beside the
//! outputs; both are gone, and a point is now counted at 1.6 KB instead of 1 KB. Earlier,
//! `storm` was estimated at 101 MiB (siblings were not counted) and, before the sessions
//! were counted, `ycsb_d` on the baseline cluster at 42.9 MiB, a third of its peak: its
//! reads follow the newest keys, so each client reads thousands of keys once. In runs
//! with many writes the session map mostly fills memory the observer's growing vectors
//! freed (`baseline`: 1 client or 100 make 1.4 MiB of difference), which is why those
//! estimates now err high.
//!
//! The figures per item below come from `size_of` plus allocator and hash-table slack
//! (about 2x for hash maps and B-trees). Two effects mattered most: only the keys a run
//! writes cost storage and Merkle leaves (the expected number of distinct keys, from the
//! key distribution), and a deep Merkle tree is mostly untouched zero pages.

use crate::engine::{Deadlines, math};
use crate::ids::RequestId;
use crate::node::phi;
use crate::node::{Message, Version, Versions, merkle};
use crate::observer::{self, Acked, causality};
use crate::ring::FALLBACKS;
use crate::scenario::{
    Admission, DetectorKind, Fault, KeyDistribution, PartitionStrategy, Scenario, Workload,
    WriteMode,
};
use std::mem::size_of;

/// What the process holds before any scenario: code, histograms, buffers.
const BASE_BYTES: f64 = 16.0 * 1024.0 * 1024.0;

/// A memory estimate, with its largest parts for the message.
#[derive(Clone, Debug)]
pub struct Estimate {
    pub bytes: u64,
    /// (what, bytes), largest first.
    pub parts: Vec<(&'static str, u64)>,
}

/// Figures of the run the estimate is built on (also useful to bound test runs).
#[derive(Clone, Debug)]
pub struct Size {
    pub nodes: f64,
    pub n: f64,
    pub keys: f64,
    /// Ring slots: partitions (strategy 3) or tokens (strategies 1 and 2).
    pub slots: f64,
    /// Client requests over the whole run (a read-modify-write counts two).
    pub requests: f64,
    pub writes: f64,
    /// Distinct keys written (expected, from the key distribution).
    pub written_keys: f64,
    /// The run's length in simulated seconds, drain and quiet period included.
    pub run_s: f64,
}

impl Size {
    pub fn of(s: &Scenario) -> Size {
        // Every node the run ever has: joined nodes keep their host records to the end.
        let nodes = (s.node_count() as u64 + s.joined_nodes()) as f64;
        let n = (s.replication.n as f64).min(nodes);
        let keys = s.key_count() as f64;
        let p = &s.cluster.partitioning;
        let slots = match p.strategy {
            PartitionStrategy::EqualPartitions => p.partitions as f64,
            _ => nodes * p.tokens_per_node as f64,
        };
        let (requests, writes, written_keys) = match &s.workload {
            Workload::OpenLoop(w) => {
                // A load curve's peak bounds its mean factor: err high.
                let factor = w.load_curve.as_ref().map_or(1.0, |c| c.peak());
                let ops = w.ops_per_s * factor * s.duration_s;
                let writes = ops * (1.0 - w.read_fraction);
                // Inserts are blind and each writes a key of its own; the other writes
                // fall on the workload's keys (counting them there errs high: some fall
                // on inserted keys, already counted).
                let inserts = (ops * w.insert_fraction).min(writes);
                let updates = writes - inserts;
                let context_reads = if w.write_mode == WriteMode::ReadModifyWrite {
                    updates
                } else {
                    0.0
                };
                let written = distinct_keys(w.keys, w.key_distribution, updates) + inserts;
                (ops + context_reads, writes, written)
            }
            Workload::StalenessProbe(p) => {
                let probes = (p.probes_per_s * s.duration_s).min(p.probes as f64);
                (2.0 * probes, probes, probes)
            }
        };
        Size {
            nodes,
            n,
            keys,
            slots,
            requests,
            writes,
            written_keys,
            run_s: crate::scenario::checks::run_end_s(s),
        }
    }
}

/// The expected number of distinct keys `draws` draws touch: sum over keys of
/// 1 - (1 - p)^draws. Exact for Zipf up to a million keys (a sum over every key);
/// above, every draw counts as a new key, which errs high.
fn distinct_keys(keys: u32, dist: KeyDistribution, draws: f64) -> f64 {
    let k = keys as f64;
    if draws <= 0.0 {
        return 0.0;
    }
    match dist {
        KeyDistribution::Uniform => k * -math::exp_m1(-draws / k),
        // `latest` is Zipf over the keys counted from the newest: the same weights.
        KeyDistribution::Zipf(_) | KeyDistribution::Latest(_) if keys > 1_000_000 => k.min(draws),
        KeyDistribution::Zipf(exponent) | KeyDistribution::Latest(exponent) => {
            let weights = (1..=keys).map(|r| math::powf(r as f64, -exponent));
            let total: f64 = weights.clone().sum();
            weights
                .map(|w| -math::exp_m1(draws * math::ln_1p(-w / total)))
                .sum::<f64>()
                .min(k)
        }
    }
}

/// The (client, key) pairs the observer's session map will hold: each client's distinct
/// keys among its reads and writes, plus one per insert (or probe).
fn session_pairs(s: &Scenario, z: &Size) -> f64 {
    let Workload::OpenLoop(w) = &s.workload else {
        return z.writes;
    };
    let clients = f64::from(w.clients.max(1));
    let factor = w.load_curve.as_ref().map_or(1.0, |c| c.peak());
    let ops = w.ops_per_s * factor * s.duration_s;
    let inserts = ops * w.insert_fraction;
    let draws = (ops - inserts).max(0.0) / clients;
    let per_client = match w.key_distribution {
        // The newest keys move as inserts arrive: count every draw as a new key.
        KeyDistribution::Latest(_) if w.insert_fraction > 0.0 => draws.min(z.keys),
        // Over every key the run can touch: a larger key space spreads the draws.
        dist => distinct_keys(z.keys as u32, dist, draws),
    };
    clients * per_client + inserts
}

/// The observer: its record of writes, and its sessions.
fn observer_parts(s: &Scenario, z: &Size, parts: &mut Vec<(&'static str, f64)>) {
    // The observer: per write, its ground-truth facts and search mark, about two parents
    // (8 bytes each) and, once acknowledged, its place in the key's list; all in vectors
    // that grow by doubling (x 1.5 on average).
    let per_write = causality::bytes_per_write() + 16 + size_of::<Acked>();
    parts.push((
        "observer",
        z.keys * 40.0 + z.writes * 1.5 * per_write as f64,
    ));
    // The observer's sessions: one hash-map entry per (client, key) the client read or
    // wrote, in a table that doubles at 7/8 full (x 2.5: its slack and, while it grows,
    // the old table beside the new). Few in most runs (they fill memory the run freed
    // earlier: baseline's 200,000 do not move its peak), they dominate a YCSB D run,
    // where reads follow the newest keys (549,000 pairs, 93 MiB).
    let session = observer::bytes_per_session() as f64 + 1.0;
    parts.push(("observer sessions", session_pairs(s, z) * session * 2.5));
}

/// Estimates the peak memory of a run of `s` (a validated scenario).
pub fn estimate(s: &Scenario) -> Estimate {
    let z = Size::of(s);
    let mut parts: Vec<(&'static str, f64)> = Vec::new();

    // Ring: preference lists (N + fallbacks per slot), owners, home slots, key slots.
    let stride = (z.n + FALLBACKS as f64).min(z.nodes);
    let mut ring = z.slots * (4.0 * stride + 4.0 + 4.0 * z.n) + 4.0 * z.keys;
    if s.cluster.partitioning.strategy != PartitionStrategy::EqualPartitions {
        ring += 16.0 * z.slots; // the sorted token list while building
    }
    // Every ring a join or leave publishes is kept (nodes and the administrator index
    // them by epoch), and one more is planned while a change runs.
    ring *= 1.0 + 2.0 * s.membership_changes() as f64;
    parts.push(("ring", ring));

    parts.push(("stored data", stored_bytes(s, &z)));
    let written_keys = z.written_keys;

    // Merkle trees: one per (replica, range with data): a sorted vector of each key's
    // contribution (16 bytes an entry, with growth slack) and a small header.
    if s.anti_entropy.enabled {
        let ranges = z.slots * -math::exp_m1(-written_keys / z.slots.max(1.0));
        let trees = ranges * z.n;
        // The keys changed since a tree was last read: at most `merkle::dirty_max` of its
        // range's keys (DIRTY_MIN, or a sixteenth of the range), and never more than the
        // writes; 4 bytes a key, with growth slack.
        let dirty =
            (trees * merkle::DIRTY_MIN as f64 + z.keys * z.n / 16.0).min(z.writes * z.n) * 8.0;
        // An exchange with data in flight holds a record per range, at most one a tree.
        parts.push((
            "Merkle trees",
            trees * (96.0 + 48.0) + written_keys * z.n * 40.0 + dirty,
        ));
    }

    observer_parts(s, &z, &mut parts);

    // The convergence tracker (`sim::convergence`): a bit per key, and its lists of keys
    // to look at and of keys still settling. A written key stands in each at most once
    // between two timeline points (again only after a later write): 4 and 12 bytes an
    // entry, in vectors that grow by doubling.
    parts.push((
        "convergence watch",
        z.keys / 8.0 + z.written_keys * (4.0 + 12.0) * 1.5,
    ));

    let event = (size_of::<crate::sim::Event>() + 16) as f64 * 2.0;
    parts.push(("workload and queue", workload_bytes(s, &z, event)));

    // Hints only pile up while faults last: at most N per key written meanwhile, and no
    // more than the stores hold. With finite resources a saturated node is suspected
    // while up, so hints can pile up all run long.
    if !s.faults.is_empty() || s.capacity.is_some() {
        let bound = z.nodes * s.replication.max_hints_per_node as f64;
        let faulty_s: f64 = s
            .faults
            .iter()
            .map(|f| fault_span_s(f, z.run_s))
            .sum::<f64>();
        let fraction = if s.capacity.is_some() {
            1.0
        } else {
            (faulty_s / z.run_s.max(1e-9)).min(1.0)
        };
        let hints = bound.min(written_keys * z.n).min(z.writes * fraction * z.n);
        parts.push(("hints", hints * 2.0 * (size_of::<Version>() as f64 + 16.0)));
    }

    if let Some(c) = &s.capacity {
        parts.push(("capacity", capacity_bytes(s, c, &z, event)));
    }

    // Phi accrual: per node, a history of heartbeat gaps for each neighbour (the nodes of
    // the preference lists of the ranges it is a home replica of), in a B-tree.
    if s.failure_detector.kind == DetectorKind::PhiAccrual {
        let neighbours = (z.slots * z.n / z.nodes.max(1.0) * stride).min(z.nodes - 1.0);
        let per_peer = phi::WINDOW as f64 * 4.0 + 2.0 * 64.0;
        parts.push(("failure detector", z.nodes * neighbours.max(0.0) * per_peer));
    }

    // Timeline points and random crash schedules.
    let points = timeline_points(s, &z);
    let mut windows = 0.0;
    for f in &s.faults {
        if let Fault::RandomCrashes { mtbf_s, mttr_s, .. } = f {
            windows += z.nodes * z.run_s / (mtbf_s + mttr_s).max(1e-3);
        }
    }
    // Each point is kept as a struct (about 230 bytes), then as report.json text (about
    // 540 bytes pretty, in a string grown by doubling) while report.html, which embeds
    // that text, is written: measured at about 1.45 KiB a point at the peak (node-crash
    // at 1 ms points: 330,650 points, 511 MiB peak, 177 MB report.json and report.html).
    parts.push((
        "timeline and fault plan",
        points * 1_600.0 + windows * 120.0,
    ));

    // 5% over the parts: allocator slack the items do not name (measured 1-2% above the
    // items' sum on baseline and large-2000).
    let total = BASE_BYTES + 1.05 * parts.iter().map(|(_, b)| b).sum::<f64>();
    let mut parts: Vec<(&'static str, u64)> =
        parts.into_iter().map(|(w, b)| (w, saturate(b))).collect();
    parts.sort_by_key(|p| std::cmp::Reverse(p.1));
    Estimate {
        bytes: saturate(total),
        parts,
    }
}

/// The points of the run's timeline.
fn timeline_points(s: &Scenario, z: &Size) -> f64 {
    z.run_s / s.metrics.timeline_interval_s.max(1e-3)
}

/// What a run of `s` holds at its peak (`estimate`'s bytes), for `check_fits_together`.
pub fn estimate_for_run(s: &Scenario) -> u64 {
    estimate(s).bytes
}

/// What `check` holds at its peak for a run of `s`: the run's estimate, and two parsed
/// reports, the new one and its baseline, walked side by side. About 160 bytes a field in
/// each, 20 fields a timeline point: node-crash with 1 ms points (330,650 points,
/// 6,283,170 fields) peaked at 2.27 GiB under `check` against 511 MiB under `run`,
/// 146 bytes a field a report above the run's peak. The rest of a report is about 2,000
/// fields.
pub fn estimate_for_check(s: &Scenario) -> u64 {
    let z = Size::of(s);
    let fields = timeline_points(s, &z) * 20.0 + 2_000.0;
    estimate_for_run(s).saturating_add(saturate(2.0 * fields * 160.0))
}

/// Workload: Zipf's cumulative and guide tables, clients, the queue's slots, and what
/// waits: every request's timers for one operation lifetime (the client's timeout and up
/// to three of its coordinator's, in deadline lanes that may stand at twice their
/// length), every message in the queue for its transit. `event`: bytes a queued event takes.
fn workload_bytes(s: &Scenario, z: &Size, event: f64) -> f64 {
    let mut workload = s.workload.clients() as f64 * 400.0;
    if let Workload::OpenLoop(w) = &s.workload
        && matches!(
            w.key_distribution,
            KeyDistribution::Zipf(_) | KeyDistribution::Latest(_)
        )
    {
        workload += 12.0 * z.keys;
    }
    let request_rate = z.requests / s.duration_s.max(1e-9);
    let lifetime_s = s.op_lifetime_ms() / 1_000.0;
    let waiting_requests = z.requests.min(request_rate * lifetime_s);
    let deadlines = 4.0 * 2.0 * Deadlines::<RequestId, 1>::ENTRY_BYTES as f64;
    let latency_s = slowest_mean_latency_ms(s) / 1_000.0;
    let queued_messages =
        (z.requests * (2.0 * z.n + 2.0)).min(request_rate * (2.0 * z.n + 2.0) * latency_s);
    workload += waiting_requests * (deadlines + 100.0)
        + queued_messages * (event + size_of::<Message>() as f64);
    // Membership polls: every client asks every `client_refresh_s`, a request and a reply
    // in flight per client at a time.
    let polls_in_flight = s.workload.clients() as f64
        * (2.0 * latency_s / s.membership.client_refresh_s.max(1e-3)).clamp(0.0, 1.0)
        * 2.0;
    workload += polls_in_flight * (event + size_of::<Message>() as f64);
    workload += crate::engine::queue::FIXED_BYTES as f64;
    workload
}

/// Stored data: every written key on N replicas (hash map entry with slack), and the
/// versions' clocks (shared between replicas; siblings under blind writes).
fn stored_bytes(s: &Scenario, z: &Size) -> f64 {
    let written_keys = z.written_keys;
    let entry = 2.0 * (size_of::<Versions>() as f64 + 8.0);
    let clock = 16.0 + 16.0 * z.n.max(1.0);
    let live_versions = z.writes.min(written_keys * 4.0);
    // Blind writes under a scheme that keeps concurrent versions leave siblings: every
    // version past a key's first sits on the heap of each replica's set (the set grows by
    // doubling). Underestimated 25-35% before (storm: 168,000 blind writes on 81,000 keys).
    let keeps_siblings = s.replication.versioning != crate::scenario::Versioning::LastWriteWins;
    let blind = matches!(&s.workload, Workload::OpenLoop(w) if w.write_mode == WriteMode::Blind);
    let siblings = if blind && keeps_siblings {
        (live_versions - written_keys).max(0.0) * z.n * 2.0 * size_of::<Version>() as f64
    } else {
        0.0
    };
    written_keys * z.n * entry + live_versions * clock + siblings + z.nodes * 1024.0
}

/// Finite resources' memory: per host its servers, admission lane and write buffer (keys
/// with their disk copies), the queueing-delay histograms (kept twice: the run's and the
/// outcome's), and jobs waiting in the disk, CPU and network queues (each an event
/// holding its message), every queue counted full at its bound (`max_queue` or
/// `DEFAULT_MAX_QUEUE`) on every node at once.
fn capacity_bytes(s: &Scenario, c: &crate::scenario::Capacity, z: &Size, event: f64) -> f64 {
    let servers =
        c.disk.as_ref().map_or(0, |d| d.concurrency) + c.cpu.as_ref().map_or(0, |c| c.threads);
    let mut bytes = 2.0 * 3.0 * 300_000.0 + z.nodes * (512.0 + 8.0 * servers as f64);
    if let Some(b) = &s.storage.write_buffer {
        let entry = 2.0 * (size_of::<Versions>() as f64 + size_of::<Version>() as f64 + 16.0);
        bytes += z.nodes * (b.objects as f64).min(z.written_keys) * entry;
    }
    let bound = c.disk.as_ref().map_or(0, |d| d.queue_bound())
        + c.cpu.as_ref().map_or(0, |c| c.queue_bound())
        + c.network.as_ref().map_or(0, |n| n.queue_bound());
    bytes += z.nodes * bound as f64 * (event + size_of::<Message>() as f64 + 8.0);
    // Admission control: each host's lane holds at most `MAX_LANE_JOBS` background
    // messages carrying at most `MAX_LANE_OBJECTS` keys in all (or one batch alone that
    // carries more), counted full on every node: each job an event or two (a waiting job
    // is one event, re-armed while it waits) and its message; each key its version set
    // and clocks. A transfer batch (a tick of the transfer rate) carries the most keys.
    // Anti-entropy data is one exchange of a range at a time each way: its keys.
    if c.background
        .as_ref()
        .is_some_and(|b| b.admission == Admission::Dynamo)
    {
        let value = s.workload.value_bytes().max(1) as f64;
        let tick_bytes = s.membership.transfer_rate_bytes_per_s
            * crate::node::membership::TRANSFER_TICK.as_secs_f64();
        let batch = if s.membership_changes() > 0 {
            (tick_bytes / (value + 16.0)).ceil() + 1.0
        } else {
            1.0
        };
        let entry = 1.5 * (size_of::<(crate::ids::KeyId, Versions)>() as f64 + 16.0 * z.n + 16.0);
        let jobs = crate::sim::resources::MAX_LANE_JOBS as f64;
        let keys = (jobs * batch).min(batch.max(crate::sim::resources::MAX_LANE_OBJECTS as f64));
        let lane = jobs * (2.0 * event + size_of::<Message>() as f64) + keys * entry;
        let exchange = 2.0 * (z.written_keys / z.slots.max(1.0)).ceil() * entry;
        bytes += z.nodes * (lane + exchange);
    }
    bytes
}

/// How long a fault lasts, in seconds (to the end of the run when it has no end).
fn fault_span_s(f: &Fault, run_s: f64) -> f64 {
    let rest = (run_s - f.at_s()).max(0.0);
    let d = match f {
        Fault::Crash { duration_s, .. }
        | Fault::ClockSkew { duration_s, .. }
        | Fault::RandomCrashes { duration_s, .. } => duration_s.unwrap_or(rest),
        Fault::DiskFailure {
            replace_after_s, ..
        } => *replace_after_s,
        Fault::Partition { duration_s, .. }
        | Fault::DatacenterOutage { duration_s, .. }
        | Fault::SlowNode { duration_s, .. }
        | Fault::MessageLoss { duration_s, .. } => *duration_s,
        _ => rest,
    };
    d.min(rest)
}

/// The largest mean over the latency distributions (ms); heavy tails without a mean
/// count as their scale parameter, which only matters for the queue estimate.
fn slowest_mean_latency_ms(s: &Scenario) -> f64 {
    let l = &s.network.latency_ms;
    [&l.local, &l.intra_dc, &l.inter_dc]
        .into_iter()
        .chain(s.network.by_message_ms.values())
        .map(|d| d.mean().unwrap_or(0.0))
        .filter(|m| m.is_finite())
        .fold(0.0, f64::max)
}

fn saturate(x: f64) -> u64 {
    if x.is_finite() && x > 0.0 {
        x.min(u64::MAX as f64) as u64
    } else if x > 0.0 {
        u64::MAX
    } else {
        0
    }
}

/// The memory this machine has available for a new process (`MemAvailable` in
/// /proc/meminfo), or `None` where that cannot be read.
pub fn available_bytes() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    parse_mem_available(&text)
}

fn parse_mem_available(meminfo: &str) -> Option<u64> {
    let line = meminfo.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let mut words = line.split_whitespace().skip(1);
    let value: u64 = words.next()?.parse().ok()?;
    match words.next() {
        Some("kB") | None => value.checked_mul(1024),
        _ => None,
    }
}

/// Refuses a run whose estimate exceeds `available` bytes; `Ok` carries the estimate.
pub fn check_fits(s: &Scenario, available: Option<u64>) -> Result<Estimate, String> {
    let e = estimate(s);
    let Some(available) = available else {
        return Ok(e);
    };
    if e.bytes <= available {
        return Ok(e);
    }
    let parts: Vec<String> = e
        .parts
        .iter()
        .take(3)
        .map(|(what, b)| format!("{what} {}", human(*b)))
        .collect();
    Err(format!(
        "scenario {:?} would need about {} of memory ({}), but only {} is available (MemAvailable in /proc/meminfo); shrink it (nodes, keys, partitions, anti_entropy.merkle_depth, ops_per_s x duration_s) or pass --no-memory-check to run anyway",
        s.name,
        human(e.bytes),
        parts.join(", "),
        human(available)
    ))
}

/// Whether runs of `scenarios`, up to `jobs` at a time, fit in `available` bytes, each
/// needing `bytes_of` it (`estimate_for_run` or `estimate_for_check`): the `jobs`
/// largest are the worst moment. Names the largest when they do not.
pub fn check_fits_together(
    scenarios: &[&Scenario],
    jobs: usize,
    available: Option<u64>,
    bytes_of: impl Fn(&Scenario) -> u64,
) -> Result<(), String> {
    let Some(available) = available else {
        return Ok(());
    };
    let mut sized: Vec<(u64, &str)> = (scenarios.iter())
        .map(|s| (bytes_of(s), s.name.as_str()))
        .collect();
    sized.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(b.1)));
    let at_once = &sized[..jobs.max(1).min(sized.len())];
    let together: u64 = at_once.iter().map(|(b, _)| *b).fold(0, u64::saturating_add);
    if together <= available {
        return Ok(());
    }
    let (largest, name) = at_once[0];
    Err(format!(
        "{} run(s) at once would need about {} of memory (the largest, {name:?}, about {}), but only {} is available (MemAvailable in /proc/meminfo); lower --jobs, shrink the scenario, or pass --no-memory-check to run anyway",
        at_once.len(),
        human(together),
        human(largest),
        human(available)
    ))
}

/// Bytes in binary units, one decimal.
pub fn human(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = bytes as f64;
    let mut unit = 0;
    while v >= 1024.0 && unit + 1 < UNITS.len() {
        v /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{v:.1} {}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_mem_available() {
        let text = "MemTotal: 100 kB\nMemFree: 5 kB\nMemAvailable:    2048 kB\n";
        assert_eq!(parse_mem_available(text), Some(2 * 1024 * 1024));
        assert_eq!(parse_mem_available("MemTotal: 1 kB\n"), None);
        assert_eq!(parse_mem_available("MemAvailable: lots\n"), None);
    }

    #[test]
    fn distinct_keys_follow_the_distribution() {
        let uniform = distinct_keys(1_000, KeyDistribution::Uniform, 1_000.0);
        assert!((uniform - 632.1).abs() < 1.0, "{uniform}"); // 1 - 1/e of the keys
        let zipf = distinct_keys(1_000, KeyDistribution::Zipf(1.0), 1_000.0);
        assert!(zipf < uniform && zipf > 100.0, "{zipf}");
        assert_eq!(distinct_keys(10, KeyDistribution::Uniform, 0.0), 0.0);
        assert!(distinct_keys(10, KeyDistribution::Zipf(0.5), 1e9) <= 10.0);
    }

    #[test]
    fn the_convergence_watch_counts_a_written_key() {
        let scenario = |keys: u32| {
            let text = format!(
                r#"{{"name": "t", "duration_s": 100,
                "cluster": {{"datacenters": [{{"name": "dc", "nodes": 10}}]}},
                "workload": {{"kind": "open_loop", "ops_per_s": 1000, "clients": 1,
                              "keys": {keys}, "read_fraction": 0.0,
                              "key_distribution": "uniform"}}}}"#
            );
            crate::scenario::load_str(&text, "t", &[]).expect("valid")
        };
        let part = |keys: u32| {
            let e = estimate(&scenario(keys));
            let found = e
                .parts
                .iter()
                .find(|(what, _)| *what == "convergence watch");
            found.map(|(_, bytes)| *bytes).expect("a convergence part")
        };
        // 100,000 writes over 1,000 keys touch them all; over a million keys, about
        // 95,000 of them: 24 bytes each, and a bit per key.
        assert_eq!(part(1_000), 1_000 / 8 + 24 * 1_000);
        let many = part(1_000_000);
        assert!((2_250_000..2_450_000).contains(&many), "{many}");
    }

    #[test]
    fn human_units() {
        assert_eq!(human(512), "512 B");
        assert_eq!(human(3 * 1024 * 1024 * 1024 / 2), "1.5 GiB");
    }

    /// `base` with `--set` edits, loaded and validated.
    fn load_with(base: &str, sets: &[&str]) -> Scenario {
        let sets: Vec<String> = sets.iter().map(|s| s.to_string()).collect();
        let sets = crate::scenario::parse_sets(&sets).expect("well formed");
        crate::scenario::load_str(base, "t", &sets).expect("valid")
    }

    #[test]
    fn bounded_queues_and_write_buffers_count_in_the_estimate() {
        let base = r#"{"name": "t", "duration_s": 10,
            "cluster": {"datacenters": [{"name": "dc", "nodes": 100}]},
            "workload": {"kind": "open_loop", "ops_per_s": 100, "clients": 1, "keys": 100000}}"#;
        let load = |sets: &[&str]| load_with(base, sets);
        let plain = estimate(&load(&[])).bytes;
        let disk = estimate(&load(&["capacity.disk.concurrency=4"])).bytes;
        let bounded = estimate(&load(&[
            "capacity.disk.concurrency=4",
            "capacity.disk.max_queue=10000",
        ]))
        .bytes;
        let buffered = estimate(&load(&[
            "capacity.disk.concurrency=4",
            "storage.write_buffer={\"objects\": 1000, \"flush_interval_ms\": 1000}",
        ]))
        .bytes;
        assert!(plain < disk && disk < bounded && disk < buffered);
        // 100 nodes x 10,000 waiting jobs, each an event with its message.
        assert!(bounded - disk > 100 * 10_000 * 100, "{}", bounded - disk);
    }

    #[test]
    fn admission_lanes_count_their_bounded_keys_not_full_batches_in_every_job() {
        let base = r#"{"name": "t", "duration_s": 100,
            "cluster": {"datacenters": [{"name": "dc", "nodes": 10}]},
            "workload": {"kind": "open_loop", "ops_per_s": 100, "clients": 1, "keys": 1000,
                         "value_bytes": 100},
            "membership": {"transfer_rate_bytes_per_s": 10000000},
            "capacity": {"disk": {"concurrency": 1}},
            "faults": [{"kind": "leave", "at_s": 50, "nodes": ["dc-1"]}]}"#;
        let load = |sets: &[&str]| load_with(base, sets);
        let without = estimate(&load(&[])).bytes;
        let with = estimate(&load(&["capacity.background={\"admission\": \"dynamo\"}"])).bytes;
        // A batch of a 10 MB/s transfer's tick holds about 8,600 keys of 100 bytes: 256
        // such jobs would be 2.2 million keys a lane; the lane holds at most 65,536.
        let per_lane = (with - without) / 10;
        let objects = crate::sim::resources::MAX_LANE_OBJECTS;
        assert!(per_lane > objects * 64, "{per_lane}");
        assert!(per_lane < objects * 1024, "{per_lane}");
    }
}
