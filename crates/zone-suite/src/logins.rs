//! Logins over real sockets (DESIGN §6, §11; the login queue is
//! [`login_queue`](crate::login_queue)): the account center grants a
//! separate one-time token to each game server it tries, and the client
//! gets only the token of the server that acknowledged, so a grant that
//! reaches a stalled server late admits nobody; and the player cap: a game
//! server at `players_max` refuses the login's grant with `SERVER_FULL`,
//! the account center sends the new role to another open server (no
//! selection screen), and when every server is full the login is refused
//! `SERVER_FULL` with a time to retry, before it waits for anything.

use std::time::Duration;

use client::{ClientError, Connection};
use wire::client::client_frame::Body;
use wire::client::server_frame::Body as Reply;
use wire::client::{Authenticate, ErrorCode};

use crate::helpers::*;
use crate::{TestZone, demo_zone, fast_zone};

fn srvname(login: &wire::client::LoginOk) -> String {
    login.server.as_ref().expect("a server").srvname.clone()
}

/// A full game server sends a new role elsewhere.
pub async fn a_full_game_server_sends_a_new_role_elsewhere<Z: TestZone>() {
    let mut config = demo_zone(2);
    config.limits.players_max = 1;
    let Some(zone) = Z::start(config).await else {
        return;
    };
    let addr = zone.account();

    let first = client::account::login_device(&addr, "first").await.unwrap();
    assert_eq!(srvname(&first), "gs1", "the recommended server");
    let _first = enter(&first, "first").await.expect("enters gs1");

    let second = client::account::login_device(&addr, "second")
        .await
        .unwrap();
    assert_eq!(srvname(&second), "gs2", "gs1 is full: another server");
    let second = enter(&second, "second").await.expect("enters gs2");
    assert_eq!(second.current_srvname(), "gs2");

    match client::account::login_device(&addr, "third").await {
        Err(ClientError::Server {
            code: ErrorCode::ServerFull,
            retry_after: Some(retry_after),
            ..
        }) => assert!(retry_after > Duration::ZERO),
        other => panic!("expected SERVER_FULL, got {other:?}"),
    }
    zone.shutdown().await;
}

/// Longer than the account center's bus request deadline (500 ms in the fast
/// zone), so its grant to the stalled server times out.
const STALL: Duration = Duration::from_millis(1_500);

/// A login token is valid only at the server the login names: a grant that
/// reaches a stalled server late admits nobody.
pub async fn a_login_token_is_valid_only_at_the_server_the_login_names<Z: TestZone>() {
    let mut config = fast_zone(3);
    // Tokens outlive the whole test: a refusal below is not an expiry.
    config.timing.token_ttl_ms = 60_000;
    let Some(zone) = Z::start(config).await else {
        return;
    };
    let (_, session) = register_and_enter(&zone, "lena").await;
    assert_eq!(session.current_srvname(), "gs1");
    session.logoff().await.unwrap();

    // gs1 (lena's home and the recommended server) stalls: the account
    // center's grant there times out and it names another server.
    zone.stall("gs1", STALL).await;
    let login = client::account::login_password(&zone.account(), "lena", "pw")
        .await
        .unwrap();
    let named = login.server.clone().unwrap().srvname;
    assert_ne!(named, "gs1", "gs1 is stalled");
    let elsewhere = enter(&login, "lena").await.expect("lena enters there");
    assert_eq!(elsewhere.current_srvname(), named);

    // gs1 wakes and handles the late grant. A new account's login is granted
    // at gs1 (the recommended server) behind it on gs1's bus inbox, so once
    // that login is answered gs1 has seen the late grant.
    zone.awake("gs1").await;
    let probe = client::account::register(&zone.account(), "probe", "pw")
        .await
        .unwrap();
    assert_eq!(probe.server.unwrap().srvname, "gs1", "gs1 is awake");

    // The token lena got is refused at gs1.
    let gs1_addr = zone.game_addr("gs1");
    let connection = Connection::connect_tcp(&gs1_addr).await.unwrap();
    let replay = Body::Authenticate(Authenticate {
        token: login.login_token.clone(),
        roleid: 0,
    });
    match connection.request(replay).await {
        Err(ClientError::Server { code, .. }) => assert_eq!(code, ErrorCode::BadToken),
        Ok(Reply::Authenticated(authenticated)) => panic!(
            "lena's token also authenticated account {} at gs1",
            authenticated.account_id
        ),
        other => panic!("unexpected answer {other:?}"),
    }
    zone.shutdown().await;
}
