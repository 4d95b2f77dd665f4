//! One PostgreSQL session driven from synchronous code.
//!
//! `store::PlayerStore::apply` is synchronous and runs on a store's own
//! writer thread, so each [`Connection`] owns a current-thread tokio runtime
//! and a `tokio_postgres::Client`, and blocks on the runtime for each round
//! trip ([`Connection::run`]). The session's socket task runs only while a
//! round trip is awaited, on the calling thread: no task hops between
//! threads (50–200 µs each on a 2-core machine), and requests issued
//! together in one future are pipelined, several statements per round trip.
//! The async client rather than the blocking `postgres` crate (which wraps
//! the same client the same way) because of that pipelining.
//!
//! Like any blocking call, [`Connection::open`] and [`Connection::run`] must
//! happen off the async runtime (on a writer thread, or in
//! `spawn_blocking`); a call from inside a tokio task panics. Dropping a
//! connection is safe anywhere, a tokio task included: it shuts its own
//! runtime down without waiting, which closes the socket.

use std::cell::Cell;
use std::fmt;
use std::future::Future;
use std::time::Duration;

use tokio::runtime::{Builder, Runtime};
use tokio_postgres::config::Host;
use tokio_postgres::{Client, Config, NoTls};

/// How long opening a session may take before it fails.
pub const CONNECT_TIMEOUT_MS: u64 = 5_000;
/// The server ends a session that stays inside a transaction without a
/// statement this long, releasing its row locks: a writer paused or cut off
/// mid-batch cannot hold other nodes' claims up for longer (its batch rolls
/// back; it reads back before acting, as after any failed batch).
pub const IDLE_IN_TRANSACTION_TIMEOUT_MS: u64 = 5_000;
/// How long one round trip may take before it fails with an unknown outcome.
/// Longer than [`IDLE_IN_TRANSACTION_TIMEOUT_MS`], so a batch waiting for the
/// row lock of a stalled session outlives that session's end.
pub const ROUND_TRIP_TIMEOUT_MS: u64 = 10_000;
const _: () = assert!(ROUND_TRIP_TIMEOUT_MS > IDLE_IN_TRANSACTION_TIMEOUT_MS);

/// The server probes a session's silent client after this many seconds
/// without traffic (`tcp_keepalives_idle`), then every
/// [`KEEPALIVE_INTERVAL_S`] seconds, and ends the session after
/// [`KEEPALIVE_PROBES`] unanswered probes. So a session whose host died or
/// was cut off — a game server's node lock above all — ends, and frees its
/// locks, within [`DEAD_CLIENT_DETECTED_S`] seconds instead of the
/// operating system's default of about two hours.
pub const KEEPALIVE_IDLE_S: u32 = 10;
/// Seconds between two unanswered keepalive probes.
pub const KEEPALIVE_INTERVAL_S: u32 = 5;
/// Unanswered keepalive probes that end a session.
pub const KEEPALIVE_PROBES: u32 = 3;
/// The longest a dead client's session lasts past its last traffic.
pub const DEAD_CLIENT_DETECTED_S: u32 = KEEPALIVE_IDLE_S + KEEPALIVE_INTERVAL_S * KEEPALIVE_PROBES;

/// The `application_name` of every Kuafu session, as `pg_stat_activity`
/// shows it.
pub const APPLICATION_NAME: &str = "kuafu";

/// A PostgreSQL failure or a malformed stored value, kept as text for the
/// stores' typed `Backend` errors.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure(pub String);

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<tokio_postgres::Error> for Failure {
    fn from(error: tokio_postgres::Error) -> Self {
        // The error's own text is only "db error" for a server error.
        let text = match (error.as_db_error(), std::error::Error::source(&error)) {
            (Some(server), _) => format!("{} ({})", server.message(), server.code().code()),
            (None, Some(cause)) => format!("{error}: {cause}"),
            (None, None) => error.to_string(),
        };
        Self(format!("postgres: {text}"))
    }
}

impl From<prost::DecodeError> for Failure {
    fn from(error: prost::DecodeError) -> Self {
        Self(format!("stored player data does not decode: {error}"))
    }
}

/// One session with one database.
pub struct Connection {
    /// Drives the session's socket while [`Connection::run`] blocks;
    /// `None` only while dropping.
    runtime: Option<Runtime>,
    config: Config,
    client: Client,
    /// Whether a round trip failed in a way that ends the session (the
    /// client may learn that the socket closed only on its next poll).
    ended: Cell<bool>,
    /// Round trips made, each [`Connection::run`] one.
    round_trips: Cell<u64>,
    /// "PostgreSQL database NAME at HOST:PORT", for messages.
    name: String,
}

impl Connection {
    /// Opens a session with the database `config` names (a libpq-style
    /// `key=value` string or a `postgresql://` URL).
    pub fn open(config: &str) -> Result<Self, Failure> {
        let mut config: Config = config
            .parse()
            .map_err(|error| Failure(format!("bad PostgreSQL connection string: {error}")))?;
        configure(&mut config);
        let name = database_name(&config);
        let runtime = Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|error| Failure(format!("cannot start a runtime: {error}")))?;
        let client = start_session(&runtime, &config).map_err(|failure| failure.naming(&name))?;
        Ok(Self {
            runtime: Some(runtime),
            config,
            client,
            ended: Cell::new(false),
            round_trips: Cell::new(0),
            name,
        })
    }

    /// The session's client: its futures do nothing until [`Connection::run`]
    /// awaits them.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// How many round trips this connection has made (every session's).
    pub fn round_trips(&self) -> u64 {
        self.round_trips.get()
    }

    /// The database, as messages name it.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Blocks until `work` completes, at most [`ROUND_TRIP_TIMEOUT_MS`].
    pub fn run<T>(
        &self,
        work: impl Future<Output = Result<T, tokio_postgres::Error>>,
    ) -> Result<T, Failure> {
        let deadline = Duration::from_millis(ROUND_TRIP_TIMEOUT_MS);
        let timed = async { tokio::time::timeout(deadline, work).await };
        self.round_trips.set(self.round_trips.get() + 1);
        match self.runtime().block_on(timed) {
            Ok(Ok(done)) => Ok(done),
            Ok(Err(error)) => {
                if ends_session(&error) {
                    self.ended.set(true);
                }
                Err(Failure::from(error))
            }
            Err(_) => Err(Failure(format!(
                "postgres: no answer within {ROUND_TRIP_TIMEOUT_MS} ms"
            ))),
        }
    }

    /// Whether the session ended (the server closed it or the network
    /// failed); [`Connection::reopen`] starts a new one.
    pub fn is_closed(&self) -> bool {
        self.ended.get() || self.client.is_closed()
    }

    /// Replaces the session with a new one to the same database.
    pub fn reopen(&mut self) -> Result<(), Failure> {
        self.client = start_session(self.runtime(), &self.config)
            .map_err(|failure| failure.naming(&self.name))?;
        self.ended.set(false);
        Ok(())
    }

    /// Replaces the session if it ended (see [`Connection::is_closed`]).
    pub fn ensure_open(&mut self) -> Result<(), Failure> {
        if self.is_closed() {
            self.reopen()?;
        }
        Ok(())
    }

    /// Runs `work` in a transaction, ended by [`Connection::finish`].
    pub fn in_transaction<T, E: From<Failure>>(
        &self,
        work: impl FnOnce() -> Result<T, E>,
    ) -> Result<T, E> {
        self.run(self.client.batch_execute("BEGIN"))?;
        self.finish(work())
    }

    /// Ends the open transaction by what it `done`: `COMMIT` on `Ok` (a
    /// failed commit leaves the outcome unknown), `ROLLBACK` on `Err`.
    pub fn finish<T, E: From<Failure>>(&self, done: Result<T, E>) -> Result<T, E> {
        match done {
            Ok(done) => {
                let commit = self.run(self.client.batch_execute("COMMIT"));
                commit.map_err(|failure| {
                    Failure(format!("commit failed, outcome unknown: {failure}"))
                })?;
                Ok(done)
            }
            Err(error) => {
                self.rollback();
                Err(error)
            }
        }
    }

    /// Rolls the open transaction back (a session that is gone rolled back
    /// already).
    pub fn rollback(&self) {
        let _ = self.run(self.client.batch_execute("ROLLBACK"));
    }

    fn runtime(&self) -> &Runtime {
        self.runtime.as_ref().expect("present until dropped")
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        // Waits for nothing, so a tokio task may drop a store.
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

impl Failure {
    /// The same failure, prefixed with the database it happened in.
    pub fn naming(self, database: &str) -> Self {
        Self(format!("{database}: {}", self.0))
    }
}

/// Whether `error` ends the session: the socket closed or failed, or the
/// server ended the session (an error of severity FATAL, e.g. an
/// administrator's `pg_terminate_backend` or a server shutdown).
fn ends_session(error: &tokio_postgres::Error) -> bool {
    let fatal = error
        .as_db_error()
        .is_some_and(|server| matches!(server.severity(), "FATAL" | "PANIC"));
    let socket = std::error::Error::source(error)
        .is_some_and(|cause| cause.downcast_ref::<std::io::Error>().is_some());
    error.is_closed() || fatal || socket
}

/// Kuafu's session settings on top of the caller's: the application name, commits that wait for the disk whatever the
/// database's default (`synchronous_commit=on`), the idle-in-transaction
/// limit, and TCP keepalives both ways (the server's settings end a dead
/// client's session; the client's find a dead server).
fn configure(config: &mut Config) {
    config.application_name(APPLICATION_NAME);
    config
        .keepalives(true)
        .keepalives_idle(Duration::from_secs(KEEPALIVE_IDLE_S.into()))
        .keepalives_interval(Duration::from_secs(KEEPALIVE_INTERVAL_S.into()))
        .keepalives_retries(KEEPALIVE_PROBES);
    let ours = format!(
        "-c synchronous_commit=on -c idle_in_transaction_session_timeout={IDLE_IN_TRANSACTION_TIMEOUT_MS} \
         -c tcp_keepalives_idle={KEEPALIVE_IDLE_S} -c tcp_keepalives_interval={KEEPALIVE_INTERVAL_S} \
         -c tcp_keepalives_count={KEEPALIVE_PROBES}"
    );
    let options = match config.get_options() {
        Some(theirs) if !theirs.is_empty() => format!("{theirs} {ours}"),
        _ => ours,
    };
    config.options(options);
}

fn start_session(runtime: &Runtime, config: &Config) -> Result<Client, Failure> {
    let connect = async {
        let (client, session) = config.connect(NoTls).await?;
        // The socket task ends when the client is dropped or the server
        // closes the session; the client then reports `is_closed`.
        tokio::spawn(session);
        Ok::<_, tokio_postgres::Error>(client)
    };
    let deadline = Duration::from_millis(CONNECT_TIMEOUT_MS);
    // The timer is made inside the runtime, which it needs.
    match runtime.block_on(async { tokio::time::timeout(deadline, connect).await }) {
        Ok(connected) => connected.map_err(Failure::from),
        Err(_) => Err(Failure(format!(
            "postgres: no session within {CONNECT_TIMEOUT_MS} ms"
        ))),
    }
}

fn database_name(config: &Config) -> String {
    let database = config.get_dbname().unwrap_or("(default)");
    let host = match config.get_hosts().first() {
        Some(Host::Tcp(host)) => host.clone(),
        Some(Host::Unix(path)) => path.display().to_string(),
        None => "localhost".to_owned(),
    };
    let port = config.get_ports().first().copied().unwrap_or(5432);
    format!("PostgreSQL database {database} at {host}:{port}")
}
