//! The store contract suite (`store::contract`, DESIGN §14) on the model
//! store, the SQLite store on a file, and the SQLite store in memory.

use ownership::Rules;
use routing::{RoleId, Srvno};
use store::LedgerEntry;
use store::contract::{Harness, held_srvnos};
use store::model::ModelStore;
use store_sqlite::SqlitePlayerStore;
use tempfile::TempDir;

struct Model;

impl Harness for Model {
    type Store = ModelStore;
    fn open_with(&mut self, rules: Rules) -> ModelStore {
        ModelStore::new(&held_srvnos(), rules)
    }
    fn reopen(&mut self, store: ModelStore) -> ModelStore {
        store
    }
    fn advance_role_seq(store: &mut ModelStore, srvno: Srvno, next_seq: u64) -> u64 {
        store.advance_role_seq(srvno, next_seq).unwrap()
    }
    fn ledger(store: &ModelStore, roleid: RoleId) -> Vec<LedgerEntry> {
        store.ledger(roleid).to_vec()
    }
}

struct SqliteFile {
    directory: TempDir,
}

impl SqliteFile {
    fn new() -> Self {
        Self {
            directory: tempfile::tempdir().unwrap(),
        }
    }
}

impl Harness for SqliteFile {
    type Store = SqlitePlayerStore;
    fn open_with(&mut self, rules: Rules) -> SqlitePlayerStore {
        let path = self.directory.path().join("srvno.db");
        SqlitePlayerStore::open(path, &held_srvnos(), rules).unwrap()
    }
    fn reopen(&mut self, store: SqlitePlayerStore) -> SqlitePlayerStore {
        drop(store);
        self.open()
    }
    fn advance_role_seq(store: &mut SqlitePlayerStore, srvno: Srvno, next_seq: u64) -> u64 {
        store.advance_role_seq(srvno, next_seq).unwrap()
    }
    fn ledger(store: &SqlitePlayerStore, roleid: RoleId) -> Vec<LedgerEntry> {
        store.ledger(roleid).unwrap()
    }
}

struct SqliteMemory;

impl Harness for SqliteMemory {
    type Store = SqlitePlayerStore;
    fn open_with(&mut self, rules: Rules) -> SqlitePlayerStore {
        SqlitePlayerStore::open_in_memory(&held_srvnos(), rules).unwrap()
    }
    fn reopen(&mut self, store: SqlitePlayerStore) -> SqlitePlayerStore {
        store
    }
    fn advance_role_seq(store: &mut SqlitePlayerStore, srvno: Srvno, next_seq: u64) -> u64 {
        SqliteFile::advance_role_seq(store, srvno, next_seq)
    }
    fn ledger(store: &SqlitePlayerStore, roleid: RoleId) -> Vec<LedgerEntry> {
        SqliteFile::ledger(store, roleid)
    }
}

store::contract_suite!(model, Some(Model));
store::contract_suite!(sqlite_file, Some(SqliteFile::new()));
store::contract_suite!(sqlite_memory, Some(SqliteMemory));
