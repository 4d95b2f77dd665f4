//! The embedded zone's admin listeners over HTTP (DESIGN §15): `/metrics`
//! in the Prometheus text format, every node's series labelled with its
//! node, and `/healthz`; the account center's login queue, its waits and
//! its refusals.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use client::{ClientConfig, ClientError, Connection};
use wire::client::client_frame::Body;
use wire::client::server_frame::Body as Reply;
use wire::client::{ErrorCode, Register};

use test_support::eventually;
use test_support::http::{self, Sample};
use zone_suite::helpers::register_and_enter;
use zone_suite::{EmbeddedZone, fast_zone};

/// The fast test zone with admin listeners on the account center's and on
/// gs2's admin addresses (free ports).
async fn start_observed_zone() -> EmbeddedZone {
    let mut config = fast_zone(3);
    config.account.admin = Some(SocketAddr::from(([127, 0, 0, 1], 0)));
    config.games[1].listen.admin = Some(SocketAddr::from(([127, 0, 0, 1], 0)));
    EmbeddedZone::run(config).await
}

/// Scrapes `/metrics` at `admin` and reads it strictly.
async fn scrape(admin: SocketAddr) -> Vec<Sample> {
    let (status, body) = http::get(admin, "/metrics").await.expect("a scrape");
    assert_eq!(status, 200, "{body}");
    http::parse_prometheus(&body).expect("Prometheus text")
}

/// The sum of series `name` of node `node` (over its other labels).
fn value(samples: &[Sample], name: &str, node: &str) -> f64 {
    samples
        .iter()
        .filter(|sample| {
            sample.name == name && sample.labels.get("node").map(String::as_str) == Some(node)
        })
        .map(|sample| sample.value)
        .sum()
}

#[tokio::test]
async fn a_scrape_after_a_login_and_a_crossing_finds_every_counter_moved() {
    let zone = start_observed_zone().await;
    let admin = zone.zone.config().account.admin.expect("resolved");
    let before = scrape(admin).await;
    assert_eq!(value(&before, "kuafu_logins_total", "gs1"), 0.0);
    assert_eq!(value(&before, "kuafu_players_online", "gs1"), 0.0);

    let (_, mut c) = register_and_enter(&zone, "c").await;
    c.go_server("gs2").await.unwrap();

    let samples = eventually("the crossing to be counted", || async {
        let samples = scrape(admin).await;
        (value(&samples, "kuafu_players_online", "gs2") == 1.0).then_some(samples)
    })
    .await;
    let at = |name, node| value(&samples, name, node);
    assert_eq!(at("kuafu_logins_total", "gs1"), 1.0);
    assert_eq!(at("kuafu_crossings_out_total", "gs1"), 1.0);
    assert_eq!(at("kuafu_crossings_in_total", "gs2"), 1.0);
    assert_eq!(at("kuafu_players_online", "gs1"), 0.0);
    assert_eq!(at("kuafu_connections", "gs2"), 1.0);
    assert_eq!(at("kuafu_crossing_seconds_count", "gs2"), 1.0);
    assert!(at("kuafu_crossing_seconds_sum", "gs2") > 0.0);
    // gs1 saved the player before the redirect; gs2 claimed it.
    for node in ["gs1", "gs2"] {
        let batches = at("kuafu_store_batches_total", node);
        assert!(batches >= 1.0, "{node} committed {batches} batches");
        // Each batch is timed and sized before it is counted.
        assert!(at("kuafu_store_batch_ops_count", node) >= batches);
        assert!(at("kuafu_store_commit_seconds_count", node) >= batches);
        assert!(at("kuafu_store_batch_ops_sum", node) >= batches);
    }
    // The account center asked the data center; gs1 sent gs2 the Prepare.
    for node in ["account", "gs1"] {
        let requests = at("kuafu_bus_requests_total", node);
        assert!(requests >= 1.0, "{node} made {requests} bus requests");
        // Timed when answered: a request in flight is counted, not yet timed.
        let timed = at("kuafu_bus_request_seconds_count", node);
        assert!(
            timed >= 1.0 && timed <= requests,
            "{node}: {timed} of {requests} timed"
        );
    }
    assert_eq!(at("kuafu_bus_request_timeouts_total", "gs1"), 0.0);

    // A client connected to the account center is counted there.
    let _waiting = tokio::net::TcpStream::connect(zone.zone.account_addr())
        .await
        .unwrap();
    eventually("the account center's connection to be counted", || async {
        let samples = scrape(admin).await;
        (value(&samples, "kuafu_connections", "account") == 1.0).then_some(())
    })
    .await;

    // Every admin address of the embedded zone serves the whole zone.
    let gs2_admin = zone.zone.config().games[1].listen.admin.expect("resolved");
    let from_gs2 = scrape(gs2_admin).await;
    assert_eq!(value(&from_gs2, "kuafu_logins_total", "gs1"), 1.0);
    zone.zone.shutdown().await;
}

/// A registration on a connection of its own, answered later.
fn register_later(
    connection: &Arc<Connection>,
    name: &str,
) -> tokio::task::JoinHandle<Result<Reply, ClientError>> {
    let (connection, name) = (connection.clone(), name.to_owned());
    tokio::spawn(async move {
        let register = Register {
            account: name,
            password: "pw".into(),
        };
        connection.request(Body::Register(register)).await
    })
}

#[tokio::test]
async fn the_login_queue_its_waits_and_its_refusals_are_series_of_the_account_center() {
    let mut config = fast_zone(1);
    config.account.admin = Some(SocketAddr::from(([127, 0, 0, 1], 0)));
    // One hash at a time, slow enough for a second and a third to arrive
    // during it, and room for one to wait.
    config.login.hash_workers = 1;
    config.login.hash_jobs_per_worker = 1;
    config.login.queue_max = 1;
    config.login.argon2_iterations = 60;
    let zone = EmbeddedZone::run(config).await;
    let admin = zone.zone.config().account.admin.expect("resolved");
    let addr = zone.zone.account_addr().to_string();
    let patient = ClientConfig {
        request_timeout: Duration::from_secs(120),
        ..ClientConfig::default()
    };
    let mut line = Vec::new();
    for name in ["ann", "bob"] {
        let connection = Arc::new(
            Connection::connect_tcp_with(&addr, patient.clone())
                .await
                .unwrap(),
        );
        line.push((register_later(&connection, name), connection));
    }
    let refused = Connection::connect_tcp(&addr).await.unwrap();
    let busy = refused.request(Body::Register(Register {
        account: "cid".into(),
        password: "pw".into(),
    }));
    match busy.await {
        Err(ClientError::Server {
            code: ErrorCode::Busy,
            ..
        }) => {}
        other => panic!("expected BUSY, got {other:?}"),
    }
    let series = |name: &'static str, code: Option<&'static str>| {
        move |samples: &[Sample]| {
            samples
                .iter()
                .filter(|s| s.name == name && code.is_none_or(|code| s.labels["code"] == code))
                .map(|s| s.value)
                .sum::<f64>()
        }
    };
    let busy_refusals = series("kuafu_login_refusals_total", Some("BUSY"));
    let waiting = series("kuafu_login_queue_waiting", None);
    eventually("the full queue and its refusal to be counted", || async {
        let samples = scrape(admin).await;
        (waiting(&samples) == 1.0 && busy_refusals(&samples) == 1.0).then_some(())
    })
    .await;
    for (answer, _connection) in line {
        assert!(matches!(answer.await.unwrap(), Ok(Reply::LoginOk(_))));
    }
    let admitted = series("kuafu_login_queue_seconds_count", None);
    let samples = eventually("both logins to be admitted and done", || async {
        let samples = scrape(admin).await;
        (admitted(&samples) == 2.0 && waiting(&samples) == 0.0).then_some(samples)
    })
    .await;
    assert_eq!(series("kuafu_login_hashing", None)(&samples), 0.0);
    assert_eq!(series("kuafu_login_refusals_total", None)(&samples), 1.0);
    zone.zone.shutdown().await;
}

#[tokio::test]
async fn the_metrics_carry_help_and_type_lines_and_real_histograms() {
    let zone = start_observed_zone().await;
    let admin = zone.zone.config().account.admin.expect("resolved");
    register_and_enter(&zone, "h").await;
    let (_, body) = http::get(admin, "/metrics").await.unwrap();
    for line in [
        "# TYPE kuafu_logins_total counter",
        "# TYPE kuafu_players_online gauge",
        "# TYPE kuafu_store_commit_seconds histogram",
        "# HELP kuafu_bus_requests_total Bus requests this node made.",
    ] {
        assert!(body.contains(line), "no {line:?} in\n{body}");
    }
    let samples = http::parse_prometheus(&body).unwrap();
    let buckets: Vec<&Sample> = samples
        .iter()
        .filter(|sample| sample.name == "kuafu_store_commit_seconds_bucket")
        .collect();
    assert!(buckets.iter().any(|bucket| bucket.labels["le"] == "+Inf"));
    zone.zone.shutdown().await;
}

#[tokio::test]
async fn healthz_answers_200_while_the_zone_serves_and_503_naming_a_dead_game_server() {
    let mut zone = start_observed_zone().await;
    let admin = zone.zone.config().account.admin.expect("resolved");
    assert_eq!(
        http::get(admin, "/healthz").await.unwrap(),
        (200, "ok\n".to_owned())
    );

    zone.zone.kill_game("gs3").unwrap();
    let (status, body) = http::get(admin, "/healthz").await.unwrap();
    assert_eq!(status, 503);
    assert!(body.starts_with("gs3: "), "{body}");

    zone.zone.restart_game("gs3").await.unwrap();
    assert_eq!(
        http::get(admin, "/healthz").await.unwrap(),
        (200, "ok\n".to_owned())
    );
    assert_eq!(http::get(admin, "/nothing").await.unwrap().0, 404);
    zone.zone.shutdown().await;
}
