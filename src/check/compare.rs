//! Judging a new report against a baseline report, both as generic JSON, so that fields the
//! report gains later are compared without this code changing. Pure: no IO, no clock.
//!
//! A report's leaves are its scalars (and its empty objects and lists, so a list that
//! empties out is seen), each under its dotted path, list elements by index
//! (`consistency.t_visibility.3.p_fresh`). Exact mode compares every leaf; tolerance mode
//! judges only the metrics a bound names. The two documents are walked side by side, so
//! no copy of either is made (a report with a dense timeline has millions of leaves).

use super::tolerance::{Direction, Tolerances};
use serde_json::Value;
use std::collections::BTreeSet;
use std::fmt;

/// The embedded scenario: the run's input, compared in exact mode, never a metric.
pub const SCENARIO_PREFIX: &str = "scenario.";

/// Calls `visit` with every leaf of the two documents, in the baseline's document order
/// with the new report's leaf at the same path (`None`: it has none there), then with the
/// leaves only the new report has, in its order. `path` is where both documents sit
/// (empty for whole reports); `None` for a document that has nothing there.
pub fn for_each_leaf<'a>(
    path: &str,
    baseline: Option<&'a Value>,
    now: Option<&'a Value>,
    mut visit: impl FnMut(&str, Option<&'a Value>, Option<&'a Value>),
) {
    let mut at = path.to_string();
    if let Some(baseline) = baseline {
        walk(&mut at, baseline, now, &mut |p, b, n| visit(p, Some(b), n));
    }
    if let Some(now) = now {
        walk(&mut at, now, baseline, &mut |p, n, b| {
            if b.is_none() {
                visit(p, None, Some(n))
            }
        });
    }
}

/// Every leaf of `doc` with the leaf `other` has at the same path, if it has one there.
fn walk<'a>(
    path: &mut String,
    doc: &'a Value,
    other: Option<&'a Value>,
    visit: &mut impl FnMut(&str, &'a Value, Option<&'a Value>),
) {
    let len = path.len();
    let step_into = |path: &mut String, key: &dyn fmt::Display| {
        if len > 0 {
            path.push('.');
        }
        // Writing to a String cannot fail.
        let _ = fmt::Write::write_fmt(path, format_args!("{key}"));
    };
    match doc {
        Value::Object(map) if !map.is_empty() => {
            let others = other.and_then(Value::as_object);
            for (key, v) in map {
                step_into(path, key);
                walk(path, v, others.and_then(|m| m.get(key)), visit);
                path.truncate(len);
            }
        }
        Value::Array(items) if !items.is_empty() => {
            let others = other.and_then(Value::as_array);
            for (i, v) in items.iter().enumerate() {
                step_into(path, &i);
                walk(path, v, others.and_then(|a| a.get(i)), visit);
                path.truncate(len);
            }
        }
        leaf => visit(path, leaf, other.filter(|o| is_leaf(o))),
    }
}

fn is_leaf(value: &Value) -> bool {
    match value {
        Value::Object(map) => map.is_empty(),
        Value::Array(items) => items.is_empty(),
        _ => true,
    }
}

/// The verdict on one row.
#[derive(Clone, Debug, PartialEq)]
pub enum Verdict {
    /// Equal (exact mode), or both null (tolerance mode).
    Same,
    /// Exact mode: the value changed.
    Differs,
    /// In the baseline, absent (or null where a number was) in the new run. Always fails.
    Missing,
    /// Absent (or null) in the baseline, present in the new run: fails in exact mode only.
    New { fails: bool },
    /// Tolerance mode: worse by `worsening` (<= 0 means it improved or held) within `bound`.
    Within { worsening: f64, bound: f64 },
    /// Tolerance mode: worse by more than the bound.
    Worse { worsening: f64, bound: f64 },
    /// Tolerance mode: a bounded metric that is null in the baseline and a number now
    /// (a hand-edited or broken baseline): no worsening can be measured, so it fails.
    NullBaseline,
}

impl Verdict {
    pub fn passed(&self) -> bool {
        match self {
            Verdict::Same | Verdict::Within { .. } => true,
            Verdict::New { fails } => !fails,
            Verdict::Differs | Verdict::Missing | Verdict::Worse { .. } | Verdict::NullBaseline => {
                false
            }
        }
    }

    /// Tolerance mode: better than the baseline.
    pub fn improved(&self) -> bool {
        matches!(self, Verdict::Within { worsening, .. } if *worsening < 0.0)
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Verdict::Same => write!(f, "ok"),
            Verdict::Differs => write!(f, "DIFFERS"),
            Verdict::Missing => write!(f, "MISSING in the new run"),
            Verdict::NullBaseline => write!(f, "NULL in the baseline: a bound needs a number"),
            Verdict::New { fails: true } => write!(f, "NEW (not in the baseline)"),
            Verdict::New { fails: false } => write!(f, "new (not in the baseline)"),
            Verdict::Within { bound, .. } if self.improved() => {
                write!(f, "better (allowed worse by {})", number(*bound))
            }
            Verdict::Within { worsening, bound } => {
                write!(
                    f,
                    "ok (worse by {}, allowed {})",
                    number(*worsening),
                    number(*bound)
                )
            }
            Verdict::Worse { worsening, bound } => {
                write!(
                    f,
                    "WORSE by {}, allowed {}",
                    number(*worsening),
                    number(*bound)
                )
            }
        }
    }
}

/// One judged value.
#[derive(Clone, Debug, PartialEq)]
pub struct Row {
    pub metric: String,
    /// `None`: absent from that report.
    pub baseline: Option<Value>,
    pub now: Option<Value>,
    pub verdict: Verdict,
}

impl Row {
    /// now - baseline, when both are numbers.
    pub fn delta(&self) -> Option<String> {
        let (b, n) = (self.baseline.as_ref()?, self.now.as_ref()?);
        if let (Some(b), Some(n)) = (b.as_i64(), n.as_i64()) {
            return Some(format!("{:+}", i128::from(n) - i128::from(b)));
        }
        if let (Some(b), Some(n)) = (b.as_u64(), n.as_u64()) {
            return Some(format!("{:+}", i128::from(n) - i128::from(b)));
        }
        let (b, n) = (b.as_f64()?, n.as_f64()?);
        let d = n - b;
        Some(if d >= 0.0 {
            format!("+{}", number(d))
        } else {
            number(d)
        })
    }
}

/// A value as a table shows it: JSON text, `(absent)` when the report lacks it.
pub fn show(value: Option<&Value>) -> String {
    match value {
        None => "(absent)".into(),
        Some(v) => v.to_string(),
    }
}

/// A computed number (a delta, a bound), rounded to 6 significant digits for reading.
pub fn number(x: f64) -> String {
    if x == 0.0 || !x.is_finite() {
        return format!("{x}");
    }
    let magnitude = crate::engine::math::log10(x.abs()).floor() as i32;
    if !(-4..9).contains(&magnitude) {
        let s = format!("{x:.5e}");
        return match s.split_once('e') {
            Some((mantissa, exponent)) => format!("{}e{exponent}", trim_zeros(mantissa)),
            None => s,
        };
    }
    let decimals = (5 - magnitude).max(0) as usize;
    trim_zeros(&format!("{x:.decimals$}"))
}

fn trim_zeros(s: &str) -> String {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s.to_string()
    }
}

/// As `show`, cut to `chars_max` characters (descriptions can be long).
pub fn show_short(value: Option<&Value>, chars_max: usize) -> String {
    let full = show(value);
    if full.chars().count() <= chars_max {
        return full;
    }
    let mut short: String = full.chars().take(chars_max.saturating_sub(1)).collect();
    short.push('…');
    short
}

/// An exact comparison: the rows kept, and what the rows not kept leave to count.
#[derive(Clone, Debug, Default)]
pub struct Exact {
    /// The digest's row first, then the kept rows in the order `for_each_leaf` visits
    /// them: every row when asked for all, else the failing ones.
    pub rows: Vec<Row>,
    /// Every leaf compared, kept or not.
    pub fields: usize,
    /// The top-level sections the leaves fall in, in the order they first come.
    pub sections: Vec<String>,
}

/// Every leaf of both reports, compared exactly: floats too, since both sides were
/// serialized by the same code. `keep_all`: keep a row for each leaf (a listing of every
/// field), not only for those that fail and the digest.
pub fn exact(baseline: &Value, now: &Value, keep_all: bool) -> Exact {
    let mut judged = Exact::default();
    for_each_leaf("", Some(baseline), Some(now), |path, b, n| {
        let verdict = match (b, n) {
            (Some(b), Some(n)) if b == n => Verdict::Same,
            (Some(_), Some(_)) => Verdict::Differs,
            (Some(_), None) => Verdict::Missing,
            (None, _) => Verdict::New { fails: true },
        };
        judged.fields += 1;
        let section = path.split('.').next().unwrap_or(path);
        if judged.sections.last().is_none_or(|s| s != section)
            && !judged.sections.iter().any(|s| s == section)
        {
            judged.sections.push(section.to_string());
        }
        if keep_all || !verdict.passed() || path == "digest" {
            judged.rows.push(Row {
                metric: path.to_string(),
                baseline: b.cloned(),
                now: n.cloned(),
                verdict,
            });
        }
    });
    // Stable: everything else keeps its order.
    judged.rows.sort_by_key(|r| r.metric != "digest");
    judged
}

/// Tolerance mode: the rows of every metric a bound matches, plus every leaf the new run
/// lost. Errors are bad input (a bound on something that is not a number, or on nothing, or
/// with no known direction).
pub fn tolerance(
    baseline: &Value,
    now: &Value,
    tolerances: &Tolerances,
) -> Result<Vec<Row>, Vec<String>> {
    let mut rows = Vec::new();
    let mut errors = Vec::new();
    let mut used: BTreeSet<&str> = BTreeSet::new();
    for_each_leaf("", Some(baseline), Some(now), |path, b, n| {
        if path.starts_with(SCENARIO_PREFIX) {
            return;
        }
        let row = |verdict| Row {
            metric: path.to_string(),
            baseline: b.cloned(),
            now: n.cloned(),
            verdict,
        };
        let Some(rule) = tolerances.lookup(path) else {
            if b.is_some() && n.is_none() {
                rows.push(row(Verdict::Missing));
            }
            return;
        };
        let numeric = |v: Option<&Value>| v.is_none_or(|v| v.is_null() || v.is_number());
        if !numeric(b) || !numeric(n) {
            if !rule.has_wildcard() {
                errors.push(format!(
                    "{}: `{}` is not a number in the report, so it has no tolerance",
                    rule.source, path
                ));
            }
            return;
        }
        used.insert(&rule.pattern);
        let Some(direction) = rule.direction_for(path) else {
            errors.push(format!(
                "{}: no built-in direction for metric `{path}` (matched by `{}`); say which way is better with \
                 \"higher_is_better\" in a tolerance file, or use a narrower pattern",
                rule.source, rule.pattern
            ));
            return;
        };
        if b.is_some_and(Value::is_null) && n.is_some_and(Value::is_number) {
            rows.push(row(Verdict::NullBaseline));
            return;
        }
        let (b, n) = (b.and_then(Value::as_f64), n.and_then(Value::as_f64));
        rows.push(row(judge(b, n, direction, rule.max_worsening)));
    });
    for rule in tolerances
        .rules()
        .iter()
        .filter(|r| !r.has_wildcard() && !used.contains(r.pattern.as_str()))
    {
        let mut metrics = Vec::new();
        for_each_leaf("", Some(baseline), Some(now), |p, b, n| {
            if !p.starts_with(SCENARIO_PREFIX) && (b.or(n)).is_some_and(Value::is_number) {
                metrics.push(p.to_string());
            }
        });
        let hint = crate::scenario::nearest(&rule.pattern, metrics.iter().map(String::as_str))
            .map(|m| format!("; did you mean `{m}`?"))
            .unwrap_or_default();
        errors.push(format!(
            "{}: `{}` matches no metric in the baseline or the new run (metrics are dotted paths to numbers \
             in report.json, e.g. availability.read, latency_ms.read.p999){hint}",
            rule.source, rule.pattern
        ));
    }
    if errors.is_empty() {
        Ok(rows)
    } else {
        Err(errors)
    }
}

/// One bounded metric. Worsening is compared with a relative slack of 1e-9, so that a change
/// of exactly the bound passes despite float rounding (0.999 - 0.998 > 0.001 in binary).
fn judge(baseline: Option<f64>, now: Option<f64>, direction: Direction, bound: f64) -> Verdict {
    match (baseline, now) {
        (Some(b), Some(n)) => {
            let worsening = direction.worsening(b, n);
            let slack = 1e-9 * b.abs().max(n.abs()).max(bound);
            if worsening > bound + slack {
                Verdict::Worse { worsening, bound }
            } else {
                Verdict::Within { worsening, bound }
            }
        }
        (Some(_), None) => Verdict::Missing,
        (None, Some(_)) => Verdict::New { fails: false },
        (None, None) => Verdict::Same,
    }
}

/// The first leaf of the embedded scenario that differs, as `path: baseline -> now`.
pub fn scenario_difference(baseline: &Value, now: &Value) -> Option<String> {
    let section = SCENARIO_PREFIX.trim_end_matches('.');
    let mut first = None;
    for_each_leaf(
        section,
        baseline.get(section),
        now.get(section),
        |p, b, n| {
            if first.is_none() && b != n {
                first = Some(describe_change(p, b, n));
            }
        },
    );
    first
}

/// `path: baseline -> now`, two long texts (a description) shown from where they part.
fn describe_change(p: &str, b: Option<&Value>, n: Option<&Value>) -> String {
    match (b.and_then(Value::as_str), n.and_then(Value::as_str)) {
        (Some(b), Some(n)) => {
            let from = b.chars().zip(n.chars()).take_while(|(x, y)| x == y).count();
            let part = |s: &str| {
                let rest: String = s.chars().skip(from.saturating_sub(10)).collect();
                let lead = if from > 10 { "…" } else { "" };
                show_short(Some(&Value::String(format!("{lead}{rest}"))), 40)
            };
            format!("{p}: {} -> {}", part(b), part(n))
        }
        _ => format!("{p}: {} -> {}", show_short(b, 40), show_short(n, 40)),
    }
}

#[cfg(test)]
mod tests {
    use super::super::tolerance::{Tolerances, parse_flag};
    use super::*;
    use serde_json::json;

    fn leaves(v: Value) -> Value {
        v
    }

    /// (path, baseline, now) of every leaf, as `for_each_leaf` visits them.
    fn union(b: &Value, n: &Value) -> Vec<(String, Option<Value>, Option<Value>)> {
        let mut out = Vec::new();
        for_each_leaf("", Some(b), Some(n), |p, b, n| {
            out.push((p.to_string(), b.cloned(), n.cloned()))
        });
        out
    }

    fn bounds(flags: &[&str]) -> Tolerances {
        let rules = flags
            .iter()
            .map(|f| parse_flag(f).expect("valid"))
            .collect();
        Tolerances::new(vec![], rules).expect("valid")
    }

    #[test]
    fn leaves_have_dotted_paths_with_list_indexes() {
        let doc = json!({"a": {"b": 1, "c": [{"d": 2.5}, {"d": null}]}, "e": [], "f": "x"});
        let mut got = Vec::new();
        for_each_leaf("", Some(&doc), None, |p, b, n| {
            got.push((p.to_string(), b.cloned(), n.cloned()))
        });
        let paths: Vec<&str> = got.iter().map(|(p, _, _)| p.as_str()).collect();
        assert_eq!(paths, ["a.b", "a.c.0.d", "a.c.1.d", "e", "f"]);
        assert_eq!(got[1].1, Some(json!(2.5)));
        assert_eq!(got[3].1, Some(json!([])));
        assert!(got.iter().all(|(_, _, n)| n.is_none()));
    }

    #[test]
    fn a_leaf_meets_only_a_leaf_at_its_path() {
        // A scalar that became an object (and a list that filled up): the old leaf is
        // missing, the new ones are new, and nothing is compared across the change.
        let b = json!({"a": 1, "l": [], "s": {"x": 1}, "z": 0});
        let n = json!({"a": {"b": 1}, "l": [7], "s": {"x": 1}, "z": 0});
        let got: Vec<(String, bool, bool)> = union(&b, &n)
            .into_iter()
            .map(|(p, b, n)| (p, b.is_some(), n.is_some()))
            .collect();
        let want = [
            ("a", true, false),
            ("l", true, false),
            ("s.x", true, true),
            ("z", true, true),
            ("a.b", false, true),
            ("l.0", false, true),
        ];
        let want: Vec<(String, bool, bool)> = want
            .iter()
            .map(|(p, b, n)| (p.to_string(), *b, *n))
            .collect();
        assert_eq!(got, want);
    }

    #[test]
    fn exact_puts_the_digest_first_and_sees_every_kind_of_change() {
        let b = leaves(json!({"a": 1.0, "digest": "x", "gone": 1, "list": [1, 2]}));
        let n =
            leaves(json!({"a": 1.0000000000000002, "digest": "x", "list": [1, 2, 3], "added": 0}));
        let judged = exact(&b, &n, true);
        let rows = &judged.rows;
        let got: Vec<(&str, bool)> = rows
            .iter()
            .map(|r| (r.metric.as_str(), r.verdict.passed()))
            .collect();
        assert_eq!(
            got,
            [
                ("digest", true),
                ("a", false),
                ("gone", false),
                ("list.0", true),
                ("list.1", true),
                ("added", false),
                ("list.2", false)
            ]
        );
        assert_eq!(rows[2].verdict, Verdict::Missing);
        assert_eq!(judged.fields, 7);
        assert_eq!(judged.sections, ["a", "digest", "gone", "list", "added"]);
        // Without a listing of every field: the digest and the failing rows only.
        let failing = exact(&b, &n, false);
        let kept: Vec<&str> = failing.rows.iter().map(|r| r.metric.as_str()).collect();
        assert_eq!(kept, ["digest", "a", "gone", "added", "list.2"]);
        assert_eq!(
            (failing.fields, failing.sections),
            (7, judged.sections.clone())
        );
    }

    #[test]
    fn tolerance_judges_only_bounded_metrics_and_passes_improvements() {
        let b = leaves(
            json!({"availability": {"read": 0.999, "write": 1.0}, "consistency": {"stale_read_fraction": 0.01},
                              "latency_ms": {"read": {"p999": 100.0}}, "ops": {"read": {"ok": 10}}, "scenario": {"seed": 1}}),
        );
        let n = leaves(
            json!({"availability": {"read": 0.998, "write": 0.5}, "consistency": {"stale_read_fraction": 0.0},
                              "latency_ms": {"read": {"p999": 120.0}}, "ops": {"read": {"ok": 3}}, "scenario": {"seed": 2}}),
        );
        let t = bounds(&[
            "availability.read=0.001",
            "consistency.stale_read_fraction=0",
            "latency_ms.*.p999=10",
        ]);
        let rows = tolerance(&b, &n, &t).expect("judged");
        let got: Vec<(&str, bool)> = rows
            .iter()
            .map(|r| (r.metric.as_str(), r.verdict.passed()))
            .collect();
        // A fall of exactly the bound passes; the unbounded write availability is not judged.
        assert_eq!(
            got,
            [
                ("availability.read", true),
                ("consistency.stale_read_fraction", true),
                ("latency_ms.read.p999", false)
            ]
        );
        assert!(rows[1].verdict.improved(), "{}", rows[1].verdict);
        assert_eq!(rows[2].delta().as_deref(), Some("+20"));
    }

    #[test]
    fn tolerance_fails_a_lost_metric_and_rejects_bounds_on_nothing() {
        let b = leaves(json!({"availability": {"read": 1.0}, "events": 5}));
        let n = leaves(json!({"availability": {"read": null}}));
        let t = bounds(&["availability.read=0.5"]);
        let rows = tolerance(&b, &n, &t).expect("judged");
        assert_eq!(
            rows.iter().map(|r| r.verdict.clone()).collect::<Vec<_>>(),
            [Verdict::Missing, Verdict::Missing]
        );
        let t = bounds(&["availability.raed=0.5"]);
        let e = tolerance(&b, &n, &t).expect_err("typo");
        assert!(
            e[0].contains("`availability.raed` matches no metric"),
            "{e:?}"
        );
    }

    #[test]
    fn numbers_read_well() {
        assert_eq!(number(0.0005000000000000004), "0.0005");
        assert_eq!(number(-20.0), "-20");
        assert_eq!(number(0.08300395256916997), "0.083004");
        assert_eq!(number(1234567.25), "1234567");
        assert_eq!(number(1e-7), "1e-7");
        assert_eq!(number(-1.5e-5), "-1.5e-5");
        let row = Row {
            metric: "x".into(),
            baseline: Some(json!(3)),
            now: Some(json!(1)),
            verdict: Verdict::Differs,
        };
        assert_eq!(row.delta().as_deref(), Some("-2"));
    }
}
