//! What only the SQLite player store does: schema migrations recorded in
//! `user_version`, a database failure failing the whole batch, and the
//! ledger audit.

use ownership::Rules;
use routing::Srvno;
use store::contract::{
    assert_clean_audit, assert_forged_audit, forge_ledger_sql, two_audited_roles,
};
use store::{OpOutcome, PlayerOp, PlayerStore, StoreError};
use store_sqlite::SqlitePlayerStore;

fn srvnos() -> [Srvno; 1] {
    [Srvno::new(1).unwrap()]
}

fn create_op(name: &str) -> PlayerOp {
    PlayerOp::CreateRole {
        srvno: srvnos()[0],
        account_id: 1,
        name: name.to_owned(),
    }
}

fn pragma(path: &std::path::Path, name: &str) -> String {
    let connection = rusqlite::Connection::open(path).unwrap();
    connection
        .pragma_query_value(None, name, |row| {
            Ok(row.get_ref(0)?.as_i64().map_or_else(
                |_| row.get::<_, String>(0).unwrap(),
                |number| number.to_string(),
            ))
        })
        .unwrap()
}

#[test]
fn the_schema_is_migrated_once_and_kept_on_reopen() {
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join("srvno.db");
    for _ in 0..2 {
        let store = SqlitePlayerStore::open(&path, &srvnos(), Rules::default()).unwrap();
        drop(store);
        assert_eq!(pragma(&path, "user_version"), "4");
    }
    assert_eq!(pragma(&path, "journal_mode"), "wal");
}

#[test]
fn a_database_from_a_newer_build_is_refused() {
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join("srvno.db");
    drop(SqlitePlayerStore::open(&path, &srvnos(), Rules::default()).unwrap());
    let connection = rusqlite::Connection::open(&path).unwrap();
    connection.pragma_update(None, "user_version", 9).unwrap();
    drop(connection);
    let Err(StoreError::Backend(message)) =
        SqlitePlayerStore::open(&path, &srvnos(), Rules::default())
    else {
        panic!("a newer schema must be refused");
    };
    assert!(message.contains("newer"), "{message}");
}

#[test]
fn a_database_failure_fails_the_whole_batch_and_writes_nothing() {
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join("srvno.db");
    let mut store = SqlitePlayerStore::open(&path, &srvnos(), Rules::default()).unwrap();
    let Ok(OpOutcome::Created(record)) = store.apply(0, &[create_op("ann")]).remove(0) else {
        panic!("create failed");
    };
    let corrupt = rusqlite::Connection::open(&path).unwrap();
    corrupt
        .execute(
            "UPDATE players SET data = x'ffffffff' WHERE roleid = ?1",
            [i64::try_from(record.roleid.get()).unwrap()],
        )
        .unwrap();
    drop(corrupt);

    let batch = [
        create_op("bob"),
        PlayerOp::LoadReadOnly {
            roleid: record.roleid,
        },
    ];
    let results = store.apply(1, &batch);
    assert_eq!(results.len(), 2);
    for result in results {
        assert!(matches!(result, Err(StoreError::Backend(_))), "{result:?}");
    }
    let Ok(OpOutcome::Created(next)) = store.apply(2, &[create_op("cat")]).remove(0) else {
        panic!("create failed");
    };
    assert_eq!(
        next.roleid.seq(),
        2,
        "the failed batch's create was rolled back"
    );
}

/// The tables of the database at `path`, by name.
fn tables(path: &std::path::Path) -> Vec<String> {
    let connection = rusqlite::Connection::open(path).unwrap();
    let mut statement = connection
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
        .unwrap();
    let names = statement.query_map([], |row| row.get(0)).unwrap();
    names.collect::<Result<_, _>>().unwrap()
}

#[test]
fn a_database_of_another_application_is_refused_by_path_and_left_untouched() {
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join("srvno.db");
    let foreign = rusqlite::Connection::open(&path).unwrap();
    foreign
        .execute_batch("CREATE TABLE notes (text TEXT)")
        .unwrap();
    drop(foreign);
    let Err(StoreError::Backend(message)) =
        SqlitePlayerStore::open(&path, &srvnos(), Rules::default())
    else {
        panic!("another application's database must be refused");
    };
    assert!(message.contains(&path.display().to_string()), "{message}");
    assert!(message.contains("not a Kuafu"), "{message}");
    assert_eq!(tables(&path), ["notes"], "no table was added to it");
    assert_eq!(pragma(&path, "user_version"), "0");
    let checked = SqlitePlayerStore::check_file(&path);
    assert!(
        matches!(checked, Err(StoreError::Backend(_))),
        "{checked:?}"
    );
}

#[test]
fn checking_a_missing_file_accepts_it_and_creates_nothing() {
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join("srvno.db");
    SqlitePlayerStore::check_file(&path).unwrap();
    assert!(!path.exists());
    drop(SqlitePlayerStore::open(&path, &srvnos(), Rules::default()).unwrap());
    SqlitePlayerStore::check_file(&path).unwrap();
}

#[test]
fn the_audit_finds_bad_sums_lines_without_a_writer_epochs_with_two_and_epochs_going_back() {
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join("srvno.db");
    let mut store = SqlitePlayerStore::open(&path, &srvnos(), Rules::default()).unwrap();
    let (ann, bob) = two_audited_roles(&mut store);
    assert_clean_audit(&store.audit().unwrap());
    let forger = rusqlite::Connection::open(&path).unwrap();
    forger.execute_batch(&forge_ledger_sql(ann, bob)).unwrap();
    assert_forged_audit(&store.audit().unwrap(), ann, bob);
}
