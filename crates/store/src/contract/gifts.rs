//! A receiver's inbox (DESIGN §9): a gift to an offline player waits in its
//! home database and is credited once, by the claim that next loads it.

use wire::node::{Gift, GiftId};

use super::*;
use crate::gifts::{self, INBOX_GIFTS_MAX};

fn gift(to: RoleId, seq: u64, gold: u64) -> Gift {
    Gift {
        id: Some(GiftId {
            from_roleid: 2_000_001,
            seq,
        }),
        to_roleid: to.get(),
        gold,
    }
}

fn inbox(to: RoleId, gift: Gift) -> PlayerOp {
    PlayerOp::InboxGift { to, gift }
}

/// A gift to an offline player is credited by its next claim, once, with a
/// ledger line naming the gift, written at the claim's epoch; the inbox is
/// empty after it, so later claims credit nothing more, and a gift put in
/// again after its credit (a retried delivery) is not credited twice.
pub fn an_inboxed_gift_is_credited_once_by_the_next_claim<H: Harness>(mut harness: H) {
    let mut store = harness.open();
    let ann = create(&mut store, 1, "ann").roleid;
    let first = gift(ann, 7, 30);
    assert_eq!(
        apply_one(&mut store, 0, inbox(ann, first)),
        Ok(OpOutcome::Inboxed)
    );
    assert_eq!(
        apply_one(&mut store, 1, inbox(ann, first)),
        Ok(OpOutcome::Inboxed)
    );
    let mut store = harness.reopen(store);
    let gs1 = owner("gs1", 1);
    let claimed = claim(&mut store, 2, ann, &gs1);
    assert_eq!((claimed.data.gold, claimed.data_version), (30, 2));
    assert_eq!(claimed.data.gifts_received, vec![first.id.unwrap()]);
    let ledger = H::ledger(&store, ann);
    assert_eq!(ledger.len(), 1, "one line for the gift: {ledger:?}");
    assert_eq!(
        ledger[0].reason,
        gifts::credit_reason(first.id.as_ref().unwrap())
    );
    written(apply_one(
        &mut store,
        3,
        PlayerOp::Release(earn(&claimed, &gs1, 1, 1)),
    ));
    assert_eq!(
        apply_one(&mut store, 4, inbox(ann, first)),
        Ok(OpOutcome::Inboxed)
    );
    let again = claim(&mut store, 5, ann, &owner("gs2", 1));
    assert_eq!(
        again.data.gold, 31,
        "the gift counted once, plus the earning"
    );
    assert_eq!(H::ledger(&store, ann).len(), 2);
    let read = load(&mut store, 6, ann);
    assert_eq!(read.data, again.data, "the claim's credit is stored");
}

/// While a node holds the receiver's row with a live lease the inbox is
/// refused (deliver to that node instead); once the lease lapsed by the
/// database's clock it takes gifts again.
pub fn the_inbox_refuses_while_the_receiver_is_held<H: Harness>(mut harness: H) {
    let mut store = harness.open();
    let ann = create(&mut store, 1, "ann").roleid;
    let held = claim(&mut store, 0, ann, &owner("gs1", 1));
    let refused = refusal(apply_one(&mut store, 1, inbox(ann, gift(ann, 1, 5))));
    assert!(
        matches!(refused, Refused::HeldElsewhere { .. }),
        "{refused:?}"
    );
    let later = held.ownership.lease_until_ms;
    assert_eq!(
        apply_one(&mut store, later, inbox(ann, gift(ann, 1, 5))),
        Ok(OpOutcome::Inboxed)
    );
}

/// A gift for another role, without an id, or to an unknown role is
/// refused; an inbox holds at most `INBOX_GIFTS_MAX` gifts.
pub fn malformed_gifts_and_a_full_inbox_are_refused<H: Harness>(mut harness: H) {
    let mut store = harness.open();
    let ann = create(&mut store, 1, "ann").roleid;
    let bob = create(&mut store, 1, "bob").roleid;
    let misaddressed = apply_one(&mut store, 0, inbox(ann, gift(bob, 1, 5)));
    assert_eq!(misaddressed, Err(StoreError::MalformedGift(ann)));
    let mut anonymous = gift(ann, 1, 5);
    anonymous.id = None;
    let anonymous = apply_one(&mut store, 0, inbox(ann, anonymous));
    assert_eq!(anonymous, Err(StoreError::MalformedGift(ann)));
    let nobody = role(1, 99);
    let unknown = apply_one(&mut store, 0, inbox(nobody, gift(nobody, 1, 5)));
    assert_eq!(unknown, Err(StoreError::UnknownRole(nobody)));
    let fill: Vec<PlayerOp> = (1..=INBOX_GIFTS_MAX as u64)
        .map(|seq| inbox(ann, gift(ann, seq, 1)))
        .collect();
    for result in store.apply(0, &fill) {
        assert_eq!(result, Ok(OpOutcome::Inboxed));
    }
    let over = apply_one(&mut store, 0, inbox(ann, gift(ann, 0, 1)));
    assert_eq!(over, Err(StoreError::InboxFull(ann)));
    let claimed = claim(&mut store, 1, ann, &owner("gs1", 1));
    assert_eq!(claimed.data.gold, INBOX_GIFTS_MAX as u64);
}
