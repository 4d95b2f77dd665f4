//! Crossing failures that need hooks inside the zone's process, so they run
//! on the embedded backend only (the rest of the crossing tests are the
//! zone suite's, `zone_suite::crossing`, run on both backends): a target
//! stalled while its source dies, and a zombie owner made by a stall and a
//! lagging clock, whose fenced writes the server counts in memory.

use std::time::Duration;

use client::CallOutcome;
use wire::client::ErrorCode;
use wire::client::client_frame::Body;
use wire::client::game_call::Call;
use wire::client::{GameCall, LevelUp};
use zone_suite::crossing::go_server;
use zone_suite::helpers::*;
use zone_suite::{EmbeddedZone, TestZone, fast_zone};

/// A source that dies before the handoff leaves the last save (a stall of
/// the target holds the crossing frozen).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_source_that_dies_before_the_handoff_leaves_the_last_save() {
    let mut zone = EmbeddedZone::run(fast_zone(3)).await;
    let (_, mut f) = register_and_enter(&zone, "f").await;
    let roleid = roleid_of(&f);
    add_gold(&mut f, 20).await;
    expect_saved_gold(&zone, roleid, 20).await;

    // gs2 stalls, so gs1's Prepare goes unanswered: f is frozen, crossing,
    // and nothing is handed off yet when gs1 dies.
    let gs2 = zone.zone.game("gs2").unwrap();
    gs2.stall(Duration::from_millis(1_000)).await.unwrap();
    let connection = f.connection();
    let crossing = connection.request(go_server("gs2"));
    let kill_while_frozen = async {
        eventually("f to be frozen by its crossing", || async {
            let refused = connection.request(Body::Call(GameCall {
                call: Some(Call::LevelUp(LevelUp {})),
            }));
            let frozen = matches!(
                refused.await,
                Err(client::ClientError::Server {
                    code: ErrorCode::CrossingInProgress,
                    ..
                })
            );
            frozen.then_some(())
        })
        .await;
        zone.kill_game("gs1").await;
    };
    let (crossed, ()) = tokio::join!(crossing, kill_while_frozen);
    assert!(
        crossed.is_err(),
        "the source died mid-crossing: {crossed:?}"
    );

    zone.restart_game("gs1").await;
    let mut f = relogin(&zone, "f").await;
    assert_eq!(f.current_srvname(), "gs1", "the crossing never happened");
    assert_eq!(gold(&mut f).await, 20, "the last save");
    zone.shutdown().await;
}

/// A zombie owner behind a partition is fenced by the store (a stall and a
/// lagging clock make the zombie; its fenced writes are counted in memory).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_zombie_owner_behind_a_partition_is_fenced_by_the_store() {
    let zone = EmbeddedZone::run(fast_zone(3)).await;
    let (_, mut zombie_side) = register_and_enter(&zone, "h").await;
    let roleid = roleid_of(&zombie_side);
    add_gold(&mut zombie_side, 50).await;
    expect_saved_gold(&zone, roleid, 50).await;

    // gs1 stalls past its lease, with a clock lagging more than its margin,
    // so when it wakes it still believes it owns h.
    let gs1 = zone.zone.game("gs1").unwrap();
    gs1.set_clock_lag(10_000).await.unwrap();
    gs1.stall(Duration::from_millis(3_000)).await.unwrap();
    let mut h = relogin(&zone, "h").await;
    assert_ne!(
        h.current_srvname(),
        "gs1",
        "gs1 is stalled: another server took h"
    );
    assert_eq!(add_gold(&mut h, 5).await, 5);
    expect_saved_gold(&zone, roleid, 55).await;

    // gs1 wakes as a zombie: the client's call applies to its stale copy, but
    // every write it tries is refused by the store, and it kicks the client.
    let mut calls_answered_by_the_zombie = 0;
    let kicked = loop {
        match zombie_side.call(Call::LevelUp(LevelUp {})).await {
            Ok(CallOutcome::Reply(_)) => calls_answered_by_the_zombie += 1,
            other => break kicked_code(other),
        }
        assert!(
            calls_answered_by_the_zombie < 100,
            "the zombie was never fenced"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(kicked, ErrorCode::Fenced);
    eventually("gs1 to count a fenced write", || async {
        (gs1.status().await.unwrap().fenced_total > 0).then_some(())
    })
    .await;
    assert_eq!(
        gold(&mut h).await,
        55,
        "the new owner's data was never overwritten"
    );
    zone.shutdown().await;
}
