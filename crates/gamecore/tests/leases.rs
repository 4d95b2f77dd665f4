//! A copy that may no longer be the writable one stops serving, through the
//! core's API (DESIGN §5): a save the store refuses as fenced drops the
//! player with `FENCED`, and a lease that runs out unrenewed drops it with
//! `LEASE_LOST`.

mod harness;

use gamecore::Event;
use harness::{Harness, T0, lease_lapsed_ms};
use ownership::Refused;
use store::{OpOutcome, PlayerOp, StoreError};
use wire::client::game_call::Call;
use wire::client::{AddGold, ErrorCode};

const ACCOUNT: u64 = 1_000;

/// Timers the harness fires at most while waiting for one outcome.
const TIMERS_MAX: usize = 1_000;

/// A save answered `Refused::Fenced` (another writer took the row at a newer
/// epoch) drops the player: the core reports `Fenced` and kicks the client
/// `FENCED`.
#[test]
fn a_fenced_save_drops_the_player_and_kicks_the_client_fenced() {
    let mut harness = Harness::with_config(|config| config.save_interval_ms = 100);
    let roleid = harness.create_role(ACCOUNT);
    let session = harness.log_in_and_enter(ACCOUNT, roleid);
    let add = AddGold {
        amount: 5,
        reason: "test".into(),
    };
    harness.call(session, Call::AddGold(add));
    harness.hold_store = true;
    let is_save = |op: &PlayerOp| matches!(op, PlayerOp::Save(_));
    let mut timers = 0;
    while !harness.held().any(is_save) {
        timers += 1;
        assert!(timers < TIMERS_MAX, "the changed player is never saved");
        harness.fire_next_timer();
    }
    let (save, _) = harness.take_held(is_save);
    let read = harness.commit(PlayerOp::ReadOwnership { roleid });
    let Ok(OpOutcome::OwnershipRead { mut ownership, .. }) = read else {
        panic!("the row is read: {read:?}");
    };
    ownership.epoch += 1; // as the store sees it after a newer claim
    let fenced = Refused::Fenced { current: ownership };
    harness.deliver(save, Err(StoreError::Refused(fenced)));
    assert!(harness.reported(&Event::Fenced { roleid }));
    assert_eq!(harness.kicked(session), Some(ErrorCode::Fenced));
    assert!(!harness.core.is_online(roleid));
}

/// A lease whose renewals never come back: the player is served until the
/// lease could have run out (by the core's clock plus the skew margin), and
/// then the core's timer drops it, reports `LeaseLost` and kicks the client
/// `LEASE_LOST`.
#[test]
fn a_lease_that_runs_out_unrenewed_drops_the_player_by_the_cores_timer() {
    let mut harness = Harness::new();
    let roleid = harness.create_role(ACCOUNT);
    let session = harness.log_in_and_enter(ACCOUNT, roleid);
    harness.hold_store = true; // renewals stay unanswered
    let mut timers = 0;
    while harness.kicked(session).is_none() {
        assert!(
            harness.writable(roleid),
            "dropped only once the lease could have lapsed"
        );
        timers += 1;
        assert!(timers < TIMERS_MAX, "the lease never ran out");
        harness.fire_next_timer();
    }
    assert!(harness.now_ms >= lease_lapsed_ms(T0));
    assert_eq!(harness.kicked(session), Some(ErrorCode::LeaseLost));
    assert!(harness.reported(&Event::LeaseLost { roleid }));
    assert!(!harness.core.is_online(roleid));
}
