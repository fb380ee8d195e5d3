//! The capacity model against queueing theory: one node, zero network latency, Poisson
//! arrivals and exponential disk service are M/M/1 and M/M/c queues, whose sojourn
//! times are known in closed form; and Little's law (L = λW) between the queue lengths a
//! run's hosts hold and the waits the report gives.

mod common;

use common::{run, scenario, set};
use dynasim::engine::SimTime;
use serde_json::{Value, json};

/// One node, N=R=W=1, reads only: each request is one disk read on the node's queue.
/// `ops_per_s` arrive as a Poisson stream; service is exponential with mean 1 ms.
fn disk_queue(servers: u32, ops_per_s: f64, duration_s: f64) -> Value {
    json!({
        "name": "queue", "seed": 3, "duration_s": duration_s,
        "cluster": {"datacenters": [{"name": "dc", "nodes": 1}]},
        "replication": {"n": 1, "r": 1, "w": 1, "read_repair": false, "hinted_handoff": false},
        "anti_entropy": {"enabled": false},
        "network": {"latency_ms": {"local": {"constant": 0}, "intra_dc": {"constant": 0},
                                   "inter_dc": {"constant": 0}}},
        "storage": {"read_ms": {"exponential": {"mean": 1}}, "write_ms": {"constant": 0}},
        "capacity": {"disk": {"concurrency": servers}},
        "workload": {"kind": "open_loop", "ops_per_s": ops_per_s, "clients": 10,
                     "read_fraction": 1.0, "keys": 100, "write_mode": "blind",
                     "request_timeout_ms": 100000},
        "failure_detector": {"op_timeout_ms": 100000},
        "metrics": {"quiet_period_s": 1}
    })
}

fn within(measured: f64, theory: f64, tolerance: f64, what: &str) {
    let err = (measured - theory).abs() / theory;
    println!("{what}: measured {measured:.4}, theory {theory:.4}");
    assert!(
        err <= tolerance,
        "{what}: measured {measured:.4}, theory {theory:.4} ({:.1}% off, allowed {:.1}%)",
        err * 100.0,
        tolerance * 100.0
    );
}

#[test]
fn one_disk_server_is_an_m_m_1_queue() {
    // λ = 500/s, μ = 1000/s: the sojourn time is exponential with rate μ - λ = 500/s.
    let (_, report) = run(&disk_queue(1, 500.0, 200.0));
    let read = &report.observed.latency_ms.read;
    let rate_per_ms = 0.5;
    within(read.mean, 1.0 / rate_per_ms, 0.03, "mean sojourn (ms)");
    within(
        read.p50,
        2f64.ln() / rate_per_ms,
        0.05,
        "median sojourn (ms)",
    );
    within(
        read.p99,
        100f64.ln() / rate_per_ms,
        0.05,
        "p99 sojourn (ms)",
    );
    let disk = report
        .capacity
        .as_ref()
        .and_then(|c| c.disk.as_ref())
        .expect("disk");
    within(disk.utilization_mean, 0.5, 0.03, "utilization ρ = λ/μ");
    within(disk.wait_ms.mean, 1.0, 0.05, "mean wait ρ/(μ-λ) (ms)");
}

/// Erlang C: the probability that a job waits in M/M/c with offered load `a` = λ/μ.
fn erlang_c(c: u32, a: f64) -> f64 {
    let rho = a / c as f64;
    let mut term = 1.0;
    let mut sum = 0.0;
    for k in 0..c {
        if k > 0 {
            term *= a / k as f64;
        }
        sum += term;
    }
    let last = term * a / c as f64 / (1.0 - rho);
    last / (sum + last)
}

#[test]
fn four_disk_servers_are_an_m_m_c_queue() {
    // λ = 3000/s on 4 servers of μ = 1000/s: ρ = 0.75.
    let (c, lambda, mu) = (4, 3.0, 1.0); // per ms
    let (_, report) = run(&disk_queue(c, lambda * 1000.0, 150.0));
    let wait = erlang_c(c, lambda / mu) / (c as f64 * mu - lambda);
    let read = &report.observed.latency_ms.read;
    within(read.mean, 1.0 / mu + wait, 0.03, "mean sojourn (ms)");
    let disk = report
        .capacity
        .as_ref()
        .and_then(|c| c.disk.as_ref())
        .expect("disk");
    within(disk.wait_ms.mean, wait, 0.06, "mean wait, Erlang C (ms)");
    within(disk.utilization_mean, 0.75, 0.03, "utilization");
}

#[test]
fn queue_lengths_and_waits_obey_littles_law() {
    // A busy multi-node run: sample every disk queue every millisecond and compare the
    // time-averaged number waiting with the arrival rate times the mean wait.
    let text = std::fs::read_to_string("scenarios/overload.json").expect("shipped scenario");
    let mut doc: Value = serde_json::from_str(&text).expect("json");
    set(&mut doc, "duration_s", json!(20));
    set(&mut doc, "faults", json!([]));
    let s = scenario(&doc);
    let mut sim = dynasim::sim::Simulation::new(&s);
    let end_us = 20_000_000u64;
    let (mut sum, mut samples) = (0u64, 0u64);
    for t in (1_000..end_us).step_by(1_000) {
        sim.run_until(SimTime(t));
        let now = SimTime(t);
        for h in sim.hosts().iter() {
            if let Some(d) = h.resources.as_ref().and_then(|r| r.disk.as_ref()) {
                sum += d.waiting(now) as u64;
            }
        }
        samples += 1;
    }
    sim.run();
    let report = dynasim::report::Report::from_outcome(&sim.outcome());
    let disk = report
        .capacity
        .as_ref()
        .and_then(|c| c.disk.as_ref())
        .expect("disk");
    let nodes = sim.hosts().len() as f64;
    let queue_per_node = sum as f64 / samples as f64 / nodes;
    let arrivals_per_ms_per_node = disk.jobs as f64 / 20_000.0 / nodes;
    assert!(
        queue_per_node > 0.05,
        "the scenario queues: {queue_per_node}"
    );
    within(
        queue_per_node,
        arrivals_per_ms_per_node * disk.wait_ms.mean,
        0.05,
        "L = λW for the disk queues",
    );
}
