//! The data center is judged against the rows, not by what it was told:
//! after healing, each player's current server there must match its row.
//!
//! A seed once lost an owner's `SetCurrent` note for good (the game core
//! sent each note once), and `datacenter-hears-every-owner` caught it; the
//! game core now owes every note until it is acknowledged
//! (`gamecore::notes`), and the `notes-not-resent` mutation brings the bug
//! back (seed 21 here, and `tests/mutations.rs`). A waived property is reported apart, so a
//! known failure can be listed without stopping a sweep.

use sim::{Mutation, Property, SeedConfig, run_seed};

/// A seed on which the mutation loses an owner's note for good (picked
/// again whenever the game core's traffic changes every seed's schedule:
/// the summary updates, then the gifts).
const SEED: u64 = 21;

fn config() -> SeedConfig {
    SeedConfig {
        steps: 20_000,
        sqlite_every: 0,
        ..SeedConfig::default()
    }
}

#[test]
fn a_lost_note_is_sent_again_until_the_data_center_has_it() {
    let report = run_seed(SEED, &config());
    assert!(report.violations.is_empty(), "{report:#?}");
}

#[test]
fn the_data_center_left_behind_by_a_note_sent_once_is_caught() {
    let config = SeedConfig {
        mutation: Some(Mutation::NotesNotResent),
        ..config()
    };
    let report = run_seed(SEED, &config);
    let [violation] = report.violations.as_slice() else {
        panic!("one violation expected: {report:#?}")
    };
    assert_eq!(violation.property, Property::DataCenterHearsEveryOwner);
}

#[test]
fn a_waived_property_is_reported_apart() {
    let config = SeedConfig {
        mutation: Some(Mutation::NotesNotResent),
        waived: vec![Property::DataCenterHearsEveryOwner],
        ..config()
    };
    let report = run_seed(SEED, &config);
    assert!(report.violations.is_empty(), "{report:#?}");
    assert_eq!(report.waived.len(), 1);
    assert_eq!(
        report.waived[0].property,
        Property::DataCenterHearsEveryOwner
    );
}
