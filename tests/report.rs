//! The user-facing outputs: summary.md and plots (well-formed, deterministic), the JSON
//! Lines history (complete and consistent with report.json), and t-visibility measured by
//! staleness probes.

mod common;
use common::*;
use dynasim::observer::History;
use dynasim::report::{Report, write_outputs};
use dynasim::sim::Simulation;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

fn scratch(name: &str) -> Scratch {
    Scratch::new(&format!("report-{name}"))
}

/// The small scenario with a partition in the middle (fault windows to shade).
fn partitioned_scenario() -> Value {
    let mut doc = small_scenario();
    set(&mut doc, "duration_s", json!(12));
    set(
        &mut doc,
        "faults",
        json!([{"kind": "partition", "at_s": 4, "duration_s": 4, "groups": [["east"], ["west"]]}]),
    );
    set(
        &mut doc,
        "metrics",
        json!({"sla_ms": 300, "timeline_interval_s": 1, "quiet_period_s": 5}),
    );
    doc
}

/// Checks that `text` is well-formed XML with a single `<svg>` root.
fn assert_well_formed_svg(name: &str, text: &str) {
    use quick_xml::events::Event;
    let mut reader = quick_xml::Reader::from_str(text);
    reader.config_mut().check_end_names = true;
    let (mut depth, mut roots, mut root_name) = (0usize, 0usize, String::new());
    loop {
        match reader.read_event() {
            Ok(Event::Start(e)) => {
                if depth == 0 {
                    roots += 1;
                    root_name = String::from_utf8_lossy(e.name().as_ref()).into_owned();
                }
                for a in e.attributes() {
                    a.unwrap_or_else(|err| panic!("{name}: bad attribute: {err}"));
                }
                depth += 1;
            }
            Ok(Event::Empty(e)) => {
                if depth == 0 {
                    roots += 1;
                    root_name = String::from_utf8_lossy(e.name().as_ref()).into_owned();
                }
                for a in e.attributes() {
                    a.unwrap_or_else(|err| panic!("{name}: bad attribute: {err}"));
                }
            }
            Ok(Event::End(_)) => {
                depth = depth
                    .checked_sub(1)
                    .unwrap_or_else(|| panic!("{name}: unbalanced end tag"));
            }
            Ok(Event::Text(t)) => {
                t.unescape()
                    .unwrap_or_else(|err| panic!("{name}: bad text: {err}"));
            }
            Ok(Event::Eof) => break,
            Ok(_) => {}
            Err(err) => panic!(
                "{name}: not well-formed XML at byte {}: {err}",
                reader.error_position()
            ),
        }
    }
    assert_eq!(depth, 0, "{name}: unclosed elements");
    assert_eq!(roots, 1, "{name}: expected one root element");
    assert_eq!(root_name, "svg", "{name}: the root is not <svg>");
}

/// Decodes a PNG fully (the decoder checks every chunk's CRC) and returns its size.
fn decode_png(name: &str, bytes: &[u8]) -> (u32, u32) {
    let decoder = png::Decoder::new(std::io::Cursor::new(bytes));
    let mut reader = decoder
        .read_info()
        .unwrap_or_else(|e| panic!("{name}: bad PNG header: {e}"));
    let mut pixels = vec![0; reader.output_buffer_size()];
    let info = reader
        .next_frame(&mut pixels)
        .unwrap_or_else(|e| panic!("{name}: bad PNG data: {e}"));
    // Something was drawn: a blank canvas has one colour.
    let first = &pixels[..3];
    assert!(
        pixels.chunks(3).any(|p| p != first),
        "{name}: the image is blank"
    );
    (info.width, info.height)
}

fn read_outputs(paths: &[PathBuf]) -> BTreeMap<String, Vec<u8>> {
    paths
        .iter()
        .map(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read(p).expect("read an output"))
        })
        .collect()
}

#[test]
fn plots_and_summary_are_well_formed_and_identical_for_the_same_seed() {
    let doc = partitioned_scenario();
    let (dir_a, dir_b) = (scratch("outputs-a"), scratch("outputs-b"));
    let (_, report) = run(&doc);
    let a =
        read_outputs(&write_outputs(&report, &report.to_json(), &dir_a).expect("write outputs"));
    let (_, report_again) = run(&doc);
    let b = read_outputs(
        &write_outputs(&report_again, &report_again.to_json(), &dir_b).expect("write outputs"),
    );

    let plots = [
        "latency_cdf",
        "t_visibility",
        "timeline",
        "versions_per_read",
    ];
    let mut expected: Vec<String> = plots
        .iter()
        .flat_map(|p| [format!("{p}.svg"), format!("{p}.png")])
        .collect();
    expected.extend([
        "summary.md".into(),
        "timeline.csv".into(),
        "latency.csv".into(),
        "report.html".into(),
    ]);
    expected.sort();
    assert_eq!(a.keys().cloned().collect::<Vec<_>>(), expected);
    for (name, bytes) in &a {
        assert_eq!(Some(bytes), b.get(name), "{name} differs between two runs");
        if name.ends_with(".svg") {
            let text = std::str::from_utf8(bytes).expect("SVG is UTF-8");
            assert_well_formed_svg(name, text);
        } else if name.ends_with(".png") {
            let (w, h) = decode_png(name, bytes);
            assert!(w >= 600 && h >= 400, "{name}: {w}x{h}");
        }
    }
    let summary = std::str::from_utf8(&a["summary.md"]).expect("summary is UTF-8");
    for section in [
        "## Findings",
        "## Availability",
        "## Latency",
        "## Consistency",
        "## Durability",
        "## Convergence",
        "## Hinted handoff",
        "## Messages",
    ] {
        assert!(summary.contains(section), "summary.md lacks {section}");
    }
    assert!(summary.contains("| east |") && summary.contains("| west |"));
    // report.html: self-contained (nothing fetched), the report inside it whole.
    let html = std::str::from_utf8(&a["report.html"]).expect("UTF-8");
    assert!(
        html.contains(&format!("digest {}", report.digest)),
        "no digest"
    );
    for external in ["src=\"http", "href=\"http", "src=\"//", "@import", "<link"] {
        assert!(
            !html.contains(external),
            "report.html loads something: {external}"
        );
    }
    let opening = r#"<script type="application/json" id="report-data">"#;
    let start = html.find(opening).expect("data") + opening.len();
    let end = start + html[start..].find("</script>").expect("end of data");
    let embedded: Value = serde_json::from_str(&html[start..end]).expect("JSON");
    assert_eq!(embedded["digest"], report.digest.as_str());
    assert!(html.contains("function resultCharts(") && html.contains("<h3>Findings</h3>"));
    // The tidy data: a row per interval and per CDF point, the report's own numbers.
    let timeline = std::str::from_utf8(&a["timeline.csv"]).expect("UTF-8");
    let rows: Vec<Vec<&str>> = timeline.lines().map(|l| l.split(',').collect()).collect();
    assert_eq!(&rows[0][..4], &["from_s", "to_s", "reads", "writes"]);
    assert_eq!(rows.len(), 1 + report.timeline.len());
    let stale = rows[0]
        .iter()
        .position(|c| *c == "stale_read_fraction")
        .expect("column");
    for (row, point) in rows[1..].iter().zip(&report.timeline) {
        assert_eq!(row.len(), rows[0].len());
        assert_eq!(row[2], point.reads.to_string());
        let cell = row[stale];
        assert_eq!(
            cell.parse::<f64>().ok(),
            point.stale_read_fraction,
            "{cell}"
        );
    }
    let latency = std::str::from_utf8(&a["latency.csv"]).expect("UTF-8");
    let cdf = &report.observed.latency_ms;
    assert_eq!(
        latency.lines().next(),
        Some("operation,quantile,latency_ms")
    );
    assert_eq!(
        latency.lines().count(),
        1 + cdf.read.cdf.len() + cdf.write.cdf.len()
    );
    let (q, ms) = cdf.write.cdf[0];
    assert!(
        latency.contains(&format!("\nwrite,{q},{ms}\n")),
        "{latency}"
    );
    // Nothing but the outputs was left behind (temporary files were renamed).
    let left: Vec<_> = std::fs::read_dir(&dir_a)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with('.'))
        .collect();
    assert!(left.is_empty(), "temporary files left: {left:?}");
}

#[test]
fn outputs_of_an_empty_run_still_render() {
    // No successful request at all: every plot says so instead of failing.
    let mut doc = small_scenario();
    set(&mut doc, "duration_s", json!(2));
    set(&mut doc, "workload.ops_per_s", json!(0.001));
    let (_, report) = run(&doc);
    let dir = scratch("empty");
    let files =
        read_outputs(&write_outputs(&report, &report.to_json(), &dir).expect("write outputs"));
    for (name, bytes) in &files {
        if name.ends_with(".svg") {
            assert_well_formed_svg(name, std::str::from_utf8(bytes).unwrap());
        } else if name.ends_with(".png") {
            decode_png(name, bytes);
        }
    }
}

/// Runs `doc` recording a history to `path`; returns the report and the parsed lines.
fn run_with_history(doc: &Value, path: &Path) -> (Report, Vec<Value>) {
    let mut sim = Simulation::new(&scenario(doc));
    sim.observer_mut()
        .record_history(History::create(path).expect("create the history"));
    sim.run();
    let report = Report::from_outcome(&sim.outcome());
    let history = sim.observer_mut().take_history().expect("history attached");
    assert_eq!(history.finish().expect("finish the history"), path);
    let text = std::fs::read_to_string(path).expect("read the history");
    let lines = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("bad line {l}: {e}")))
        .collect();
    (report, lines)
}

#[test]
fn the_history_has_one_completion_per_invocation_and_matches_the_report() {
    let mut doc = partitioned_scenario();
    // A crashed node as well, so that some requests fail.
    set(
        &mut doc,
        "faults",
        json!([
            {"kind": "partition", "at_s": 4, "duration_s": 4, "groups": [["east"], ["west"]]},
            {"kind": "crash", "at_s": 2, "duration_s": 6, "nodes": ["east-0", "east-1", "west-0"]}
        ]),
    );
    set(&mut doc, "replication.sloppy_quorum", json!(false));
    let dir = scratch("history");
    let path = dir.join("history.jsonl");
    let (report, lines) = run_with_history(&doc, &path);
    assert!(lines.len() > 1_000, "{} lines", lines.len());

    // req -> (invocation, completion)
    let mut ops: BTreeMap<String, (Option<&Value>, Option<&Value>)> = BTreeMap::new();
    let mut last_time = 0;
    let mut written = std::collections::BTreeSet::new();
    for line in &lines {
        // The oracle's own lines (run metadata, replica facts, the final state) are
        // checked by tests/history_checker.rs; this test reads the operations.
        if matches!(
            line["type"].as_str(),
            Some("meta" | "merge" | "discard" | "final")
        ) {
            continue;
        }
        let time = line["time"].as_u64().expect("time in ns");
        assert!(time >= last_time, "history out of time order: {line}");
        last_time = time;
        for field in ["process", "key"] {
            assert!(line[field].is_u64(), "{field} missing: {line}");
        }
        let req = line["req"].as_str().expect("req").to_string();
        assert!(req.starts_with("r-"), "{line}");
        let entry = ops.entry(req).or_default();
        match line["type"].as_str() {
            Some("invoke") => {
                assert!(entry.0.is_none(), "two invocations: {line}");
                entry.0 = Some(line);
                if line["f"] == "write" {
                    written.insert(line["value"].as_str().expect("write id").to_string());
                }
            }
            Some("ok" | "fail" | "info") => {
                assert!(entry.0.is_some(), "completion before invocation: {line}");
                assert!(entry.1.is_none(), "two completions: {line}");
                entry.1 = Some(line);
            }
            other => panic!("unknown type {other:?}: {line}"),
        }
    }

    let (mut reads, mut writes, mut contexts) = (0u64, 0u64, 0u64);
    let (mut reads_ok, mut writes_ok, mut read_timeouts, mut read_nerr) = (0u64, 0, 0, 0);
    let mut writes_info = 0u64;
    let mut versions = [0u64; 5];
    for (req, (inv, done)) in &ops {
        let inv = inv.expect("invoked");
        let done = done.unwrap_or_else(|| panic!("{req} never completed"));
        for field in ["f", "process", "key", "context"] {
            assert_eq!(inv[field], done[field], "{req}: {field} differs");
        }
        assert!(done["time"].as_u64() >= inv["time"].as_u64());
        let context = inv["context"] == true;
        match (inv["f"].as_str(), context) {
            (Some("read"), true) => contexts += 1,
            (Some("read"), false) => {
                reads += 1;
                match done["type"].as_str() {
                    Some("ok") => {
                        reads_ok += 1;
                        let returned = done["value"].as_array().expect("version ids");
                        versions[returned.len().min(4)] += 1;
                        for id in returned {
                            let id = id.as_str().expect("version id");
                            assert!(written.contains(id), "{req} returned unknown {id}");
                        }
                    }
                    Some("fail") if done["error"] == "timeout" => read_timeouts += 1,
                    Some("fail") if done["error"] == "not_enough_replicas" => read_nerr += 1,
                    other => panic!("{req}: unexpected read completion {other:?}"),
                }
            }
            (Some("write"), _) => {
                writes += 1;
                assert_eq!(inv["value"], done["value"], "{req}: write id differs");
                match done["type"].as_str() {
                    Some("ok") => writes_ok += 1,
                    Some("info") => {
                        writes_info += 1;
                        assert!(done["error"].is_string(), "{req}: no error");
                    }
                    other => panic!("{req}: unexpected write completion {other:?}"),
                }
            }
            other => panic!("{req}: unexpected f {other:?}"),
        }
    }
    let o = &report.observed;
    assert_eq!(reads, o.ops.read.attempted);
    assert_eq!(reads_ok, o.ops.read.ok);
    assert_eq!(read_timeouts, o.ops.read.failed_timeout);
    assert_eq!(read_nerr, o.ops.read.failed_not_enough_replicas);
    assert_eq!(writes, o.ops.write.attempted);
    assert_eq!(writes_ok, o.ops.write.ok);
    assert_eq!(writes_info, o.ops.write.failed);
    assert_eq!(contexts, o.ops.context_read.attempted);
    let v = &o.consistency.versions_per_read;
    assert_eq!(versions, [v.zero, v.one, v.two, v.three, v.four_or_more]);
    assert!(
        o.ops.read.failed + o.ops.write.failed > 0,
        "the faults should make some requests fail"
    );
}

/// Staleness probes with every message leg exponential (mean 5 ms) and instant storage.
fn probe_scenario(r: u32, w: u32) -> Value {
    let mut doc = small_scenario();
    set(
        &mut doc,
        "workload",
        json!({"kind": "staleness_probe", "probes": 4000, "probes_per_s": 400,
               "read_delay_ms": {"uniform": {"low": 0, "high": 80}},
               "routing": "client_driven", "clients": 8}),
    );
    set(&mut doc, "replication.r", json!(r));
    set(&mut doc, "replication.w", json!(w));
    let leg = json!({"exponential": {"mean": 5}});
    set(
        &mut doc,
        "network.latency_ms",
        json!({"local": leg, "intra_dc": leg, "inter_dc": leg}),
    );
    set(
        &mut doc,
        "storage",
        json!({"read_ms": {"constant": 0}, "write_ms": {"constant": 0}}),
    );
    set(&mut doc, "metrics.quiet_period_s", json!(1));
    doc
}

#[test]
fn partial_quorum_probes_become_fresh_as_t_grows() {
    let (_, report) = run(&probe_scenario(1, 1));
    let c = &report.observed.consistency;
    assert!(c.judged_reads > 3_800, "{}", c.judged_reads);
    // P(not stale) over a range of t, pooling the bins inside it.
    let p_fresh = |from_ms: f64, to_ms: f64| {
        let (reads, fresh) = c
            .t_visibility
            .iter()
            .filter(|b| b.from_ms >= from_ms && b.to_ms.is_some_and(|t| t <= to_ms))
            .fold((0, 0), |(r, f), b| (r + b.reads, f + b.fresh));
        assert!(
            reads >= 200,
            "too few reads in [{from_ms}, {to_ms}): {reads}"
        );
        fresh as f64 / reads as f64
    };
    let (early, middle, late) = (p_fresh(0.0, 5.0), p_fresh(5.0, 20.0), p_fresh(50.0, 100.0));
    assert!(
        early < 0.97,
        "right after the ack reads are often stale: {early}"
    );
    assert!(early < middle && middle < late, "{early} {middle} {late}");
    // From 50 ms on (ten mean latencies: e^-10 per leg) every read is fresh.
    assert_eq!(late, 1.0);
    for b in c
        .t_visibility
        .iter()
        .filter(|b| b.from_ms >= 50.0 && b.reads > 0)
    {
        assert_eq!(b.p_fresh, Some(1.0), "{b:?}");
    }
    // A probe writes and reads back its own key: stale means it missed its own write.
    let ryw = &c.session.read_your_writes;
    assert_eq!(ryw.judged_reads, c.judged_reads);
    assert_eq!(ryw.violations, c.stale_reads);
}

#[test]
fn strict_quorum_probes_are_fresh_at_every_t() {
    let (_, report) = run(&probe_scenario(2, 2));
    let c = &report.observed.consistency;
    assert!(c.judged_reads > 3_800, "{}", c.judged_reads);
    assert_eq!(c.stale_reads, 0);
    for b in c.t_visibility.iter().filter(|b| b.reads > 0) {
        assert_eq!(b.p_fresh, Some(1.0), "{b:?}");
    }
    assert_eq!(c.session.read_your_writes.violations, 0);
}

/// PBS's most cited point, t = 0: a read that starts at the instant its write is
/// acknowledged (after it, in event order) is judged against it.
#[test]
fn probes_read_back_at_the_instant_of_the_ack_are_judged() {
    let mut doc = probe_scenario(1, 1);
    set(&mut doc, "workload.read_delay_ms", json!({"constant": 0}));
    let (_, report) = run(&doc);
    let c = &report.observed.consistency;
    assert!(c.judged_reads > 3_800, "{}", c.judged_reads);
    let first = &c.t_visibility[0];
    assert_eq!(first.from_ms, 0.0);
    assert_eq!(
        first.reads, c.judged_reads,
        "every read lands in the t = 0 bin"
    );
    assert!(
        c.stale_reads > 0,
        "R = W = 1 right at the ack is often stale"
    );
    assert!(c.stale_reads < c.judged_reads);
}

#[test]
fn the_run_command_writes_report_summary_plots_and_history() {
    let dir = scratch("cli");
    let scenario_path = dir.join("scenario.json");
    let mut doc = small_scenario();
    set(&mut doc, "duration_s", json!(3));
    std::fs::write(&scenario_path, doc.to_string()).unwrap();
    let out = dir.join("out");
    let history = dir.join("h").join("history.jsonl");
    let status = std::process::Command::new(env!("CARGO_BIN_EXE_dynasim"))
        .args(["run", "--quiet", "--out"])
        .arg(&out)
        .arg("--history")
        .arg(&history)
        .arg(&scenario_path)
        .status()
        .expect("run dynasim");
    assert!(status.success());
    for name in ["report.json", "summary.md", "timeline.svg", "timeline.png"] {
        assert!(out.join(name).is_file(), "{name} missing");
    }
    let text = std::fs::read_to_string(&history).expect("history written");
    let report: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).unwrap()).unwrap();
    let requests = ["read", "write", "context_read"]
        .iter()
        .map(|op| report["ops"][op]["attempted"].as_u64().unwrap())
        .sum::<u64>();
    let operation_lines = text.lines().filter(|l| l.contains("\"req\":")).count();
    assert_eq!(operation_lines as u64, 2 * requests);
    let cdf = report["latency_ms"]["read"]["cdf"].as_array().unwrap();
    assert_eq!(cdf.len(), 103);
    assert_eq!(cdf[0][0], 0.01);
    assert_eq!(cdf[102][0], 1.0);
}

/// The staleness finding states the quorum rule among home replicas for consistency
/// levels as it does for R+W>N, whatever sloppy quorum does: QUORUM/QUORUM overlaps.
#[test]
fn the_staleness_finding_states_levels_as_a_rule_among_home_replicas() {
    let mut doc = small_scenario();
    set(
        &mut doc,
        "replication.consistency",
        json!({"read": "QUORUM", "write": "QUORUM"}),
    );
    set(&mut doc, "replication.sloppy_quorum", json!(true));
    let (_, report) = run(&doc);
    let findings = dynasim::report::summary::findings(&report);
    let rule = findings
        .iter()
        .find(|f| f.starts_with("read QUORUM, write QUORUM"))
        .unwrap_or_else(|| panic!("no staleness finding: {findings:?}"));
    assert!(
        rule.contains("every read meets every acknowledged write among the home replicas"),
        "{rule}"
    );
}

/// After a join under strategy 2, the imbalance finding describes strategy 2's placement
/// (equal partitions placed by tokens), not strategy 1's.
#[test]
fn the_imbalance_finding_names_strategy_2_for_strategy_2() {
    let mut doc = small_scenario();
    set(
        &mut doc,
        "cluster.partitioning",
        json!({"strategy": "random_tokens_equal_partitions", "tokens_per_node": 1, "partitions": 64}),
    );
    set(
        &mut doc,
        "faults",
        json!([{"kind": "join", "at_s": 2, "datacenter": "east", "count": 2}]),
    );
    set(&mut doc, "metrics.balance_window_s", json!(4));
    let (_, report) = run(&doc);
    let findings = dynasim::report::summary::findings(&report);
    let imbalance = findings
        .iter()
        .find(|f| f.starts_with("Ownership imbalance"))
        .unwrap_or_else(|| panic!("no imbalance finding: {findings:?}"));
    assert!(
        imbalance.contains(
            "Placement is strategy 2 (64 equal partitions placed by 1 random tokens per node)"
        ),
        "{imbalance}"
    );
}
