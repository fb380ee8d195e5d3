//! The experiment file (`scenarios/paper/ID.json`, docs/reproduce.md): which scenario it
//! runs, with which edits, which rows it judges (the paper's number, how dynasim's is
//! computed, the tolerance and its reason, stated before the result) and what it plots.
//! Loading checks everything a run would trip over later: the scenario and every run's
//! edits load and validate, every expression names a known run, and every comparison is
//! well formed.

use super::expr::{Expr, Names};
use super::template::{substitute, substitute_text, values_of};
pub use super::wars::ModelSettings;
use crate::scenario::Scenario;
use serde::Deserialize;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Which paper an experiment reproduces.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Paper {
    /// DeCandia et al., "Dynamo: Amazon's Highly Available Key-value Store", SOSP 2007.
    Dynamo,
    /// Bailis et al., "Probabilistically Bounded Staleness for Practical Partial
    /// Quorums", VLDB 2012.
    Pbs,
}

impl Paper {
    pub fn citation(self) -> &'static str {
        match self {
            Paper::Dynamo => "DeCandia et al., Dynamo, SOSP 2007",
            Paper::Pbs => "Bailis et al., PBS, VLDB 2012",
        }
    }
}

/// A file as written.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExperimentFile {
    pub id: String,
    pub title: String,
    pub paper: Paper,
    /// The base scenario, relative to the experiment file.
    pub scenario: String,
    /// What was modelled (a paragraph of reproduce.md).
    pub modelled: String,
    /// What the paper does not say, and what was assumed instead.
    pub assumed: String,
    /// Left out of `--quick`.
    #[serde(default)]
    pub full_only: bool,
    /// Edits every run gets (`--set PATH=VALUE`, the value as JSON).
    #[serde(default)]
    pub set: BTreeMap<String, Value>,
    /// Edits every run gets in the full set only (bigger runs, more probes).
    #[serde(default)]
    pub full_set: BTreeMap<String, Value>,
    /// Seed and trials of the WARS model for `{"wars": ...}` expressions.
    #[serde(default)]
    pub model: ModelSettings,
    pub runs: Vec<RunFile>,
    pub rows: Vec<RowFile>,
    #[serde(default)]
    pub plots: Vec<PlotFile>,
}

/// The most trials a model configuration may draw (memory: three f64 per trial).
pub const MODEL_TRIALS_MAX: usize = 10_000_000;

/// A run, or a family of runs (`for_each`: one run per combination of the variables'
/// values; `{var}` in the name and in edit values is replaced by the value).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunFile {
    pub name: String,
    #[serde(default)]
    pub for_each: BTreeMap<String, Vec<Value>>,
    #[serde(default)]
    pub set: BTreeMap<String, Value>,
    #[serde(default)]
    pub full_only: bool,
}

/// A row of the table.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RowFile {
    pub id: String,
    /// Where the paper's value is: section, figure, table.
    pub source: String,
    pub metric: String,
    /// The paper's value: a number, a text (for an ordering), or an expression (a
    /// reference computed here, e.g. the WARS model).
    pub paper: Value,
    /// How dynasim's value is computed from the runs.
    pub dynasim: Value,
    /// The WARS model's value, shown beside (optional).
    #[serde(default)]
    pub model: Option<Value>,
    pub compare: Value,
    pub tolerance_reason: String,
    /// Shape only (a trend, a sign): verdict `qualitative-agrees` instead of `agrees`.
    #[serde(default)]
    pub qualitative: bool,
    /// One line on why the row differs, written after the result.
    #[serde(default)]
    pub why: Option<String>,
    #[serde(default)]
    pub full_only: bool,
}

/// A figure: series of points (dynasim's, the model's, the paper's).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlotFile {
    pub file: String,
    pub title: String,
    pub x_label: String,
    pub y_label: String,
    #[serde(default)]
    pub log_x: bool,
    #[serde(default)]
    pub log_y: bool,
    #[serde(default)]
    pub note: Option<String>,
    /// Left out of `--quick`.
    #[serde(default)]
    pub full_only: bool,
    pub series: Vec<SeriesFile>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Style {
    Line,
    Points,
    LinePoints,
    /// The paper's own numbers: large open diamonds.
    Paper,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeriesFile {
    pub label: String,
    pub style: Style,
    /// `[[x, y], ...]` (each an expression), or `{"for": VAR, "values": [...], "x": E,
    /// "y": E}`.
    pub points: Value,
    /// The colour (a palette index from 0 to 5), so that a model's line and dynasim's
    /// points of one configuration match; by default the series' position.
    #[serde(default)]
    pub color: Option<usize>,
    #[serde(default)]
    pub full_only: bool,
}

/// One run to do: the experiment, its name, and the scenario after its edits.
#[derive(Clone, Debug)]
pub struct RunSpec {
    pub experiment: String,
    pub name: String,
    pub scenario: Scenario,
}

/// A loaded experiment: its rows and plots parsed, its runs resolved.
#[derive(Clone, Debug)]
pub struct Experiment {
    pub file: ExperimentFile,
    pub path: PathBuf,
    pub scenario_path: PathBuf,
    pub runs: Vec<RunSpec>,
    pub rows: Vec<Row>,
    pub plots: Vec<Plot>,
}

#[derive(Clone, Debug)]
pub struct Row {
    pub def: RowFile,
    pub paper: Expr,
    pub dynasim: Expr,
    pub model: Option<Expr>,
    pub compare: super::verdict::Compare,
}

#[derive(Clone, Debug)]
pub struct Plot {
    pub def: PlotFile,
    /// Each series' points as (x, y) expressions.
    pub series: Vec<(SeriesFile, Vec<(Expr, Expr)>)>,
}

/// Loads an experiment file for the quick (`quick = true`) or the full set. Errors name
/// the file and the field.
pub fn load(path: &Path, quick: bool) -> Result<Experiment, String> {
    let at = |what: String| format!("{}: {what}", path.display());
    let text = crate::input::read_text(path, crate::input::MAX_SCENARIO_BYTES)
        .map_err(|e| at(format!("cannot read the file: {e}")))?;
    let file: ExperimentFile =
        serde_path_to_error::deserialize(&mut serde_json::Deserializer::from_str(&text))
            .map_err(|e| at(format!("{}: {}", e.path(), e.inner())))?;
    let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned());
    if stem.as_deref() != Some(file.id.as_str()) {
        return Err(at(format!(
            "id {:?} must be the file's name without .json ({:?})",
            file.id,
            stem.unwrap_or_default()
        )));
    }
    if file.model.trials == 0 || file.model.trials > MODEL_TRIALS_MAX {
        return Err(at(format!(
            "model.trials = {}: expected 1 to {MODEL_TRIALS_MAX}",
            file.model.trials
        )));
    }
    let scenario_path = path.parent().unwrap_or(Path::new(".")).join(&file.scenario);
    // Every run is resolved and validated, full-only ones too, so that the quick set (CI)
    // also catches a broken edit of the full set.
    let (mut runs, full_only) = resolve_runs(&file, &scenario_path, quick).map_err(at)?;
    let all_names = Names {
        runs: runs.iter().map(|r| r.name.clone()).collect(),
    };
    if quick {
        let mut keep = full_only.iter().map(|f| !f);
        runs.retain(|_| keep.next().unwrap_or(true));
    }
    let names = Names {
        runs: runs.iter().map(|r| r.name.clone()).collect(),
    };
    let mut rows = Vec::new();
    let mut ids = std::collections::BTreeSet::new();
    for (i, def) in file.rows.iter().enumerate() {
        if !ids.insert(def.id.clone()) {
            return Err(at(format!("rows[{i}]: the id {:?} is used twice", def.id)));
        }
        let here = |e: String| at(format!("rows[{i}] ({}): {e}", def.id));
        if quick && def.full_only {
            // Checked against every run, then left out.
            Expr::parse(&def.dynasim, &all_names, false)
                .map_err(|e| here(format!("dynasim: {e}")))?;
            continue;
        }
        rows.push(Row {
            paper: Expr::parse(&def.paper, &names, true)
                .map_err(|e| here(format!("paper: {e}")))?,
            dynasim: Expr::parse(&def.dynasim, &names, false)
                .map_err(|e| here(format!("dynasim: {e}")))?,
            model: (def.model.as_ref())
                .map(|m| Expr::parse(m, &names, false))
                .transpose()
                .map_err(|e| here(format!("model: {e}")))?,
            compare: super::verdict::Compare::parse(&def.compare, &names)
                .map_err(|e| here(format!("compare: {e}")))?,
            def: def.clone(),
        });
    }
    let mut plots = Vec::new();
    for (i, p) in file.plots.iter().enumerate() {
        // A full-only plot is checked against every run, then left out of the quick set.
        let plot = parse_plot(
            p,
            if p.full_only { &all_names } else { &names },
            quick && !p.full_only,
        )
        .map_err(|e| at(format!("plots[{i}]: {e}")))?;
        if !(quick && p.full_only) {
            plots.push(plot);
        }
    }
    Ok(Experiment {
        file,
        path: path.to_path_buf(),
        scenario_path,
        runs,
        rows,
        plots,
    })
}

/// Every run of the experiment, its edits applied (`full_set` too unless `quick`) and the
/// scenario validated; beside each, whether it belongs to the full set only.
fn resolve_runs(
    file: &ExperimentFile,
    scenario_path: &Path,
    quick: bool,
) -> Result<(Vec<RunSpec>, Vec<bool>), String> {
    let base = crate::input::read_text(scenario_path, crate::input::MAX_SCENARIO_BYTES)
        .map_err(|e| format!("scenario {}: cannot read it: {e}", scenario_path.display()))?;
    let mut runs: Vec<RunSpec> = Vec::new();
    let mut full_only = Vec::new();
    for (i, run) in file.runs.iter().enumerate() {
        for binding in combinations(&run.for_each) {
            let name = substitute_text(&run.name, &binding);
            if runs.iter().any(|r| r.name == name) {
                return Err(format!("runs[{i}]: the run name {name:?} is used twice"));
            }
            let mut edits: Vec<(String, String)> = Vec::new();
            let mut add = |set: &BTreeMap<String, Value>| {
                for (path, value) in set {
                    edits.push((path.clone(), substitute(value, &binding).to_string()));
                }
            };
            add(&file.set);
            if !quick {
                add(&file.full_set);
            }
            add(&run.set);
            let source = format!("{} (run {name})", scenario_path.display());
            let scenario = crate::scenario::load_str(&base, &source, &edits)
                .map_err(|e| format!("runs[{i}]: {e}"))?;
            runs.push(RunSpec {
                experiment: file.id.clone(),
                name,
                scenario,
            });
            full_only.push(run.full_only);
        }
    }
    if full_only.iter().all(|f| *f) {
        return Err("no run to do (every run is full_only)".into());
    }
    Ok((runs, full_only))
}

fn parse_plot(p: &PlotFile, names: &Names, quick: bool) -> Result<Plot, String> {
    // The name becomes plots/NAME.svg and .png under --out: nothing that leaves it.
    let plain = |c: char| c.is_ascii_alphanumeric() || "-_.".contains(c);
    if p.file.is_empty() || p.file.starts_with('.') || !p.file.chars().all(plain) {
        return Err(format!(
            "file {:?}: expected a plain name of letters, digits, '-', '_' and '.', not starting with '.'",
            p.file
        ));
    }
    let mut series = Vec::new();
    for (i, s) in p.series.iter().enumerate() {
        if quick && s.full_only {
            continue;
        }
        let points = parse_points(&s.points, names).map_err(|e| format!("series[{i}]: {e}"))?;
        series.push((s.clone(), points));
    }
    Ok(Plot {
        def: p.clone(),
        series,
    })
}

/// `[[x, y], ...]` or `{"for": VAR, "values": V, "x": E, "y": E}` (V a list, or
/// `{"linspace": [a, b, k]}` / `{"logspace": [a, b, k]}`).
fn parse_points(v: &Value, names: &Names) -> Result<Vec<(Expr, Expr)>, String> {
    let pair = |x: &Value, y: &Value, names: &Names| -> Result<(Expr, Expr), String> {
        Ok((Expr::parse(x, names, false)?, Expr::parse(y, names, false)?))
    };
    match v {
        Value::Array(items) => items
            .iter()
            .map(|p| match p.as_array().map(Vec::as_slice) {
                Some([x, y]) => pair(x, y, names),
                _ => Err(format!("a point must be [x, y], not {p}")),
            })
            .collect(),
        Value::Object(o) => {
            let var = o
                .get("for")
                .and_then(Value::as_str)
                .ok_or("expected \"for\": VAR")?;
            let values = values_of(o.get("values").ok_or("expected \"values\"")?)?;
            let (x, y) = match (o.get("x"), o.get("y")) {
                (Some(x), Some(y)) => (x, y),
                _ => return Err("expected \"x\" and \"y\"".into()),
            };
            let unknown: Vec<&String> = o
                .keys()
                .filter(|k| !["for", "values", "x", "y"].contains(&k.as_str()))
                .collect();
            if !unknown.is_empty() {
                return Err(format!(
                    "unknown fields {unknown:?}; allowed: for, values, x, y"
                ));
            }
            values
                .iter()
                .map(|val| {
                    let b = BTreeMap::from([(var.to_string(), val.clone())]);
                    pair(&substitute(x, &b), &substitute(y, &b), names)
                })
                .collect()
        }
        _ => Err(format!(
            "points must be a list or a \"for\" object, not {v}"
        )),
    }
}

/// Every combination of the variables' values, in the variables' name order, the last
/// varying fastest; one empty binding when there are none.
fn combinations(vars: &BTreeMap<String, Vec<Value>>) -> Vec<BTreeMap<String, Value>> {
    let mut out = vec![BTreeMap::new()];
    for (name, values) in vars {
        out = out
            .into_iter()
            .flat_map(|b| {
                values.iter().map(move |v| {
                    let mut b = b.clone();
                    b.insert(name.clone(), v.clone());
                    b
                })
            })
            .collect();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn runs_expand_over_every_combination_in_order() {
        let vars = BTreeMap::from([
            ("a".to_string(), vec![json!(1), json!(2)]),
            ("b".to_string(), vec![json!("x"), json!("y")]),
        ]);
        let names: Vec<String> = combinations(&vars)
            .iter()
            .map(|b| substitute_text("run-{a}-{b}", b))
            .collect();
        assert_eq!(names, ["run-1-x", "run-1-y", "run-2-x", "run-2-y"]);
        assert_eq!(combinations(&BTreeMap::new()).len(), 1);
    }
}
