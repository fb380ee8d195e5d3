//! JUnit XML for CI systems: `testsuites` > one `testsuite` per scenario > its `testcase`s,
//! as `--junit-cases` asks: by default one case per scenario (`report`, its failure
//! listing the fields that differ); `section`: in exact mode the digest, then one per
//! top-level section of report.json (`availability`, `latency_ms`, ...); `metric`: one per
//! field (14,691 cases for the shipped scenarios) or, in tolerance mode, per bounded metric.
//! The embedded scenario's fields are always one case named `scenario`. A regression is a `<failure>`; a scenario that could not be
//! judged (bad input, a crashed run) is an `<error>`. No timings: the file is a function of
//! the outcomes, like every other output of a check.

use super::compare::{Row, SCENARIO_PREFIX, show};
use super::{Comparison, Outcome, Status};
use std::fmt::Write;

/// How many differing scenario fields one `scenario` case lists.
const SCENARIO_FIELDS_LISTED: usize = 20;

struct Case {
    name: String,
    result: CaseResult,
}

enum CaseResult {
    Pass,
    Failure { message: String, body: String },
    Error { kind: &'static str, message: String },
}

/// How many test cases a scenario makes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Granularity {
    /// One per scenario (the default: a CI test view lists scenarios).
    Scenario,
    /// Exact mode: the digest, the scenario, one per section of report.json.
    Section,
    /// One per field (exact mode) or bounded metric (tolerance mode).
    Metric,
}

pub fn render(outcomes: &[Outcome], granularity: Granularity) -> String {
    let suites: Vec<(&Outcome, Vec<Case>)> = (outcomes.iter())
        .map(|o| (o, cases(&o.status, granularity)))
        .collect();
    let count = |pred: fn(&CaseResult) -> bool| {
        suites
            .iter()
            .flat_map(|(_, c)| c)
            .filter(|c| pred(&c.result))
            .count()
    };
    let tests: usize = suites.iter().map(|(_, c)| c.len()).sum();
    let failures = count(|r| matches!(r, CaseResult::Failure { .. }));
    let errors = count(|r| matches!(r, CaseResult::Error { .. }));

    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    // Writing to a String cannot fail.
    let _ = writeln!(
        out,
        r#"<testsuites name="dynasim check" tests="{tests}" failures="{failures}" errors="{errors}">"#
    );
    for (outcome, cases) in &suites {
        let failures = cases
            .iter()
            .filter(|c| matches!(c.result, CaseResult::Failure { .. }))
            .count();
        let errors = cases
            .iter()
            .filter(|c| matches!(c.result, CaseResult::Error { .. }))
            .count();
        let _ = writeln!(
            out,
            r#"  <testsuite name="{}" tests="{}" failures="{failures}" errors="{errors}" skipped="0">"#,
            escape(&outcome.name),
            cases.len()
        );
        let _ = writeln!(out, "    <properties>");
        for (name, value) in [
            ("scenario", outcome.scenario_path.display().to_string()),
            ("baseline", outcome.baseline_path.display().to_string()),
            ("seed", outcome.seed.to_string()),
            ("mode", outcome.mode.to_string()),
        ] {
            let _ = writeln!(
                out,
                r#"      <property name="{name}" value="{}"/>"#,
                escape(&value)
            );
        }
        let _ = writeln!(out, "    </properties>");
        let classname = escape(&format!("dynasim.{}", outcome.name));
        for case in cases {
            let name = escape(&case.name);
            let inner = match &case.result {
                CaseResult::Pass => None,
                CaseResult::Failure { message, body } => Some(format!(
                    r#"<failure type="regression" message="{}">{}</failure>"#,
                    escape(message),
                    escape(body)
                )),
                CaseResult::Error { kind, message } => Some(format!(
                    r#"<error type="{kind}" message="{}">{}</error>"#,
                    escape(message),
                    escape(message)
                )),
            };
            let _ = match inner {
                None => writeln!(
                    out,
                    r#"    <testcase classname="{classname}" name="{name}"/>"#
                ),
                Some(inner) => writeln!(
                    out,
                    "    <testcase classname=\"{classname}\" name=\"{name}\">\n      {inner}\n    </testcase>"
                ),
            };
        }
        let _ = writeln!(out, "  </testsuite>");
    }
    out.push_str("</testsuites>\n");
    out
}

fn cases(status: &Status, granularity: Granularity) -> Vec<Case> {
    match status {
        Status::Compared(c) if granularity == Granularity::Scenario => {
            let failed: Vec<&Row> = c.rows.iter().filter(|r| !r.verdict.passed()).collect();
            let result = if failed.is_empty() {
                CaseResult::Pass
            } else {
                let message = match &c.note {
                    Some(note) => format!("{}; {note}", fields_differ(&failed)),
                    None => fields_differ(&failed),
                };
                CaseResult::Failure {
                    message,
                    body: listing(&failed, true),
                }
            };
            vec![Case {
                name: "report".into(),
                result,
            }]
        }
        Status::Compared(c) if c.tolerance || granularity == Granularity::Metric => {
            rows_to_cases(&c.rows)
        }
        Status::Compared(c) => sections_to_cases(c),
        Status::Updated(_) => vec![Case {
            name: "update".into(),
            result: CaseResult::Pass,
        }],
        Status::BadInput(message) => {
            vec![Case {
                name: "check".into(),
                result: CaseResult::Error {
                    kind: "bad input",
                    message: message.clone(),
                },
            }]
        }
        Status::Crashed(message) => {
            vec![Case {
                name: "run".into(),
                result: CaseResult::Error {
                    kind: "crash",
                    message: message.clone(),
                },
            }]
        }
    }
}

/// Exact mode: the digest, the scenario, and one case per top-level section, in the order
/// the report has them; a section fails when any of its fields differs, listing them.
fn sections_to_cases(c: &Comparison) -> Vec<Case> {
    let section = |metric: &str| metric.split('.').next().unwrap_or(metric).to_string();
    let failed = |name: &str| -> Vec<&Row> {
        (c.rows.iter())
            .filter(|r| !r.verdict.passed() && section(&r.metric) == name)
            .collect()
    };
    let scenario = SCENARIO_PREFIX.trim_end_matches('.');
    let own: Vec<Row> = (c.rows.iter())
        .filter(|r| r.metric == "digest" || r.metric.starts_with(SCENARIO_PREFIX))
        .cloned()
        .collect();
    let mut cases = rows_to_cases(&own);
    // The scenario's rows are kept only where they differ: its case passes otherwise.
    if c.sections.iter().any(|s| s == scenario) && !cases.iter().any(|k| k.name == scenario) {
        cases.push(Case {
            name: scenario.into(),
            result: CaseResult::Pass,
        });
    }
    for name in (c.sections.iter()).filter(|s| *s != "digest" && *s != scenario) {
        let rows = failed(name);
        let result = if rows.is_empty() {
            CaseResult::Pass
        } else {
            CaseResult::Failure {
                message: fields_differ(&rows),
                body: listing(&rows, true),
            }
        };
        cases.push(Case {
            name: name.to_string(),
            result,
        });
    }
    cases
}

/// One case per row, except the embedded scenario's rows, which make one case together at
/// the place of the first.
fn rows_to_cases(rows: &[Row]) -> Vec<Case> {
    let mut cases = Vec::new();
    let mut scenario_case: Option<usize> = None;
    let mut scenario_failed: Vec<&Row> = Vec::new();
    for row in rows {
        if row.metric.starts_with(SCENARIO_PREFIX) {
            scenario_case.get_or_insert_with(|| {
                cases.push(Case {
                    name: "scenario".into(),
                    result: CaseResult::Pass,
                });
                cases.len() - 1
            });
            if !row.verdict.passed() {
                scenario_failed.push(row);
            }
            continue;
        }
        let result = if row.verdict.passed() {
            CaseResult::Pass
        } else {
            let (baseline, now) = (show(row.baseline.as_ref()), show(row.now.as_ref()));
            let delta = row.delta().unwrap_or_else(|| "n/a".into());
            CaseResult::Failure {
                message: format!(
                    "{}: baseline {baseline}, now {now}, delta {delta}",
                    row.verdict
                ),
                body: format!(
                    "baseline: {baseline}\nnow: {now}\ndelta: {delta}\nverdict: {}\n",
                    row.verdict
                ),
            }
        };
        cases.push(Case {
            name: row.metric.clone(),
            result,
        });
    }
    if let Some(i) = scenario_case
        && !scenario_failed.is_empty()
    {
        cases[i].result = CaseResult::Failure {
            message: format!(
                "the baseline was made from a different scenario: {}",
                fields_differ(&scenario_failed)
            ),
            body: listing(&scenario_failed, false),
        };
    }
    cases
}

/// "N field(s) differ, first M: a -> b" for a non-empty list of failed rows.
fn fields_differ(rows: &[&Row]) -> String {
    let first = rows[0];
    format!(
        "{} field(s) differ, first {}: {} -> {}",
        rows.len(),
        first.metric,
        show(first.baseline.as_ref()),
        show(first.now.as_ref())
    )
}

/// The failed rows, one line each (with its verdict when asked), the first
/// `SCENARIO_FIELDS_LISTED` of them and a count of the rest.
fn listing(rows: &[&Row], with_verdict: bool) -> String {
    let mut body = String::new();
    for row in rows.iter().take(SCENARIO_FIELDS_LISTED) {
        let _ = write!(
            body,
            "{}: {} -> {}",
            row.metric,
            show(row.baseline.as_ref()),
            show(row.now.as_ref())
        );
        if with_verdict {
            let _ = write!(body, " ({})", row.verdict);
        }
        body.push('\n');
    }
    if rows.len() > SCENARIO_FIELDS_LISTED {
        let _ = writeln!(body, "... and {} more", rows.len() - SCENARIO_FIELDS_LISTED);
    }
    body
}

/// Escapes text for XML attribute values and content. Characters XML 1.0 cannot carry at
/// all (most control characters) become U+FFFD; line breaks and tabs become character
/// references so that attribute values keep them.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\n' => out.push_str("&#10;"),
            '\r' => out.push_str("&#13;"),
            '\t' => out.push_str("&#9;"),
            c if c < ' ' || c == '\u{FFFE}' || c == '\u{FFFF}' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_quotes_and_control_characters() {
        assert_eq!(
            escape(r#"a<b & "c" 'd'>"#),
            "a&lt;b &amp; &quot;c&quot; &apos;d&apos;&gt;"
        );
        assert_eq!(escape("x\ny\u{1}"), "x&#10;y\u{FFFD}");
    }

    /// Section cases come from the kept rows (the failing ones) and the sections the
    /// comparison saw: a section with no failing row, the scenario's included, passes.
    #[test]
    fn section_cases_pass_sections_whose_rows_were_not_kept() {
        use serde_json::json;
        let b = json!({"digest": "a", "scenario": {"seed": 1}, "availability": {"read": 1.0},
            "ops": {"read": 5, "write": 6}});
        let n = json!({"digest": "b", "scenario": {"seed": 1}, "availability": {"read": 1.0},
            "ops": {"read": 5, "write": 7}});
        let judged = super::super::compare::exact(&b, &n, false);
        let c = Comparison {
            tolerance: false,
            rows: judged.rows,
            fields: judged.fields,
            sections: judged.sections,
            note: None,
        };
        let got: Vec<(String, bool)> = sections_to_cases(&c)
            .into_iter()
            .map(|k| (k.name, matches!(k.result, CaseResult::Pass)))
            .collect();
        let want = [
            ("digest", false),
            ("scenario", true),
            ("availability", true),
            ("ops", false),
        ];
        let want: Vec<(String, bool)> = want.iter().map(|(n, p)| (n.to_string(), *p)).collect();
        assert_eq!(got, want);
    }
}
