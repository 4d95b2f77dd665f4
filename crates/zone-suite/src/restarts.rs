//! Restarts of a game server and of the whole zone over real sockets
//! (DESIGN §5): accounts, players and role ids survive them, and a role id
//! is never used twice.

use wire::client::ErrorCode;

use crate::helpers::*;
use crate::{TestZone, demo_zone, fast_zone};

/// Accounts players and role ids survive a restart and ids are never reused.
pub async fn accounts_players_and_role_ids_survive_a_restart_and_ids_are_never_reused<
    Z: TestZone,
>() {
    let Some(zone) = Z::start(demo_zone(3)).await else {
        return;
    };
    let (_, mut dave) = register_and_enter(&zone, "dave").await;
    add_gold(&mut dave, 40).await;
    let (_, erin) = register_and_enter(&zone, "erin").await;
    assert_eq!(erin.entered().player.as_ref().unwrap().roleid, 1_000_002);
    // Erin is still online at shutdown: the graceful stop saves and releases her.
    drop(dave);
    let zone = zone.restart().await;
    let login = client::account::login_password(&zone.account(), "dave", "pw")
        .await
        .unwrap();
    let mut dave = enter(&login, "dave").await.unwrap();
    assert_eq!(gold(&mut dave).await, 40);
    let (_, frank) = register_and_enter(&zone, "frank").await;
    assert_eq!(
        frank.entered().player.as_ref().unwrap().roleid,
        1_000_003,
        "sequence 3, never 1 or 2 again"
    );
    assert_eq!(
        code(client::account::register(&zone.account(), "dave", "other").await),
        ErrorCode::AccountExists
    );
    zone.shutdown().await;
}

/// A crashed server does not reuse role ids after restart.
pub async fn a_crashed_server_does_not_reuse_role_ids_after_restart<Z: TestZone>() {
    let Some(mut zone) = Z::start(fast_zone(3)).await else {
        return;
    };
    let (_, grace) = register_and_enter(&zone, "grace").await;
    assert_eq!(grace.entered().player.as_ref().unwrap().roleid, 1_000_001);
    zone.kill_game("gs1").await;
    zone.restart_game("gs1").await;
    let (_, heidi) = register_and_enter(&zone, "heidi").await;
    assert_eq!(heidi.entered().player.as_ref().unwrap().roleid, 1_000_002);
    zone.shutdown().await;
}
