//! The data center node over the in-process bus, on each routing store
//! backend (a SQLite `datacenter.db`, and a PostgreSQL database of its own,
//! skipped outside CI when the server is unreachable): notes are acknowledged
//! once durable and ordered by epoch, queries are answered, many concurrent
//! notes share batches, and the records survive a restart.

mod common;

use common::Database;
use std::time::Duration;

use bus::{Bus, InProcessBus};
use wire::node::node_message::Body;
use wire::node::{CurrentAnswer, GetCurrent, NodeMessage, SetCurrent};

const DEADLINE: Duration = Duration::from_secs(10);

async fn set_current(bus: &InProcessBus, roleid: u64, srvname: &str, online: bool, epoch: u64) {
    let note = SetCurrent {
        roleid,
        srvname: srvname.to_owned(),
        online,
        epoch,
    };
    let message = NodeMessage {
        body: Some(Body::SetCurrent(note)),
    };
    let answer = bus.request("gs1", "datacenter", message, DEADLINE).await;
    assert_eq!(answer, Ok(bus::ack()), "note {roleid} epoch {epoch}");
}

async fn get_current(bus: &InProcessBus, roleid: u64) -> CurrentAnswer {
    let message = NodeMessage {
        body: Some(Body::GetCurrent(GetCurrent { roleid })),
    };
    let answer = bus
        .request("account", "datacenter", message, DEADLINE)
        .await;
    match answer {
        Ok(NodeMessage {
            body: Some(Body::CurrentAnswer(current)),
        }) => current,
        other => panic!("a current answer expected: {other:?}"),
    }
}

fn at(srvname: &str, online: bool) -> CurrentAnswer {
    CurrentAnswer {
        known: true,
        srvname: srvname.to_owned(),
        online,
    }
}

on_both_backends!(
    "datacenter":
    notes_are_ordered_by_epoch_and_survive_a_restart,
    many_concurrent_notes_are_all_acknowledged_and_recorded,
    a_bad_note_is_refused_with_a_typed_error,
);

async fn notes_are_ordered_by_epoch_and_survive_a_restart(database: Database) {
    let bus = InProcessBus::new();
    let node = database.start(&bus).await;
    assert_eq!(get_current(&bus, 1_000_001).await, CurrentAnswer::default());
    set_current(&bus, 1_000_001, "gs2", true, 4).await;
    set_current(&bus, 1_000_001, "gs1", false, 3).await; // late: ignored
    assert_eq!(get_current(&bus, 1_000_001).await, at("gs2", true));
    set_current(&bus, 1_000_001, "gs2", false, 4).await; // same epoch: applies
    assert_eq!(get_current(&bus, 1_000_001).await, at("gs2", false));
    node.stop();

    let bus = InProcessBus::new();
    let _node = database.start(&bus).await;
    assert_eq!(get_current(&bus, 1_000_001).await, at("gs2", false));
    set_current(&bus, 1_000_001, "gs1", true, 3).await; // still older than the stored 4
    assert_eq!(get_current(&bus, 1_000_001).await, at("gs2", false));
}

async fn many_concurrent_notes_are_all_acknowledged_and_recorded(database: Database) {
    let bus = InProcessBus::new();
    let _node = database.start(&bus).await;
    let notes = (1..=300u64).map(|seq| {
        let bus = bus.clone();
        tokio::spawn(async move { set_current(&bus, 2_000_000 + seq, "gs3", true, seq).await })
    });
    for note in notes.collect::<Vec<_>>() {
        note.await.unwrap();
    }
    for seq in [1, 150, 300] {
        assert_eq!(get_current(&bus, 2_000_000 + seq).await, at("gs3", true));
    }
}

async fn a_bad_note_is_refused_with_a_typed_error(database: Database) {
    let bus = InProcessBus::new();
    let _node = database.start(&bus).await;
    let note = SetCurrent {
        roleid: 7,
        srvname: "gs1".to_owned(),
        online: true,
        epoch: 1,
    };
    let message = NodeMessage {
        body: Some(Body::SetCurrent(note)),
    };
    let answer = bus.request("gs1", "datacenter", message, DEADLINE).await;
    assert!(
        matches!(
            answer,
            Err(bus::BusError::Remote {
                code: wire::client::ErrorCode::UnknownRole,
                ..
            })
        ),
        "{answer:?}"
    );
}
