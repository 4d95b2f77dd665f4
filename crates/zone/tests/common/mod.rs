//! Helpers shared by the zone's real-socket tests: start a zone on free
//! loopback ports in a temporary directory, register and enter players.

#![allow(dead_code)]

use std::path::Path;

use client::{CallOutcome, ClientError, GameSession};
use wire::client::game_call::Call;
use wire::client::{AddGold, CallReply, ErrorCode, GetPlayer, LoginOk, SpendGold};
use zone::{Zone, ZoneConfig};

/// Starts the demo zone (3 game servers) with its data under `dir`.
pub async fn start_zone(dir: &Path) -> Zone {
    Zone::start(ZoneConfig::demo(dir, 3))
        .await
        .expect("the zone starts")
}

/// Starts a zone with short leases and heartbeats, for failure tests.
pub async fn start_fast_zone(dir: &Path) -> Zone {
    Zone::start(fast_config(dir))
        .await
        .expect("the zone starts")
}

/// The demo zone with leases and timers short enough for tests.
pub fn fast_config(dir: &Path) -> ZoneConfig {
    let mut config = ZoneConfig::demo(dir, 3);
    config.timing.lease_ttl_ms = 1_500;
    config.timing.lease_renew_interval_ms = 300;
    config.timing.skew_margin_ms = 300;
    config.timing.save_interval_ms = 200;
    config.timing.heartbeat_interval_ms = 200;
    config.timing.token_ttl_ms = 1_000;
    config.timing.request_deadline_ms = 500;
    config
}

/// The account center's address.
pub fn account(zone: &Zone) -> String {
    zone.account_addr().to_string()
}

/// Registers `name` and enters the game with a new role named after it.
pub async fn register_and_enter(zone: &Zone, name: &str) -> (LoginOk, GameSession) {
    let login = client::account::register(&account(zone), name, "pw")
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

pub use test_support::eventually;

/// The kuafu mark `home` keeps for `roleid`: where it says the player went.
pub async fn mark(zone: &Zone, home: &str, roleid: u64) -> Option<String> {
    let roleid = routing::RoleId::from_raw(roleid).unwrap();
    let mark = zone.game(home).unwrap().kuafu_mark(roleid).await.unwrap();
    mark.map(|mark| mark.go_srvname)
}

/// Waits until the home's mark for `roleid` is `expected`.
pub async fn expect_mark(zone: &Zone, home: &str, roleid: u64, expected: Option<&str>) {
    let what = format!("{home}'s mark of {roleid} to be {expected:?}");
    eventually(&what, || async {
        (mark(zone, home, roleid).await.as_deref() == expected).then_some(())
    })
    .await;
}

/// Waits until the data center says `roleid` is at `srvname`, online or not.
pub async fn expect_current(zone: &Zone, roleid: u64, srvname: &str, online: bool) {
    let roleid_id = routing::RoleId::from_raw(roleid).unwrap();
    let what = format!("the data center to place {roleid} at {srvname} (online {online})");
    let expected = Some((srvname.to_owned(), online));
    eventually(&what, || async {
        (zone.current_server(roleid_id).await.unwrap() == expected).then_some(())
    })
    .await;
}

/// Logs in again and enters, retrying while the old copy's lease runs out
/// (`PLAYER_BUSY`): what a real client does after its server died.
pub async fn relogin(zone: &Zone, name: &str) -> GameSession {
    let what = format!("{name} to enter again");
    eventually(&what, || async {
        let login = client::account::login_password(&account(zone), name, "pw")
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
pub async fn expect_saved_gold(zone: &Zone, roleid: u64, gold: u64) {
    let role = routing::RoleId::from_raw(roleid).unwrap();
    let what = format!("the row of {roleid} to hold {gold} gold");
    eventually(&what, || async {
        let stored = zone.load_readonly(role).await.ok()?;
        (stored.data.gold == gold).then_some(())
    })
    .await;
}
