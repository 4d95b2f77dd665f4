//! The single-writer rules as a backend applies them (DESIGN §5): claim, fenced writes, handoff, lease expiry and renewal by database time, take-back.

use super::*;

/// Claim, save and release: the epoch rises with the claim, the data version with each write, and a released row is free.
pub fn claim_save_release<H: Harness>(mut harness: H) {
    let mut store = harness.open();
    let created = create(&mut store, 1, "ann");
    let me = owner("gs1", 7);
    let claimed = claim(&mut store, 100, created.roleid, &me);
    assert_eq!(claimed.ownership, held_by(&me, 1, 100 + LEASE_TTL_MS));
    assert_eq!(claimed.data, created.data);
    assert_eq!(claimed.data_version, 1);

    let save = earn(&claimed, &me, 1, 10);
    let (version, ownership) = written(apply_one(&mut store, 200, PlayerOp::Save(save.clone())));
    assert_eq!(version, 2);
    assert_eq!(ownership, claimed.ownership);

    let saved = PlayerRecord {
        data: save.data.clone(),
        data_version: 2,
        ..claimed.clone()
    };
    let release = earn(&saved, &me, 1, 1);
    let (version, ownership) = written(apply_one(
        &mut store,
        300,
        PlayerOp::Release(release.clone()),
    ));
    assert_eq!(version, 3);
    assert_eq!(
        ownership,
        Ownership {
            holder: Holder::Free,
            epoch: 1,
            lease_until_ms: 0
        }
    );
    let read = apply_one(
        &mut store,
        400,
        PlayerOp::ReadOwnership {
            roleid: created.roleid,
        },
    );
    assert_eq!(
        read,
        Ok(OpOutcome::OwnershipRead {
            ownership,
            data_version: 3
        })
    );
    assert_eq!(load(&mut store, 400, created.roleid).data, release.data);
    let again = claim(&mut store, 500, created.roleid, &owner("gs2", 1));
    assert_eq!(again.ownership.epoch, 2);
    assert_eq!(again.data.gold, 11);
}

/// A write by a former owner, by the new owner's node at an old epoch, or by another incarnation is `Fenced` and changes nothing.
pub fn a_fenced_save_is_refused_and_writes_nothing<H: Harness>(mut harness: H) {
    let mut store = harness.open();
    let created = create(&mut store, 1, "ann");
    let zombie = owner("gs1", 1);
    let zombie_copy = claim(&mut store, 0, created.roleid, &zombie);
    let successor = owner("gs2", 1);
    let taken = claim(&mut store, LEASE_TTL_MS, created.roleid, &successor);
    assert_eq!(taken.ownership.epoch, 2);

    for op in [
        PlayerOp::Save(earn(&zombie_copy, &zombie, 1, 99)),
        PlayerOp::Release(earn(&zombie_copy, &zombie, 1, 99)),
        PlayerOp::Save(earn(&zombie_copy, &successor, 1, 99)),
        PlayerOp::Save(earn(&zombie_copy, &owner("gs2", 2), 2, 99)),
    ] {
        let refused = refusal(apply_one(&mut store, LEASE_TTL_MS + 1, op));
        assert_eq!(
            refused,
            Refused::Fenced {
                current: taken.ownership.clone()
            }
        );
    }
    let after = load(&mut store, LEASE_TTL_MS + 2, created.roleid);
    assert_eq!(after.data, created.data);
    assert_eq!(after.data_version, 1);
    assert_eq!(after.ownership, taken.ownership);
    assert!(H::ledger(&store, created.roleid).is_empty());
}

/// A handed-off row can be claimed only by its target, which gets the final save; the source can no longer write.
pub fn after_a_handoff_only_the_target_can_claim<H: Harness>(mut harness: H) {
    let mut store = harness.open();
    let created = create(&mut store, 1, "ann");
    let source = owner("gs1", 1);
    let claimed = claim(&mut store, 0, created.roleid, &source);
    let handoff = PlayerOp::Handoff {
        write: earn(&claimed, &source, 1, 3),
        to: "gs2".to_owned(),
        handoff_ttl_ms: HANDOFF_TTL_MS,
    };
    let (version, ownership) = written(apply_one(&mut store, 50, handoff));
    assert_eq!(version, 2);
    let arriving = Ownership {
        holder: Holder::Arriving("gs2".to_owned()),
        epoch: 2,
        lease_until_ms: 50 + HANDOFF_TTL_MS,
    };
    assert_eq!(ownership, arriving);

    let stranger = apply_one(&mut store, 60, claim_op(created.roleid, &owner("gs3", 1)));
    assert_eq!(
        refusal(stranger),
        Refused::HeldElsewhere {
            current: arriving.clone()
        }
    );
    let source_again = apply_one(&mut store, 60, claim_op(created.roleid, &source));
    assert!(matches!(
        refusal(source_again),
        Refused::HeldElsewhere { .. }
    ));
    let late_save = apply_one(
        &mut store,
        60,
        PlayerOp::Save(earn(&claimed, &source, 1, 1)),
    );
    assert!(matches!(refusal(late_save), Refused::Fenced { .. }));

    let target = owner("gs2", 9);
    let arrived = claim(&mut store, 70, created.roleid, &target);
    assert_eq!(arrived.ownership, held_by(&target, 3, 70 + LEASE_TTL_MS));
    assert_eq!(arrived.data.gold, 3);
    assert_eq!(arrived.data_version, 2);
}

/// A rival claims a held row only once the lease ran out by the database's clock.
pub fn a_lease_expires_by_database_time<H: Harness>(mut harness: H) {
    let mut store = harness.open();
    let created = create(&mut store, 1, "ann");
    claim(&mut store, 0, created.roleid, &owner("gs1", 1));
    let rival = owner("gs2", 1);
    let early = apply_one(
        &mut store,
        LEASE_TTL_MS - 1,
        claim_op(created.roleid, &rival),
    );
    assert!(matches!(refusal(early), Refused::HeldElsewhere { .. }));
    let taken = claim(&mut store, LEASE_TTL_MS, created.roleid, &rival);
    assert_eq!(taken.ownership, held_by(&rival, 2, 2 * LEASE_TTL_MS));
}

/// One renewal op renews the owner's live leases and answers why not for each of the others.
pub fn leases_renew_in_a_batch<H: Harness>(mut harness: H) {
    let mut store = harness.open();
    let me = owner("gs1", 1);
    let first = create(&mut store, 1, "ann").roleid;
    let second = create(&mut store, 2, "bob").roleid;
    let foreign = create(&mut store, 1, "cat").roleid;
    claim(&mut store, 0, first, &me);
    claim(&mut store, 0, second, &me);
    let foreign_owner = claim(&mut store, 0, foreign, &owner("gs2", 1)).ownership;
    let unknown = role(1, 999);
    let other_database = role(3, 1);
    let renew = PlayerOp::RenewLeases {
        owner: me.clone(),
        leases: vec![
            (first, 1),
            (second, 2),
            (foreign, 1),
            (unknown, 1),
            (other_database, 1),
        ],
        lease_ttl_ms: LEASE_TTL_MS,
    };
    let now = LEASE_TTL_MS - 5;
    let missing = Refused::Fenced {
        current: Ownership::free(),
    };
    let expected = OpOutcome::Renewed(vec![
        (first, Ok(now + LEASE_TTL_MS)),
        (
            second,
            Err(Refused::Fenced {
                current: held_by(&me, 1, LEASE_TTL_MS),
            }),
        ),
        (
            foreign,
            Err(Refused::Fenced {
                current: foreign_owner,
            }),
        ),
        (unknown, Err(missing.clone())),
        (other_database, Err(missing)),
    ]);
    assert_eq!(apply_one(&mut store, now, renew), Ok(expected));

    let rival = owner("gs3", 1);
    let still_held = apply_one(&mut store, LEASE_TTL_MS, claim_op(first, &rival));
    assert!(matches!(refusal(still_held), Refused::HeldElsewhere { .. }));
    let lapsed = claim(&mut store, LEASE_TTL_MS, second, &rival);
    assert_eq!(lapsed.ownership.epoch, 2);
}

/// A renewal that lands after the lease lapsed (by the database's clock)
/// is refused and leaves the row as it was: it cannot revive a row whose
/// holder has stopped serving the player, and the row stays claimable.
pub fn a_renewal_after_the_lease_lapsed_is_refused<H: Harness>(mut harness: H) {
    let mut store = harness.open();
    let me = owner("gs1", 1);
    let roleid = create(&mut store, 1, "ann").roleid;
    let held = claim(&mut store, 0, roleid, &me).ownership;
    let renew = PlayerOp::RenewLeases {
        owner: me.clone(),
        leases: vec![(roleid, 1)],
        lease_ttl_ms: LEASE_TTL_MS,
    };
    let late = apply_one(&mut store, LEASE_TTL_MS, renew);
    let refused = Err(Refused::Fenced {
        current: held.clone(),
    });
    assert_eq!(late, Ok(OpOutcome::Renewed(vec![(roleid, refused)])));
    assert_eq!(load(&mut store, LEASE_TTL_MS, roleid).ownership, held);
    let taken = claim(&mut store, LEASE_TTL_MS, roleid, &owner("gs2", 1));
    assert_eq!(taken.ownership.epoch, 2, "claimable as the lapse left it");
}

/// A handoff at a stale epoch is fenced; the simulator's mutated rules let it through (the store runs the rules it is given).
pub fn a_stale_handoff_is_fenced_unless_the_rules_are_mutated<H: Harness>(mut harness: H) {
    let mutated = Rules {
        handoff_checks_epoch: false,
        ..Rules::default()
    };
    for (rules, goes_through) in [(Rules::default(), false), (mutated, true)] {
        let mut store = harness.open_with(rules);
        let created = create(&mut store, 1, "ann");
        let stale = owner("gs1", 1);
        let stale_copy = claim(&mut store, 0, created.roleid, &stale);
        claim(&mut store, LEASE_TTL_MS, created.roleid, &owner("gs2", 1));
        let handoff = PlayerOp::Handoff {
            write: earn(&stale_copy, &stale, 1, 1),
            to: "gs3".to_owned(),
            handoff_ttl_ms: HANDOFF_TTL_MS,
        };
        let result = apply_one(&mut store, LEASE_TTL_MS + 1, handoff);
        if goes_through {
            assert_eq!(written(result).1.holder, Holder::Arriving("gs3".to_owned()));
        } else {
            assert!(matches!(refusal(result), Refused::Fenced { .. }));
        }
        drop(store);
    }
}

/// `TakeBack` frees the rows a dead predecessor held or was handed, durably, and no one else's.
pub fn a_restarted_node_takes_back_its_predecessors_rows_durably<H: Harness>(mut harness: H) {
    let mut store = harness.open();
    let held = create(&mut store, 1, "ann");
    let arriving = create(&mut store, 2, "bob");
    let elsewhere = create(&mut store, 1, "cat");
    let dead = owner("gs1", 1);
    claim(&mut store, 0, held.roleid, &dead);
    let source = owner("gs2", 1);
    let bob = claim(&mut store, 0, arriving.roleid, &source);
    let handoff = PlayerOp::Handoff {
        write: earn(&bob, &source, 1, 0),
        to: "gs1".to_owned(),
        handoff_ttl_ms: HANDOFF_TTL_MS,
    };
    written(apply_one(&mut store, 0, handoff));
    claim(&mut store, 0, elsewhere.roleid, &owner("gs3", 1));

    let restarted = owner("gs1", 2);
    let taken = apply_one(
        &mut store,
        1,
        PlayerOp::TakeBack {
            owner: restarted.clone(),
        },
    );
    assert_eq!(taken, Ok(OpOutcome::TakenBack { rows: 2 }));
    let mut store = harness.reopen(store);
    assert_eq!(
        load(&mut store, 1, held.roleid).ownership.holder,
        Holder::Free
    );
    assert_eq!(
        load(&mut store, 1, arriving.roleid).ownership.holder,
        Holder::Free
    );
    let zombie = apply_one(&mut store, 1, PlayerOp::Save(earn(&held, &dead, 1, 5)));
    assert!(matches!(refusal(zombie), Refused::Fenced { .. }));
    let other = load(&mut store, 1, elsewhere.roleid).ownership;
    assert_eq!(
        other,
        held_by(&owner("gs3", 1), 1, LEASE_TTL_MS),
        "not gs1's"
    );
    claim(&mut store, 2, held.roleid, &restarted);
    let again = apply_one(&mut store, 3, PlayerOp::TakeBack { owner: restarted });
    assert_eq!(
        again,
        Ok(OpOutcome::TakenBack { rows: 0 }),
        "its own rows stay"
    );
}
