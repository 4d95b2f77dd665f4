//! A crossing failure that needs hooks inside the zone's process, so it runs
//! on the embedded backend only (the other crossing tests are the zone
//! suite's, `zone_suite::crossing`, run on both backends): a zombie owner
//! made by a stall and a lagging clock (no process has a hook for its
//! clock), whose fenced writes the server counts in memory.

use std::time::Duration;

use client::CallOutcome;
use wire::client::ErrorCode;
use wire::client::LevelUp;
use wire::client::game_call::Call;
use zone_suite::helpers::*;
use zone_suite::{EmbeddedZone, TestZone, fast_zone};

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
