//! The registry, the metered bus and the admin state, without a zone.

use std::sync::Arc;
use std::time::Duration;

use bus::{Bus, BusError, InProcessBus};
use futures_util::FutureExt;
use futures_util::future::BoxFuture;
use telemetry::admin::{Admin, AdminServer, PROBE_DEADLINE, Phase, Probe};
use telemetry::{MeteredBus, Registry, names};
use test_support::http::{self, Sample};
use wire::node::NodeMessage;

/// The value of series `name` of node `node`.
fn value(registry: &Registry, name: &str, node: &str) -> f64 {
    let samples = http::parse_prometheus(&registry.render()).expect("Prometheus text");
    let of_node = |sample: &&Sample| sample.name == name && sample.labels["node"] == node;
    samples
        .iter()
        .filter(of_node)
        .map(|sample| sample.value)
        .sum()
}

#[test]
fn two_registries_keep_their_own_series() {
    let (one, two) = (Registry::new(), Registry::new());
    one.counter(&names::LOGINS, "gs1", &[]).increment(2);
    two.counter(&names::LOGINS, "gs1", &[]).increment(5);
    assert_eq!(value(&one, "kuafu_logins_total", "gs1"), 2.0);
    assert_eq!(value(&two, "kuafu_logins_total", "gs1"), 5.0);
}

#[tokio::test]
async fn the_metered_bus_counts_requests_errors_and_timeouts_per_requesting_node() {
    let registry = Registry::new();
    let bus = MeteredBus::new(Arc::new(InProcessBus::new()), registry.clone());
    let mut inbox = bus.bind("b", 8).unwrap();
    let answering = tokio::spawn(async move {
        let first = inbox.recv().await.unwrap();
        first.reply(bus::ack());
        // The second request is held unanswered until the bus gives up.
        let held = inbox.recv().await.unwrap();
        inbox.recv().await;
        drop(held);
    });
    let message = NodeMessage::default();
    let long = Duration::from_secs(3600);
    bus.request("a", "b", message.clone(), long).await.unwrap();
    let timeout = bus.request("a", "b", message.clone(), Duration::from_millis(1));
    assert!(matches!(timeout.await, Err(BusError::Timeout(_))));
    let unknown = bus.request("a", "nobody", message, long).await;
    assert!(matches!(unknown, Err(BusError::UnknownNode(_))));
    assert_eq!(value(&registry, "kuafu_bus_requests_total", "a"), 3.0);
    assert_eq!(
        value(&registry, "kuafu_bus_request_timeouts_total", "a"),
        1.0
    );
    assert_eq!(value(&registry, "kuafu_bus_request_errors_total", "a"), 1.0);
    assert_eq!(
        value(&registry, "kuafu_bus_request_seconds_count", "a"),
        3.0
    );
    assert_eq!(value(&registry, "kuafu_bus_requests_total", "b"), 0.0);
    bus.unbind("b");
    answering.abort();
}

struct Fixed(Result<(), String>);

impl Probe for Fixed {
    fn probe(&self) -> BoxFuture<'_, Result<(), String>> {
        futures_util::future::ready(self.0.clone()).boxed()
    }
}

struct Hangs;

impl Probe for Hangs {
    fn probe(&self) -> BoxFuture<'_, Result<(), String>> {
        futures_util::future::pending().boxed()
    }
}

#[tokio::test(start_paused = true)]
async fn health_is_the_phase_and_every_probe() {
    let admin = Admin::new(Registry::new());
    assert_eq!(admin.health().await, ["starting"]);
    admin.set_phase(Phase::Serving);
    admin.set_probe("gs1", Arc::new(Fixed(Ok(()))));
    assert!(admin.health().await.is_empty());
    admin.set_probe("gs2", Arc::new(Fixed(Err("stopped".into()))));
    admin.set_probe("gs3", Arc::new(Hangs));
    let expected = [
        "gs2: stopped".to_owned(),
        format!("gs3: no answer within {PROBE_DEADLINE:?}"),
    ];
    assert_eq!(admin.health().await, expected);
    admin.set_probe("gs2", Arc::new(Fixed(Ok(()))));
    admin.set_probe("gs3", Arc::new(Fixed(Ok(()))));
    admin.set_phase(Phase::Stopping);
    assert_eq!(admin.health().await, ["stopping"]);
}

#[tokio::test]
async fn the_admin_listener_answers_503_while_starting_and_200_once_serving() {
    let admin = Admin::new(Registry::new());
    let logins = admin.registry().counter(&names::LOGINS, "gs1", &[]);
    logins.increment(1);
    let loopback = std::net::SocketAddr::from(([127, 0, 0, 1], 0));
    let server = AdminServer::start(loopback, admin.clone()).await.unwrap();
    let health = http::get(server.local_addr, "/healthz").await.unwrap();
    assert_eq!(health, (503, "starting\n".to_owned()));
    admin.set_phase(Phase::Serving);
    let health = http::get(server.local_addr, "/healthz").await.unwrap();
    assert_eq!(health, (200, "ok\n".to_owned()));
    let (status, body) = http::get(server.local_addr, "/metrics").await.unwrap();
    assert_eq!(status, 200);
    let help = "# HELP kuafu_logins_total Players that entered this game server by a login token.";
    assert!(body.contains(help), "{body}");
    assert!(
        body.contains("kuafu_logins_total{node=\"gs1\"} 1"),
        "{body}"
    );
}
