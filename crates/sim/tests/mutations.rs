//! The simulator finds real bugs: each deliberately broken variant is caught
//! within the CI sweep (seeds 1..=100 of 100_000 steps; the test stops at the
//! first violation), by the checker that guards what the bug breaks, matched
//! by its [`Property`].

use sim::{Mutation, Property, SweepConfig, SweepReport, sweep};

fn ci_sweep_with(mutation: Mutation) -> SweepReport {
    let config = SweepConfig {
        seeds: 100,
        first_seed: 1,
        steps_per_seed: 100_000,
        mutation: Some(mutation),
        stop_at_first_violation: true,
        ..SweepConfig::default()
    };
    let report = sweep(&config, |_| {});
    assert!(
        report.violations() > 0,
        "{mutation} was not caught in {} seeds: {report}",
        report.seeds
    );
    let text = report.to_string();
    assert!(
        text.contains("replay: kuafu sim --seeds 1 --seed "),
        "{text}"
    );
    assert!(
        text.contains(&format!(" --steps 100000 --mutation {mutation}")),
        "{text}"
    );
    eprintln!("{mutation}: caught after {} seeds\n{report}", report.seeds);
    report
}

fn first_violation(report: &SweepReport) -> Property {
    report.failures[0].violations[0].property
}

#[test]
fn a_handoff_without_the_epoch_check_is_caught() {
    let report = ci_sweep_with(Mutation::HandoffWithoutEpochCheck);
    // The wrongful handoff either overwrites a newer save or takes the row
    // from under the writer that still holds it.
    let guards = [
        Property::NoAcknowledgedWriteLost,
        Property::WritableCopyMatchesRow,
    ];
    assert!(guards.contains(&first_violation(&report)), "{report}");
}

#[test]
fn a_lease_without_the_skew_margin_is_caught() {
    let report = ci_sweep_with(Mutation::NoSkewMargin);
    assert_eq!(
        first_violation(&report),
        Property::WritableCopyMatchesRow,
        "{report}"
    );
}

#[test]
fn a_reusable_token_is_caught() {
    let report = ci_sweep_with(Mutation::ReusableTokens);
    assert_eq!(
        first_violation(&report),
        Property::TokenRedeemedAtMostOnce,
        "{report}"
    );
}

#[test]
fn a_login_token_shared_by_the_candidate_servers_is_caught() {
    let report = ci_sweep_with(Mutation::SharedLoginToken);
    assert_eq!(
        first_violation(&report),
        Property::TokenRedeemedAtMostOnce,
        "{report}"
    );
}

#[test]
fn a_redirect_sent_before_the_commit_is_caught() {
    let report = ci_sweep_with(Mutation::RedirectBeforeCommit);
    assert_eq!(
        first_violation(&report),
        Property::RedirectAfterDurableHandoff,
        "{report}"
    );
}

#[test]
fn notes_sent_once_and_never_again_are_caught() {
    let report = ci_sweep_with(Mutation::NotesNotResent);
    // A lost SetCurrent leaves the data center behind, a lost Arrived the
    // home's mark: either check catches it first.
    let guards = [
        Property::DataCenterHearsEveryOwner,
        Property::MarksConvergeToRows,
    ];
    assert!(guards.contains(&first_violation(&report)), "{report}");
}

#[test]
fn a_mark_cleared_on_heartbeat_misses_while_the_row_is_held_is_caught() {
    let report = ci_sweep_with(Mutation::MarksClearedOnMisses);
    // A one-way cut from the home to the marked server makes the heartbeats
    // miss while that server keeps the row.
    assert_eq!(
        first_violation(&report),
        Property::MarkClearedOnlyByRow,
        "{report}"
    );
}

#[test]
fn a_lease_renewal_without_the_epoch_check_is_caught() {
    let report = ci_sweep_with(Mutation::RenewWithoutEpochCheck);
    // A zombie's late renewal extends the lease of the row's new holder.
    assert_eq!(
        first_violation(&report),
        Property::LeaseRenewedOnlyByHolder,
        "{report}"
    );
}

#[test]
fn a_crossing_token_that_admits_another_role_is_caught() {
    let report = ci_sweep_with(Mutation::CrossingTokenAdmitsAnyRole);
    // A ghost presents a player's fresh crossing token with another role id.
    assert_eq!(
        first_violation(&report),
        Property::TokenAdmitsOnlyItsRole,
        "{report}"
    );
}

#[test]
fn a_double_credit_with_two_ledger_lines_is_caught() {
    let report = ci_sweep_with(Mutation::DoubleCredit);
    // Stored gold still equals its ledger; the second line answering one
    // request is what gives it away.
    assert_eq!(
        first_violation(&report),
        Property::GoldAndItemsConserved,
        "{report}"
    );
}

#[test]
fn a_receiver_that_forgets_its_gifts_is_caught() {
    let report = ci_sweep_with(Mutation::GiftsNotRemembered);
    // A delivery repeated after a lost acknowledgement is credited again:
    // the second credit of one gift gives it away.
    assert_eq!(
        first_violation(&report),
        Property::GiftCreditedOnce,
        "{report}"
    );
}
