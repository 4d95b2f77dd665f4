//! Logins over real sockets (DESIGN §6, §11): the account center grants a
//! separate one-time token to each game server it tries, and the client gets
//! only the token of the server that acknowledged, so a grant that reaches a
//! stalled server late admits nobody. Embedded only: the stall is a hook
//! inside the zone's process (the other login tests are the zone suite's,
//! `zone_suite::logins`, run on both backends).

use std::time::Duration;

use client::{ClientError, Connection};
use wire::client::client_frame::Body;
use wire::client::server_frame::Body as Reply;
use wire::client::{Authenticate, ErrorCode};
use zone_suite::helpers::*;
use zone_suite::{EmbeddedZone, TestZone, fast_zone};

/// Longer than the account center's bus request deadline (500 ms in the fast
/// zone), so its grant to the stalled server times out.
const STALL: Duration = Duration::from_millis(1_500);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_login_token_is_valid_only_at_the_server_the_login_names() {
    let mut config = fast_zone(3);
    // Tokens outlive the whole test: a refusal below is not an expiry.
    config.timing.token_ttl_ms = 60_000;
    let zone = EmbeddedZone::run(config).await;
    let (_, session) = register_and_enter(&zone, "lena").await;
    assert_eq!(session.current_srvname(), "gs1");
    session.logoff().await.unwrap();

    // gs1 (lena's home and the recommended server) stalls: the account
    // center's grant there times out and it names another server.
    let gs1 = zone.zone.game("gs1").unwrap();
    gs1.stall(STALL).await.unwrap();
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
    gs1.status().await.unwrap();
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
