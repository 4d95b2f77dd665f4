//! Role creation and role ids: increasing per srvno, never reused, a typed error when spent; an account's roles; a random incarnation stored whole.

use super::*;

/// Each srvno numbers its roles from 1; a new role starts at level 1, unowned, with no gold or ledger.
pub fn created_roles_get_increasing_ids_per_srvno<H: Harness>(mut harness: H) {
    let mut store = harness.open();
    let first = create(&mut store, 1, "ann");
    let second = create(&mut store, 1, "bob");
    let other_srvno = create(&mut store, 2, "cat");
    assert_eq!(first.roleid.get(), 1_000_001);
    assert_eq!(second.roleid.get(), 1_000_002);
    assert_eq!(other_srvno.roleid.get(), 2_000_001);
    let expected = PlayerData {
        roleid: 1_000_001,
        account_id: ACCOUNT,
        name: "ann".to_owned(),
        level: 1,
        gold: 0,
        items: Vec::new(),
        next_ledger_seq: 1,
        ..PlayerData::default()
    };
    assert_eq!(first.data, expected);
    assert_eq!(first.data_version, 1);
    assert_eq!(first.ownership, Ownership::free());
    assert_eq!(load(&mut store, 0, first.roleid).data, expected);
}

/// A reopened database goes on with the next role id and keeps every committed write.
pub fn role_ids_are_never_reused_after_reopen<H: Harness>(mut harness: H) {
    let mut store = harness.open();
    create(&mut store, 1, "ann");
    let ann = create(&mut store, 1, "bob");
    let me = owner("gs1", 1);
    let claimed = claim(&mut store, 0, ann.roleid, &me);
    written(apply_one(
        &mut store,
        1,
        PlayerOp::Save(earn(&claimed, &me, 1, 5)),
    ));

    let mut store = harness.reopen(store);
    assert_eq!(create(&mut store, 1, "cat").roleid.get(), 1_000_003);
    let after = load(&mut store, 2, ann.roleid);
    assert_eq!(after.data.gold, 5);
    assert_eq!(after.data_version, 2);
    assert_eq!(after.ownership, held_by(&me, 1, LEASE_TTL_MS));
    assert_eq!(H::ledger(&store, ann.roleid).len(), 1);
}

/// A srvno whose 999 999 role ids are spent answers `RoleIdsExhausted`, also after a reopen; the sequence never moves down.
pub fn role_ids_run_out_with_a_typed_error<H: Harness>(mut harness: H) {
    let mut store = harness.open();
    create(&mut store, 1, "ann");
    assert_eq!(
        H::advance_role_seq(&mut store, srvno(1), 1),
        2,
        "never down"
    );
    assert_eq!(
        H::advance_role_seq(&mut store, srvno(1), ROLE_SEQ_MAX),
        ROLE_SEQ_MAX
    );
    assert_eq!(create(&mut store, 1, "last").roleid.seq(), ROLE_SEQ_MAX);
    let op = PlayerOp::CreateRole {
        srvno: srvno(1),
        account_id: ACCOUNT,
        name: "late".to_owned(),
    };
    let exhausted = Err(StoreError::RoleIdsExhausted(srvno(1)));
    assert_eq!(apply_one(&mut store, 0, op.clone()), exhausted);
    assert_eq!(create(&mut store, 2, "other").roleid.get(), 2_000_001);

    let mut store = harness.reopen(store);
    assert_eq!(apply_one(&mut store, 0, op), exhausted);
}

/// An account's roles in every srvno of the database, ordered by role id.
pub fn roles_of_an_account_are_ordered_by_id<H: Harness>(mut harness: H) {
    let mut store = harness.open();
    let on_two = create(&mut store, 2, "ann");
    let op = PlayerOp::CreateRole {
        srvno: srvno(1),
        account_id: ACCOUNT + 1,
        name: "stranger".to_owned(),
    };
    apply_one(&mut store, 0, op).unwrap();
    let on_one = create(&mut store, 1, "bob");
    let roles = apply_one(
        &mut store,
        0,
        PlayerOp::RolesOfAccount {
            account_id: ACCOUNT,
        },
    );
    let expected = vec![(on_one.roleid, on_one.data), (on_two.roleid, on_two.data)];
    assert_eq!(roles, Ok(OpOutcome::Roles(expected)));
    let none = apply_one(&mut store, 0, PlayerOp::RolesOfAccount { account_id: 9 });
    assert_eq!(none, Ok(OpOutcome::Roles(Vec::new())));
}

/// An incarnation above `i64::MAX` (they are random) is stored and read back unchanged.
pub fn a_random_incarnation_round_trips<H: Harness>(mut harness: H) {
    let mut store = harness.open();
    let created = create(&mut store, 1, "ann");
    let me = owner("gs1", u64::MAX - 3);
    let claimed = claim(&mut store, 0, created.roleid, &me);
    written(apply_one(
        &mut store,
        1,
        PlayerOp::Save(earn(&claimed, &me, 1, 1)),
    ));
    let mut store = harness.reopen(store);
    assert_eq!(
        load(&mut store, 2, created.roleid).ownership,
        claimed.ownership
    );
}
