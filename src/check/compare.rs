//! Judging a new report against a baseline report, both as generic JSON, so that fields the
//! report gains later are compared without this code changing. Pure: no IO, no clock.
//!
//! A report is flattened into leaves: every scalar (and every empty object or list, so a
//! list that empties out is seen) under its dotted path, list elements by index
//! (`consistency.t_visibility.3.p_fresh`). Exact mode compares every leaf; tolerance mode
//! judges only the metrics a bound names.

use super::tolerance::{Direction, Tolerances};
use serde_json::Value;
use std::collections::BTreeSet;
use std::fmt;

/// The embedded scenario: the run's input, compared in exact mode, never a metric.
pub const SCENARIO_PREFIX: &str = "scenario.";

/// A report's leaves in document order, with an index by path: the leaves' places sorted
/// by their paths, so each path is stored once (a report with a dense timeline has
/// millions of leaves; a map keyed by a copy of each path doubled what they cost).
#[derive(Clone, Debug, Default)]
pub struct Leaves {
    order: Vec<(String, Value)>,
    by_path: Vec<u32>,
}

impl Leaves {
    pub fn get(&self, path: &str) -> Option<&Value> {
        let place = (self.by_path)
            .binary_search_by(|&i| self.order[i as usize].0.as_str().cmp(path))
            .ok()?;
        Some(&self.order[self.by_path[place] as usize].1)
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &Value)> {
        self.order.iter().map(|(p, v)| (p.as_str(), v))
    }
}

pub fn flatten(document: &Value) -> Leaves {
    let mut order = Vec::new();
    walk(String::new(), document, &mut order);
    let places = u32::try_from(order.len()).expect("fewer than 2^32 leaves in a report");
    let mut by_path: Vec<u32> = (0..places).collect();
    // A report's paths are unique (its keys hold no dots); stable, should two be equal.
    by_path.sort_by(|&a, &b| order[a as usize].0.cmp(&order[b as usize].0));
    Leaves { order, by_path }
}

fn walk(path: String, value: &Value, out: &mut Vec<(String, Value)>) {
    let child = |key: &str| {
        if path.is_empty() {
            key.to_string()
        } else {
            format!("{path}.{key}")
        }
    };
    match value {
        Value::Object(map) if !map.is_empty() => {
            for (key, v) in map {
                walk(child(key), v, out);
            }
        }
        Value::Array(items) if !items.is_empty() => {
            for (i, v) in items.iter().enumerate() {
                walk(child(&i.to_string()), v, out);
            }
        }
        leaf => out.push((path, leaf.clone())),
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
    let magnitude = x.abs().log10().floor() as i32;
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

/// Every leaf of both reports, the digest first, then the baseline's order, then what only
/// the new run has. Floats are compared exactly: both sides were serialized by the same code.
pub fn exact(baseline: &Leaves, now: &Leaves) -> Vec<Row> {
    let mut rows: Vec<Row> = union(baseline, now)
        .map(|(path, b, n)| {
            let verdict = match (b, n) {
                (Some(b), Some(n)) if b == n => Verdict::Same,
                (Some(_), Some(_)) => Verdict::Differs,
                (Some(_), None) => Verdict::Missing,
                (None, _) => Verdict::New { fails: true },
            };
            Row {
                metric: path.to_string(),
                baseline: b.cloned(),
                now: n.cloned(),
                verdict,
            }
        })
        .collect();
    // Stable: everything else keeps its order.
    rows.sort_by_key(|r| r.metric != "digest");
    rows
}

/// Tolerance mode: the rows of every metric a bound matches, plus every leaf the new run
/// lost. Errors are bad input (a bound on something that is not a number, or on nothing, or
/// with no known direction).
pub fn tolerance(
    baseline: &Leaves,
    now: &Leaves,
    tolerances: &Tolerances,
) -> Result<Vec<Row>, Vec<String>> {
    let mut rows = Vec::new();
    let mut errors = Vec::new();
    let mut used: BTreeSet<&str> = BTreeSet::new();
    for (path, b, n) in union(baseline, now).filter(|(p, _, _)| !p.starts_with(SCENARIO_PREFIX)) {
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
            continue;
        };
        let numeric = |v: Option<&Value>| v.is_none_or(|v| v.is_null() || v.is_number());
        if !numeric(b) || !numeric(n) {
            if !rule.has_wildcard() {
                errors.push(format!(
                    "{}: `{}` is not a number in the report, so it has no tolerance",
                    rule.source, path
                ));
            }
            continue;
        }
        used.insert(&rule.pattern);
        let Some(direction) = rule.direction_for(path) else {
            errors.push(format!(
                "{}: no built-in direction for metric `{path}` (matched by `{}`); say which way is better with \
                 \"higher_is_better\" in a tolerance file, or use a narrower pattern",
                rule.source, rule.pattern
            ));
            continue;
        };
        if b.is_some_and(Value::is_null) && n.is_some_and(Value::is_number) {
            rows.push(row(Verdict::NullBaseline));
            continue;
        }
        let (b, n) = (b.and_then(Value::as_f64), n.and_then(Value::as_f64));
        rows.push(row(judge(b, n, direction, rule.max_worsening)));
    }
    for rule in tolerances
        .rules()
        .iter()
        .filter(|r| !r.has_wildcard() && !used.contains(r.pattern.as_str()))
    {
        let metrics = union(baseline, now)
            .filter(|(p, b, n)| {
                !p.starts_with(SCENARIO_PREFIX) && (b.or(*n)).is_some_and(Value::is_number)
            })
            .map(|(p, _, _)| p);
        let hint = crate::scenario::nearest(&rule.pattern, metrics)
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
pub fn scenario_difference(baseline: &Leaves, now: &Leaves) -> Option<String> {
    union(baseline, now)
        .filter(|(p, _, _)| p.starts_with(SCENARIO_PREFIX))
        .find(|(_, b, n)| b != n)
        .map(
            |(p, b, n)| match (b.and_then(Value::as_str), n.and_then(Value::as_str)) {
                // Two long texts (a description): show them from where they part.
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
            },
        )
}

/// (path, baseline value, new value) over both reports: the baseline's order, then the
/// paths only the new run has, in its order.
fn union<'a>(
    baseline: &'a Leaves,
    now: &'a Leaves,
) -> impl Iterator<Item = (&'a str, Option<&'a Value>, Option<&'a Value>)> {
    let both = baseline.iter().map(|(p, b)| (p, Some(b), now.get(p)));
    let only_now = now
        .iter()
        .filter(|(p, _)| baseline.get(p).is_none())
        .map(|(p, n)| (p, None, Some(n)));
    both.chain(only_now)
}

#[cfg(test)]
mod tests {
    use super::super::tolerance::{Tolerances, parse_flag};
    use super::*;
    use serde_json::json;

    fn leaves(v: Value) -> Leaves {
        flatten(&v)
    }

    fn bounds(flags: &[&str]) -> Tolerances {
        let rules = flags
            .iter()
            .map(|f| parse_flag(f).expect("valid"))
            .collect();
        Tolerances::new(vec![], rules).expect("valid")
    }

    #[test]
    fn flattens_to_dotted_paths_with_list_indexes() {
        let l = leaves(json!({"a": {"b": 1, "c": [{"d": 2.5}, {"d": null}]}, "e": [], "f": "x"}));
        let paths: Vec<&str> = l.iter().map(|(p, _)| p).collect();
        assert_eq!(paths, ["a.b", "a.c.0.d", "a.c.1.d", "e", "f"]);
        assert_eq!(l.get("a.c.0.d"), Some(&json!(2.5)));
        assert_eq!(l.get("e"), Some(&json!([])));
    }

    #[test]
    fn exact_puts_the_digest_first_and_sees_every_kind_of_change() {
        let b = leaves(json!({"a": 1.0, "digest": "x", "gone": 1, "list": [1, 2]}));
        let n =
            leaves(json!({"a": 1.0000000000000002, "digest": "x", "list": [1, 2, 3], "added": 0}));
        let rows = exact(&b, &n);
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
