//! The correct protocol passes: a small sweep and the CI sweep (10^7 steps)
//! find no violation, every named sometimes-property happens, and the report
//! ends with the line `kuafu sim` prints.
//! Every property is checked; none is waived.

use sim::{SweepConfig, sweep};

#[test]
fn a_small_sweep_of_the_correct_variant_has_no_violation() {
    let config = SweepConfig {
        seeds: 24,
        first_seed: 500,
        steps_per_seed: 20_000,
        ..SweepConfig::default()
    };
    let report = sweep(&config, |_| {});
    assert!(report.passed(), "{report}");
    assert_eq!(report.seeds, 24);
    let last_line = report
        .to_string()
        .lines()
        .last()
        .expect("a report line")
        .to_owned();
    assert!(last_line.starts_with("sim: seeds=24 steps="), "{last_line}");
    assert!(
        last_line.contains(" violations=0 steps_per_s="),
        "{last_line}"
    );
}

/// The sweep CI runs: 100 seeds of 100_000 steps, at least 10^7 steps.
#[test]
fn the_ci_sweep_of_ten_million_steps_passes_and_every_sometimes_property_happens() {
    let config = SweepConfig {
        seeds: 100,
        first_seed: 1,
        steps_per_seed: 100_000,
        ..SweepConfig::default()
    };
    let mut progress = 0;
    let report = sweep(&config, |done| progress = done);
    assert_eq!(progress, 100, "progress reaches every seed");
    assert!(report.steps >= 10_000_000, "{} steps", report.steps);
    assert!(
        report.sqlite_seeds > 0,
        "some seeds ran SQLite beside the model"
    );
    assert!(
        report.missing_sometimes.is_empty(),
        "{:?}",
        report.missing_sometimes
    );
    assert!(report.passed(), "{report}");
    eprintln!("{report}");
}
