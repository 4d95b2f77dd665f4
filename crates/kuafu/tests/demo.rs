//! `kuafu demo` end to end, in-process: bots register, enter, play and cross
//! with no errors, and a second run on the same data directory finds the
//! first run's accounts and players.

use std::time::Duration;

use kuafu::bot::LoginKind;
use kuafu::demo::{self, DemoOptions};

fn options(data_dir: &std::path::Path) -> DemoOptions {
    DemoOptions {
        data_dir: data_dir.to_owned(),
        bots: 12,
        duration: Some(Duration::from_secs(4)),
        game_servers: 3,
        status_line: false,
        login: LoginKind::Password,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bots_play_and_cross_and_a_rerun_finds_their_accounts() {
    let dir = tempfile::tempdir().unwrap();
    let first = demo::run(options(dir.path())).await.unwrap();
    assert_eq!(
        (first.entered, first.errors, first.returning),
        (12, 0, 0),
        "{first}"
    );
    assert!(first.calls > 0 && first.crossings > 0, "{first}");

    let second = demo::run(options(dir.path())).await.unwrap();
    assert_eq!(
        (second.entered, second.errors, second.returning),
        (12, 0, 12),
        "{second}"
    );
    assert!(
        second
            .to_string()
            .starts_with("demo: bots=12 entered=12 calls=")
    );

    let config = zone::ZoneConfig::demo(dir.path(), 3);
    let reports = zone::audit(&config).unwrap();
    let roles: u64 = reports.iter().map(|(_, report)| report.roles).sum();
    let lines: u64 = reports.iter().map(|(_, report)| report.ledger_lines).sum();
    assert_eq!(roles, 12, "one role per bot, kept across runs");
    assert!(lines > 0, "the bots' gold and items are in the ledger");
    for (server, report) in &reports {
        assert!(
            report.mismatches.is_empty(),
            "{server}: {:?}",
            report.mismatches
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bots_log_in_by_device_id_by_default_and_the_last_line_splits_errors_by_kind() {
    let dir = tempfile::tempdir().unwrap();
    let options = DemoOptions {
        bots: 6,
        duration: Some(Duration::from_secs(2)),
        login: LoginKind::default(),
        ..options(dir.path())
    };
    assert_eq!(options.login, LoginKind::Device);
    let report = demo::run(options).await.unwrap();
    assert_eq!((report.entered, report.errors), (6, 0), "{report}");
    assert!(
        report.to_string().ends_with(" errors_by_kind=none"),
        "{report}"
    );

    let failed = demo::DemoReport {
        errors: 3,
        errors_by_kind: [("BUSY".to_owned(), 1), ("timeout".to_owned(), 2)].into(),
        ..report
    };
    assert!(
        failed
            .to_string()
            .ends_with(" errors_by_kind=BUSY:1,timeout:2"),
        "{failed}"
    );
}
