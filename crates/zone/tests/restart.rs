//! Restarts over real sockets (DESIGN §5, §6): a zone owns its data
//! directory while it runs, a restarted game server takes back its
//! predecessor's players at once, and a restarted home server rebuilds its
//! kuafu marks from the rows.

mod common;

use common::*;
use zone::{LOCK_FILE, Zone, ZoneConfig, ZoneError};

#[tokio::test]
async fn a_second_zone_on_the_same_data_directory_is_refused_until_the_first_stops() {
    let dir = tempfile::tempdir().unwrap();
    let zone = start_zone(dir.path()).await;
    let refused = Zone::start(ZoneConfig::demo(dir.path(), 3)).await;
    let Err(error @ ZoneError::Lock(_)) = refused else {
        panic!("a second zone started on a locked data directory");
    };
    assert!(error.to_string().contains(LOCK_FILE), "{error}");
    zone.shutdown().await;
    let again = start_zone(dir.path()).await;
    again.shutdown().await;
}

#[tokio::test]
async fn a_restarted_home_server_rebuilds_its_marks_from_the_rows() {
    let dir = tempfile::tempdir().unwrap();
    let mut zone = start_zone(dir.path()).await; // leases far longer than the test
    let (_, mut m) = register_and_enter(&zone, "m").await;
    let roleid = m.entered().player.as_ref().unwrap().roleid;
    m.go_server("gs2").await.unwrap();
    expect_mark(&zone, "gs1", roleid, Some("gs2")).await;

    zone.kill_game("gs1").unwrap();
    zone.restart_game("gs1").await.unwrap();
    expect_mark(&zone, "gs1", roleid, Some("gs2")).await;
    assert_eq!(add_gold(&mut m, 4).await, 4, "the player plays on at gs2");
    zone.shutdown().await;
}

#[tokio::test]
async fn a_restarted_game_server_lets_its_players_in_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let mut zone = start_zone(dir.path()).await; // leases far longer than the test
    let (_, mut n) = register_and_enter(&zone, "n").await;
    assert_eq!(add_gold(&mut n, 6).await, 6);
    n.go_server("gs2").await.unwrap(); // durable: the handoff saves
    n.go_home().await.unwrap();

    zone.kill_game("gs1").unwrap();
    zone.restart_game("gs1").await.unwrap();
    let login = client::account::login_password(&account(&zone), "n", "pw")
        .await
        .unwrap();
    let mut n = enter(&login, "n").await.expect("no wait for the old lease");
    assert_eq!(n.current_srvname(), "gs1");
    assert_eq!(gold(&mut n).await, 6);
    zone.shutdown().await;
}
