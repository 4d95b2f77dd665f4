//! Data, ledger and batches: read-only loads, ledger lines saved with their write and checked for order, a refused op inside a batch, ops on rows this database does not have.

use super::*;

/// A read-only load returns the last saved data and changes nothing.
pub fn a_read_only_load_changes_nothing<H: Harness>(mut harness: H) {
    let mut store = harness.open();
    let created = create(&mut store, 1, "ann");
    let me = owner("gs1", 1);
    let claimed = claim(&mut store, 0, created.roleid, &me);
    written(apply_one(
        &mut store,
        1,
        PlayerOp::Save(earn(&claimed, &me, 1, 4)),
    ));
    let loaded = load(&mut store, 2, created.roleid);
    assert_eq!(loaded.roleid, created.roleid);
    assert_eq!(loaded.data.gold, 4);
    assert_eq!(loaded.data_version, 2);
    assert_eq!(loaded.ownership, claimed.ownership);
    assert_eq!(load(&mut store, 3, created.roleid), loaded);
}

/// Ledger lines are stored with the save that carries them, in order.
pub fn the_ledger_is_appended_with_the_save<H: Harness>(mut harness: H) {
    let mut store = harness.open();
    let created = create(&mut store, 1, "ann");
    let me = owner("gs1", 1);
    let claimed = claim(&mut store, 0, created.roleid, &me);
    let mut write = earn(&claimed, &me, 1, 10);
    write.data.items.push(wire::client::ItemStack {
        item_type: 7,
        count: 2,
    });
    write.ledger.push(LedgerEntry {
        seq: 2,
        kind: LedgerKind::Item(7),
        delta: 2,
        reason: "test:loot".to_owned(),
    });
    write.data.next_ledger_seq = 3;
    written(apply_one(&mut store, 1, PlayerOp::Save(write.clone())));
    assert_eq!(H::ledger(&store, created.roleid), write.ledger);

    let saved = PlayerRecord {
        data: write.data.clone(),
        data_version: 2,
        ..claimed
    };
    let spend = earn(&saved, &me, 1, 0);
    written(apply_one(&mut store, 2, PlayerOp::Save(spend.clone())));
    let ledger = H::ledger(&store, created.roleid);
    assert_eq!(ledger.len(), 3);
    assert_eq!(ledger[2], spend.ledger[0]);
    assert_eq!(load(&mut store, 3, created.roleid).data, spend.data);
}

/// A write whose ledger lines replay stored lines or reach past `next_ledger_seq` is refused and writes nothing.
pub fn out_of_order_ledger_lines_are_refused<H: Harness>(mut harness: H) {
    let mut store = harness.open();
    let created = create(&mut store, 1, "ann");
    let me = owner("gs1", 1);
    let claimed = claim(&mut store, 0, created.roleid, &me);
    let first = earn(&claimed, &me, 1, 10);
    written(apply_one(&mut store, 1, PlayerOp::Save(first.clone())));

    let mut replayed = first.clone();
    replayed.data.next_ledger_seq = 5;
    let mut beyond_next = earn(&claimed, &me, 1, 1);
    beyond_next.ledger[0].seq = 2;
    beyond_next.data.next_ledger_seq = 2;
    for (write, bad_seq) in [(replayed, 1), (beyond_next, 2)] {
        let result = apply_one(&mut store, 2, PlayerOp::Save(write));
        let expected = StoreError::LedgerOutOfOrder {
            roleid: created.roleid,
            seq: bad_seq,
        };
        assert_eq!(result, Err(expected));
    }
    let after = load(&mut store, 3, created.roleid);
    assert_eq!((after.data, after.data_version), (first.data, 2));
    assert_eq!(H::ledger(&store, created.roleid), first.ledger);
}

/// A refused op writes nothing; the other ops of its batch commit.
pub fn a_refused_op_does_not_stop_the_rest_of_its_batch<H: Harness>(mut harness: H) {
    let mut store = harness.open();
    let me = owner("gs1", 1);
    let ann = create(&mut store, 1, "ann");
    let bob = create(&mut store, 1, "bob");
    let ann_copy = claim(&mut store, 0, ann.roleid, &me);
    let bob_copy = claim(&mut store, 0, bob.roleid, &me);
    let batch = [
        PlayerOp::Save(earn(&ann_copy, &me, 1, 1)),
        PlayerOp::Save(earn(&bob_copy, &me, 7, 1)),
        PlayerOp::CreateRole {
            srvno: srvno(1),
            account_id: ACCOUNT,
            name: "cat".to_owned(),
        },
        PlayerOp::ReadOwnership { roleid: bob.roleid },
    ];
    let results = store.apply(5, &batch);
    assert_eq!(results.len(), 4);
    assert_eq!(written(results[0].clone()).0, 2);
    assert!(matches!(
        refusal(results[1].clone()),
        Refused::Fenced { .. }
    ));
    assert!(matches!(&results[2], Ok(OpOutcome::Created(record)) if record.roleid.seq() == 3));
    assert_eq!(
        results[3],
        Ok(OpOutcome::OwnershipRead {
            ownership: bob_copy.ownership.clone(),
            data_version: 1
        })
    );

    let mut store = harness.reopen(store);
    assert_eq!(load(&mut store, 6, ann.roleid).data.gold, 1);
    assert_eq!(load(&mut store, 6, bob.roleid).data, bob.data);
    assert_eq!(load(&mut store, 6, role(1, 3)).data.name, "cat");
}

/// Every op on a role that has no row answers `UnknownRole`.
pub fn ops_on_an_unknown_role_are_refused<H: Harness>(mut harness: H) {
    let mut store = harness.open();
    let me = owner("gs1", 1);
    let created = create(&mut store, 1, "ann");
    let ghost = role(1, 500);
    let mut ghost_copy = claim(&mut store, 0, created.roleid, &me);
    ghost_copy.roleid = ghost;
    for op in unknown_role_ops(ghost, &ghost_copy, &me) {
        assert_eq!(
            apply_one(&mut store, 1, op),
            Err(StoreError::UnknownRole(ghost))
        );
    }
}

/// Every op on a role or srvno this database does not hold answers `WrongDatabase`.
pub fn ops_on_another_srvno_are_refused<H: Harness>(mut harness: H) {
    let mut store = harness.open();
    let me = owner("gs1", 1);
    let created = create(&mut store, 1, "ann");
    let elsewhere = role(3, 1);
    let mut copy = claim(&mut store, 0, created.roleid, &me);
    copy.roleid = elsewhere;
    let wrong = Err(StoreError::WrongDatabase(srvno(3)));
    for op in unknown_role_ops(elsewhere, &copy, &me) {
        assert_eq!(apply_one(&mut store, 1, op), wrong);
    }
    let create_there = PlayerOp::CreateRole {
        srvno: srvno(3),
        account_id: ACCOUNT,
        name: "dan".to_owned(),
    };
    assert_eq!(apply_one(&mut store, 1, create_there), wrong);
}

/// Every op that names a role, for `roleid`.
fn unknown_role_ops(roleid: RoleId, copy: &PlayerRecord, me: &OwnerId) -> Vec<PlayerOp> {
    vec![
        claim_op(roleid, me),
        PlayerOp::Save(earn(copy, me, 1, 1)),
        PlayerOp::Handoff {
            write: earn(copy, me, 1, 1),
            to: "gs2".to_owned(),
            handoff_ttl_ms: HANDOFF_TTL_MS,
        },
        PlayerOp::Release(earn(copy, me, 1, 1)),
        PlayerOp::ReadOwnership { roleid },
        PlayerOp::LoadReadOnly { roleid },
    ]
}
