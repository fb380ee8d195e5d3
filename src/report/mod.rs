//! The run's report: `report.json` (deterministic: no wall-clock figure ever goes in) and a
//! short human summary. Every file is written to a temporary name and renamed into place,
//! so an interrupted run never leaves a file that looks complete and is not.

pub mod capacity;
pub mod csv;
// The plots draw text through plotters' bundled-font path, which plotters leaves out of
// WebAssembly builds (the playground draws its own charts from report.json).
#[cfg(not(target_arch = "wasm32"))]
pub mod font;
pub mod format;
pub mod html;
#[cfg(not(target_arch = "wasm32"))]
pub mod log_axis;
#[cfg(not(target_arch = "wasm32"))]
pub mod plots;
mod repair;
pub mod summary;

use crate::faults::ResolvedFault;
use crate::observer::{DurabilitySummary, ObserverSummary, TimelinePoint};
use crate::scenario::Scenario;
use crate::sim::{MessageStats, RunOutcome};
use crate::vocab::MessageKind;
use serde::Serialize;
use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

/// Bumped whenever a field changes meaning or is removed (adding fields does not bump it).
pub const SCHEMA_VERSION: u32 = 1;

#[derive(Clone, Debug, Serialize)]
pub struct Report {
    pub schema_version: u32,
    pub scenario: Scenario,
    pub seed: u64,
    /// Hash over the sequence of processed events (time, type, endpoints), in hex.
    pub digest: String,
    pub events: u64,
    pub simulated_s: f64,
    /// The fault timeline as resolved for this run (names, random picks, crash draws).
    pub faults: Vec<ResolvedFault>,
    #[serde(flatten)]
    pub observed: ObserverSummary,
    pub handoff: HandoffSummary,
    pub anti_entropy: AntiEntropySummary,
    pub durability: DurabilitySummary,
    pub convergence: ConvergenceSummary,
    pub load_balance: LoadBalance,
    pub membership: MembershipSummary,
    pub messages: MessageSummary,
    /// Bounded resources' use and queueing (absent when the scenario bounds none).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub capacity: Option<capacity::CapacitySummary>,
    /// One point per `metrics.timeline_interval_s`.
    pub timeline: Vec<TimelinePoint>,
}

/// Joins, leaves and how views of the ring spread.
#[derive(Clone, Debug, Serialize)]
pub struct MembershipSummary {
    /// The ring epoch published last (0 = no change completed).
    pub final_epoch: u32,
    pub changes: Vec<crate::sim::ChangeReport>,
    /// The longest time any change took to reach every live member by gossip.
    pub view_convergence_s: Option<f64>,
    /// Requests that reached a node which, by its own view, was not a home replica.
    pub misrouted_requests: u64,
    /// Keys and bytes streamed to new owners during joins and leaves.
    pub keys_transferred: u64,
    pub bytes_transferred: u64,
    /// Gossip messages (digests and updates) sent.
    pub gossip_messages: u64,
}

/// How evenly work and data spread over nodes (Dynamo §6.2).
#[derive(Clone, Debug, Serialize)]
pub struct LoadBalance {
    /// Replica reads and writes served per node.
    pub requests_per_node_mean: f64,
    pub requests_per_node_max: u64,
    /// Dynamo's load-balancing efficiency: mean / max requests per node (1 = perfect).
    pub request_efficiency: Option<f64>,
    /// Nodes whose request load is more than 15% away from the mean ("out of balance").
    pub nodes_out_of_balance: u64,
    /// Keys stored per node (as home replica) at the end.
    pub keys_per_node_mean: f64,
    pub keys_per_node_max: u64,
    pub key_efficiency: Option<f64>,
    /// The same per `metrics.balance_window_s` window of the request period (Dynamo
    /// §6.2 measures balance over 30-minute windows), over the nodes that served in it.
    pub windows: Vec<BalanceWindow>,
}

/// Load balance in one time window.
#[derive(Clone, Debug, Serialize)]
pub struct BalanceWindow {
    pub start_s: f64,
    pub end_s: f64,
    /// Nodes that served at least one replica request in the window.
    pub nodes: u64,
    pub requests_per_node_mean: f64,
    pub request_efficiency: Option<f64>,
    /// Share of those nodes more than 15% away from the window's mean.
    pub out_of_balance_fraction: f64,
}

impl BalanceWindow {
    fn from_counts(start_s: f64, end_s: f64, counts: &[u64]) -> BalanceWindow {
        let served: Vec<u64> = counts.iter().copied().filter(|c| *c > 0).collect();
        let b = LoadBalance::from_counts(&served, &[]);
        BalanceWindow {
            start_s,
            end_s,
            nodes: served.len() as u64,
            requests_per_node_mean: b.requests_per_node_mean,
            request_efficiency: b.request_efficiency,
            out_of_balance_fraction: if served.is_empty() {
                0.0
            } else {
                b.nodes_out_of_balance as f64 / served.len() as f64
            },
        }
    }
}

/// Per-window balance over the request period `0..duration_s`; a window cut short by
/// the end keeps its real length.
fn balance_windows(w: &crate::sim::LoadWindows, duration_s: f64) -> Vec<BalanceWindow> {
    let len = w.window.as_secs_f64();
    (w.counts.iter().enumerate())
        .map(|(i, counts)| (i as f64 * len, counts))
        .filter(|(start, _)| *start < duration_s)
        .map(|(start, counts)| {
            BalanceWindow::from_counts(start, (start + len).min(duration_s), counts)
        })
        .collect()
}

impl LoadBalance {
    pub fn from_counts(requests: &[u64], keys: &[u64]) -> LoadBalance {
        let mean = |v: &[u64]| {
            if v.is_empty() {
                0.0
            } else {
                v.iter().sum::<u64>() as f64 / v.len() as f64
            }
        };
        let max = |v: &[u64]| v.iter().copied().max().unwrap_or(0);
        let efficiency = |v: &[u64]| (max(v) > 0).then(|| mean(v) / max(v) as f64);
        let request_mean = mean(requests);
        LoadBalance {
            requests_per_node_mean: request_mean,
            requests_per_node_max: max(requests),
            request_efficiency: efficiency(requests),
            nodes_out_of_balance: requests
                .iter()
                .filter(|r| {
                    request_mean > 0.0 && ((**r as f64 - request_mean).abs() / request_mean) > 0.15
                })
                .count() as u64,
            keys_per_node_mean: mean(keys),
            keys_per_node_max: max(keys),
            key_efficiency: efficiency(keys),
            windows: Vec::new(),
        }
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct AntiEntropySummary {
    /// Exchanges started (one key range with one other replica each).
    pub exchanges: u64,
    /// Tree-node and key hashes compared by the receiving sides.
    pub hashes_compared: u64,
    /// Keys whose versions were sent to repair a replica (streamed).
    pub keys_transferred: u64,
    /// Bytes of all anti-entropy messages.
    pub bytes: u64,
    /// Keys whose version sets differed between the two replicas where leaves were
    /// compared: what repair needed to move.
    pub keys_differing: u64,
    /// Bytes of the data messages (`ae_data`): what repair streamed.
    pub bytes_streamed: u64,
    /// keys_transferred / keys_differing (1 when only differing keys move; null when no
    /// key differed).
    pub over_streaming: Option<f64>,
    /// Keys whose stored versions changed when anti-entropy data arrived.
    pub keys_repaired: u64,
    /// Exchanges a node did not start because data of the last exchange of that range was
    /// still in flight.
    pub exchanges_deferred: u64,
    /// In-flight records that lapsed unanswered (a lost message, a peer that crashed).
    pub in_flight_expired: u64,
}

#[derive(Clone, Debug, Serialize)]
pub struct ConvergenceSummary {
    /// Keys whose live home replicas held different version sets when the run ended.
    pub divergent_keys_at_end: u64,
    /// From the end of the last fault until no key diverged (1 s resolution); null when it
    /// never happened or no fault ended before the run did.
    pub time_to_converge_s: Option<f64>,
}

#[derive(Clone, Debug, Serialize)]
pub struct HandoffSummary {
    /// Hinted replicas accepted by fallback nodes.
    pub hints_stored: u64,
    /// Hints handed to their owner and deleted after its acknowledgement.
    pub hints_delivered: u64,
    /// Hints refused because a hint store was full.
    pub hints_dropped: u64,
    /// Hinted writes refused because the fallback had believed the owner down longer
    /// than `replication.hint_window_s`.
    pub hints_past_window: u64,
    /// Hinted writes refused because the hint would have held more siblings than
    /// `replication.max_siblings`.
    pub hints_too_many_siblings: u64,
    /// The largest hint store any node held.
    pub max_backlog: u64,
    /// Hints still held when the run ended.
    pub backlog_at_end: u64,
}

#[derive(Clone, Debug, Serialize)]
pub struct MessageSummary {
    pub sent: u64,
    pub bytes: u64,
    /// Lost by the network (drop probability, message_loss faults).
    pub lost: u64,
    /// Blocked by a partition.
    pub partitioned: u64,
    /// Arrived at a node whose process was down.
    pub to_down_node: u64,
    /// Messages sent per client request (reads, writes and context reads).
    pub per_request: Option<f64>,
    pub by_kind: BTreeMap<&'static str, KindCount>,
}

#[derive(Clone, Debug, Serialize)]
pub struct KindCount {
    pub sent: u64,
    pub bytes: u64,
}

impl HandoffSummary {
    fn from_outcome(run: &RunOutcome) -> HandoffSummary {
        let mut handoff = HandoffSummary {
            hints_stored: 0,
            hints_delivered: 0,
            hints_dropped: 0,
            hints_past_window: 0,
            hints_too_many_siblings: 0,
            max_backlog: 0,
            backlog_at_end: 0,
        };
        for node in &run.nodes {
            let h = &node.hints;
            handoff.hints_stored += h.stored;
            handoff.hints_delivered += h.delivered;
            handoff.hints_dropped += h.dropped;
            handoff.hints_past_window += h.past_window;
            handoff.hints_too_many_siblings += h.too_many_siblings;
            handoff.max_backlog = handoff.max_backlog.max(h.max_backlog);
            handoff.backlog_at_end += node.hint_backlog;
        }
        handoff
    }
}

impl AntiEntropySummary {
    fn from_outcome(run: &RunOutcome) -> AntiEntropySummary {
        let bytes = [
            MessageKind::AeHashes,
            MessageKind::AeKeys,
            MessageKind::AeData,
            MessageKind::AeDone,
            MessageKind::AeAsk,
        ]
        .iter()
        .map(|k| run.messages.bytes[*k as usize])
        .sum();
        let mut summary = AntiEntropySummary {
            exchanges: 0,
            hashes_compared: 0,
            keys_transferred: 0,
            bytes,
            keys_differing: 0,
            bytes_streamed: run.messages.bytes[MessageKind::AeData as usize],
            over_streaming: None,
            keys_repaired: 0,
            exchanges_deferred: 0,
            in_flight_expired: 0,
        };
        for node in &run.nodes {
            let a = &node.anti_entropy;
            summary.exchanges += a.exchanges;
            summary.hashes_compared += a.hashes_compared;
            summary.keys_transferred += a.keys_transferred;
            summary.keys_differing += a.keys_differing;
            summary.keys_repaired += a.keys_repaired;
            summary.exchanges_deferred += a.exchanges_deferred;
            summary.in_flight_expired += a.in_flight_expired;
        }
        summary.over_streaming = (summary.keys_differing > 0)
            .then(|| summary.keys_transferred as f64 / summary.keys_differing as f64);
        summary
    }
}

impl MembershipSummary {
    fn from_outcome(run: &RunOutcome) -> MembershipSummary {
        let m = &run.messages;
        let changes = run.membership_changes.clone();
        MembershipSummary {
            final_epoch: run.final_epoch,
            view_convergence_s: (changes.iter())
                .filter_map(|c| c.view_convergence_s)
                .fold(None, |acc: Option<f64>, v| {
                    Some(acc.map_or(v, |a| a.max(v)))
                }),
            changes,
            misrouted_requests: run
                .nodes
                .iter()
                .map(|n| n.transfer.misrouted_requests)
                .sum(),
            keys_transferred: run.nodes.iter().map(|n| n.transfer.keys_sent).sum(),
            bytes_transferred: run.nodes.iter().map(|n| n.transfer.bytes_sent).sum(),
            gossip_messages: m.sent[MessageKind::Gossip as usize]
                + m.sent[MessageKind::GossipUpdate as usize],
        }
    }
}

impl MessageSummary {
    /// `requests`: client requests (reads, writes and context reads) attempted.
    fn from_stats(m: &MessageStats, requests: u64) -> MessageSummary {
        let by_kind = MessageKind::ALL
            .iter()
            .map(|k| {
                (
                    k.name(),
                    KindCount {
                        sent: m.sent[*k as usize],
                        bytes: m.bytes[*k as usize],
                    },
                )
            })
            .collect();
        let sent: u64 = m.sent.iter().sum();
        MessageSummary {
            sent,
            bytes: m.bytes.iter().sum(),
            lost: m.lost,
            partitioned: m.partitioned,
            to_down_node: m.to_down_node,
            per_request: (requests > 0).then(|| sent as f64 / requests as f64),
            by_kind,
        }
    }
}

impl Report {
    /// The report of a finished run, from its outcome alone.
    pub fn from_outcome(run: &RunOutcome) -> Report {
        let observed = run.observed.clone();
        let m = &run.messages;
        let requests = observed.ops.read.attempted
            + observed.ops.write.attempted
            + observed.ops.context_read.attempted;
        let keys: Vec<u64> = run.nodes.iter().map(|n| n.keys).collect();
        let requests_per_node: Vec<u64> = run.nodes.iter().map(|n| n.replica_requests).collect();
        Report {
            schema_version: SCHEMA_VERSION,
            anti_entropy: AntiEntropySummary::from_outcome(run),
            faults: run.faults.clone(),
            handoff: HandoffSummary::from_outcome(run),
            durability: run.durability.clone(),
            convergence: ConvergenceSummary {
                divergent_keys_at_end: run.divergent_keys_at_end,
                time_to_converge_s: run.time_to_converge_s,
            },
            timeline: run.timeline.clone(),
            membership: MembershipSummary::from_outcome(run),
            load_balance: LoadBalance {
                windows: balance_windows(&run.load_windows, run.scenario.duration_s),
                ..LoadBalance::from_counts(&requests_per_node, &keys)
            },
            scenario: run.scenario.clone(),
            seed: run.scenario.seed,
            digest: format!("{:016x}", run.digest),
            events: run.events,
            simulated_s: run.simulated.as_secs_f64(),
            messages: MessageSummary::from_stats(m, requests),
            capacity: capacity::CapacitySummary::from_outcome(run),
            observed,
        }
    }

    pub fn to_json(&self) -> String {
        // Serializing plain structs of numbers and strings cannot fail.
        let mut s = serde_json::to_string_pretty(self)
            .unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"));
        s.push('\n');
        s
    }

    /// A few lines for the terminal.
    pub fn human_summary(&self) -> String {
        let o = &self.observed;
        let pct = |x: Option<f64>| {
            x.map(|v| format!("{:.4}%", v * 100.0))
                .unwrap_or_else(|| "n/a".into())
        };
        let r = &self.scenario.replication;
        format!(
            "{name}: N={n} {quorums}, {nodes} nodes, {sim:.0} simulated s, {events} events (digest {digest})\n\
             reads:  {ra} attempted, availability {rav}, p50 {rp50:.2} ms, p99.9 {rp999:.2} ms\n\
             writes: {wa} attempted, availability {wav}, p50 {wp50:.2} ms, p99.9 {wp999:.2} ms\n\
             stale reads: {stale} of {judged} judged ({sf}); reads returning 2+ versions: {multi}\n",
            name = self.scenario.name,
            n = r.n,
            quorums = self.scenario.quorum_label(),
            nodes = self.scenario.node_count(),
            sim = self.simulated_s,
            events = self.events,
            digest = self.digest,
            ra = o.ops.read.attempted,
            rav = pct(o.availability.read),
            rp50 = o.latency_ms.read.p50,
            rp999 = o.latency_ms.read.p999,
            wa = o.ops.write.attempted,
            wav = pct(o.availability.write),
            wp50 = o.latency_ms.write.p50,
            wp999 = o.latency_ms.write.p999,
            stale = o.consistency.stale_reads,
            judged = o.consistency.judged_reads,
            sf = pct(o.consistency.stale_read_fraction),
            multi = o.consistency.versions_per_read.two
                + o.consistency.versions_per_read.three
                + o.consistency.versions_per_read.four_or_more,
        )
    }
}

/// The file a run folder's set of outputs is vouched for by (see `write_run_folder`).
pub const MANIFEST: &str = "manifest.json";

/// Writes a run's whole output set into `dir` as a unit, in three steps. First every file
/// (`report.json`, `summary.md`, the plots, and the finished manifest naming every file
/// with its size and MD5 and the run's digest) is written to a temporary name beside its
/// target: a write error here (a full disk, a file size limit) removes them all and
/// leaves an earlier run in the folder as it was. Then the manifest is replaced by one
/// saying the folder is incomplete, each file is renamed into place, and the finished
/// manifest last. A run killed during the renames leaves `"complete": false`, so no reader
/// takes a mix of two runs (a new report.json beside an old summary) for one; `check`
/// refuses such a baseline. Other files in the folder (traces) are left alone. Returns
/// the files written.
#[cfg(not(target_arch = "wasm32"))]
pub fn write_run_folder(
    report: &Report,
    json: &str,
    dir: &Path,
) -> std::io::Result<Vec<std::path::PathBuf>> {
    let named = |e: std::io::Error, target: &Path| {
        std::io::Error::new(e.kind(), format!("cannot write {}: {e}", target.display()))
    };
    let mut staged = Vec::new();
    let mut written = Vec::new();
    let mut files = serde_json::Map::new();
    let mut take = |name: &str, bytes: &[u8]| -> std::io::Result<()> {
        let path = dir.join(name);
        files.insert(
            name.to_string(),
            serde_json::json!({"bytes": bytes.len(), "md5": md5_hex(bytes)}),
        );
        staged.push(stage(&path, bytes).map_err(|e| named(e, &path))?);
        written.push(path);
        Ok(())
    };
    take("report.json", json.as_bytes())?;
    for_each_output(report, json, |name, bytes| take(name, &bytes))?;
    let manifest = dir.join(MANIFEST);
    let done = serde_json::json!({
        "complete": true,
        "digest": report.digest,
        "seed": report.scenario.seed,
        "files": files,
    });
    let done =
        stage(&manifest, format!("{done:#}\n").as_bytes()).map_err(|e| named(e, &manifest))?;
    let pending = serde_json::json!({"complete": false, "digest": report.digest});
    write_atomic(&manifest, format!("{pending:#}\n").as_bytes())
        .map_err(|e| named(e, &manifest))?;
    for file in staged.into_iter().chain([done]) {
        let target = file.target().to_path_buf();
        file.commit().map_err(|e| named(e, &target))?;
    }
    Ok(written)
}

/// An output folder's place is checked before a run or replay (`--out`): a file there
/// would otherwise be found only after all the work.
#[cfg(not(target_arch = "wasm32"))]
pub fn check_out_folder(out_dir: &Path) -> Result<(), crate::error::Failure> {
    if out_dir.exists() && !out_dir.is_dir() {
        return Err(crate::error::Failure::trouble(format!(
            "--out {}: is a file, not a folder; name a folder (it is created when missing)",
            out_dir.display()
        )));
    }
    Ok(())
}

/// Whether `name` is a file `write_run_folder` writes into a run folder (the report,
/// the summary, the plots, the manifest): a side file (timings, history) by that name
/// in the same folder would be overwritten by the run or overwrite it.
pub fn is_run_output(name: &str) -> bool {
    name == "report.json"
        || name == "report.html"
        || name == "summary.md"
        || name == MANIFEST
        || name.ends_with(".csv")
        || name.ends_with(".svg")
        || name.ends_with(".png")
}

/// What a folder's manifest says of the file `name` in it: `Ok` when there is no
/// manifest (a folder from before manifests) or it vouches for the file's bytes.
pub fn manifest_vouches(dir: &Path, name: &str, bytes: &[u8]) -> Result<(), String> {
    let path = dir.join(MANIFEST);
    let Ok(text) = crate::input::read_text(&path, crate::input::MAX_SCENARIO_BYTES) else {
        return Ok(());
    };
    let doc: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| format!("{}: not valid JSON ({e})", path.display()))?;
    if doc.get("complete") != Some(&serde_json::Value::Bool(true)) {
        return Err(format!(
            "{}: the folder is incomplete (a run writing into it was interrupted); run it again",
            dir.display()
        ));
    }
    let md5 = doc
        .pointer(&format!("/files/{name}/md5"))
        .and_then(|m| m.as_str());
    if md5 != Some(md5_hex(bytes).as_str()) {
        return Err(format!(
            "{}: {name} is not the one its manifest names (the folder mixes two runs); run it again",
            dir.display()
        ));
    }
    Ok(())
}

fn md5_hex(bytes: &[u8]) -> String {
    use md5::{Digest, Md5};
    Md5::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Writes what a person reads next to `report.json` (`json`) into `dir`: `report.html`,
/// `summary.md`, the tidy data (`timeline.csv`, `latency.csv`) and every plot (SVG and
/// PNG), each atomically. Everything is derived from `report` alone, so committed
/// reports can be re-rendered without re-running them. Returns the paths written.
#[cfg(not(target_arch = "wasm32"))]
pub fn write_outputs(
    report: &Report,
    json: &str,
    dir: &Path,
) -> std::io::Result<Vec<std::path::PathBuf>> {
    let mut written = Vec::new();
    for_each_output(report, json, |name, bytes| {
        let path = dir.join(name);
        write_atomic(&path, &bytes).map_err(|e| {
            std::io::Error::new(e.kind(), format!("cannot write {}: {e}", path.display()))
        })?;
        written.push(path);
        Ok(())
    })?;
    Ok(written)
}

/// What `write_outputs` writes, in memory: (file name, bytes).
#[cfg(not(target_arch = "wasm32"))]
pub fn render_outputs(report: &Report, json: &str) -> std::io::Result<Vec<(String, Vec<u8>)>> {
    let mut files = Vec::new();
    for_each_output(report, json, |name, bytes| {
        files.push((name.to_string(), bytes));
        Ok(())
    })?;
    Ok(files)
}

/// Renders the files beside report.json (`json`, which report.html embeds), one at a
/// time, handing each to `take`: only one is held at once, which matters for a long
/// timeline (a run with 330,000 points makes a 177 MB report.html).
#[cfg(not(target_arch = "wasm32"))]
fn for_each_output(
    report: &Report,
    json: &str,
    mut take: impl FnMut(&str, Vec<u8>) -> std::io::Result<()>,
) -> std::io::Result<()> {
    let summary = summary::render(report);
    take(
        "report.html",
        html::render(report, json, &summary).into_bytes(),
    )?;
    take("summary.md", summary.into_bytes())?;
    take("timeline.csv", csv::timeline(report).into_bytes())?;
    take("latency.csv", csv::latency(report).into_bytes())?;
    plots::for_each(report, |name, bytes| take(name, bytes))
}

/// Whether `dir` already holds exactly what `write_run_folder` would write for `report`
/// (`json` its report.json): a complete manifest vouching for every file, and every file
/// with these bytes. `check --update` then leaves the folder alone.
#[cfg(not(target_arch = "wasm32"))]
pub fn folder_is_current(report: &Report, json: &str, dir: &Path) -> bool {
    let Ok(outputs) = render_outputs(report, json) else {
        return false;
    };
    let manifest = crate::input::read_text(&dir.join(MANIFEST), crate::input::MAX_SCENARIO_BYTES);
    let listed = manifest
        .ok()
        .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
        .and_then(|m| m.get("files").and_then(|f| f.as_object()).map(|f| f.len()));
    let expected = std::iter::once(("report.json".to_string(), json.as_bytes().to_vec()))
        .chain(outputs)
        .collect::<Vec<_>>();
    listed == Some(expected.len())
        && expected.iter().all(|(name, bytes)| {
            std::fs::read(dir.join(name)).is_ok_and(|on_disk| on_disk == *bytes)
                && manifest_vouches(dir, name, bytes).is_ok()
        })
}

/// Writes `contents` to `path` atomically: a temporary file in the same folder, flushed,
/// then renamed over the target (and the folder synced, best effort, so the rename
/// survives a crash). The temporary name is unique per process and call, so threads
/// writing the same target (two `check --jobs` scenarios with one name) cannot write into
/// each other's temporary file. On any error the temporary file is removed and the
/// target is left as it was. A symbolic link is written through (its target is replaced,
/// the link kept), and a device or pipe such as `/dev/stdout` is written in place
/// (`atomic::destination`).
pub fn write_atomic(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    // A device or pipe at once, without the copy `stage` keeps for a later commit.
    if let crate::atomic::Destination::InPlace(device) = crate::atomic::destination(path)? {
        return crate::atomic::open_in_place(&device)?.write_all(contents);
    }
    stage(path, contents)?.commit()
}

/// A file ready to take its target's place: written in full to a temporary name beside
/// it (renamed over it by `commit`; dropped uncommitted, the temporary file is removed),
/// or, for a device or pipe, the bytes to write into it at `commit`.
#[must_use = "a staged file is removed unless committed"]
pub struct Staged {
    target: std::path::PathBuf,
    place: Place,
    committed: bool,
}

enum Place {
    Temporary {
        dir: std::path::PathBuf,
        tmp: std::path::PathBuf,
    },
    InPlace(Vec<u8>),
}

/// Writes `contents` under a temporary name beside `path` (flushed to disk), to be renamed
/// over it by `Staged::commit`. A device or pipe (`atomic::destination`) is written only
/// at `commit`, in the order the caller commits. A folder in the target's place is an
/// error here, before anything is renamed.
pub fn stage(path: &Path, contents: &[u8]) -> std::io::Result<Staged> {
    let path = match crate::atomic::destination(path)? {
        crate::atomic::Destination::InPlace(device) => {
            return Ok(Staged {
                target: device,
                place: Place::InPlace(contents.to_vec()),
                committed: false,
            });
        }
        crate::atomic::Destination::Replace(file) => file,
    };
    if path.is_dir() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::IsADirectory,
            format!("{} is a folder, not a file", path.display()),
        ));
    }
    let (dir, tmp) = crate::atomic::temporary_sibling(&path)?;
    let staged = Staged {
        target: path,
        place: Place::Temporary { dir, tmp },
        committed: false,
    };
    if let Place::Temporary { tmp, .. } = &staged.place {
        let mut f = std::fs::File::create_new(tmp)?;
        f.write_all(contents)?;
        f.sync_all()?;
    }
    Ok(staged)
}

impl Staged {
    /// The file (or device) this will replace.
    pub fn target(&self) -> &Path {
        &self.target
    }

    /// Renames the staged file over its target (and syncs the folder, best effort, so the
    /// rename survives a crash), or writes a device or pipe now.
    pub fn commit(mut self) -> std::io::Result<()> {
        match &self.place {
            Place::InPlace(bytes) => {
                crate::atomic::open_in_place(&self.target)?.write_all(bytes)?;
            }
            Place::Temporary { dir, tmp } => {
                std::fs::rename(tmp, &self.target)?;
                crate::atomic::settled(tmp);
                if let Ok(d) = std::fs::File::open(dir) {
                    let _ = d.sync_all();
                }
            }
        }
        self.committed = true;
        Ok(())
    }
}

impl Drop for Staged {
    fn drop(&mut self) {
        if let (false, Place::Temporary { tmp, .. }) = (self.committed, &self.place) {
            let _ = std::fs::remove_file(tmp);
            crate::atomic::settled(tmp);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::SimTime;

    /// Windows count per node, skip nodes idle in a window, and stop at the request
    /// period's end (a window it cuts keeps its real length).
    #[test]
    fn balance_windows_judge_each_window_on_its_own() {
        let mut w = crate::sim::LoadWindows::new(SimTime::from_secs_f64(10.0));
        let at = |s: f64| SimTime::from_secs_f64(s);
        for _ in 0..10 {
            w.count(at(1.0), 0);
            w.count(at(2.0), 1);
        }
        for _ in 0..30 {
            w.count(at(12.0), 0);
        }
        for _ in 0..10 {
            w.count(at(13.0), 2);
        }
        w.count(at(25.0), 1);
        let windows = balance_windows(&w, 15.0);
        assert_eq!(windows.len(), 2, "the window past the requests is left out");
        assert_eq!(windows[0].nodes, 2);
        assert_eq!(windows[0].request_efficiency, Some(1.0));
        assert_eq!(windows[0].out_of_balance_fraction, 0.0);
        assert_eq!((windows[1].start_s, windows[1].end_s), (10.0, 15.0));
        assert_eq!(windows[1].nodes, 2, "node 1 served nothing there");
        assert_eq!(windows[1].request_efficiency, Some(20.0 / 30.0));
        assert_eq!(windows[1].out_of_balance_fraction, 1.0);
    }
}
