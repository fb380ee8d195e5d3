//! `dynasim sweep` and `dynasim merge`: many runs of one scenario over a grid of settings
//! and seeds, on all cores, resumable, and splittable across machines.
//!
//! A sweep folder holds `sweep-fingerprint.json` (the plan: resolved base scenario, grid,
//! seeds, and their hash), `runs/<run-id>.json` (one file per finished run, written
//! atomically, so a file that exists is complete), and, once every run is there,
//! `sweep.json`, `sweep.md` and `plots/`. Those three are built from the run files alone,
//! in the plan's order (grid order, then seed): how many threads ran, on how many machines
//! (`--shard`), in how many sittings, cannot change a byte of them. Resuming is therefore
//! just "run what has no file yet", and merging shards is "gather the files, then build".
//!
//! Layout: `grid` (the plan, pure), `stats` (metrics, intervals, ranking, sweep.json and
//! sweep.md, pure), `plots` (figures); this file does the IO and the threads.

pub mod grid;
pub mod html;
pub mod plots;
pub mod stats;

use crate::error::{Exit, Failure};
use crate::report::{Report, write_atomic};
use crate::scenario::load_file;
use crate::sim::Simulation;
use grid::{Plan, RunSpec, Shard};
use serde::Serialize;
use stats::RunResult;
use std::io::IsTerminal;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

pub const FINGERPRINT_FILE: &str = "sweep-fingerprint.json";
pub const RUNS_DIR: &str = "runs";
pub const SWEEP_JSON: &str = "sweep.json";
pub const SWEEP_MD: &str = "sweep.md";
pub const SWEEP_CSV: &str = "sweep.csv";
pub const SWEEP_HTML: &str = "sweep.html";
/// Threads are cheap, but not that cheap; no machine has more cores than this.
pub const MAX_JOBS: usize = 4096;

/// Simulations to run at once: `--jobs` when given (1 to `MAX_JOBS`), else one per core.
pub fn jobs(asked: Option<usize>) -> Result<usize, String> {
    match asked {
        Some(j) if !(1..=MAX_JOBS).contains(&j) => Err(format!(
            "--jobs {j}: expected 1 to {MAX_JOBS} simulations at a time"
        )),
        Some(j) => Ok(j),
        None => Ok(std::thread::available_parallelism().map_or(1, |n| n.get())),
    }
}

#[derive(clap::Args, Debug, Clone)]
pub struct SweepArgs {
    /// The scenario file (JSON).
    pub scenario: PathBuf,
    /// A grid axis: any dotted scenario path and its values, e.g. `--grid replication.r=1,2,3`
    /// (repeatable; every combination of the axes is run).
    #[arg(long = "grid", value_name = "PATH=V1,V2,...")]
    pub grid: Vec<String>,
    /// Edit the base scenario before the grid is applied, as `dynasim run --set` does:
    /// `--set duration_s=10` (repeatable; a grid axis on the same path wins).
    #[arg(long = "set", value_name = "PATH=VALUE")]
    pub sets: Vec<String>,
    /// Seeds for every setting: `1..5` (inclusive) or `1,4,9` [default: the scenario's seed].
    #[arg(long, value_name = "A..B")]
    pub seeds: Option<String>,
    /// Simulations run at once, one per thread [default: the number of cores].
    #[arg(long, value_name = "J")]
    pub jobs: Option<usize>,
    /// Output folder [default: reports/sweep-<scenario name>/].
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Run only slice K of M (the runs whose index modulo M is K-1); combine the slices'
    /// folders with `dynasim merge`.
    #[arg(long, value_name = "K/M")]
    pub shard: Option<String>,
    /// Replace the results of a different sweep (another scenario, grid or seeds) in --out.
    #[arg(long)]
    pub force: bool,
    /// No progress bar and no summary on the terminal.
    #[arg(long)]
    pub quiet: bool,
    /// Run even when the memory estimate (of up to J runs at once) exceeds the machine's
    /// available memory.
    #[arg(long)]
    pub no_memory_check: bool,
}

#[derive(clap::Args, Debug, Clone)]
pub struct MergeArgs {
    /// Sweep folders to combine: the shards of one sweep.
    #[arg(required = true)]
    pub dirs: Vec<PathBuf>,
    /// The folder for the combined sweep (it may be one of the inputs).
    #[arg(long)]
    pub out: PathBuf,
    /// Replace the results of a different sweep in --out.
    #[arg(long)]
    pub force: bool,
    /// No summary on the terminal.
    #[arg(long)]
    pub quiet: bool,
}

/// What a sweep or merge did.
#[derive(Clone, Debug)]
pub struct SweepOutcome {
    pub out_dir: PathBuf,
    /// Ids of the runs simulated by this call, in plan order.
    pub executed: Vec<String>,
    /// Ids of this call's runs whose result file was already there (or, for a merge, copied).
    pub reused: Vec<String>,
    /// Ids of the skipped invalid settings.
    pub invalid: Vec<String>,
    /// Runs of the whole plan (every shard).
    pub total_runs: usize,
    /// Whether every run had a result, so sweep.json, sweep.md and the plots were written.
    pub complete: bool,
}

/// The `sweep` command.
pub fn run(args: SweepArgs) -> Result<(), Failure> {
    let outcome = sweep(&args)?;
    if !args.quiet {
        print_summary(&outcome);
    }
    Ok(())
}

/// The `merge` command.
pub fn merge(args: MergeArgs) -> Result<(), Failure> {
    let outcome = merge_dirs(&args)?;
    if !args.quiet {
        crate::outln!(
            "merged {} runs from {} folders; {} invalid settings skipped",
            outcome.total_runs,
            args.dirs.len(),
            outcome.invalid.len()
        );
        crate::outln!("results: {}", outcome.out_dir.join(SWEEP_MD).display());
    }
    Ok(())
}

fn print_summary(o: &SweepOutcome) {
    use crate::report::format::counted;
    crate::outln!(
        "{} in the sweep: {} now, {} already there; {} skipped",
        counted(o.total_runs as u64, "run", "runs"),
        o.executed.len(),
        o.reused.len(),
        counted(
            o.invalid.len() as u64,
            "invalid setting",
            "invalid settings"
        )
    );
    if o.complete {
        print_best(&o.out_dir.join(SWEEP_JSON));
        crate::outln!("results: {}", o.out_dir.join(SWEEP_MD).display());
    }
}

/// The three best settings of a finished sweep, from its sweep.json: what a reader looks
/// for first (sweep.md has them all, with confidence intervals).
fn print_best(sweep_json: &Path) {
    let Ok(text) = crate::input::read_text(sweep_json, crate::input::MAX_REPORT_BYTES) else {
        return;
    };
    let Ok(doc) = serde_json::from_str::<serde_json::Value>(&text) else {
        return;
    };
    let mean = |s: &serde_json::Value, m: &str| s["metrics"][m]["mean"].as_f64();
    let pct = |v: Option<f64>| v.map_or("n/a".into(), |v| format!("{:.3}%", v * 100.0));
    let ms = |v: Option<f64>| v.map_or("n/a".into(), |v| format!("{v:.1} ms"));
    for s in doc["settings"].as_array().into_iter().flatten().take(3) {
        crate::outln!(
            "  #{} {}: read/write available {} / {}, stale reads {}, read p99.9 {}",
            s["rank"],
            s["id"].as_str().unwrap_or("?"),
            pct(mean(s, "read_availability")),
            pct(mean(s, "write_availability")),
            pct(mean(s, "stale_read_fraction")),
            ms(mean(s, "read_p999_ms")),
        );
    }
}

fn bad(message: String) -> Failure {
    Failure::trouble(message)
}

/// Runs (the missing part of) a sweep and, when every run has a result, writes the summary.
pub fn sweep(args: &SweepArgs) -> Result<SweepOutcome, Failure> {
    let axes = args
        .grid
        .iter()
        .map(|g| grid::parse_axis(g))
        .collect::<Result<Vec<_>, _>>()?;
    let shard = args
        .shard
        .as_deref()
        .map(Shard::parse)
        .transpose()?
        .unwrap_or(Shard::WHOLE);
    let jobs = jobs(args.jobs).map_err(bad)?;
    let sets = crate::scenario::parse_sets(&args.sets)?;
    let scenario = load_file(&args.scenario, &sets)?;
    let seeds = match &args.seeds {
        Some(raw) => grid::parse_seeds(raw)?,
        None => vec![scenario.seed],
    };
    let plan = Plan::new(&scenario, axes, seeds)?;
    for c in plan.invalid() {
        crate::errln!(
            "warning: skipping invalid setting {}: {}",
            c.id,
            c.errors.join("; ")
        );
    }
    if plan.runs.is_empty() {
        return Err(bad(
            "every setting of the grid is invalid; nothing to run".into()
        ));
    }
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| default_out(&plan.scenario_name));
    prepare_folder(&out, &plan, args.force)?;

    let mine: Vec<&RunSpec> = plan
        .runs
        .iter()
        .filter(|r| shard.contains(r.index))
        .collect();
    let (mut todo, mut reused) = (Vec::new(), Vec::new());
    for run in mine {
        match read_run(&out, &plan, run) {
            Existing::Valid(..) => reused.push(run.id.clone()),
            Existing::Missing => todo.push(run),
            Existing::Unusable(why) => {
                crate::errln!("warning: rerunning {}: {why}", run.id);
                todo.push(run);
            }
        }
    }
    if !args.no_memory_check {
        check_memory(&plan, &todo, jobs)?;
    }
    let show = !args.quiet && std::io::stderr().is_terminal();
    let bar = crate::progress::bar(todo.len() as u64, "runs", show);
    let failures = execute(&plan, &out, &todo, jobs, &bar);
    bar.finish_and_clear();
    if !failures.is_empty() {
        // A panic is a failed run (exit 1); a run file that cannot be written is trouble
        // (exit 2), and the most severe decides.
        let exit = failures
            .iter()
            .map(|(_, why)| why.exit)
            .max()
            .unwrap_or(Exit::Failed);
        let lines: Vec<String> = failures
            .iter()
            .map(|(run, why)| {
                format!(
                    "run {} failed: {}\n  reproduce: {}",
                    run.id,
                    why.message,
                    plan.reproduce_command(run, &sets)
                )
            })
            .collect();
        return Err(Failure {
            exit,
            message: lines.join("\n"),
        });
    }
    let complete = finish(&out, &plan)?;
    if !complete && !args.quiet {
        let present = plan
            .runs
            .iter()
            .filter(|r| matches!(read_run(&out, &plan, r), Existing::Valid(..)))
            .count();
        crate::errln!(
            "shard {}/{} done: {present} of {} runs of the sweep are in {}; when every shard has \
             finished, combine their folders with `dynasim merge DIR... --out DIR`",
            shard.k,
            shard.m,
            plan.runs.len(),
            out.display()
        );
    }
    Ok(SweepOutcome {
        out_dir: out,
        executed: todo.iter().map(|r| r.id.clone()).collect(),
        reused,
        invalid: plan.invalid().map(|c| c.id.clone()).collect(),
        total_runs: plan.runs.len(),
        complete,
    })
}

/// Gathers the run files of shard folders into one folder and writes the summary there,
/// exactly as a sweep that ran everything in that folder would have.
pub fn merge_dirs(args: &MergeArgs) -> Result<SweepOutcome, Failure> {
    let mut plan: Option<(Plan, &Path)> = None;
    for dir in &args.dirs {
        let p = read_plan(dir)?;
        match &plan {
            None => plan = Some((p, dir)),
            Some((first, first_dir)) if first.fingerprint != p.fingerprint => {
                return Err(bad(format!(
                    "{} and {} hold different sweeps (fingerprints {} and {}): only shards of one sweep can be merged",
                    first_dir.display(),
                    dir.display(),
                    first.fingerprint,
                    p.fingerprint
                )));
            }
            Some(_) => {}
        }
    }
    let Some((plan, _)) = plan else {
        return Err(bad("merge needs at least one sweep folder".into()));
    };
    prepare_folder(&args.out, &plan, args.force)?;
    let mut missing = Vec::new();
    let mut reused = Vec::new();
    for run in &plan.runs {
        if let Existing::Valid(..) = read_run(&args.out, &plan, run) {
            reused.push(run.id.clone());
            continue;
        }
        let found = args
            .dirs
            .iter()
            .find_map(|d| match read_run(d, &plan, run) {
                Existing::Valid(_, bytes) => Some(bytes),
                _ => None,
            });
        match found {
            Some(bytes) => {
                let path = run_path(&args.out, run);
                write_atomic(&path, &bytes).map_err(|e| Failure::cannot("write", &path, e))?;
                reused.push(run.id.clone());
            }
            None => missing.push(run.id.clone()),
        }
    }
    if !missing.is_empty() {
        let shown: Vec<&str> = missing.iter().take(10).map(String::as_str).collect();
        return Err(bad(format!(
            "{} of {} runs are in none of the folders (e.g. {}); run the missing shards first, \
             or let `dynasim sweep ... --out {}` compute them",
            missing.len(),
            plan.runs.len(),
            shown.join(", "),
            args.out.display()
        )));
    }
    finish(&args.out, &plan)?;
    Ok(SweepOutcome {
        out_dir: args.out.clone(),
        executed: Vec::new(),
        reused,
        invalid: plan.invalid().map(|c| c.id.clone()).collect(),
        total_runs: plan.runs.len(),
        complete: true,
    })
}

fn default_out(scenario_name: &str) -> PathBuf {
    let safe: String = scenario_name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '_'
            }
        })
        .collect();
    PathBuf::from("reports").join(format!("sweep-{safe}"))
}

/// The runs still to do, `jobs` at a time, must fit in the machine's available memory.
fn check_memory(plan: &Plan, todo: &[&RunSpec], jobs: usize) -> Result<(), Failure> {
    let scenarios: Vec<_> = todo
        .iter()
        .filter_map(|r| plan.scenario_for(r).ok())
        .collect();
    let refs: Vec<_> = scenarios.iter().collect();
    let available = crate::guard::available_bytes();
    crate::guard::check_fits_together(&refs, jobs, available, crate::guard::estimate_for_run)
        .map_err(Failure::trouble)
}

fn read_plan(dir: &Path) -> Result<Plan, Failure> {
    let path = dir.join(FINGERPRINT_FILE);
    let text = crate::input::read_text(&path, crate::input::MAX_SCENARIO_BYTES).map_err(|e| {
        bad(format!(
            "{}: not a sweep folder ({FINGERPRINT_FILE}: {e})",
            dir.display()
        ))
    })?;
    let doc: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| bad(format!("{}: invalid JSON: {e}", path.display())))?;
    Plan::from_definition(&doc, &path.display().to_string())
}

/// Makes `out` this plan's folder: creates it, or checks that it holds this same sweep.
/// With `force`, the folder of another sweep is taken over: its summary is removed, and its
/// run files, which carry the old fingerprint, are ignored and overwritten as runs finish.
fn prepare_folder(out: &Path, plan: &Plan, force: bool) -> Result<(), Failure> {
    let path = out.join(FINGERPRINT_FILE);
    match crate::input::read_text(&path, crate::input::MAX_SCENARIO_BYTES) {
        Ok(text) => {
            let old = serde_json::from_str::<serde_json::Value>(&text)
                .ok()
                .and_then(|v| {
                    v.get("fingerprint")
                        .and_then(|f| f.as_str().map(str::to_string))
                })
                .unwrap_or_else(|| "unreadable".into());
            if old == plan.fingerprint {
                return Ok(());
            }
            if !force {
                return Err(bad(format!(
                    "{} holds the results of a different sweep (fingerprint {old}; this one is {}): \
                     the scenario, the grid or the seeds changed. Use another --out, or --force to \
                     replace those results",
                    out.display(),
                    plan.fingerprint
                )));
            }
            for name in [SWEEP_JSON, SWEEP_MD, SWEEP_CSV, SWEEP_HTML] {
                match std::fs::remove_file(out.join(name)) {
                    Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                        return Err(Failure::cannot("remove", &out.join(name), e));
                    }
                    _ => {}
                }
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(Failure::cannot("read", &path, e)),
    }
    write_atomic(&path, plan.definition_json().as_bytes())
        .map_err(|e| Failure::cannot("write", &path, e))
}

fn run_path(out: &Path, run: &RunSpec) -> PathBuf {
    out.join(RUNS_DIR).join(format!("{}.json", run.id))
}

enum Existing {
    /// The result and the file's bytes.
    Valid(RunResult, Vec<u8>),
    Missing,
    Unusable(String),
}

fn read_run(dir: &Path, plan: &Plan, run: &RunSpec) -> Existing {
    let path = run_path(dir, run);
    let bytes = match crate::input::read_bytes(&path, crate::input::MAX_REPORT_BYTES) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Existing::Missing,
        Err(e) => return Existing::Unusable(format!("cannot read {}: {e}", path.display())),
    };
    let doc: serde_json::Value = match serde_json::from_slice(&bytes) {
        Ok(d) => d,
        Err(e) => return Existing::Unusable(format!("{} is not valid JSON: {e}", path.display())),
    };
    let fingerprint = doc.get("fingerprint").and_then(|f| f.as_str());
    if fingerprint != Some(plan.fingerprint.as_str()) {
        return Existing::Unusable(format!("{} belongs to another sweep", path.display()));
    }
    if doc.get("run_id").and_then(|f| f.as_str()) != Some(run.id.as_str()) {
        return Existing::Unusable(format!("{} holds another run", path.display()));
    }
    match doc.get("report") {
        // A report this version writes: its schema and its digest (a file cut short or
        // edited by hand, `"report": {}`, would read as a run with every figure zero).
        Some(report) if is_report(report) => Existing::Valid(RunResult::from_report(report), bytes),
        Some(_) => Existing::Unusable(format!(
            "{} holds no complete report (schema_version {} with a digest)",
            path.display(),
            crate::report::SCHEMA_VERSION
        )),
        None => Existing::Unusable(format!("{} has no report", path.display())),
    }
}

/// Whether `report` looks like a whole report of this version: its schema version, a
/// digest, and the sections a sweep reads.
fn is_report(report: &serde_json::Value) -> bool {
    let schema = report.get("schema_version").and_then(|v| v.as_u64());
    schema == Some(u64::from(crate::report::SCHEMA_VERSION))
        && report.get("digest").is_some_and(|d| d.is_string())
        && ["availability", "latency_ms", "consistency", "durability"]
            .iter()
            .all(|section| report.get(section).is_some_and(|s| s.is_object()))
}

/// A run's result file: the full report, tagged with the sweep and the run it belongs to.
#[derive(Serialize)]
struct RunFile<'a> {
    fingerprint: &'a str,
    run_id: &'a str,
    seed: u64,
    values: serde_json::Map<String, serde_json::Value>,
    report: &'a Report,
}

/// Runs `todo` on `jobs` threads that take the next run from a shared index. Each run's
/// result goes straight to its file, so the order runs finish in never matters. Returns the
/// runs that failed, in plan order.
fn execute<'p>(
    plan: &'p Plan,
    out: &Path,
    todo: &[&'p RunSpec],
    jobs: usize,
    bar: &indicatif::ProgressBar,
) -> Vec<(&'p RunSpec, Failure)> {
    let next = AtomicUsize::new(0);
    let failures = Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..jobs.min(todo.len()) {
            scope.spawn(|| {
                while let Some(&run) = todo.get(next.fetch_add(1, Ordering::Relaxed)) {
                    if let Err(why) = execute_one(plan, out, run) {
                        failures
                            .lock()
                            .unwrap_or_else(|p| p.into_inner())
                            .push((run, why));
                    }
                    bar.inc(1);
                }
            });
        }
    });
    let mut failures = failures.into_inner().unwrap_or_else(|p| p.into_inner());
    failures.sort_by_key(|(run, _)| run.index);
    failures
}

fn execute_one(plan: &Plan, out: &Path, run: &RunSpec) -> Result<(), Failure> {
    let scenario = plan
        .scenario_for(run)
        .map_err(|e| Failure::trouble(e.join("; ")))?;
    // A panic is a simulator bug: report it with the command that reproduces it, and let
    // the other runs finish.
    let report = catch_unwind(AssertUnwindSafe(|| {
        let mut sim = Simulation::new(&scenario);
        sim.run();
        Report::from_outcome(&sim.outcome())
    }))
    .map_err(|payload| {
        let what = crate::error::panic_message(&*payload);
        Failure::failed(format!("the simulator panicked: {what}"))
    })?;
    let values = plan
        .axes
        .iter()
        .zip(&plan.combinations[run.combination].values)
        .map(|(a, v)| (a.path.clone(), v.clone()))
        .collect();
    let file = RunFile {
        fingerprint: &plan.fingerprint,
        run_id: &run.id,
        seed: run.seed,
        values,
        report: &report,
    };
    let mut text = serde_json::to_string_pretty(&file)
        .map_err(|e| Failure::trouble(format!("cannot serialize the report: {e}")))?;
    text.push('\n');
    let path = run_path(out, run);
    write_atomic(&path, text.as_bytes()).map_err(|e| Failure::cannot("write", &path, e))
}

/// Writes plots, sweep.md, sweep.csv, sweep.html and, last, sweep.json when every run of the plan has a result.
/// Returns whether it did.
fn finish(out: &Path, plan: &Plan) -> Result<bool, Failure> {
    let mut results = Vec::with_capacity(plan.runs.len());
    for run in &plan.runs {
        match read_run(out, plan, run) {
            Existing::Valid(r, _) => results.push(r),
            _ => return Ok(false),
        }
    }
    let settings = stats::summarize(plan, &results);
    let notes = plots::write_all(out, plan, &settings)?;
    for (name, text) in [
        (SWEEP_MD, stats::sweep_markdown(plan, &settings, &notes)),
        (SWEEP_CSV, stats::sweep_csv(plan, &results)),
        (SWEEP_HTML, html::render(plan, &settings)),
        (SWEEP_JSON, stats::sweep_json(plan, &results, &settings)),
    ] {
        let path = out.join(name);
        write_atomic(&path, text.as_bytes()).map_err(|e| Failure::cannot("write", &path, e))?;
    }
    Ok(true)
}
