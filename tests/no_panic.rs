//! No input may panic the loader, the validator or a run of what they accept. A seeded
//! property test (deterministic: no fuzzing crate, same inputs every time) feeds the
//! loader arbitrary JSON documents, mutations of valid scenarios (fields dropped, numbers
//! made negative, huge, zero or strings, types swapped, random and unicode strings, deep
//! nesting, huge lists), corrupted text and random `--set` edits. Whatever validates is
//! built and run for half a simulated second, when the memory guard says it is small.
//! Inputs that once broke something are kept below as regression cases.

mod common;

use dynasim::engine::SimTime;
use dynasim::engine::rng::{RngStreams, SimRng, Stream, below};
use dynasim::report::Report;
use dynasim::scenario::{Scenario, load_str};
use dynasim::sim::Simulation;
use serde_json::{Map, Value, json};
use std::panic::{AssertUnwindSafe, catch_unwind};

/// Inputs that once panicked or hung something; each must now load (or fail) cleanly.
const REGRESSIONS: &[&str] = &[
    // Intervals below 1 µs rounded to zero simulated time: the clock never moved.
    r#"{"name":"r","duration_s":1,"cluster":{"datacenters":[{"name":"a","nodes":3}]},
        "workload":{"kind":"open_loop","ops_per_s":10,"keys":10},
        "metrics":{"timeline_interval_s":1e-9}}"#,
    r#"{"name":"r","duration_s":1,"cluster":{"datacenters":[{"name":"a","nodes":3}]},
        "replication":{"hint_scan_interval_s":1e-12},
        "workload":{"kind":"open_loop","ops_per_s":10,"keys":10}}"#,
    // Found by this test: a failure detector probing every nanosecond re-armed its timer
    // at the same microsecond forever once a node was suspected.
    r#"{"name":"r","duration_s":1,"cluster":{"datacenters":[{"name":"a","nodes":3}]},
        "failure_detector":{"probe_interval_s":1e-9},
        "workload":{"kind":"open_loop","ops_per_s":10,"keys":10},
        "faults":[{"kind":"crash","at_s":0.1,"nodes":["a-0"]}]}"#,
    // Random crashes with a sub-ulp mean time between failures never advanced the clock.
    r#"{"name":"r","duration_s":1,"cluster":{"datacenters":[{"name":"a","nodes":3}]},
        "workload":{"kind":"open_loop","ops_per_s":10,"keys":10},
        "faults":[{"kind":"random_crashes","at_s":0.5,"mtbf_s":1e-12,"mttr_s":1e-12}]}"#,
    // Arrivals a nanosecond apart all landed on the same microsecond.
    r#"{"name":"r","duration_s":1,"cluster":{"datacenters":[{"name":"a","nodes":3}]},
        "workload":{"kind":"open_loop","ops_per_s":1e9,"keys":10}}"#,
    // Deep nesting and a non-object document.
    "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]",
    "\"just a string\"",
    "",
    // A kind that is not a string, a fault that is not an object.
    r#"{"name":"r","duration_s":1,"cluster":{"datacenters":[{"name":"a","nodes":3}]},
        "workload":{"kind":{"open_loop":1}},"faults":[null, 3, {"kind":[]}]}"#,
];

#[test]
fn regression_inputs_do_not_panic() {
    for (i, text) in REGRESSIONS.iter().enumerate() {
        let outcome = drive(text, &[]);
        assert!(
            matches!(outcome, Ok(Outcome::Rejected)),
            "regression input {i} should be rejected cleanly: {outcome:?}"
        );
    }
}

/// Found by a robustness hunt: a disk, CPU or network service time near what a u64 of
/// microseconds holds wrapped around in the host's resource queues ("a FIFO queue starts
/// jobs in admission order", "event scheduled in the past"). Such a time now saturates
/// ("never done") and the run goes on.
#[test]
fn huge_service_times_on_finite_resources_saturate() {
    let base = r#"{"name":"r","duration_s":1,"cluster":{"datacenters":[{"name":"a","nodes":3}]},
        "workload":{"kind":"open_loop","ops_per_s":200,"keys":10},
        "storage":{"read_ms":{"constant":0.2},"write_ms":{"constant":0.5},"bytes_per_s":1e8},
        "capacity":{"disk":{"concurrency":2,"max_queue":64},
            "cpu":{"threads":2,"per_message_ms":{"exponential":{"mean":0.02}}},
            "network":{"node_bytes_per_s":1e6}}}"#;
    for (path, value) in [
        ("storage.read_ms", r#"{"constant":1e308}"#),
        (
            "storage.write_ms",
            r#"{"lognormal":{"median":1,"sigma":10}}"#,
        ),
        ("storage.read_ms", r#"{"pareto":{"scale":0.2,"shape":0.2}}"#),
        ("storage.bytes_per_s", "1e-300"),
        (
            "capacity.cpu.per_message_ms",
            r#"{"pareto":{"scale":1,"shape":0.01}}"#,
        ),
        ("capacity.network.node_bytes_per_s", "1e-300"),
    ] {
        let sets = [(path.to_string(), value.to_string())];
        let outcome = drive(base, &sets);
        assert!(
            matches!(outcome, Ok(Outcome::Ran)),
            "{path}={value}: {outcome:?}"
        );
    }
}

#[test]
fn arbitrary_and_mutated_inputs_never_panic() {
    let mut rng = RngStreams::new(2024).stream(Stream::Test, 9);
    let bases: Vec<Value> = (0..8)
        .map(|i| dynasim::swarm::draw(99, i))
        .chain([common::small_scenario()])
        .collect();
    let mut failures = Vec::new();
    let mut stats = Stats::default();
    for case in 0..4_000u32 {
        let (text, sets) = match case % 8 {
            0 => (arbitrary(&mut rng, 0).to_string(), Vec::new()),
            1 => (corrupt_text(&mut rng, &bases), Vec::new()),
            2 => {
                let base = &bases[below(&mut rng, bases.len() as u64) as usize];
                (base.to_string(), random_sets(&mut rng, base))
            }
            _ => {
                let mut doc = bases[below(&mut rng, bases.len() as u64) as usize].clone();
                for _ in 0..=below(&mut rng, 3) {
                    mutate(&mut rng, &mut doc);
                }
                (doc.to_string(), Vec::new())
            }
        };
        match drive(&text, &sets) {
            Ok(o) => stats.add(o),
            Err(panic) => failures.push(format!(
                "case {case}: {panic}\n  input: {}\n  sets: {sets:?}",
                text.chars().take(4_000).collect::<String>()
            )),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    println!("{stats:?}");
    // The generator must reach every stage, or the test proves little.
    assert!(stats.rejected > 1_000, "{stats:?}");
    assert!(stats.ran > 100, "{stats:?}");
}

#[derive(Debug, Default)]
struct Stats {
    rejected: u32,
    valid: u32,
    ran: u32,
}

impl Stats {
    fn add(&mut self, o: Outcome) {
        match o {
            Outcome::Rejected => self.rejected += 1,
            Outcome::ValidTooBig => self.valid += 1,
            Outcome::Ran => {
                self.valid += 1;
                self.ran += 1
            }
        }
    }
}

#[derive(Debug)]
enum Outcome {
    Rejected,
    ValidTooBig,
    Ran,
}

/// Loads `text`; when it validates and is small, runs it for 0.5 simulated seconds and
/// builds its report. Any panic comes back as its message; so does a run that does not
/// finish within `WATCHDOG` of wall time (a frozen clock loops forever: the run is left
/// spinning on its thread and the test fails with the input).
fn drive(text: &str, sets: &[(String, String)]) -> Result<Outcome, String> {
    let loaded = catch_unwind(AssertUnwindSafe(|| load_str(text, "fuzz", sets)))
        .map_err(|p| panic_message(&*p))?;
    let Ok(scenario) = loaded else {
        return Ok(Outcome::Rejected);
    };
    if !small(&scenario) {
        return Ok(Outcome::ValidTooBig);
    }
    let (done, wait) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let result = catch_unwind(AssertUnwindSafe(|| {
            let mut sim = Simulation::new(&scenario);
            sim.run_until(SimTime::from_secs_f64(0.5));
            let report = Report::from_outcome(&sim.outcome());
            let _ = report.to_json();
        }));
        let _ = done.send(result.map_err(|p| panic_message(&*p)));
    });
    match wait.recv_timeout(WATCHDOG) {
        Ok(Ok(())) => Ok(Outcome::Ran),
        Ok(Err(panic)) => Err(panic),
        Err(_) => Err(format!("the run did not finish within {WATCHDOG:?}")),
    }
}

const WATCHDOG: std::time::Duration = std::time::Duration::from_secs(20);

fn panic_message(p: &(dyn std::any::Any + Send)) -> String {
    p.downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic".into())
}

/// Whether half a second of this scenario is cheap enough for a debug-build test.
fn small(s: &Scenario) -> bool {
    let z = dynasim::guard::Size::of(s);
    let rate = z.requests / s.duration_s.max(1e-9);
    let ticks = 0.5 / s.metrics.timeline_interval_s;
    dynasim::guard::estimate(s).bytes < 256 << 20
        && z.nodes <= 200.0
        && z.slots <= 100_000.0
        && rate <= 20_000.0
        && s.workload.clients() <= 10_000
        && z.keys * z.n * (ticks + 1.0) <= 2e7
}

fn pick<'a, T>(rng: &mut SimRng, items: &'a [T]) -> &'a T {
    &items[below(rng, items.len() as u64) as usize]
}

/// Names the loader knows, so that random objects sometimes hit real fields.
const NAMES: &[&str] = &[
    "name",
    "duration_s",
    "cluster",
    "datacenters",
    "nodes",
    "partitioning",
    "strategy",
    "partitions",
    "tokens_per_node",
    "replication",
    "n",
    "r",
    "w",
    "workload",
    "kind",
    "open_loop",
    "staleness_probe",
    "ops_per_s",
    "keys",
    "faults",
    "crash",
    "at_s",
    "partition",
    "groups",
    "metrics",
    "constant",
    "mixture",
    "weight",
    "dist",
    "empirical",
    "random_nodes",
    "east",
    "east-0",
    "zipf",
    "uniform",
    "anti_entropy",
    "merkle_depth",
];

fn random_string(rng: &mut SimRng) -> String {
    match below(rng, 6) {
        0 => pick(rng, NAMES).to_string(),
        1 => String::new(),
        2 => "ünïcødé-名前-🦀\u{0}\u{202e}".into(),
        3 => "x".repeat(below(rng, 5_000) as usize),
        4 => pick(
            rng,
            &["NaN", "inf", "-inf", "1e999", "-0", "0x10", "null", "true"],
        )
        .to_string(),
        _ => (0..below(rng, 12))
            .map(|_| char::from_u32(32 + below(rng, 95) as u32).unwrap_or('?'))
            .collect(),
    }
}

fn random_number(rng: &mut SimRng) -> Value {
    match below(rng, 14) {
        10 => json!(1e-9),
        11 => json!(1e-4),
        12 => json!(1e7),
        13 => json!(2e9),
        0 => json!(0),
        1 => json!(-1),
        2 => json!(-1e9),
        3 => json!(1e308),
        4 => json!(u64::MAX),
        5 => json!(4_294_967_296u64),
        6 => json!(1e-300),
        7 => json!(0.5),
        8 => json!(i64::MIN),
        _ => json!(below(rng, 100)),
    }
}

/// An arbitrary JSON value, nesting at most a few levels.
fn arbitrary(rng: &mut SimRng, depth: u32) -> Value {
    let choice = if depth > 4 {
        below(rng, 4)
    } else {
        below(rng, 7)
    };
    match choice {
        0 => Value::Null,
        1 => json!(below(rng, 2) == 0),
        2 => random_number(rng),
        3 => json!(random_string(rng)),
        4 | 5 => {
            let mut map = Map::new();
            for _ in 0..below(rng, 6) {
                map.insert(random_string(rng), arbitrary(rng, depth + 1));
            }
            Value::Object(map)
        }
        _ => (0..below(rng, 5))
            .map(|_| arbitrary(rng, depth + 1))
            .collect(),
    }
}

/// The path (object keys and list indices) to a random value inside `doc`.
fn random_path(rng: &mut SimRng, doc: &Value) -> Vec<PathStep> {
    let mut path = Vec::new();
    let mut node = doc;
    loop {
        let next = match node {
            Value::Object(map) if !map.is_empty() => {
                let key = map.keys().nth(below(rng, map.len() as u64) as usize);
                key.map(|k| PathStep::Key(k.clone()))
            }
            Value::Array(items) if !items.is_empty() => {
                Some(PathStep::Index(below(rng, items.len() as u64) as usize))
            }
            _ => None,
        };
        // Stop sometimes before the leaves, to mutate whole objects too.
        let Some(step) = next else { return path };
        if !path.is_empty() && below(rng, 4) == 0 {
            return path;
        }
        node = match &step {
            PathStep::Key(k) => &node[k.as_str()],
            PathStep::Index(i) => &node[*i],
        };
        path.push(step);
    }
}

enum PathStep {
    Key(String),
    Index(usize),
}

/// One random mutation at a random place of a valid scenario.
fn mutate(rng: &mut SimRng, doc: &mut Value) {
    let path = random_path(rng, doc);
    let Some((last, parent_path)) = path.split_last() else {
        *doc = arbitrary(rng, 0);
        return;
    };
    let mut parent = &mut *doc;
    for step in parent_path {
        parent = match step {
            PathStep::Key(k) => &mut parent[k.as_str()],
            PathStep::Index(i) => &mut parent[*i],
        };
    }
    let op = below(rng, 12);
    let target_is_number = match (&*parent, last) {
        (Value::Object(map), PathStep::Key(k)) => map.get(k).is_some_and(Value::is_number),
        (Value::Array(items), PathStep::Index(i)) => items.get(*i).is_some_and(Value::is_number),
        _ => false,
    };
    // Most bugs hide in numbers at their edges: give numbers edge values more often.
    let op = if target_is_number && below(rng, 2) == 0 {
        1
    } else {
        op
    };
    if op == 0 {
        match (parent, last) {
            (Value::Object(map), PathStep::Key(k)) => {
                map.remove(k);
            }
            (Value::Array(items), PathStep::Index(i)) => {
                items.remove(*i);
            }
            _ => {}
        }
        return;
    }
    let target = match last {
        PathStep::Key(k) => &mut parent[k.as_str()],
        PathStep::Index(i) => &mut parent[*i],
    };
    *target = match op {
        1 => random_number(rng),
        2 => match target.as_f64() {
            Some(x) => json!(-x),
            None => json!(-1),
        },
        3 => match target.as_f64() {
            Some(x) => json!(x * 1e6),
            None => json!(1e6),
        },
        4 => json!(target.to_string()), // a number or object as a string
        5 => json!(random_string(rng)),
        6 => {
            // Deep nesting (below serde_json's recursion limit, which rejects deeper).
            let mut v = target.clone();
            for _ in 0..(below(rng, 120)) {
                v = json!([v]);
            }
            v
        }
        7 => {
            let item = arbitrary(rng, 3);
            Value::Array(vec![item; below(rng, 20_000) as usize])
        }
        8 => {
            // Add an unknown field next to the target's fields, or wrap it.
            if let Value::Object(map) = target {
                map.insert(random_string(rng), arbitrary(rng, 2));
                return;
            }
            json!({ random_string(rng): target.clone() })
        }
        9 => Value::Null,
        10 => json!(0),
        _ => arbitrary(rng, 2),
    };
}

/// A valid scenario's text, truncated or with bytes changed.
fn corrupt_text(rng: &mut SimRng, bases: &[Value]) -> String {
    let base = &bases[below(rng, bases.len() as u64) as usize];
    let mut text = if below(rng, 2) == 0 {
        base.to_string()
    } else {
        serde_json::to_string_pretty(base).unwrap_or_default()
    };
    let mut bytes: Vec<char> = text.chars().collect();
    for _ in 0..=below(rng, 3) {
        if bytes.is_empty() {
            break;
        }
        let at = below(rng, bytes.len() as u64) as usize;
        match below(rng, 4) {
            0 => bytes.truncate(at),
            1 => {
                bytes.remove(at);
            }
            2 => bytes.insert(
                at,
                *pick(rng, &['{', '}', '"', ',', ':', '\\', 'é', '\u{0}']),
            ),
            _ => bytes[at] = char::from_u32(32 + below(rng, 95) as u32).unwrap_or('?'),
        }
    }
    text = bytes.into_iter().collect();
    text
}

/// Random `--set` edits: real and misspelt paths, values of any type.
fn random_sets(rng: &mut SimRng, base: &Value) -> Vec<(String, String)> {
    (0..=below(rng, 2))
        .map(|_| {
            let path: Vec<String> = random_path(rng, base)
                .into_iter()
                .map(|s| match s {
                    PathStep::Key(k) => k,
                    PathStep::Index(i) => i.to_string(),
                })
                .collect();
            let mut path = path.join(".");
            if below(rng, 5) == 0 {
                path.push_str(&random_string(rng));
            }
            let value = match below(rng, 3) {
                0 => random_number(rng).to_string(),
                1 => random_string(rng),
                _ => arbitrary(rng, 3).to_string(),
            };
            (path, value)
        })
        .collect()
}
