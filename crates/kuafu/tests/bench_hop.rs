//! `kuafu bench hop` with tiny numbers, in-process: the report counts every
//! crossing on both sides (client timings and the servers' arrivals) and its
//! figures are present. No timing is asserted: this machine's speed is not
//! what the test checks.

use kuafu::bench::floor;
use kuafu::bench::hop::{self, HopOptions};

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
    assert_eq!(report.floor.sqlite_commit.count, 5);
    assert_eq!(report.floor.tcp_connect_round_trip.count, 5);
    assert!(report.floor.total() > std::time::Duration::ZERO);
    assert!(report.ratio() > 0.0 && report.crossings_per_s() > 0.0);
    assert!(
        dir.path().join(floor::FLOOR_DB_FILE).exists(),
        "the floor commits on the zone's disk"
    );

    let line = report.to_string();
    assert!(
        line.starts_with("bench hop: players=3 crossings=6 p50_ms="),
        "{line}"
    );
    for field in ["p99_ms=", "crossings_per_s=", "floor_ms=", "ratio="] {
        assert!(line.contains(field), "{field} in {line}");
    }
    let markdown = report.markdown("kuafu bench hop --players 3");
    assert!(markdown.contains("`kuafu bench hop --players 3`"));
    assert!(markdown.contains(&report.machine.cpu_model));
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
    };
    let error = hop::run(options)
        .await
        .expect_err("more places than players");
    assert!(error.to_string().contains("concurrency"), "{error}");
}
