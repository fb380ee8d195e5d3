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

/// A shipped scenario's document, to edit before a run.
fn shipped(name: &str) -> Value {
    let text = std::fs::read_to_string(format!("scenarios/{name}.json")).expect("shipped scenario");
    serde_json::from_str(&text).expect("json")
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
    let mut doc = shipped("overload");
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

#[test]
fn a_hot_key_saturates_its_replicas_disks_and_writes_time_out() {
    let mut hot = shipped("overload");
    set(&mut hot, "duration_s", json!(20));
    let mut even = hot.clone();
    set(&mut even, "workload.key_distribution", json!("uniform"));
    let (_, hot) = run(&hot);
    let (_, even) = run(&even);
    let disk = |r: &dynasim::report::Report| r.capacity.clone().and_then(|c| c.disk).expect("disk");
    let (h, e) = (disk(&hot), disk(&even));
    assert!(
        h.utilization_max > 0.9,
        "the hot key's replica saturates: {h:?}"
    );
    assert!(
        e.utilization_max < 0.7,
        "uniform keys spread the load: {e:?}"
    );
    assert!(
        h.wait_ms.p99 > 10.0 * e.wait_ms.p99.max(0.1),
        "{h:?} vs {e:?}"
    );
    let writes = |r: &dynasim::report::Report| r.observed.availability.write.expect("writes");
    assert!(
        writes(&hot) < writes(&even),
        "writes time out waiting on the hot disk: {} vs {}",
        writes(&hot),
        writes(&even)
    );
}

#[test]
fn admission_control_shields_foreground_reads_from_a_refill_storm_and_slows_the_refill() {
    let none = shipped("storm");
    let mut dynamo = none.clone();
    set(
        &mut dynamo,
        "capacity.background.admission",
        json!("dynamo"),
    );
    let (_, none) = run(&none);
    let (_, dynamo) = run(&dynamo);
    let read = |r: &dynasim::report::Report| r.observed.latency_ms.read.clone();
    assert!(
        read(&dynamo).p999 < 0.8 * read(&none).p999,
        "p99.9 {} vs {}",
        read(&dynamo).p999,
        read(&none).p999
    );
    assert!(read(&dynamo).max < 0.25 * read(&none).max);
    let disk = |r: &dynasim::report::Report| r.capacity.clone().and_then(|c| c.disk).expect("disk");
    assert!(disk(&dynamo).wait_ms.p999 < 0.1 * disk(&none).wait_ms.p999);
    let admission = dynamo.capacity.as_ref().and_then(|c| c.admission.clone());
    assert!(admission.is_some_and(|a| a.throttled_s > 1.0 && a.nodes_throttled > 0));
    assert!(
        none.capacity
            .as_ref()
            .is_some_and(|c| c.admission.is_none())
    );
    // Background work by kind: the refill is anti-entropy data, the crash's hints are
    // handoff. Admission paces that work and removes none of it: about the same bytes
    // move (7% more: data a full admission lane refused is sent again; before exchanges
    // were tracked in flight, 3.5x as many: each new exchange sent again what the last
    // one still had queued for its share).
    let background = |r: &dynasim::report::Report| {
        (r.capacity.clone())
            .and_then(|c| c.background)
            .expect("background work counted with a finite disk")
    };
    let (b_none, b_dynamo) = (background(&none), background(&dynamo));
    assert!(b_none.anti_entropy.bytes > 100_000_000, "{b_none:?}");
    assert!(b_none.anti_entropy.disk_busy_s > 1.0, "{b_none:?}");
    assert!(
        b_none.hint_handoff.disk_jobs > 0 && b_none.transfer.disk_jobs == 0,
        "{b_none:?}"
    );
    let ratio = b_dynamo.anti_entropy.bytes as f64 / b_none.anti_entropy.bytes as f64;
    assert!((0.85..1.15).contains(&ratio), "{b_dynamo:?} vs {b_none:?}");
    assert!(dynamo.anti_entropy.exchanges_deferred > none.anti_entropy.exchanges_deferred);
    // The price: background work is slower to finish.
    let converged = |r: &dynasim::report::Report| r.convergence.time_to_converge_s;
    assert!(
        matches!((converged(&none), converged(&dynamo)), (Some(a), Some(b)) if b > a),
        "{:?} vs {:?}",
        converged(&none),
        converged(&dynamo)
    );
}

#[test]
fn the_write_buffer_cuts_write_latency_and_a_durable_write_keeps_what_crashes_lose() {
    let shipped = shipped("buffered-writes");
    // Latency without faults, buffered against every write on the disk.
    let mut quiet = shipped.clone();
    set(&mut quiet, "faults", json!([]));
    set(&mut quiet, "duration_s", json!(40));
    let mut unbuffered = quiet.clone();
    set(&mut unbuffered, "storage.write_buffer", Value::Null);
    let (_, buffered) = run(&quiet);
    let (_, unbuffered) = run(&unbuffered);
    let p999 = |r: &dynasim::report::Report| r.observed.latency_ms.write.p999;
    assert!(
        p999(&buffered) * 3.0 < p999(&unbuffered),
        "{} vs {}",
        p999(&buffered),
        p999(&unbuffered)
    );
    let wb = buffered
        .capacity
        .as_ref()
        .and_then(|c| c.write_buffer.clone());
    assert!(wb.is_some_and(|b| b.flushes > 0
        && b.reads_from_memory > 0
        && b.objects_lost_in_crashes == 0));
    // The crash: buffered copies are lost, and with them writes no disk kept.
    let (_, crashed) = run(&shipped);
    let lost = crashed
        .capacity
        .as_ref()
        .and_then(|c| c.write_buffer.clone());
    assert!(lost.is_some_and(|b| b.objects_lost_in_crashes > 0));
    assert!(
        crashed.durability.lost_writes > 0,
        "{:?}",
        crashed.durability
    );
    let mut durable = shipped.clone();
    set(&mut durable, "replication.durable_writes", json!(1));
    let (_, durable) = run(&durable);
    assert_eq!(
        durable.durability.lost_writes, 0,
        "{:?}",
        durable.durability
    );
    assert!(
        durable
            .capacity
            .as_ref()
            .and_then(|c| c.write_buffer.clone())
            .is_some_and(|b| b.writes_through > 0)
    );
}

#[test]
fn a_bounded_disk_queue_rejects_past_its_bound_and_caps_the_wait() {
    let mut default = shipped("overload");
    set(&mut default, "duration_s", json!(20));
    let mut bounded = default.clone();
    set(&mut bounded, "capacity.disk.max_queue", json!(16));
    let (_, default) = run(&default);
    let (_, bounded) = run(&bounded);
    let disk = |r: &dynasim::report::Report| r.capacity.clone().and_then(|c| c.disk).expect("disk");
    // The shipped load stays below the default bound.
    assert_eq!(disk(&default).rejected, Some(0));
    assert!(
        disk(&bounded).rejected.is_some_and(|n| n > 100),
        "{:?}",
        disk(&bounded)
    );
    // No job waits behind more than 16, background work included.
    let longest = disk(&bounded).max_queue.expect("a longest queue").length;
    assert!(longest <= 16, "{longest}");
    assert!(disk(&bounded).wait_ms.p99 < disk(&default).wait_ms.p99);
    let timeline_max = (bounded.timeline.iter())
        .filter_map(|p| p.queues.as_ref()?.disk_queue_max)
        .max();
    assert!(
        timeline_max.is_some_and(|m| m <= 16),
        "the timeline samples the disk queues: {timeline_max:?}"
    );
}

/// No queue grows without bound: four times the shipped overload fills every hot disk's
/// queue to the default bound and no further, and a network interface with a small bound
/// drops what does not fit and counts it.
#[test]
fn every_queue_is_bounded_by_default_and_a_full_network_interface_drops() {
    let mut doc = shipped("overload");
    set(&mut doc, "duration_s", json!(6));
    set(&mut doc, "workload.ops_per_s", json!(8000));
    let mut small_nic = doc.clone();
    set(&mut small_nic, "capacity.network.max_queue", json!(4));
    let (_, report) = run(&doc);
    let (_, small_nic) = run(&small_nic);
    let c = report.capacity.clone().expect("capacity");
    let disk = c.disk.expect("disk");
    let longest = disk.max_queue.as_ref().expect("a longest queue").length;
    assert_eq!(longest, dynasim::scenario::DEFAULT_MAX_QUEUE, "{disk:?}");
    assert!(disk.rejected.is_some_and(|n| n > 1_000), "{disk:?}");
    for r in [c.cpu.expect("cpu"), c.network.expect("network")] {
        let longest = r.max_queue.as_ref().expect("a longest queue").length;
        assert!(longest <= dynasim::scenario::DEFAULT_MAX_QUEUE, "{r:?}");
    }
    let nic = small_nic.capacity.and_then(|c| c.network).expect("network");
    assert!(
        nic.max_queue.as_ref().expect("a longest queue").length <= 4,
        "{nic:?}"
    );
    assert!(nic.rejected.is_some_and(|n| n > 0), "{nic:?}");
}

#[test]
fn a_load_curve_shapes_arrivals_and_latency_follows_the_load() {
    let mut doc = shipped("diurnal");
    set(&mut doc, "duration_s", json!(120));
    let (_, report) = run(&doc);
    let points: Vec<_> = report.timeline.iter().filter(|p| p.to_s <= 120.0).collect();
    let ops = |p: &&dynasim::observer::TimelinePoint| (p.reads + p.writes) as f64;
    let trough = points.iter().take(6).map(ops).sum::<f64>() / 6.0; // 0-30 s: 30-35% of the peak
    let peak = points.iter().skip(14).take(4).map(ops).sum::<f64>() / 4.0; // 70-90 s
    // The curve's factor is about 0.32 over the trough and about 0.97 over the peak.
    let ratio = peak / trough;
    assert!((2.5..3.6).contains(&ratio), "peak/trough arrivals {ratio}");
    let tail = |p: &&dynasim::observer::TimelinePoint| p.read_p999_ms.unwrap_or(0.0);
    let quiet_tail = points.iter().take(6).map(tail).fold(0.0, f64::max);
    let busy_tail = points.iter().skip(14).take(4).map(tail).fold(0.0, f64::max);
    assert!(busy_tail > 1.5 * quiet_tail, "{busy_tail} vs {quiet_tail}");
}

#[test]
fn losing_a_hot_node_cascades_under_one_random_token_and_equal_partitions_keep_availability() {
    let tokens = shipped("cascade");
    let mut equal = tokens.clone();
    set(
        &mut equal,
        "cluster.partitioning.strategy",
        json!("equal_partitions"),
    );
    let (_, tokens) = run(&tokens);
    let (_, equal) = run(&equal);
    let a = |r: &dynasim::report::Report| r.observed.availability.clone();
    let (t, e) = (a(&tokens), a(&equal));
    // Both serve the load before the loss...
    for before in [t.read_outside_faults, e.read_outside_faults] {
        assert!(
            before.expect("reads before the loss") > 0.999,
            "{t:?} {e:?}"
        );
    }
    // ...after it, one random token per node loses availability that strategy 3 keeps.
    let (t_after, e_after) = (
        t.read_during_faults.expect("reads after"),
        e.read_during_faults.expect("reads after"),
    );
    assert!(
        e_after > 0.995,
        "equal partitions after the loss: {e_after}"
    );
    // (Unavailable: 0.71% against 0.33%, which are the requests sent to the lost node
    // before it is suspected. The margin was 6x while hints handed off bypassed the
    // disk's bound and flooded the saturated node.)
    assert!(
        1.0 - t_after > 2.0 * (1.0 - e_after),
        "random tokens after the loss: {t_after} against {e_after}"
    );
    // The loss spreads: live nodes saturate, refuse work and are suspected although up.
    let disk = |r: &dynasim::report::Report| r.capacity.clone().and_then(|c| c.disk).expect("disk");
    let (td, ed) = (disk(&tokens), disk(&equal));
    assert!(
        td.utilization_max > 0.9 && ed.utilization_max < 0.7,
        "{td:?} {ed:?}"
    );
    assert!(
        td.rejected > Some(1_000) && ed.rejected == Some(0),
        "{td:?} {ed:?}"
    );
    // Hints handed back to a saturated node wait within its bound like any other job.
    let longest = td.max_queue.clone().expect("a longest queue").length;
    assert!(longest <= 64, "{longest}");
    let fd = |r: &dynasim::report::Report| r.observed.failure_detection.false_suspicions;
    assert!(fd(&tokens) > 1_000 && fd(&equal) == 0);
}

/// A join that moves range boundaries (random tokens) makes every node holding a range
/// whose keys changed rebuild its Merkle tree: its keys are read from disk as background
/// work. Under equal partitions ranges keep their keys, and nothing is rebuilt.
#[test]
fn a_join_that_moves_range_boundaries_reads_the_rebuilt_ranges_from_disk() {
    let doc = json!({
        "name": "rebuild", "seed": 3, "duration_s": 30,
        "cluster": {"datacenters": [{"name": "east", "nodes": 6}],
                    "partitioning": {"strategy": "random_tokens", "tokens_per_node": 8}},
        "replication": {"n": 3, "r": 2, "w": 2},
        "anti_entropy": {"enabled": true, "interval_s": 5, "merkle_depth": 8},
        "storage": {"read_ms": {"constant": 0.2}, "write_ms": {"constant": 0.5},
                    "bytes_per_s": 20_000_000},
        "capacity": {"disk": {"concurrency": 2}},
        "workload": {"kind": "open_loop", "ops_per_s": 400, "clients": 8, "read_fraction": 0.5,
                     "keys": 5000, "key_distribution": "uniform", "write_mode": "blind",
                     "value_bytes": 4096, "request_timeout_ms": 500},
        "faults": [{"kind": "join", "at_s": 10, "datacenter": "east", "count": 1}],
        "metrics": {"quiet_period_s": 5}
    });
    let rebuild = |doc: &Value| {
        let (_, r) = run(doc);
        (r.capacity.and_then(|c| c.background))
            .expect("a finite disk")
            .merkle_rebuild
    };
    let moved = rebuild(&doc);
    assert!(moved.disk_jobs >= 6, "{moved:?}");
    // About 5,000 keys written by the join, 4 KB each, on 3 replicas: a rebuilt range is
    // read whole, but only the ranges whose keys changed.
    assert!(
        moved.bytes > 1_000_000 && moved.bytes < 30_000_000,
        "{moved:?}"
    );
    assert!(moved.disk_busy_s > 0.05, "{moved:?}");
    let mut paced = doc.clone();
    set(&mut paced, "capacity.background.admission", json!("dynamo"));
    assert!(rebuild(&paced).disk_jobs >= 6);
    let mut fixed = doc.clone();
    set(
        &mut fixed,
        "cluster.partitioning",
        json!({"strategy": "equal_partitions", "partitions": 64}),
    );
    assert_eq!(rebuild(&fixed).disk_jobs, 0);
}

/// A leave under admission control on slow, busy disks: the controller holds the
/// background share at its floor, so the leaver's range transfer cannot keep up with its
/// rate. The transfer's window and backoff keep it from sending batch after batch while
/// the first copies still wait for the disk, and each host's admission lane refuses
/// background work past its bound (counted) instead of holding every copy in memory.
/// Before both, this run sent 353,412 keys for 53,156 to move in 90 s (each copy held in
/// the lane) and its memory grew without bound with the run's length.
#[test]
fn a_starved_transfer_backs_off_and_a_full_admission_lane_refuses_background_work() {
    let mut doc = shipped("buffered-writes");
    set(&mut doc, "duration_s", json!(90));
    set(
        &mut doc,
        "cluster.datacenters",
        json!([{"name": "dc", "nodes": 6}]),
    );
    set(&mut doc, "anti_entropy.interval_s", json!(10));
    set(&mut doc, "replication.durable_writes", json!(1));
    set(&mut doc, "storage.bytes_per_s", json!(20_000_000));
    set(
        &mut doc,
        "capacity.background",
        json!({"admission": "dynamo", "target_disk_latency_ms": 10, "max_share": 0.5}),
    );
    set(
        &mut doc,
        "faults",
        json!([{"kind": "leave", "at_s": 60, "nodes": ["dc-2"]}]),
    );
    set(&mut doc, "metrics.quiet_period_s", json!(0));
    let (_, report) = run(&doc);
    let admission = (report.capacity.as_ref())
        .and_then(|c| c.admission.clone())
        .expect("admission control is on");
    assert!(admission.lowest_share <= 0.011, "{admission:?}");
    assert!(admission.rejected > 0, "{admission:?}");
    let m = &report.membership;
    let to_move = m.changes[0].keys_to_move;
    assert!(m.changes[0].completed_s.is_none(), "{:?}", m.changes[0]);
    assert!(
        m.keys_transferred <= to_move,
        "{} keys sent for {to_move} to move",
        m.keys_transferred
    );
}
