//! The transfer table through its API: overrides, versions, gaps and
//! snapshots.

use super::*;

fn role(raw: u64) -> RoleId {
    RoleId::from_raw(raw).unwrap()
}

fn srvno(value: u32) -> Srvno {
    Srvno::new(value).unwrap()
}

fn moved(raw: u64, to: u32) -> Transfer {
    let roleid = role(raw);
    Transfer {
        roleid,
        to: srvno(to),
        from: roleid.home_srvno(),
    }
}

#[test]
fn a_role_is_at_its_encoded_home_until_an_override_moves_it() {
    let mut router = Router::new();
    assert_eq!(router.home_of(role(1_000_007)), srvno(1));
    assert_eq!(router.record(moved(1_000_007, 3)), Ok(1));
    assert_eq!(router.home_of(role(1_000_007)), srvno(3));
    assert_eq!(router.home_of(role(1_000_008)), srvno(1), "others stay");
    assert_eq!(
        router.transfer_of(role(1_000_007)),
        Some(&moved(1_000_007, 3))
    );
}

#[test]
fn pushes_apply_in_version_order_and_a_repeat_is_ignored() {
    let mut router = Router::new();
    assert_eq!(
        router.handle_push(1, moved(1_000_001, 2)),
        PushOutcome::Applied
    );
    assert_eq!(
        router.handle_push(1, moved(1_000_001, 3)),
        PushOutcome::Stale
    );
    assert_eq!(
        router.home_of(role(1_000_001)),
        srvno(2),
        "a repeat changes nothing"
    );
    assert_eq!(
        router.handle_push(2, moved(1_000_001, 3)),
        PushOutcome::Applied
    );
    assert_eq!(router.home_of(role(1_000_001)), srvno(3));
    assert_eq!(router.version(), 2);
}

#[test]
fn a_missed_push_is_a_gap_that_leaves_the_table_until_a_snapshot() {
    let mut router = Router::new();
    assert_eq!(
        router.handle_push(1, moved(1_000_001, 2)),
        PushOutcome::Applied
    );
    // Version 2 was lost on the way.
    assert_eq!(router.handle_push(3, moved(2_000_005, 1)), PushOutcome::Gap);
    assert_eq!(router.version(), 1);
    assert_eq!(router.home_of(role(2_000_005)), srvno(2), "not applied");
    let snapshot = Router::from_snapshot(
        3,
        [
            moved(1_000_001, 2),
            moved(1_000_002, 3),
            moved(2_000_005, 1),
        ],
    )
    .unwrap();
    assert!(router.handle_snapshot(snapshot));
    assert_eq!(router.version(), 3);
    assert_eq!(router.home_of(role(1_000_002)), srvno(3));
    assert_eq!(router.home_of(role(2_000_005)), srvno(1));
    assert_eq!(
        router.handle_push(4, moved(1_000_003, 2)),
        PushOutcome::Applied
    );
}

#[test]
fn an_older_snapshot_never_replaces_a_newer_table() {
    let mut router = Router::new();
    router.handle_push(1, moved(1_000_001, 2));
    router.handle_push(2, moved(1_000_002, 2));
    let older = Router::from_snapshot(1, [moved(1_000_001, 2)]).unwrap();
    assert!(!router.handle_snapshot(older));
    assert_eq!(router.version(), 2);
    assert_eq!(router.home_of(role(1_000_002)), srvno(2));
}

#[test]
fn a_snapshot_naming_a_role_twice_or_too_many_is_refused() {
    let twice = Router::from_snapshot(2, [moved(1_000_001, 2), moved(1_000_001, 3)]);
    assert!(matches!(twice, Err(TableError::MalformedSnapshot(_))));
    let many = (1..=TRANSFERS_MAX as u64 + 1).map(|seq| moved(1_000_000 + seq, 2));
    assert!(matches!(
        Router::from_snapshot(9, many),
        Err(TableError::MalformedSnapshot(_))
    ));
}

#[test]
fn the_table_is_bounded_but_a_role_moved_again_replaces_its_override() {
    let full = (1..=TRANSFERS_MAX as u64).map(|seq| moved(1_000_000 + seq, 2));
    let mut router = Router::from_snapshot(7, full).unwrap();
    assert_eq!(router.record(moved(3_000_001, 1)), Err(TableError::Full));
    assert_eq!(router.record(moved(1_000_001, 3)), Ok(8));
    assert_eq!(router.home_of(role(1_000_001)), srvno(3));
    assert_eq!(router.handle_push(9, moved(3_000_001, 1)), PushOutcome::Gap);
}

#[test]
fn the_table_and_its_pushes_survive_the_wire_and_bad_entries_are_typed_errors() {
    let mut router = Router::new();
    router.record(moved(1_000_001, 2)).unwrap();
    router.record(moved(2_000_003, 3)).unwrap();
    assert_eq!(Router::from_table(&router.to_table()), Ok(router.clone()));
    let push = moved(3_000_004, 1).to_push(3);
    assert_eq!(push_from_wire(&push), Ok((3, moved(3_000_004, 1))));
    let mut bad = router.to_table();
    bad.entries[0].to_srvno = 0;
    assert!(matches!(
        Router::from_table(&bad),
        Err(TableError::MalformedSnapshot(_))
    ));
    let empty = wire::node::TransferPush {
        version: 1,
        entry: None,
    };
    assert!(push_from_wire(&empty).is_err());
}
