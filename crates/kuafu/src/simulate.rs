//! `kuafu sim`: sweeps the deterministic simulator over many seeds with a
//! progress bar, or replays one seed with every event logged.

use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use sim::{Mutation, SeedConfig, SweepConfig, SweepReport, run_seed, sweep};

/// What to simulate.
#[derive(Args, Debug)]
pub struct SimArgs {
    /// How many seeds to run.
    #[arg(long, default_value_t = 100)]
    pub seeds: u64,
    /// The first seed (a replay names the seed to rerun).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Steps per seed (the fault phase, then the liveness phase).
    #[arg(long, default_value_t = 100_000)]
    pub steps: u64,
    /// Run a deliberately broken variant, to see the simulator catch it
    /// (`sim::Mutation::ALL`; an unknown name lists them).
    #[arg(long)]
    pub mutation: Option<Mutation>,
    /// Worker threads (default: every core).
    #[arg(long)]
    pub threads: Option<usize>,
    /// Also run the real SQLite store beside the model on one seed in this many
    /// (0: never).
    #[arg(long)]
    pub sqlite_every: Option<u64>,
    /// Replay the first seed alone, printing every event.
    #[arg(long)]
    pub log: bool,
}

/// Runs the sweep (or the logged replay); the report says whether it passed.
pub fn run(args: &SimArgs) -> Result<(), String> {
    let defaults = SweepConfig::default();
    let config = SweepConfig {
        seeds: args.seeds,
        first_seed: args.seed,
        steps_per_seed: args.steps,
        mutation: args.mutation,
        threads: args.threads.unwrap_or(defaults.threads),
        sqlite_every: args.sqlite_every.unwrap_or(defaults.sqlite_every),
        ..defaults
    };
    if args.log {
        return replay_logged(&config);
    }
    let report = sweep_with_progress(&config);
    println!("{report}");
    if report.passed() {
        Ok(())
    } else {
        Err(failure(&report))
    }
}

fn sweep_with_progress(config: &SweepConfig) -> SweepReport {
    let bar = ProgressBar::new(config.seeds);
    let style =
        ProgressStyle::with_template("{elapsed_precise} [{bar:30}] {pos}/{len} seeds, eta {eta}");
    bar.set_style(style.unwrap_or_else(|_| ProgressStyle::default_bar()));
    let report = sweep(config, |done| bar.set_position(done));
    bar.finish_and_clear();
    eprintln!(
        "sometimes: {}; seeds with SQLite beside the model: {}",
        report.sometimes, report.sqlite_seeds
    );
    report
}

fn replay_logged(config: &SweepConfig) -> Result<(), String> {
    let seed_config = SeedConfig {
        steps: config.steps_per_seed,
        mutation: config.mutation,
        sqlite_every: config.sqlite_every,
        log: true,
        waived: Vec::new(),
    };
    let report = run_seed(config.first_seed, &seed_config);
    println!("{report:#?}");
    if report.violations.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "seed {} violated {} invariant(s)",
            report.seed,
            report.violations.len()
        ))
    }
}

fn failure(report: &SweepReport) -> String {
    if report.violations() > 0 {
        format!(
            "{} violation(s); each names the command that replays it",
            report.violations()
        )
    } else {
        let missing: Vec<String> = report
            .missing_sometimes
            .iter()
            .map(ToString::to_string)
            .collect();
        format!("never happened in this sweep: {}", missing.join(", "))
    }
}
