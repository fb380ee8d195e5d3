//! `dynasim check`: rerun seeded scenarios in-process and compare each new report with a
//! committed baseline report, so that CI fails when a change makes availability, staleness
//! or durability worse (tolerance mode) or changes anything at all (exact mode: the runs are
//! deterministic, so the committed reports must match the code exactly).
//! `--update` rewrites the baselines from the current code instead.
//!
//! Flow: raw arguments -> a validated `Plan` (every problem with the input files is found
//! before anything runs, and is exit 2) -> one job per scenario, several at once with `--jobs` -> outcomes
//! printed, and written as JUnit, in file-name order whatever the number of jobs.
//! Exit codes (`error::Exit`): 0 pass, 1 regression (or a run that crashed), 2 bad input
//! or an output that could not be written.

mod compare;
pub mod diff;
mod junit;
mod table;
mod tolerance;

use crate::error::Failure;
use crate::report::{Report, write_atomic};
use crate::scenario::{Scenario, load_file};
use crate::sim::Simulation;
use compare::Row;
use serde_json::Value;
use std::collections::BTreeMap;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use tolerance::Tolerances;

#[derive(clap::Args, Debug)]
#[command(group(clap::ArgGroup::new("input").required(true).args(["scenarios", "all"])))]
pub struct CheckArgs {
    /// Scenario files, each checked against REPORTS/<its name>/report.json (or --baseline).
    #[arg(value_name = "SCENARIO")]
    pub scenarios: Vec<PathBuf>,
    /// The baseline report for a single SCENARIO.
    #[arg(long, value_name = "REPORT", conflicts_with = "all")]
    pub baseline: Option<PathBuf>,
    /// Check every *.json scenario in DIR, in file-name order.
    #[arg(long, value_name = "DIR")]
    pub all: Option<PathBuf>,
    /// Where the baselines live: the report of scenario X is DIR/X/report.json.
    #[arg(long, value_name = "DIR", default_value = "reports")]
    pub reports: PathBuf,
    /// Tolerance mode: per-metric bounds from a JSON file (see docs/regression.md).
    #[arg(long, value_name = "FILE")]
    pub tolerance: Option<PathBuf>,
    /// Tolerance mode: METRIC may worsen by at most BOUND (repeatable; `*` matches one
    /// path segment, e.g. latency_ms.*.p999=5).
    #[arg(long = "tol", value_name = "METRIC=BOUND")]
    pub tols: Vec<String>,
    /// Rewrite the baseline reports from the current run instead of comparing (bless).
    #[arg(long, conflicts_with_all = ["tolerance", "tols", "junit"])]
    pub update: bool,
    /// Also write the results as JUnit XML to FILE.
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
    /// JUnit test cases: one per scenario, per report section, or per metric.
    #[arg(long, value_enum, default_value_t = junit::Granularity::Scenario, requires = "junit")]
    pub junit_cases: junit::Granularity,
    /// Also write the results as a Markdown table to FILE (for a CI job's step summary,
    /// e.g. `--summary-md "$GITHUB_STEP_SUMMARY"`).
    #[arg(long, value_name = "FILE")]
    pub summary_md: Option<PathBuf>,
    /// Show every judged row, not only the failing ones.
    #[arg(short, long)]
    pub verbose: bool,
    /// Check up to J scenarios at once (the output order does not depend on J).
    #[arg(short, long, value_name = "J", default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..))]
    pub jobs: u16,
    /// Run even when the memory estimate (of up to J scenarios at once) exceeds the
    /// machine's available memory.
    #[arg(long)]
    pub no_memory_check: bool,
}

/// One finished run: its report, serialized once. The simulation itself is not kept: a
/// long timeline's report is hundreds of MB, and nothing after the run reads the world.
pub struct Run {
    pub report: Report,
    pub json: String,
}

/// Runs a validated scenario to its end.
pub fn run_scenario(scenario: &Scenario) -> Run {
    let mut sim = Simulation::new(scenario);
    sim.run();
    let report = Report::from_outcome(&sim.outcome());
    drop(sim);
    let json = report.to_json();
    Run { report, json }
}

/// Writes every artifact of a scenario's report folder from a run: report.json today; the
/// place to add summary.md and plots, so that `check --update` regenerates them all.
pub fn write_report_dir(run: &Run, out_dir: &Path) -> Result<(), Failure> {
    // The summary and plots travel with the committed report, so --update keeps them true.
    crate::report::write_run_folder(&run.report, &run.json, out_dir)
        .map_err(|e| Failure::cannot("write the report folder", out_dir, e))?;
    Ok(())
}

/// The `check` command.
pub fn run(args: CheckArgs) -> Result<(), Failure> {
    let plan = Plan::from_args(args).map_err(|errors| Failure::trouble(errors.join("\n")))?;
    let outcomes = execute(&plan);
    if let Some(path) = &plan.junit {
        write_atomic(path, junit::render(&outcomes, plan.junit_cases).as_bytes())
            .map_err(|e| Failure::cannot("write the JUnit file", path, e))?;
    }
    if let Some(path) = &plan.summary_md {
        write_atomic(path, table::markdown(&outcomes).as_bytes())
            .map_err(|e| Failure::cannot("write the Markdown summary", path, e))?;
    }
    let count = |pred: fn(&Status) -> bool| outcomes.iter().filter(|o| pred(&o.status)).count();
    let bad_input = count(|s| matches!(s, Status::BadInput(_)));
    let failed = count(|s| !s.passed() && !matches!(s, Status::BadInput(_)));
    let total = outcomes.len();
    let summary = if matches!(plan.mode, Mode::Update) {
        format!(
            "check: {} of {total} baseline(s) updated",
            total - bad_input
        )
    } else {
        format!(
            "check: {total} scenario(s): {} passed, {failed} failed, {bad_input} not judged (bad input)",
            total - failed - bad_input
        )
    };
    crate::outln!("{summary}");
    if bad_input > 0 {
        Err(Failure::trouble(format!(
            "{bad_input} of {total} scenario(s) could not be checked (see above)"
        )))
    } else if failed > 0 {
        Err(Failure::failed(format!(
            "regression: {failed} of {total} scenario(s) failed (see above)"
        )))
    } else {
        Ok(())
    }
}

/// The validated form of the arguments: every scenario loaded, every baseline parsed.
struct Plan {
    targets: Vec<Target>,
    mode: Mode,
    verbose: bool,
    jobs: usize,
    junit: Option<PathBuf>,
    junit_cases: junit::Granularity,
    summary_md: Option<PathBuf>,
}

enum Mode {
    Exact,
    Tolerance(Tolerances),
    Update,
}

impl Mode {
    fn name(&self) -> &'static str {
        match self {
            Mode::Exact => "exact",
            Mode::Tolerance(_) => "tolerance",
            Mode::Update => "update",
        }
    }
}

struct Target {
    scenario_path: PathBuf,
    scenario: Scenario,
    baseline_path: PathBuf,
    /// Where `--update` writes: the whole report folder, or only the `--baseline` file.
    update_folder: Option<PathBuf>,
    /// The parsed baseline; `None` when updating and there is none yet, or when it
    /// could not be read (`unreadable` says why).
    baseline: Option<Value>,
    /// Why the baseline could not be read: the scenario is not judged (bad input), and
    /// the other scenarios are still checked.
    unreadable: Option<String>,
}

impl Plan {
    fn from_args(args: CheckArgs) -> Result<Plan, Vec<String>> {
        let mut errors = Vec::new();
        let mode = if args.update {
            Mode::Update
        } else if args.tolerance.is_some() || !args.tols.is_empty() {
            // On error, go on to report the scenarios' and baselines' problems too.
            tolerances(args.tolerance.as_deref(), &args.tols)
                .map(Mode::Tolerance)
                .unwrap_or_else(|e| {
                    errors.extend(e);
                    Mode::Exact
                })
        } else {
            Mode::Exact
        };
        let paths = match &args.all {
            Some(dir) => scenario_files(dir)?,
            None => args.scenarios,
        };
        if args.baseline.is_some() && paths.len() != 1 {
            return Err(vec![format!(
                "--baseline compares one scenario with one report, but {} scenarios were given; \
                 without --baseline each is checked against {}/<name>/report.json",
                paths.len(),
                args.reports.display()
            )]);
        }
        let mut targets = Vec::new();
        let mut owners: BTreeMap<PathBuf, PathBuf> = BTreeMap::new();
        for scenario_path in paths {
            let scenario = match load_file(&scenario_path, &[]) {
                Ok(s) => s,
                Err(e) => {
                    errors.push(e.to_string());
                    continue;
                }
            };
            let (baseline_path, update_folder) = match &args.baseline {
                Some(file) => (file.clone(), None),
                None => {
                    let folder = args.reports.join(&scenario.name);
                    (folder.join("report.json"), Some(folder))
                }
            };
            if let Some(other) = owners.insert(baseline_path.clone(), scenario_path.clone()) {
                errors.push(format!(
                    "{} and {} are both named {:?}, so they would share the report {}; give each scenario its own name",
                    other.display(),
                    scenario_path.display(),
                    scenario.name,
                    baseline_path.display()
                ));
            }
            let (baseline, unreadable) = match read_baseline(&baseline_path) {
                Ok(v) => (Some(v), None),
                Err(_) if args.update => (None, None),
                Err(e) => (
                    None,
                    Some(format!(
                        "{e} (to create it from the current code, run the same check with --update)"
                    )),
                ),
            };
            targets.push(Target {
                scenario_path,
                scenario,
                baseline_path,
                update_folder,
                baseline,
                unreadable,
            });
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        if !args.no_memory_check {
            let scenarios: Vec<&Scenario> = targets.iter().map(|t| &t.scenario).collect();
            let available = crate::guard::available_bytes();
            crate::guard::check_fits_together(
                &scenarios,
                usize::from(args.jobs),
                available,
                crate::guard::estimate_for_check,
            )
            .map_err(|e| vec![e])?;
        }
        Ok(Plan {
            targets,
            mode,
            verbose: args.verbose,
            jobs: usize::from(args.jobs),
            junit: args.junit,
            junit_cases: args.junit_cases,
            summary_md: args.summary_md,
        })
    }
}

fn tolerances(file: Option<&Path>, flags: &[String]) -> Result<Tolerances, Vec<String>> {
    let mut errors = Vec::new();
    let file_rules = match file {
        None => Vec::new(),
        Some(path) => match crate::input::read_text(path, crate::input::MAX_SCENARIO_BYTES) {
            Ok(text) => {
                tolerance::parse_file(&text, &path.display().to_string()).unwrap_or_else(|e| {
                    errors.extend(e);
                    Vec::new()
                })
            }
            Err(e) => {
                errors.push(format!(
                    "{}: cannot read the tolerance file: {e}",
                    path.display()
                ));
                Vec::new()
            }
        },
    };
    let flag_rules: Vec<_> = flags
        .iter()
        .filter_map(|f| tolerance::parse_flag(f).map_err(|e| errors.push(e)).ok())
        .collect();
    if !errors.is_empty() {
        return Err(errors);
    }
    Tolerances::new(file_rules, flag_rules)
}

/// The `*.json` files of a folder, sorted by file name.
fn scenario_files(dir: &Path) -> Result<Vec<PathBuf>, Vec<String>> {
    let entries = std::fs::read_dir(dir).map_err(|e| {
        vec![format!(
            "{}: cannot list the scenario folder: {e}",
            dir.display()
        )]
    })?;
    let mut files = Vec::new();
    for entry in entries {
        let path = entry
            .map_err(|e| {
                vec![format!(
                    "{}: cannot list the scenario folder: {e}",
                    dir.display()
                )]
            })?
            .path();
        if path.extension().is_some_and(|x| x == "json") && path.is_file() {
            files.push(path);
        }
    }
    files.sort_by(|a, b| a.file_name().cmp(&b.file_name()));
    if files.is_empty() {
        return Err(vec![format!(
            "{}: no *.json scenario files in this folder",
            dir.display()
        )]);
    }
    Ok(files)
}

pub(crate) fn read_baseline(path: &Path) -> Result<Value, String> {
    let text = crate::input::read_text(path, crate::input::MAX_REPORT_BYTES)
        .map_err(|e| format!("{}: cannot read the baseline report: {e}", path.display()))?;
    // A report inside a run folder is judged only if the folder's manifest vouches for it.
    if let Some(dir) = path.parent()
        && path.file_name().is_some_and(|n| n == "report.json")
    {
        let dir = if dir.as_os_str().is_empty() {
            Path::new(".")
        } else {
            dir
        };
        crate::report::manifest_vouches(dir, "report.json", text.as_bytes())?;
    }
    match serde_json::from_str(&text) {
        Ok(v @ Value::Object(_)) => {
            // A report has these; a JSON object without them is some other file.
            let missing: Vec<&str> = [
                ("digest", Value::is_string as fn(&Value) -> bool),
                ("scenario", Value::is_object),
                ("simulated_s", Value::is_number),
            ]
            .into_iter()
            .filter(|(field, is)| !v.get(*field).is_some_and(is))
            .map(|(field, _)| field)
            .collect();
            if missing.is_empty() {
                Ok(v)
            } else {
                Err(format!(
                    "{}: not a dynasim report (no {} of the right type)",
                    path.display(),
                    missing.join(", ")
                ))
            }
        }
        Ok(_) => Err(format!(
            "{}: the baseline report is not a JSON object",
            path.display()
        )),
        Err(e) => Err(format!(
            "{}: the baseline report is not valid JSON (line {}, column {})",
            path.display(),
            e.line(),
            e.column()
        )),
    }
}

/// What became of one scenario.
struct Outcome {
    name: String,
    seed: u64,
    scenario_path: PathBuf,
    baseline_path: PathBuf,
    mode: &'static str,
    status: Status,
}

enum Status {
    Compared(Comparison),
    Updated(Update),
    /// Could not be judged (exit 2): a bound on no metric, a report that could not be written.
    BadInput(String),
    /// The simulator panicked (an assertion): a failure of the code under test.
    Crashed(String),
}

impl Status {
    fn passed(&self) -> bool {
        match self {
            Status::Compared(c) => c.failures() == 0,
            Status::Updated(_) => true,
            Status::BadInput(_) | Status::Crashed(_) => false,
        }
    }
}

struct Comparison {
    tolerance: bool,
    /// Exact mode: the digest's row and the failing rows, or every row when a listing of
    /// every field was asked for (`--verbose`, `--junit-cases metric`). Tolerance mode:
    /// every judged row.
    rows: Vec<Row>,
    /// The fields compared, kept as a row or not.
    fields: usize,
    /// Exact mode: the report's top-level sections, in order (JUnit's section cases).
    sections: Vec<String>,
    /// Context worth a line, e.g. a tolerance baseline made from a different scenario.
    note: Option<String>,
}

impl Comparison {
    fn failures(&self) -> usize {
        self.rows.iter().filter(|r| !r.verdict.passed()).count()
    }
}

struct Update {
    /// Leaves that differ from the previous baseline; `None` when there was none.
    changed: Option<usize>,
    digest_before: Option<String>,
    digest_now: String,
    /// Whether any file of the baseline was written (false: it held these bytes already).
    rewritten: bool,
}

/// Runs every target on `plan.jobs` threads and prints each outcome as soon as all the
/// outcomes before it in file-name order are printed.
fn execute(plan: &Plan) -> Vec<Outcome> {
    let n = plan.targets.len();
    // Only on a terminal: CI logs stay plain.
    let shown = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let bar = crate::progress::bar(n as u64, "scenarios checked", shown);
    let next = AtomicUsize::new(0);
    let (sender, receiver) = mpsc::channel();
    let mut slots: Vec<Option<Outcome>> = (0..n).map(|_| None).collect();
    std::thread::scope(|scope| {
        for _ in 0..plan.jobs.min(n) {
            let sender = sender.clone();
            let next = &next;
            scope.spawn(move || {
                loop {
                    let index = next.fetch_add(1, Ordering::Relaxed);
                    let Some(target) = plan.targets.get(index) else {
                        break;
                    };
                    if sender.send((index, check_one(plan, target))).is_err() {
                        break;
                    }
                }
            });
        }
        drop(sender);
        let mut printed = 0;
        for (index, outcome) in receiver {
            slots[index] = Some(outcome);
            bar.inc(1);
            while let Some(Some(outcome)) = slots.get(printed) {
                // The bar steps aside while a verdict is printed.
                bar.suspend(|| crate::out!("{}", table::render(outcome, plan.verbose)));
                printed += 1;
            }
        }
    });
    bar.finish_and_clear();
    slots.into_iter().flatten().collect()
}

fn check_one(plan: &Plan, target: &Target) -> Outcome {
    // Nothing to compare with: not judged, and no run spent on it.
    let checked = match &target.unreadable {
        Some(why) => Err(why.clone()),
        None => Ok(catch_unwind(AssertUnwindSafe(|| {
            run_scenario(&target.scenario)
        }))),
    };
    let status = match checked {
        Err(why) => Status::BadInput(why),
        Ok(Ok(run)) => judge(plan, target, run),
        Ok(Err(panic)) => {
            let message = crate::error::panic_message(&*panic);
            Status::Crashed(format!(
                "the simulation panicked: {message}; reproduce with `dynasim run {}` (seed {})",
                target.scenario_path.display(),
                target.scenario.seed
            ))
        }
    };
    Outcome {
        name: target.scenario.name.clone(),
        seed: target.scenario.seed,
        scenario_path: target.scenario_path.clone(),
        baseline_path: target.baseline_path.clone(),
        mode: plan.mode.name(),
        status,
    }
}

fn judge(plan: &Plan, target: &Target, run: Run) -> Status {
    let doc = match serde_json::from_str::<Value>(&run.json) {
        Ok(doc) => doc,
        Err(e) => return Status::Crashed(format!("the new report is not valid JSON: {e}")),
    };
    let baseline = target.baseline.as_ref();
    let tolerances = match &plan.mode {
        Mode::Update => return update(target, &run, &doc, baseline),
        Mode::Exact => None,
        Mode::Tolerance(t) => Some(t),
    };
    // Only the parsed document is compared: its text goes first (a dense timeline's is
    // hundreds of MB).
    drop(run);
    // The plan refuses to compare without a baseline.
    let path = target.baseline_path.display();
    let Some(baseline) = baseline else {
        return Status::BadInput(format!("{path}: no baseline report"));
    };
    if let Some(why) = malformed_section(baseline, &doc) {
        return Status::BadInput(format!("{path}: {why}"));
    }
    match tolerances {
        None => {
            let every_row = plan.verbose || plan.junit_cases == junit::Granularity::Metric;
            let judged = compare::exact(baseline, &doc, every_row);
            Status::Compared(Comparison {
                tolerance: false,
                rows: judged.rows,
                fields: judged.fields,
                sections: judged.sections,
                // The first place the scenario itself changed is usually the cause of the rest.
                note: compare::scenario_difference(baseline, &doc).map(|d| {
                    format!("the scenario changed since the baseline was made ({d})")
                }),
            })
        }
        Some(t) => match compare::tolerance(baseline, &doc, t) {
            Ok(rows) => Status::Compared(Comparison {
                tolerance: true,
                fields: rows.len(),
                sections: Vec::new(),
                rows,
                note: compare::scenario_difference(baseline, &doc).map(|d| {
                    format!("the baseline was made from a different scenario ({d}); its metrics are judged anyway")
                }),
            }),
            Err(errors) => Status::BadInput(errors.join("\n")),
        },
    }
}

/// A section the new report has as an object that the baseline holds as a number, a
/// string, a list or a boolean: the baseline was damaged or hand-edited (a report changed
/// by the code keeps its sections objects), so it is bad input, not a regression.
fn malformed_section(baseline: &Value, now: &Value) -> Option<String> {
    let now = now.as_object()?;
    now.iter().find_map(|(key, value)| {
        let old = baseline.get(key)?;
        (value.is_object() && !old.is_object() && !old.is_null()).then(|| {
            format!(
                "the baseline is malformed: `{key}` is {} where a report has an object",
                compare::show_short(Some(old), 40)
            )
        })
    })
}

fn update(target: &Target, run: &Run, now: &Value, baseline: Option<&Value>) -> Status {
    // A folder that already holds these bytes is left alone: only what changed is
    // rewritten (and a file's time stamp then says when its content last changed).
    let current = (target.update_folder.as_ref())
        .is_some_and(|folder| crate::report::folder_is_current(&run.report, &run.json, folder));
    let written = match &target.update_folder {
        _ if current => Ok(()),
        Some(folder) => write_report_dir(run, folder).map_err(|f| f.message),
        None => write_atomic(&target.baseline_path, run.json.as_bytes())
            .map_err(|e| format!("cannot write {}: {e}", target.baseline_path.display())),
    };
    if let Err(message) = written {
        return Status::BadInput(message);
    }
    let digest = |report: &Value| {
        report
            .get("digest")
            .and_then(Value::as_str)
            .map(str::to_string)
    };
    Status::Updated(Update {
        changed: baseline.map(|b| {
            let judged = compare::exact(b, now, false);
            judged.rows.iter().filter(|r| !r.verdict.passed()).count()
        }),
        digest_before: baseline.and_then(digest),
        digest_now: digest(now).unwrap_or_default(),
        rewritten: !current,
    })
}
