//! Swarm testing (TigerBeetle's VOPR, in miniature): draw random *valid* scenarios from a
//! seed — cluster shapes, quorums, latency shapes, mechanisms on and off, and fault mixes
//! whose parameters are themselves random — run each briefly, and judge the run from
//! outside against invariants that must hold whatever the configuration:
//!
//! - no panic, anywhere from building the world to writing its report;
//! - the same scenario run twice gives the same digest and the same report, byte for byte;
//! - simulated time never goes backwards (checked between steps; the queue asserts it on
//!   every push);
//! - every client request ends exactly once: at the end, requests begun == requests ended
//!   and none is in flight;
//! - with no disk failures, no acknowledged write is lost (the run ends with a quiet
//!   period of several anti-entropy intervals; the invariant is judged with anti-entropy
//!   off too, since without a disk failure nothing may delete an unsuperseded version),
//!   except under `vector_clock_naive`, which loses concurrent writes on purpose;
//! - under `vector_clock` and `dotted_version_vector`, no replica ever discards an
//!   acknowledged write of which nothing descending survives (no lost update), disk
//!   failures or not; under `dotted_version_vector`, no read returns two siblings the
//!   ground truth orders (no false sibling);
//! - with no faults and quorums that must overlap (`Scenario::quorums_overlap`: a strict
//!   quorum with R + W > N or the consistency levels' equivalent, or pr + pw > N), no read is
//!   stale (except under `vector_clock_naive`, whose discarded concurrent writes a later
//!   read misses);
//! - with anti-entropy on, once every fault and membership change is over and every node
//!   is up, after a few anti-entropy rounds, replicas hold the same versions (no key
//!   diverges);
//! - drawn joins and leaves (and `--mix membership`, every case with some) are judged by
//!   the same invariants: no acknowledged write is lost across membership changes.
//!
//! A failing case is written to a scenario file and printed with the command that replays
//! it (`dynasim run FILE`) and the one that redraws it (`dynasim swarm --seed S --only I`).

use crate::engine::SimTime;
use crate::engine::rng::{RngStreams, SimRng, Stream, below, mix64, unit_f64};
use crate::report::{Report, write_atomic};
use crate::scenario::{Fault, Scenario, Versioning, load_str};
use crate::sim::Simulation;
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};

/// The kinds of fault a swarm draws from.
pub const FAULT_KINDS: [&str; 10] = [
    "join",
    "leave",
    "crash",
    "disk_failure",
    "partition",
    "datacenter_outage",
    "slow_node",
    "message_loss",
    "clock_skew",
    "random_crashes",
];

/// The datacenters a drawn cluster may have, in order.
const DC_NAMES: [&str; 3] = ["east", "west", "zürich"];

/// The generator of case `index` of the swarm with seed `seed`. Swarm seeds are mixed
/// apart from scenario seeds so that swarm S does not mirror a scenario with seed S.
fn case_rng(seed: u64, index: u64) -> SimRng {
    RngStreams::new(mix64(seed ^ 0x5357_4152_4D00_0000)).stream(Stream::Test, index)
}

/// Small drawing helpers over one generator.
struct Draw(SimRng);

impl Draw {
    /// Uniform integer in `lo..=hi`.
    fn int(&mut self, lo: u64, hi: u64) -> u64 {
        lo + below(&mut self.0, hi - lo + 1)
    }
    fn real(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * unit_f64(&mut self.0)
    }
    /// A real rounded to 3 decimals, so that drawn scenario files stay readable.
    fn r3(&mut self, lo: f64, hi: f64) -> f64 {
        (self.real(lo, hi) * 1_000.0).round() / 1_000.0
    }
    fn chance(&mut self, p: f64) -> bool {
        unit_f64(&mut self.0) < p
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[below(&mut self.0, items.len() as u64) as usize]
    }
    /// `k` distinct indices out of `0..n`, in increasing order.
    fn subset(&mut self, n: usize, k: usize) -> Vec<usize> {
        let mut ids: Vec<usize> = (0..n).collect();
        for i in 0..k.min(n) {
            let j = i + below(&mut self.0, (n - i) as u64) as usize;
            ids.swap(i, j);
        }
        ids.truncate(k.min(n));
        ids.sort_unstable();
        ids
    }

    /// A latency distribution of about `scale` ms, of any shape the format offers.
    fn latency(&mut self, scale: f64) -> Value {
        match self.int(0, 7) {
            0 => json!({"constant": self.r3(0.0, scale)}),
            1 => {
                let low = self.r3(0.0, scale);
                json!({"uniform": {"low": low, "high": low + self.r3(0.0, scale)}})
            }
            2 => json!({"exponential": {"mean": self.r3(0.01, scale).max(0.01)}}),
            3 => {
                json!({"normal": {"mean": self.r3(0.0, scale), "stddev": self.r3(0.0, scale / 2.0)}})
            }
            4 => {
                json!({"lognormal": {"median": self.r3(0.01, scale).max(0.01), "sigma": self.r3(0.0, 1.0)}})
            }
            5 => {
                json!({"pareto": {"scale": self.r3(0.01, scale / 2.0).max(0.01), "shape": self.r3(1.5, 10.0)}})
            }
            6 => {
                let w = self.r3(0.5, 0.99);
                json!({"mixture": [
                    {"weight": w, "dist": {"constant": self.r3(0.0, scale)}},
                    {"weight": ((1.0 - w) * 1_000.0).round() / 1_000.0,
                     "dist": {"exponential": {"mean": self.r3(scale, 10.0 * scale).max(0.01)}}}
                ]})
            }
            _ => {
                let a = self.r3(0.0, scale);
                let b = a + self.r3(0.0, scale);
                json!({"empirical": [[0.0, a], [0.5, b], [0.99, b * 2.0], [1.0, b * 5.0 + 0.1]]})
            }
        }
    }
}

/// Which faults a swarm draws.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mix {
    /// Any mix of every fault kind, or none.
    Any,
    /// Every case has one to three joins or leaves, beside any other faults: the
    /// membership swarm, which judges durability across membership changes.
    Membership,
}

impl Mix {
    /// The command-line flag that redraws a case of this mix.
    pub fn flag(self) -> &'static str {
        match self {
            Mix::Any => "",
            Mix::Membership => " --mix membership",
        }
    }
}

/// How many nodes a drawn join adds at most; equal-partition draws keep room for them.
const MAX_JOIN: u64 = 2;

/// Draws case `index` of swarm `seed`: a valid scenario document, small enough to run in
/// a fraction of a second.
pub fn draw(seed: u64, index: u64) -> Value {
    draw_mix(seed, index, Mix::Any)
}

/// Draws case `index` of swarm `seed` with the given fault mix. The mixes use generators
/// apart, so a membership case is not an `Any` case with faults added.
// long: one sequence of seeded draws; its order is what makes `--seed S --only I` redraw
// the same case, so a split must keep every draw in place (see ARCHITECTURE.md).
pub fn draw_mix(seed: u64, index: u64, mix: Mix) -> Value {
    let salt = match mix {
        Mix::Any => 0,
        Mix::Membership => 0x4D45_4D42,
    };
    let mut d = Draw(case_rng(seed ^ salt, index));
    let dc_count = d.int(1, 3) as usize;
    let total = d.int(3.max(dc_count as u64), 30) as usize;
    // Split `total` nodes over the datacenters, at least one each.
    let mut sizes = vec![1usize; dc_count];
    for _ in dc_count..total {
        let i = d.int(0, dc_count as u64 - 1) as usize;
        sizes[i] += 1;
    }
    let dc_names = DC_NAMES;
    let datacenters: Vec<Value> = sizes
        .iter()
        .enumerate()
        .map(|(i, n)| json!({"name": dc_names[i], "nodes": n}))
        .collect();
    let node_names: Vec<String> = sizes
        .iter()
        .enumerate()
        .flat_map(|(i, n)| (0..*n).map(move |j| format!("{}-{j}", dc_names[i])))
        .collect();

    let strategy = *d.pick(&[
        "random_tokens",
        "random_tokens_equal_partitions",
        "equal_partitions",
    ]);
    // Room for every join the faults can draw (three faults of `MAX_JOIN` nodes).
    let peak = total as u64 + 3 * MAX_JOIN;
    let partitions = match strategy {
        "equal_partitions" => (*d.pick(&[32u64, 64, 128, 256])).max(peak),
        _ => *d.pick(&[8u64, 16, 64, 256]),
    };
    let tokens = d.int(1, 16);
    let assignment = *d.pick(&["random", "striped"]);

    let n = d.int(1, 5.min(total as u64));
    let r = d.int(1, n);
    let w = d.int(1, n);
    let ae_on = d.chance(0.7);
    let ae_interval = *d.pick(&[0.5, 1.0, 2.0]);
    let hint_scan = *d.pick(&[0.5, 1.0, 2.0]);
    let read_repair_window_ms = *d.pick(&[0.0, 10.0, 50.0]);

    let duration = d.int(2, 8) as f64;
    let open_loop = d.chance(0.8);
    let routing = *d.pick(&["partition_aware", "load_balancer", "client_driven"]);
    let timeout_ms = d.int(50, 500) as f64;
    let workload = if open_loop {
        let key_distribution = if d.chance(0.5) {
            json!("uniform")
        } else {
            json!({"zipf": d.r3(0.0, 1.5)})
        };
        json!({
            "kind": "open_loop",
            "ops_per_s": d.int(50, 800),
            "clients": d.int(1, 20),
            "read_fraction": d.r3(0.0, 1.0),
            // Few keys now and then, so that writes collide and siblings form.
            "keys": if d.chance(0.3) { d.int(1, 20) } else { d.int(20, 500) },
            "key_distribution": key_distribution,
            "write_mode": *d.pick(&["read_modify_write", "blind"]),
            "value_bytes": d.int(1, 4096),
            "routing": routing,
            "request_timeout_ms": timeout_ms,
        })
    } else {
        json!({
            "kind": "staleness_probe",
            "probes": d.int(50, 300),
            "probes_per_s": d.int(20, 100),
            "read_delay_ms": d.latency(100.0),
            "clients": d.int(1, 20),
            "routing": routing,
            "request_timeout_ms": timeout_ms,
        })
    };

    let faults: Vec<Value> = if mix == Mix::Any && d.chance(0.35) {
        Vec::new()
    } else {
        let count = d.int(1, 3);
        let changes = match mix {
            Mix::Any => 0,
            Mix::Membership => d.int(1, count),
        };
        (0..count)
            .map(|i| {
                let kinds: &[&str] = if i < changes {
                    &FAULT_KINDS[..2]
                } else {
                    &FAULT_KINDS
                };
                draw_fault(&mut d, kinds, duration, &sizes, &dc_names, &node_names)
            })
            .collect::<Vec<_>>()
    };
    let faults = keep_leaves_possible(faults, node_names.len());

    let mut by_message = serde_json::Map::new();
    if d.chance(0.2) {
        let kind = *d.pick(&["read_request", "read_response"]);
        by_message.insert(kind.into(), d.latency(5.0));
    }
    // Quiet long enough for several anti-entropy rounds and hint scans after the last
    // request: durability and convergence are judged at the end.
    let quiet = if ae_on {
        4.0 * ae_interval + 2.0 * hint_scan + 1.0
    } else {
        d.r3(0.0, 2.0)
    };

    // Mostly fast links; now and then slow ones, so that requests near the end of a run
    // are still in flight when it drains.
    let intra_scale = *d.pick(&[1.0, 1.0, 10.0, 50.0]);
    let intra_dc = d.latency(intra_scale);
    let inter_scale = *d.pick(&[30.0, 100.0]);
    let inter_dc = d.latency(inter_scale);

    let mut doc = json!({
        "name": format!("swarm-{seed}-{index}"),
        "description": format!("drawn by `dynasim swarm --seed {seed} --only {index}`"),
        "seed": d.int(0, u32::MAX as u64),
        "duration_s": duration,
        "cluster": {
            "datacenters": datacenters,
            "partitioning": {"strategy": strategy, "partitions": partitions, "tokens_per_node": tokens, "assignment": assignment},
        },
        "replication": {
            "n": n, "r": r, "w": w,
            "sloppy_quorum": d.chance(0.5),
            "hinted_handoff": d.chance(0.7),
            "read_repair": d.chance(0.6),
            "replicas_across_datacenters": d.chance(0.5),
            "versioning": *d.pick(&[
                "vector_clock",
                "dotted_version_vector",
                "vector_clock_naive",
                "last_write_wins",
            ]),
            "vclock_max_entries": *d.pick(&[10u64, 10, 4, 2]),
            "read_repair_window_ms": read_repair_window_ms,
            "hint_scan_interval_s": hint_scan,
            "max_hints_per_node": *d.pick(&[10u64, 1_000, 100_000]),
            "hint_handoff_batch": *d.pick(&[1u64, 10, 1_000]),
        },
        "anti_entropy": {"enabled": ae_on, "interval_s": ae_interval, "merkle_depth": d.int(1, 10)},
        "failure_detector": {"probe_interval_s": d.r3(0.2, 1.0), "client_retry_s": d.r3(0.5, 5.0)},
        "network": {
            "latency_ms": {
                "local": if d.chance(0.7) { json!({"constant": 0}) } else { d.latency(0.05) },
                "intra_dc": intra_dc,
                "inter_dc": inter_dc,
            },
            "by_message_ms": by_message,
            "drop_probability": if d.chance(0.8) { 0.0 } else { d.r3(0.0, 0.05) },
        },
        "storage": {"read_ms": d.latency(0.5), "write_ms": d.latency(1.0)},
        "workload": workload,
        "faults": faults,
        "metrics": {
            "sla_ms": d.int(50, 300),
            "timeline_interval_s": *d.pick(&[0.5, 1.0, 2.0]),
            "quiet_period_s": quiet,
        },
    });
    if d.chance(0.3) {
        draw_capacity(&mut d, &mut doc, n, open_loop);
    }
    // Drawn last, so that the draws above (and the cases they made) stay as they were.
    if open_loop && d.chance(0.3) {
        draw_deletes(&mut d, &mut doc, duration);
    }
    if d.chance(0.25) {
        draw_phi_accrual(&mut d, &mut doc);
    }
    if d.chance(0.3) {
        draw_policies(&mut d, &mut doc, n, &sizes);
    }
    if open_loop && d.chance(0.25) {
        draw_ycsb(&mut d, &mut doc);
    }
    if d.chance(0.3) {
        draw_repair(&mut d, &mut doc, duration);
    }
    if d.chance(0.2) {
        draw_wide_area(&mut d, &mut doc, open_loop);
    }
    doc
}

/// Now and then PBS's WAN setting: a delay added on every link between datacenters, and
/// for probes a reader drawn from all clients.
fn draw_wide_area(d: &mut Draw, doc: &mut Value, open_loop: bool) {
    doc["network"]["inter_dc_added_ms"] = d.latency(75.0);
    if !open_loop && d.chance(0.7) {
        doc["workload"]["reader"] = json!("any_client");
    }
}

/// Now and then consistency policies (issue 17): Cassandra's levels, replicas per
/// datacenter, Riak's pr, pw and notfound_ok, each on its own.
fn draw_policies(d: &mut Draw, doc: &mut Value, n: u64, sizes: &[usize]) {
    let rep = &mut doc["replication"];
    if d.chance(0.6) {
        let mut levels = vec![
            "ONE",
            "QUORUM",
            "ALL",
            "LOCAL_ONE",
            "LOCAL_QUORUM",
            "EACH_QUORUM",
        ];
        if n >= 2 {
            levels.push("TWO");
        }
        if n >= 3 {
            levels.push("THREE");
        }
        let read = *d.pick(&levels);
        levels.push("ANY");
        let write = *d.pick(&levels);
        rep["consistency"] = json!({"read": read, "write": write});
    }
    if d.chance(0.4) && sizes.iter().sum::<usize>() as u64 >= n {
        // Deal the N replicas to datacenters with room for them.
        let names = DC_NAMES;
        let mut per_dc = vec![0u64; sizes.len()];
        for _ in 0..n {
            let room: Vec<usize> = (0..sizes.len())
                .filter(|i| per_dc[*i] < sizes[*i] as u64)
                .collect();
            per_dc[*d.pick(&room)] += 1;
        }
        let map: serde_json::Map<String, Value> = (per_dc.iter().enumerate())
            .map(|(i, c)| (names[i].to_string(), json!(c)))
            .collect();
        rep["replicas_per_datacenter"] = Value::Object(map);
    }
    if d.chance(0.3) {
        rep["pr"] = json!(d.int(0, n));
        rep["pw"] = json!(d.int(0, n));
    }
    if d.chance(0.3) {
        rep["notfound_ok"] = json!(false);
    }
}

/// Now and then a YCSB preset (issue 17): the preset fills the shares, the distribution
/// and the write mode, except one drawn field kept now and then as a stated override
/// (which can make a preset's inserts use `uniform`, or its updates read-modify-write);
/// sometimes `latest` replaces the distribution, with or without inserts.
fn draw_ycsb(d: &mut Draw, doc: &mut Value) {
    let preset = *d.pick(&["ycsb_a", "ycsb_b", "ycsb_c", "ycsb_d", "ycsb_e", "ycsb_f"]);
    let keep = d.int(0, 4) as usize;
    let latest = d.chance(0.2).then(|| d.r3(0.0, 1.5));
    let Some(w) = doc["workload"].as_object_mut() else {
        return;
    };
    w.insert("preset".into(), json!(preset));
    // A kept read share leaves room for D's and E's 5% inserts.
    if matches!(preset, "ycsb_d" | "ycsb_e")
        && let Some(r) = w.get("read_fraction").and_then(Value::as_f64)
    {
        w.insert("read_fraction".into(), json!(r.min(0.95)));
    }
    for (i, field) in ["read_fraction", "key_distribution", "write_mode"]
        .iter()
        .enumerate()
    {
        if i != keep {
            w.remove(*field);
        }
    }
    if let Some(s) = latest {
        w.insert("key_distribution".into(), json!({ "latest": s }));
    }
}

/// Now and then repair and handoff as operators know them (issue 17): Cassandra's
/// leaf-range streaming, a hint window shorter or longer than the run, a handoff
/// throttle from a trickle to plenty.
fn draw_repair(d: &mut Draw, doc: &mut Value, duration: f64) {
    if d.chance(0.5) {
        doc["anti_entropy"]["stream"] = json!("leaf_range");
    }
    if d.chance(0.5) {
        doc["replication"]["hint_window_s"] = json!(d.r3(0.2, duration));
    }
    if d.chance(0.5) {
        doc["replication"]["hint_handoff_bytes_per_s"] = json!(*d.pick(&[1e3, 1e5, 1e7]));
    }
}

/// Now and then phi accrual (issue 17) instead of the timeout detector, with a threshold
/// from eager (flaps) to Cassandra's 8 and past it (slow detection).
fn draw_phi_accrual(d: &mut Draw, doc: &mut Value) {
    let fd = &mut doc["failure_detector"];
    fd["kind"] = json!("phi_accrual");
    fd["phi_threshold"] = json!(*d.pick(&[0.5, 2.0, 8.0, 12.0]));
    fd["heartbeat_interval_s"] = json!(d.r3(0.2, 2.0));
}

/// Now and then deletes (issue 17): a share of the writes, and half the time tombstones
/// collected after a grace shorter than the run, so that collection, resurrection and
/// the audit's stand-ins are exercised.
fn draw_deletes(d: &mut Draw, doc: &mut Value, duration: f64) {
    doc["workload"]["delete_fraction"] = json!(d.r3(0.05, 0.6));
    if d.chance(0.5) {
        doc["replication"]["tombstone_gc_grace_s"] = json!(d.r3(0.2, duration / 2.0));
    }
}

/// Now and then finite resources (issue 16's capacity model): disk and CPU servers and a
/// NIC, with small queue bounds now and then, admission control, disk bandwidth, a write buffer with durable
/// writes, and a load curve, each on its own.
fn draw_capacity(d: &mut Draw, doc: &mut Value, n: u64, open_loop: bool) {
    let mut capacity = serde_json::Map::new();
    let bounded = |d: &mut Draw| d.chance(0.3).then(|| d.int(0, 50));
    let disk = d.chance(0.7);
    if disk {
        let mut disk = json!({"concurrency": d.int(1, 8)});
        if let Some(q) = bounded(d) {
            disk["max_queue"] = json!(q);
        }
        capacity.insert("disk".into(), disk);
    }
    if d.chance(0.5) {
        let mut cpu = json!({"threads": d.int(1, 8), "per_message_ms": d.latency(0.05)});
        if let Some(q) = bounded(d) {
            cpu["max_queue"] = json!(q);
        }
        capacity.insert("cpu".into(), cpu);
    }
    if d.chance(0.5) {
        let mut nic = json!({"node_bytes_per_s": *d.pick(&[1e6, 1e7, 1e9])});
        if let Some(q) = bounded(d) {
            nic["max_queue"] = json!(q);
        }
        capacity.insert("network".into(), nic);
    }
    if disk && d.chance(0.5) {
        capacity.insert(
            "background".into(),
            json!({"admission": "dynamo", "target_disk_latency_ms": d.r3(0.5, 20.0).max(0.5)}),
        );
    }
    if d.chance(0.3) {
        doc["storage"]["bytes_per_s"] = json!(*d.pick(&[1e6, 1e8]));
    }
    if disk && d.chance(0.4) {
        doc["storage"]["write_buffer"] =
            json!({"objects": d.int(1, 1_000), "flush_interval_ms": d.int(10, 500)});
        doc["replication"]["durable_writes"] = json!(d.int(0, n));
    }
    if open_loop && d.chance(0.3) {
        doc["workload"]["load_curve"] = json!({
            "period_s": d.r3(0.5, 4.0).max(0.5),
            "points": [[0.0, d.r3(0.1, 1.0)], [0.5, d.r3(0.5, 3.0)], [1.0, d.r3(0.1, 1.0)]],
        });
    }
    if !capacity.is_empty() {
        doc["capacity"] = Value::Object(capacity);
    }
}

/// Keeps the drawn leaves possible, as `validate` requires (it refuses the rest): in the
/// order they happen (time, then list order), a leave names no node an earlier leave
/// removed and takes at most all but one of the nodes the cluster has then; a leave left
/// with nothing to do is dropped. Only the drawn list changes, never the draws, so every
/// other case of a swarm stays the same.
fn keep_leaves_possible(mut faults: Vec<Value>, initial_nodes: usize) -> Vec<Value> {
    let at = |f: &Value| f["at_s"].as_f64().unwrap_or(0.0);
    let mut order: Vec<usize> = (0..faults.len()).collect();
    order.sort_by(|&a, &b| at(&faults[a]).total_cmp(&at(&faults[b])).then(a.cmp(&b)));
    let mut members = initial_nodes as i64;
    let mut gone: BTreeSet<String> = BTreeSet::new();
    let mut dropped: BTreeSet<usize> = BTreeSet::new();
    for i in order {
        let f = &mut faults[i];
        match f["kind"].as_str() {
            Some("join") => members += f["count"].as_i64().unwrap_or(0),
            Some("leave") => {
                if let Some(names) = f.get_mut("nodes").and_then(Value::as_array_mut) {
                    names.retain(|n| n.as_str().is_some_and(|n| !gone.contains(n)));
                    names.truncate((members - 1).max(0) as usize);
                    gone.extend(names.iter().filter_map(|n| n.as_str().map(String::from)));
                    members -= names.len() as i64;
                    if names.is_empty() {
                        dropped.insert(i);
                    }
                } else if let Some(k) = f["random_nodes"].as_i64() {
                    let k = k.min(members - 1);
                    if k <= 0 {
                        dropped.insert(i);
                    } else {
                        f["random_nodes"] = json!(k);
                        members -= k;
                    }
                }
            }
            _ => {}
        }
    }
    (faults.into_iter().enumerate())
        .filter(|(i, _)| !dropped.contains(i))
        .map(|(_, f)| f)
        .collect()
}

fn draw_fault(
    d: &mut Draw,
    kinds: &[&'static str],
    duration: f64,
    sizes: &[usize],
    dc_names: &[&str],
    node_names: &[String],
) -> Value {
    let total = node_names.len();
    let at = d.r3(0.0, duration * 0.8);
    let span = d.r3(0.2, duration);
    // Targets by name or as a count drawn from the scenario's seed.
    let targets = |d: &mut Draw| -> (&'static str, Value) {
        let k = d.int(1, (total as u64).min(3)) as usize;
        if d.chance(0.5) {
            ("random_nodes", json!(k))
        } else {
            let names: Vec<&String> = d
                .subset(total, k)
                .into_iter()
                .map(|i| &node_names[i])
                .collect();
            ("nodes", json!(names))
        }
    };
    let kind = *d.pick(kinds);
    let mut f = json!({"kind": kind, "at_s": at});
    let o = f
        .as_object_mut()
        .unwrap_or_else(|| unreachable!("a literal object"));
    match kind {
        "join" => {
            let dc = d.int(0, sizes.len() as u64 - 1) as usize;
            o.insert("datacenter".into(), json!(dc_names[dc]));
            o.insert("count".into(), json!(d.int(1, MAX_JOIN)));
        }
        "leave" => {
            let (key, t) = targets(d);
            o.insert(key.into(), t);
        }
        "crash" => {
            let (key, t) = targets(d);
            o.insert(key.into(), t);
            if d.chance(0.8) {
                o.insert("duration_s".into(), json!(span));
            }
        }
        "disk_failure" => {
            let (key, t) = targets(d);
            o.insert(key.into(), t);
            o.insert("replace_after_s".into(), json!(span));
        }
        "partition" => {
            o.insert("duration_s".into(), json!(span));
            let groups = if sizes.len() >= 2 {
                let split = d.int(1, sizes.len() as u64 - 1) as usize;
                json!([dc_names[..split], dc_names[split..sizes.len()]])
            } else {
                // One datacenter: isolate a few of its nodes from the rest.
                let k = d.int(1, (total as u64 - 1).min(3)) as usize;
                let side: Vec<&String> = d
                    .subset(total, k)
                    .into_iter()
                    .map(|i| &node_names[i])
                    .collect();
                let rest: Vec<&String> = node_names.iter().filter(|n| !side.contains(n)).collect();
                json!([side, rest])
            };
            o.insert("groups".into(), groups);
        }
        "datacenter_outage" => {
            o.insert("duration_s".into(), json!(span));
            let dc = d.int(0, sizes.len() as u64 - 1) as usize;
            o.insert("datacenter".into(), json!(dc_names[dc]));
        }
        "slow_node" => {
            let (key, t) = targets(d);
            o.insert(key.into(), t);
            o.insert("duration_s".into(), json!(span));
            o.insert("extra_ms".into(), d.latency(50.0));
        }
        "message_loss" => {
            o.insert("duration_s".into(), json!(span));
            o.insert("probability".into(), json!(d.r3(0.0, 0.5)));
        }
        "clock_skew" => {
            let (key, t) = targets(d);
            o.insert(key.into(), t);
            o.insert("offset_ms".into(), json!(d.r3(-2_000.0, 2_000.0)));
            if d.chance(0.5) {
                o.insert("duration_s".into(), json!(span));
            }
        }
        _ => {
            o.insert("mtbf_s".into(), json!(d.r3(2.0, 20.0)));
            o.insert("mttr_s".into(), json!(d.r3(0.1, 2.0)));
            if d.chance(0.5) {
                o.insert("duration_s".into(), json!(span));
            }
        }
    }
    f
}

/// The invariants, by the names failures and summaries use.
pub const NO_PANIC: &str = "no panic";
pub const DETERMINISM: &str = "same seed, same run";
pub const TIME: &str = "simulated time never goes backwards";
pub const REQUESTS: &str = "every request ends exactly once";
/// Stronger than "with anti-entropy on": without disk failures no replica ever deletes a
/// version that nothing supersedes, so a lost write is a bug whatever the mechanisms.
pub const DURABILITY: &str =
    "no acknowledged write lost (no disk failure, no crash under a write buffer)";
pub const NO_LOST_UPDATE: &str = "no lost update (vector_clock, dotted_version_vector)";
pub const EXACT_SIBLINGS: &str = "no false sibling (dotted_version_vector)";
pub const DETECTION: &str = "a sound suspicion record (flaps <= false suspicions <= suspicions; phi accrual's heartbeat verdicts at threshold 8 or more never suspect a node that was never down or cut off)";
pub const FRESHNESS: &str = "no stale read (no faults, quorums that overlap (strict R + W > N, or the levels' equivalent, or pr + pw > N), not vector_clock_naive, tombstones never collected)";
pub const CONVERGENCE: &str = "replicas converge (anti-entropy on, no message drops, faults and membership changes over, every node up, no hint handed off, no resource saturated, quiet end)";

/// What one case's run looked like, for the summary line.
#[derive(Clone, Debug)]
pub struct CaseReport {
    pub digest: String,
    pub events: u64,
    pub requests: u64,
    /// The conditional invariants this case was judged by (its configuration met their
    /// conditions and the run gave them something to judge).
    pub judged: Vec<&'static str>,
}

/// One broken invariant of one case.
#[derive(Clone, Debug)]
pub struct Violation {
    pub invariant: &'static str,
    pub detail: String,
}

/// The invariant a panic breaks: time order is asserted inside the engine, so its panic
/// is a broken `TIME`; any other panic breaks `NO_PANIC`.
fn panic_invariant(message: &str) -> &'static str {
    if message.starts_with(crate::engine::queue::PAST_EVENT) {
        TIME
    } else {
        NO_PANIC
    }
}

/// Loads, runs twice and judges one drawn scenario.
pub fn check_case(doc: &Value) -> Result<CaseReport, Vec<Violation>> {
    let scenario = load_str(&doc.to_string(), "swarm", &[]).map_err(|e| {
        vec![Violation {
            invariant: "the drawn scenario is valid",
            detail: e.to_string(),
        }]
    })?;
    let panicked = |detail: String| {
        vec![Violation {
            invariant: panic_invariant(&detail),
            detail,
        }]
    };
    let first = run_guarded(&scenario).map_err(panicked)?;
    let second = run_guarded(&scenario).map_err(panicked)?;
    let mut violations = first.violations.clone();
    if first.json != second.json {
        let same_events = first.report.digest == second.report.digest;
        violations.push(Violation {
            invariant: DETERMINISM,
            detail: format!(
                "two runs of the same scenario differ: digests {} and {}{}",
                first.report.digest,
                second.report.digest,
                if same_events {
                    " (same events, different reports)"
                } else {
                    ""
                }
            ),
        });
    }
    let (judged, broken) = judge(&scenario, &first.report, first.all_up_at_end);
    violations.extend(broken);
    if violations.is_empty() {
        Ok(CaseReport {
            digest: first.report.digest.clone(),
            events: first.report.events,
            requests: first.requests,
            judged,
        })
    } else {
        Err(violations)
    }
}

/// The invariants that hold only for some configurations, judged from a run's report:
/// returns those that applied and those that were broken.
pub fn judge(
    scenario: &Scenario,
    r: &Report,
    all_up_at_end: bool,
) -> (Vec<&'static str>, Vec<Violation>) {
    let mut judged = Vec::new();
    let mut broken = Vec::new();
    let mut verdict = |invariant, applies: bool, ok: bool, detail: &dyn Fn() -> String| {
        if applies {
            judged.push(invariant);
            if !ok {
                broken.push(Violation {
                    invariant,
                    detail: detail(),
                });
            }
        }
    };

    let d = &r.durability;
    let no_disk_failure = !scenario
        .faults
        .iter()
        .any(|f| matches!(f, Fault::DiskFailure { .. }));
    let scheme = scenario.replication.versioning;
    let keeps_every_write = matches!(
        scheme,
        Versioning::VectorClock | Versioning::DottedVersionVector
    );
    verdict(
        NO_LOST_UPDATE,
        keeps_every_write && d.acknowledged_writes > 0,
        d.lost_updates == 0,
        &|| {
            format!(
                "{} of {} acknowledged writes discarded with no descendant kept, e.g. {}",
                d.lost_updates,
                d.acknowledged_writes,
                d.lost_update_examples.join(", ")
            )
        },
    );
    let v = &r.observed.versioning;
    verdict(
        EXACT_SIBLINGS,
        scheme == Versioning::DottedVersionVector && v.reads_with_siblings > 0,
        v.false_siblings == 0,
        &|| {
            format!(
                "{} false siblings in {} reads with siblings",
                v.false_siblings, v.reads_with_siblings
            )
        },
    );
    let fd = &r.observed.failure_detection;
    verdict(
        DETECTION,
        true,
        fd.flaps <= fd.false_suspicions
            && fd.false_suspicions <= fd.suspicions
            && (!phi_patient(scenario) || fd.false_suspicions_by_heartbeats == Some(0)),
        &|| format!("{fd:?}"),
    );
    verdict(
        DURABILITY,
        no_disk_failure
            && !buffer_loses_writes(scenario)
            && scheme != Versioning::VectorClockNaive
            && d.acknowledged_writes > 0,
        d.lost_writes == 0,
        &|| {
            format!(
                "{} of {} acknowledged writes lost, e.g. {}",
                d.lost_writes,
                d.acknowledged_writes,
                d.lost_examples.join(", ")
            )
        },
    );

    let rep = &scenario.replication;
    let c = &r.observed.consistency;
    // Not under `vector_clock_naive`: it discards one of two concurrent writes on
    // purpose, and a read after the discarded one's acknowledgement misses it (swarm seed
    // 100, case 9: one key, 132 of 191 reads).
    verdict(
        FRESHNESS,
        scenario.faults.is_empty()
            && scheme != Versioning::VectorClockNaive
            // A replica still waiting for a delete's tombstone when the others collect it
            // serves the deleted value again: the documented resurrection, not a bug.
            && rep.tombstone_gc_grace_s.is_none()
            && scenario.quorums_overlap()
            && c.judged_reads > 0,
        c.stale_reads == 0,
        &|| {
            format!(
                "{} of {} judged reads were stale",
                c.stale_reads, c.judged_reads
            )
        },
    );

    let divergent = r.convergence.divergent_keys_at_end;
    verdict(
        CONVERGENCE,
        convergence_expected(scenario, r, all_up_at_end),
        divergent == 0,
        &|| format!("{divergent} keys still diverge at the end"),
    );
    (judged, broken)
}

/// Whether phi accrual's heartbeat verdicts should never suspect a live peer: φ passes 8
/// only after about 18 silent heartbeat intervals, and nothing but a real outage or a cut
/// is that silent (queues under capacity and slow nodes excepted). Only the heartbeat
/// verdicts are judged: a peer outside a node's neighbours is still suspected when an
/// operation to it times out, which a slow link or a lost reply can cause (swarm seed 1,
/// membership case 245: an 884 ms mean inter-datacenter tail).
fn phi_patient(scenario: &Scenario) -> bool {
    scenario.failure_detector.kind == crate::scenario::DetectorKind::PhiAccrual
        && scenario.failure_detector.phi_threshold >= 8.0
        && scenario.capacity.is_none()
        && !scenario
            .faults
            .iter()
            .any(|f| matches!(f, Fault::SlowNode { .. }))
}

/// Whether a write buffer may lose what it has not flushed when its process stops (Dynamo
/// §6.1): such losses are the model's, not a bug.
fn buffer_loses_writes(scenario: &Scenario) -> bool {
    scenario.storage.write_buffer.is_some()
        && scenario.faults.iter().any(|f| {
            matches!(
                f,
                Fault::Crash { .. } | Fault::RandomCrashes { .. } | Fault::DatacenterOutage { .. }
            )
        })
}

/// Whether the run gave repair the time and the conditions to converge by its end.
/// The mean of the slowest message leg in ms: the largest mean over the link classes and
/// the per-kind overrides, with the wide-area delay on top (a truncated normal counted at
/// its mean plus one deviation; a tail without a mean counts as a minute, which keeps the
/// convergence verdict out of such runs).
fn slowest_leg_ms(scenario: &Scenario) -> f64 {
    use crate::engine::dist::Distribution;
    let mean = |d: &Distribution| match d {
        Distribution::Normal { mean, stddev } => mean + stddev,
        d => d.mean().unwrap_or(60_000.0),
    };
    let net = &scenario.network;
    let lat = &net.latency_ms;
    let added = net.inter_dc_added_ms.as_ref().map_or(0.0, mean);
    [&lat.local, &lat.intra_dc]
        .into_iter()
        .chain(net.by_message_ms.values())
        .map(mean)
        .chain([mean(&lat.inter_dc)])
        .fold(0.0, f64::max)
        + added
}

fn convergence_expected(scenario: &Scenario, r: &Report, all_up_at_end: bool) -> bool {
    // Random crashes are left out: a node drawn to crash near the end may still be
    // catching up (its repair can end after the fault's window). So are runs whose hints
    // were handed off: a hint handed to one home replica late in the quiet period makes
    // its replicas differ until the next anti-entropy round (swarm seed 12, case 1026).
    // And runs that drop messages: an exchange is a dozen messages in a row, and at 5%
    // loss half of them fail, so repair takes many rounds (swarm seed 22, case 855
    // converged 11 s after its last fault, with 2 s rounds).
    // A node keeps skipping a peer it suspected until its retry time passes and a probe
    // answers, so repair with it may start that late after a fault (swarm seed 300, case
    // 796: a 4.7 s retry after a datacenter outage).
    let ae = &scenario.anti_entropy;
    let fd = &scenario.failure_detector;
    // Phi accrual trusts a returned neighbour at its next heartbeat answer.
    let heartbeat = match fd.kind {
        crate::scenario::DetectorKind::PhiAccrual => fd.heartbeat_interval_s,
        crate::scenario::DetectorKind::Timeout => 0.0,
    };
    // A message a partition or a message_loss fault drops from an exchange's data holds
    // its range on both sides until the in-flight record lapses (swarm seed 7, case 157:
    // 46% loss), and the range is exchanged at its next step after that.
    let lossy = scenario
        .faults
        .iter()
        .any(|f| matches!(f, Fault::Partition { .. } | Fault::MessageLoss { .. }));
    let rounds = if lossy {
        (crate::node::anti_entropy::IN_FLIGHT_INTERVALS + 1) as f64
    } else {
        3.0
    };
    // And an exchange walks the Merkle tree a level per round trip over the slowest
    // link, which slow links stretch past the rounds above (swarm seed 400, case 358:
    // inter-datacenter legs of about 355 ms on average with a WAN delay added).
    let exchange_s = 2.0 * f64::from(ae.merkle_depth + 2) * slowest_leg_ms(scenario) / 1000.0;
    let margin = rounds * (ae.interval_s + exchange_s)
        + fd.client_retry_s
        + fd.probe_interval_s
        + heartbeat
        + 1.0;
    let faults_over = r.faults.iter().all(|f| {
        f.kind != "random_crashes" && f.end_s.is_some_and(|e| e + margin <= r.simulated_s)
    });
    // A membership change still streaming at the end leaves two rings' worth of owners
    // (its leavers refuse new data, its new owners are not homes yet): judged after it.
    let changes_done = r.membership.changes.iter().all(|c| {
        c.completed_s
            .is_some_and(|done| done + margin <= r.simulated_s)
    });
    // Nor while a bounded resource was saturated: work that waited seconds for a disk, a
    // thread or the NIC may still be draining when the run ends (swarm seed 201, case 24:
    // a 1 MB/s NIC under 7 MB/s of replica traffic).
    let saturated = r.capacity.as_ref().is_some_and(|c| {
        [&c.disk, &c.cpu, &c.network]
            .into_iter()
            .flatten()
            .any(|res| res.wait_ms.max > 1_000.0 || res.rejected.unwrap_or(0) > 0)
            // Admission control that throttled background work delays repair by design
            // (swarm seed 301, case 930: a 0.77 ms target starved anti-entropy).
            || c.admission.as_ref().is_some_and(|a| a.throttled_s > 0.0)
    });
    ae.enabled
        && scenario.network.drop_probability == 0.0
        && faults_over
        && changes_done
        && !saturated
        && all_up_at_end
        && r.handoff.hints_delivered == 0
        && r.durability.acknowledged_writes > 0
}

struct Run {
    report: Report,
    json: String,
    requests: u64,
    all_up_at_end: bool,
    /// Violations seen during the run itself (time, request accounting).
    violations: Vec<Violation>,
}

/// Runs a scenario to its end in steps, catching any panic.
fn run_guarded(scenario: &Scenario) -> Result<Run, String> {
    catch_unwind(AssertUnwindSafe(|| {
        let mut violations = Vec::new();
        let mut sim = Simulation::new(scenario);
        let end = sim.end();
        // Stepping exercises pausing and resuming the loop. Time order is asserted by
        // the queue and the loop themselves (in release builds too); such a panic is
        // filed under `TIME` by `check_case`.
        let step = SimTime::from_secs_f64(0.5);
        let mut t = SimTime::ZERO;
        while t < end {
            t = (t + step).min(end);
            sim.run_until(t);
        }
        sim.run();
        let driver = sim.driver();
        let (invoked, finished, in_flight) = (
            driver.requests_invoked(),
            driver.requests_finished(),
            driver.in_flight(),
        );
        if invoked != finished || in_flight != 0 {
            violations.push(Violation {
                invariant: REQUESTS,
                detail: format!(
                    "{invoked} requests begun, {finished} ended, {in_flight} still in flight at the end ({})",
                    sim.now()
                ),
            });
        }
        // Every member of the final ring (nodes that left are down for good).
        let all_up_at_end = sim.ring().members().iter().all(|n| sim.is_up(*n));
        let report = Report::from_outcome(&sim.outcome());
        let json = report.to_json();
        Run {
            report,
            json,
            requests: invoked,
            all_up_at_end,
            violations,
        }
    }))
    .map_err(|payload| crate::error::panic_message(&*payload))
}

/// The swarm command's settings.
#[derive(Clone, Debug)]
pub struct SwarmOptions {
    pub seed: u64,
    pub count: u64,
    /// Only this case (to redraw a failure).
    pub only: Option<u64>,
    pub keep_going: bool,
    /// Where failing scenarios are written.
    pub failures_dir: PathBuf,
    pub mix: Mix,
}

/// How a swarm went.
#[derive(Clone, Debug, Default)]
pub struct SwarmSummary {
    pub passed: u64,
    /// How many passing cases each conditional invariant judged.
    pub judged: std::collections::BTreeMap<&'static str, u64>,
    /// (case index, scenario file written, violations)
    pub failed: Vec<(u64, Option<PathBuf>, Vec<Violation>)>,
}

/// Runs the cases of a swarm, printing one line per case to `out`, and a failing case's
/// scenario file and replay commands. Stops at the first failure unless `keep_going`.
pub fn run(opts: &SwarmOptions, out: &mut dyn std::io::Write) -> SwarmSummary {
    let mut summary = SwarmSummary::default();
    let cases: Vec<u64> = match opts.only {
        Some(i) => vec![i],
        None => (0..opts.count).collect(),
    };
    for i in cases {
        let doc = draw_mix(opts.seed, i, opts.mix);
        match check_case(&doc) {
            Ok(r) => {
                summary.passed += 1;
                for invariant in &r.judged {
                    *summary.judged.entry(invariant).or_default() += 1;
                }
                let _ = writeln!(
                    out,
                    "case {i}: ok ({}; {} requests, {} events, digest {})",
                    describe(&doc),
                    r.requests,
                    r.events,
                    r.digest
                );
            }
            Err(violations) => {
                let file = write_failure(&opts.failures_dir, opts.seed, i, &doc);
                let _ = writeln!(out, "case {i}: FAILED ({})", describe(&doc));
                for v in &violations {
                    let _ = writeln!(out, "  invariant: {}\n  what: {}", v.invariant, v.detail);
                }
                let _ = writeln!(out, "  scenario seed: {}\n  json: {doc}", doc["seed"]);
                match &file {
                    Ok(path) => {
                        let _ = writeln!(
                            out,
                            "  scenario: {}\n  replay:   dynasim run {}\n  redraw:   dynasim swarm --seed {} --only {i}{}",
                            path.display(),
                            path.display(),
                            opts.seed,
                            opts.mix.flag()
                        );
                    }
                    Err(e) => {
                        let _ = writeln!(
                            out,
                            "  (cannot write the scenario file: {e}); the scenario:\n{}\n  redraw: dynasim swarm --seed {} --only {i}{}",
                            pretty(&doc),
                            opts.seed,
                            opts.mix.flag()
                        );
                    }
                }
                summary.failed.push((i, file.ok(), violations));
                if !opts.keep_going {
                    break;
                }
            }
        }
    }
    summary
}

fn write_failure(dir: &Path, seed: u64, index: u64, doc: &Value) -> std::io::Result<PathBuf> {
    let path = dir.join(format!("swarm-{seed}-{index}.json"));
    write_atomic(&path, pretty(doc).as_bytes())?;
    Ok(path)
}

fn pretty(doc: &Value) -> String {
    let mut s = serde_json::to_string_pretty(doc).unwrap_or_else(|_| doc.to_string());
    s.push('\n');
    s
}

/// One line about a drawn scenario: its shape and the mechanisms that matter.
pub fn describe(doc: &Value) -> String {
    let nodes: u64 = doc["cluster"]["datacenters"]
        .as_array()
        .map(|dcs| dcs.iter().filter_map(|d| d["nodes"].as_u64()).sum())
        .unwrap_or(0);
    let dcs = doc["cluster"]["datacenters"].as_array().map_or(0, Vec::len);
    let r = &doc["replication"];
    let faults: Vec<&str> = doc["faults"]
        .as_array()
        .map(|f| f.iter().filter_map(|f| f["kind"].as_str()).collect())
        .unwrap_or_default();
    let preset = (doc["workload"]["preset"].as_str()).map_or(String::new(), |p| format!(" {p}"));
    format!(
        "{nodes} nodes in {dcs} dc, N={} R={} W={}, {}{}, {}{preset}, faults: [{}]",
        r["n"],
        r["r"],
        r["w"],
        if r["sloppy_quorum"] == true {
            "sloppy"
        } else {
            "strict"
        },
        match (
            doc["anti_entropy"]["enabled"] == true,
            doc["anti_entropy"]["stream"] == "leaf_range",
        ) {
            (true, true) => ", anti-entropy (leaf ranges)",
            (true, false) => ", anti-entropy",
            (false, _) => "",
        },
        doc["workload"]["kind"].as_str().unwrap_or("?"),
        faults.join(", ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::EventQueue;
    use std::panic::{AssertUnwindSafe, catch_unwind};

    /// An event scheduled into the past panics in the queue, and the swarm files that
    /// panic under the time invariant rather than as an anonymous panic.
    #[test]
    fn a_past_event_breaks_the_time_invariant() {
        let caught = catch_unwind(AssertUnwindSafe(|| {
            let mut q: EventQueue<u8> = EventQueue::new();
            q.push(10, 1);
            q.pop();
            q.push(5, 2);
        }));
        let payload = caught.expect_err("scheduling into the past must panic");
        let message = payload
            .downcast_ref::<String>()
            .cloned()
            .unwrap_or_default();
        assert_eq!(panic_invariant(&message), TIME, "message: {message}");
        assert_eq!(panic_invariant("index out of bounds"), NO_PANIC);
    }
}
