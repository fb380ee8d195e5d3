//! The terminal report of a check: one line per scenario, and under a failing scenario a
//! table of metric, baseline, now, delta and verdict (every judged row with `--verbose`).

use super::compare::{Row, show_short};
use super::{Comparison, Outcome, Status, Update};
use serde_json::Value;
use std::fmt::Write;

/// Failing rows listed per scenario without `--verbose`.
const ROWS_LISTED: usize = 20;
/// Longer cells (descriptions, mostly) are cut in the table; JUnit keeps them whole.
const CELL_CHARS_MAX: usize = 48;

pub fn render(outcome: &Outcome, verbose: bool) -> String {
    let paths = format!(
        "{} vs {}",
        outcome.scenario_path.display(),
        outcome.baseline_path.display()
    );
    let who = format!("{} (seed {})", outcome.name, outcome.seed);
    let mut out = String::new();
    // Writing to a String cannot fail.
    match &outcome.status {
        Status::Compared(c) => {
            let verdict = if c.failures() == 0 { "PASS" } else { "FAIL" };
            let _ = writeln!(out, "{verdict}  {who}  {}  [{paths}]", headline(c));
            if let Some(note) = &c.note {
                let _ = writeln!(out, "      note: {note}");
            }
            let failing: Vec<&Row> = c.rows.iter().filter(|r| !r.verdict.passed()).collect();
            if verbose {
                out.push_str(&table(c.rows.iter()));
            } else if !failing.is_empty() {
                out.push_str(&table(failing.iter().copied().take(ROWS_LISTED)));
                if failing.len() > ROWS_LISTED {
                    let _ = writeln!(
                        out,
                        "      ... and {} more failing rows (--verbose lists every row)",
                        failing.len() - ROWS_LISTED
                    );
                }
            }
        }
        Status::Updated(u) => {
            let _ = writeln!(
                out,
                "UPDATED  {who}  {}: {}",
                outcome.baseline_path.display(),
                updated(u)
            );
        }
        Status::BadInput(message) => {
            let _ = writeln!(out, "ERROR  {who}  not judged  [{paths}]");
            for line in message.lines() {
                let _ = writeln!(out, "      {line}");
            }
        }
        Status::Crashed(message) => {
            let _ = writeln!(out, "FAIL  {who}  {message}  [{paths}]");
        }
    }
    out
}

/// The check as a Markdown table, a row per scenario (for a CI step summary): verdict,
/// scenario, seed, what was found, and under it the first failing fields.
pub fn markdown(outcomes: &[Outcome]) -> String {
    let cell = |text: &str| text.replace('|', "\\|").replace('\n', " ");
    let passed = outcomes.iter().filter(|o| o.status.passed()).count();
    let mut out = format!(
        "### dynasim check: {passed} of {} scenario(s) passed\n\n| | scenario | seed | result |\n|---|---|---|---|\n",
        outcomes.len()
    );
    let mut details = String::new();
    for o in outcomes {
        let (mark, result) = match &o.status {
            Status::Compared(c) => {
                let mark = if c.failures() == 0 { "✅" } else { "❌" };
                let note = c
                    .note
                    .as_ref()
                    .map(|n| format!(" ({n})"))
                    .unwrap_or_default();
                (mark, format!("{}{note}", headline(c)))
            }
            Status::Updated(u) => ("📝", format!("updated: {}", updated(u))),
            Status::BadInput(m) => (
                "⚠️",
                format!("not judged: {}", m.lines().next().unwrap_or("")),
            ),
            Status::Crashed(m) => ("❌", m.clone()),
        };
        let _ = writeln!(
            out,
            "| {mark} | {} | {} | {} |",
            cell(&o.name),
            o.seed,
            cell(&result)
        );
        if let Status::Compared(c) = &o.status {
            let failing: Vec<&Row> = c.rows.iter().filter(|r| !r.verdict.passed()).collect();
            if !failing.is_empty() {
                let _ = writeln!(
                    details,
                    "\n#### {}\n\n| metric | baseline | now | verdict |\n|---|---|---|---|",
                    cell(&o.name)
                );
                for row in failing.iter().take(ROWS_LISTED) {
                    let _ = writeln!(
                        details,
                        "| `{}` | {} | {} | {} |",
                        row.metric,
                        cell(&show_short(row.baseline.as_ref(), CELL_CHARS_MAX)),
                        cell(&show_short(row.now.as_ref(), CELL_CHARS_MAX)),
                        row.verdict
                    );
                }
                if failing.len() > ROWS_LISTED {
                    let _ = writeln!(
                        details,
                        "\n... and {} more failing rows",
                        failing.len() - ROWS_LISTED
                    );
                }
            }
        }
    }
    out.push_str(&details);
    out
}

fn headline(c: &Comparison) -> String {
    let failures = c.failures();
    if c.tolerance {
        let better = c.rows.iter().filter(|r| r.verdict.improved()).count();
        match failures {
            0 => format!(
                "tolerance: {} bounded metric(s) within bounds, {better} better",
                c.rows.len()
            ),
            f => format!(
                "tolerance: {f} of {} judged metric(s) worse than allowed",
                c.rows.len()
            ),
        }
    } else {
        let text = |v: &Option<Value>| {
            v.as_ref()
                .and_then(Value::as_str)
                .unwrap_or("(none)")
                .to_string()
        };
        let digest_text = match c.rows.iter().find(|r| r.metric == "digest") {
            Some(r) if r.verdict.passed() => format!("digest {} matches", text(&r.now)),
            Some(r) => format!("digest {} -> {}", text(&r.baseline), text(&r.now)),
            None => "no digest".to_string(),
        };
        match failures {
            0 => format!("exact: {digest_text}, all {} fields match", c.fields),
            f => format!("exact: {f} of {} fields differ, {digest_text}", c.fields),
        }
    }
}

fn updated(u: &Update) -> String {
    match u.changed {
        None => format!("created (digest {})", u.digest_now),
        Some(0) if !u.rewritten => "unchanged, left as it was".to_string(),
        Some(0) => "report.json unchanged; its summary, data or plots re-rendered".to_string(),
        Some(n) => match &u.digest_before {
            Some(before) if *before != u.digest_now => {
                format!("{n} field(s) changed, digest {before} -> {}", u.digest_now)
            }
            _ => format!("{n} field(s) changed, same digest {}", u.digest_now),
        },
    }
}

/// A row's two values for reading: floats to 6 significant digits (0.9879935965848452
/// reads 0.987994), unless the two differ only past that, when both are shown whole so
/// the difference stays visible. Other values as JSON, cut to the cell width.
fn readable_pair(row: &Row) -> (String, String) {
    let float = |v: Option<&Value>| v.filter(|v| v.is_f64()).and_then(Value::as_f64);
    let short = |v: Option<&Value>| match float(v) {
        Some(x) => super::compare::number(x),
        None => show_short(v, CELL_CHARS_MAX),
    };
    let (b, n) = (short(row.baseline.as_ref()), short(row.now.as_ref()));
    if b == n && row.baseline != row.now {
        let whole = |v: Option<&Value>| show_short(v, CELL_CHARS_MAX);
        return (whole(row.baseline.as_ref()), whole(row.now.as_ref()));
    }
    (b, n)
}

fn table<'a>(rows: impl Iterator<Item = &'a Row>) -> String {
    let header = ["metric", "baseline", "now", "delta", "verdict"].map(String::from);
    let mut lines = vec![header];
    for row in rows {
        let (baseline, now) = readable_pair(row);
        lines.push([
            row.metric.clone(),
            baseline,
            now,
            row.delta().unwrap_or_default(),
            row.verdict.to_string(),
        ]);
    }
    let mut widths = [0usize; 5];
    for line in &lines {
        for (w, cell) in widths.iter_mut().zip(line) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for line in &lines {
        let _ = write!(out, "     ");
        for (i, (cell, w)) in line.iter().zip(widths).enumerate() {
            if i + 1 == line.len() {
                let _ = write!(out, " {cell}");
            } else {
                let _ = write!(out, " {cell:<w$} ");
            }
        }
        out.truncate(out.trim_end().len());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::compare::Verdict;
    use super::*;

    #[test]
    fn floats_read_short_unless_they_differ_only_past_six_digits() {
        let row = |b: f64, n: f64| Row {
            metric: "m".into(),
            baseline: Some(serde_json::json!(b)),
            now: Some(serde_json::json!(n)),
            verdict: Verdict::Differs,
        };
        assert_eq!(
            readable_pair(&row(0.9879935965848452, 0.5)),
            ("0.987994".to_string(), "0.5".to_string())
        );
        assert_eq!(
            readable_pair(&row(502.88288489437923, 502.8828848943792)),
            (
                "502.88288489437923".to_string(),
                "502.8828848943792".to_string()
            )
        );
    }
}
