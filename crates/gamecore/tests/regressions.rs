//! Regression tests for game-core bugs found by outside testing and by the
//! simulator, each a short script that drives one `GameCore` through its
//! public API (see `harness`), with the model store answering its store
//! operations.

mod harness;

use gamecore::{Event, OpId, SessionId};
use harness::{Harness, T0, lease_lapsed_ms};
use store::{OpOutcome, PlayerOp, StoreError};
use wire::client::client_frame::Body as In;
use wire::client::game_call::Call;
use wire::client::server_frame::Body as Out;
use wire::client::{AddGold, ErrorCode, Fight, GoServer, Logoff};
use wire::node::node_message::Body;
use wire::node::{BattleResult, NodeMessage};

const ACCOUNT: u64 = 1_000;

/// A crossing token presented with the wrong role got `BAD_TOKEN` but was
/// marked used, so the right `Authenticate` got `TOKEN_USED` and the player
/// was locked out. A refused redemption now leaves the token as it was.
#[test]
fn a_crossing_token_presented_for_another_role_still_admits_its_own() {
    let mut harness = Harness::new();
    let roleid = harness.create_role(ACCOUNT);
    let other = harness.create_role(ACCOUNT + 1);
    let token = 77;
    harness.prepare_arrival(token, roleid);
    let session = harness.open();

    let wrong = harness.authenticate(session, token, other.get());
    assert_eq!(harness.error(session, wrong), Some(ErrorCode::BadToken));
    let right = harness.authenticate(session, token, roleid.get());
    assert!(
        matches!(harness.reply(session, right), Some(Out::Authenticated(_))),
        "the token still admits its role: {:?}",
        harness.reply(session, right)
    );
    let enter = harness.enter(session, roleid);
    assert!(matches!(
        harness.reply(session, enter),
        Some(Out::Entered(_))
    ));

    let replay = harness.open();
    let again = harness.authenticate(replay, token, roleid.get());
    assert_eq!(
        harness.error(replay, again),
        Some(ErrorCode::TokenUsed),
        "the one redemption that succeeded used it"
    );
}

/// A `Logoff` followed by another account's `EnterGame` of that role got
/// `PLAYER_BUSY` (the player is releasing), which told the other account
/// the role's state. Whenever the core holds the player's data, another
/// account is told `NOT_YOUR_ROLE` first.
#[test]
fn another_account_entering_a_releasing_player_is_told_not_your_role() {
    let mut harness = Harness::new();
    let roleid = harness.create_role(ACCOUNT);
    let owner = harness.log_in_and_enter(ACCOUNT, roleid);
    harness.hold_store = true; // the release stays in flight
    harness.send(owner, In::Logoff(Logoff {}));
    let stranger = harness.log_in(ACCOUNT + 1);
    let enter = harness.enter(stranger, roleid);
    assert_eq!(harness.error(stranger, enter), Some(ErrorCode::NotYourRole));

    let owner_again = harness.log_in(ACCOUNT);
    let enter = harness.enter(owner_again, roleid);
    assert_eq!(
        harness.error(owner_again, enter),
        Some(ErrorCode::PlayerBusy),
        "the owner is told to retry"
    );
}

/// The same leak while the player crosses away.
#[test]
fn another_account_entering_a_crossing_player_is_told_not_your_role() {
    let mut harness = Harness::new();
    let roleid = harness.create_role(ACCOUNT);
    let owner = harness.log_in_and_enter(ACCOUNT, roleid);
    let go = GoServer {
        srvname: "gs2".into(),
    };
    harness.call(owner, Call::GoServer(go)); // Prepare unanswered: crossing
    let stranger = harness.log_in(ACCOUNT + 1);
    let enter = harness.enter(stranger, roleid);
    assert_eq!(harness.error(stranger, enter), Some(ErrorCode::NotYourRole));
}

fn is_renewal(operation: &PlayerOp) -> bool {
    matches!(operation, PlayerOp::RenewLeases { .. })
}

/// A harness whose player has asked to cross to gs2 (the `Prepare` is
/// unanswered), the store held; returns its session and the request id of
/// its `GoServer`.
fn start_crossing() -> (Harness, SessionId, u64) {
    let mut harness = Harness::new();
    let (_, session, go) = harness.start_crossing(ACCOUNT, "gs2");
    (harness, session, go)
}

/// gs2 acknowledges the `Prepare`; the handoff this submits commits in the
/// store, and its answer is returned to be delivered later.
fn commit_handoff(harness: &mut Harness) -> (OpId, Result<OpOutcome, StoreError>) {
    let (prepare, _) = harness.take_request("gs2");
    harness.answer_call(prepare, Ok(Harness::ack()));
    let (handoff, operation) = harness.take_held(harness::is_handoff);
    (handoff, harness.commit(operation))
}

fn redirected(harness: &Harness, session: SessionId, go: u64) -> bool {
    matches!(harness.reply(session, go), Some(Out::Redirect(_)))
}

/// The renewal batch included copies whose handoff was in flight; when its
/// `Fenced` answer (the row was already gs2's) was handled before the
/// handoff's, the client was kicked `FENCED` instead of redirected. Such
/// copies are no longer renewed.
#[test]
fn a_copy_whose_handoff_is_in_flight_is_not_renewed_and_is_redirected() {
    let (mut harness, session, go) = start_crossing();
    let (handoff, handed_off) = commit_handoff(&mut harness);
    harness.fire_next_timer(); // the lease renewal batch
    let renewed: Vec<_> = harness.held().filter(|op| is_renewal(op)).collect();
    assert!(
        renewed.is_empty(),
        "the handed-off copy is not renewed: {renewed:?}"
    );
    harness.deliver(handoff, handed_off);
    assert!(redirected(&harness, session, go));
}

/// The same race with a renewal sent while the target was preparing and
/// applied behind the committed handoff: a `Fenced` renewal of a crossing
/// copy is not a kick; the handoff's own answer decides.
#[test]
fn a_renewal_fenced_behind_a_committed_handoff_does_not_kick_the_crossing_player() {
    let (mut harness, session, go) = start_crossing();
    harness.fire_next_timer(); // renews the copy while gs2 prepares
    let (renewal, renew) = harness.take_held(is_renewal);
    let (handoff, handed_off) = commit_handoff(&mut harness);
    let renewed = harness.commit(renew);
    assert!(
        matches!(&renewed, Ok(OpOutcome::Renewed(leases)) if leases[0].1.is_err()),
        "the row is gs2's: {renewed:?}"
    );
    harness.deliver(renewal, renewed);
    assert_eq!(harness.kicked(session), None);
    harness.deliver(handoff, handed_off);
    assert!(
        redirected(&harness, session, go),
        "{:?}",
        harness.frames_to(session)
    );
}

/// Not renewing a handed-off copy must not strand it: its lease check waits
/// for the handoff's answer, which redirects the client.
#[test]
fn a_handoff_answered_after_the_lease_deadline_still_redirects() {
    let (mut harness, session, go) = start_crossing();
    let (handoff, handed_off) = commit_handoff(&mut harness);
    while harness.now_ms <= lease_lapsed_ms(T0) {
        harness.fire_next_timer();
    }
    assert_eq!(harness.kicked(session), None);
    harness.deliver(handoff, handed_off);
    assert!(redirected(&harness, session, go));
}

/// The battle path credited a fight's gold and replied without checking the
/// lease: a battle answer that arrived after the lease could have run out
/// (the timer not fired yet) was acknowledged on a copy that may no longer
/// be the writable one. It now drops the player as any gameplay call does.
#[test]
fn a_fight_answered_after_the_lease_could_have_lapsed_credits_nothing() {
    let mut harness = Harness::new();
    let roleid = harness.create_role(ACCOUNT);
    let session = harness.log_in_and_enter(ACCOUNT, roleid);
    let fight = harness.call(session, Call::Fight(Fight { monster_level: 3 }));
    let (battle, _) = harness.take_request("gs1.battle");
    harness.advance_to(lease_lapsed_ms(T0));
    let won = BattleResult {
        won: true,
        rounds: 2,
    };
    let answer = NodeMessage {
        body: Some(Body::BattleResult(won)),
    };
    harness.answer_call(battle, Ok(answer));
    assert_eq!(
        harness.reply(session, fight),
        None,
        "no gold acknowledged on a lapsed lease"
    );
    assert_eq!(harness.kicked(session), Some(ErrorCode::LeaseLost));
    assert!(harness.reported(&Event::LeaseLost { roleid }));
    assert!(!harness.core.is_online(roleid));
}

/// A second login of a serving player was answered `Entered` from the copy
/// in memory without checking its lease. Past the lease, the copy is dropped
/// (its client kicked `LEASE_LOST`) and the new login claims the row afresh.
#[test]
fn a_second_login_after_the_lease_could_have_lapsed_is_not_entered_from_the_old_copy() {
    let mut harness = Harness::new();
    let roleid = harness.create_role(ACCOUNT);
    let first = harness.log_in_and_enter(ACCOUNT, roleid);
    harness.advance_to(lease_lapsed_ms(T0));
    harness.hold_store = true;
    let second = harness.log_in(ACCOUNT);
    let enter = harness.enter(second, roleid);
    assert_eq!(
        harness.reply(second, enter),
        None,
        "not entered from the lapsed copy"
    );
    assert_eq!(harness.kicked(first), Some(ErrorCode::LeaseLost));
    let (claim, operation) = harness.take_held(|op| matches!(op, PlayerOp::Claim { .. }));
    let claimed = harness.commit(operation);
    harness.deliver(claim, claimed);
    assert!(
        matches!(harness.reply(second, enter), Some(Out::Entered(_))),
        "entered once the row is claimed again"
    );
}

/// A claim answered after a stall sent `Entered` without checking the lease:
/// `handle_store_answer` took no time, so a claim whose answer arrived after
/// the lease it granted could have run out (by this node's clock plus the
/// skew margin) was acknowledged to the client. The answer is now checked
/// like every other acknowledgement: the player is dropped and the client
/// kicked `LEASE_LOST`.
#[test]
fn a_claim_answered_after_the_lease_could_have_lapsed_is_not_entered() {
    let mut harness = Harness::new();
    let roleid = harness.create_role(ACCOUNT);
    let session = harness.log_in(ACCOUNT);
    harness.hold_store = true;
    let enter = harness.enter(session, roleid);
    let (claim, operation) = harness.take_held(|op| matches!(op, PlayerOp::Claim { .. }));
    let claimed = harness.commit(operation); // the lease runs from T0
    harness.advance_to(lease_lapsed_ms(T0)); // the node stalled meanwhile
    harness.deliver(claim, claimed);
    assert_eq!(
        harness.reply(session, enter),
        None,
        "no Entered on a lease that could have lapsed"
    );
    assert_eq!(harness.kicked(session), Some(ErrorCode::LeaseLost));
    assert!(harness.reported(&Event::LeaseLost { roleid }));
    assert!(!harness.reported(&Event::Entered {
        roleid,
        by_crossing: false
    }));
    assert!(!harness.core.is_online(roleid));
}

/// The same for a crossing whose handoff did not apply: the abort that
/// follows it tells the client its player stays and is served here, and
/// was said after a stall on a lease that could have run out. It is now
/// said only while the lease holds; past it the player is dropped.
#[test]
fn a_handoff_found_not_applied_after_the_lease_could_have_lapsed_kicks_instead_of_aborting() {
    let (mut harness, session, go) = start_crossing();
    let (prepare, _) = harness.take_request("gs2");
    harness.answer_call(prepare, Ok(Harness::ack()));
    let (handoff, _) = harness.take_held(harness::is_handoff); // never reaches the store
    harness.advance_to(lease_lapsed_ms(T0));
    harness.deliver(handoff, Err(StoreError::Backend("reply lost".into())));
    let (read, operation) = harness.take_held(|op| matches!(op, PlayerOp::ReadOwnership { .. }));
    let row = harness.commit(operation); // still gs1's: not applied
    harness.deliver(read, row);
    assert_eq!(
        harness.reply(session, go),
        None,
        "not told it stays on a lease that could have lapsed"
    );
    assert_eq!(harness.kicked(session), Some(ErrorCode::LeaseLost));
}

/// Found by the simulator's pause fault: after a stall, a client frame
/// queued during it was served before the lease timer fired, on a lease that
/// could have run out. The core now checks the lease before serving.
#[test]
fn a_call_after_the_lease_could_have_lapsed_is_not_served() {
    let mut harness = Harness::new();
    let roleid = harness.create_role(ACCOUNT);
    let session = harness.log_in_and_enter(ACCOUNT, roleid);
    harness.advance_to(lease_lapsed_ms(T0) + 500); // the timer has not fired
    assert!(!harness.writable(roleid));
    let add = AddGold {
        amount: 5,
        reason: "test".into(),
    };
    let call = harness.call(session, Call::AddGold(add));
    assert_eq!(
        harness.reply(session, call),
        None,
        "served on a lapsed lease"
    );
    assert_eq!(harness.kicked(session), Some(ErrorCode::LeaseLost));
    assert!(harness.reported(&Event::LeaseLost { roleid }));
}

/// Found by the simulator's single-writer check: a source whose handoff had
/// committed (its answer still on the way) still listed the player as
/// writable while the target already held it.
#[test]
fn a_crossing_copy_is_not_writable_once_its_handoff_is_submitted() {
    let mut harness = Harness::new();
    let (roleid, _, _) = harness.start_crossing(ACCOUNT, "gs2");
    assert!(
        harness.writable(roleid),
        "still ours while the target prepares"
    );
    let (prepare, _) = harness.take_request("gs2");
    harness.answer_call(prepare, Ok(Harness::ack()));
    assert!(
        harness.held().any(harness::is_handoff),
        "the handoff is submitted: {:?}",
        harness.outputs
    );
    assert!(
        !harness.writable(roleid),
        "in doubt until the commit is known"
    );
}

/// Found by the simulator with a delayed frame on an abandoned connection:
/// it entered the player under that old login session, and the player's new
/// connection, admitted by a crossing token for this very role, was refused
/// `NOT_YOUR_ROLE`.
#[test]
fn a_crossing_session_takes_the_player_over_from_an_older_connection() {
    let mut harness = Harness::new();
    let roleid = harness.create_role(ACCOUNT);
    let crossing_token = 22;
    harness.prepare_arrival(crossing_token, roleid);
    let older = harness.log_in_and_enter(ACCOUNT, roleid);
    let newer = harness.open();
    harness.authenticate(newer, crossing_token, roleid.get());
    let enter = harness.enter(newer, roleid);
    assert!(
        matches!(harness.reply(newer, enter), Some(Out::Entered(_))),
        "{:?}",
        harness.frames_to(newer)
    );
    assert!(
        harness.kicked(older).is_some(),
        "the older connection is kicked"
    );
}
