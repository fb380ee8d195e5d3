//! The browser playground's view of a run (web/): scenario text in, a run advanced in
//! slices so the page can show progress, report JSON and the plain-language summary out.
//! Target-independent, so native tests hold it to the CLI's bytes; `web/module` wraps it
//! in the few functions the WebAssembly module exports.

use crate::engine::SimTime;
use crate::report::{Report, summary};
use crate::scenario::load_str;
use crate::sim::Simulation;

/// What a page tab may use: WebAssembly's 32-bit memory tops out at 4 GiB, and a browser
/// tab has other things to hold. Runs the guard estimates above this are refused.
pub const BROWSER_MEMORY_BYTES: u64 = 2 << 30;
const _: () = assert!(
    BROWSER_MEMORY_BYTES < 4 << 30,
    "a tab's budget must fit 32-bit memory"
);

/// A run in progress.
pub struct Session {
    sim: Simulation,
}

/// How far a run has got, in simulated seconds.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Progress {
    pub simulated_s: f64,
    pub end_s: f64,
    pub finished: bool,
}

/// What a finished run gives the page.
pub struct Outcome {
    /// Exactly the CLI's report.json for the same scenario and seed.
    pub report_json: String,
    /// The CLI's summary.md.
    pub summary_md: String,
    pub digest: String,
    /// The first stale reads the observer kept (at most `STALE_EXAMPLES`), as JSON, for
    /// the page's "why is this read stale?": each with the write it missed, how long
    /// after that write's acknowledgement the read began, the key's home replicas and
    /// the faults in effect when it began.
    pub stale_examples_json: String,
}

/// Stale reads the page is told about.
pub const STALE_EXAMPLES: usize = 20;

impl Session {
    /// Validates `scenario_json` (errors as the CLI prints them, naming field and value)
    /// and sets the run up; refuses one the memory guard says a tab cannot hold.
    pub fn start(scenario_json: &str) -> Result<Session, String> {
        let scenario = load_str(scenario_json, "scenario", &[]).map_err(|e| e.to_string())?;
        crate::guard::check_fits(&scenario, Some(BROWSER_MEMORY_BYTES))?;
        Ok(Session {
            sim: Simulation::new(&scenario),
        })
    }

    /// Runs up to `slice_s` more simulated seconds (the page calls this in a loop and
    /// posts progress between calls).
    pub fn advance(&mut self, slice_s: f64) -> Progress {
        let limit = self.sim.now().as_secs_f64() + slice_s.max(0.001);
        if limit >= self.sim.end().as_secs_f64() {
            self.sim.run();
        } else {
            self.sim.run_until(SimTime::from_secs_f64(limit));
        }
        self.progress()
    }

    /// The timeline points measured so far from index `from` on, as a JSON list (the
    /// page draws availability and stale reads live while the run goes on).
    pub fn timeline_json(&self, from: usize) -> String {
        let points = self.sim.observer().timeline();
        serde_json::to_string(points.get(from..).unwrap_or(&[])).unwrap_or_else(|_| "[]".into())
    }

    pub fn progress(&mut self) -> Progress {
        Progress {
            simulated_s: self.sim.now().as_secs_f64(),
            end_s: self.sim.end().as_secs_f64(),
            finished: self.sim.is_finished(),
        }
    }

    /// Runs whatever is left and builds the report.
    pub fn finish(mut self) -> Outcome {
        self.sim.run();
        let report = Report::from_outcome(&self.sim.outcome());
        Outcome {
            report_json: report.to_json(),
            summary_md: summary::render(&report),
            digest: report.digest.clone(),
            stale_examples_json: stale_examples(&self.sim).to_string(),
        }
    }
}

fn stale_examples(sim: &Simulation) -> serde_json::Value {
    let names = sim.node_names();
    let name = |n: crate::ids::NodeId| names.get(n.0 as usize).cloned().unwrap_or_default();
    let examples = sim.observer().stale_read_list().iter().take(STALE_EXAMPLES);
    let rows = examples.map(|s| {
        let start_s = s.start_us as f64 / 1e6;
        let active: Vec<serde_json::Value> = (sim.resolved_faults().iter())
            .filter(|f| f.at_s <= start_s && f.end_s.is_none_or(|end| start_s < end))
            .map(|f| serde_json::json!({"kind": f.kind, "at_s": f.at_s, "end_s": f.end_s}))
            .collect();
        let homes: Vec<String> = sim
            .ring()
            .replicas(s.key)
            .iter()
            .map(|n| name(*n))
            .collect();
        serde_json::json!({
            "req": s.req.to_string(),
            "client": s.client.0,
            "key": s.key.0,
            "missed": s.missed.to_string(),
            "k": s.k,
            "start_s": start_s,
            "end_s": s.end_us as f64 / 1e6,
            "since_ack_ms": s.since_ack_us as f64 / 1e3,
            "home_replicas": homes,
            "faults_active": active,
        })
    });
    serde_json::Value::Array(rows.collect())
}
