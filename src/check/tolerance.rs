//! Tolerance bounds: which metrics a tolerance-mode check judges, how much each may worsen,
//! and which way is worse. Bounds come from a small JSON file (`--tolerance FILE`) and from
//! `--tol METRIC=BOUND` flags; a flag replaces the file's bound for the same pattern.
//!
//! A metric is a dotted path to a number in report.json (`availability.read`,
//! `latency_ms.read.p999`, `consistency.t_visibility.3.p_fresh`). A pattern may use `*` for
//! one whole segment (`latency_ms.*.p999`). When several patterns match a metric the most
//! specific one wins: the one whose first wildcard comes latest (`latency_ms.read.*` beats
//! `latency_ms.*.p999`), then the pattern text, so the choice never depends on file order.

use serde_json::Value;

/// Which way a metric gets worse.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    HigherIsBetter,
    LowerIsBetter,
}

impl Direction {
    /// How much worse `now` is than `baseline` (negative when it improved).
    pub fn worsening(self, baseline: f64, now: f64) -> f64 {
        match self {
            Direction::HigherIsBetter => baseline - now,
            Direction::LowerIsBetter => now - baseline,
        }
    }
}

/// The built-in direction of the metrics dynasim reports, by the shape of their path.
/// `None` means unknown: a bound on such a metric needs `"higher_is_better"` in the file.
/// This list is documented in docs/regression.md; keep the two in step.
pub fn default_direction(metric: &str) -> Option<Direction> {
    use Direction::{HigherIsBetter, LowerIsBetter};
    let segments: Vec<&str> = metric.split('.').collect();
    let first = segments.first().copied().unwrap_or("");
    let last = segments.last().copied().unwrap_or("");
    match first {
        // The scenario section is the input of the run, not a measurement.
        "scenario" => return None,
        "availability" => return Some(HigherIsBetter),
        "latency_ms" => return Some(LowerIsBetter),
        _ => {}
    }
    if first == "sla" && last.ends_with("_within") || last == "p_fresh" {
        return Some(HigherIsBetter);
    }
    if first == "ops" && last.starts_with("failed") {
        return Some(LowerIsBetter);
    }
    const LOWER_IS_BETTER: [&str; 7] = [
        "stale",
        "lost_write",
        "lost_update",
        "false_sibling",
        "overwritten_write",
        "divergent_keys",
        "time_to_converge",
    ];
    if LOWER_IS_BETTER.iter().any(|word| last.contains(word)) {
        return Some(LowerIsBetter);
    }
    None
}

/// One bound: metrics matching `pattern` may worsen by at most `max_worsening`.
#[derive(Clone, Debug, PartialEq)]
pub struct Rule {
    pub pattern: String,
    pub max_worsening: f64,
    /// As written in the tolerance file; `None` means the built-in direction applies.
    pub direction: Option<Direction>,
    /// Where the bound came from (`--tol` or the file name), for error messages.
    pub source: String,
}

impl Rule {
    fn segments(&self) -> impl Iterator<Item = &str> {
        self.pattern.split('.')
    }

    pub fn has_wildcard(&self) -> bool {
        self.segments().any(|s| s == "*")
    }

    pub fn matches(&self, metric: &str) -> bool {
        let mut pattern = self.segments();
        let mut path = metric.split('.');
        loop {
            match (pattern.next(), path.next()) {
                (None, None) => return true,
                (Some(p), Some(m)) if p == "*" || p == m => {}
                _ => return false,
            }
        }
    }

    /// The direction for one metric this rule matched: the file's, else the built-in one.
    pub fn direction_for(&self, metric: &str) -> Option<Direction> {
        self.direction.or_else(|| default_direction(metric))
    }

    /// Sort key: earlier literal segments are more specific.
    fn specificity(&self) -> (Vec<bool>, String) {
        (
            self.segments().map(|s| s == "*").collect(),
            self.pattern.clone(),
        )
    }
}

/// The bounds of one check, most specific first.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Tolerances {
    rules: Vec<Rule>,
}

impl Tolerances {
    /// Merges the file's rules with the flags' (a flag replaces the file's bound for the same
    /// pattern but keeps its `higher_is_better`), and checks what can be checked before a
    /// run: a pattern without wildcards needs a known direction.
    pub fn new(file_rules: Vec<Rule>, flag_rules: Vec<Rule>) -> Result<Tolerances, Vec<String>> {
        let mut rules = file_rules;
        for flag in flag_rules {
            match rules.iter_mut().find(|r| r.pattern == flag.pattern) {
                Some(existing) => {
                    existing.max_worsening = flag.max_worsening;
                    existing.source = flag.source;
                }
                None => rules.push(flag),
            }
        }
        let errors: Vec<String> = rules
            .iter()
            .filter(|r| !r.has_wildcard() && r.direction_for(&r.pattern).is_none())
            .map(|r| {
                format!(
                    "{}: no built-in direction for metric `{}`; say which way is better in a tolerance file: \
                     {{\"metrics\": {{\"{}\": {{\"max_worsening\": {}, \"higher_is_better\": true}}}}}}",
                    r.source, r.pattern, r.pattern, r.max_worsening
                )
            })
            .collect();
        if !errors.is_empty() {
            return Err(errors);
        }
        rules.sort_by_key(Rule::specificity);
        Ok(Tolerances { rules })
    }

    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// The most specific rule matching `metric`.
    pub fn lookup(&self, metric: &str) -> Option<&Rule> {
        self.rules.iter().find(|r| r.matches(metric))
    }
}

/// Parses one `--tol METRIC=BOUND` flag.
pub fn parse_flag(flag: &str) -> Result<Rule, String> {
    let usage =
        || format!("--tol {flag:?}: expected METRIC=BOUND, e.g. --tol availability.read=0.001");
    let (metric, bound) = flag.rsplit_once('=').ok_or_else(usage)?;
    let pattern = check_pattern(metric.trim()).map_err(|e| format!("--tol {flag:?}: {e}"))?;
    let max_worsening: f64 = bound.trim().parse().map_err(|_| usage())?;
    check_bound(max_worsening).map_err(|e| format!("--tol {flag:?}: {e}"))?;
    Ok(Rule {
        pattern,
        max_worsening,
        direction: None,
        source: "--tol".into(),
    })
}

/// Parses a tolerance file's text; `source` (the file name) starts every error message.
///
/// ```json
/// {"description": "optional",
///  "metrics": {"availability.read": {"max_worsening": 0.001},
///              "consistency.stale_read_fraction": 0.0005,
///              "ops.read.ok": {"max_worsening": 100, "higher_is_better": true}}}
/// ```
pub fn parse_file(text: &str, source: &str) -> Result<Vec<Rule>, Vec<String>> {
    let document: Value = serde_json::from_str(text).map_err(|e| {
        vec![format!(
            "{source}: invalid JSON at line {}, column {}",
            e.line(),
            e.column()
        )]
    })?;
    let Value::Object(top) = document else {
        return Err(vec![format!(
            "{source}: expected a JSON object with a \"metrics\" object"
        )]);
    };
    let mut errors = Vec::new();
    for key in top
        .keys()
        .filter(|k| !["metrics", "description"].contains(&k.as_str()))
    {
        errors.push(format!(
            "{source}: unknown field `{key}`; known: `metrics`, `description`"
        ));
    }
    if let Some(d) = top.get("description").filter(|d| !d.is_string()) {
        errors.push(format!(
            "{source}: description: expected a string, found {d}"
        ));
    }
    let mut rules = Vec::new();
    match top.get("metrics") {
        Some(Value::Object(metrics)) => {
            for (pattern, spec) in metrics {
                match parse_entry(pattern, spec, source) {
                    Ok(rule) => rules.push(rule),
                    Err(e) => errors.push(e),
                }
            }
        }
        Some(other) => errors.push(format!(
            "{source}: metrics: expected an object of METRIC: bound, found {other}"
        )),
        None => errors.push(format!(
            "{source}: metrics: missing; e.g. {{\"metrics\": {{\"availability.read\": 0.001}}}}"
        )),
    }
    if errors.is_empty() {
        Ok(rules)
    } else {
        Err(errors)
    }
}

fn parse_entry(pattern: &str, spec: &Value, source: &str) -> Result<Rule, String> {
    let at = format!("{source}: metrics.\"{pattern}\"");
    let pattern = check_pattern(pattern).map_err(|e| format!("{at}: {e}"))?;
    let number = |v: &Value, field: &str| {
        v.as_f64()
            .ok_or_else(|| format!("{at}{field}: expected a number >= 0, found {v}"))
            .and_then(|b| {
                check_bound(b)
                    .map(|()| b)
                    .map_err(|e| format!("{at}{field}: {e}"))
            })
    };
    let (max_worsening, direction) = match spec {
        Value::Number(_) => (number(spec, "")?, None),
        Value::Object(fields) => {
            if let Some(k) = fields
                .keys()
                .find(|k| !["max_worsening", "higher_is_better"].contains(&k.as_str()))
            {
                return Err(format!(
                    "{at}: unknown field `{k}`; known: `max_worsening`, `higher_is_better`"
                ));
            }
            let bound = fields
                .get("max_worsening")
                .ok_or_else(|| format!("{at}.max_worsening: missing"))
                .and_then(|v| number(v, ".max_worsening"))?;
            let direction = match fields.get("higher_is_better") {
                None => None,
                Some(Value::Bool(true)) => Some(Direction::HigherIsBetter),
                Some(Value::Bool(false)) => Some(Direction::LowerIsBetter),
                Some(v) => {
                    return Err(format!(
                        "{at}.higher_is_better: expected true or false, found {v}"
                    ));
                }
            };
            (bound, direction)
        }
        other => {
            return Err(format!(
                "{at}: expected a number or {{\"max_worsening\": ...}}, found {other}"
            ));
        }
    };
    Ok(Rule {
        pattern,
        max_worsening,
        direction,
        source: source.to_string(),
    })
}

fn check_pattern(pattern: &str) -> Result<String, String> {
    if pattern.is_empty()
        || pattern
            .split('.')
            .any(|s| s.is_empty() || (s.contains('*') && s != "*"))
    {
        return Err(format!(
            "`{pattern}` is not a metric pattern; use a dotted path into report.json, `*` for a whole segment \
             (e.g. latency_ms.*.p999)"
        ));
    }
    Ok(pattern.to_string())
}

fn check_bound(bound: f64) -> Result<(), String> {
    if bound.is_finite() && bound >= 0.0 {
        Ok(())
    } else {
        Err(format!(
            "{bound} is not allowed; a bound is the largest allowed worsening, a finite number >= 0"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn built_in_directions() {
        use Direction::*;
        for (metric, dir) in [
            ("availability.read", Some(HigherIsBetter)),
            ("sla.write_within", Some(HigherIsBetter)),
            ("consistency.t_visibility.3.p_fresh", Some(HigherIsBetter)),
            ("consistency.stale_read_fraction", Some(LowerIsBetter)),
            ("consistency.stale_reads", Some(LowerIsBetter)),
            ("latency_ms.read.p999", Some(LowerIsBetter)),
            ("durability.lost_writes", Some(LowerIsBetter)),
            ("durability.lost_updates", Some(LowerIsBetter)),
            ("versioning.false_siblings", Some(LowerIsBetter)),
            ("durability.overwritten_writes", Some(LowerIsBetter)),
            ("convergence.divergent_keys_at_end", Some(LowerIsBetter)),
            ("convergence.time_to_converge_s", Some(LowerIsBetter)),
            ("ops.read.failed_timeout", Some(LowerIsBetter)),
            ("sla.sla_ms", None),
            ("ops.read.ok", None),
            ("scenario.workload.request_timeout_ms", None),
        ] {
            assert_eq!(default_direction(metric), dir, "{metric}");
        }
    }

    #[test]
    fn most_specific_pattern_wins_whatever_the_order() {
        let rule = |p: &str, b: f64| Rule {
            pattern: p.into(),
            max_worsening: b,
            direction: None,
            source: "t".into(),
        };
        let t = Tolerances::new(
            vec![
                rule("latency_ms.*.p999", 5.0),
                rule("latency_ms.read.*", 1.0),
                rule("latency_ms.read.p999", 0.5),
            ],
            vec![],
        )
        .expect("valid");
        assert_eq!(
            t.lookup("latency_ms.read.p999").map(|r| r.max_worsening),
            Some(0.5)
        );
        assert_eq!(
            t.lookup("latency_ms.read.p99").map(|r| r.max_worsening),
            Some(1.0)
        );
        assert_eq!(
            t.lookup("latency_ms.write.p999").map(|r| r.max_worsening),
            Some(5.0)
        );
        assert_eq!(t.lookup("latency_ms.write.p99"), None);
        assert_eq!(
            t.lookup("latency_ms.read"),
            None,
            "a wildcard stands for exactly one segment"
        );
    }

    #[test]
    fn flags_replace_the_file_bound_and_keep_its_direction() {
        let file = parse_file(
            r#"{"metrics": {"ops.read.ok": {"max_worsening": 5, "higher_is_better": true}}}"#,
            "t.json",
        )
        .expect("valid");
        let t = Tolerances::new(file, vec![parse_flag("ops.read.ok=7").expect("valid")])
            .expect("valid");
        let r = t.lookup("ops.read.ok").expect("rule");
        assert_eq!(
            (r.max_worsening, r.direction),
            (7.0, Some(Direction::HigherIsBetter))
        );
    }

    #[test]
    fn unknown_direction_is_an_input_error() {
        let e = Tolerances::new(vec![], vec![parse_flag("ops.read.ok=7").expect("valid")])
            .expect_err("no direction");
        assert!(
            e[0].contains("ops.read.ok") && e[0].contains("higher_is_better"),
            "{e:?}"
        );
    }

    #[test]
    fn file_errors_name_the_file_and_field() {
        let cases = [
            (
                r#"{"metrics": {"availability.read": {"max_worsening": "x"}}}"#,
                "t.json: metrics.\"availability.read\".max_worsening",
            ),
            (
                r#"{"metrics": {"availability.read": {"max_worsen": 1}}}"#,
                "unknown field `max_worsen`",
            ),
            (
                r#"{"metrics": {"availability.read": -1}}"#,
                "t.json: metrics.\"availability.read\": -1",
            ),
            (r#"{"metrics": {"a..b": 1}}"#, "not a metric pattern"),
            (r#"{"metric": {}}"#, "unknown field `metric`"),
            (
                r#"{"metrics": {"availability.read": {"max_worsening": 1, "higher_is_better": "yes"}}}"#,
                ".higher_is_better: expected true or false",
            ),
            ("{", "t.json: invalid JSON at line 1"),
        ];
        for (text, expected) in cases {
            let e = parse_file(text, "t.json").expect_err(text).join("\n");
            assert!(e.contains(expected), "{text}: {e}");
        }
    }

    #[test]
    fn flag_syntax() {
        assert_eq!(
            parse_flag("availability.read = 0.001").map(|r| r.max_worsening),
            Ok(0.001)
        );
        assert!(parse_flag("availability.read").is_err());
        assert!(parse_flag("availability.read=abc").is_err());
        assert!(parse_flag("availability.read=-1").is_err());
        assert!(parse_flag("latency_ms.p9*=1").is_err());
    }
}
