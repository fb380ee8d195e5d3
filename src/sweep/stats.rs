//! From run results to conclusions: the key metrics read out of each run's report, the
//! mean and 95% confidence interval of each metric across seeds, the ranking of settings
//! for the stated objective, the latency-versus-staleness Pareto set, and the two
//! documents built from them (`sweep.json` and `sweep.md`).
//!
//! Everything here is a pure function of the plan and the full list of run results, in
//! the plan's order. That is what makes `sweep.json` independent of `--jobs`, of sharding
//! and of the machine: no clock, no path, no thread count ever reaches it.

use super::grid::{Plan, display_value};
use serde::Serialize;
use serde::ser::{SerializeMap, Serializer};
use serde_json::Value;
use std::cmp::Ordering;

/// Bumped when a field of sweep.json changes meaning or is removed.
pub const SWEEP_SCHEMA_VERSION: u32 = 1;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Better {
    Higher,
    Lower,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Unit {
    /// A ratio in [0, 1], shown as a percentage.
    Fraction,
    Ms,
    Number,
}

/// A key metric: where it is in a run's report.json and how to read it.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct Metric {
    pub name: &'static str,
    /// Dotted path into report.json. Reports gain fields over time and a metric can be
    /// null (no judged reads, say), so a missing value is `None`, never an error.
    pub path: &'static str,
    #[serde(skip)]
    pub label: &'static str,
    pub better: Better,
    pub unit: Unit,
    /// Decimals shown in sweep.md (of the percentage, for fractions).
    #[serde(skip)]
    pub decimals: usize,
}

const fn metric(
    name: &'static str,
    path: &'static str,
    label: &'static str,
    better: Better,
    unit: Unit,
    decimals: usize,
) -> Metric {
    Metric {
        name,
        path,
        label,
        better,
        unit,
        decimals,
    }
}

pub const METRICS: &[Metric] = &[
    metric(
        "read_availability",
        "availability.read",
        "read availability",
        Better::Higher,
        Unit::Fraction,
        2,
    ),
    metric(
        "write_availability",
        "availability.write",
        "write availability",
        Better::Higher,
        Unit::Fraction,
        2,
    ),
    metric(
        "stale_read_fraction",
        "consistency.stale_read_fraction",
        "stale-read fraction",
        Better::Lower,
        Unit::Fraction,
        2,
    ),
    metric(
        "read_p50_ms",
        "latency_ms.read.p50",
        "read p50",
        Better::Lower,
        Unit::Ms,
        2,
    ),
    metric(
        "read_p99_ms",
        "latency_ms.read.p99",
        "read p99",
        Better::Lower,
        Unit::Ms,
        1,
    ),
    metric(
        "read_p999_ms",
        "latency_ms.read.p999",
        "read p99.9",
        Better::Lower,
        Unit::Ms,
        1,
    ),
    metric(
        "write_p50_ms",
        "latency_ms.write.p50",
        "write p50",
        Better::Lower,
        Unit::Ms,
        2,
    ),
    metric(
        "write_p99_ms",
        "latency_ms.write.p99",
        "write p99",
        Better::Lower,
        Unit::Ms,
        1,
    ),
    metric(
        "write_p999_ms",
        "latency_ms.write.p999",
        "write p99.9",
        Better::Lower,
        Unit::Ms,
        1,
    ),
    metric(
        "read_within_sla",
        "sla.read_within",
        "reads within the SLA",
        Better::Higher,
        Unit::Fraction,
        2,
    ),
    metric(
        "write_within_sla",
        "sla.write_within",
        "writes within the SLA",
        Better::Higher,
        Unit::Fraction,
        2,
    ),
    metric(
        "messages_per_request",
        "messages.per_request",
        "messages per request",
        Better::Lower,
        Unit::Number,
        2,
    ),
    metric(
        "lost_writes",
        "durability.lost_writes",
        "lost writes",
        Better::Lower,
        Unit::Number,
        1,
    ),
    metric(
        "divergent_keys_at_end",
        "convergence.divergent_keys_at_end",
        "keys still divergent at the end",
        Better::Lower,
        Unit::Number,
        1,
    ),
];

/// Positions in `METRICS` of the ones the objective and the plots use.
pub const READ_AVAILABILITY: usize = 0;
pub const WRITE_AVAILABILITY: usize = 1;
pub const STALE_READ_FRACTION: usize = 2;
pub const READ_P999: usize = 5;
pub const WRITE_P999: usize = 8;

pub const OBJECTIVE: &str = "highest read + write availability (settings within 0.01 percentage points \
of each other count as tied), then lowest stale-read fraction, then lowest p99.9 latency (the worse \
of reads and writes); means across seeds";

/// Availability sums are compared in units of 0.01 percentage points, so that noise at the
/// fifth decimal does not hide a real difference in staleness.
const AVAILABILITY_TIE: f64 = 1e-4;

/// The part of one run's report a sweep keeps.
#[derive(Clone, Debug, PartialEq)]
pub struct RunResult {
    pub digest: Option<String>,
    /// One entry per `METRICS`.
    pub metrics: Vec<Option<f64>>,
}

impl RunResult {
    pub fn from_report(report: &Value) -> RunResult {
        RunResult {
            digest: report
                .get("digest")
                .and_then(Value::as_str)
                .map(str::to_string),
            metrics: METRICS.iter().map(|m| lookup(report, m.path)).collect(),
        }
    }
}

fn lookup(doc: &Value, path: &str) -> Option<f64> {
    path.split('.')
        .try_fold(doc, |node, part| node.get(part))
        .and_then(Value::as_f64)
        .filter(|v| v.is_finite())
}

/// Mean and 95% confidence interval of one metric across the seeds of one setting.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Estimate {
    /// Seeds that produced a value.
    pub n: usize,
    pub mean: Option<f64>,
    /// Sample standard deviation (n - 1 in the denominator).
    pub stddev: Option<f64>,
    /// mean ± t(0.975, n-1) · stddev / √n; null with fewer than two values.
    pub ci95: Option<[f64; 2]>,
}

impl Estimate {
    pub fn of(values: &[f64]) -> Estimate {
        let n = values.len();
        if n == 0 {
            return Estimate {
                n,
                mean: None,
                stddev: None,
                ci95: None,
            };
        }
        let mean = values.iter().sum::<f64>() / n as f64;
        if n == 1 {
            return Estimate {
                n,
                mean: Some(mean),
                stddev: None,
                ci95: None,
            };
        }
        let variance = values.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / (n - 1) as f64;
        let stddev = variance.sqrt();
        let half = t_quantile_975(n - 1) * stddev / (n as f64).sqrt();
        Estimate {
            n,
            mean: Some(mean),
            stddev: Some(stddev),
            ci95: Some([mean - half, mean + half]),
        }
    }

    pub fn half_width(&self) -> Option<f64> {
        self.ci95.map(|[lo, hi]| (hi - lo) / 2.0)
    }
}

/// The 0.975 quantile of Student's t with `df` degrees of freedom: exact table values up
/// to 30, then the Cornish-Fisher expansion around the normal quantile (Abramowitz and
/// Stegun 26.7.5), which is within 1e-5 of the true value there.
pub fn t_quantile_975(df: usize) -> f64 {
    const TABLE: [f64; 30] = [
        12.706205, 4.302653, 3.182446, 2.776445, 2.570582, 2.446912, 2.364624, 2.306004, 2.262157,
        2.228139, 2.200985, 2.178813, 2.160369, 2.144787, 2.131450, 2.119905, 2.109816, 2.100922,
        2.093024, 2.085963, 2.079614, 2.073873, 2.068658, 2.063899, 2.059539, 2.055529, 2.051831,
        2.048407, 2.045230, 2.042272,
    ];
    assert!(df >= 1, "a t quantile needs at least one degree of freedom");
    if df <= TABLE.len() {
        return TABLE[df - 1];
    }
    let z: f64 = 1.959_963_984_540_054;
    let v = df as f64;
    // Powers by plain products: `powi`'s precision is not specified across platforms.
    let z2 = z * z;
    let (z3, v2) = (z2 * z, v * v);
    let (z5, z7, z9) = (z3 * z2, z3 * z2 * z2, z3 * z2 * z2 * z2);
    let g1 = (z3 + z) / 4.0;
    let g2 = (5.0 * z5 + 16.0 * z3 + 3.0 * z) / 96.0;
    let g3 = (3.0 * z7 + 19.0 * z5 + 17.0 * z3 - 15.0 * z) / 384.0;
    let g4 = (79.0 * z9 + 776.0 * z7 + 1482.0 * z5 - 1920.0 * z3 - 945.0 * z) / 92160.0;
    z + g1 / v + g2 / v2 + g3 / (v2 * v) + g4 / (v2 * v2)
}

/// What the sweep concluded about one grid point.
#[derive(Clone, Debug)]
pub struct Setting {
    /// Index into `plan.combinations`.
    pub combination: usize,
    /// One per `METRICS`.
    pub estimates: Vec<Estimate>,
    /// 1 = best for the objective.
    pub rank: usize,
    /// (stale-read fraction, worse p99.9 in ms), means; None when either is unknown.
    pub tradeoff: Option<(f64, f64)>,
    /// No other setting has a lower-or-equal stale fraction and tail latency, one lower.
    pub pareto: bool,
}

impl Setting {
    pub fn mean(&self, metric: usize) -> Option<f64> {
        self.estimates[metric].mean
    }
}

/// Summarizes a complete sweep: `results[i]` belongs to `plan.runs[i]`. Returns the valid
/// settings in grid order.
pub fn summarize(plan: &Plan, results: &[RunResult]) -> Vec<Setting> {
    assert_eq!(
        plan.runs.len(),
        results.len(),
        "a summary needs every run of the plan"
    );
    let mut settings: Vec<Setting> = plan
        .combinations
        .iter()
        .enumerate()
        .filter(|(_, c)| c.is_valid())
        .map(|(ci, _)| {
            let runs: Vec<&RunResult> = plan
                .runs
                .iter()
                .zip(results)
                .filter(|(r, _)| r.combination == ci)
                .map(|(_, res)| res)
                .collect();
            let estimates = (0..METRICS.len())
                .map(|m| {
                    Estimate::of(
                        &runs
                            .iter()
                            .filter_map(|r| r.metrics[m])
                            .collect::<Vec<f64>>(),
                    )
                })
                .collect();
            Setting {
                combination: ci,
                estimates,
                rank: 0,
                tradeoff: None,
                pareto: false,
            }
        })
        .collect();
    for s in &mut settings {
        s.tradeoff = s.mean(STALE_READ_FRACTION).zip(worse_tail(s));
    }
    let points: Vec<Option<(f64, f64)>> = settings.iter().map(|s| s.tradeoff).collect();
    for (s, pareto) in settings.iter_mut().zip(pareto_front(&points)) {
        s.pareto = pareto;
    }
    let mut order: Vec<usize> = (0..settings.len()).collect();
    order.sort_by(|&a, &b| compare_for_objective(&settings[a], &settings[b]));
    for (rank, i) in order.into_iter().enumerate() {
        settings[i].rank = rank + 1;
    }
    settings
}

/// The slower of the read and write p99.9 means.
pub fn worse_tail(s: &Setting) -> Option<f64> {
    match (s.mean(READ_P999), s.mean(WRITE_P999)) {
        (Some(r), Some(w)) => Some(r.max(w)),
        (r, w) => r.or(w),
    }
}

/// The objective, as an order: better settings first; unknown values count as worst; the
/// grid order breaks exact ties so the ranking is total and stable.
fn compare_for_objective(a: &Setting, b: &Setting) -> Ordering {
    let tier = |s: &Setting| -> i64 {
        match (s.mean(READ_AVAILABILITY), s.mean(WRITE_AVAILABILITY)) {
            (Some(r), Some(w)) => -((r + w) / AVAILABILITY_TIE).round() as i64,
            (Some(x), None) | (None, Some(x)) => -(x / AVAILABILITY_TIE).round() as i64,
            (None, None) => i64::MAX,
        }
    };
    let or_worst = |v: Option<f64>| v.unwrap_or(f64::INFINITY);
    tier(a)
        .cmp(&tier(b))
        .then(
            or_worst(a.mean(STALE_READ_FRACTION)).total_cmp(&or_worst(b.mean(STALE_READ_FRACTION))),
        )
        .then(or_worst(worse_tail(a)).total_cmp(&or_worst(worse_tail(b))))
        .then(a.combination.cmp(&b.combination))
}

/// Marks the points that no other point dominates (both coordinates lower or equal, at
/// least one lower). Unknown points are never on the front.
pub fn pareto_front(points: &[Option<(f64, f64)>]) -> Vec<bool> {
    points
        .iter()
        .map(|p| {
            let Some((x, y)) = *p else { return false };
            !points
                .iter()
                .flatten()
                .any(|&(ox, oy)| ox <= x && oy <= y && (ox < x || oy < y))
        })
        .collect()
}

/// Serializes pairs as a JSON object in the given order (serde_json's own map sorts keys).
struct Ordered<'a, V>(Vec<(&'a str, V)>);

impl<V: Serialize> Serialize for Ordered<'_, V> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (k, v) in &self.0 {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }
}

fn values_of<'a>(plan: &'a Plan, combination: usize) -> Ordered<'a, &'a Value> {
    Ordered(
        plan.axes
            .iter()
            .map(|a| a.path.as_str())
            .zip(&plan.combinations[combination].values)
            .collect(),
    )
}

#[derive(Serialize)]
struct SweepJson<'a> {
    schema_version: u32,
    scenario: &'a str,
    fingerprint: &'a str,
    grid: &'a [super::grid::Axis],
    seeds: &'a [u64],
    objective: &'static str,
    metrics: &'static [Metric],
    settings: Vec<SettingJson<'a>>,
    invalid: Vec<InvalidJson<'a>>,
    runs: Vec<RunJson<'a>>,
}

#[derive(Serialize)]
struct SettingJson<'a> {
    id: &'a str,
    values: Ordered<'a, &'a Value>,
    rank: usize,
    pareto: bool,
    metrics: Ordered<'a, &'a Estimate>,
}

#[derive(Serialize)]
struct InvalidJson<'a> {
    id: &'a str,
    values: Ordered<'a, &'a Value>,
    errors: &'a [String],
}

#[derive(Serialize)]
struct RunJson<'a> {
    id: &'a str,
    setting: &'a str,
    seed: u64,
    digest: Option<&'a str>,
    metrics: Ordered<'a, Option<f64>>,
}

/// The text of sweep.json: a function of the plan and every run's result, nothing else.
pub fn sweep_json(plan: &Plan, results: &[RunResult], settings: &[Setting]) -> String {
    let doc = SweepJson {
        schema_version: SWEEP_SCHEMA_VERSION,
        scenario: &plan.scenario_name,
        fingerprint: &plan.fingerprint,
        grid: &plan.axes,
        seeds: &plan.seeds,
        objective: OBJECTIVE,
        metrics: METRICS,
        settings: settings
            .iter()
            .map(|s| SettingJson {
                id: &plan.combinations[s.combination].id,
                values: values_of(plan, s.combination),
                rank: s.rank,
                pareto: s.pareto,
                metrics: Ordered(METRICS.iter().map(|m| m.name).zip(&s.estimates).collect()),
            })
            .collect(),
        invalid: plan
            .combinations
            .iter()
            .enumerate()
            .filter(|(_, c)| !c.is_valid())
            .map(|(ci, c)| InvalidJson {
                id: &c.id,
                values: values_of(plan, ci),
                errors: &c.errors,
            })
            .collect(),
        runs: plan
            .runs
            .iter()
            .zip(results)
            .map(|(run, res)| RunJson {
                id: &run.id,
                setting: &plan.combinations[run.combination].id,
                seed: run.seed,
                digest: res.digest.as_deref(),
                metrics: Ordered(
                    METRICS
                        .iter()
                        .map(|m| m.name)
                        .zip(res.metrics.iter().copied())
                        .collect(),
                ),
            })
            .collect(),
    };
    // Plain structs of numbers and strings always serialize.
    let mut text =
        serde_json::to_string_pretty(&doc).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"));
    text.push('\n');
    text
}

/// The text of sweep.csv: one row per run (`run`, `setting`, one column per grid axis
/// named by its path, `seed`, `digest`, then every metric, units in the names), in the
/// plan's order; an absent metric is an empty field.
pub fn sweep_csv(plan: &Plan, results: &[RunResult]) -> String {
    use crate::report::csv::quoted;
    let mut header: Vec<String> = vec!["run".into(), "setting".into()];
    header.extend(plan.axes.iter().map(|a| quoted(&a.path)));
    header.extend(["seed".into(), "digest".into()]);
    header.extend(METRICS.iter().map(|m| m.name.to_string()));
    let mut out = header.join(",");
    out.push('\n');
    for (run, result) in plan.runs.iter().zip(results) {
        let combination = &plan.combinations[run.combination];
        let mut row = vec![quoted(&run.id), quoted(&combination.id)];
        row.extend(combination.values.iter().map(|v| match v {
            Value::String(text) => quoted(text),
            other => quoted(&other.to_string()),
        }));
        row.push(run.seed.to_string());
        row.push(result.digest.clone().unwrap_or_default());
        row.extend((result.metrics.iter()).map(|m| m.map(|x| x.to_string()).unwrap_or_default()));
        out.push_str(&row.join(","));
        out.push('\n');
    }
    out
}

/// Decimals to show for a value: one more for small non-zero percentages, so that a rare
/// stale read does not print as 0.00%.
fn decimals_for(m: &Metric, v: f64) -> usize {
    let small = m.unit == Unit::Fraction && v != 0.0 && (v * 100.0).abs() < 1.0;
    m.decimals + usize::from(small)
}

/// A value for a table cell, e.g. `99.95%`, `12.3 ms`.
pub fn format_value(m: &Metric, v: f64) -> String {
    let d = decimals_for(m, v);
    match m.unit {
        Unit::Fraction => format!("{:.*}%", d, v * 100.0),
        Unit::Ms => format!("{:.*} ms", d, v),
        Unit::Number => format!("{:.*}", d, v),
    }
}

/// A confidence half-width in the same unit and precision as the value it belongs to.
pub fn format_half_width(m: &Metric, mean: f64, half: f64) -> String {
    let scale = if m.unit == Unit::Fraction { 100.0 } else { 1.0 };
    format!("± {:.*}", decimals_for(m, mean), half * scale)
}

/// A mean with its confidence half-width, e.g. `99.95% ± 0.02`.
pub fn format_estimate(m: &Metric, e: &Estimate) -> String {
    let Some(mean) = e.mean else {
        return "n/a".into();
    };
    match e.half_width() {
        Some(h) => format!(
            "{} {}",
            format_value(m, mean),
            format_half_width(m, mean, h)
        ),
        None => format_value(m, mean),
    }
}

/// The columns of the sweep.md table, after the grid's own.
const TABLE_METRICS: [usize; 5] = [
    READ_AVAILABILITY,
    WRITE_AVAILABILITY,
    STALE_READ_FRACTION,
    READ_P999,
    WRITE_P999,
];

/// The text of sweep.md. `plot_notes` lists the plot files (or why there are none).
// long: sweep.md written top to bottom, section after section; a split into one helper
// per section is planned (see ARCHITECTURE.md, known debts).
pub fn sweep_markdown(plan: &Plan, settings: &[Setting], plot_notes: &[String]) -> String {
    let mut md = String::new();
    let push = |md: &mut String, line: &str| {
        md.push_str(line);
        md.push('\n');
    };
    push(&mut md, &format!("# Sweep of `{}`\n", plan.scenario_name));
    if !plan.scenario_description.is_empty() {
        push(&mut md, &format!("{}\n", plan.scenario_description));
    }
    let grid: Vec<String> = plan
        .axes
        .iter()
        .map(|a| {
            format!(
                "`{}` = {}",
                a.path,
                a.values
                    .iter()
                    .map(display_value)
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        })
        .collect();
    let valid = settings.len();
    push(
        &mut md,
        &format!(
            "- Grid: {}",
            if grid.is_empty() {
                "none (seeds only)".into()
            } else {
                grid.join("; ")
            }
        ),
    );
    push(
        &mut md,
        &format!(
            "- Seeds: {} ({} per setting)",
            plan.seeds
                .iter()
                .map(u64::to_string)
                .collect::<Vec<_>>()
                .join(", "),
            plan.seeds.len()
        ),
    );
    push(
        &mut md,
        &format!(
            "- Runs: {} ({} × {}); {} skipped",
            plan.runs.len(),
            crate::report::format::counted(valid as u64, "valid setting", "valid settings"),
            crate::report::format::counted(plan.seeds.len() as u64, "seed", "seeds"),
            crate::report::format::counted(
                (plan.combinations.len() - valid) as u64,
                "invalid setting",
                "invalid settings"
            )
        ),
    );
    push(&mut md, &format!("- Fingerprint: `{}`\n", plan.fingerprint));
    push(&mut md, "## Settings, best first\n");
    push(&mut md, &format!("Objective: {OBJECTIVE}.\n"));
    let ci_note = if plan.seeds.len() >= 2 {
        "Each cell is the mean across seeds ± the half-width of its 95% confidence interval \
         (Student's t with seeds − 1 degrees of freedom): when two settings' intervals overlap, \
         more seeds are needed to tell them apart."
    } else {
        "One seed per setting, so no confidence intervals: run with `--seeds 1..5` or more to see \
         how much of a difference is noise."
    };
    push(
        &mut md,
        &format!(
            "{ci_note} `Pareto` marks settings that no other setting beats on both \
         stale-read fraction and p99.9 latency (the worse of reads and writes).\n"
        ),
    );
    let mut header = vec!["rank".to_string()];
    header.extend(plan.axis_names.iter().cloned());
    header.extend(TABLE_METRICS.iter().map(|&m| METRICS[m].label.to_string()));
    header.push("Pareto".into());
    push(&mut md, &format!("| {} |", header.join(" | ")));
    push(&mut md, &format!("|{}", "---:|".repeat(header.len())));
    let mut by_rank: Vec<&Setting> = settings.iter().collect();
    by_rank.sort_by_key(|s| s.rank);
    for s in by_rank {
        let mut row = vec![s.rank.to_string()];
        row.extend(
            plan.combinations[s.combination]
                .values
                .iter()
                .map(display_value),
        );
        row.extend(
            TABLE_METRICS
                .iter()
                .map(|&m| format_estimate(&METRICS[m], &s.estimates[m])),
        );
        row.push(if s.pareto {
            "yes".into()
        } else {
            String::new()
        });
        push(
            &mut md,
            &format!("| {} |", row.join(" | ").replace('\n', " ")),
        );
    }
    push(&mut md, "");
    let invalid: Vec<_> = plan.invalid().collect();
    if !invalid.is_empty() {
        push(
            &mut md,
            "## Skipped settings (the scenario is invalid with them)\n",
        );
        for c in invalid {
            push(&mut md, &format!("- `{}`: {}", c.id, c.errors.join("; ")));
        }
        push(&mut md, "");
    }
    push(&mut md, "## Plots\n");
    for note in plot_notes {
        push(&mut md, &format!("- {note}"));
    }
    push(&mut md, "");
    push(
        &mut md,
        "Every run's metrics, and every setting's mean, standard deviation and interval for \
         all key metrics, are in `sweep.json`; each run's full report is in `runs/`.",
    );
    md
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn t_quantiles_match_the_tables() {
        assert_eq!(t_quantile_975(2), 4.302653);
        for (df, expected) in [
            (30, 2.042272),
            (31, 2.039513),
            (40, 2.021075),
            (60, 2.000298),
            (120, 1.979930),
        ] {
            let t = t_quantile_975(df);
            assert!((t - expected).abs() < 2e-5, "df {df}: {t} vs {expected}");
        }
    }

    #[test]
    fn estimates_follow_student_t() {
        let e = Estimate::of(&[1.0, 2.0, 3.0]);
        assert_eq!(e.mean, Some(2.0));
        assert_eq!(e.stddev, Some(1.0));
        let half = 4.302653 / 3f64.sqrt();
        let [lo, hi] = e.ci95.expect("three values");
        assert!((lo - (2.0 - half)).abs() < 1e-12 && (hi - (2.0 + half)).abs() < 1e-12);
        assert_eq!(Estimate::of(&[5.0]).ci95, None);
        assert_eq!(Estimate::of(&[]).mean, None);
    }

    #[test]
    fn pareto_front_keeps_undominated_points_only() {
        let pts = [
            Some((0.1, 50.0)),
            Some((0.0, 80.0)),
            Some((0.1, 60.0)),
            None,
            Some((0.2, 40.0)),
            Some((0.0, 80.0)),
        ];
        assert_eq!(
            pareto_front(&pts),
            vec![true, true, false, false, true, true]
        );
    }

    #[test]
    fn metrics_are_read_by_path_and_missing_ones_are_none() {
        let report = serde_json::json!({
            "digest": "ab",
            "availability": {"read": 0.5, "write": null},
            "latency_ms": {"read": {"p999": 12.5}}
        });
        let r = RunResult::from_report(&report);
        assert_eq!(r.digest.as_deref(), Some("ab"));
        assert_eq!(r.metrics[READ_AVAILABILITY], Some(0.5));
        assert_eq!(r.metrics[WRITE_AVAILABILITY], None);
        assert_eq!(r.metrics[READ_P999], Some(12.5));
        assert_eq!(r.metrics[STALE_READ_FRACTION], None);
    }
}
