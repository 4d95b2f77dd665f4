//! The player cap (DESIGN §11, issue 12 item 4): a game server promises a
//! place with every token it grants, so at `players_max` it refuses new
//! grants with `SERVER_FULL` (and the login moves on to another server),
//! and a client that got a token is not then refused for capacity.

mod harness;

use harness::Harness;
use wire::client::ErrorCode;
use wire::client::server_frame::Body as Out;
use wire::node::NodeMessage;
use wire::node::node_message::Body;

const ACCOUNT: u64 = 1_000;

fn refusal_code(reply: Option<&NodeMessage>) -> Option<ErrorCode> {
    match reply?.body.as_ref()? {
        Body::Error(error) => ErrorCode::try_from(error.code).ok(),
        _ => None,
    }
}

/// Two places: a client that redeemed its token and one that holds an
/// unredeemed token take them; a third grant is refused `SERVER_FULL`, and
/// the place of a client that leaves before entering is free again.
#[test]
fn a_grant_beyond_the_places_promised_is_refused_server_full() {
    let mut harness = Harness::with_config(|config| config.players_max = 2);
    let authenticated = harness.log_in(ACCOUNT);
    harness.grant_login(9_001, ACCOUNT + 1);
    assert_eq!(refusal_code(harness.last_peer_reply()), None);
    harness.grant_login(9_002, ACCOUNT + 2);
    assert_eq!(
        refusal_code(harness.last_peer_reply()),
        Some(ErrorCode::ServerFull)
    );

    harness.core.handle_session_closed(authenticated);
    harness.grant_login(9_003, ACCOUNT + 2);
    assert_eq!(refusal_code(harness.last_peer_reply()), None, "room again");
}

/// One place, promised to the first login: a second login's grant is
/// refused, and the first client enters (it is not refused for capacity).
#[test]
fn a_client_with_a_granted_token_enters_while_others_are_refused() {
    let mut harness = Harness::with_config(|config| config.players_max = 1);
    let roleid = harness.create_role(ACCOUNT);
    let session = harness.log_in(ACCOUNT);
    harness.grant_login(9_001, ACCOUNT + 1);
    assert_eq!(
        refusal_code(harness.last_peer_reply()),
        Some(ErrorCode::ServerFull)
    );
    let request_id = harness.enter(session, roleid);
    assert!(matches!(
        harness.reply(session, request_id),
        Some(Out::Entered(_))
    ));
}

/// A full server still takes the grant of an account whose role it hosts
/// (the login takes that player over), but not another account's claim to
/// the same role.
#[test]
fn a_full_server_takes_the_login_of_a_player_it_hosts() {
    let mut harness = Harness::with_config(|config| config.players_max = 1);
    let roleid = harness.create_role(ACCOUNT);
    harness.log_in_and_enter(ACCOUNT, roleid);
    harness.grant_login_online(9_001, ACCOUNT + 1, roleid.get());
    assert_eq!(
        refusal_code(harness.last_peer_reply()),
        Some(ErrorCode::ServerFull),
        "another account's grant"
    );
    harness.grant_login_online(9_002, ACCOUNT, roleid.get());
    assert_eq!(refusal_code(harness.last_peer_reply()), None);
    let session = harness.open();
    harness.authenticate(session, 9_002, 0);
    let request_id = harness.enter(session, roleid);
    assert!(matches!(
        harness.reply(session, request_id),
        Some(Out::Entered(_))
    ));
}
