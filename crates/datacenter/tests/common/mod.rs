//! What the data center node's tests share: a routing database on either
//! backend, and the macro that runs each test once per backend.

use std::sync::Arc;

use bus::{Bus, InProcessBus};
use datacenter::DataCenter;
use store::RoutingStore;
use store_postgres::PostgresRoutingStore;
use store_postgres::test_support::TestDatabase;
use store_sqlite::{ROUTING_DB_FILE, SqliteRoutingStore};
use tempfile::TempDir;

/// Where a test's routing records live.
pub enum Database {
    Sqlite(TempDir),
    Postgres(TestDatabase),
}

impl Database {
    pub fn sqlite() -> Self {
        Self::Sqlite(tempfile::tempdir().unwrap())
    }

    /// A PostgreSQL database named for `purpose`; `None` where the server
    /// is unreachable outside CI (under `CI=true` the test fails).
    pub fn postgres(purpose: &str) -> Option<Self> {
        TestDatabase::create(purpose).map(Self::Postgres)
    }

    /// A new store on the database, opened on a blocking thread.
    pub async fn open(&self) -> Box<dyn RoutingStore> {
        let open: Box<dyn FnOnce() -> Box<dyn RoutingStore> + Send> = match self {
            Self::Sqlite(directory) => {
                let path = directory.path().join(ROUTING_DB_FILE);
                Box::new(move || Box::new(SqliteRoutingStore::open(path).unwrap()))
            }
            Self::Postgres(database) => {
                let config = database.config();
                Box::new(move || Box::new(PostgresRoutingStore::connect(&config).unwrap()))
            }
        };
        tokio::task::spawn_blocking(open).await.unwrap()
    }

    /// A data center named `datacenter` on `bus`, serving this database.
    pub async fn start(&self, bus: &InProcessBus) -> DataCenter {
        let bus: Arc<dyn Bus> = Arc::new(bus.clone());
        DataCenter::start("datacenter", self.open().await, bus)
            .await
            .unwrap()
    }
}

/// Each test once per backend: `sqlite::NAME` and `postgres::NAME`, the
/// PostgreSQL database named for `$purpose`.
#[macro_export]
macro_rules! on_both_backends {
    ($purpose:literal: $($test:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $test() {
                    super::$test(super::common::Database::sqlite()).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test]
                async fn $test() {
                    if let Some(database) = super::common::Database::postgres($purpose) {
                        super::$test(database).await;
                    }
                }
            )*
        }
    };
}
