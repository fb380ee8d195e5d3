//! Semantic checks on a parsed scenario. Each error names the JSON path, the bad value and
//! what is allowed. Validation never stops at the first problem: users fix files faster
//! when they see them all.

use super::checks::num;
use super::checks::resolve_node_name;
use super::error::{ScenarioError, nearest};
use super::{Fault, KeyDistribution, OpenLoop, Scenario, Workload};
use crate::engine::dist::Distribution;
use crate::vocab::MessageKind;
use std::collections::BTreeSet;

/// Upper bounds that keep a run inside a machine's reach; the guard against absurd input.
const MAX_NODES: u32 = 1_000_000;
const MAX_N: u32 = 64;
const MAX_DURATION_S: f64 = 365.0 * 24.0 * 3600.0;
/// The shortest membership poll period a client may have.
const MIN_CLIENT_REFRESH_S: f64 = 0.01;
/// Heartbeats more often than this would fill the event queue without telling more.
const MIN_HEARTBEAT_S: f64 = 0.01;
/// Servers per node resource (disk concurrency, CPU threads): each is scanned per job.
const MAX_SERVERS: u32 = 1_024;
/// Jobs one resource queue may hold (`max_queue`).
const MAX_QUEUE: u32 = 10_000_000;
/// 1 TB/s: past any disk or network interface.
const MAX_BYTES_PER_S: f64 = 1e12;

/// Every semantic rule of the scenario format, section by section, in the order users
/// see the errors.
// long: a flat list of independent rules whose order fixes the order of error messages;
// a split into one helper per section is planned (see ARCHITECTURE.md, known debts).
pub fn validate(s: &Scenario) -> Vec<ScenarioError> {
    let mut errors = Vec::new();
    let mut err = |path: &str, message: String| errors.push(ScenarioError::new(path, message));

    if s.name.trim().is_empty() {
        err(
            "name",
            "is empty; give the scenario a name (it names the report folder)".into(),
        );
    } else if s.name.contains(['/', '\\']) || s.name == "." || s.name == ".." {
        err(
            "name",
            format!(
                "{:?} cannot name a folder: a name may not contain '/' or '\\' nor be '.' or '..' (letters, digits, '-' and '_' are always safe)",
                s.name
            ),
        );
    }
    positive(&mut err, "duration_s", s.duration_s, MAX_DURATION_S);

    // Cluster
    let dcs = &s.cluster.datacenters;
    if dcs.is_empty() {
        err(
            "cluster.datacenters",
            "is empty; list at least one {\"name\", \"nodes\"}".into(),
        );
    }
    let mut dc_names = BTreeSet::new();
    for (i, dc) in dcs.iter().enumerate() {
        let path = format!("cluster.datacenters[{i}]");
        if dc.name.is_empty() || dc.name.contains(char::is_whitespace) {
            err(
                &format!("{path}.name"),
                format!(
                    "{:?} is not allowed; use a non-empty name without spaces",
                    dc.name
                ),
            );
        }
        if !dc_names.insert(dc.name.as_str()) {
            err(
                &format!("{path}.name"),
                format!(
                    "{:?} is used twice; datacenter names must be unique",
                    dc.name
                ),
            );
        }
        if dc.nodes == 0 {
            err(
                &format!("{path}.nodes"),
                "0 is not allowed; a datacenter needs at least 1 node".into(),
            );
        }
    }
    let node_count: u64 = dcs.iter().map(|d| d.nodes as u64).sum();
    // Every node a join adds is kept for the whole run (its host, its report line).
    let joined: u64 = (s.faults.iter())
        .map(|f| match f {
            Fault::Join { count, .. } => u64::from(*count),
            _ => 0,
        })
        .sum();
    if node_count > MAX_NODES as u64 {
        err(
            "cluster.datacenters",
            format!("{node_count} nodes in all; at most {MAX_NODES} are supported"),
        );
    } else if node_count + joined > MAX_NODES as u64 {
        err(
            "faults",
            format!(
                "joins add {joined} nodes to the {node_count} the cluster starts with; at most \
                 {MAX_NODES} nodes in all (with every join) are supported"
            ),
        );
    }
    let p = &s.cluster.partitioning;
    use super::PartitionStrategy::*;
    if matches!(p.strategy, EqualPartitions | RandomTokensEqualPartitions)
        && !(1..=(1 << 24)).contains(&p.partitions)
    {
        err(
            "cluster.partitioning.partitions",
            format!("{} is not allowed; use 1 to 16777216", p.partitions),
        );
    }
    if matches!(p.strategy, EqualPartitions) && (p.partitions as u64) < node_count {
        err(
            "cluster.partitioning.partitions",
            format!(
                "{} partitions for {node_count} nodes; strategy 3 needs at least one partition per node",
                p.partitions
            ),
        );
    } else if matches!(p.strategy, EqualPartitions) {
        let peak = peak_cluster_size(s, node_count);
        if (p.partitions as u64) < peak {
            err(
                "cluster.partitioning.partitions",
                format!(
                    "{} partitions, but joins grow the cluster to {peak} nodes; strategy 3 needs at least one partition per node at every moment",
                    p.partitions
                ),
            );
        }
    }
    if matches!(p.strategy, RandomTokens | RandomTokensEqualPartitions)
        && !(1..=4096).contains(&p.tokens_per_node)
    {
        err(
            "cluster.partitioning.tokens_per_node",
            format!("{} is not allowed; use 1 to 4096", p.tokens_per_node),
        );
    }

    // Replication
    let r = &s.replication;
    if !(1..=MAX_N).contains(&r.n) {
        err(
            "replication.n",
            format!("{} is not allowed; N must be 1 to {MAX_N}", r.n),
        );
    } else if r.n as u64 > node_count && node_count > 0 {
        err(
            "replication.n",
            format!("{} is more than the {node_count} nodes of the cluster", r.n),
        );
    }
    if !(1..=r.n).contains(&r.r) {
        err(
            "replication.r",
            format!(
                "{} is not allowed; R must be between 1 and N ({})",
                r.r, r.n
            ),
        );
    }
    if !(1..=r.n).contains(&r.w) {
        err(
            "replication.w",
            format!(
                "{} is not allowed; W must be between 1 and N ({})",
                r.w, r.n
            ),
        );
    }
    if r.max_siblings == Some(0) {
        err(
            "replication.max_siblings",
            "0 is not allowed; allow at least 1 version per key, or null for no limit".into(),
        );
    }
    if let Some(grace) = r.tombstone_gc_grace_s {
        positive(&mut err, "replication.tombstone_gc_grace_s", grace, 1e9);
    }
    if let Some(window) = r.hint_window_s {
        positive(&mut err, "replication.hint_window_s", window, 1e9);
    }
    if let Some(rate) = r.hint_handoff_bytes_per_s {
        positive(&mut err, "replication.hint_handoff_bytes_per_s", rate, 1e15);
    }
    if r.vclock_max_entries == 0 {
        err(
            "replication.vclock_max_entries",
            "0 is not allowed; keep at least 1 entry".into(),
        );
    }
    nonneg(
        &mut err,
        "replication.read_repair_window_ms",
        r.read_repair_window_ms,
        3.6e6,
    );
    positive(
        &mut err,
        "replication.hint_scan_interval_s",
        r.hint_scan_interval_s,
        MAX_DURATION_S,
    );

    positive(
        &mut err,
        "anti_entropy.interval_s",
        s.anti_entropy.interval_s,
        MAX_DURATION_S,
    );
    if !(1..=24).contains(&s.anti_entropy.merkle_depth) {
        err(
            "anti_entropy.merkle_depth",
            format!(
                "{} is not allowed; use 1 to 24",
                s.anti_entropy.merkle_depth
            ),
        );
    }
    positive(
        &mut err,
        "gossip.interval_s",
        s.gossip.interval_s,
        MAX_DURATION_S,
    );
    positive(
        &mut err,
        "membership.transfer_rate_bytes_per_s",
        s.membership.transfer_rate_bytes_per_s,
        1e15,
    );
    positive(
        &mut err,
        "membership.client_refresh_s",
        s.membership.client_refresh_s,
        MAX_DURATION_S,
    );
    // Every client polls at this period: below 10 ms the polls swamp the event queue (1e-7
    // s grew to 1.5 GB in 4 simulated seconds) and measure nothing Dynamo clients do.
    let refresh = s.membership.client_refresh_s;
    if refresh.is_finite() && refresh > 0.0 && refresh < MIN_CLIENT_REFRESH_S {
        err(
            "membership.client_refresh_s",
            format!(
                "{} is not allowed; clients poll at most every {MIN_CLIENT_REFRESH_S} s (Dynamo's poll every 10 s)",
                super::checks::num(refresh)
            ),
        );
    }
    positive(
        &mut err,
        "failure_detector.probe_interval_s",
        s.failure_detector.probe_interval_s,
        MAX_DURATION_S,
    );
    positive(
        &mut err,
        "failure_detector.client_retry_s",
        s.failure_detector.client_retry_s,
        MAX_DURATION_S,
    );
    positive(
        &mut err,
        "failure_detector.op_timeout_ms",
        s.failure_detector.op_timeout_ms,
        3.6e6,
    );
    positive(
        &mut err,
        "failure_detector.phi_threshold",
        s.failure_detector.phi_threshold,
        1000.0,
    );
    positive(
        &mut err,
        "failure_detector.heartbeat_interval_s",
        s.failure_detector.heartbeat_interval_s,
        MAX_DURATION_S,
    );
    let heartbeat = s.failure_detector.heartbeat_interval_s;
    if heartbeat > 0.0 && heartbeat < MIN_HEARTBEAT_S {
        err(
            "failure_detector.heartbeat_interval_s",
            format!(
                "{} is not allowed; heartbeats go at most every {MIN_HEARTBEAT_S} s (Cassandra gossips every 1 s)",
                super::checks::num(heartbeat)
            ),
        );
    }
    if r.hint_handoff_batch == 0 {
        err(
            "replication.hint_handoff_batch",
            "0 is not allowed; hand off at least 1 hint per scan".into(),
        );
    }

    // Network and storage
    let lat = &s.network.latency_ms;
    dist(&mut err, "network.latency_ms.local", &lat.local);
    dist(&mut err, "network.latency_ms.intra_dc", &lat.intra_dc);
    dist(&mut err, "network.latency_ms.inter_dc", &lat.inter_dc);
    if let Some(d) = &s.network.inter_dc_added_ms {
        dist(&mut err, "network.inter_dc_added_ms", d);
    }
    for (kind, d) in &s.network.by_message_ms {
        let path = format!("network.by_message_ms.{kind}");
        if !MessageKind::NAMES.contains(&kind.as_str()) {
            let hint = nearest(kind, MessageKind::NAMES.iter().copied())
                .map(|n| format!("did you mean `{n}`? "))
                .unwrap_or_default();
            err(
                &path,
                format!(
                    "unknown message kind {kind:?}; {hint}known: {}",
                    MessageKind::NAMES.join(", ")
                ),
            );
        }
        dist(&mut err, &path, d);
    }
    probability(
        &mut err,
        "network.drop_probability",
        s.network.drop_probability,
    );
    dist(&mut err, "storage.read_ms", &s.storage.read_ms);
    dist(&mut err, "storage.write_ms", &s.storage.write_ms);
    if let Some(b) = &s.storage.write_buffer {
        if b.objects == 0 {
            err(
                "storage.write_buffer.objects",
                "0 is not allowed; the buffer holds at least 1 object".into(),
            );
        }
        positive(
            &mut err,
            "storage.write_buffer.flush_interval_ms",
            b.flush_interval_ms,
            MAX_DURATION_S * 1e3,
        );
        if s.capacity.as_ref().is_none_or(|c| c.disk.is_none()) {
            err(
                "storage.write_buffer",
                "needs capacity.disk: the buffer saves time on a finite disk".into(),
            );
        }
    }
    if s.replication.durable_writes > s.replication.n {
        err(
            "replication.durable_writes",
            format!(
                "{} is not allowed; at most N = {} replicas can write a put durably",
                s.replication.durable_writes, s.replication.n
            ),
        );
    }
    if let Some(bps) = s.storage.bytes_per_s {
        positive(&mut err, "storage.bytes_per_s", bps, MAX_BYTES_PER_S);
    }

    // Capacity
    if let Some(c) = &s.capacity {
        if let Some(d) = &c.disk {
            servers(&mut err, "capacity.disk.concurrency", d.concurrency);
            queue_bound(&mut err, "capacity.disk.max_queue", d.max_queue);
        }
        if let Some(cpu) = &c.cpu {
            servers(&mut err, "capacity.cpu.threads", cpu.threads);
            queue_bound(&mut err, "capacity.cpu.max_queue", cpu.max_queue);
            dist(&mut err, "capacity.cpu.per_message_ms", &cpu.per_message_ms);
        }
        if let Some(b) = &c.background {
            positive(
                &mut err,
                "capacity.background.target_disk_latency_ms",
                b.target_disk_latency_ms,
                MAX_DURATION_S * 1e3,
            );
            if !(b.max_share.is_finite() && b.max_share > 0.0 && b.max_share <= 1.0) {
                err(
                    "capacity.background.max_share",
                    format!(
                        "{} is not allowed; a share of the disk's time is > 0 and <= 1",
                        b.max_share
                    ),
                );
            }
            if b.admission == super::Admission::Dynamo && c.disk.is_none() {
                err(
                    "capacity.background.admission",
                    "\"dynamo\" needs capacity.disk: admission control shares a finite disk".into(),
                );
            }
        }
        if let Some(n) = &c.network {
            positive(
                &mut err,
                "capacity.network.node_bytes_per_s",
                n.node_bytes_per_s,
                MAX_BYTES_PER_S,
            );
            queue_bound(&mut err, "capacity.network.max_queue", n.max_queue);
        }
    }

    // Workload
    match &s.workload {
        Workload::OpenLoop(w) => open_loop(s, w, &mut err),
        Workload::StalenessProbe(p) => {
            if p.probes == 0 {
                err(
                    "workload.probes",
                    "0 is not allowed; at least 1 probe".into(),
                );
            }
            positive(&mut err, "workload.probes_per_s", p.probes_per_s, 1e9);
            dist(&mut err, "workload.read_delay_ms", &p.read_delay_ms);
            if p.clients == 0 {
                err(
                    "workload.clients",
                    "0 is not allowed; at least 1 client".into(),
                );
            }
            positive(
                &mut err,
                "workload.request_timeout_ms",
                p.request_timeout_ms,
                3.6e6,
            );
        }
    }

    positive(&mut err, "metrics.sla_ms", s.metrics.sla_ms, 3.6e6);
    positive(
        &mut err,
        "metrics.timeline_interval_s",
        s.metrics.timeline_interval_s,
        MAX_DURATION_S,
    );
    positive(
        &mut err,
        "metrics.balance_window_s",
        s.metrics.balance_window_s,
        MAX_DURATION_S,
    );
    nonneg(
        &mut err,
        "metrics.quiet_period_s",
        s.metrics.quiet_period_s,
        MAX_DURATION_S,
    );

    for (i, fault) in s.faults.iter().enumerate() {
        validate_fault(s, i, fault, &mut err);
    }
    let found = super::checks::check(s, &errors);
    errors.extend(found);
    errors
}

// long: one match over the fault kinds, each arm a few independent rules; a split into one
// helper per kind is planned (see ARCHITECTURE.md, known debts).
fn validate_fault(s: &Scenario, i: usize, fault: &Fault, err: &mut impl FnMut(&str, String)) {
    let path = |field: &str| format!("faults[{i}].{field}");
    let dc_exists = |name: &str| s.cluster.datacenters.iter().any(|d| d.name == name);
    // A leave may name a node that an earlier join adds.
    let node_exists = |name: &str| match fault {
        Fault::Leave { .. } => resolve_future_node_name(s, name),
        _ => resolve_node_name(s, name).is_some(),
    };
    nonneg(err, &path("at_s"), fault.at_s(), MAX_DURATION_S);

    if let Some((nodes, random)) = fault.targets() {
        match (nodes, random) {
            (Some(_), Some(_)) => err(
                &path("random_nodes"),
                "give either `nodes` or `random_nodes`, not both".into(),
            ),
            (None, None) => err(
                &path("nodes"),
                "is missing; name the target nodes or give `random_nodes`: K".into(),
            ),
            (None, Some(k)) if *k == 0 || *k > s.node_count() => err(
                &path("random_nodes"),
                format!("{k} is not allowed; pick 1 to {} nodes", s.node_count()),
            ),
            _ => {}
        }
        if let Some(names) = nodes {
            let mut seen = BTreeSet::new();
            for (j, name) in names.iter().enumerate() {
                if !node_exists(name) {
                    err(
                        &format!("faults[{i}].nodes[{j}]"),
                        unknown_node_message(s, name),
                    );
                } else if !seen.insert(name.as_str()) {
                    err(
                        &format!("faults[{i}].nodes[{j}]"),
                        format!("{name:?} is listed twice"),
                    );
                }
            }
            if names.is_empty() {
                err(&path("nodes"), "is empty; name at least one node".into());
            }
        }
    }
    match fault {
        Fault::Crash { duration_s, .. } | Fault::ClockSkew { duration_s, .. } => {
            if let Some(d) = duration_s {
                positive(err, &path("duration_s"), *d, MAX_DURATION_S);
            }
        }
        Fault::RandomCrashes {
            duration_s,
            mtbf_s,
            mttr_s,
            ..
        } => {
            if let Some(d) = duration_s {
                positive(err, &path("duration_s"), *d, MAX_DURATION_S);
            }
            positive(err, &path("mtbf_s"), *mtbf_s, MAX_DURATION_S);
            positive(err, &path("mttr_s"), *mttr_s, MAX_DURATION_S);
        }
        Fault::DiskFailure {
            replace_after_s, ..
        } => positive(
            err,
            &path("replace_after_s"),
            *replace_after_s,
            MAX_DURATION_S,
        ),
        Fault::Partition {
            duration_s, groups, ..
        } => {
            positive(err, &path("duration_s"), *duration_s, MAX_DURATION_S);
            if groups.len() < 2 {
                err(
                    &path("groups"),
                    format!(
                        "has {} group(s); a partition needs at least 2",
                        groups.len()
                    ),
                );
            }
            let mut seen = BTreeSet::new();
            for (g, group) in groups.iter().enumerate() {
                if group.is_empty() {
                    err(
                        &format!("faults[{i}].groups[{g}]"),
                        "is empty; list datacenter or node names".into(),
                    );
                }
                for (j, name) in group.iter().enumerate() {
                    let p = format!("faults[{i}].groups[{g}][{j}]");
                    if !dc_exists(name) && !node_exists(name) {
                        err(
                            &p,
                            format!(
                                "{name:?} is neither a datacenter nor a node; {}",
                                known_names_hint(s, name)
                            ),
                        );
                    } else if !seen.insert(name.as_str()) {
                        err(
                            &p,
                            format!(
                                "{name:?} appears in more than one place; each name may appear once"
                            ),
                        );
                    }
                }
            }
        }
        Fault::DatacenterOutage {
            duration_s,
            datacenter,
            ..
        } => {
            positive(err, &path("duration_s"), *duration_s, MAX_DURATION_S);
            if !dc_exists(datacenter) {
                err(
                    &path("datacenter"),
                    format!("unknown datacenter {datacenter:?}; {}", known_dcs(s)),
                );
            }
        }
        Fault::SlowNode {
            duration_s,
            extra_ms,
            ..
        } => {
            positive(err, &path("duration_s"), *duration_s, MAX_DURATION_S);
            dist(err, &path("extra_ms"), extra_ms);
        }
        Fault::MessageLoss {
            duration_s,
            probability: p,
            ..
        } => {
            positive(err, &path("duration_s"), *duration_s, MAX_DURATION_S);
            probability(err, &path("probability"), *p);
        }
        Fault::Join {
            datacenter, count, ..
        } => {
            if !dc_exists(datacenter) {
                err(
                    &path("datacenter"),
                    format!("unknown datacenter {datacenter:?}; {}", known_dcs(s)),
                );
            }
            if *count == 0 || *count > MAX_NODES {
                err(
                    &path("count"),
                    format!("{count} is not allowed; join 1 to {MAX_NODES} nodes"),
                );
            }
        }
        Fault::Leave { .. } => {}
    }
}

/// Whether `name` is a node of the initial cluster or one that a `join` fault adds.
fn resolve_future_node_name(s: &Scenario, name: &str) -> bool {
    let Some((dc, index)) = name.rsplit_once('-') else {
        return false;
    };
    let Ok(index) = index.parse::<u32>() else {
        return false;
    };
    let Some(d) = s.cluster.datacenters.iter().find(|d| d.name == dc) else {
        return false;
    };
    let joined: u32 = s
        .faults
        .iter()
        .filter_map(|f| match f {
            Fault::Join {
                datacenter, count, ..
            } if datacenter == dc => Some(*count),
            _ => None,
        })
        .sum();
    index.to_string() == name.rsplit_once('-').map(|x| x.1).unwrap_or("")
        && index < d.nodes.saturating_add(joined)
}

/// The most nodes the cluster has at any moment: joins and leaves applied in time order
/// (at one instant, joins first: the administrator applies them one at a time).
fn peak_cluster_size(s: &Scenario, initial: u64) -> u64 {
    let mut changes: Vec<(f64, i64)> = s
        .faults
        .iter()
        .filter_map(|f| match f {
            Fault::Join { at_s, count, .. } => Some((*at_s, *count as i64)),
            Fault::Leave {
                at_s,
                nodes,
                random_nodes,
            } => {
                let n =
                    nodes.as_ref().map_or(0, Vec::len) as i64 + random_nodes.unwrap_or(0) as i64;
                Some((*at_s, -n))
            }
            _ => None,
        })
        .collect();
    changes.sort_by(|a, b| a.0.total_cmp(&b.0).then(b.1.cmp(&a.1)));
    let (mut size, mut peak) = (initial as i64, initial as i64);
    for (_, delta) in changes {
        size += delta;
        peak = peak.max(size);
    }
    peak.max(0) as u64
}

fn unknown_node_message(s: &Scenario, name: &str) -> String {
    format!("unknown node {name:?}; {}", known_names_hint(s, name))
}

fn known_names_hint(s: &Scenario, name: &str) -> String {
    let ranges: Vec<String> = s
        .cluster
        .datacenters
        .iter()
        .map(|d| format!("{0}-0 .. {0}-{1}", d.name, d.nodes.saturating_sub(1)))
        .collect();
    let dc_hint = name
        .rsplit_once('-')
        .and_then(|(dc, _)| nearest(dc, s.cluster.datacenters.iter().map(|d| d.name.as_str())))
        .map(|d| format!("did you mean a node of `{d}`? "))
        .unwrap_or_default();
    format!(
        "{dc_hint}nodes are named <datacenter>-<index>: {}",
        ranges.join(", ")
    )
}

fn known_dcs(s: &Scenario) -> String {
    let names: Vec<&str> = s
        .cluster
        .datacenters
        .iter()
        .map(|d| d.name.as_str())
        .collect();
    format!("known: {}", names.join(", "))
}

/// The rules of an open-loop workload.
fn open_loop(s: &Scenario, w: &OpenLoop, err: &mut impl FnMut(&str, String)) {
    positive(err, "workload.ops_per_s", w.ops_per_s, 1e9);
    if let Some(c) = &w.load_curve {
        load_curve(err, c);
    }
    probability(err, "workload.read_fraction", w.read_fraction);
    probability(err, "workload.insert_fraction", w.insert_fraction);
    probability(err, "workload.delete_fraction", w.delete_fraction);
    let shares = w.read_fraction + w.insert_fraction;
    if w.insert_fraction > 0.0 && shares > 1.0 + 1e-9 {
        err(
            "workload.insert_fraction",
            format!(
                "{} is not allowed with read_fraction {}: reads and inserts would be {} of the operations; together they are at most 1 (the rest are updates)",
                num(w.insert_fraction),
                num(w.read_fraction),
                num(shares)
            ),
        );
    }
    if w.keys == 0 {
        err(
            "workload.keys",
            "0 is not allowed; the key space needs at least 1 key".into(),
        );
    }
    let key_space = u64::from(w.keys).saturating_add(w.insert_bound(s.duration_s));
    if w.keys > 0 && key_space > u64::from(u32::MAX) {
        err(
            "workload.insert_fraction",
            format!(
                "{} is too high for this run: with {} keys, ops_per_s {} and duration_s {}, inserts could take the key space to {} keys; at most {} (key ids are 32-bit)",
                num(w.insert_fraction),
                w.keys,
                num(w.ops_per_s),
                num(s.duration_s),
                num(key_space as f64),
                u32::MAX
            ),
        );
    }
    if w.clients == 0 {
        err(
            "workload.clients",
            "0 is not allowed; at least 1 client".into(),
        );
    }
    let exponent = match w.key_distribution {
        KeyDistribution::Uniform => None,
        KeyDistribution::Zipf(z) => Some(("workload.key_distribution.zipf", z)),
        KeyDistribution::Latest(z) => Some(("workload.key_distribution.latest", z)),
    };
    if let Some((path, z)) = exponent
        && !(z.is_finite() && (0.0..=10.0).contains(&z))
    {
        err(
            path,
            format!("{z} is not allowed; use an exponent from 0 to 10"),
        );
    }
    positive(
        err,
        "workload.request_timeout_ms",
        w.request_timeout_ms,
        3.6e6,
    );
}

fn positive(err: &mut impl FnMut(&str, String), path: &str, v: f64, max: f64) {
    if !(v.is_finite() && v > 0.0 && v <= max) {
        err(
            path,
            format!(
                "{} is not allowed; it must be a number > 0 and <= {}",
                super::checks::num(v),
                super::checks::num(max)
            ),
        );
    }
}

/// A queue bound: 0 would reject every job that has to wait at all, which is allowed
/// (a node that never queues); past 10 M waiting jobs the bound guards no memory.
fn queue_bound(err: &mut impl FnMut(&str, String), path: &str, v: Option<u32>) {
    if let Some(v) = v
        && v > MAX_QUEUE
    {
        err(
            path,
            format!("{v} is not allowed; a queue bound is a whole number from 0 to {MAX_QUEUE}"),
        );
    }
}

fn load_curve(err: &mut impl FnMut(&str, String), c: &super::LoadCurve) {
    positive(
        err,
        "workload.load_curve.period_s",
        c.period_s,
        MAX_DURATION_S,
    );
    let p = &c.points;
    let ordered = p.windows(2).all(|w| w[0].0 <= w[1].0);
    let spans = p.first().is_some_and(|f| f.0 == 0.0) && p.last().is_some_and(|l| l.0 == 1.0);
    if p.len() < 2 || !ordered || !spans {
        err(
            "workload.load_curve.points",
            "must be at least two [fraction, factor] pairs with fractions rising from 0 to 1"
                .into(),
        );
    }
    for (i, (_, factor)) in p.iter().enumerate() {
        if !(factor.is_finite() && (0.0..=100.0).contains(factor)) {
            err(
                &format!("workload.load_curve.points[{i}]"),
                format!("factor {factor} is not allowed; it must be from 0 to 100"),
            );
        }
    }
    if p.iter().all(|(_, f)| *f == 0.0) {
        err(
            "workload.load_curve.points",
            "every factor is 0: no request would ever arrive".into(),
        );
    }
}

fn servers(err: &mut impl FnMut(&str, String), path: &str, v: u32) {
    if !(1..=MAX_SERVERS).contains(&v) {
        err(
            path,
            format!("{v} is not allowed; it must be a whole number from 1 to {MAX_SERVERS}"),
        );
    }
}

fn nonneg(err: &mut impl FnMut(&str, String), path: &str, v: f64, max: f64) {
    if !(v.is_finite() && v >= 0.0 && v <= max) {
        err(
            path,
            format!(
                "{} is not allowed; it must be a number >= 0 and <= {}",
                super::checks::num(v),
                super::checks::num(max)
            ),
        );
    }
}

fn probability(err: &mut impl FnMut(&str, String), path: &str, v: f64) {
    if !(v.is_finite() && (0.0..=1.0).contains(&v)) {
        err(
            path,
            format!(
                "{} is not allowed; a probability is between 0 and 1",
                super::checks::num(v)
            ),
        );
    }
}

fn dist(err: &mut impl FnMut(&str, String), path: &str, d: &Distribution) {
    if let Err(e) = d.check() {
        err(path, e);
    }
}
