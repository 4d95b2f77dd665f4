//! What the suite's tests (and the embedded-only tests in
//! `crates/zone/tests/`) share: register and enter players, make calls,
//! read error codes, and wait for the data center's and the stores' view
//! of a player to become what a test expects.

use client::{CallOutcome, ClientError, GameSession};
use wire::client::game_call::Call;
use wire::client::{AddGold, CallReply, ErrorCode, GetPlayer, LoginOk, SpendGold};

pub use test_support::eventually;

use crate::TestZone;

/// Registers `name` and enters the game with a new role named after it.
pub async fn register_and_enter(zone: &impl TestZone, name: &str) -> (LoginOk, GameSession) {
    let login = client::account::register(&zone.account(), name, "pw")
        .await
        .expect("register");
    let session = enter(&login, name).await.expect("enter");
    (login, session)
}

/// Enters the server `login` names: the first role, or a new one.
pub async fn enter(login: &LoginOk, name: &str) -> Result<GameSession, ClientError> {
    let server = login.server.clone().expect("a login names the server");
    let roleid = login.roles.first().map(|role| role.roleid);
    GameSession::enter(&server, &login.login_token, roleid, name).await
}

/// Makes a call that must be answered here (not a crossing).
pub async fn call(session: &mut GameSession, call: Call) -> Result<CallReply, ClientError> {
    match session.call(call).await? {
        CallOutcome::Reply(reply) => Ok(reply),
        CallOutcome::Crossed { .. } => panic!("a gameplay call redirected"),
    }
}

/// Adds gold and returns the amount applied.
pub async fn add_gold(session: &mut GameSession, amount: u64) -> u64 {
    let reply = call(
        session,
        Call::AddGold(AddGold {
            amount,
            reason: "test:rpc".into(),
        }),
    )
    .await;
    reply.expect("add gold").applied
}

/// Spends gold.
pub async fn spend_gold(session: &mut GameSession, amount: u64) -> Result<CallReply, ClientError> {
    call(
        session,
        Call::SpendGold(SpendGold {
            amount,
            reason: "test:shop".into(),
        }),
    )
    .await
}

/// The player's gold now.
pub async fn gold(session: &mut GameSession) -> u64 {
    let reply = call(session, Call::GetPlayer(GetPlayer {}))
        .await
        .expect("get player");
    reply.player.expect("a player view").gold
}

/// The error code of a failed client operation.
pub fn code<T: std::fmt::Debug>(result: Result<T, ClientError>) -> ErrorCode {
    match result {
        Err(ClientError::Server { code, .. }) => code,
        other => panic!("expected a server error, got {other:?}"),
    }
}

/// The `Kicked` code of a closed connection.
pub fn kicked_code<T: std::fmt::Debug>(result: Result<T, ClientError>) -> ErrorCode {
    match result {
        Err(ClientError::Closed {
            kicked: Some(kicked),
        }) => ErrorCode::try_from(kicked.code).expect("a known code"),
        other => panic!("expected a kick, got {other:?}"),
    }
}

/// Waits until the data center says `roleid` is at `srvname`, online or not.
pub async fn expect_current(zone: &impl TestZone, roleid: u64, srvname: &str, online: bool) {
    let what = format!("the data center to place {roleid} at {srvname} (online {online})");
    let expected = Some((srvname.to_owned(), online));
    eventually(&what, || async {
        (zone.current_server(roleid).await.unwrap() == expected).then_some(())
    })
    .await;
}

/// Logs in again and enters, retrying while the old copy's lease runs out
/// (`PLAYER_BUSY`): what a real client does after its server died.
pub async fn relogin(zone: &impl TestZone, name: &str) -> GameSession {
    let what = format!("{name} to enter again");
    eventually(&what, || async {
        let login = client::account::login_password(&zone.account(), name, "pw")
            .await
            .ok()?;
        match enter(&login, name).await {
            Ok(session) => Some(session),
            Err(ClientError::Server {
                code: ErrorCode::PlayerBusy,
                ..
            }) => None,
            Err(error) => panic!("{name} could not enter: {error}"),
        }
    })
    .await
}

/// The role id of the player a session plays.
pub fn roleid_of(session: &GameSession) -> u64 {
    session.entered().player.as_ref().expect("a player").roleid
}

/// Waits until `roleid`'s row in its home database holds `gold`: the
/// player's last change was saved (the event, not a guess at the save
/// interval).
pub async fn expect_saved_gold(zone: &impl TestZone, roleid: u64, gold: u64) {
    let what = format!("the row of {roleid} to hold {gold} gold");
    eventually(&what, || async {
        let stored = zone.load_readonly(roleid).await.ok()?;
        (stored.data.gold == gold).then_some(())
    })
    .await;
}
