//! `dynasim reproduce`: the experiments of `scenarios/paper/` (Dynamo §6, PBS) run, their
//! rows judged against the papers' numbers under tolerances the experiment files state,
//! and the results written as reproduce.json, reproduce.md and plots/. With `--baseline`
//! the verdicts are compared with a committed reproduce.json (CI): exit 1 when a row that
//! agreed there no longer agrees.
//!
//! Layout: `experiment` (the file format, loading and run expansion), `expr` (how a row's
//! number is computed), `verdict` (comparisons, verdicts, the CI rule), `wars` (the PBS
//! model, independent of the simulator), `output` (reproduce.json and reproduce.md),
//! `plots` (figures); this file does the runs (independent, on `--jobs` threads, each
//! single-threaded and deterministic) and the files.

pub mod experiment;
pub mod expr;
pub mod output;
pub mod plots;
pub mod template;
pub mod verdict;
pub mod wars;

use crate::error::Failure;
use crate::report::write_atomic;
use experiment::{Experiment, RunSpec};
use expr::{Data, Expr, Val};
use output::{Document, ExperimentRecord, RowRecord, Summary};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use verdict::Verdict;
use wars::Config;

pub const JSON_FILE: &str = "reproduce.json";
pub const MD_FILE: &str = "reproduce.md";
pub const PLOTS_DIR: &str = "plots";

#[derive(clap::Args, Debug, Clone)]
pub struct ReproduceArgs {
    /// The quick set (a few minutes on two cores): experiments, runs and rows marked
    /// full_only are left out.
    #[arg(long)]
    pub quick: bool,
    /// Only this experiment (its id, the file name without .json); repeatable.
    #[arg(long = "only", value_name = "ID")]
    pub only: Vec<String>,
    /// The output folder: reproduce.json, reproduce.md and plots/.
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Where the experiment files are.
    #[arg(long, value_name = "DIR", default_value = "scenarios/paper")]
    pub experiments: PathBuf,
    /// A committed reproduce.json to compare verdicts with: exit 1 when a row that agreed
    /// (or agreed qualitatively) there differs now or is gone.
    #[arg(long, value_name = "FILE")]
    pub baseline: Option<PathBuf>,
    /// Simulations run at once, one per thread [default: the number of cores].
    #[arg(long, value_name = "J")]
    pub jobs: Option<usize>,
    /// No progress and no table on the terminal.
    #[arg(long)]
    pub quiet: bool,
    /// Run even when the memory estimate (of J runs at once) exceeds the available memory.
    #[arg(long)]
    pub no_memory_check: bool,
}

/// The `reproduce` command.
pub fn run(args: ReproduceArgs) -> Result<(), Failure> {
    let started = std::time::Instant::now();
    let jobs = crate::sweep::jobs(args.jobs).map_err(Failure::trouble)?;
    // The baseline is read first: a bad one should not cost the runs.
    let baseline = args.baseline.as_deref().map(read_verdicts).transpose()?;
    let experiments = load_all(&args.experiments, &args.only, args.quick)?;
    let runs: Vec<&RunSpec> = experiments.iter().flat_map(|e| &e.runs).collect();
    let wanted = wanted_models(&experiments);
    if !args.no_memory_check {
        let scenarios: Vec<_> = runs.iter().map(|r| &r.scenario).collect();
        // The model's draws are held while the runs go on.
        let held = models_bytes(&wanted);
        let available = crate::guard::available_bytes().map(|a| a.saturating_sub(held));
        crate::guard::check_fits_together(
            &scenarios,
            jobs,
            available,
            crate::guard::estimate_for_run,
        )
        .map_err(|e| {
            Failure::trouble(format!(
                "{e} (what is available after the WARS model's draws, about {})",
                crate::guard::human(held)
            ))
        })?;
    }
    let models = compute_models(wanted, jobs);
    let reports = execute(&runs, jobs, !args.quiet)?;
    let doc = judge_all(&experiments, &reports, &models, args.quick);
    let command = command_line(&args);
    write_outputs(
        &args.out,
        &experiments,
        &reports,
        &models,
        doc,
        &command,
        args.quiet,
    )?;
    if !args.quiet {
        crate::outln!(
            "wall time {:.1} s; results: {}",
            started.elapsed().as_secs_f64(),
            args.out.join(MD_FILE).display()
        );
    }
    match baseline {
        Some(base) => check_baseline(
            &base,
            &args.out.join(JSON_FILE),
            args.baseline.as_deref().unwrap_or(Path::new("")),
        ),
        None => Ok(()),
    }
}

fn command_line(args: &ReproduceArgs) -> String {
    let mut c = String::from("dynasim reproduce");
    if args.quick {
        c.push_str(" --quick");
    }
    for id in &args.only {
        c.push_str(&format!(" --only {id}"));
    }
    c
}

/// Every experiment file in `dir` (name order), or those `only` names.
pub fn load_all(dir: &Path, only: &[String], quick: bool) -> Result<Vec<Experiment>, Failure> {
    let entries = std::fs::read_dir(dir)
        .map_err(|e| Failure::cannot("read the experiments folder", dir, e))?;
    let mut paths: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.is_file() && p.extension().is_some_and(|x| x == "json"))
        .collect();
    paths.sort();
    let ids: Vec<String> = paths
        .iter()
        .filter_map(|p| Some(p.file_stem()?.to_string_lossy().into_owned()))
        .collect();
    for id in only {
        if !ids.contains(id) {
            let near = crate::scenario::nearest(id, ids.iter().map(String::as_str));
            return Err(Failure::trouble(format!(
                "--only {id}: no experiment {id}.json in {}{}",
                dir.display(),
                near.map_or(String::new(), |n| format!(" (did you mean {n}?)"))
            )));
        }
    }
    let mut errors = Vec::new();
    let mut experiments = Vec::new();
    for (path, id) in paths.iter().zip(&ids) {
        if !only.is_empty() && !only.contains(id) {
            continue;
        }
        match experiment::load(path, quick) {
            Ok(e) if quick && e.file.full_only => {}
            Ok(e) => experiments.push(e),
            Err(e) => errors.push(e),
        }
    }
    // Row ids name rows across experiments (--baseline compares by id).
    let mut row_ids: BTreeMap<&str, &str> = BTreeMap::new();
    for e in &experiments {
        for r in &e.rows {
            if let Some(other) = row_ids.insert(&r.def.id, &e.file.id) {
                errors.push(format!(
                    "{}: row id {:?} is used by experiment {other:?} too; row ids must be unique across experiments",
                    e.path.display(),
                    r.def.id
                ));
            }
        }
    }
    let mut seen = BTreeSet::new();
    for e in &experiments {
        for p in &e.plots {
            if !seen.insert(p.def.file.clone()) {
                errors.push(format!(
                    "{}: plot file {:?} is used by another plot",
                    e.path.display(),
                    p.def.file
                ));
            }
        }
    }
    if !errors.is_empty() {
        return Err(Failure::trouble(errors.join("\n")));
    }
    if experiments.is_empty() {
        return Err(Failure::trouble(format!(
            "no experiment to run in {}",
            dir.display()
        )));
    }
    Ok(experiments)
}

/// A path as reproduce.json records it: relative to the working folder when it lies inside
/// it, so that `--experiments scenarios/paper` and the same folder given absolutely write
/// the same bytes.
fn shown_path(path: &Path) -> String {
    let relative = std::env::current_dir()
        .ok()
        .and_then(|cwd| path.strip_prefix(cwd).ok().map(Path::to_path_buf));
    relative.as_deref().unwrap_or(path).display().to_string()
}

/// WARS outcomes by configuration and the asking experiment's settings.
type Models = BTreeMap<(Config, experiment::ModelSettings), wars::Outcome>;

/// The WARS configurations the experiments ask for, each with the asking experiment's
/// settings (seed, trials): drawn once per pair, so that an experiment's numbers never
/// depend on which other experiments ran with it (`--only`).
fn wanted_models(experiments: &[Experiment]) -> Vec<(Config, experiment::ModelSettings)> {
    let mut wanted: BTreeSet<(Config, experiment::ModelSettings)> = BTreeSet::new();
    for e in experiments {
        let mut configs = Vec::new();
        for r in &e.rows {
            for x in [Some(&r.paper), Some(&r.dynasim), r.model.as_ref()]
                .into_iter()
                .flatten()
            {
                x.models(&mut configs);
            }
            r.compare.models(&mut configs);
        }
        for p in &e.plots {
            for (_, pts) in &p.series {
                pts.iter().for_each(|(x, y)| {
                    x.models(&mut configs);
                    y.models(&mut configs);
                });
            }
        }
        wanted.extend(configs.into_iter().map(|c| (c, e.file.model)));
    }
    wanted.into_iter().collect()
}

/// Memory the model's draws hold while the runs go on: three f64 per trial each (read,
/// write and consistent-from times).
fn models_bytes(wanted: &[(Config, experiment::ModelSettings)]) -> u64 {
    (wanted.iter())
        .map(|(_, m)| m.trials as u64 * 3 * 8)
        .fold(0, u64::saturating_add)
}

/// Draws every configuration asked for once, on `jobs` threads.
fn compute_models(todo: Vec<(Config, experiment::ModelSettings)>, jobs: usize) -> Models {
    let done = Mutex::new(BTreeMap::new());
    let next = AtomicUsize::new(0);
    std::thread::scope(|s| {
        for _ in 0..jobs.min(todo.len()) {
            s.spawn(|| {
                while let Some((c, m)) = todo.get(next.fetch_add(1, Ordering::Relaxed)) {
                    let outcome = c.simulate(m.trials, m.seed);
                    done.lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .insert((*c, *m), outcome);
                }
            });
        }
    });
    done.into_inner().unwrap_or_else(|p| p.into_inner())
}

/// Runs every simulation on `jobs` threads; the reports as JSON, keyed by (experiment,
/// run). A panic is a simulator bug: reported with the experiment and run.
fn execute(
    runs: &[&RunSpec],
    jobs: usize,
    progress: bool,
) -> Result<BTreeMap<(String, String), Value>, Failure> {
    let next = AtomicUsize::new(0);
    let finished = AtomicUsize::new(0);
    let results = Mutex::new(BTreeMap::new());
    let failures = Mutex::new(Vec::new());
    let total = runs.len();
    std::thread::scope(|s| {
        for _ in 0..jobs.min(total) {
            s.spawn(|| {
                while let Some(run) = runs.get(next.fetch_add(1, Ordering::Relaxed)) {
                    let t0 = std::time::Instant::now();
                    let outcome = catch_unwind(AssertUnwindSafe(|| {
                        crate::check::run_scenario(&run.scenario).json
                    }));
                    let k = finished.fetch_add(1, Ordering::Relaxed) + 1;
                    let mut events = 0;
                    match outcome.map(|json| serde_json::from_str::<Value>(&json)) {
                        Ok(Ok(doc)) => {
                            events = doc["events"].as_u64().unwrap_or(0);
                            results
                                .lock()
                                .unwrap_or_else(|p| p.into_inner())
                                .insert((run.experiment.clone(), run.name.clone()), doc);
                        }
                        Ok(Err(e)) => {
                            failures
                                .lock()
                                .unwrap_or_else(|p| p.into_inner())
                                .push(format!(
                                    "{}/{}: unreadable report: {e}",
                                    run.experiment, run.name
                                ))
                        }
                        Err(payload) => {
                            let what = crate::error::panic_message(&*payload);
                            failures
                                .lock()
                                .unwrap_or_else(|p| p.into_inner())
                                .push(format!(
                                    "{}/{}: the simulator panicked: {what}",
                                    run.experiment, run.name
                                ));
                        }
                    }
                    if progress {
                        crate::errln!(
                            "[{k}/{total}] {}/{} ({:.1} s, {:.1} million events)",
                            run.experiment,
                            run.name,
                            t0.elapsed().as_secs_f64(),
                            events as f64 / 1e6
                        );
                    }
                }
            });
        }
    });
    let mut failures = failures.into_inner().unwrap_or_else(|p| p.into_inner());
    if !failures.is_empty() {
        failures.sort();
        return Err(Failure::failed(failures.join("\n")));
    }
    Ok(results.into_inner().unwrap_or_else(|p| p.into_inner()))
}

/// The reports of one experiment, by run name.
fn reports_of(e: &Experiment, all: &BTreeMap<(String, String), Value>) -> BTreeMap<String, Value> {
    e.runs
        .iter()
        .filter_map(|r| {
            Some((
                r.name.clone(),
                all.get(&(r.experiment.clone(), r.name.clone()))?.clone(),
            ))
        })
        .collect()
}

/// Judges every row of every experiment.
fn judge_all(
    experiments: &[Experiment],
    all: &BTreeMap<(String, String), Value>,
    models: &Models,
    quick: bool,
) -> Document {
    let mut rows = Vec::new();
    let mut records = Vec::new();
    for e in experiments {
        let reports = reports_of(e, all);
        let data = Data {
            reports: &reports,
            models,
            settings: e.file.model,
        };
        for r in &e.rows {
            rows.push(judge_row(e, r, &data));
        }
        records.push(ExperimentRecord {
            id: e.file.id.clone(),
            title: e.file.title.clone(),
            paper: e.file.paper.citation().into(),
            file: shown_path(&e.path),
            scenario: shown_path(&e.scenario_path),
            runs: e.runs.len(),
            modelled: e.file.modelled.clone(),
            assumed: e.file.assumed.clone(),
            plots: e.plots.iter().map(|p| p.def.file.clone()).collect(),
            plot_notes: Vec::new(),
        });
    }
    Document {
        set: if quick { "quick" } else { "full" }.into(),
        summary: Summary::of(&rows),
        rows,
        experiments: records,
    }
}

fn judge_row(e: &Experiment, r: &experiment::Row, data: &Data) -> RowRecord {
    let def = &r.def;
    let evaluated = (|| -> Result<(Val, Val, Option<Val>), String> {
        let paper = r
            .paper
            .eval(data)
            .map_err(|e| format!("the paper's value: {e}"))?;
        let dynasim = r.dynasim.eval(data)?;
        let model = r
            .model
            .as_ref()
            .map(|m| m.eval(data))
            .transpose()
            .map_err(|e| format!("the model: {e}"))?;
        Ok((paper, dynasim, model))
    })();
    let mut record = RowRecord {
        id: def.id.clone(),
        experiment: e.file.id.clone(),
        source: def.source.clone(),
        metric: def.metric.clone(),
        paper: Value::Null,
        dynasim: Value::Null,
        model: Value::Null,
        tolerance: String::new(),
        tolerance_reason: def.tolerance_reason.clone(),
        verdict: Verdict::Differs,
        why: None,
    };
    let (paper, dynasim, model) = match evaluated {
        Ok(v) => v,
        Err(why) => {
            record.paper = r.paper.eval(data).map_or(Value::Null, |v| v.to_json());
            record.tolerance = "n/a".into();
            record.why = Some(format!("no value: {why}"));
            return record;
        }
    };
    record.paper = paper.to_json();
    record.dynasim = dynasim.to_json();
    record.model = model.as_ref().map_or(Value::Null, Val::to_json);
    match r.compare.judge(&paper, &dynasim, data) {
        Ok(j) => {
            record.tolerance = j.tolerance;
            record.verdict = match (j.agrees, def.qualitative || r.compare.is_qualitative()) {
                (false, _) => Verdict::Differs,
                (true, true) => Verdict::QualitativeAgrees,
                (true, false) => Verdict::Agrees,
            };
            if !j.agrees {
                record.why = Some(
                    def.why
                        .clone()
                        .unwrap_or_else(|| "not explained yet".into()),
                );
            }
        }
        Err(why) => {
            record.tolerance = "n/a".into();
            record.why = Some(format!("cannot compare: {why}"));
        }
    }
    record
}

/// Evaluates a plot's points; a point without a value is left out and noted.
fn chart_of(p: &experiment::Plot, data: &Data, notes: &mut Vec<String>) -> plots::Chart {
    let series = p
        .series
        .iter()
        .map(|(s, pts)| {
            let mut points = Vec::new();
            for (x, y) in pts {
                let xy = |e: &Expr| e.eval(data).ok().and_then(|v| v.as_f64());
                match (xy(x), xy(y)) {
                    (Some(x), Some(y)) => points.push((x, y)),
                    _ => notes.push(format!(
                        "{}: a point of {:?} has no value",
                        p.def.file, s.label
                    )),
                }
            }
            plots::Series {
                label: s.label.clone(),
                style: s.style,
                color: s.color,
                points,
            }
        })
        .collect();
    plots::Chart {
        title: p.def.title.clone(),
        note: p.def.note.clone(),
        x_label: p.def.x_label.clone(),
        y_label: p.def.y_label.clone(),
        log_x: p.def.log_x,
        log_y: p.def.log_y,
        series,
    }
}

// long: one flat sequence of writes (plots, reproduce.json, reproduce.md, the terminal
// table), each with its own error context.
fn write_outputs(
    out: &Path,
    experiments: &[Experiment],
    all: &BTreeMap<(String, String), Value>,
    models: &Models,
    mut doc: Document,
    command: &str,
    quiet: bool,
) -> Result<(), Failure> {
    let plots_dir = out.join(PLOTS_DIR);
    std::fs::create_dir_all(&plots_dir).map_err(|e| Failure::cannot("create", &plots_dir, e))?;
    for (e, record) in experiments.iter().zip(doc.experiments.iter_mut()) {
        let reports = reports_of(e, all);
        let data = Data {
            reports: &reports,
            models,
            settings: e.file.model,
        };
        for p in &e.plots {
            let chart = chart_of(p, &data, &mut record.plot_notes);
            let (svg, png) = plots::render(&chart)
                .map_err(|err| Failure::trouble(format!("plot {}: {err}", p.def.file)))?;
            for (ext, bytes) in [("svg", svg), ("png", png)] {
                let path = plots_dir.join(format!("{}.{ext}", p.def.file));
                write_atomic(&path, &bytes).map_err(|err| Failure::cannot("write", &path, err))?;
            }
        }
        record.plot_notes.dedup();
    }
    let mut json = serde_json::to_string_pretty(&doc)
        .map_err(|e| Failure::trouble(format!("cannot serialize the results: {e}")))?;
    json.push('\n');
    let md = output::markdown(&doc, command);
    for (name, text) in [(MD_FILE, md), (JSON_FILE, json)] {
        let path = out.join(name);
        write_atomic(&path, text.as_bytes()).map_err(|e| Failure::cannot("write", &path, e))?;
    }
    if !quiet {
        for r in &doc.rows {
            crate::outln!(
                "{:<18} {:<34} paper {:<14} dynasim {:<22} {}",
                r.verdict.name(),
                r.id,
                output::show(&r.paper),
                output::show(&r.dynasim),
                r.why.as_deref().unwrap_or("")
            );
        }
        crate::outln!("{}", doc.summary.line());
    }
    Ok(())
}

/// The (row id, verdict) pairs of a reproduce.json.
pub fn read_verdicts(path: &Path) -> Result<Vec<(String, Verdict)>, Failure> {
    let text = crate::input::read_text(path, crate::input::MAX_REPORT_BYTES)
        .map_err(|e| Failure::cannot("read", path, e))?;
    let doc: Document = serde_json::from_str(&text)
        .map_err(|e| Failure::trouble(format!("{}: not a reproduce.json: {e}", path.display())))?;
    Ok(doc.rows.into_iter().map(|r| (r.id, r.verdict)).collect())
}

/// The CI rule (`verdict::compare_verdicts`) against the results just written.
fn check_baseline(
    base: &[(String, Verdict)],
    now_path: &Path,
    base_path: &Path,
) -> Result<(), Failure> {
    let now = read_verdicts(now_path)?;
    let (regressions, improvements) = verdict::compare_verdicts(base, &now);
    for i in &improvements {
        crate::outln!("now agrees (was differing in {}): {i}", base_path.display());
    }
    if regressions.is_empty() {
        crate::outln!(
            "verdicts: every row that agreed in {} still agrees",
            base_path.display()
        );
        return Ok(());
    }
    Err(Failure::failed(format!(
        "{} row(s) that agreed in {} no longer agree:\n  {}",
        regressions.len(),
        base_path.display(),
        regressions.join("\n  ")
    )))
}
