//! The NATS bus across NATS going away, on a private nats-server each test
//! starts on its own port and stops by its process id: a request in flight
//! when NATS stops fails with a typed error by its deadline, and once NATS
//! is back the same buses serve requests and topics again; a node started
//! while NATS is down waits for it; one that never reaches it gives up with
//! a typed error after its attempts.

mod common;

use std::time::Duration;

use bus::contract::{horn, is_online};
use bus::{Bus, BusError};
use bus_nats::{ConnectError, NatsBus};
use common::HANG_GUARD;
use test_support::PrivateNats;
use wire::node::NodeMessage;

const DEADLINE: Duration = Duration::from_secs(2);

async fn connect(nats: &PrivateNats, zone: &str, name: &str) -> NatsBus {
    let config = common::config(&nats.url(), zone, name, 50);
    NatsBus::connect(&config)
        .await
        .expect("the private server answers")
}

/// Whether a request failed as one whose outcome is unknown.
fn is_unknown_outcome(reply: &Result<NodeMessage, BusError>) -> bool {
    matches!(reply, Err(BusError::Timeout(_) | BusError::Transport(_)))
}

#[tokio::test]
async fn a_request_in_flight_when_nats_stops_fails_by_its_deadline_and_the_buses_heal_after_a_restart()
 {
    let Some(mut nats) = PrivateNats::on_port(test_support::free_port()) else {
        return;
    };
    nats.start().await;
    let zone = common::unique_zone("restart");
    let (server, client) = (
        connect(&nats, &zone, "gs1").await,
        connect(&nats, &zone, "gs2").await,
    );
    let mut inbox = server.bind("gs1", 64).unwrap();
    let mut horns = server.subscribe("horn");
    server.flush().await.unwrap();

    let in_flight = tokio::spawn(client.request("gs2", "gs1", is_online(1), DEADLINE));
    let held = tokio::time::timeout(HANG_GUARD, inbox.recv())
        .await
        .unwrap()
        .unwrap();
    nats.stop();
    let reply = tokio::time::timeout(HANG_GUARD, in_flight)
        .await
        .unwrap()
        .unwrap();
    assert!(is_unknown_outcome(&reply), "in flight: {reply:?}");
    drop(held);

    let while_down = client.request("gs2", "gs1", is_online(2), DEADLINE);
    let reply = tokio::time::timeout(HANG_GUARD, while_down).await.unwrap();
    assert!(is_unknown_outcome(&reply), "while NATS is down: {reply:?}");

    nats.start().await;
    let answering = tokio::spawn(async move {
        while let Some(incoming) = inbox.recv().await {
            incoming.reply(bus::ack());
        }
    });
    common::wait_until("a request through the restarted NATS", async || {
        let reply = client.request("gs2", "gs1", is_online(3), DEADLINE).await;
        reply == Ok(bus::ack())
    })
    .await;
    server.flush().await.unwrap();
    client.publish("horn", horn("back"));
    let heard = tokio::time::timeout(HANG_GUARD, horns.recv())
        .await
        .unwrap();
    assert_eq!(heard, Some(horn("back")));
    assert!(server.is_connected() && client.is_connected());
    answering.abort();
}

#[tokio::test]
async fn a_node_started_while_nats_is_down_waits_and_connects_once_it_is_up() {
    let Some(mut nats) = PrivateNats::on_port(test_support::free_port()) else {
        return;
    };
    let zone = common::unique_zone("late");
    let config = common::config(&nats.url(), &zone, "gs1", 1_000);
    let starting = tokio::spawn(async move { NatsBus::connect(&config).await });
    // Let it fail a few attempts first.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!starting.is_finished(), "the node stopped waiting for NATS");
    nats.start().await;
    let server = tokio::time::timeout(HANG_GUARD, starting)
        .await
        .unwrap()
        .unwrap()
        .expect("connected once NATS is up");
    let mut inbox = server.bind("gs1", 8).unwrap();
    let client = connect(&nats, &zone, "gs2").await;
    server.flush().await.unwrap();
    let reply = client.request("gs2", "gs1", is_online(1), DEADLINE);
    let (reply, ()) = tokio::join!(reply, async {
        inbox.recv().await.unwrap().reply(bus::ack());
    });
    assert_eq!(reply, Ok(bus::ack()));
}

#[tokio::test]
async fn a_node_that_never_reaches_nats_gives_up_after_its_attempts_with_a_typed_error() {
    let url = format!("nats://127.0.0.1:{}", test_support::free_port());
    let config = common::config(&url, "nowhere", "gs1", 3);
    let started = tokio::time::timeout(HANG_GUARD, NatsBus::connect(&config))
        .await
        .unwrap();
    assert!(
        matches!(started, Err(ConnectError::Unreachable { attempts: 3, .. })),
        "{:?}",
        started.err()
    );
}
