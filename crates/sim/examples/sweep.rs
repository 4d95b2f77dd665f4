//! Runs a sweep from the command line, as `kuafu sim` does, without the CLI
//! crate: `cargo run --release -p sim --example sweep -- [--seeds N]
//! [--seed S] [--steps M] [--mutation NAME] [--threads T] [--sqlite-every K]
//! [--log]`. With `--log` and one seed, every event is printed to stderr.

use std::io::Write;

use sim::{Mutation, SeedConfig, SweepConfig, run_seed, sweep};

fn main() {
    let mut config = SweepConfig::default();
    let mut log = false;
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let mut value = || args.next().expect("a value after the flag");
        match flag.as_str() {
            "--seeds" => config.seeds = value().parse().expect("a number"),
            "--seed" => config.first_seed = value().parse().expect("a number"),
            "--steps" => config.steps_per_seed = value().parse().expect("a number"),
            "--threads" => config.threads = value().parse().expect("a number"),
            "--sqlite-every" => config.sqlite_every = value().parse().expect("a number"),
            "--mutation" => {
                config.mutation = Some(
                    value()
                        .parse::<Mutation>()
                        .unwrap_or_else(|error| panic!("{error}")),
                )
            }
            "--log" => log = true,
            other => panic!("unknown flag {other}"),
        }
    }
    if log {
        let seed_config = SeedConfig {
            steps: config.steps_per_seed,
            mutation: config.mutation,
            sqlite_every: config.sqlite_every,
            log: true,
        };
        let report = run_seed(config.first_seed, &seed_config);
        println!("{report:#?}");
        return;
    }
    let total = config.seeds;
    let report = sweep(&config, |done| {
        eprint!("\r{done}/{total}");
        let _ = std::io::stderr().flush();
    });
    eprintln!();
    eprintln!(
        "sometimes: {:?}; sqlite seeds: {}",
        report.sometimes, report.sqlite_seeds
    );
    println!("{report}");
}
