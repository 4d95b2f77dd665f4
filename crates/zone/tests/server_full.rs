//! The player cap over real sockets (DESIGN §11, issue 12 item 4): a game
//! server at `players_max` refuses the login's grant with `SERVER_FULL`, the
//! account center sends the new role to another open server (no selection
//! screen), and when every server is full the login is refused
//! `SERVER_FULL` with a time to retry, before it waits for anything.

mod common;

use std::time::Duration;

use client::ClientError;
use common::*;
use wire::client::ErrorCode;
use zone::{Zone, ZoneConfig};

fn srvname(login: &wire::client::LoginOk) -> String {
    login.server.as_ref().expect("a server").srvname.clone()
}

#[tokio::test]
async fn a_full_game_server_sends_a_new_role_elsewhere() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = ZoneConfig::demo(dir.path(), 2);
    config.limits.players_max = 1;
    let zone = Zone::start(config).await.expect("the zone starts");
    let addr = account(&zone);

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
