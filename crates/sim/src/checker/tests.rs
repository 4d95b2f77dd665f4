//! The authority checks fail when their property is false: a node's view
//! or the data center's record is corrupted against a row, and the check
//! must say so (and stay quiet when they match).

use super::*;

fn owner(node: &str, incarnation: u64) -> OwnerId {
    OwnerId {
        node: node.to_owned(),
        incarnation,
    }
}

fn held(node: &str, incarnation: u64, epoch: u64, lease_until_ms: u64) -> Ownership {
    Ownership {
        holder: Holder::Held(owner(node, incarnation)),
        epoch,
        lease_until_ms,
    }
}

fn current(srvname: &str, online: bool, epoch: u64) -> Current {
    Current {
        srvname: srvname.to_owned(),
        online,
        epoch,
    }
}

#[test]
fn a_writable_copy_that_matches_its_row_passes() {
    let row = held("gs1", 7, 3, 10_000);
    assert_eq!(
        writable_copy_mismatch(&owner("gs1", 7), 3, Some(&row), 9_999),
        None
    );
}

#[test]
fn a_writable_copy_of_another_holder_or_epoch_fails() {
    let row = held("gs1", 7, 3, 10_000);
    let other_incarnation = writable_copy_mismatch(&owner("gs1", 8), 3, Some(&row), 5_000);
    let other_node = writable_copy_mismatch(&owner("gs2", 7), 3, Some(&row), 5_000);
    let stale_epoch = writable_copy_mismatch(&owner("gs1", 7), 2, Some(&row), 5_000);
    for (case, mismatch) in [
        ("incarnation", other_incarnation),
        ("node", other_node),
        ("epoch", stale_epoch),
    ] {
        assert!(
            mismatch
                .as_deref()
                .is_some_and(|why| why.contains("but the row is")),
            "{case}: {mismatch:?}"
        );
    }
    let handed_off = Ownership {
        holder: Holder::Arriving("gs2".to_owned()),
        epoch: 4,
        lease_until_ms: 10_000,
    };
    assert!(writable_copy_mismatch(&owner("gs1", 7), 3, Some(&handed_off), 5_000).is_some());
    assert!(writable_copy_mismatch(&owner("gs1", 7), 3, Some(&Ownership::free()), 5_000).is_some());
    assert!(writable_copy_mismatch(&owner("gs1", 7), 3, None, 5_000).is_some());
}

#[test]
fn a_writable_copy_past_the_lease_by_the_database_clock_fails() {
    let row = held("gs1", 7, 3, 10_000);
    let mismatch = writable_copy_mismatch(&owner("gs1", 7), 3, Some(&row), 10_000);
    assert!(
        mismatch
            .as_deref()
            .is_some_and(|why| why.contains("lease ran out")),
        "{mismatch:?}"
    );
}

#[test]
fn the_data_center_matching_the_rows_passes() {
    let row = held("gs2", 7, 3, 10_000);
    assert_eq!(
        datacenter_mismatch(&row, 5_000, Some(&current("gs2", true, 3))),
        None
    );
    assert_eq!(datacenter_mismatch(&Ownership::free(), 5_000, None), None);
    assert_eq!(
        datacenter_mismatch(&Ownership::free(), 5_000, Some(&current("gs2", false, 3))),
        None
    );
}

#[test]
fn a_data_center_record_that_disagrees_with_a_held_row_fails() {
    let row = held("gs2", 7, 3, 10_000);
    for recorded in [
        None,
        Some(current("gs1", true, 3)),
        Some(current("gs2", false, 3)),
    ] {
        assert!(
            datacenter_mismatch(&row, 5_000, recorded.as_ref()).is_some(),
            "{recorded:?}"
        );
    }
}

#[test]
fn a_free_row_recorded_online_fails() {
    let mismatch = datacenter_mismatch(&Ownership::free(), 5_000, Some(&current("gs1", true, 2)));
    assert!(
        mismatch
            .as_deref()
            .is_some_and(|why| why.contains("free but")),
        "{mismatch:?}"
    );
}

#[test]
fn a_row_in_flux_is_not_judged() {
    let lapsed = held("gs2", 7, 3, 10_000);
    assert_eq!(datacenter_mismatch(&lapsed, 10_000, None), None);
    let arriving = Ownership {
        holder: Holder::Arriving("gs3".to_owned()),
        epoch: 4,
        lease_until_ms: 10_000,
    };
    assert_eq!(
        datacenter_mismatch(&arriving, 5_000, Some(&current("gs2", true, 3))),
        None
    );
}

fn role(raw: u64) -> RoleId {
    RoleId::from_raw(raw).unwrap()
}

#[test]
fn a_mismatch_blames_the_data_center_only_when_it_was_told() {
    let row = held("gs2", 7, 3, 10_000);
    let stale = current("gs1", true, 2);
    let told = datacenter_judgement(role(1_000_001), &row, 5_000, Some(&stale), true);
    assert_eq!(
        told.map(|(property, _)| property),
        Some(Property::DataCenterConvergesToRows)
    );
    let untold = datacenter_judgement(role(1_000_001), &row, 5_000, Some(&stale), false);
    assert_eq!(
        untold.map(|(property, _)| property),
        Some(Property::DataCenterHearsEveryOwner)
    );
    let matching = current("gs2", true, 3);
    assert_eq!(
        datacenter_judgement(role(1_000_001), &row, 5_000, Some(&matching), false),
        None
    );
}

#[test]
fn the_acknowledged_notes_state_a_row_only_when_one_says_exactly_so() {
    let roleid = role(1_000_001);
    let mut acknowledged = Acknowledged::default();
    acknowledged.record(roleid, &current("gs2", true, 3));
    acknowledged.record(roleid, &current("gs1", false, 5));
    acknowledged.record(role(2_000_001), &current("gs2", true, 4));
    assert!(acknowledged.states(roleid, &held("gs2", 7, 3, 10_000)));
    for other in [
        held("gs2", 7, 4, 10_000),
        held("gs1", 7, 3, 10_000),
        Ownership {
            epoch: 3,
            ..Ownership::free()
        },
    ] {
        assert!(!acknowledged.states(roleid, &other), "{other:?}");
    }
    let free = Ownership {
        epoch: 5,
        ..Ownership::free()
    };
    assert!(acknowledged.states(roleid, &free));
}

fn mark(go_srvname: &str, epoch: u64) -> Mark {
    Mark {
        go_srvname: go_srvname.to_owned(),
        epoch,
        misses: 0,
    }
}

#[test]
fn marks_that_match_the_rows_pass() {
    let away = held("gs2", 7, 3, 10_000);
    assert_eq!(
        mark_mismatch("gs1", &away, 5_000, 1_000, Some(&mark("gs2", 3))),
        None
    );
    let at_home = held("gs1", 7, 3, 10_000);
    assert_eq!(mark_mismatch("gs1", &at_home, 5_000, 1_000, None), None);
    assert_eq!(
        mark_mismatch("gs1", &Ownership::free(), 5_000, 1_000, None),
        None
    );
    let lapsed = held("gs2", 7, 3, 10_000);
    assert_eq!(mark_mismatch("gs1", &lapsed, 10_000, 1_000, None), None);
}

#[test]
fn a_corrupted_mark_fails() {
    let away = held("gs2", 7, 3, 10_000);
    for corrupted in [None, Some(mark("gs3", 3))] {
        let mismatch = mark_mismatch("gs1", &away, 5_000, 1_000, corrupted.as_ref());
        assert!(
            mismatch
                .as_deref()
                .is_some_and(|why| why.contains("held by gs2")),
            "{corrupted:?}: {mismatch:?}"
        );
    }
    let stale = mark("gs2", 3);
    let at_home = held("gs1", 8, 4, 10_000);
    let lapsed = held("gs2", 7, 3, 10_000);
    for (row, db_now_ms) in [
        (at_home, 5_000),
        (Ownership::free(), 5_000),
        (lapsed, 10_000),
    ] {
        let mismatch = mark_mismatch("gs1", &row, db_now_ms, 1_000, Some(&stale));
        assert!(
            mismatch
                .as_deref()
                .is_some_and(|why| why.contains("the home marks it at gs2")),
            "{row:?}: {mismatch:?}"
        );
    }
}

#[test]
fn a_mark_of_a_row_in_flux_is_not_judged() {
    let arriving = Ownership {
        holder: Holder::Arriving("gs3".to_owned()),
        epoch: 4,
        lease_until_ms: 10_000,
    };
    assert_eq!(mark_mismatch("gs1", &arriving, 5_000, 1_000, None), None);
    let about_to_lapse = held("gs2", 7, 3, 10_000);
    assert_eq!(
        mark_mismatch("gs1", &about_to_lapse, 9_500, 1_000, None),
        None
    );
}
