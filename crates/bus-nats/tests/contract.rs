//! The bus contract (`bus::contract`) on NATS, against the shared server
//! (127.0.0.1:4222), each test in a zone of its own; and what only a bus
//! that crosses processes meets: bad input from a foreign client.

mod common;

use std::time::Duration;

use bus::contract::Harness;
use bus::{Bus, BusError};
use bus_nats::{NatsBus, Subjects};
use futures_util::FutureExt;
use futures_util::future::BoxFuture;
use prost::Message as _;
use wire::client::ErrorCode;
use wire::node::NodeMessage;

/// A zone of its own on the shared server; each member its own connection.
struct NatsHarness {
    zone: String,
}

impl Harness for NatsHarness {
    type Bus = NatsBus;

    fn open_zone() -> BoxFuture<'static, Option<Self>> {
        async {
            let zone = common::unique_zone("contract");
            // Reach the server once so an unreachable one skips (or fails
            // under CI) here, not in `member`.
            common::shared_bus(&zone, "probe").await?;
            Some(Self { zone })
        }
        .boxed()
    }

    fn member(&self) -> BoxFuture<'_, NatsBus> {
        async {
            common::shared_bus(&self.zone, "member")
                .await
                .expect("NATS answered a moment ago")
        }
        .boxed()
    }

    fn settle(bus: &NatsBus) -> BoxFuture<'_, ()> {
        async { bus.flush().await.expect("NATS takes a flush") }.boxed()
    }
}

bus::bus_contract!(NatsHarness);

/// A request from a client that is not a Kuafu bus (no sender, a payload
/// that is not a `NodeMessage`) gets a typed error reply and never reaches
/// the node.
#[tokio::test]
async fn a_malformed_request_gets_a_typed_error_and_never_reaches_the_node() {
    let zone = common::unique_zone("malformed");
    let Some(bus) = common::shared_bus(&zone, "node").await else {
        return;
    };
    let mut inbox = bus.bind("gs1", 8).unwrap();
    bus.flush().await.unwrap();
    let foreign = async_nats::connect(common::SHARED_NATS_URL).await.unwrap();
    let subject = Subjects::new(&zone).node("gs1");
    for payload in [&b"\xff\xff\xff"[..], b""] {
        let request = foreign.request(subject.clone(), payload.to_vec().into());
        let reply = tokio::time::timeout(common::HANG_GUARD, request)
            .await
            .expect("an answer before the guard")
            .expect("the bus answers");
        let reply = bus::into_result(NodeMessage::decode(reply.payload).unwrap());
        assert!(
            matches!(
                reply,
                Err(BusError::Remote {
                    code: ErrorCode::MalformedFrame,
                    ..
                })
            ),
            "{reply:?}"
        );
    }
    assert!(
        inbox.try_recv().is_err(),
        "a malformed request reached the node"
    );
}

/// When the last clone of a bus is dropped (its node process ends), its
/// nodes are unbound: requests fail at once again, even though the node
/// still holds its inbox.
#[tokio::test]
async fn a_dropped_bus_unbinds_its_nodes() {
    let zone = common::unique_zone("dropped");
    let Some(server) = common::shared_bus(&zone, "node").await else {
        return;
    };
    let client = common::shared_bus(&zone, "client").await.unwrap();
    let _inbox = server.bind("gs1", 8).unwrap();
    server.flush().await.unwrap();
    drop(server);
    common::wait_until(
        "requests to the dropped bus's node fail at once",
        async || {
            let reply = client.request("gs2", "gs1", bus::ack(), Duration::from_millis(100));
            reply.await == Err(BusError::UnknownNode("gs1".into()))
        },
    )
    .await;
}
