//! The command line: argument parsing (clap), then a validated scenario, then a run.
//! `main` is the one place a command's outcome becomes a process exit code (`error::Exit`:
//! 0 success, 1 the answer is no, 2 bad input or trouble; the table is in README.md).

use crate::engine::SimTime;
use crate::error::{Exit, Failure};
use crate::observer::History;
use crate::report::{Report, write_atomic};
use crate::scenario::{load_file, parse_sets};
use crate::sim::Simulation;
use clap::{Parser, Subcommand};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Parser, Debug)]
#[command(
    name = "dynasim",
    version,
    about = "A deterministic discrete-event simulator of Amazon's Dynamo"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Measure simulator speed at several cluster sizes (prints figures).
    Bench(crate::bench::BenchArgs),
    /// Run one scenario and write its report.
    Run(RunArgs),
    /// Check scenario files without running them.
    Validate {
        /// Scenario files (JSON).
        #[arg(required = true)]
        scenarios: Vec<PathBuf>,
    },
    /// Rerun scenarios and compare with their baseline reports (exit 0 pass, 1 regression, 2 bad input).
    Check(crate::check::CheckArgs),
    /// Compare two report.json files without rerunning: every field, grouped by section,
    /// the scenario's changes first (exit 0 same, 1 different, 2 bad input).
    Diff(crate::check::diff::DiffArgs),
    /// Run a scenario over a grid of settings and seeds, on all cores; resumable.
    Sweep(crate::sweep::SweepArgs),
    /// Combine the folders of a sharded sweep into one.
    Merge(crate::sweep::MergeArgs),
    /// Rerun the papers' experiments (scenarios/paper/: Dynamo §6, PBS) and put their numbers
    /// beside dynasim's (reproduce.json, reproduce.md, plots; exit 1 with --baseline when a
    /// row that agreed there no longer agrees).
    Reproduce(crate::reproduce::ReproduceArgs),
    /// Draw random valid scenarios from a seed, run each and check invariants (exit 1 on a violation).
    Swarm(SwarmArgs),
    /// Replay a run and tell the story of one key, request or anomaly (stdout, trace.json,
    /// trace.svg).
    Trace(crate::trace::TraceArgs),
    /// Print the scenario format as a JSON Schema (for editors: validation and completion).
    Schema,
    /// Write a small starting scenario to FILE, and scenario.schema.json beside it.
    New {
        /// The scenario file to write (refused if it exists, unless --force).
        file: PathBuf,
        /// The scenario's name (default: the file's name without .json).
        #[arg(long)]
        name: Option<String>,
        /// Overwrite FILE if it exists.
        #[arg(long)]
        force: bool,
    },
    /// Serve the browser playground (web/) on http://127.0.0.1:PORT/ until stopped.
    Serve {
        /// The port on 127.0.0.1 (0: any free port; the address is printed).
        #[arg(long, default_value_t = 8080)]
        port: u16,
        /// The playground's folder (default: web/ here, else the repository's web/ beside
        /// target/).
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
    },
}

#[derive(clap::Args, Debug)]
pub struct SwarmArgs {
    /// How many scenarios to draw.
    #[arg(long, default_value_t = 100)]
    pub count: u64,
    /// The swarm's seed: the same seed draws the same scenarios.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Run only case I of the swarm (to redraw a failure). A case is drawn from the seed
    /// and its index alone, so I may lie past --count.
    #[arg(long, value_name = "I")]
    pub only: Option<u64>,
    /// Keep going after a failing case.
    #[arg(long)]
    pub keep_going: bool,
    /// Where failing scenarios are written.
    #[arg(long, value_name = "DIR", default_value = "swarm-failures")]
    pub failures: PathBuf,
    /// Which faults to draw: any mix, or every case with joins or leaves (the membership
    /// swarm, judged for durability across membership changes).
    #[arg(long, value_enum, default_value_t = SwarmMix::Any)]
    pub mix: SwarmMix,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug)]
pub enum SwarmMix {
    Any,
    Membership,
}

#[derive(clap::Args, Debug)]
pub struct RunArgs {
    /// The scenario file (JSON).
    pub scenario: PathBuf,
    /// Override the scenario's seed.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Edit the scenario before validation: `--set replication.r=1` (repeatable).
    #[arg(long = "set", value_name = "PATH=VALUE")]
    pub sets: Vec<String>,
    /// Output folder (default: reports/<scenario name>/).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// No progress bar and no summary on the terminal.
    #[arg(long)]
    pub quiet: bool,
    /// Write wall time, events/s, ops/s and peak memory to this JSON file (kept out of
    /// report.json, which stays deterministic).
    #[arg(long, value_name = "FILE")]
    pub timings: Option<PathBuf>,
    /// Also write every client operation to FILE as JSON Lines (see docs/report.md).
    #[arg(long, value_name = "FILE")]
    pub history: Option<PathBuf>,
    /// Run even when the memory estimate exceeds the machine's available memory.
    #[arg(long)]
    pub no_memory_check: bool,
}

/// Exit code after an interrupting signal (128 + SIGINT, as shells report Ctrl-C).
pub const INTERRUPTED: i32 = 130;

/// On SIGINT, SIGTERM or SIGHUP: remove the temporary files of unfinished writes (every
/// finished output was renamed into place whole), say so, and exit with `INTERRUPTED`.
fn remove_temporaries_on_interrupt() {
    #[cfg(not(target_arch = "wasm32"))]
    let _ = ctrlc::set_handler(|| {
        let n = crate::atomic::remove_unfinished();
        crate::errln!("interrupted: removed {n} unfinished temporary file(s)");
        std::process::exit(INTERRUPTED);
    });
}

pub fn main() -> ExitCode {
    remove_temporaries_on_interrupt();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Run(args) => run(args),
        Command::Bench(args) => crate::bench::run(args),
        Command::Validate { scenarios } => validate(&scenarios),
        Command::Check(args) => crate::check::run(args),
        Command::Diff(args) => crate::check::diff::run(args),
        Command::Sweep(args) => crate::sweep::run(args),
        Command::Merge(args) => crate::sweep::merge(args),
        Command::Swarm(args) => swarm(args),
        Command::Reproduce(args) => crate::reproduce::run(args),
        Command::Trace(args) => crate::trace::run(args),
        Command::Schema => {
            crate::out!("{}", crate::scenario::starter::schema_json());
            Ok(())
        }
        Command::New { file, name, force } => new_scenario(&file, name, force),
        Command::Serve { port, dir } => crate::serve::serve(&dir.unwrap_or_else(web_dir), port),
    };
    match result {
        Ok(()) => exit_code(Exit::Success),
        Err(f) => {
            crate::errln!("error: {}", f.message);
            exit_code(f.exit)
        }
    }
}

/// `dynasim new`: the starter scenario, then its schema beside it (replaced: it follows
/// the binary); the scenario is checked by the loader before anything is written.
fn new_scenario(file: &Path, name: Option<String>, force: bool) -> Result<(), Failure> {
    use crate::scenario::starter::{SCHEMA_FILE, schema_json, starter};
    if file.exists() && !force {
        return Err(Failure::trouble(format!(
            "{} exists; name another file, or --force to overwrite it",
            file.display()
        )));
    }
    let name = name.unwrap_or_else(|| {
        let stem = file.file_stem().map(|s| s.to_string_lossy().into_owned());
        stem.filter(|s| !s.is_empty())
            .unwrap_or_else(|| "my-scenario".into())
    });
    let text = starter(&name);
    crate::scenario::load_str(&text, &file.display().to_string(), &[])?;
    let schema = file.with_file_name(SCHEMA_FILE);
    write_atomic(file, text.as_bytes()).map_err(|e| Failure::cannot("write", file, e))?;
    write_atomic(&schema, schema_json().as_bytes())
        .map_err(|e| Failure::cannot("write", &schema, e))?;
    crate::outln!(
        "wrote {} (scenario {name:?}) and {}; run it with: dynasim run {}",
        file.display(),
        schema.display(),
        file.display()
    );
    Ok(())
}

/// web/ in the working folder, else the repository's web/ two folders above the binary
/// (target/release/dynasim), else web/ as given (serve then says what is missing).
fn web_dir() -> PathBuf {
    let here = PathBuf::from("web");
    if here.join("index.html").is_file() {
        return here;
    }
    let beside_target = std::env::current_exe().ok().and_then(|exe| {
        let repo = exe.parent()?.parent()?.parent()?;
        Some(repo.join("web")).filter(|w| w.join("index.html").is_file())
    });
    beside_target.unwrap_or(here)
}

/// The one mapping from how a command ended to the process exit code.
fn exit_code(exit: Exit) -> ExitCode {
    ExitCode::from(exit.code())
}

fn run(args: RunArgs) -> Result<(), Failure> {
    let mut sets = parse_sets(&args.sets)?;
    if let Some(seed) = args.seed {
        sets.push(("seed".into(), seed.to_string()));
    }
    let scenario = load_file(&args.scenario, &sets)?;
    if !args.no_memory_check {
        crate::guard::check_fits(&scenario, crate::guard::available_bytes())
            .map_err(|message| Failure::trouble(message).context(args.scenario.display()))?;
    }
    let out_dir = args
        .out
        .unwrap_or_else(|| PathBuf::from("reports").join(&scenario.name));
    // Side files are checked before the run: found afterwards, a bad one cost the run
    // (an unwritable --timings lost report.json) or replaced one of its outputs.
    // So is the output folder's place: a file there cost the whole run before.
    crate::report::check_out_folder(&out_dir)?;
    for (flag, path) in [("--timings", &args.timings), ("--history", &args.history)] {
        if let Some(path) = path {
            check_side_file(flag, path, &out_dir)?;
        }
    }
    let mut sim = Simulation::new(&scenario);
    if let Some(path) = &args.history {
        let history = History::create(path).map_err(|e| Failure::cannot("create", path, e))?;
        sim.observer_mut().record_history(history);
    }
    let show_progress = !args.quiet && std::io::stderr().is_terminal();
    let started = std::time::Instant::now();
    run_with_progress(&mut sim, show_progress);
    let wall_s = started.elapsed().as_secs_f64();
    let report = Report::from_outcome(&sim.outcome());
    // The simulation's state goes before the outputs are rendered: a long timeline's
    // report.json and report.html are hundreds of MB, and the peak would hold both.
    let events = sim.events();
    let history = sim.take_history();
    drop(sim);
    let path = out_dir.join("report.json");
    let outputs = crate::report::write_run_folder(&report, &report.to_json(), &out_dir)
        .map_err(|e| Failure::cannot("write the report folder", &out_dir, e))?;
    if let Some(path) = &args.timings {
        let ops = report.observed.ops.read.attempted + report.observed.ops.write.attempted;
        let timings = crate::bench::Timings {
            wall_s,
            events,
            events_per_s: events as f64 / wall_s.max(1e-9),
            ops_per_s: ops as f64 / wall_s.max(1e-9),
            peak_rss_bytes: crate::bench::peak_rss_bytes(),
        };
        let text = serde_json::to_string_pretty(&timings).unwrap_or_default();
        write_atomic(path, text.as_bytes()).map_err(|e| Failure::cannot("write", path, e))?;
    }
    let history = match history {
        Some(h) => Some(h.finish().map_err(|e| {
            let path = args.history.as_deref().unwrap_or(Path::new(""));
            Failure::cannot("write the history", path, e)
        })?),
        None => None,
    };
    if !args.quiet {
        crate::out!("{}", report.human_summary());
        crate::outln!("report: {}", path.display());
        let plots = (outputs.iter())
            .filter(|p| p.extension().is_some_and(|e| e == "svg" || e == "png"))
            .count();
        crate::outln!(
            "report.html, summary, timeline.csv, latency.csv and {plots} plot files in {}",
            out_dir.display()
        );
        if let Some(h) = history {
            crate::outln!("history: {}", h.display());
        }
    }
    Ok(())
}

/// A side file of `run` (`--timings`, `--history`) must not be one of the files the run
/// writes into `out_dir`, and its folder must take a new file.
fn check_side_file(flag: &str, path: &Path, out_dir: &Path) -> Result<(), Failure> {
    let bad = |why: String| Failure::trouble(format!("{flag} {}: {why}", path.display()));
    let output_name = path
        .file_name()
        .is_some_and(|n| crate::report::is_run_output(&n.to_string_lossy()));
    let same_folder = match (std::path::absolute(path), std::path::absolute(out_dir)) {
        (Ok(p), Ok(o)) => p.parent() == Some(o.as_path()),
        _ => false,
    };
    if output_name && same_folder {
        return Err(bad(format!(
            "the run writes that file into {} itself; name another file",
            out_dir.display()
        )));
    }
    if path.is_dir() {
        return Err(bad("a folder; name a file".into()));
    }
    // A device or pipe is written in place when the run ends (not opened here: a pipe's
    // reader would see the end of its input); otherwise the folder the file goes to
    // (through its symbolic links) must take a file: try one beside it, then remove it.
    let target = match crate::atomic::destination(path) {
        Ok(crate::atomic::Destination::InPlace(_)) => return Ok(()),
        Ok(crate::atomic::Destination::Replace(file)) => file,
        Err(e) => return Err(bad(format!("cannot write there: {e}"))),
    };
    let probe = crate::atomic::temporary_sibling(&target)
        .and_then(|(_, tmp)| std::fs::File::create(&tmp).map(|_| tmp));
    match probe {
        Ok(tmp) => {
            let _ = std::fs::remove_file(&tmp);
            crate::atomic::settled(&tmp);
            Ok(())
        }
        Err(e) => Err(bad(format!("cannot write there: {e}"))),
    }
}

/// Runs to the end, advancing a progress bar in simulated seconds when asked.
fn run_with_progress(sim: &mut Simulation, show: bool) {
    if !show {
        sim.run();
        return;
    }
    let end_s = sim.end().as_secs_f64().ceil() as u64;
    let bar = crate::progress::bar(end_s, "simulated s", true);
    for s in 1..=end_s {
        sim.run_until(SimTime::from_secs_f64(s as f64));
        bar.set_position(s);
    }
    sim.run();
    bar.finish_and_clear();
}

fn validate(paths: &[PathBuf]) -> Result<(), Failure> {
    let mut messages = Vec::new();
    for path in paths {
        match load_file(path, &[]) {
            Ok(s) => crate::outln!(
                "{}: ok ({}, {}, about {} of memory to run)",
                path.display(),
                s.name,
                crate::report::format::counted(u64::from(s.node_count()), "node", "nodes"),
                crate::guard::human(crate::guard::estimate(&s).bytes)
            ),
            Err(e) => messages.push(e.to_string()),
        }
    }
    if messages.is_empty() {
        Ok(())
    } else {
        Err(Failure::trouble(messages.join("\n")))
    }
}

fn swarm(args: SwarmArgs) -> Result<(), Failure> {
    let opts = crate::swarm::SwarmOptions {
        seed: args.seed,
        count: args.count,
        only: args.only,
        keep_going: args.keep_going,
        failures_dir: args.failures,
        mix: match args.mix {
            SwarmMix::Any => crate::swarm::Mix::Any,
            SwarmMix::Membership => crate::swarm::Mix::Membership,
        },
    };
    let summary = crate::swarm::run(&opts, &mut std::io::stdout());
    crate::outln!(
        "swarm seed {}: {} passed, {} failed",
        args.seed,
        summary.passed,
        summary.failed.len()
    );
    for (invariant, cases) in &summary.judged {
        crate::outln!("  {cases} passing case(s) judged by: {invariant}");
    }
    if summary.failed.is_empty() {
        Ok(())
    } else {
        Err(Failure::failed(format!(
            "invariants broken in case(s) {:?} of swarm seed {}",
            summary.failed.iter().map(|f| f.0).collect::<Vec<_>>(),
            args.seed
        )))
    }
}
