//! Regression tests for game-core bugs found by outside testing, each a
//! short script that drives one `GameCore` through its public API (see
//! `harness`), with the model store answering its store operations.

mod harness;

use harness::Harness;
use wire::client::ErrorCode;
use wire::client::server_frame::Body as Out;

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
