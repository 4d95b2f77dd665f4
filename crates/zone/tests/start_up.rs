//! Operator errors at start-up: a database file that is not a Kuafu database
//! of the right kind is refused with its full path named, before any other
//! database file of the zone is created.

use std::path::{Path, PathBuf};

use zone::{Zone, ZoneConfig};

/// Bytes that are no SQLite database.
const GARBAGE: &[u8] = b"these bytes are not a SQLite database, only some operator's mistake";

/// Every file in `dir`, by name.
fn files_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// The text of `error`, which must name `path`.
fn refusal_naming(error: &zone::ZoneError, path: &Path) -> String {
    let message = error.to_string();
    let named = path.display().to_string();
    assert!(
        message.contains(&named),
        "the error names {named}: {message}"
    );
    message
}

/// Starts the demo zone in `dir` with `garbage` (a file name in `dir`)
/// holding garbage; expects the start to fail naming that file's full path
/// and leaving it the only file in `dir`.
async fn start_refused_by(dir: &Path, garbage: &str) {
    let path: PathBuf = dir.join(garbage);
    std::fs::write(&path, GARBAGE).unwrap();
    let Err(error) = Zone::start(ZoneConfig::demo(dir, 3)).await else {
        panic!("a zone with a garbage {garbage} must not start");
    };
    let message = refusal_naming(&error, &path);
    assert_eq!(
        files_in(dir),
        [garbage],
        "no other database was created ({message})"
    );
}

#[tokio::test]
async fn a_garbage_srvno_database_is_refused_by_path_before_any_database_is_created() {
    let dir = tempfile::tempdir().unwrap();
    start_refused_by(dir.path(), "srv2.db").await;
}

#[tokio::test]
async fn a_garbage_account_database_is_refused_by_path_before_any_database_is_created() {
    let dir = tempfile::tempdir().unwrap();
    start_refused_by(dir.path(), store_sqlite::ACCOUNT_DB_FILE).await;
}

#[tokio::test]
async fn a_database_of_another_kind_is_refused_by_path() {
    let dir = tempfile::tempdir().unwrap();
    let zone = Zone::start(ZoneConfig::demo(dir.path(), 1)).await.unwrap();
    zone.shutdown().await;
    let account = dir.path().join(store_sqlite::ACCOUNT_DB_FILE);
    let srvno = dir.path().join("srv1.db");
    std::fs::copy(&account, &srvno).unwrap();
    let Err(error) = Zone::start(ZoneConfig::demo(dir.path(), 1)).await else {
        panic!("an account database as srv1.db must be refused");
    };
    refusal_naming(&error, &srvno);
}
