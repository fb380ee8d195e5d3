//! `dynasim trace` end to end on tiny scenarios: a request's trace agrees with report.json
//! and the history, a stale read's trace names the write it missed and a way that write
//! did not reach the replicas read, and tracing leaves the run unchanged.

mod common;

use common::{Scratch, partitioned, scenario, set, small_scenario};
use dynasim::error::Exit;
use dynasim::ids::{KeyId, RequestId};
use dynasim::report::Report;
use dynasim::sim::Simulation;
use dynasim::trace::{AnomalyKind, Category, Recorder, Target, trace};
use serde_json::{Value, json};

fn scratch(name: &str) -> Scratch {
    Scratch::new(&format!("trace-test-{name}"))
}

#[test]
fn tracing_does_not_change_the_digest() {
    let s = scenario(&partitioned());
    let mut plain = Simulation::new(&s);
    plain.run();
    let mut traced = Simulation::new(&s);
    let names = traced.node_names().to_vec();
    traced.set_hooks(Box::new(Recorder::new(KeyId(0), 0, u64::MAX, names, 1, 1)));
    traced.run();
    assert_eq!(plain.digest(), traced.digest());
    assert_eq!(
        Report::from_outcome(&plain.outcome()).to_json(),
        Report::from_outcome(&traced.outcome()).to_json()
    );
    let (events, _, _) = dynasim::trace::recorder::detach(&mut traced)
        .expect("tracer")
        .into_parts();
    assert!(
        events.iter().any(|e| e.category == Category::Send),
        "the hottest key saw messages"
    );
}

#[test]
fn a_request_trace_matches_the_report_and_the_history() {
    let doc = partitioned();
    let s = scenario(&doc);
    // The run with its history, as `dynasim run --history` writes it.
    let dir = scratch("history");
    let path = dir.join("history.jsonl");
    let mut sim = Simulation::new(&s);
    sim.observer_mut()
        .record_history(dynasim::observer::History::create(&path).expect("history"));
    sim.run();
    let report = Report::from_outcome(&sim.outcome());
    sim.observer_mut()
        .take_history()
        .expect("history")
        .finish()
        .expect("history written");
    let lines: Vec<Value> = std::fs::read_to_string(&path)
        .expect("history file")
        .lines()
        .map(|l| serde_json::from_str(l).expect("json line"))
        .collect();
    // Pick a completed, successful plain read (not a context read) half-way.
    let ok_reads: Vec<&Value> = lines
        .iter()
        .filter(|l| l["type"] == "ok" && l["f"] == "read" && l.get("context").is_none())
        .collect();
    let done = ok_reads[ok_reads.len() / 2];
    let req: u64 = done["req"].as_str().unwrap()[2..].parse().unwrap();
    let t = trace(&s, Target::Request(RequestId(req)), None, None, &dir)
        .unwrap_or_else(|f| panic!("{}", f.message));
    assert_eq!(t.digest, report.digest, "same run as report.json");
    let info = t.request.as_ref().expect("request info");
    assert_eq!(info.req, format!("r-{req}"));
    assert_eq!(Value::from(info.key), done["key"]);
    assert_eq!(t.key as u64, done["key"].as_u64().unwrap());
    assert_eq!(info.outcome.as_deref(), Some("ok"));
    assert_eq!(info.value, done["value"]);
    // The story has the invocation and the completion with the same values.
    let mine: Vec<_> = t
        .events
        .iter()
        .filter(|e| e.req.as_deref() == Some(info.req.as_str()))
        .collect();
    assert_eq!(mine.first().map(|e| e.category), Some(Category::Invoke));
    let complete = mine
        .iter()
        .find(|e| e.category == Category::Complete)
        .expect("completion in the trace");
    let returned: Vec<String> = done["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    assert_eq!(complete.writes, returned);
    assert!(
        mine.iter().any(|e| e.category == Category::Coordinate),
        "the coordinator's choice is told"
    );
    // The verdict agrees with the report's count of stale reads: either it is one of them,
    // or it is fresh / not judged.
    assert!(["fresh", "not_judged", "stale"].contains(&t.verdict.kind.as_str()));
}

#[test]
fn a_stale_read_trace_names_the_missed_write_and_how_it_did_not_arrive() {
    let doc = partitioned();
    let s = scenario(&doc);
    let dir = scratch("stale");
    let t = trace(&s, Target::Anomaly(AnomalyKind::Stale, 0), None, None, &dir)
        .unwrap_or_else(|f| panic!("{}", f.message));
    assert_eq!(t.verdict.kind, "stale");
    let missed = t.verdict.missed_write.clone().expect("the missed write");
    assert!(t.verdict.text.contains(&missed));
    // The missed write was acknowledged before the read was invoked.
    let read = t.request.as_ref().expect("the read");
    assert!(t.events.iter().any(|e| e.category == Category::Complete
        && e.writes.contains(&missed)
        && e.text.ends_with("acknowledged")
        && e.time_us <= read.invoke_us));
    // At least one path by which it did not reach the replicas read: a message carrying it
    // that was dropped or arrived after the read, or a fallback holding it as a hint.
    let asked: Vec<String> = t
        .events
        .iter()
        .filter(|e| {
            e.category == Category::Send
                && e.message == Some("read_request")
                && e.req.as_deref() == Some(read.req.as_str())
        })
        .filter_map(|e| e.to.clone())
        .collect();
    assert!(!asked.is_empty(), "the read asked replicas");
    let carried: Vec<_> = t
        .events
        .iter()
        .filter(|e| e.category == Category::Send && e.writes.contains(&missed))
        .filter(|e| {
            matches!(
                e.message,
                Some("write_request" | "hint_handoff" | "read_repair")
            )
        })
        .collect();
    let missed_path = asked.iter().any(|replica| {
        let to_it: Vec<_> = carried
            .iter()
            .filter(|e| e.to.as_deref() == Some(replica.as_str()))
            .collect();
        to_it.is_empty()
            || to_it.iter().all(|e| {
                e.fate != Some("in_flight")
                    || e.arrive_us.is_some_and(|a| a > read.invoke_us)
                    || e.text.contains("hint for")
            })
    });
    assert!(missed_path, "no path explains the miss: {}", t.verdict.text);
    // The outputs are written and the diagram is deterministic.
    let out = dir.join("out");
    dynasim::trace::write_files(&t, &out).unwrap_or_else(|f| panic!("{}", f.message));
    let svg = std::fs::read_to_string(out.join("trace.svg")).expect("svg");
    assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
    assert_eq!(svg, dynasim::trace::svg::render(&t));
    // trace.png: the same picture as a bitmap, the SVG's size.
    let png = std::fs::read(out.join("trace.png")).expect("png");
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    let size = |at: usize| u32::from_be_bytes([png[at], png[at + 1], png[at + 2], png[at + 3]]);
    let svg_size = |name: &str| -> u32 {
        let head = svg.lines().next().expect("head");
        let start = head.find(&format!(" {name}=\"")).expect(name) + name.len() + 3;
        head[start..]
            .split('"')
            .next()
            .and_then(|v| v.parse().ok())
            .expect(name)
    };
    assert_eq!(
        (size(16), size(20)),
        (svg_size("width"), svg_size("height"))
    );
    // A message dropped as it left names its receiver, and its stub stays short of the
    // next lane (a cross half-way across sat on another node's lane).
    let dropped_at_send: Vec<_> = (t.events.iter())
        .filter(|e| e.category == Category::Send && e.fate.is_some_and(|f| f != "in_flight"))
        .collect();
    assert!(
        !dropped_at_send.is_empty(),
        "the partition drops messages as they leave"
    );
    for e in &dropped_at_send {
        let to = e.to.as_deref().expect("a receiver");
        assert!(
            svg.contains(&format!(" → {to}</text>")),
            "no label names {to}"
        );
    }
    for line in svg
        .lines()
        .filter(|l| l.contains(r##"stroke="#c00" stroke-width="1.2"/>"##))
    {
        let attr = |name: &str| -> f64 {
            let start = line.find(&format!("{name}=\"")).expect(name) + name.len() + 2;
            line[start..]
                .split('"')
                .next()
                .and_then(|v| v.parse().ok())
                .expect(name)
        };
        assert!(
            (attr("x2") - attr("x1")).abs() <= 0.4 * 120.0 + 0.1,
            "{line}"
        );
    }
    let json: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("trace.json")).unwrap()).unwrap();
    assert_eq!(json["verdict"]["missed_write"], Value::from(missed));
    let story = dynasim::trace::story::render(&t, 400);
    assert!(story.contains("verdict: stale"));
}

#[test]
fn bad_targets_are_usage_errors() {
    let s = scenario(&small_scenario());
    let dir = scratch("bad");
    let err = |target| match trace(&s, target, None, None, &dir) {
        Err(f) => f.exit,
        Ok(_) => Exit::Success,
    };
    assert_eq!(err(Target::Key(KeyId(1_000_000))), Exit::Trouble);
    assert_eq!(err(Target::Request(RequestId(u64::MAX))), Exit::Trouble);
    assert_eq!(
        err(Target::Anomaly(AnomalyKind::Lost, 0)),
        Exit::Trouble,
        "no faults, no lost writes"
    );
}

#[test]
fn a_trace_of_a_run_with_joins_names_the_nodes_that_joined() {
    let mut doc = small_scenario();
    set(
        &mut doc,
        "faults",
        json!([{"kind": "join", "at_s": 5, "datacenter": "east", "count": 2}]),
    );
    let s = scenario(&doc);
    // A key the joined nodes (ids 12 and 13, named east-6 and east-7) own at the end.
    let mut sim = Simulation::new(&s);
    sim.run();
    let key = (0..200)
        .map(KeyId)
        .find(|k| sim.ring().replicas(*k).iter().any(|n| n.0 >= 12))
        .expect("the joined nodes own some keys");
    let dir = scratch("joins");
    let t = trace(&s, Target::Key(key), None, None, &dir).expect("a trace");
    assert!(
        t.home_replicas
            .iter()
            .any(|n| n == "east-6" || n == "east-7"),
        "{:?}",
        t.home_replicas
    );
    let text = serde_json::to_string(&t.events).expect("events serialize");
    assert!(text.contains("\"east-6\"") || text.contains("\"east-7\""));
}

/// The overwritten verdict says what happened by the run's versioning scheme: under
/// vector clocks a blind put's coordinator merged the write away (docs/report.md), which
/// the verdict once described as a last-write-wins discard.
#[test]
fn an_overwritten_write_is_explained_by_the_runs_versioning_scheme() {
    let text = std::fs::read_to_string("scenarios/node-crash.json").expect("shipped scenario");
    let mut doc: Value = serde_json::from_str(&text).expect("json");
    set(&mut doc, "duration_s", json!(70));
    let verdict = |doc: &Value, name: &str| {
        let dir = scratch(name);
        let t = trace(
            &scenario(doc),
            Target::Anomaly(AnomalyKind::Overwritten, 0),
            None,
            None,
            &dir,
        )
        .unwrap_or_else(|f| panic!("{}", f.message));
        assert_eq!(t.verdict.kind, "overwritten");
        t.verdict.text
    };
    let clocks = verdict(&doc, "overwritten-clocks");
    assert!(clocks.contains("merged"), "{clocks}");
    assert!(!clocks.contains("last_write_wins"), "{clocks}");
    set(&mut doc, "replication.versioning", json!("last_write_wins"));
    let lww = verdict(&doc, "overwritten-lww");
    assert!(lww.contains("last_write_wins"), "{lww}");
}
