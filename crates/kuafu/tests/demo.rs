//! `kuafu demo` end to end, in-process: bots register, enter, play and cross,
//! befriend each other, give gold across servers and sound horns with no
//! errors and a clean audit (every gift credited once), and a second run on the same data directory finds the
//! first run's accounts and players; with a zone file, the bots play in a
//! zone that is already running.

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
        zone_file: None,
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
    // They befriended each other, gave gold across servers and sounded
    // horns; the audit after the run (its problems count as errors) found
    // gifts credited.
    assert!(
        first.friends > 0 && first.gifts > 0 && first.horns > 0,
        "{first}"
    );
    assert!(first.gifts_credited > 0, "{first}");

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

/// A zone file with every listener on a fixed free port, as `--zone` needs.
fn fixed_port_zone_file(dir: &std::path::Path) -> std::path::PathBuf {
    let mut text = format!(
        "zone = \"running\"\ndata_dir = \"{}\"\nrecommended_server = \"gs1\"\n\n\
         [account]\ntcp = \"127.0.0.1:{}\"\n",
        dir.join("data").display(),
        test_support::free_port()
    );
    for srvno in 1..=3 {
        text += &format!(
            "\n[[game]]\nname = \"gs{srvno}\"\nsrvno = {srvno}\ntcp = \"127.0.0.1:{}\"\n\
             db = \"srv{srvno}.db\"\n",
            test_support::free_port()
        );
    }
    let path = dir.join("zone.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// Zone starts tried: a port picked free may be taken by another test
/// before the zone binds it.
const PORT_ATTEMPTS_MAX: usize = 5;

/// Starts a zone from a [`fixed_port_zone_file`], with new ports when one
/// was taken meanwhile.
async fn start_on_fixed_ports(dir: &std::path::Path) -> (std::path::PathBuf, zone::Zone) {
    for _ in 0..PORT_ATTEMPTS_MAX {
        let zone_file = fixed_port_zone_file(dir);
        match zone::Zone::start(zone::ZoneConfig::load(&zone_file).unwrap()).await {
            Ok(running) => return (zone_file, running),
            Err(zone::ZoneError::Listen(error)) => eprintln!("a port was taken: {error}"),
            Err(error) => panic!("the zone starts: {error}"),
        }
    }
    panic!("no free ports in {PORT_ATTEMPTS_MAX} attempts");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_a_zone_file_bots_play_and_cross_in_the_running_zone_it_names() {
    let dir = tempfile::tempdir().unwrap();
    let (zone_file, running) = start_on_fixed_ports(dir.path()).await;
    let options = DemoOptions {
        bots: 8,
        login: LoginKind::Device,
        zone_file: Some(zone_file),
        data_dir: dir.path().join("unused"),
        ..options(dir.path())
    };
    let report = demo::run(options).await.unwrap();
    assert_eq!((report.entered, report.errors), (8, 0), "{report}");
    assert!(report.calls > 0 && report.crossings > 0, "{report}");
    let online: usize = running.status().await.iter().map(|s| s.online).sum();
    assert_eq!(online, 0, "the bots logged off; the zone keeps running");
    assert!(
        !dir.path().join("unused").exists(),
        "the demo started no zone of its own"
    );
    running.shutdown().await;
}

#[tokio::test]
async fn a_zone_file_whose_account_port_is_zero_is_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let zone_file = fixed_port_zone_file(dir.path());
    let text = std::fs::read_to_string(&zone_file).unwrap();
    let account = text.lines().find(|line| line.starts_with("tcp")).unwrap();
    std::fs::write(
        &zone_file,
        text.replacen(account, "tcp = \"127.0.0.1:0\"", 1),
    )
    .unwrap();
    let options = DemoOptions {
        zone_file: Some(zone_file.clone()),
        ..options(dir.path())
    };
    let error = demo::run(options).await.unwrap_err();
    assert!(
        matches!(&error, demo::DemoError::AccountPortUnknown(path) if *path == zone_file),
        "{error}"
    );
    assert!(error.to_string().contains("--zone needs a fixed port"));
}
