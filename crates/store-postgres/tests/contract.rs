//! The store contract suite (`store::contract`, DESIGN §14) on PostgreSQL:
//! each test on a database of its own (`TestDatabase`), dropped after it.
//! Outside CI the tests skip, saying why, when the server is unreachable.

use ownership::Rules;
use routing::{RoleId, Srvno};
use store::LedgerEntry;
use store::contract::{Harness, held_srvnos};
use store_postgres::PostgresPlayerStore;
use store_postgres::test_support::TestDatabase;

struct Postgres {
    database: TestDatabase,
}

impl Postgres {
    fn new() -> Option<Self> {
        TestDatabase::create("contract").map(|database| Self { database })
    }
}

impl Harness for Postgres {
    type Store = PostgresPlayerStore;
    fn open_with(&mut self, rules: Rules) -> PostgresPlayerStore {
        PostgresPlayerStore::connect(&self.database.config(), &held_srvnos(), rules).unwrap()
    }
    fn reopen(&mut self, store: PostgresPlayerStore) -> PostgresPlayerStore {
        drop(store);
        self.open()
    }
    fn advance_role_seq(store: &mut PostgresPlayerStore, srvno: Srvno, next_seq: u64) -> u64 {
        store.advance_role_seq(srvno, next_seq).unwrap()
    }
    fn ledger(store: &PostgresPlayerStore, roleid: RoleId) -> Vec<LedgerEntry> {
        store.ledger(roleid).unwrap()
    }
}

store::contract_suite!(postgres, Postgres::new());
