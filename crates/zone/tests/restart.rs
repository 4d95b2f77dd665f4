//! Restarts over real sockets (DESIGN §5, §6) that only the embedded mode
//! has or only its process can see, so they run embedded only (the zone
//! suite's `zone_suite::restarts` run on both backends): a zone owns its
//! data directory while it runs (the distributed mode has no node lock
//! yet), a restarted game server takes back its predecessor's players at
//! once (the distributed mode's nodes take back nothing yet), and a
//! restarted home server rebuilds its kuafu marks (in its memory) from the
//! rows.

use zone::{LOCK_FILE, Zone, ZoneConfig, ZoneError};
use zone_suite::embedded::expect_mark;
use zone_suite::helpers::*;
use zone_suite::{EmbeddedZone, TestZone, demo_zone};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_zone_on_the_same_data_directory_is_refused_until_the_first_stops() {
    let dir = tempfile::tempdir().unwrap();
    let zone = Zone::start(ZoneConfig::demo(dir.path(), 3)).await.unwrap();
    let refused = Zone::start(ZoneConfig::demo(dir.path(), 3)).await;
    let Err(error @ ZoneError::Lock(_)) = refused else {
        panic!("a second zone started on a locked data directory");
    };
    assert!(error.to_string().contains(LOCK_FILE), "{error}");
    zone.shutdown().await;
    let again = Zone::start(ZoneConfig::demo(dir.path(), 3)).await.unwrap();
    again.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_home_server_rebuilds_its_marks_from_the_rows() {
    let mut zone = EmbeddedZone::run(demo_zone(3)).await; // leases far longer than the test
    let (_, mut m) = register_and_enter(&zone, "m").await;
    let roleid = m.entered().player.as_ref().unwrap().roleid;
    m.go_server("gs2").await.unwrap();
    expect_mark(&zone.zone, "gs1", roleid, Some("gs2")).await;

    zone.kill_game("gs1").await;
    zone.restart_game("gs1").await;
    expect_mark(&zone.zone, "gs1", roleid, Some("gs2")).await;
    assert_eq!(add_gold(&mut m, 4).await, 4, "the player plays on at gs2");
    zone.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_game_server_lets_its_players_in_at_once() {
    let mut zone = EmbeddedZone::run(demo_zone(3)).await; // leases far longer than the test
    let (_, mut n) = register_and_enter(&zone, "n").await;
    assert_eq!(add_gold(&mut n, 6).await, 6);
    n.go_server("gs2").await.unwrap(); // durable: the handoff saves
    n.go_home().await.unwrap();

    zone.kill_game("gs1").await;
    zone.restart_game("gs1").await;
    let login = client::account::login_password(&zone.account(), "n", "pw")
        .await
        .unwrap();
    let mut n = enter(&login, "n").await.expect("no wait for the old lease");
    assert_eq!(n.current_srvname(), "gs1");
    assert_eq!(gold(&mut n).await, 6);
    zone.shutdown().await;
}
