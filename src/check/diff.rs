//! `dynasim diff A B`: two report.json files compared without rerunning anything, every
//! field exactly, grouped by section, the scenario's own changes (the causes) first.

use super::compare::{self, Exact, Row, SCENARIO_PREFIX, show_short};
use crate::error::Failure;
use std::fmt::Write;
use std::path::{Path, PathBuf};

#[derive(clap::Args, Debug)]
pub struct DiffArgs {
    /// The first report (report.json, or a run folder holding one).
    pub a: PathBuf,
    /// The second report.
    pub b: PathBuf,
    /// List every differing field (default: the first 8 of each section).
    #[arg(long)]
    pub all: bool,
}

/// Fields listed per section unless `--all`.
const LISTED_PER_SECTION: usize = 8;

/// Exit 0 when the reports are the same, 1 when they differ, 2 when one is not a report.
pub fn run(args: DiffArgs) -> Result<(), Failure> {
    let read = |path: &Path| {
        let file = if path.is_dir() {
            path.join("report.json")
        } else {
            path.to_path_buf()
        };
        super::read_baseline(&file).map_err(Failure::trouble)
    };
    let (a, b) = (read(&args.a)?, read(&args.b)?);
    // Only the differing fields are listed (and the digest).
    let judged = compare::exact(&a, &b, false);
    let text = render(&judged, args.all);
    crate::out!("{text}");
    if judged.rows.iter().all(|r| r.verdict.passed()) {
        Ok(())
    } else {
        Err(Failure::failed(format!(
            "{} and {} differ",
            args.a.display(),
            args.b.display()
        )))
    }
}

/// The comparison as text: a verdict line, then the scenario's changes, then one block
/// per section with its differing fields (`path: a -> b (delta)`).
pub fn render(judged: &Exact, all: bool) -> String {
    let rows = &judged.rows;
    let differing: Vec<&Row> = rows.iter().filter(|r| !r.verdict.passed()).collect();
    let digest = |r: &Row, side: fn(&Row) -> Option<&serde_json::Value>| match side(r) {
        Some(serde_json::Value::String(d)) => d.clone(),
        other => show_short(other, 20),
    };
    let mut out = String::new();
    let digest_row = rows.iter().find(|r| r.metric == "digest");
    if differing.is_empty() {
        let d = digest_row
            .map(|r| digest(r, |r| r.baseline.as_ref()))
            .unwrap_or_default();
        let _ = writeln!(out, "same: digest {d}, all {} fields match", judged.fields);
        return out;
    }
    if let Some(r) = digest_row {
        let _ = writeln!(
            out,
            "different: digest {} -> {}, {} of {} fields differ",
            digest(r, |r| r.baseline.as_ref()),
            digest(r, |r| r.now.as_ref()),
            differing.len(),
            judged.fields
        );
    }
    let (causes, effects): (Vec<&Row>, Vec<&Row>) = (differing.iter())
        .filter(|r| r.metric != "digest")
        .partition(|r| r.metric.starts_with(SCENARIO_PREFIX));
    if !causes.is_empty() {
        let _ = writeln!(
            out,
            "\nthe scenario differs ({} fields): the likely causes",
            causes.len()
        );
        list(&mut out, &causes, all);
    } else {
        let _ = writeln!(
            out,
            "\nthe scenario is the same: the code (or the binary) differs between the two runs"
        );
    }
    let mut sections: Vec<(&str, Vec<&Row>)> = Vec::new();
    for row in effects {
        let name = row.metric.split('.').next().unwrap_or(&row.metric);
        match sections.iter_mut().find(|(s, _)| *s == name) {
            Some((_, rows)) => rows.push(row),
            None => sections.push((name, vec![row])),
        }
    }
    for (name, rows) in sections {
        let _ = writeln!(out, "\n{name} ({} fields differ)", rows.len());
        list(&mut out, &rows, all);
    }
    out
}

fn list(out: &mut String, rows: &[&Row], all: bool) {
    let shown = if all {
        rows.len()
    } else {
        rows.len().min(LISTED_PER_SECTION)
    };
    for row in &rows[..shown] {
        let delta = row.delta().map(|d| format!(" ({d})")).unwrap_or_default();
        let _ = writeln!(
            out,
            "  {}: {} -> {}{delta}",
            row.metric,
            show_short(row.baseline.as_ref(), 60),
            show_short(row.now.as_ref(), 60)
        );
    }
    if shown < rows.len() {
        let _ = writeln!(
            out,
            "  ... and {} more (--all lists them)",
            rows.len() - shown
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rows(a: serde_json::Value, b: serde_json::Value) -> Exact {
        compare::exact(&a, &b, false)
    }

    #[test]
    fn causes_come_first_and_sections_group_the_rest() {
        let a = json!({"digest": "aa", "scenario": {"workload": {"ops_per_s": 200.0}},
            "availability": {"read": 1.0, "write": 1.0}, "handoff": {"hints_stored": 3}});
        let b = json!({"digest": "bb", "scenario": {"workload": {"ops_per_s": 250.0}},
            "availability": {"read": 0.5, "write": 1.0}, "handoff": {"hints_stored": 5}});
        let text = render(&rows(a.clone(), b), false);
        let scenario = text
            .find("scenario.workload.ops_per_s: 200.0 -> 250.0")
            .expect(&text);
        let availability = text.find("availability (1 fields differ)").expect(&text);
        assert!(scenario < availability, "{text}");
        assert!(
            text.contains("availability.read: 1.0 -> 0.5 (-0.5)"),
            "{text}"
        );
        assert!(text.contains("handoff.hints_stored: 3 -> 5 (+2)"), "{text}");
        assert!(
            text.starts_with("different: digest aa -> bb, 4 of 5 fields differ"),
            "{text}"
        );
        let same = render(&rows(a.clone(), a), false);
        assert!(
            same.starts_with("same: digest aa, all 5 fields match"),
            "{same}"
        );
    }
}
