//! The account, routing and rank contract suites (`store::contract`, DESIGN §14)
//! on PostgreSQL: each test on a database of its own (`TestDatabase`),
//! dropped after it, every store a new session with it. Outside CI the tests
//! skip, saying why, when the server is unreachable.
//!
//! Beside the suites: a store dropped inside a tokio task, and a session the
//! server ended, replaced at the next call.

use datacentercore::{Current, CurrentNote};
use routing::RoleId;
use store::contract::{AccountHarness, RankHarness, RoutingHarness};
use store::{AccountStore, RoutingStore};
use store_postgres::test_support::TestDatabase;
use store_postgres::{PostgresAccountStore, PostgresRankStore, PostgresRoutingStore};

struct Postgres {
    database: TestDatabase,
}

impl Postgres {
    fn new() -> Option<Self> {
        TestDatabase::create("accounts_routes").map(|database| Self { database })
    }
}

impl AccountHarness for Postgres {
    type Store = PostgresAccountStore;
    fn at_once<T: Send>(
        first: impl FnOnce() -> T + Send,
        second: impl FnOnce() -> T + Send,
    ) -> (T, T) {
        test_support::at_once(first, second)
    }
    fn open_accounts(&mut self) -> PostgresAccountStore {
        PostgresAccountStore::connect(&self.database.config()).unwrap()
    }
}

impl RoutingHarness for Postgres {
    type Store = PostgresRoutingStore;
    fn open_routes(&mut self) -> PostgresRoutingStore {
        PostgresRoutingStore::connect(&self.database.config()).unwrap()
    }
}

store::account_contract_suite!(postgres_accounts, Postgres::new());
impl RankHarness for Postgres {
    type Store = PostgresRankStore;
    fn open_ranks(&mut self) -> PostgresRankStore {
        PostgresRankStore::connect(&self.database.config()).unwrap()
    }
}

store::routing_contract_suite!(postgres_routes, Postgres::new());
store::rank_contract_suite!(postgres_ranks, Postgres::new());

fn note(raw: u64) -> CurrentNote {
    CurrentNote {
        roleid: RoleId::from_raw(raw).unwrap(),
        current: Current {
            srvname: "gs1".to_owned(),
            online: true,
            epoch: 1,
        },
    }
}

#[tokio::test]
async fn a_store_may_be_dropped_inside_a_tokio_task() {
    let (Some(accounts), Some(routes)) = (
        TestDatabase::create("drop_accounts"),
        TestDatabase::create("drop_routes"),
    ) else {
        return;
    };
    let configs = (accounts.config(), routes.config());
    let stores = tokio::task::spawn_blocking(move || {
        let accounts = PostgresAccountStore::connect(&configs.0).unwrap();
        let routes = PostgresRoutingStore::connect(&configs.1).unwrap();
        (accounts, routes)
    })
    .await
    .unwrap();
    let dropped = tokio::spawn(async move { drop(stores) }).await;
    assert!(dropped.is_ok(), "dropping a store in a task panicked");
}

#[test]
fn a_session_the_server_ended_is_replaced_at_the_next_call() {
    let (Some(account_db), Some(routing_db)) = (
        TestDatabase::create("reconnect_accounts"),
        TestDatabase::create("reconnect_routes"),
    ) else {
        return;
    };
    let mut accounts = PostgresAccountStore::connect(&account_db.config()).unwrap();
    let mut routes = PostgresRoutingStore::connect(&routing_db.config()).unwrap();
    let ann = accounts.register("ann", "h").unwrap();
    routes.record(&[note(1_000_001)]).unwrap();
    for database in [&account_db, &routing_db] {
        let ended: i64 = database.session().value(
            "SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
             WHERE datname = current_database() AND pid <> pg_backend_pid()) AS ended",
        );
        assert_eq!(ended, 1, "{}", database.name());
    }
    // The first call may learn only then that its session ended.
    let first = accounts.find_password("ann");
    let found = first.or_else(|_| accounts.find_password("ann")).unwrap();
    assert_eq!(found, Some((ann, "h".to_owned())));
    let loaded = routes.load().or_else(|_| routes.load()).unwrap();
    assert_eq!(loaded, vec![note(1_000_001)]);
}
