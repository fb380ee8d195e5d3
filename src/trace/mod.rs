//! `dynasim trace`: the story of one key, one request or one anomaly. Runs are
//! deterministic, so a trace is a replay: a first, untraced run finds the target (a
//! request's key and times, the n-th stale read, a lost write) and records the client
//! history; a second run of the same scenario and seed carries a [`Recorder`] that keeps
//! the events concerning the target's key in a time window. Both runs must end with the
//! same digest, or the trace says so and fails. Outputs: the story on stdout (`story.rs`),
//! `trace.json` and a message sequence diagram `trace.svg` (`svg.rs`).

pub mod png;
pub mod recorder;
pub mod story;
pub mod svg;

pub use recorder::{Category, Fate, OpTrace, Recorder, TraceEvent};

use crate::error::Failure;
use crate::faults::ResolvedFault;
use crate::ids::{KeyId, RequestId, WriteId};
use crate::observer::{History, StaleRead};
use crate::report::write_atomic;
use crate::scenario::{Scenario, load_file, parse_sets};
use crate::sim::Simulation;
use serde::Serialize;
use std::path::{Path, PathBuf};

/// Stale reads the first run keeps, so that `--nth` and request verdicts can find them.
const STALE_KEPT: usize = 200_000;

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum AnomalyKind {
    Stale,
    Lost,
    Overwritten,
}

#[derive(clap::Args, Debug)]
#[command(group(clap::ArgGroup::new("what").required(true).args(["key", "request", "anomaly"])))]
pub struct TraceArgs {
    /// The scenario file (JSON).
    pub scenario: PathBuf,
    /// Override the scenario's seed.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Edit the scenario before validation: `--set replication.r=1` (repeatable).
    #[arg(long = "set", value_name = "PATH=VALUE")]
    pub sets: Vec<String>,
    /// Trace one key (`42` or `k42`).
    #[arg(long)]
    pub key: Option<String>,
    /// Trace one request (`r-123` or `123`), as report and history name it.
    #[arg(long)]
    pub request: Option<String>,
    /// Trace an anomaly the run found.
    #[arg(long, value_enum)]
    pub anomaly: Option<AnomalyKind>,
    /// Which anomaly, counting from 0 (stale reads by request id, lost and overwritten
    /// writes in the order of report.json's examples).
    #[arg(long, default_value_t = 0)]
    pub nth: usize,
    /// Start of the window of simulated time to trace (default: around the target).
    #[arg(long)]
    pub from_s: Option<f64>,
    /// End of the window (default: around the target).
    #[arg(long)]
    pub to_s: Option<f64>,
    /// Trace even when the memory estimate exceeds the machine's available memory.
    #[arg(long)]
    pub no_memory_check: bool,
    /// Output folder (default: reports/<scenario name>/trace-<what>/).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Story lines printed at most (trace.json keeps every event).
    #[arg(long, default_value_t = 400)]
    pub max_lines: usize,
}

/// What to trace.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    Key(KeyId),
    Request(RequestId),
    Anomaly(AnomalyKind, usize),
}

/// The observer's judgement of the target, with its reason.
#[derive(Clone, Debug, Serialize)]
pub struct TraceVerdict {
    /// `stale`, `fresh`, `not_judged`, `failed`, `acknowledged`, `lost`, `overwritten`,
    /// `context_read`, `key`.
    pub kind: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub missed_write: Option<String>,
    pub text: String,
}

/// A client request as the history recorded it.
#[derive(Clone, Debug, Serialize)]
pub struct RequestInfo {
    pub req: String,
    pub client: u64,
    /// `read` or `write`.
    pub f: String,
    pub context: bool,
    pub key: u32,
    pub invoke_us: u64,
    pub complete_us: Option<u64>,
    /// `ok`, `fail` or `info`.
    pub outcome: Option<String>,
    /// The write (writes) or the write ids returned (reads).
    pub value: serde_json::Value,
    pub error: Option<String>,
}

/// Everything `trace.json` holds.
#[derive(Clone, Debug, Serialize)]
pub struct Trace {
    pub scenario: String,
    pub seed: u64,
    pub digest: String,
    /// `key k42`, `request r-12`, `stale read #0 (r-12)`, ...
    pub target: String,
    pub key: u32,
    pub home_replicas: Vec<String>,
    pub from_s: f64,
    pub to_s: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request: Option<RequestInfo>,
    pub faults: Vec<ResolvedFault>,
    pub events: Vec<TraceEvent>,
    /// The requests and writes the target is about (the read and the write it missed);
    /// long stories and diagrams keep to their events.
    pub focus: Vec<String>,
    /// Events beyond the recorder's bound, counted only.
    pub events_not_kept: u64,
    pub verdict: TraceVerdict,
    /// Short name for the output folder.
    #[serde(skip)]
    pub slug: String,
}

/// `--from-s` and `--to-s`: seconds of simulated time, finite, not negative, in order.
fn check_window(args: &TraceArgs) -> Result<(), Failure> {
    for (flag, value) in [("--from-s", args.from_s), ("--to-s", args.to_s)] {
        if let Some(v) = value
            && !(v.is_finite() && (0.0..=1e9).contains(&v))
        {
            return Err(Failure::trouble(format!(
                "{flag} {v}: must be a time in simulated seconds, 0 to 1e9"
            )));
        }
    }
    if let (Some(from), Some(to)) = (args.from_s, args.to_s)
        && from > to
    {
        return Err(Failure::trouble(format!(
            "--from-s {from} is after --to-s {to}: the window must not end before it starts"
        )));
    }
    Ok(())
}

pub fn run(args: TraceArgs) -> Result<(), Failure> {
    let mut sets = parse_sets(&args.sets)?;
    if let Some(seed) = args.seed {
        sets.push(("seed".into(), seed.to_string()));
    }
    let scenario = load_file(&args.scenario, &sets)?;
    check_window(&args)?;
    let target = parse_target(&args)?;
    let default_parent = PathBuf::from("reports").join(&scenario.name);
    crate::report::check_out_folder(args.out.as_deref().unwrap_or(&default_parent))?;
    if !args.no_memory_check {
        crate::guard::check_fits(&scenario, crate::guard::available_bytes())
            .map_err(|message| Failure::trouble(message).context(args.scenario.display()))?;
    }
    let scratch = std::env::temp_dir();
    let trace = trace(&scenario, target, args.from_s, args.to_s, &scratch)?;
    let out = args.out.clone().unwrap_or_else(|| {
        PathBuf::from("reports")
            .join(&scenario.name)
            .join(format!("trace-{}", trace.slug))
    });
    crate::out!("{}", story::render(&trace, args.max_lines));
    let files = write_files(&trace, &out)?;
    for f in files {
        crate::outln!("wrote {}", f.display());
    }
    Ok(())
}

fn usage(message: String) -> Failure {
    Failure::trouble(message)
}

fn parse_target(args: &TraceArgs) -> Result<Target, Failure> {
    if let Some(k) = &args.key {
        let n = k.trim_start_matches('k').parse::<u32>().map_err(|_| {
            usage(format!(
                "--key {k:?}: expected a key number, e.g. 42 or k42"
            ))
        })?;
        return Ok(Target::Key(KeyId(n)));
    }
    if let Some(r) = &args.request {
        let n = r.trim_start_matches("r-").parse::<u64>().map_err(|_| {
            usage(format!(
                "--request {r:?}: expected a request id, e.g. r-123 or 123"
            ))
        })?;
        return Ok(Target::Request(RequestId(n)));
    }
    match args.anomaly {
        Some(kind) => Ok(Target::Anomaly(kind, args.nth)),
        None => Err(usage(
            "one of --key, --request, --anomaly is required".into(),
        )),
    }
}

/// Writes trace.json and trace.svg into `out`; returns their paths.
pub fn write_files(trace: &Trace, out: &Path) -> Result<Vec<PathBuf>, Failure> {
    let json = serde_json::to_string_pretty(trace).unwrap_or_default();
    let svg = svg::render(trace);
    let png =
        png::render(&svg).map_err(|e| Failure::trouble(format!("cannot draw trace.png: {e}")))?;
    let mut written = Vec::new();
    for (name, bytes) in [
        ("trace.json", json.into_bytes()),
        ("trace.svg", svg.into_bytes()),
        ("trace.png", png),
    ] {
        let path = out.join(name);
        write_atomic(&path, &bytes).map_err(|e| Failure::cannot("write", &path, e))?;
        written.push(path);
    }
    Ok(written)
}

/// What the first run found out.
struct FirstRun {
    digest: u64,
    stale: Vec<StaleRead>,
    lost: Vec<String>,
    overwritten: Vec<String>,
    /// The key's history lines (and the target request's, found by id).
    history: Vec<RequestInfo>,
    request: Option<RequestInfo>,
    /// (key, invoke µs, ack µs) of acknowledged writes, looked up by id on demand.
    sim: Simulation,
}

/// Traces `target` in `scenario`; `scratch` holds the temporary history file.
// long: the command's steps in order (first run, target, replay, story); a split into one
// helper per step is planned (see ARCHITECTURE.md, known debts).
pub fn trace(
    scenario: &Scenario,
    target: Target,
    from_s: Option<f64>,
    to_s: Option<f64>,
    scratch: &Path,
) -> Result<Trace, Failure> {
    let first = first_run(scenario, target, scratch)?;
    let end_us = first.sim.end().as_micros();
    let repair_us = (scenario.replication.read_repair_window_ms * 1_000.0) as u64;
    let keys = scenario.key_count();
    // Resolve the target into a key, a default window and the request it is about.
    let (key, window, request, label, slug, stale, lost) = match target {
        Target::Key(k) => {
            if k.0 >= keys {
                return Err(usage(format!(
                    "--key {}: the scenario has keys 0 to {}",
                    k.0,
                    keys.saturating_sub(1)
                )));
            }
            (
                k,
                (0, end_us),
                None,
                format!("key k{}", k.0),
                format!("k{}", k.0),
                None,
                None,
            )
        }
        Target::Request(r) => {
            let info = first.request.clone().ok_or_else(|| {
                usage(format!(
                    "request {r} not found: the run made no such request"
                ))
            })?;
            let stale = first.stale.iter().find(|s| s.req == r).cloned();
            let window = match &stale {
                Some(s) => stale_window(&first, s, repair_us),
                None => (
                    info.invoke_us,
                    info.complete_us.unwrap_or(end_us) + repair_us + 1_000_000,
                ),
            };
            (
                KeyId(info.key),
                window,
                Some(info),
                format!("request {r}"),
                format!("{r}"),
                stale,
                None,
            )
        }
        Target::Anomaly(AnomalyKind::Stale, nth) => {
            let mut list = first.stale.clone();
            list.sort_by_key(|s| s.req);
            let s = list.get(nth).cloned().ok_or_else(|| {
                usage(format!(
                    "--nth {nth}: the run has {} stale reads (counting from 0)",
                    list.len()
                ))
            })?;
            let info = first.request.clone().filter(|i| i.req == s.req.to_string());
            (
                s.key,
                stale_window(&first, &s, repair_us),
                info,
                format!("stale read #{nth} ({})", s.req),
                format!("stale-{nth}"),
                Some(s),
                None,
            )
        }
        Target::Anomaly(kind, nth) => {
            let list = if kind == AnomalyKind::Lost {
                &first.lost
            } else {
                &first.overwritten
            };
            let name = if kind == AnomalyKind::Lost {
                "lost"
            } else {
                "overwritten"
            };
            let w = list.get(nth).cloned().ok_or_else(|| {
                usage(format!(
                    "--nth {nth}: report.json lists {} {name} writes (counting from 0)",
                    list.len()
                ))
            })?;
            let id = WriteId(w.trim_start_matches("w-").parse().unwrap_or(u64::MAX));
            let (k, invoke, _) = find_write(&first.sim, id, keys)
                .ok_or_else(|| usage(format!("{w}: no acknowledged write with this id")))?;
            (
                k,
                (invoke.saturating_sub(1_000_000), end_us),
                None,
                format!("{name} write #{nth} ({w})"),
                format!("{name}-{nth}"),
                None,
                Some((kind, id)),
            )
        }
    };
    // The request info for anomalies comes from a second look at the history.
    let request = request.or_else(|| {
        stale.as_ref().and_then(|s| {
            first
                .history
                .iter()
                .find(|i| i.req == s.req.to_string())
                .cloned()
        })
    });
    let from_us = from_s.map(|s| (s * 1e6) as u64).unwrap_or(window.0);
    let to_us = to_s.map(|s| (s * 1e6) as u64).unwrap_or(window.1);
    if from_us > to_us {
        return Err(usage(format!(
            "--from-s {} is after --to-s {}",
            from_us as f64 / 1e6,
            to_us as f64 / 1e6
        )));
    }

    // The replay.
    let mut sim = Simulation::new(scenario);
    // The first run's hosts include the nodes that joined during it.
    let names = first.sim.node_names();
    sim.set_hooks(Box::new(Recorder::new(
        key,
        from_us,
        to_us,
        names.clone(),
        scenario.replication.r as usize,
        scenario.replication.w as usize,
    )));
    sim.run();
    if sim.digest() != first.digest {
        return Err(Failure::failed(format!(
            "the traced replay diverged from the run (digest {:016x} vs {:016x}): tracing changed the run",
            sim.digest(),
            first.digest
        )));
    }
    let recorder =
        recorder::detach(&mut sim).ok_or_else(|| Failure::failed("the tracer went missing"))?;
    let (recorded, overflow, ops) = recorder.into_parts();
    let events = merge(&first.history, recorded, from_us, to_us);
    let homes: Vec<String> = sim
        .ring()
        .replicas(key)
        .iter()
        .map(|n| names[n.index()].clone())
        .collect();
    let verdict = match (lost, &stale) {
        (Some((kind, w)), _) => story::durability_verdict(&sim, kind, w, key),
        (None, Some(s)) => story::stale_verdict(&first.sim, s, &ops, &events, &names),
        (None, None) => match &request {
            Some(info) => story::request_verdict(&first.sim, info),
            None => story::key_verdict(&first.stale, key, from_us, to_us),
        },
    };
    let mut focus: Vec<String> = request.iter().map(|r| r.req.clone()).collect();
    let missed = verdict.missed_write.clone();
    if let Some(w) = &missed {
        focus.push(w.clone());
        focus.extend(
            first
                .history
                .iter()
                .filter(|i| i.f == "write" && i.value.as_str() == Some(w.as_str()))
                .map(|i| i.req.clone()),
        );
    }
    Ok(Trace {
        focus,
        scenario: scenario.name.clone(),
        seed: scenario.seed,
        digest: format!("{:016x}", first.digest),
        target: label,
        key: key.0,
        home_replicas: homes,
        from_s: from_us as f64 / 1e6,
        to_s: to_us as f64 / 1e6,
        request,
        faults: sim.resolved_faults().to_vec(),
        events,
        events_not_kept: overflow,
        verdict,
        slug,
    })
}

/// Around a stale read: from a second before the missed write was invoked to the read's
/// end plus the read-repair window (and a little more for late replies).
fn stale_window(first: &FirstRun, s: &StaleRead, repair_us: u64) -> (u64, u64) {
    let invoke = first
        .sim
        .observer()
        .write_times(s.missed)
        .map(|t| t.0)
        .unwrap_or(s.start_us);
    (
        invoke.saturating_sub(1_000_000),
        s.end_us + repair_us + 500_000,
    )
}

/// (key, invoke µs, ack µs) of an acknowledged write.
fn find_write(sim: &Simulation, w: WriteId, keys: u32) -> Option<(KeyId, u64, u64)> {
    (0..keys).map(KeyId).find_map(|k| {
        sim.observer()
            .acknowledged(k)
            .iter()
            .find(|a| a.write == w)
            .map(|a| (k, a.invoke_us, a.ack_us))
    })
}

fn first_run(scenario: &Scenario, target: Target, scratch: &Path) -> Result<FirstRun, Failure> {
    let path = scratch.join(format!(
        "dynasim-trace-history-{}-{}.jsonl",
        std::process::id(),
        scenario.name
    ));
    let mut sim = Simulation::new(scenario);
    sim.observer_mut().keep_stale_reads(STALE_KEPT);
    let history = History::create(&path).map_err(|e| Failure::cannot("create", &path, e))?;
    sim.observer_mut().record_history(history);
    sim.run();
    let history = sim.observer_mut().take_history();
    if let Some(h) = history {
        h.finish().map_err(|e| Failure::cannot("write", &path, e))?;
    }
    let stale = sim.observer().stale_read_list().to_vec();
    let audit = sim.audit_durability();
    // Which key's lines to keep: the target's key when it is known now.
    let (want_req, want_key) = match target {
        Target::Key(k) => (None, Some(k.0)),
        Target::Request(r) => (Some(r), None),
        Target::Anomaly(AnomalyKind::Stale, nth) => {
            let mut list: Vec<&StaleRead> = stale.iter().collect();
            list.sort_by_key(|s| s.req);
            match list.get(nth) {
                Some(s) => (Some(s.req), Some(s.key.0)),
                None => (None, None),
            }
        }
        Target::Anomaly(kind, nth) => {
            let list = if kind == AnomalyKind::Lost {
                &audit.lost_examples
            } else {
                &audit.overwritten_examples
            };
            let key = list.get(nth).and_then(|w| {
                let id = WriteId(w.trim_start_matches("w-").parse().ok()?);
                find_write(&sim, id, scenario.key_count()).map(|f| f.0.0)
            });
            (None, key)
        }
    };
    let text = std::fs::read_to_string(&path).map_err(|e| Failure::cannot("read", &path, e));
    let _ = std::fs::remove_file(&path);
    let text = text?;
    let req_tag = want_req.map(|r| format!("\"req\":\"{r}\""));
    let mut request = None;
    let mut key = want_key;
    if let Some(tag) = &req_tag {
        let lines: Vec<&str> = text.lines().filter(|l| l.contains(tag.as_str())).collect();
        request = parse_request(&lines);
        key = key.or(request.as_ref().map(|r| r.key));
    }
    let mut history = Vec::new();
    if let Some(k) = key {
        let tag = format!("\"key\":{k},");
        let lines: Vec<&str> = text.lines().filter(|l| l.contains(tag.as_str())).collect();
        history = parse_history(&lines);
    }
    Ok(FirstRun {
        digest: sim.digest(),
        stale,
        lost: audit.lost_examples,
        overwritten: audit.overwritten_examples,
        history,
        request,
        sim,
    })
}

/// Pairs invocation and completion lines into requests (in invocation order).
fn parse_history(lines: &[&str]) -> Vec<RequestInfo> {
    let mut out: Vec<RequestInfo> = Vec::new();
    let mut index: std::collections::BTreeMap<String, usize> = Default::default();
    for line in lines {
        let Ok(v) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        let s = |f: &str| v.get(f).and_then(|x| x.as_str()).unwrap_or("").to_string();
        let u = |f: &str| v.get(f).and_then(|x| x.as_u64()).unwrap_or(0);
        let req = s("req");
        let time_us = u("time") / 1_000;
        if s("type") == "invoke" {
            index.insert(req.clone(), out.len());
            out.push(RequestInfo {
                req,
                client: u("process"),
                f: s("f"),
                context: v.get("context").and_then(|c| c.as_bool()).unwrap_or(false),
                key: u("key") as u32,
                invoke_us: time_us,
                complete_us: None,
                outcome: None,
                value: v.get("value").cloned().unwrap_or_default(),
                error: None,
            });
        } else if let Some(i) = index.get(&req) {
            let r = &mut out[*i];
            r.complete_us = Some(time_us);
            r.outcome = Some(s("type"));
            if r.f == "read" {
                r.value = v.get("value").cloned().unwrap_or_default();
            }
            r.error = v.get("error").and_then(|e| e.as_str()).map(String::from);
        }
    }
    out
}

fn parse_request(lines: &[&str]) -> Option<RequestInfo> {
    parse_history(lines).into_iter().next()
}

/// The history's invocations and completions in the window, merged with the recorded
/// events by time (an invocation before what it causes at the same instant, a completion
/// after what caused it).
fn merge(
    history: &[RequestInfo],
    recorded: Vec<TraceEvent>,
    from_us: u64,
    to_us: u64,
) -> Vec<TraceEvent> {
    let mut all: Vec<(u64, u8, usize, TraceEvent)> = Vec::new();
    let inside = |t: u64| t >= from_us && t <= to_us;
    for info in history {
        let client = format!("c-{}", info.client);
        let op = match (info.f.as_str(), info.context) {
            ("read", true) => "context read",
            ("read", false) => "get",
            _ => "put",
        };
        let write = info.value.as_str().map(String::from);
        if inside(info.invoke_us) {
            let text = match &write {
                Some(w) if op == "put" => {
                    format!(
                        "client {client} invokes {op} k{} {w} ({})",
                        info.key, info.req
                    )
                }
                _ => format!("client {client} invokes {op} k{} ({})", info.key, info.req),
            };
            all.push((
                info.invoke_us,
                0,
                all.len(),
                history_event(info, Category::Invoke, info.invoke_us, &client, text),
            ));
        }
        if let Some(t) = info.complete_us.filter(|t| inside(*t)) {
            let outcome = info.outcome.clone().unwrap_or_default();
            let what = match (outcome.as_str(), &info.error) {
                (_, Some(e)) => format!("fails ({e})"),
                ("ok", None) if info.f == "read" => format!("returns {}", value_list(&info.value)),
                ("ok", None) => "acknowledged".into(),
                (o, None) => o.to_string(),
            };
            let text = format!("client {client}: {op} {} {what}", info.req);
            let mut e = history_event(info, Category::Complete, t, &client, text);
            if info.f == "read" {
                e.writes = info
                    .value
                    .as_array()
                    .map(|a| {
                        a.iter()
                            .filter_map(|x| x.as_str().map(String::from))
                            .collect()
                    })
                    .unwrap_or_default();
            }
            all.push((t, 2, all.len(), e));
        }
    }
    for e in recorded {
        all.push((e.time_us, 1, all.len(), e));
    }
    all.sort_by_key(|(t, class, i, _)| (*t, *class, *i));
    all.into_iter().map(|(_, _, _, e)| e).collect()
}

fn history_event(
    info: &RequestInfo,
    category: Category,
    time_us: u64,
    client: &str,
    text: String,
) -> TraceEvent {
    TraceEvent {
        time_us,
        category,
        from: Some(client.to_string()),
        to: None,
        message: None,
        req: Some(info.req.clone()),
        arrive_us: None,
        fate: None,
        writes: info.value.as_str().map(String::from).into_iter().collect(),
        text,
    }
}

fn value_list(v: &serde_json::Value) -> String {
    match v.as_array() {
        Some(a) if a.is_empty() => "nothing".into(),
        Some(a) => format!(
            "[{}]",
            a.iter()
                .filter_map(|x| x.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ),
        None => v.to_string(),
    }
}
