//! The account, routing and rank contract suites (`store::contract`, DESIGN §14)
//! on SQLite files: each test on a file of its own, every store a new
//! connection to it.

use std::path::PathBuf;

use store::contract::{AccountHarness, RankHarness, RoutingHarness};
use store_sqlite::{
    ACCOUNT_DB_FILE, RANK_DB_FILE, ROUTING_DB_FILE, SqliteAccountStore, SqliteRankStore,
    SqliteRoutingStore,
};
use tempfile::TempDir;

struct SqliteFiles {
    directory: TempDir,
}

impl SqliteFiles {
    fn new() -> Self {
        Self {
            directory: tempfile::tempdir().unwrap(),
        }
    }

    fn path(&self, file: &str) -> PathBuf {
        self.directory.path().join(file)
    }
}

impl AccountHarness for SqliteFiles {
    type Store = SqliteAccountStore;
    fn at_once<T: Send>(
        first: impl FnOnce() -> T + Send,
        second: impl FnOnce() -> T + Send,
    ) -> (T, T) {
        test_support::at_once(first, second)
    }
    fn open_accounts(&mut self) -> SqliteAccountStore {
        SqliteAccountStore::open(self.path(ACCOUNT_DB_FILE)).unwrap()
    }
}

impl RoutingHarness for SqliteFiles {
    type Store = SqliteRoutingStore;
    fn open_routes(&mut self) -> SqliteRoutingStore {
        SqliteRoutingStore::open(self.path(ROUTING_DB_FILE)).unwrap()
    }
}

store::account_contract_suite!(sqlite_accounts, Some(SqliteFiles::new()));
impl RankHarness for SqliteFiles {
    type Store = SqliteRankStore;
    fn open_ranks(&mut self) -> SqliteRankStore {
        SqliteRankStore::open(self.path(RANK_DB_FILE)).unwrap()
    }
}

store::routing_contract_suite!(sqlite_routes, Some(SqliteFiles::new()));
store::rank_contract_suite!(sqlite_ranks, Some(SqliteFiles::new()));
