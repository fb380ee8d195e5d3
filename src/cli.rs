//! The command line: argument parsing (clap), then a validated scenario, then a run.
//! Exit codes: 0 ok, 1 runtime failure (e.g. cannot write the report), 2 bad input.

use crate::engine::SimTime;
use crate::report::{Report, write_atomic};
use crate::scenario::{ScenarioErrors, load_file};
use crate::sim::Simulation;
use clap::{Parser, Subcommand};
use std::io::IsTerminal;
use std::path::PathBuf;
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
    /// Draw random valid scenarios from a seed, run each and check invariants (exit 1 on a violation).
    Swarm(SwarmArgs),
}

#[derive(clap::Args, Debug)]
pub struct SwarmArgs {
    /// How many scenarios to draw.
    #[arg(long, default_value_t = 100)]
    pub count: u64,
    /// The swarm's seed: the same seed draws the same scenarios.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Run only case I of the swarm (to redraw a failure).
    #[arg(long, value_name = "I")]
    pub only: Option<u64>,
    /// Keep going after a failing case.
    #[arg(long)]
    pub keep_going: bool,
    /// Where failing scenarios are written.
    #[arg(long, value_name = "DIR", default_value = "swarm-failures")]
    pub failures: PathBuf,
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
    /// Run even when the memory estimate exceeds the machine's available memory.
    #[arg(long)]
    pub no_memory_check: bool,
}

/// A failure with its exit code.
pub struct Failure {
    pub code: u8,
    pub message: String,
}

impl From<ScenarioErrors> for Failure {
    fn from(e: ScenarioErrors) -> Self {
        Failure {
            code: 2,
            message: e.to_string(),
        }
    }
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Run(args) => run(args),
        Command::Validate { scenarios } => validate(&scenarios),
        Command::Check(args) => crate::check::run(args),
        Command::Swarm(args) => swarm(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) => {
            eprintln!("error: {}", f.message);
            ExitCode::from(f.code)
        }
    }
}

/// Splits `PATH=VALUE` arguments.
pub fn parse_sets(sets: &[String]) -> Result<Vec<(String, String)>, Failure> {
    sets.iter()
        .map(|s| match s.split_once('=') {
            Some((p, v)) if !p.trim().is_empty() => Ok((p.trim().to_string(), v.to_string())),
            _ => Err(Failure {
                code: 2,
                message: format!("--set {s:?}: expected PATH=VALUE, e.g. replication.r=1"),
            }),
        })
        .collect()
}

fn run(args: RunArgs) -> Result<(), Failure> {
    let mut sets = parse_sets(&args.sets)?;
    if let Some(seed) = args.seed {
        sets.push(("seed".into(), seed.to_string()));
    }
    let scenario = load_file(&args.scenario, &sets)?;
    if !args.no_memory_check {
        crate::guard::check_fits(&scenario, crate::guard::available_bytes()).map_err(
            |message| Failure {
                code: 2,
                message: format!("{}: {message}", args.scenario.display()),
            },
        )?;
    }
    let out_dir = args
        .out
        .unwrap_or_else(|| PathBuf::from("reports").join(&scenario.name));
    let mut sim = Simulation::new(&scenario);
    let show_progress = !args.quiet && std::io::stderr().is_terminal();
    run_with_progress(&mut sim, show_progress);
    let report = Report::from_simulation(&sim);
    let path = out_dir.join("report.json");
    write_atomic(&path, report.to_json().as_bytes()).map_err(|e| Failure {
        code: 1,
        message: format!("cannot write {}: {e}", path.display()),
    })?;
    if !args.quiet {
        print!("{}", report.human_summary());
        println!("report: {}", path.display());
    }
    Ok(())
}

/// Runs to the end, advancing a progress bar in simulated seconds when asked.
fn run_with_progress(sim: &mut Simulation, show: bool) {
    if !show {
        sim.run();
        return;
    }
    let end_s = sim.end().as_secs_f64().ceil() as u64;
    let bar = indicatif::ProgressBar::new(end_s.max(1));
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{spinner} [{bar:40}] {pos}/{len} simulated s ({eta} left)",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
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
            Ok(s) => println!(
                "{}: ok ({}, {} nodes, about {} of memory to run)",
                path.display(),
                s.name,
                s.node_count(),
                crate::guard::human(crate::guard::estimate(&s).bytes)
            ),
            Err(e) => messages.push(e.to_string()),
        }
    }
    if messages.is_empty() {
        Ok(())
    } else {
        Err(Failure {
            code: 2,
            message: messages.join("\n"),
        })
    }
}

fn swarm(args: SwarmArgs) -> Result<(), Failure> {
    let opts = crate::swarm::SwarmOptions {
        seed: args.seed,
        count: args.count,
        only: args.only,
        keep_going: args.keep_going,
        failures_dir: args.failures,
    };
    let summary = crate::swarm::run(&opts, &mut std::io::stdout());
    println!(
        "swarm seed {}: {} passed, {} failed",
        args.seed,
        summary.passed,
        summary.failed.len()
    );
    for (invariant, cases) in &summary.judged {
        println!("  {cases} passing case(s) judged by: {invariant}");
    }
    if summary.failed.is_empty() {
        Ok(())
    } else {
        Err(Failure {
            code: 1,
            message: format!(
                "invariants broken in case(s) {:?} of swarm seed {}",
                summary.failed.iter().map(|f| f.0).collect::<Vec<_>>(),
                args.seed
            ),
        })
    }
}
