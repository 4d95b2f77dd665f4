//! The floor of a crossing on this machine, measured with the primitives the
//! crossing itself uses:
//!
//! - one SQLite commit: WAL, `synchronous=FULL`, one upsert in its own
//!   `BEGIN IMMEDIATE` transaction, on a file in the zone's data directory
//!   (so on the same disk as the player databases);
//! - one new loopback TCP connection (`TCP_NODELAY`, as client and gateway
//!   set it) with one small request/response round trip, against a tiny echo
//!   server in this process and on this runtime.
//!
//! A crossing needs at least one durable commit (the handoff) and one new
//! connection to the target with one round trip; the floor is the sum of the
//! two medians.
//!
//! In the distributed mode the commit is PostgreSQL's (one upsert in its own
//! transaction, `synchronous_commit` as the server has it), and the floor
//! adds one NATS request/reply (the grant of the crossing token travels
//! between the game servers' processes on NATS): [`measure_distributed`].
//!
//! The commits are timed once the floor's WAL is in the state a working
//! database's WAL is in: grown to its checkpoint size and reused from its
//! start. While a fresh WAL still grows, every commit also changes the file's
//! size, and a commit costs up to twice as much on this machine (0.16–0.22 ms
//! against 0.11 ms), which would flatter the crossing.

use std::path::Path;
use std::time::{Duration, Instant};

use rusqlite::{Connection, TransactionBehavior, params};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use super::latency::Latency;

/// The floor database's file name, inside the data directory.
pub const FLOOR_DB_FILE: &str = "floor.db";
/// Bytes of the row each floor commit writes (about a small player's data).
pub const FLOOR_ROW_BYTES: usize = 256;
/// Untimed commits before the timed ones, in percent of SQLite's
/// `wal_autocheckpoint` (pages): past the first checkpoint, so the WAL is reused.
pub const WARMUP_CHECKPOINT_SHARE_PERCENT: i64 = 150;
/// Bytes of the floor's request and of its echo.
pub const ECHO_BYTES: usize = 32;

const CREATE_TABLE: &str = "CREATE TABLE IF NOT EXISTS floor (id INTEGER PRIMARY KEY, data BLOB NOT NULL, version INTEGER NOT NULL)";
const UPSERT: &str = "INSERT INTO floor (id, data, version) VALUES (1, ?1, ?2) \
     ON CONFLICT (id) DO UPDATE SET data = excluded.data, version = excluded.version";

/// The floor's parts and their sum.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Floor {
    /// One durable commit on the zone's player database.
    pub commit: Latency,
    /// Which database committed: `SQLite` or `PostgreSQL`.
    pub commit_kind: &'static str,
    /// One new loopback TCP connection with one round trip.
    pub tcp_connect_round_trip: Latency,
    /// One NATS request/reply (distributed mode only).
    pub nats_round_trip: Option<Latency>,
}

impl Floor {
    /// The floor of one crossing: the medians of its parts added.
    pub fn total(&self) -> Duration {
        let nats = self.nats_round_trip.map_or(Duration::ZERO, |nats| nats.p50);
        self.commit.p50 + self.tcp_connect_round_trip.p50 + nats
    }

    /// Each part's name and its latency, for reports.
    pub fn parts(&self) -> Vec<(String, Latency)> {
        let mut parts = vec![
            (format!("{} commit", self.commit_kind), self.commit),
            (
                "TCP connect + round trip".to_owned(),
                self.tcp_connect_round_trip,
            ),
        ];
        if let Some(nats) = self.nats_round_trip {
            parts.push(("NATS request/reply".to_owned(), nats));
        }
        parts
    }
}

/// Why the floor could not be measured.
#[derive(Debug, thiserror::Error)]
pub enum FloorError {
    /// The SQLite measurement failed.
    #[error("sqlite floor: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// The TCP measurement failed.
    #[error("tcp floor: {0}")]
    Io(#[from] std::io::Error),
    /// SQLite refused WAL mode on the data directory's file system.
    #[error("sqlite floor: journal mode is {0}, not WAL")]
    NotWal(String),
    /// The SQLite measurement's thread failed.
    #[error("sqlite floor thread: {0}")]
    Thread(#[from] tokio::task::JoinError),
    /// The PostgreSQL measurement failed.
    #[error("postgresql floor: {0}")]
    Postgres(#[from] tokio_postgres::Error),
    /// The NATS measurement failed.
    #[error("nats floor: {0}")]
    Nats(String),
}

/// Measures both parts, `samples` times each, one after the other.
pub async fn measure(data_dir: &Path, samples: usize) -> Result<Floor, FloorError> {
    let path = data_dir.join(FLOOR_DB_FILE);
    let commits = tokio::task::spawn_blocking(move || sqlite_commits(&path, samples)).await??;
    let connects = tcp_connect_round_trips(samples).await?;
    Ok(Floor {
        commit: Latency::of(commits),
        commit_kind: "SQLite",
        tcp_connect_round_trip: Latency::of(connects),
        nats_round_trip: None,
    })
}

/// The distributed mode's floor: `samples` PostgreSQL commits on the
/// database `postgres` names, NATS request/replies through the server at
/// `nats`, and TCP connections, one part after the other.
pub async fn measure_distributed(
    postgres: &str,
    nats: &str,
    samples: usize,
) -> Result<Floor, FloorError> {
    let commits = postgres_commits(postgres, samples).await?;
    let requests = nats_round_trips(nats, samples).await?;
    let connects = tcp_connect_round_trips(samples).await?;
    Ok(Floor {
        commit: Latency::of(commits),
        commit_kind: "PostgreSQL",
        tcp_connect_round_trip: Latency::of(connects),
        nats_round_trip: Some(Latency::of(requests)),
    })
}

/// Times `samples` upserts, each in its own committed transaction, in a
/// table of its own (`kuafu_floor`, dropped after).
pub async fn postgres_commits(config: &str, samples: usize) -> Result<Vec<Duration>, FloorError> {
    let (mut client, connection) = tokio_postgres::connect(config, tokio_postgres::NoTls).await?;
    let connection = tokio::spawn(connection);
    client
        .batch_execute(
            "CREATE TABLE IF NOT EXISTS kuafu_floor \
             (id BIGINT PRIMARY KEY, data BYTEA NOT NULL, version BIGINT NOT NULL)",
        )
        .await?;
    let upsert = client
        .prepare(
            "INSERT INTO kuafu_floor (id, data, version) VALUES (1, $1, $2) \
             ON CONFLICT (id) DO UPDATE SET data = excluded.data, version = excluded.version",
        )
        .await?;
    let data = vec![0x5a_u8; FLOOR_ROW_BYTES];
    let mut timings = Vec::with_capacity(samples);
    for version in (0_i64..).take(samples) {
        let started = Instant::now();
        let transaction = client.transaction().await?;
        transaction.execute(&upsert, &[&data, &version]).await?;
        transaction.commit().await?;
        timings.push(started.elapsed());
    }
    client.batch_execute("DROP TABLE kuafu_floor").await?;
    drop(client);
    let _ = connection.await;
    Ok(timings)
}

/// Times `samples` request/replies through NATS to a responder in this
/// process, on a subject of its own.
pub async fn nats_round_trips(url: &str, samples: usize) -> Result<Vec<Duration>, FloorError> {
    use futures_util::StreamExt;
    let nats_error = |error: &dyn std::fmt::Display| FloorError::Nats(error.to_string());
    let client = async_nats::connect(url)
        .await
        .map_err(|error| nats_error(&error))?;
    let subject = format!("kuafu.floor.{}", std::process::id());
    let mut requests = client
        .subscribe(subject.clone())
        .await
        .map_err(|error| nats_error(&error))?;
    let responder_client = client.clone();
    let responder = tokio::spawn(async move {
        while let Some(request) = requests.next().await {
            if let Some(reply) = request.reply {
                let _ = responder_client.publish(reply, request.payload).await;
            }
        }
    });
    let payload = bytes::Bytes::from_static(&[0x42; ECHO_BYTES]);
    let mut timings = Vec::with_capacity(samples);
    for _ in 0..samples {
        let started = Instant::now();
        client
            .request(subject.clone(), payload.clone())
            .await
            .map_err(|error| nats_error(&error))?;
        timings.push(started.elapsed());
    }
    responder.abort();
    Ok(timings)
}

/// Times `samples` upsert transactions, each committed on its own, after
/// enough untimed ones to fill the WAL past its first checkpoint.
pub fn sqlite_commits(path: &Path, samples: usize) -> Result<Vec<Duration>, FloorError> {
    let mut connection = Connection::open(path)?;
    let mode: String =
        connection.pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(FloorError::NotWal(mode));
    }
    connection.pragma_update(None, "synchronous", "FULL")?;
    connection.execute(CREATE_TABLE, [])?;
    let data = vec![0x5a_u8; FLOOR_ROW_BYTES];
    // Each commit adds one page to the WAL; SQLite checkpoints and starts
    // reusing the WAL once it holds `wal_autocheckpoint` pages.
    let checkpoint_pages: i64 =
        connection.pragma_query_value(None, "wal_autocheckpoint", |row| row.get(0))?;
    let warmup = checkpoint_pages.saturating_mul(WARMUP_CHECKPOINT_SHARE_PERCENT) / 100;
    for version in 0..warmup {
        commit_one(&mut connection, &data, version)?;
    }
    let mut timings = Vec::with_capacity(samples);
    for version in (warmup..).take(samples) {
        let started = Instant::now();
        commit_one(&mut connection, &data, version)?;
        timings.push(started.elapsed());
    }
    Ok(timings)
}

/// One upsert of the floor's row in its own `BEGIN IMMEDIATE` transaction.
fn commit_one(connection: &mut Connection, data: &[u8], version: i64) -> rusqlite::Result<()> {
    let transaction = connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
    transaction
        .prepare_cached(UPSERT)?
        .execute(params![data, version])?;
    transaction.commit()
}

/// Times `samples` connections to an in-process echo server, each with one
/// round trip, then closed.
pub async fn tcp_connect_round_trips(samples: usize) -> std::io::Result<Vec<Duration>> {
    let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
    let addr = listener.local_addr()?;
    let server = tokio::spawn(echo_server(listener));
    let mut timings = Vec::with_capacity(samples);
    let request = [0x42_u8; ECHO_BYTES];
    let mut answer = [0_u8; ECHO_BYTES];
    for _ in 0..samples {
        let started = Instant::now();
        let mut stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        stream.write_all(&request).await?;
        stream.read_exact(&mut answer).await?;
        timings.push(started.elapsed());
    }
    server.abort();
    Ok(timings)
}

/// Accepts connections and echoes one request on each.
async fn echo_server(listener: TcpListener) {
    while let Ok((stream, _peer)) = listener.accept().await {
        tokio::spawn(echo_once(stream));
    }
}

async fn echo_once(mut stream: TcpStream) -> std::io::Result<()> {
    stream.set_nodelay(true)?;
    let mut request = [0_u8; ECHO_BYTES];
    stream.read_exact(&mut request).await?;
    stream.write_all(&request).await?;
    // Wait for the client's close, as a server does before it lets go.
    let mut rest = [0_u8; ECHO_BYTES];
    while stream.read(&mut rest).await? > 0 {}
    Ok(())
}
