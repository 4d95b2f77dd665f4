//! A seed replays exactly: running it twice gives the same trace hash (every
//! delivered event and the final databases), the same step count and the
//! same faults; another seed gives another trace.

use sim::{SeedConfig, run_seed};

fn config(steps: u64, sqlite_every: u64) -> SeedConfig {
    SeedConfig {
        steps,
        sqlite_every,
        ..SeedConfig::default()
    }
}

#[test]
fn a_seed_run_twice_gives_the_same_trace_hash() {
    for seed in [1, 7, 42, 1_000_003] {
        let first = run_seed(seed, &config(30_000, 0));
        let second = run_seed(seed, &config(30_000, 0));
        assert!(
            first.violations.is_empty(),
            "seed {seed}: {:?}",
            first.violations
        );
        assert_eq!(first.trace_hash, second.trace_hash, "seed {seed} replays");
        assert_eq!(
            (first.steps, first.faults, first.virtual_ms),
            (second.steps, second.faults, second.virtual_ms)
        );
        assert_eq!(first.fault_mix, second.fault_mix);
        assert_eq!(first.sometimes, second.sometimes);
    }
}

#[test]
fn a_seed_with_sqlite_beside_the_model_replays_too() {
    let first = run_seed(5, &config(20_000, 1));
    let second = run_seed(5, &config(20_000, 1));
    assert!(first.sqlite, "SQLite ran beside the model");
    assert!(first.violations.is_empty(), "{:?}", first.violations);
    assert_eq!(first.trace_hash, second.trace_hash);
}

#[test]
fn different_seeds_give_different_traces() {
    let one = run_seed(1, &config(5_000, 0));
    let two = run_seed(2, &config(5_000, 0));
    assert_ne!(one.trace_hash, two.trace_hash);
}
