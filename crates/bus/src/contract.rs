//! The bus contract (DESIGN §4): what every [`Bus`] implementation does,
//! written once and run on each of them (the in-process bus in this crate's
//! tests, NATS in `bus-nats`'s).
//!
//! An implementation's tests give a [`Harness`] (how to open a zone of its
//! own, join another member to it, and wait until what a member sent has
//! taken effect) and instantiate the suite with [`bus_contract!`](crate::bus_contract):
//!
//! ```ignore
//! bus::bus_contract!(MyHarness);
//! ```
//!
//! which writes one `#[tokio::test]` per behaviour below (the calling crate
//! needs tokio with its test macros).

use std::time::Duration;

use futures_util::future::BoxFuture;
use wire::client::ErrorCode;
use wire::node::node_message::Body;
use wire::node::{HornBroadcast, IsOnline, NodeMessage, Prepare};

use crate::{Bus, BusError, Inbox, Incoming, ack, error_reply};

/// What the suite needs from an implementation.
pub trait Harness: Sized + Send + Sync + 'static {
    /// The bus under test.
    type Bus: Bus;
    /// Opens a zone of its own (a unique name where the backend is shared).
    /// `None` when the backend is unreachable and the test may skip (after
    /// printing why); under CI an unreachable backend fails instead.
    fn open_zone() -> BoxFuture<'static, Option<Self>>;
    /// The bus of a new member of this zone (its own connection where the
    /// implementation has connections).
    fn member(&self) -> BoxFuture<'_, Self::Bus>;
    /// Waits until every bind, unbind, subscribe and publish `bus` made so
    /// far has taken effect for every member of the zone.
    fn settle(bus: &Self::Bus) -> BoxFuture<'_, ()>;
}

/// Writes the contract's tests for a [`Harness`]: one `#[tokio::test]` per
/// behaviour, named as the functions of [`crate::contract`].
#[macro_export]
macro_rules! bus_contract {
    ($harness:ty) => {
        $crate::bus_contract!(@tests $harness;
            a_request_gets_its_reply_from_the_bound_node,
            an_error_reply_is_a_typed_remote_error,
            a_request_to_an_unbound_node_fails_at_once,
            a_request_past_its_deadline_is_an_unknown_outcome,
            a_request_the_node_drops_is_answered_node_stopped,
            a_node_that_dropped_its_inbox_is_reported_at_once,
            a_publish_reaches_every_subscriber_of_its_topic_and_no_one_else,
            an_inbox_bound_twice_is_refused,
            unbind_stops_delivery_and_the_name_can_be_bound_again,
            a_full_inbox_answers_overloaded_instead_of_growing,
            an_inbox_of_zero_holds_one_request,
            messages_keep_their_bytes,
        );
    };
    (@tests $harness:ty; $($behaviour:ident),* $(,)?) => {
        $(
            #[tokio::test]
            async fn $behaviour() {
                $crate::contract::$behaviour::<$harness>().await;
            }
        )*
    };
}

/// How long a step may take before the suite calls it a hang. Far above any
/// deadline the suite sets, so it never decides a result, only turns a hang
/// into a failure.
const HANG_GUARD: Duration = Duration::from_secs(30);
/// A deadline no request in the suite reaches unless the bus hangs.
const DEADLINE_NEVER: Duration = Duration::from_secs(3600);
/// The deadline of a request the node never answers.
const DEADLINE_SHORT: Duration = Duration::from_millis(200);
/// Checks of a condition the suite waits for.
const WAIT_CHECKS_MAX: u32 = 3000;

async fn guarded<T>(what: &str, future: impl Future<Output = T>) -> T {
    match tokio::time::timeout(HANG_GUARD, future).await {
        Ok(output) => output,
        Err(_elapsed) => panic!("{what}: no result after {HANG_GUARD:?}: the bus hangs"),
    }
}

/// An `IsOnline` request, the suite's plain message.
pub fn is_online(roleid: u64) -> NodeMessage {
    NodeMessage {
        body: Some(Body::IsOnline(IsOnline { roleid })),
    }
}

/// A horn broadcast saying `text`, the suite's topic message.
pub fn horn(text: &str) -> NodeMessage {
    NodeMessage {
        body: Some(Body::Horn(HornBroadcast {
            from_roleid: u64::MAX,
            from_name: "跨服".into(),
            text: text.into(),
        })),
    }
}

/// A zone and two members of it: `server` binds, `client` requests.
async fn two_members<H: Harness>() -> Option<(H, H::Bus, H::Bus)> {
    let zone = H::open_zone().await?;
    let server = zone.member().await;
    let client = zone.member().await;
    Some((zone, server, client))
}

/// Binds `name` on `bus` and waits until the whole zone can reach it.
async fn bind<H: Harness>(bus: &H::Bus, name: &str, inbox_max: usize) -> Inbox {
    let inbox = bus.bind(name, inbox_max).expect("a free name binds");
    H::settle(bus).await;
    inbox
}

async fn next_request(inbox: &mut Inbox) -> Incoming {
    guarded("the bound node's next request", inbox.recv())
        .await
        .expect("the inbox stays open")
}

/// Answers the next request on `inbox` with `reply`, in the background;
/// the task ends with who sent the request and what.
fn answer_next(
    mut inbox: Inbox,
    reply: NodeMessage,
) -> tokio::task::JoinHandle<(String, NodeMessage)> {
    tokio::spawn(async move {
        let (from, message, replier) = next_request(&mut inbox).await.into_parts();
        replier.reply(reply);
        (from, message)
    })
}

/// A request reaches the bound node with the sender's name, and the node's
/// answer comes back.
pub async fn a_request_gets_its_reply_from_the_bound_node<H: Harness>() {
    let Some((_zone, server, client)) = two_members::<H>().await else {
        return;
    };
    let inbox = bind::<H>(&server, "gs1", 8).await;
    let served = answer_next(inbox, ack());
    let reply = client.request("gs2", "gs1", is_online(7), DEADLINE_NEVER);
    assert_eq!(guarded("the request", reply).await, Ok(ack()));
    let (from, message) = served.await.unwrap();
    assert_eq!((from.as_str(), message), ("gs2", is_online(7)));
}

/// An error reply reaches the requester as [`BusError::Remote`] with its code.
pub async fn an_error_reply_is_a_typed_remote_error<H: Harness>() {
    let Some((_zone, server, client)) = two_members::<H>().await else {
        return;
    };
    let inbox = bind::<H>(&server, "gs1", 8).await;
    let _served = answer_next(inbox, error_reply(ErrorCode::UnknownRole, "no such role"));
    let reply = client.request("gs2", "gs1", is_online(7), DEADLINE_NEVER);
    let expected = BusError::Remote {
        code: ErrorCode::UnknownRole,
        message: "no such role".into(),
    };
    assert_eq!(guarded("the request", reply).await, Err(expected));
}

/// A request to a name no node bound fails with `UnknownNode` long before
/// its deadline.
pub async fn a_request_to_an_unbound_node_fails_at_once<H: Harness>() {
    let Some((_zone, _server, client)) = two_members::<H>().await else {
        return;
    };
    let reply = client.request("gs2", "nobody", is_online(1), DEADLINE_NEVER);
    let reply = guarded("a request to an unbound node", reply).await;
    assert_eq!(reply, Err(BusError::UnknownNode("nobody".into())));
}

/// A node that holds a request without answering makes the request fail at
/// its deadline with `Timeout`, the unknown outcome (the node did get it).
pub async fn a_request_past_its_deadline_is_an_unknown_outcome<H: Harness>() {
    let Some((_zone, server, client)) = two_members::<H>().await else {
        return;
    };
    let mut inbox = bind::<H>(&server, "slow", 8).await;
    let reply = client.request("gs2", "slow", is_online(1), DEADLINE_SHORT);
    let (reply, held) = tokio::join!(
        guarded("a request past its deadline", reply),
        next_request(&mut inbox)
    );
    assert_eq!(reply, Err(BusError::Timeout("slow".into())));
    assert_eq!(held.message, is_online(1), "the node did get the request");
}

/// A node that drops a request without answering makes it fail with
/// `NodeStopped` at once.
pub async fn a_request_the_node_drops_is_answered_node_stopped<H: Harness>() {
    let Some((_zone, server, client)) = two_members::<H>().await else {
        return;
    };
    let mut inbox = bind::<H>(&server, "gs1", 8).await;
    let reply = client.request("gs2", "gs1", is_online(1), DEADLINE_NEVER);
    let (reply, ()) = tokio::join!(guarded("a dropped request", reply), async {
        drop(next_request(&mut inbox).await);
    });
    assert_eq!(reply, Err(BusError::NodeStopped("gs1".into())));
}

/// A node that dropped its inbox is reported unknown or stopped at once.
pub async fn a_node_that_dropped_its_inbox_is_reported_at_once<H: Harness>() {
    let Some((_zone, server, client)) = two_members::<H>().await else {
        return;
    };
    drop(bind::<H>(&server, "gs1", 8).await);
    let reply = client.request("gs2", "gs1", is_online(1), DEADLINE_NEVER);
    let reply = guarded("a request to a stopped node", reply).await;
    assert!(
        matches!(reply, Err(BusError::UnknownNode(ref name) | BusError::NodeStopped(ref name)) if name == "gs1"),
        "{reply:?}"
    );
}

/// A publish reaches every subscriber of its topic on every member, and
/// neither another topic's subscribers nor another zone's.
pub async fn a_publish_reaches_every_subscriber_of_its_topic_and_no_one_else<H: Harness>() {
    let Some((zone, server, client)) = two_members::<H>().await else {
        return;
    };
    let Some(other_zone) = H::open_zone().await else {
        return;
    };
    let stranger = other_zone.member().await;
    let mut hearers = [server.subscribe("horn"), client.subscribe("horn")];
    let mut other_topic = server.subscribe("news");
    let mut other_zone_horn = stranger.subscribe("horn");
    for bus in [&server, &client] {
        H::settle(bus).await;
    }
    H::settle(&stranger).await;
    let publisher = zone.member().await;
    publisher.publish("horn", horn("hello"));
    // What a member publishes arrives in order: a subscriber that heard
    // "hello" would hear it before these markers.
    publisher.publish("news", horn("marker"));
    H::settle(&publisher).await;
    stranger.publish("horn", horn("marker"));
    for hearer in &mut hearers {
        let heard = guarded("a subscriber of the topic", hearer.recv()).await;
        assert_eq!(heard, Some(horn("hello")));
    }
    for (what, subscription) in [
        ("another topic", &mut other_topic),
        ("another zone", &mut other_zone_horn),
    ] {
        let heard = guarded(what, subscription.recv()).await;
        assert_eq!(heard, Some(horn("marker")), "{what} heard the publish");
    }
}

/// A second bind of a live name is refused; once the first inbox is gone the
/// name binds again.
pub async fn an_inbox_bound_twice_is_refused<H: Harness>() {
    let Some((_zone, server, client)) = two_members::<H>().await else {
        return;
    };
    let first = bind::<H>(&server, "gs1", 8).await;
    let second = server.bind("gs1", 8).map(drop);
    assert_eq!(second, Err(BusError::AlreadyBound("gs1".into())));
    drop(first);
    let again = bind::<H>(&server, "gs1", 8).await;
    let _served = answer_next(again, ack());
    let reply = client.request("gs2", "gs1", is_online(1), DEADLINE_NEVER);
    assert_eq!(
        guarded("a request to the new binding", reply).await,
        Ok(ack())
    );
}

/// After `unbind`, requests fail at once and nothing reaches the old inbox;
/// binding the name again serves requests.
pub async fn unbind_stops_delivery_and_the_name_can_be_bound_again<H: Harness>() {
    let Some((_zone, server, client)) = two_members::<H>().await else {
        return;
    };
    let mut old = bind::<H>(&server, "gs1", 8).await;
    server.unbind("gs1");
    H::settle(&server).await;
    let reply = client.request("gs2", "gs1", is_online(1), DEADLINE_NEVER);
    let reply = guarded("a request after unbind", reply).await;
    assert!(
        matches!(reply, Err(BusError::UnknownNode(ref name) | BusError::NodeStopped(ref name)) if name == "gs1"),
        "{reply:?}"
    );
    assert!(old.try_recv().is_err(), "the unbound inbox got a request");
    let again = bind::<H>(&server, "gs1", 8).await;
    let _served = answer_next(again, ack());
    let reply = client.request("gs2", "gs1", is_online(2), DEADLINE_NEVER);
    assert_eq!(
        guarded("a request to the new binding", reply).await,
        Ok(ack())
    );
}

/// Waits until `inbox` holds `count` requests.
async fn wait_for_queued(inbox: &Inbox, count: usize) {
    for _ in 0..WAIT_CHECKS_MAX {
        if inbox.len() >= count {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("the inbox never held {count} requests");
}

/// A bounded inbox that is full answers `Overloaded` at once and holds no
/// more than its bound; the queued request is still served.
pub async fn a_full_inbox_answers_overloaded_instead_of_growing<H: Harness>() {
    let Some((_zone, server, client)) = two_members::<H>().await else {
        return;
    };
    let mut inbox = bind::<H>(&server, "busy", 1).await;
    let queued = tokio::spawn(client.request("gs2", "busy", is_online(1), DEADLINE_NEVER));
    wait_for_queued(&inbox, 1).await;
    let refused = client.request("gs2", "busy", is_online(2), DEADLINE_NEVER);
    let refused = guarded("a request to a full inbox", refused).await;
    assert_eq!(refused, Err(BusError::Overloaded("busy".into())));
    assert_eq!(inbox.len(), 1, "the full inbox grew");
    let incoming = next_request(&mut inbox).await;
    assert_eq!(incoming.message, is_online(1));
    incoming.reply(ack());
    assert_eq!(
        guarded("the queued request", queued).await.unwrap(),
        Ok(ack())
    );
}

/// An inbox bound with a bound of 0 is bad input, not a panic: it holds one
/// request.
pub async fn an_inbox_of_zero_holds_one_request<H: Harness>() {
    let Some((_zone, server, client)) = two_members::<H>().await else {
        return;
    };
    let inbox = bind::<H>(&server, "tiny", 0).await;
    let _served = answer_next(inbox, ack());
    let reply = client.request("gs2", "tiny", is_online(1), DEADLINE_NEVER);
    assert_eq!(guarded("a request to a tiny inbox", reply).await, Ok(ack()));
}

/// A message with every byte value, text beyond ASCII and extreme numbers
/// arrives as it was sent: in a request, its reply and a publish.
pub async fn messages_keep_their_bytes<H: Harness>() {
    let Some((_zone, server, client)) = two_members::<H>().await else {
        return;
    };
    let every_byte: Vec<u8> = (0..=255).collect();
    let prepare = NodeMessage {
        body: Some(Body::Prepare(Prepare {
            roleid: u64::MAX,
            token: every_byte,
            home_srvname: "跨服 gs1\u{0}\r\n.*>".into(),
            ttl_ms: u64::MAX,
            from_srvname: "é".repeat(100),
            ..Prepare::default()
        })),
    };
    let inbox = bind::<H>(&server, "gs1", 8).await;
    let served = answer_next(inbox, prepare.clone());
    let mut hearer = server.subscribe("horn");
    H::settle(&server).await;
    let reply = client.request("gs2", "gs1", prepare.clone(), DEADLINE_NEVER);
    assert_eq!(guarded("the request", reply).await, Ok(prepare.clone()));
    assert_eq!(served.await.unwrap().1, prepare);
    client.publish("horn", horn("跨服\u{0}\n"));
    let heard = guarded("the publish", hearer.recv()).await;
    assert_eq!(heard, Some(horn("跨服\u{0}\n")));
}
