//! What a sweep is: the base scenario, the grid axes, the seeds, and the plan they expand
//! to (every combination of axis values in grid order, each valid one times every seed).
//! This module parses the command-line spellings (`--grid`, `--seeds`, `--shard`), checks
//! every grid value against the scenario format before anything runs, names runs
//! deterministically, and computes the fingerprint that keeps different sweeps from being
//! mixed in one folder. It does no IO and runs no simulation.

use crate::error::Failure;
use crate::scenario::{self, Scenario};
use md5::{Digest, Md5};
use serde::Serialize;
use serde_json::Value;

/// Limits on the plan's size: a typo such as `--seeds 1..1000000` should be an error,
/// not a week of computing.
pub const MAX_RUNS: usize = 100_000;
pub const MAX_AXIS_VALUES: usize = 1_000;

fn bad(message: String) -> Failure {
    Failure::trouble(message)
}

/// One grid axis: a dotted scenario path and the values it takes, in the order given.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Axis {
    pub path: String,
    pub values: Vec<Value>,
}

/// One spelling per scenario path, as `--set` reads it: `replication[r]`,
/// `replication..r` and `replication.r` are the same field, and list indices are written
/// `faults[0]`. Axes are compared by this form, so one field cannot be two axes (or slip
/// past the `seed` rule) by being spelt two ways.
pub fn canonical_path(path: &str) -> String {
    let normalized = path.replace('[', ".").replace(']', "");
    let mut out = String::new();
    for part in normalized
        .split('.')
        .map(str::trim)
        .filter(|p| !p.is_empty())
    {
        if !out.is_empty() && part.bytes().all(|b| b.is_ascii_digit()) {
            out.push_str(&format!("[{part}]"));
        } else {
            if !out.is_empty() {
                out.push('.');
            }
            out.push_str(part);
        }
    }
    out
}

/// Parses `PATH=V1,V2,...`. Values are JSON (numbers, booleans, objects, lists) or else
/// plain strings, as with `--set`; commas inside JSON objects, lists and strings do not
/// split values.
pub fn parse_axis(raw: &str) -> Result<Axis, Failure> {
    let Some((path, list)) = raw.split_once('=') else {
        return Err(bad(format!(
            "--grid {raw:?}: expected PATH=V1,V2,..., e.g. replication.r=1,2,3"
        )));
    };
    let path = canonical_path(path.trim());
    let path = path.as_str();
    if path.is_empty() {
        return Err(bad(format!("--grid {raw:?}: the path before `=` is empty")));
    }
    if path == "seed" {
        return Err(bad(format!(
            "--grid {raw:?}: seeds are given with --seeds, e.g. --seeds 1..5"
        )));
    }
    let pieces = split_values(list);
    if pieces.len() > MAX_AXIS_VALUES {
        return Err(bad(format!(
            "--grid {path}: {} values; at most {MAX_AXIS_VALUES}",
            pieces.len()
        )));
    }
    let mut values: Vec<Value> = Vec::with_capacity(pieces.len());
    for (i, piece) in pieces.iter().enumerate() {
        let piece = piece.trim();
        if piece.is_empty() {
            return Err(bad(format!("--grid {raw:?}: value {} is empty", i + 1)));
        }
        let value = parse_value(piece);
        if values.contains(&value) {
            return Err(bad(format!(
                "--grid {raw:?}: value `{piece}` is given twice"
            )));
        }
        values.push(value);
    }
    Ok(Axis {
        path: path.to_string(),
        values,
    })
}

/// How `--set` reads a value: JSON if it parses, else the text as a string.
fn parse_value(raw: &str) -> Value {
    serde_json::from_str(raw).unwrap_or_else(|_| Value::String(raw.to_string()))
}

/// Splits on commas outside JSON brackets and strings.
fn split_values(list: &str) -> Vec<String> {
    let mut pieces = Vec::new();
    let mut current = String::new();
    let (mut depth, mut in_string, mut escaped) = (0usize, false, false);
    for c in list.chars() {
        if in_string {
            in_string = c != '"' || escaped;
            escaped = c == '\\' && !escaped;
        } else {
            match c {
                '"' => in_string = true,
                '[' | '{' => depth += 1,
                ']' | '}' => depth = depth.saturating_sub(1),
                ',' if depth == 0 => {
                    pieces.push(std::mem::take(&mut current));
                    continue;
                }
                _ => {}
            }
        }
        current.push(c);
    }
    pieces.push(current);
    pieces
}

/// Parses `--seeds`: `A..B` (inclusive, also `A..=B`), a list `1,4,9`, or one seed.
pub fn parse_seeds(raw: &str) -> Result<Vec<u64>, Failure> {
    let number = |s: &str| -> Result<u64, Failure> {
        s.trim().parse::<u64>().map_err(|_| {
            bad(format!(
                "--seeds {raw:?}: `{}` is not a seed (a whole number ≥ 0)",
                s.trim()
            ))
        })
    };
    let seeds: Vec<u64> = if let Some((a, b)) = raw.split_once("..") {
        let (a, b) = (number(a)?, number(b.strip_prefix('=').unwrap_or(b))?);
        if a > b {
            return Err(bad(format!(
                "--seeds {raw:?}: the range is empty ({a} > {b})"
            )));
        }
        if b - a >= MAX_RUNS as u64 {
            return Err(bad(format!("--seeds {raw:?}: more than {MAX_RUNS} seeds")));
        }
        (a..=b).collect()
    } else {
        raw.split(',').map(number).collect::<Result<_, _>>()?
    };
    for (i, s) in seeds.iter().enumerate() {
        if seeds[..i].contains(s) {
            return Err(bad(format!("--seeds {raw:?}: seed {s} is given twice")));
        }
    }
    Ok(seeds)
}

/// `--shard K/M`: this process runs the runs whose index in the plan is K-1 modulo M.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    /// 1-based, as written.
    pub k: usize,
    pub m: usize,
}

impl Shard {
    pub const WHOLE: Shard = Shard { k: 1, m: 1 };

    pub fn parse(raw: &str) -> Result<Shard, Failure> {
        let parsed = raw.split_once('/').and_then(|(k, m)| {
            Some((
                k.trim().parse::<usize>().ok()?,
                m.trim().parse::<usize>().ok()?,
            ))
        });
        match parsed {
            Some((k, m)) if m >= 1 && (1..=m).contains(&k) => Ok(Shard { k, m }),
            _ => Err(bad(format!(
                "--shard {raw:?}: expected K/M with 1 ≤ K ≤ M, e.g. 2/4"
            ))),
        }
    }

    pub fn contains(&self, run_index: usize) -> bool {
        run_index % self.m == self.k - 1
    }
}

/// One point of the grid: a value for every axis.
#[derive(Clone, Debug)]
pub struct Combination {
    /// `r=2,w=1`: short axis names and values, safe in a file name; empty without axes.
    pub id: String,
    /// One value per axis, in axis order.
    pub values: Vec<Value>,
    /// Why the scenario is invalid with these values (empty when it is valid).
    pub errors: Vec<String>,
}

impl Combination {
    pub fn is_valid(&self) -> bool {
        self.errors.is_empty()
    }
}

/// One simulation of the plan.
#[derive(Clone, Debug)]
pub struct RunSpec {
    /// Position among all runs of the plan (grid order, then seed): what shards split on.
    pub index: usize,
    pub combination: usize,
    pub seed: u64,
    /// `r=2,w=1,seed=3`: the result file's name without `.json`.
    pub id: String,
}

/// A fully expanded sweep. Everything in it is a function of (base scenario, axes, seeds),
/// which the fingerprint hashes.
#[derive(Clone, Debug)]
pub struct Plan {
    pub scenario_name: String,
    pub scenario_description: String,
    /// The base scenario, resolved (every default filled in).
    pub base: Value,
    pub axes: Vec<Axis>,
    /// Short axis names used in ids and tables (`r` for `replication.r` when unambiguous).
    pub axis_names: Vec<String>,
    pub seeds: Vec<u64>,
    pub combinations: Vec<Combination>,
    pub runs: Vec<RunSpec>,
    pub fingerprint: String,
}

/// What `sweep-fingerprint.json` holds: enough to rebuild the plan (that is what `merge`
/// does) and nothing that depends on the machine, the folder or the shard.
#[derive(Serialize)]
pub struct Definition<'a> {
    pub fingerprint: &'a str,
    pub dynasim_version: &'a str,
    pub grid: &'a [Axis],
    pub seeds: &'a [u64],
    pub scenario: &'a Value,
}

impl Plan {
    /// Expands a sweep. Fails (exit 2) on a grid path or value that cannot be a scenario
    /// field at all; a combination that is merely invalid (R > N) is kept, marked, and
    /// skipped when running.
    pub fn new(
        base_scenario: &Scenario,
        axes: Vec<Axis>,
        seeds: Vec<u64>,
    ) -> Result<Plan, Failure> {
        let base = serde_json::to_value(base_scenario)
            .map_err(|e| Failure::trouble(format!("cannot serialize the scenario: {e}")))?;
        Plan::from_parts(base, axes, seeds)
    }

    /// Rebuilds a plan from a `sweep-fingerprint.json` document.
    pub fn from_definition(doc: &Value, source: &str) -> Result<Plan, Failure> {
        let field = |name: &str| {
            doc.get(name).ok_or_else(|| {
                bad(format!(
                    "{source}: no `{name}`; is this a dynasim sweep folder?"
                ))
            })
        };
        let base = field("scenario")?.clone();
        let seeds: Vec<u64> = serde_json::from_value(field("seeds")?.clone())
            .map_err(|e| bad(format!("{source}: `seeds`: {e}")))?;
        let grid = field("grid")?
            .as_array()
            .ok_or_else(|| bad(format!("{source}: `grid` is not a list")))?;
        let mut axes = Vec::with_capacity(grid.len());
        for (i, axis) in grid.iter().enumerate() {
            let path = axis.get("path").and_then(Value::as_str);
            let values = axis.get("values").and_then(Value::as_array);
            match (path, values) {
                (Some(p), Some(v)) => axes.push(Axis {
                    path: canonical_path(p),
                    values: v.clone(),
                }),
                _ => {
                    return Err(bad(format!(
                        "{source}: `grid[{i}]` needs a `path` and a list of `values`"
                    )));
                }
            }
        }
        let stored = field("fingerprint")?
            .as_str()
            .unwrap_or_default()
            .to_string();
        let plan = Plan::from_parts(base, axes, seeds)?;
        if plan.fingerprint != stored {
            return Err(bad(format!(
                "{source}: the stored fingerprint {stored} does not match its contents ({}); \
                 the file was edited or written by another dynasim version",
                plan.fingerprint
            )));
        }
        Ok(plan)
    }

    fn from_parts(base: Value, axes: Vec<Axis>, seeds: Vec<u64>) -> Result<Plan, Failure> {
        let base_scenario =
            to_scenario(base.clone()).map_err(|e| bad(format!("the base scenario: {e}")))?;
        if seeds.is_empty() {
            return Err(bad("a sweep needs at least one seed".into()));
        }
        for (i, axis) in axes.iter().enumerate() {
            if axes[..i].iter().any(|a| a.path == axis.path) {
                return Err(bad(format!(
                    "--grid {}: the path is given twice",
                    axis.path
                )));
            }
            check_axis(&base, axis)?;
        }
        let combination_count = axes
            .iter()
            .try_fold(1usize, |acc, a| acc.checked_mul(a.values.len()));
        match combination_count.and_then(|c| c.checked_mul(seeds.len())) {
            Some(total) if total <= MAX_RUNS => {}
            _ => {
                return Err(bad(format!(
                    "the grid times the seeds is more than {MAX_RUNS} runs"
                )));
            }
        }
        let axis_names = short_names(&axes);
        let combinations: Vec<Combination> = cartesian(&axes)
            .into_iter()
            .map(|values| {
                let id = point_id(&axis_names, &values);
                let errors = match scenario_with(&base, &axes, &values, seeds[0]) {
                    Ok(_) => Vec::new(),
                    Err(errors) => errors,
                };
                Combination { id, values, errors }
            })
            .collect();
        for (i, c) in combinations.iter().enumerate() {
            if combinations[..i].iter().any(|o| o.id == c.id) {
                return Err(bad(format!(
                    "two grid points have the same name `{}`; rename a value",
                    c.id
                )));
            }
        }
        let mut runs = Vec::new();
        for (ci, c) in combinations
            .iter()
            .enumerate()
            .filter(|(_, c)| c.is_valid())
        {
            for &seed in &seeds {
                let id = if c.id.is_empty() {
                    format!("seed={seed}")
                } else {
                    format!("{},seed={seed}", c.id)
                };
                runs.push(RunSpec {
                    index: runs.len(),
                    combination: ci,
                    seed,
                    id,
                });
            }
        }
        let mut plan = Plan {
            scenario_name: base_scenario.name.clone(),
            scenario_description: base_scenario.description.clone(),
            base,
            axes,
            axis_names,
            seeds,
            combinations,
            runs,
            fingerprint: String::new(),
        };
        plan.fingerprint = plan.compute_fingerprint();
        Ok(plan)
    }

    fn compute_fingerprint(&self) -> String {
        let text = serde_json::to_string(&Definition {
            fingerprint: "",
            dynasim_version: env!("CARGO_PKG_VERSION"),
            grid: &self.axes,
            seeds: &self.seeds,
            scenario: &self.base,
        })
        .unwrap_or_default();
        hex(&Md5::digest(text.as_bytes()))
    }

    pub fn definition_json(&self) -> String {
        let mut s = serde_json::to_string_pretty(&Definition {
            fingerprint: &self.fingerprint,
            dynasim_version: env!("CARGO_PKG_VERSION"),
            grid: &self.axes,
            seeds: &self.seeds,
            scenario: &self.base,
        })
        .unwrap_or_default();
        s.push('\n');
        s
    }

    /// The scenario of one run, validated.
    pub fn scenario_for(&self, run: &RunSpec) -> Result<Scenario, Vec<String>> {
        scenario_with(
            &self.base,
            &self.axes,
            &self.combinations[run.combination].values,
            run.seed,
        )
    }

    /// A `dynasim run` command line that reproduces one run: the sweep's own `--set`
    /// edits (`base_sets`), then the run's grid values, which win on a shared path.
    pub fn reproduce_command(&self, run: &RunSpec, base_sets: &[(String, String)]) -> String {
        let mut cmd = format!("dynasim run SCENARIO --seed {}", run.seed);
        for (path, value) in base_sets {
            cmd.push_str(&format!(" --set '{path}={value}'"));
        }
        for (axis, value) in self
            .axes
            .iter()
            .zip(&self.combinations[run.combination].values)
        {
            cmd.push_str(&format!(" --set '{}={}'", axis.path, value));
        }
        cmd
    }

    pub fn invalid(&self) -> impl Iterator<Item = &Combination> {
        self.combinations.iter().filter(|c| !c.is_valid())
    }

    /// The index of the axis with this path.
    pub fn axis(&self, path: &str) -> Option<usize> {
        self.axes.iter().position(|a| a.path == path)
    }
}

/// Checks each value of an axis alone on the base scenario: the path must exist and the
/// value must have the field's type. Whether it is allowed (R ≤ N) can depend on the
/// other axes, so validation errors are left to the combinations.
fn check_axis(base: &Value, axis: &Axis) -> Result<(), Failure> {
    let list: Vec<String> = axis.values.iter().map(display_value).collect();
    let context = format!("--grid {}={}", axis.path, list.join(","));
    for (value, shown) in axis.values.iter().zip(&list) {
        let mut doc = base.clone();
        scenario::apply_set(&mut doc, &axis.path, &value.to_string()).map_err(|e| {
            bad(format!(
                "{context}: {}",
                e.message.trim_start_matches("--set: ")
            ))
        })?;
        let applied = apply_preset_axis(&mut doc, std::slice::from_ref(axis));
        if let Err(e) = applied.and_then(|()| to_scenario(doc).map(|_| ())) {
            // A misspelt path fails whatever the value; a bad value names it.
            return Err(bad(if e.contains("unknown field") {
                format!("{context}: {e}")
            } else {
                format!("{context}: value `{shown}` does not fit {}: {e}", axis.path)
            }));
        }
    }
    Ok(())
}

/// An axis over `workload.preset` fills the fields the preset governs from each value:
/// the base is resolved, so which of them its file stated is no longer known, and each
/// point takes all of them from its preset except those that are axes themselves.
fn apply_preset_axis(doc: &mut Value, axes: &[Axis]) -> Result<(), String> {
    if !axes.iter().any(|a| a.path == "workload.preset") {
        return Ok(());
    }
    let stated = (axes.iter())
        .filter_map(|a| a.path.strip_prefix("workload."))
        .map(String::from)
        .collect();
    let errors = scenario::preset::apply(doc, &stated);
    match errors.first() {
        Some(e) => Err(e.to_string()),
        None => Ok(()),
    }
}

/// Deserializes a resolved scenario document, naming the bad field (and, for a misspelt
/// one, the nearest allowed name).
fn to_scenario(doc: Value) -> Result<Scenario, String> {
    scenario::from_value(doc).map_err(|e| e.to_string())
}

fn scenario_with(
    base: &Value,
    axes: &[Axis],
    values: &[Value],
    seed: u64,
) -> Result<Scenario, Vec<String>> {
    let mut doc = base.clone();
    for (axis, value) in axes.iter().zip(values) {
        scenario::apply_set(&mut doc, &axis.path, &value.to_string())
            .map_err(|e| vec![e.to_string()])?;
    }
    scenario::apply_set(&mut doc, "seed", &seed.to_string()).map_err(|e| vec![e.to_string()])?;
    apply_preset_axis(&mut doc, axes).map_err(|e| vec![e])?;
    let s = to_scenario(doc).map_err(|e| vec![e])?;
    let errors = scenario::validate(&s);
    if errors.is_empty() {
        Ok(s)
    } else {
        Err(errors.iter().map(ToString::to_string).collect())
    }
}

/// Every combination, the first axis varying slowest.
fn cartesian(axes: &[Axis]) -> Vec<Vec<Value>> {
    let mut points: Vec<Vec<Value>> = vec![Vec::new()];
    for axis in axes {
        points = points
            .into_iter()
            .flat_map(|p| {
                axis.values.iter().map(move |v| {
                    let mut q = p.clone();
                    q.push(v.clone());
                    q
                })
            })
            .collect();
    }
    points
}

/// The last path segment when no other axis ends the same way, else the whole path.
fn short_names(axes: &[Axis]) -> Vec<String> {
    let last = |p: &str| {
        p.rsplit(['.', '['])
            .next()
            .unwrap_or(p)
            .trim_end_matches(']')
            .to_string()
    };
    axes.iter()
        .map(|a| {
            let short = last(&a.path);
            let unique = axes.iter().filter(|o| last(&o.path) == short).count() == 1;
            sanitize(if unique && !short.is_empty() {
                &short
            } else {
                &a.path
            })
        })
        .collect()
}

/// A value as people write it: strings without quotes, everything else as compact JSON.
pub fn display_value(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// `r=2,w=1`: names and values joined, each value made safe for a file name.
pub fn point_id(names: &[String], values: &[Value]) -> String {
    names
        .iter()
        .zip(values)
        .map(|(n, v)| format!("{n}={}", file_safe(&display_value(v))))
        .collect::<Vec<_>>()
        .join(",")
}

/// Keeps letters, digits and `.-+_`; anything else becomes `_`.
fn sanitize(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '+' | '_') {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// A value fit for a file name; when sanitizing changed or shortened it, a hash of the
/// original keeps different values apart.
fn file_safe(text: &str) -> String {
    const MAX_LEN: usize = 32;
    let clean = sanitize(text);
    if clean == text && clean.len() <= MAX_LEN {
        return clean;
    }
    let short: String = clean.chars().take(MAX_LEN).collect();
    let digest = hex(&Md5::digest(text.as_bytes()));
    format!("{short}~{}", &digest[..8])
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {

    #[test]
    fn one_field_spelt_several_ways_is_one_path() {
        for spelling in [
            "replication.r",
            "replication[r]",
            "replication..r",
            " replication . r ",
        ] {
            assert_eq!(canonical_path(spelling), "replication.r", "{spelling}");
        }
        assert_eq!(canonical_path("faults.0.at_s"), "faults[0].at_s");
        assert_eq!(canonical_path("faults[0].at_s"), "faults[0].at_s");
        assert_eq!(canonical_path("[seed]"), "seed");
        assert!(
            parse_axis("[seed]=1,2").is_err(),
            "seeds go through --seeds"
        );
    }

    use super::*;

    fn message(r: Result<impl std::fmt::Debug, Failure>) -> String {
        match r {
            Ok(v) => panic!("expected an error, got {v:?}"),
            Err(f) => {
                assert_eq!(f.exit, crate::error::Exit::Trouble);
                f.message
            }
        }
    }

    #[test]
    fn axis_values_are_json_or_strings_and_commas_inside_json_stay() {
        let a = parse_axis(
            r#"network.latency_ms.inter_dc={"constant": 5},{"uniform": {"low": 1, "high": 5}}"#,
        )
        .expect("parses");
        assert_eq!(a.values.len(), 2);
        assert_eq!(a.values[1]["uniform"]["high"], 5);
        let a = parse_axis("replication.versioning=vector_clock, last_write_wins").expect("parses");
        assert_eq!(
            a.values,
            vec![Value::from("vector_clock"), Value::from("last_write_wins")]
        );
        assert!(message(parse_axis("replication.r=1,,2")).contains("value 2 is empty"));
        assert!(message(parse_axis("replication.r=1,1")).contains("`1` is given twice"));
        assert!(message(parse_axis("replication.r")).contains("expected PATH=V1,V2"));
        assert!(message(parse_axis("seed=1,2")).contains("--seeds"));
    }

    #[test]
    fn seeds_and_shards_parse_strictly() {
        assert_eq!(parse_seeds("1..3").ok(), Some(vec![1, 2, 3]));
        assert_eq!(parse_seeds("2..=3").ok(), Some(vec![2, 3]));
        assert_eq!(parse_seeds("7, 4").ok(), Some(vec![7, 4]));
        assert!(message(parse_seeds("3..1")).contains("empty"));
        assert!(message(parse_seeds("1..x")).contains("`x` is not a seed"));
        assert!(message(parse_seeds("1,2,1")).contains("twice"));
        let s = Shard::parse("2/3").expect("parses");
        assert!(s.contains(1) && s.contains(4) && !s.contains(0) && !s.contains(2));
        for raw in ["0/3", "4/3", "1", "a/b", "1/0"] {
            assert!(Shard::parse(raw).is_err(), "{raw}");
        }
    }

    #[test]
    fn names_are_short_unique_and_file_safe() {
        let axes = vec![
            Axis {
                path: "replication.r".into(),
                values: vec![],
            },
            Axis {
                path: "faults[0].duration_s".into(),
                values: vec![],
            },
            Axis {
                path: "a.x".into(),
                values: vec![],
            },
            Axis {
                path: "b.x".into(),
                values: vec![],
            },
        ];
        assert_eq!(short_names(&axes), vec!["r", "duration_s", "a.x", "b.x"]);
        assert_eq!(file_safe("2.5"), "2.5");
        let odd = file_safe(r#"{"constant":5}"#);
        assert!(
            odd.starts_with("__constant__5_~") && odd.len() == 15 + 8,
            "{odd}"
        );
        assert_ne!(file_safe("a b"), file_safe("a_b"));
    }
}
