//! Broken scenarios through the binary: each case is one mistake a user could make (a
//! small edit of a valid scenario), the JSON path the error must name and a fragment of
//! the message. `dynasim validate` must exit 2, name the file and the path, and never
//! panic; `dynasim run` must refuse the same file without writing anything.

mod common;

use common::{Scratch, set, small_scenario};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::Command;

/// How a case breaks the valid scenario.
enum Edit {
    /// Set a dotted path (created if missing) to a value.
    Set(&'static str, Value),
    /// Remove a dotted path.
    Remove(&'static str),
    /// Replace the whole file with this text.
    Text(&'static str),
}

use Edit::*;

struct Case {
    mistake: &'static str,
    edits: Vec<Edit>,
    /// The JSON path the error must name ("" for errors about the whole file).
    path: &'static str,
    fragment: &'static str,
}

fn crash(extra: Value) -> Value {
    let mut f = json!({"kind": "crash", "at_s": 2, "duration_s": 3, "nodes": ["east-1"]});
    if let (Some(f), Value::Object(extra)) = (f.as_object_mut(), extra) {
        f.extend(extra);
    }
    json!([f])
}

fn cases() -> Vec<Case> {
    let case = |mistake, edits, path, fragment| Case {
        mistake,
        edits,
        path,
        fragment,
    };
    vec![
        case(
            "JSON syntax: a trailing comma",
            vec![Text("{\n  \"name\": \"x\",\n  \"duration_s\": 5,\n}\n")],
            "",
            "invalid JSON at line 4, column 1",
        ),
        case(
            "an empty file",
            vec![Text("")],
            "",
            "invalid JSON at line 1",
        ),
        case(
            "a list instead of an object",
            vec![Text("[1, 2]")],
            "",
            "a scenario is a JSON object",
        ),
        case(
            "a duplicate key",
            vec![Text(r#"{"name": "x", "seed": 1, "seed": 2}"#)],
            "seed",
            "duplicate field `seed`",
        ),
        case(
            "a misspelt top-level field",
            vec![Set("duraton_s", json!(5))],
            "duraton_s",
            "did you mean `duration_s`?",
        ),
        case(
            "a misspelt field inside the tagged workload",
            vec![Set("workload.read_fractoin", json!(0.5))],
            "workload.read_fractoin",
            "did you mean `read_fraction`?",
        ),
        case(
            "a misspelt workload kind",
            vec![Set("workload.kind", json!("open_lop"))],
            "workload.kind",
            "did you mean `open_loop`?",
        ),
        case(
            "a string where the workload wants a number",
            vec![Set("workload.keys", json!("many"))],
            "workload.keys",
            "invalid type: string \"many\", expected u32",
        ),
        case(
            "a misspelt field deep inside a staleness probe's distribution",
            vec![Set(
                "workload",
                json!({"kind": "staleness_probe", "probes": 10, "probes_per_s": 5,
                       "read_delay_ms": {"uniform": {"low": 0, "hgh": 5}}}),
            )],
            "workload.read_delay_ms.uniform.hgh",
            "did you mean `high`?",
        ),
        case(
            "an unknown probe reader",
            vec![Set(
                "workload",
                json!({"kind": "staleness_probe", "probes": 10, "probes_per_s": 5,
                       "read_delay_ms": {"constant": 1}, "reader": "anyone"}),
            )],
            "workload.reader",
            "any_client",
        ),
        case(
            "joins that outgrow strategy 3's partitions",
            vec![Set(
                "faults",
                json!([{"kind": "join", "at_s": 2, "datacenter": "east", "count": 60}]),
            )],
            "cluster.partitioning.partitions",
            "joins grow the cluster to 72 nodes",
        ),
        case(
            "a disk with no servers",
            vec![Set("capacity", json!({"disk": {"concurrency": 0}}))],
            "capacity.disk.concurrency",
            "from 1 to 1024",
        ),
        case(
            "joins that grow the cluster past a million nodes",
            vec![Set(
                "faults",
                json!([{"kind": "join", "at_s": 1, "datacenter": "east", "count": 900_000},
                       {"kind": "join", "at_s": 2, "datacenter": "east", "count": 900_000}]),
            )],
            "faults",
            "at most 1000000 nodes in all",
        ),
        case(
            "a network queue bound past what a bound can mean",
            vec![Set(
                "capacity",
                json!({"network": {"node_bytes_per_s": 1e9, "max_queue": 20_000_000}}),
            )],
            "capacity.network.max_queue",
            "from 0 to 10000000",
        ),
        case(
            "a write buffer without a finite disk",
            vec![Set(
                "storage",
                json!({"read_ms": {"constant": 1}, "write_ms": {"constant": 1},
                       "write_buffer": {"objects": 10, "flush_interval_ms": 100}}),
            )],
            "storage.write_buffer",
            "needs capacity.disk",
        ),
        case(
            "a delete share above one",
            vec![Set("workload.delete_fraction", json!(1.5))],
            "workload.delete_fraction",
            "between 0 and 1",
        ),
        case(
            "an unknown YCSB preset",
            vec![Set("workload.preset", json!("ycsb_g"))],
            "workload.preset",
            "expected one of `ycsb_a`, `ycsb_b`, `ycsb_c`, `ycsb_d`, `ycsb_e`, `ycsb_f`",
        ),
        case(
            "a preset on staleness probes",
            vec![Set(
                "workload",
                json!({"kind": "staleness_probe", "preset": "ycsb_b", "probes": 10,
                       "probes_per_s": 5, "read_delay_ms": {"constant": 1}}),
            )],
            "workload.preset",
            "not allowed for kind `staleness_probe`",
        ),
        case(
            "reads and inserts more than all operations",
            vec![Set("workload.insert_fraction", json!(0.6))],
            "workload.insert_fraction",
            "together they are at most 1",
        ),
        case(
            "a negative exponent for latest",
            vec![Set("workload.key_distribution", json!({"latest": -0.5}))],
            "workload.key_distribution.latest",
            "use an exponent from 0 to 10",
        ),
        case(
            "a misspelt failure detector",
            vec![Set("failure_detector.kind", json!("phi"))],
            "failure_detector.kind",
            "unknown variant `phi`",
        ),
        case(
            "a phi threshold of zero",
            vec![Set("failure_detector.phi_threshold", json!(0))],
            "failure_detector.phi_threshold",
            "> 0",
        ),
        case(
            "heartbeats every millisecond",
            vec![Set("failure_detector.heartbeat_interval_s", json!(0.001))],
            "failure_detector.heartbeat_interval_s",
            "at most every 0.01 s",
        ),
        case(
            "a hint window of zero",
            vec![Set("replication.hint_window_s", json!(0))],
            "replication.hint_window_s",
            "> 0",
        ),
        case(
            "a negative handoff throttle",
            vec![Set("replication.hint_handoff_bytes_per_s", json!(-1))],
            "replication.hint_handoff_bytes_per_s",
            "> 0",
        ),
        case(
            "a misspelt anti-entropy stream",
            vec![Set("anti_entropy.stream", json!("leaves"))],
            "anti_entropy.stream",
            "unknown variant `leaves`",
        ),
        case(
            "a tombstone grace of zero",
            vec![Set("replication.tombstone_gc_grace_s", json!(0))],
            "replication.tombstone_gc_grace_s",
            "> 0",
        ),
        case(
            "a load curve that does not span the period",
            vec![Set(
                "workload.load_curve",
                json!({"period_s": 10, "points": [[0.2, 1.0], [1.0, 0.5]]}),
            )],
            "workload.load_curve.points",
            "rising from 0 to 1",
        ),
        case(
            "load-balance windows too short for the run",
            vec![Set("metrics.balance_window_s", json!(0.001))],
            "metrics.balance_window_s",
            "at most 10000",
        ),
        case(
            "a misspelt partition assignment",
            vec![Set("cluster.partitioning.assignment", json!("stripe"))],
            "cluster.partitioning.assignment",
            "unknown variant `stripe`",
        ),
        case(
            "a misspelt fault kind",
            vec![Set("faults", crash(json!({"kind": "crsh"})))],
            "faults[0].kind",
            "unknown variant `crsh`",
        ),
        case(
            "a fault without a kind",
            vec![Set("faults", json!([{"at_s": 1, "nodes": ["east-1"]}]))],
            "faults[0].kind",
            "is missing",
        ),
        case(
            "a misspelt fault field",
            vec![Set("faults", crash(json!({"duraton_s": 3})))],
            "faults[0].duraton_s",
            "did you mean `duration_s`?",
        ),
        case(
            "a fault time as a string",
            vec![Set("faults", crash(json!({"at_s": "soon"})))],
            "faults[0].at_s",
            "invalid type: string \"soon\"",
        ),
        case(
            "a fault missing a required field",
            vec![Set(
                "faults",
                json!([{"kind": "partition", "at_s": 1, "groups": [["east"], ["west"]]}]),
            )],
            "faults[0]",
            "missing field `duration_s`",
        ),
        case(
            "an unknown enum value",
            vec![Set("replication.versioning", json!("vector_clok"))],
            "replication.versioning",
            "did you mean `vector_clock`?",
        ),
        case(
            "an unknown latency distribution",
            vec![Set("storage.read_ms", json!({"exponentail": {"mean": 1}}))],
            "storage.read_ms",
            "did you mean `exponential`?",
        ),
        case(
            "R above N",
            vec![Set("replication.r", json!(4))],
            "replication.r",
            "R must be between 1 and N (3)",
        ),
        case(
            "N above the number of nodes",
            vec![Set(
                "cluster.datacenters",
                json!([{"name": "east", "nodes": 1}, {"name": "west", "nodes": 1}]),
            )],
            "replication.n",
            "more than the 2 nodes",
        ),
        case(
            "a probability above 1",
            vec![Set("network.drop_probability", json!(1.5))],
            "network.drop_probability",
            "between 0 and 1",
        ),
        case(
            "a negative duration",
            vec![Set("duration_s", json!(-5))],
            "duration_s",
            "-5 is not allowed",
        ),
        case(
            "a zero request timeout",
            vec![Set("workload.request_timeout_ms", json!(0))],
            "workload.request_timeout_ms",
            "> 0",
        ),
        case(
            "a negative op timeout",
            vec![Set("failure_detector.op_timeout_ms", json!(-1))],
            "failure_detector.op_timeout_ms",
            "> 0",
        ),
        case(
            "an unknown write coordinator",
            vec![Set("workload.write_coordinator", json!("random"))],
            "workload.write_coordinator",
            "fastest_read",
        ),
        case(
            "mixture weights that do not sum to 1",
            vec![Set(
                "network.latency_ms.intra_dc",
                json!({"mixture": [{"weight": 0.5, "dist": {"constant": 1}},
                                   {"weight": 0.2, "dist": {"constant": 9}}]}),
            )],
            "network.latency_ms.intra_dc",
            "sum to 0.7",
        ),
        case(
            "a datacenter with no nodes",
            vec![Set(
                "cluster.datacenters",
                json!([{"name": "east", "nodes": 6}, {"name": "west", "nodes": 0}]),
            )],
            "cluster.datacenters[1].nodes",
            "at least 1 node",
        ),
        case(
            "fewer equal partitions than nodes",
            vec![Set("cluster.partitioning.partitions", json!(4))],
            "cluster.partitioning.partitions",
            "at least one partition per node",
        ),
        case(
            "a datacenter named like another's node",
            vec![Set(
                "cluster.datacenters",
                json!([{"name": "east", "nodes": 6}, {"name": "east-1", "nodes": 6}]),
            )],
            "cluster.datacenters[1].name",
            "also the name of a node of datacenter `east`",
        ),
        case(
            "a fault on a node that does not exist",
            vec![Set("faults", crash(json!({"nodes": ["east-60"]})))],
            "faults[0].nodes[0]",
            "unknown node \"east-60\"",
        ),
        case(
            "more random nodes than the cluster has",
            vec![Set(
                "faults",
                json!([{"kind": "crash", "at_s": 1, "random_nodes": 13}]),
            )],
            "faults[0].random_nodes",
            "pick 1 to 12 nodes",
        ),
        case(
            "a partition with one group",
            vec![Set(
                "faults",
                json!([{"kind": "partition", "at_s": 1, "duration_s": 2, "groups": [["east"]]}]),
            )],
            "faults[0].groups",
            "at least 2",
        ),
        case(
            "a node in one partition group and its datacenter in another",
            vec![Set(
                "faults",
                json!([{"kind": "partition", "at_s": 1, "duration_s": 2,
                        "groups": [["east"], ["east-2", "west"]]}]),
            )],
            "faults[0].groups[1][0]",
            "belongs to datacenter `east`, which groups[0] lists whole",
        ),
        case(
            "an outage of an unknown datacenter",
            vec![Set(
                "faults",
                json!([{"kind": "datacenter_outage", "at_s": 1, "duration_s": 2, "datacenter": "wset"}]),
            )],
            "faults[0].datacenter",
            "unknown datacenter \"wset\"",
        ),
        case(
            "a fault after the end of the run",
            vec![Set("faults", crash(json!({"at_s": 500})))],
            "faults[0].at_s",
            "after the end of the run",
        ),
        case(
            "a message-loss probability above 1",
            vec![Set(
                "faults",
                json!([{"kind": "message_loss", "at_s": 1, "duration_s": 2, "probability": 2}]),
            )],
            "faults[0].probability",
            "between 0 and 1",
        ),
        case(
            "an interval that rounds to zero simulated time",
            vec![Set("failure_detector.probe_interval_s", json!(1e-9))],
            "failure_detector.probe_interval_s",
            "too short; use at least 0.001 s",
        ),
        case(
            "an arrival rate beyond microsecond time",
            vec![Set("workload.ops_per_s", json!(5e6))],
            "workload.ops_per_s",
            "too high",
        ),
        case(
            "a Merkle tree too deep",
            vec![Set("anti_entropy.merkle_depth", json!(30))],
            "anti_entropy.merkle_depth",
            "use 1 to 24",
        ),
        case(
            "an override for an unknown message kind",
            vec![Set(
                "network.by_message_ms",
                json!({"read_requets": {"constant": 1}}),
            )],
            "network.by_message_ms.read_requets",
            "did you mean `read_request`?",
        ),
        case(
            "a negative wide-area delay",
            vec![Set("network.inter_dc_added_ms", json!({"constant": -75}))],
            "network.inter_dc_added_ms",
            "-75",
        ),
        case(
            "a required field removed",
            vec![Remove("cluster")],
            "",
            "missing field `cluster`",
        ),
        case(
            "ANY as a read consistency level",
            vec![Set(
                "replication.consistency",
                json!({"read": "ANY", "write": "ONE"}),
            )],
            "replication.consistency.read",
            "ANY is for writes only",
        ),
        case(
            "a consistency level spelt in lower case",
            vec![Set(
                "replication.consistency",
                json!({"read": "quorum", "write": "ONE"}),
            )],
            "replication.consistency.read",
            "`QUORUM`",
        ),
        case(
            "THREE with two replicas",
            vec![
                Set("replication.n", json!(2)),
                Set("replication.r", json!(1)),
                Set("replication.w", json!(1)),
                Set(
                    "replication.consistency",
                    json!({"read": "ONE", "write": "THREE"}),
                ),
            ],
            "replication.consistency.write",
            "THREE needs 3 replicas but replication.n is 2",
        ),
        case(
            "replicas per datacenter that do not add up to N",
            vec![Set(
                "replication.replicas_per_datacenter",
                json!({"east": 2, "west": 2}),
            )],
            "replication.replicas_per_datacenter",
            "add up to 4 but replication.n is 3",
        ),
        case(
            "replicas in a datacenter that does not exist",
            vec![Set(
                "replication.replicas_per_datacenter",
                json!({"east": 2, "wset": 1}),
            )],
            "replication.replicas_per_datacenter.wset",
            "did you mean `west`?",
        ),
        case(
            "more primaries required than replicas",
            vec![Set("replication.pw", json!(4))],
            "replication.pw",
            "at most N (3) primaries",
        ),
        // Leaves that could not happen: the run used to record them as changes that never
        // complete, silently.
        case(
            "a node that leaves twice",
            vec![Set(
                "faults",
                json!([
                    {"kind": "leave", "at_s": 2, "nodes": ["east-1"]},
                    {"kind": "leave", "at_s": 5, "nodes": ["east-1"]}
                ]),
            )],
            "faults[1].nodes",
            "\"east-1\" already leaves at faults[0] (at_s 2)",
        ),
        case(
            "a leave of a node that a later join adds",
            vec![Set(
                "faults",
                json!([
                    {"kind": "leave", "at_s": 2, "nodes": ["east-6"]},
                    {"kind": "join", "at_s": 3, "datacenter": "east", "count": 1}
                ]),
            )],
            "faults[0].nodes",
            "added by the join at faults[1] (at_s 3), after this leave at 2 s",
        ),
        case(
            "random leaves that would empty the cluster",
            vec![Set(
                "faults",
                json!([
                    {"kind": "leave", "at_s": 2, "nodes": ["east-1"]},
                    {"kind": "leave", "at_s": 4, "random_nodes": 11}
                ]),
            )],
            "faults[1].random_nodes",
            "would remove all 11 nodes the cluster has at 4 s; a ring needs at least one, so remove at most 10",
        ),
        case(
            "a leave of every node",
            vec![Set(
                "faults",
                json!([{"kind": "leave", "at_s": 2, "nodes": [
                    "east-0", "east-1", "east-2", "east-3", "east-4", "east-5",
                    "west-0", "west-1", "west-2", "west-3", "west-4", "west-5"
                ]}]),
            )],
            "faults[0].nodes",
            "would remove all 12 nodes",
        ),
    ]
}

fn remove(doc: &mut Value, path: &str) {
    let parts: Vec<&str> = path.split('.').collect();
    let mut node = doc;
    for part in &parts[..parts.len() - 1] {
        node = &mut node[*part];
    }
    if let Some(map) = node.as_object_mut() {
        map.remove(parts[parts.len() - 1]);
    }
}

fn write_case(dir: &Path, i: usize, case: &Case) -> PathBuf {
    let mut doc = small_scenario();
    let mut text = None;
    for edit in &case.edits {
        match edit {
            Set(path, value) => set(&mut doc, path, value.clone()),
            Remove(path) => remove(&mut doc, path),
            Text(t) => text = Some(t.to_string()),
        }
    }
    let file = dir.join(format!("case-{i}.json"));
    let text = text.unwrap_or_else(|| serde_json::to_string_pretty(&doc).unwrap_or_default());
    std::fs::write(&file, text).expect("write the case file");
    file
}

fn dynasim(args: &[&std::ffi::OsStr]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_dynasim"))
        .args(args)
        .output()
        .expect("run dynasim");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn scratch(name: &str) -> Scratch {
    Scratch::new(&format!("bad-scenarios-{name}"))
}

#[test]
fn the_valid_base_scenario_validates() {
    let dir = scratch("bad-base");
    let file = dir.join("base.json");
    std::fs::write(&file, small_scenario().to_string()).expect("write");
    let (code, stderr) = dynasim(&["validate".as_ref(), file.as_os_str()]);
    assert_eq!(code, 0, "{stderr}");
}

#[test]
fn every_mistake_names_its_path_and_exits_2() {
    let dir = scratch("bad");
    let cases = cases();
    assert!(cases.len() >= 20);
    let mut problems = Vec::new();
    for (i, case) in cases.iter().enumerate() {
        let file = write_case(&dir, i, case);
        let (code, stderr) = dynasim(&["validate".as_ref(), file.as_os_str()]);
        let located = if case.path.is_empty() {
            format!("{}: ", file.display())
        } else {
            format!("{}: {}: ", file.display(), case.path)
        };
        let line = stderr.lines().find(|l| l.contains(&located));
        let ok = code == 2
            && !stderr.contains("panicked")
            && line.is_some_and(|l| l.contains(case.fragment));
        if !ok {
            problems.push(format!(
                "{} (case {i}): expected exit 2 and `{located}...{}`, got exit {code}:\n{stderr}",
                case.mistake, case.fragment
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn run_refuses_a_bad_scenario_and_writes_nothing() {
    let dir = scratch("bad-run");
    let cases = cases();
    for i in [0, 5, 16, 28] {
        let file = write_case(&dir, i, &cases[i]);
        let out = dir.join(format!("out-{i}"));
        let (code, stderr) = dynasim(&[
            "run".as_ref(),
            "--quiet".as_ref(),
            "--out".as_ref(),
            out.as_os_str(),
            file.as_os_str(),
        ]);
        assert_eq!(code, 2, "{}: {stderr}", cases[i].mistake);
        assert!(
            !out.exists(),
            "{}: wrote {}",
            cases[i].mistake,
            out.display()
        );
    }
}

#[test]
fn all_problems_of_a_file_are_reported_together() {
    let dir = scratch("bad-many");
    let mut doc = small_scenario();
    set(&mut doc, "replication.r", json!(9));
    set(&mut doc, "network.drop_probability", json!(-1));
    set(
        &mut doc,
        "faults",
        json!([{"kind": "crash", "at_s": 1, "nodes": ["east-77"]},
               {"kind": "message_loss", "at_s": 1, "duration_s": -2, "probability": 0.1}]),
    );
    let file = dir.join("many.json");
    std::fs::write(&file, doc.to_string()).expect("write");
    let (code, stderr) = dynasim(&["validate".as_ref(), file.as_os_str()]);
    assert_eq!(code, 2);
    for path in [
        "replication.r",
        "network.drop_probability",
        "faults[0].nodes[0]",
        "faults[1].duration_s",
    ] {
        assert!(
            stderr.contains(&format!(": {path}: ")),
            "{path} in {stderr}"
        );
    }
}

/// One out-of-range part of the run's end is reported alone: the checks that measure
/// against the end (timeline points, balance windows, faults after the end, random-crash
/// windows) are skipped, since they would only echo that one mistake.
#[test]
fn a_rejected_timeout_brings_no_follow_on_errors() {
    let dir = scratch("bad-end");
    for (path, value) in [
        ("workload.request_timeout_ms", json!(1e300)),
        ("failure_detector.op_timeout_ms", json!(-5)),
        ("metrics.quiet_period_s", json!(1e300)),
    ] {
        let mut doc = small_scenario();
        set(&mut doc, path, value);
        set(&mut doc, "metrics.timeline_interval_s", json!(0.01));
        set(
            &mut doc,
            "faults",
            json!([{"kind": "random_crashes", "at_s": 1, "mtbf_s": 600, "mttr_s": 10},
                   {"kind": "crash", "at_s": 50, "duration_s": 1, "nodes": ["east-1"]}]),
        );
        let file = dir.join("end.json");
        std::fs::write(&file, doc.to_string()).expect("write");
        let (code, stderr) = dynasim(&["validate".as_ref(), file.as_os_str()]);
        assert_eq!(code, 2);
        assert!(
            stderr.contains(&format!(": {path}: ")),
            "{path} in {stderr}"
        );
        assert_eq!(stderr.lines().count(), 1, "only {path}: {stderr}");
    }
}

#[test]
fn run_refuses_a_scenario_too_big_for_memory() {
    let mut doc = small_scenario();
    set(&mut doc, "workload.keys", json!(4_000_000_000u64));
    set(&mut doc, "workload.key_distribution", json!("uniform"));
    let scenario = dynasim::scenario::load_str(&doc.to_string(), "big", &[]).expect("valid");
    let estimate = dynasim::guard::estimate(&scenario).bytes;
    match dynasim::guard::available_bytes() {
        Some(available) if available < estimate => {}
        // No /proc/meminfo, or a machine that could run it: nothing to refuse.
        _ => return,
    }
    let dir = scratch("too-big");
    let file = dir.join("big.json");
    std::fs::write(&file, doc.to_string()).expect("write");
    let out = dir.join("out");
    let (code, stderr) = dynasim(&[
        "run".as_ref(),
        "--quiet".as_ref(),
        "--out".as_ref(),
        out.as_os_str(),
        file.as_os_str(),
    ]);
    assert_eq!(code, 2, "{stderr}");
    for fragment in [
        "would need about",
        "GiB",
        "MemAvailable",
        "--no-memory-check",
    ] {
        assert!(stderr.contains(fragment), "{fragment} in {stderr}");
    }
    assert!(!out.exists());
}

/// The "fault after the end of the run" rule computes the end as `Simulation::new` does.
#[test]
fn the_run_end_the_checks_use_is_the_simulations() {
    let cases = [
        (500.0, 50.0, 0.0, 300.0),
        (123.4, 0.0, 7.5, 300.0),
        (10_000.0, 3.0, 60.0, 300.0),
        (200.0, 10.0, 1.0, 4_000.0),
    ];
    for (timeout, window, quiet, op_timeout) in cases {
        let mut doc = small_scenario();
        set(&mut doc, "workload.request_timeout_ms", json!(timeout));
        set(
            &mut doc,
            "failure_detector.op_timeout_ms",
            json!(op_timeout),
        );
        set(&mut doc, "replication.read_repair_window_ms", json!(window));
        set(&mut doc, "metrics.quiet_period_s", json!(quiet));
        let s = common::scenario(&doc);
        let sim = dynasim::sim::Simulation::new(&s);
        let checks = dynasim::scenario::checks::run_end_s(&s);
        assert!(
            (sim.end().as_secs_f64() - checks).abs() < 2e-6,
            "{} vs {checks}",
            sim.end()
        );
    }
}

/// Issue 21, item 7: a FIFO or a device as the scenario is refused at once (it hung, or
/// read until memory ran out), naming what it is; a file with a UTF-8 byte-order mark
/// loads (item 8).
#[test]
fn non_regular_files_are_refused_and_a_bom_is_skipped() {
    let dir = scratch("non-regular");
    let fifo = dir.join("fifo.json");
    let made = Command::new("mkfifo").arg(&fifo).status();
    let mut inputs: Vec<(PathBuf, &str)> = vec![
        (PathBuf::from("/dev/zero"), "character device"),
        (PathBuf::from("/dev/urandom"), "character device"),
        (dir.to_path_buf(), "directory"),
    ];
    if made.is_ok_and(|s| s.success()) {
        inputs.push((fifo, "FIFO"));
    }
    for (path, kind) in &inputs {
        for command in ["validate", "run"] {
            // A hang here would be the bug: the command must return on its own.
            let (code, stderr) = dynasim(&[command.as_ref(), path.as_os_str()]);
            assert_eq!(code, 2, "{command} {}: {stderr}", path.display());
            assert!(
                stderr.contains("not a regular file") && stderr.contains(kind),
                "{command} {}: {stderr}",
                path.display()
            );
        }
    }
    let bom = dir.join("bom.json");
    std::fs::write(&bom, format!("\u{feff}{}", small_scenario())).expect("write");
    let (code, stderr) = dynasim(&["validate".as_ref(), bom.as_os_str()]);
    assert_eq!(code, 0, "{stderr}");
}

/// Issue 21, item 3: the memory guard counts nodes that joins add and the rings each
/// change publishes; `membership.client_refresh_s` has a floor; `trace`, `check` and
/// `sweep` refuse what `run` refuses, and `sweep --jobs J` counts J runs at once.
#[test]
fn the_memory_guard_covers_joins_polls_and_every_command() {
    let mut doc = small_scenario();
    let base = dynasim::guard::estimate(&common::scenario(&doc)).bytes;
    set(
        &mut doc,
        "faults",
        json!([{"kind": "join", "at_s": 1, "datacenter": "east", "count": 200}]),
    );
    set(&mut doc, "cluster.partitioning.partitions", json!(4096));
    let joined = dynasim::guard::estimate(&common::scenario(&doc)).bytes;
    assert!(
        joined > base,
        "200 joined nodes must cost memory: {base} -> {joined}"
    );

    let mut doc = small_scenario();
    set(&mut doc, "membership.client_refresh_s", json!(1e-7));
    let dir = scratch("guard-commands");
    let file = write_doc(&dir, 0, &doc);
    let (code, stderr) = dynasim(&["validate".as_ref(), file.as_os_str()]);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("membership.client_refresh_s") && stderr.contains("0.01"),
        "{stderr}"
    );

    let mut doc = small_scenario();
    set(&mut doc, "workload.keys", json!(4_294_967_295u64));
    let huge = write_doc(&dir, 1, &doc);
    let huge = huge.to_string_lossy().into_owned();
    let sweep_out = dir.join("sweep").to_string_lossy().into_owned();
    for args in [
        vec!["check", huge.as_str()],
        vec!["trace", huge.as_str(), "--key", "1"],
        vec![
            "sweep",
            huge.as_str(),
            "--grid",
            "replication.r=1,2",
            "--out",
            &sweep_out,
        ],
    ] {
        let args: Vec<&std::ffi::OsStr> = args.iter().map(|a| a.as_ref()).collect();
        let (code, stderr) = dynasim(&args);
        assert_eq!(code, 2, "{args:?}: {stderr}");
        assert!(stderr.contains("--no-memory-check"), "{args:?}: {stderr}");
    }
    // J runs at once need J times the memory.
    let s = common::scenario(&small_scenario());
    let one = dynasim::guard::estimate(&s).bytes;
    let bytes = dynasim::guard::estimate_for_run;
    assert!(dynasim::guard::check_fits_together(&[&s, &s, &s], 2, Some(one * 2), bytes).is_ok());
    let err = dynasim::guard::check_fits_together(&[&s, &s, &s], 3, Some(one * 2), bytes)
        .expect_err("three at once do not fit in two runs' memory");
    assert!(
        err.contains("3 run(s) at once") && err.contains("lower --jobs"),
        "{err}"
    );
    // `check` holds the report's fields twice on top of the run: a dense timeline costs
    // it far more than the run (12 KB a point against 1.6 KB).
    let mut dense = small_scenario();
    common::set(&mut dense, "metrics.timeline_interval_s", json!(0.001));
    let dense = common::scenario(&dense);
    let run = dynasim::guard::estimate(&dense).bytes;
    let check = dynasim::guard::estimate_for_check(&dense);
    assert!(check > run * 3, "check {check}, run {run}");
    assert!(dynasim::guard::estimate_for_check(&s) > one);
}

/// Issue 21, item 8: numbers in error messages stay short (1e300, not 300 digits).
#[test]
fn huge_numbers_in_errors_are_written_short() {
    let mut doc = small_scenario();
    set(&mut doc, "duration_s", json!(1e300));
    set(&mut doc, "workload.ops_per_s", json!(-1e200));
    let dir = scratch("huge-numbers");
    let file = write_doc(&dir, 0, &doc);
    let (code, stderr) = dynasim(&["validate".as_ref(), file.as_os_str()]);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("1e300") && stderr.contains("-1e200"),
        "{stderr}"
    );
    assert!(
        stderr.lines().all(|l| !l.contains("0000000000000000")),
        "a number written out in full: {stderr}"
    );
}

/// Issue 21, item 8: bad `bench` flags are refused up front (exit 2, naming the flag, not
/// a temporary file) and leave no temporary folder; `run`'s side files are checked before
/// the run (an unwritable `--timings` lost report.json; `--history OUT/report.json`
/// replaced it); `trace --from-s NaN` is refused.
#[test]
fn bad_command_line_values_are_refused_before_any_work() {
    let before = bench_folders();
    let (code, stderr) = dynasim(&[
        "bench".as_ref(),
        "--sizes".as_ref(),
        "0".as_ref(),
        "--duration-s".as_ref(),
        "NaN".as_ref(),
        "--ops-per-s".as_ref(),
        "0".as_ref(),
    ]);
    assert_eq!(code, 2, "{stderr}");
    for flag in ["--sizes", "--duration-s NaN", "--ops-per-s 0"] {
        assert!(stderr.contains(flag), "{flag}: {stderr}");
    }
    assert!(
        !stderr.contains(".json"),
        "names a temporary file: {stderr}"
    );
    assert_eq!(bench_folders(), before, "a temporary folder was left");

    let dir = scratch("side-files");
    let mut doc = small_scenario();
    set(&mut doc, "duration_s", json!(1));
    let file = write_doc(&dir, 0, &doc);
    let out = dir.join("out");
    let history_clash = out.join("report.json");
    let (code, stderr) = dynasim(&[
        "run".as_ref(),
        file.as_os_str(),
        "--out".as_ref(),
        out.as_os_str(),
        "--history".as_ref(),
        history_clash.as_os_str(),
    ]);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("--history") && stderr.contains("writes that file"),
        "{stderr}"
    );
    let timings_clash = out.join("manifest.json");
    let (code, stderr) = dynasim(&[
        "run".as_ref(),
        file.as_os_str(),
        "--out".as_ref(),
        out.as_os_str(),
        "--timings".as_ref(),
        timings_clash.as_os_str(),
    ]);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("--timings") && stderr.contains("writes that file"),
        "{stderr}"
    );
    let (code, stderr) = dynasim(&[
        "run".as_ref(),
        file.as_os_str(),
        "--out".as_ref(),
        out.as_os_str(),
        "--timings".as_ref(),
        "/proc/no-such-folder/t.json".as_ref(),
    ]);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("--timings") && stderr.contains("cannot write there"),
        "{stderr}"
    );
    assert!(!out.exists(), "nothing runs when a side file is bad");

    for window in [["--from-s", "NaN"], ["--to-s", "inf"]] {
        let (code, stderr) = dynasim(&[
            "trace".as_ref(),
            file.as_os_str(),
            "--key".as_ref(),
            "1".as_ref(),
            window[0].as_ref(),
            window[1].as_ref(),
        ]);
        assert_eq!(code, 2, "{window:?}: {stderr}");
        assert!(stderr.contains(window[0]), "{window:?}: {stderr}");
    }
}

fn bench_folders() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(std::env::temp_dir())
        .map(|d| {
            d.filter_map(Result::ok)
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.starts_with("dynasim-bench-"))
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

fn write_doc(dir: &Path, i: usize, doc: &Value) -> PathBuf {
    let file = dir.join(format!("doc-{i}.json"));
    std::fs::write(&file, doc.to_string()).expect("write the scenario");
    file
}

#[test]
fn new_writes_a_starter_that_runs_and_schema_describes_the_format() {
    let dir = scratch("new");
    let file = dir.join("first.json");
    let (code, stderr) = dynasim(&["new".as_ref(), file.as_os_str()]);
    assert_eq!(code, 0, "{stderr}");
    let (code, stderr) = dynasim(&["validate".as_ref(), file.as_os_str()]);
    assert_eq!(code, 0, "{stderr}");
    let written = std::fs::read_to_string(dir.join("scenario.schema.json")).expect("schema");
    let (code, stderr) = dynasim(&["new".as_ref(), file.as_os_str()]);
    assert_eq!(code, 2);
    assert!(
        stderr.contains("exists") && stderr.contains("--force"),
        "{stderr}"
    );

    let out = Command::new(env!("CARGO_BIN_EXE_dynasim"))
        .arg("schema")
        .output()
        .expect("dynasim schema");
    let printed = String::from_utf8(out.stdout).expect("UTF-8");
    assert_eq!(printed, written, "new writes the schema schema prints");
    let schema: serde_json::Value = serde_json::from_str(&printed).expect("JSON");
    let defs = schema["$defs"].as_object().expect("$defs");
    for kind in ["Fault", "Distribution", "Replication", "Workload"] {
        assert!(defs.contains_key(kind), "no {kind} in the schema");
    }
}

/// Found by a robustness hunt: `println!` panicked (exit 101) when standard output was a
/// full disk or a closed pipe. Now the command ends with exit 2 and says why on stderr.
#[test]
fn a_full_standard_output_ends_the_command_cleanly() {
    let Ok(full) = std::fs::File::create("/dev/full") else {
        return; // Not on Linux: there is no always-full device to write to.
    };
    let dir = scratch("stdout-full");
    let file = write_doc(&dir, 0, &small_scenario());
    let out = Command::new(env!("CARGO_BIN_EXE_dynasim"))
        .args(["validate".as_ref(), file.as_os_str()])
        .stdout(full)
        .output()
        .expect("run dynasim");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("cannot write to standard output") && !stderr.contains("panicked"),
        "{stderr}"
    );
}
