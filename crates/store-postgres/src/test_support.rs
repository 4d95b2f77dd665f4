//! Test support (feature `test-support`): [`TestDatabase`], a uniquely named
//! database on the test server, dropped when the test ends, so parallel test
//! runs never see each other's data; and [`Session`], a plain session for a
//! test's own checks.
//!
//! The test server is PostgreSQL at [`TEST_SERVER`], or the one the
//! environment variable [`TEST_SERVER_VARIABLE`] names (a connection string
//! without a database name). When it is unreachable
//! a test fails under `CI=true`; elsewhere [`TestDatabase::create`] answers
//! `None` after printing why, and the test skips.
//!
//! Every helper here panics on failure (it is test code). A
//! [`TestDatabase`] may be created and dropped on any thread, a tokio test's
//! too (its work runs on a thread of its own); a [`Session`] blocks, like a
//! store, so use it off the async runtime.

use std::io::Write;

use tokio_postgres::types::FromSql;

use crate::connection::Connection;

/// The server the tests use by default: trust authentication, user
/// `postgres`.
pub const TEST_SERVER: &str = "host=127.0.0.1 port=5432 user=postgres";

/// The environment variable that names another test server.
pub const TEST_SERVER_VARIABLE: &str = "KUAFU_TEST_POSTGRES";

/// A database of its own for one test.
pub struct TestDatabase {
    name: String,
}

impl TestDatabase {
    /// Creates an empty database named after `purpose`, this process and the
    /// time. `None` when the server is unreachable outside CI (the reason is
    /// printed); panics when it is unreachable under `CI=true`.
    pub fn create(purpose: &str) -> Option<Self> {
        let name = unique_name(purpose);
        let created = on_own_thread(|| {
            let admin = Session::open(&admin_config())?;
            admin.execute(&format!("CREATE DATABASE {name}"));
            Ok::<_, String>(())
        });
        match created {
            Ok(()) => Some(Self { name }),
            Err(reason) => unreachable(&reason),
        }
    }

    /// The connection string of this database.
    pub fn config(&self) -> String {
        format!("{} dbname={}", test_server(), self.name)
    }

    /// The database's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// A new session with this database.
    pub fn session(&self) -> Session {
        Session::open(&self.config()).unwrap_or_else(|reason| panic!("{reason}"))
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let drop_sql = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name);
        let dropped = on_own_thread(|| {
            let admin = Connection::open(&admin_config())?;
            admin.run(admin.client().batch_execute(&drop_sql))
        });
        if let Err(reason) = dropped {
            // No panic in drop: the test's own outcome matters more.
            let _ = writeln!(
                std::io::stderr(),
                "cannot drop test database {}: {reason}",
                self.name
            );
        }
    }
}

/// A plain session with a test database.
pub struct Session {
    connection: Connection,
}

impl Session {
    /// Opens a session with the database `config` names.
    pub fn open(config: &str) -> Result<Self, String> {
        let connection = Connection::open(config).map_err(|failure| failure.to_string())?;
        Ok(Self { connection })
    }

    /// Runs `sql` (one or more statements); panics on failure.
    pub fn execute(&self, sql: &str) {
        let client = self.connection.client();
        self.connection
            .run(client.batch_execute(sql))
            .unwrap_or_else(|failure| panic!("{sql}: {failure}"));
    }

    /// The first column of the one row `sql` answers.
    pub fn value<T>(&self, sql: &str) -> T
    where
        T: for<'a> FromSql<'a>,
    {
        let client = self.connection.client();
        let row = self.connection.run(client.query_one(sql, &[]));
        let value = row.and_then(|row| Ok(row.try_get::<_, T>(0)?));
        value.unwrap_or_else(|failure| panic!("{sql}: {failure}"))
    }
}

/// The test server's connection string, without a database.
pub fn test_server() -> String {
    std::env::var(TEST_SERVER_VARIABLE).unwrap_or_else(|_| TEST_SERVER.to_owned())
}

fn admin_config() -> String {
    format!("{} dbname=postgres", test_server())
}

/// What a test does when the server is unreachable: fail under CI, else
/// say why it skips.
fn unreachable<T>(reason: &str) -> Option<T> {
    test_support::service_missing(&format!(
        "PostgreSQL at {} is unreachable ({reason})",
        test_server()
    ))
}

/// `kuafu_<purpose>_<process>_<count>_<time>`, lower case.
fn unique_name(purpose: &str) -> String {
    test_support::unique_name(&format!("kuafu_{purpose}"))
}

/// Runs `work` on a thread of its own (a session blocks on its own
/// runtime, which a tokio test's thread may not do).
fn on_own_thread<T: Send>(work: impl FnOnce() -> T + Send) -> T {
    std::thread::scope(|scope| match scope.spawn(work).join() {
        Ok(done) => done,
        Err(panic) => std::panic::resume_unwind(panic),
    })
}
