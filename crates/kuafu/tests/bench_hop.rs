//! `kuafu bench hop` with tiny numbers, embedded and distributed: the report
//! counts every crossing on both sides (client timings and what the servers
//! recorded) and its figures are present. No timing is asserted: this
//! machine's speed is not what the test checks. The distributed run needs
//! NATS (127.0.0.1:4222) and PostgreSQL (127.0.0.1:5432): under `CI=true` it
//! fails without them, elsewhere it skips saying why.

use kuafu::bench::distributed::{self, DistributedSettings};
use kuafu::bench::floor;
use kuafu::bench::hop::{self, Backend, HopOptions};

#[tokio::test]
async fn a_tiny_hop_bench_reports_every_crossing() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let options = HopOptions {
        players: 3,
        crossings_per_player: 2,
        concurrency: 2,
        data_dir: Some(dir.path().to_owned()),
        floor_samples: 5,
        progress: false,
        backend: Backend::Embedded,
    };
    let report = hop::run(options).await.expect("the bench runs");

    let crossings = 3 * 2;
    assert_eq!(report.crossings(), crossings);
    assert_eq!(report.serial.count, crossings);
    assert_eq!(report.concurrent.count, crossings);
    assert_eq!(
        report.arrivals,
        2 * crossings,
        "the servers saw every crossing of both phases arrive"
    );
    assert!(report.serial.p50 > std::time::Duration::ZERO);
    assert!(report.serial.p50 <= report.serial.p99 && report.serial.p99 <= report.serial.max);
    for (step, latency) in report.serial_steps.named() {
        assert_eq!(latency.count, crossings, "{step}: every serial crossing");
        assert!(latency.max <= report.serial.max, "{step} within a crossing");
    }
    assert_eq!(report.floor.commit.count, 5);
    assert_eq!(report.floor.commit_kind, "SQLite");
    assert!(report.floor.nats_round_trip.is_none());
    assert_eq!(report.floor.tcp_connect_round_trip.count, 5);
    assert!(report.floor.total() > std::time::Duration::ZERO);
    assert!(report.ratio() > 0.0 && report.crossings_per_s() > 0.0);
    assert!(
        dir.path().join(floor::FLOOR_DB_FILE).exists(),
        "the floor commits on the zone's disk"
    );

    let line = report.to_string();
    assert!(
        line.starts_with("bench hop: backend=embedded players=3 crossings=6 p50_ms="),
        "{line}"
    );
    for field in ["p99_ms=", "crossings_per_s=", "floor_ms=", "ratio="] {
        assert!(line.contains(field), "{field} in {line}");
    }
    let markdown = report.markdown("kuafu bench hop --players 3");
    assert!(markdown.contains("`kuafu bench hop --players 3`"));
    assert!(markdown.contains(&report.machine.cpu_model));
    assert!(markdown.contains("| EnterGame → Entered (claim commit) |"));
}

#[tokio::test]
async fn options_out_of_bounds_are_refused() {
    let options = HopOptions {
        players: 2,
        crossings_per_player: 1,
        concurrency: 3,
        data_dir: None,
        floor_samples: 1,
        progress: false,
        backend: Backend::Embedded,
    };
    let error = hop::run(options)
        .await
        .expect_err("more places than players");
    assert!(error.to_string().contains("concurrency"), "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tiny_distributed_hop_bench_counts_every_crossing_in_postgresql_and_drops_its_databases()
{
    let settings = DistributedSettings {
        nats: distributed::NATS_DEFAULT.to_owned(),
        postgres: distributed::POSTGRES_DEFAULT.to_owned(),
        kuafu: env!("CARGO_BIN_EXE_kuafu").into(),
    };
    let nats_up = std::net::TcpStream::connect("127.0.0.1:4222").is_ok();
    let postgres_up = std::net::TcpStream::connect("127.0.0.1:5432").is_ok();
    if !(nats_up && postgres_up) {
        let skip: Option<()> = test_support::service_missing("NATS or PostgreSQL unreachable");
        return skip.unwrap_or_default();
    }
    let dir = tempfile::tempdir().expect("a temporary directory");
    let options = HopOptions {
        players: 3,
        crossings_per_player: 2,
        concurrency: 2,
        data_dir: Some(dir.path().to_owned()),
        floor_samples: 5,
        progress: false,
        backend: Backend::Distributed(settings),
    };
    let report = hop::run(options).await.expect("the bench runs");

    assert_eq!(report.serial.count, 6);
    assert_eq!(report.concurrent.count, 6);
    assert_eq!(
        report.arrivals, 12,
        "the player rows' epochs rose by two for every crossing of both phases"
    );
    assert_eq!(report.floor.commit_kind, "PostgreSQL");
    assert_eq!(report.floor.commit.count, 5);
    assert_eq!(report.floor.nats_round_trip.map(|nats| nats.count), Some(5));
    let line = report.to_string();
    assert!(
        line.starts_with("bench hop: backend=distributed players=3 "),
        "{line}"
    );
    assert!(
        report
            .markdown("kuafu bench hop")
            .contains("NATS request/reply")
    );

    let prefix = format!("kuafu_bench_{}_%", std::process::id());
    let left = tokio::task::spawn_blocking(move || {
        let session = store_postgres::test_support::Session::open(
            "host=127.0.0.1 port=5432 user=postgres dbname=postgres",
        )
        .unwrap();
        session.value::<i64>(&format!(
            "SELECT count(*) FROM pg_database WHERE datname LIKE '{prefix}'"
        ))
    });
    assert_eq!(left.await.unwrap(), 0, "the run dropped its databases");
}
