//! The transfer table through the data center node over the in-process bus,
//! on each routing store backend: an override is pushed to a follower and
//! survives a restart, and a follower that really missed a push (it was on
//! another bus while the data center recorded it) detects the gap at the
//! next push and loads the whole table.

mod common;

use common::Database;
use std::sync::Arc;
use std::time::Duration;

use bus::{Bus, InProcessBus};
use datacenter::table::{Asker, TableFollower, fetch_table, record_transfer};
use routing::{RoleId, Router, Srvno, Transfer};

fn asker(from: &str) -> Asker {
    Asker {
        from: from.to_owned(),
        datacenter: "datacenter".to_owned(),
        deadline: Duration::from_secs(10),
    }
}

fn moved(raw: u64, to: u32) -> Transfer {
    let roleid = RoleId::from_raw(raw).unwrap();
    Transfer {
        roleid,
        to: Srvno::new(to).unwrap(),
        from: roleid.home_srvno(),
    }
}

/// Waits until the follower's table is at `version`.
async fn reaches(follower: &TableFollower, version: u64) {
    test_support::eventually(&format!("the table at version {version}"), || async {
        (follower.table().version() == version).then_some(())
    })
    .await;
}

on_both_backends!(
    "transfers":
    an_override_reaches_a_follower_and_survives_a_restart,
    a_follower_that_missed_a_push_loads_the_table_at_the_next_one,
);

async fn an_override_reaches_a_follower_and_survives_a_restart(database: Database) {
    let bus = InProcessBus::new();
    let node = database.start(&bus).await;
    let shared: Arc<dyn Bus> = Arc::new(bus.clone());
    let follower = TableFollower::start(shared, asker("gs2")).await.unwrap();
    assert_eq!(*follower.table(), Router::new());
    let transfer = moved(1_000_001, 3);
    assert_eq!(
        record_transfer(&bus, &asker("operator"), transfer)
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        record_transfer(&bus, &asker("operator"), transfer)
            .await
            .unwrap(),
        1
    );
    reaches(&follower, 1).await;
    assert_eq!(follower.table().home_of(transfer.roleid), transfer.to);
    node.stop();

    let bus = InProcessBus::new();
    let _node = database.start(&bus).await;
    let loaded = fetch_table(&bus, &asker("gs1")).await.unwrap();
    assert_eq!(loaded, Router::from_snapshot(1, [transfer]).unwrap());
}

async fn a_follower_that_missed_a_push_loads_the_table_at_the_next_one(database: Database) {
    let bus = InProcessBus::new();
    let node = database.start(&bus).await;
    let shared: Arc<dyn Bus> = Arc::new(bus.clone());
    let follower = TableFollower::start(shared, asker("gs2")).await.unwrap();
    node.stop();
    // Version 1 is recorded where the follower cannot hear it.
    let elsewhere = InProcessBus::new();
    let node = database.start(&elsewhere).await;
    let missed = moved(1_000_001, 3);
    record_transfer(&elsewhere, &asker("operator"), missed)
        .await
        .unwrap();
    node.stop();
    // Version 2 is pushed to it: a gap, so it loads the table.
    let _node = database.start(&bus).await;
    let heard = moved(2_000_004, 1);
    assert_eq!(
        record_transfer(&bus, &asker("operator"), heard)
            .await
            .unwrap(),
        2
    );
    reaches(&follower, 2).await;
    let expected = Router::from_snapshot(2, [missed, heard]).unwrap();
    assert_eq!(*follower.table(), expected);
}
