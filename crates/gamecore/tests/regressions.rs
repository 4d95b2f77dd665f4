//! Regression tests for game-core bugs found by outside testing, each a
//! short script that drives one `GameCore` through its public API (see
//! `harness`), with the model store answering its store operations.

mod harness;

use harness::Harness;
use wire::client::client_frame::Body as In;
use wire::client::game_call::Call;
use wire::client::server_frame::Body as Out;
use wire::client::{ErrorCode, GoServer, Logoff};

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
