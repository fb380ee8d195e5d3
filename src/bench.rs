//! `dynasim bench`: how fast the simulator runs, on fixed scenarios with every mechanism
//! on (gossip every second, anti-entropy, hinted handoff, read repair, a crash and a
//! partition) at several cluster sizes, next to a bare event-loop baseline. Figures are
//! printed, never asserted: timing has no place in pass/fail tests.
//!
//! Each size runs in a child process (`dynasim run --timings`) so that its peak memory is
//! its own.

use crate::engine::EventQueue;
use crate::engine::rng::{RngStreams, Stream, below};
use crate::error::Failure;
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::path::{Path, PathBuf};
use std::time::Instant;

#[derive(clap::Args, Debug)]
pub struct BenchArgs {
    /// Cluster sizes to run (nodes).
    #[arg(long, value_delimiter = ',', default_values_t = [100u32, 1_000, 10_000])]
    pub sizes: Vec<u32>,
    /// Simulated seconds per run.
    #[arg(long, default_value_t = 60.0)]
    pub duration_s: f64,
    /// Client operations per simulated second.
    #[arg(long, default_value_t = 2_778.0)]
    pub ops_per_s: f64,
    /// Where scenario files and reports of the runs go (default: a temporary folder).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Also run each size with every resource bounded (`capacity`: disk, CPU, network
    /// interface) and print its events/s next to the unbounded run's.
    #[arg(long)]
    pub with_capacity: bool,
}

/// What `dynasim run --timings FILE` writes: wall-clock figures kept out of report.json.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Timings {
    pub wall_s: f64,
    pub events: u64,
    pub events_per_s: f64,
    pub ops_per_s: f64,
    pub peak_rss_bytes: Option<u64>,
}

/// The process's peak resident memory (VmHWM), where the OS reports it.
pub fn peak_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// Every resource bounded, with room to spare at the benchmark's load: the cost of the
/// model, not of an overload.
fn bench_capacity() -> serde_json::Value {
    json!({
        "disk": {"concurrency": 4},
        "cpu": {"threads": 8, "per_message_ms": {"constant": 0.02}},
        "network": {"node_bytes_per_s": 125_000_000}
    })
}

/// The benchmark scenario at `nodes` nodes, with every resource bounded when `capacity`.
pub fn scenario(nodes: u32, duration_s: f64, ops_per_s: f64, capacity: bool) -> serde_json::Value {
    let mut doc = base_scenario(nodes, duration_s, ops_per_s);
    if capacity {
        doc["capacity"] = bench_capacity();
        doc["name"] = json!(format!("bench-{nodes}-capacity"));
    }
    doc
}

fn base_scenario(nodes: u32, duration_s: f64, ops_per_s: f64) -> serde_json::Value {
    let partitions = (nodes * 4).next_power_of_two().max(1024);
    let east = nodes / 2;
    json!({
        "name": format!("bench-{nodes}"),
        "description": "benchmark: every mechanism on, a crash and a partition",
        "seed": 1,
        "duration_s": duration_s,
        "cluster": {
            "datacenters": [{"name": "east", "nodes": east}, {"name": "west", "nodes": nodes - east}],
            "partitioning": {"strategy": "equal_partitions", "partitions": partitions}
        },
        "replication": {"n": 3, "r": 2, "w": 2, "hint_scan_interval_s": 10},
        "anti_entropy": {"enabled": true, "interval_s": 60, "merkle_depth": 10},
        "gossip": {"interval_s": 1, "seeds": 3},
        "workload": {"kind": "open_loop", "ops_per_s": ops_per_s, "clients": 200, "keys": (nodes * 100).max(10_000),
                     "key_distribution": {"zipf": 0.99}, "write_mode": "read_modify_write", "routing": "partition_aware"},
        "faults": [
            {"kind": "crash", "at_s": duration_s * 0.2, "duration_s": duration_s * 0.2, "random_nodes": (nodes / 100).max(1)},
            {"kind": "partition", "at_s": duration_s * 0.5, "duration_s": duration_s * 0.1, "groups": [["east"], ["west"]]}
        ],
        "metrics": {"timeline_interval_s": 10}
    })
}

/// Pushes and pops small events in the simulator's queue type at `pending` events
/// outstanding, with the same kind of time spread; returns events per second.
fn bare_queue(pending: usize, events: u64) -> f64 {
    let mut rng = RngStreams::new(1).stream(Stream::Test, 0);
    let mut q: EventQueue<(u32, u32)> = EventQueue::new();
    for i in 0..pending {
        q.push(below(&mut rng, 1_000_000), (i as u32, 0));
    }
    let start = Instant::now();
    let mut done = 0u64;
    while done < events {
        let Some((t, e)) = q.pop() else { break };
        q.push(t + 1 + below(&mut rng, 200_000), (e.0, e.1.wrapping_add(1)));
        done += 1;
    }
    done as f64 / start.elapsed().as_secs_f64().max(1e-9)
}

/// The flags' values, checked before anything runs (they were found by the first run's
/// validation, reported against its temporary scenario file).
fn check_args(args: &BenchArgs) -> Result<(), Failure> {
    let mut problems = Vec::new();
    if args.sizes.is_empty() || args.sizes.iter().any(|n| *n < 3 || *n > 100_000) {
        problems.push(format!(
            "--sizes {:?}: each size must be 3 to 100000 nodes",
            args.sizes
        ));
    }
    if !(args.duration_s.is_finite() && args.duration_s > 0.0 && args.duration_s <= 86_400.0) {
        problems.push(format!(
            "--duration-s {}: must be a number of simulated seconds above 0, at most 86400",
            args.duration_s
        ));
    }
    if !(args.ops_per_s.is_finite() && args.ops_per_s > 0.0 && args.ops_per_s <= 10_000_000.0) {
        problems.push(format!(
            "--ops-per-s {}: must be a rate above 0, at most 10000000",
            args.ops_per_s
        ));
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(Failure::trouble(problems.join("\n")))
    }
}

pub fn run(args: BenchArgs) -> Result<(), Failure> {
    check_args(&args)?;
    let exe = std::env::current_exe()
        .map_err(|e| Failure::trouble(format!("cannot find own binary: {e}")))?;
    let temporary = args.out.is_none();
    let out = args.out.clone().unwrap_or_else(|| {
        std::env::temp_dir().join(format!("dynasim-bench-{}", std::process::id()))
    });
    std::fs::create_dir_all(&out).map_err(|e| Failure::cannot("create", &out, e))?;
    let result = run_sizes(&exe, &out, &args);
    if temporary {
        // The temporary folder goes whatever happened (its runs are only means).
        let _ = std::fs::remove_dir_all(&out);
    }
    result
}

fn run_sizes(exe: &Path, out: &Path, args: &BenchArgs) -> Result<(), Failure> {
    crate::outln!(
        "dynasim bench: {} simulated s per run, {} ops/s, every mechanism on (release build: {})",
        args.duration_s,
        args.ops_per_s,
        !cfg!(debug_assertions)
    );
    crate::outln!(
        "{:>8} {:>12} {:>12} {:>10} {:>10} {:>12} {:>14} {:>10}",
        "nodes",
        "events",
        "events/s",
        "ops/s",
        "wall s",
        "peak MiB",
        "bare queue/s",
        "ratio"
    );
    for nodes in &args.sizes {
        let t = run_one(exe, out, *nodes, args, false)?;
        // The bare loop runs at a comparable number of pending events.
        let pending = (*nodes as usize * 4).clamp(10_000, 2_000_000);
        let bare = bare_queue(pending, 5_000_000);
        crate::outln!(
            "{:>8} {:>12} {:>12.0} {:>10.0} {:>10.2} {:>12} {:>14.0} {:>10.3}",
            nodes,
            t.events,
            t.events_per_s,
            t.ops_per_s,
            t.wall_s,
            peak_mib(&t),
            bare,
            t.events_per_s / bare
        );
        if args.with_capacity {
            let c = run_one(exe, out, *nodes, args, true)?;
            crate::outln!(
                "{:>8} {:>12} {:>12.0} {:>10.0} {:>10.2} {:>12}   with capacity: {:.3} x the events/s unbounded",
                format!("{nodes}+cap"),
                c.events,
                c.events_per_s,
                c.ops_per_s,
                c.wall_s,
                peak_mib(&c),
                c.events_per_s / t.events_per_s
            );
        }
    }
    Ok(())
}

/// Peak memory of a run in MiB, or "n/a" where the OS does not say.
fn peak_mib(t: &Timings) -> String {
    t.peak_rss_bytes
        .map(|b| format!("{:.0}", b as f64 / 1_048_576.0))
        .unwrap_or_else(|| "n/a".into())
}

fn run_one(
    exe: &Path,
    out: &Path,
    nodes: u32,
    args: &BenchArgs,
    capacity: bool,
) -> Result<Timings, Failure> {
    let doc = scenario(nodes, args.duration_s, args.ops_per_s, capacity);
    let name = doc["name"].as_str().unwrap_or("bench").to_string();
    let file = out.join(format!("{name}.json"));
    let timings = out.join(format!("{name}.timings.json"));
    // Bench judges nothing: whatever stops a run is trouble (exit 2).
    let fail = Failure::trouble;
    std::fs::write(&file, doc.to_string()).map_err(|e| Failure::cannot("write", &file, e))?;
    let status = std::process::Command::new(exe)
        .arg("run")
        .arg(&file)
        .arg("--quiet")
        .arg("--out")
        .arg(out.join(&name))
        .arg("--timings")
        .arg(&timings)
        .status()
        .map_err(|e| fail(format!("cannot start a run: {e}")))?;
    if !status.success() {
        return Err(fail(format!("the {nodes}-node run failed ({status})")));
    }
    let text =
        std::fs::read_to_string(&timings).map_err(|e| Failure::cannot("read", &timings, e))?;
    serde_json::from_str(&text)
        .map_err(|e| fail(format!("bad timings in {}: {e}", timings.display())))
}
