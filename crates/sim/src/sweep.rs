//! A sweep: many seeds, split between threads, summed into one report whose
//! last line is `sim: seeds=N steps=S faults=F violations=V steps_per_s=R`,
//! after a line of the faults per kind (injected, and steps run with the
//! kind on).
//! Every failing seed is printed with its step, its fault mix and the command
//! that replays it. Seeds are independent and their reports are ordered by
//! seed, so the report does not depend on thread timing (except the speed).

use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::fault_kinds::FaultCounts;
use crate::{
    Mutation, Property, SQLITE_EVERY_DEFAULT, STEPS_PER_SEED_DEFAULT, SeedConfig, SeedReport,
    Sometimes, Violation, run_seed,
};

/// A sweep judges the sometimes-properties only from this many seeds on:
/// a handful of seeds may rightly miss a rare path.
pub const SOMETIMES_SEEDS_MIN: u64 = 20;

/// How to run a sweep.
#[derive(Clone, Debug)]
pub struct SweepConfig {
    /// How many seeds.
    pub seeds: u64,
    /// The first seed; the sweep runs `first_seed..first_seed + seeds`.
    pub first_seed: u64,
    /// Safety-phase steps per seed.
    pub steps_per_seed: u64,
    /// The deliberate bug to switch on, if any.
    pub mutation: Option<Mutation>,
    /// Threads to run seeds on.
    pub threads: usize,
    /// One seed in this many runs SQLite beside the model (0: never).
    pub sqlite_every: u64,
    /// Stop taking new seeds once one found a violation (the mutation tests
    /// use it; the seeds already running finish).
    pub stop_at_first_violation: bool,
    /// Known failures, reported apart (see [`SeedConfig::waived`]).
    pub waived: Vec<Property>,
}

impl Default for SweepConfig {
    fn default() -> Self {
        Self {
            seeds: 1,
            first_seed: 1,
            steps_per_seed: STEPS_PER_SEED_DEFAULT,
            mutation: None,
            threads: std::thread::available_parallelism().map_or(1, usize::from),
            sqlite_every: SQLITE_EVERY_DEFAULT,
            stop_at_first_violation: false,
            waived: Vec::new(),
        }
    }
}

/// What a sweep found.
#[derive(Clone, Debug)]
pub struct SweepReport {
    /// Seeds run (fewer than asked when the sweep stopped at a violation).
    pub seeds: u64,
    /// Steps run in all.
    pub steps: u64,
    /// Faults injected in all, per kind, with the steps run with each on.
    pub faults: FaultCounts,
    /// Seeds that ran SQLite beside the model.
    pub sqlite_seeds: u64,
    /// The seeds that found a violation, ordered by seed.
    pub failures: Vec<SeedReport>,
    /// The violations of waived properties, ordered by seed.
    pub waived: Vec<Violation>,
    /// The sometimes-properties summed over the sweep.
    pub sometimes: Sometimes,
    /// Sometimes-properties that never happened (judged from
    /// [`SOMETIMES_SEEDS_MIN`] seeds on).
    pub missing_sometimes: Vec<Property>,
    /// Wall-clock time the sweep took.
    pub elapsed: Duration,
    /// The sweep's configuration, for the replay commands.
    pub config: SweepConfig,
}

impl SweepReport {
    /// Violating seeds plus missing sometimes-properties.
    pub fn violations(&self) -> u64 {
        (self.failures.len() + self.missing_sometimes.len()) as u64
    }

    /// Whether the sweep passed.
    pub fn passed(&self) -> bool {
        self.violations() == 0
    }

    /// Steps per wall-clock second.
    pub fn steps_per_second(&self) -> u64 {
        let seconds = self.elapsed.as_secs_f64();
        if seconds > 0.0 {
            (self.steps as f64 / seconds) as u64
        } else {
            0
        }
    }

    /// The command that replays `seed`.
    pub fn replay_command(&self, seed: u64) -> String {
        let mut command = format!(
            "kuafu sim --seeds 1 --seed {seed} --steps {}",
            self.config.steps_per_seed
        );
        if let Some(mutation) = self.config.mutation {
            command.push_str(&format!(" --mutation {mutation}"));
        }
        command
    }
}

impl fmt::Display for SweepReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for failure in &self.failures {
            for violation in &failure.violations {
                writeln!(f, "violation: {violation}")?;
            }
            writeln!(f, "  fault mix: {}", failure.fault_mix)?;
            writeln!(f, "  replay: {}", self.replay_command(failure.seed))?;
        }
        for violation in &self.waived {
            writeln!(f, "waived: {violation}")?;
        }
        for property in &self.missing_sometimes {
            writeln!(
                f,
                "violation: sometimes-property never happened in {} seeds: {property}",
                self.seeds
            )?;
        }
        writeln!(f, "{}", self.faults)?;
        write!(
            f,
            "sim: seeds={} steps={} faults={} violations={} steps_per_s={}",
            self.seeds,
            self.steps,
            self.faults.total(),
            self.violations(),
            self.steps_per_second()
        )
    }
}

/// Runs `config.seeds` seeds on `config.threads` threads; `on_progress` is
/// called on the calling thread with the number of seeds done.
pub fn sweep(config: &SweepConfig, mut on_progress: impl FnMut(u64)) -> SweepReport {
    let started = Instant::now();
    let seed_config = SeedConfig {
        steps: config.steps_per_seed,
        mutation: config.mutation,
        sqlite_every: config.sqlite_every,
        log: false,
        waived: config.waived.clone(),
    };
    let next = AtomicU64::new(0);
    let stop = AtomicBool::new(false);
    let mut report = SweepReport {
        seeds: 0,
        steps: 0,
        faults: FaultCounts::default(),
        sqlite_seeds: 0,
        failures: Vec::new(),
        waived: Vec::new(),
        sometimes: Sometimes::default(),
        missing_sometimes: Vec::new(),
        elapsed: Duration::ZERO,
        config: config.clone(),
    };
    std::thread::scope(|scope| {
        let (sender, receiver) = mpsc::channel::<SeedReport>();
        for _ in 0..config.threads.max(1) {
            let sender = sender.clone();
            let (next, stop, seed_config) = (&next, &stop, &seed_config);
            scope.spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    let index = next.fetch_add(1, Ordering::Relaxed);
                    if index >= config.seeds {
                        break;
                    }
                    let seed_report = run_seed(config.first_seed + index, seed_config);
                    if config.stop_at_first_violation && !seed_report.violations.is_empty() {
                        stop.store(true, Ordering::Relaxed);
                    }
                    if sender.send(seed_report).is_err() {
                        break;
                    }
                }
            });
        }
        drop(sender);
        let mut done = 0;
        for seed_report in receiver {
            done += 1;
            report.seeds += 1;
            report.steps += seed_report.steps;
            report.faults.add(&seed_report.faults);
            report.sqlite_seeds += u64::from(seed_report.sqlite);
            report.sometimes.add(&seed_report.sometimes);
            report.waived.extend(seed_report.waived.iter().cloned());
            if !seed_report.violations.is_empty() {
                report.failures.push(seed_report);
            }
            on_progress(done);
        }
    });
    report.failures.sort_by_key(|failure| failure.seed);
    report.waived.sort_by_key(|violation| violation.seed);
    if report.seeds >= SOMETIMES_SEEDS_MIN && !config.stop_at_first_violation {
        report.missing_sometimes = report.sometimes.missing();
    }
    report.elapsed = started.elapsed();
    report
}
