//! The node lock (DESIGN §5): how a restarted game server of the
//! distributed mode proves its predecessor dead, so it may take back the
//! predecessor's players at once instead of after their leases.
//!
//! Each game server holds, for its whole life, a session-level advisory lock
//! on a session of its own with its own srvno database, keyed by its zone
//! and node name ([`lock_key`]). PostgreSQL frees such a lock only when the
//! session ends: the holder closes it, or its process dies however it dies
//! (the kernel closes a killed process's socket and the server ends its
//! session). So a node that gets the lock has proven that no earlier
//! incarnation of its name still holds a session there; one that cannot get
//! it is refused ([`NodeLockError::Held`] names the holder's session from
//! `pg_locks` and `pg_stat_activity`).
//!
//! Each incarnation that gets the lock records itself in the marker row
//! (`node_locks`) while holding it, before it takes anything back.
//! [`NodeLock::check`] looks at the lock again: a holder whose session ended
//! (PostgreSQL restarted, the network failed) opens a new one and tries the
//! lock again, and `watch::Watch` judges what it finds — it serves on only
//! if the lock was free and the marker still names it.

mod watch;

use std::fmt;

use store::backend::{from_column, to_column};
use tokio_postgres::Row;

use crate::connection::{Connection, Failure};
pub use watch::{Probe, StopReason, Verdict, Watch};

/// The first half of every node lock's key ("kunl" in ASCII), so node
/// locks never collide with another application's two-key advisory locks
/// by accident (the one-key migration lock lives in another key space).
pub const NODE_LOCK_CLASS: i32 = 0x6b75_6e6c;

const TRY_LOCK: &str = "SELECT pg_try_advisory_lock($1, $2), pg_backend_pid()";
const HOLDING: &str = "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' \
     AND granted AND pid = pg_backend_pid() AND classid::int8 = $1 AND objid::int8 = $2 \
     AND objsubid = 2 AND database = (SELECT oid FROM pg_database WHERE datname = current_database()))";
const HOLDER: &str = "SELECT l.pid, coalesce(a.application_name, ''), \
     coalesce(host(a.client_addr), 'a local socket'), coalesce(a.backend_start::text, '?') \
     FROM pg_locks l LEFT JOIN pg_stat_activity a ON a.pid = l.pid \
     WHERE l.locktype = 'advisory' AND l.granted AND l.classid::int8 = $1 \
     AND l.objid::int8 = $2 AND l.objsubid = 2 \
     AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())";
const MARK: &str = "WITH previous AS \
     (SELECT incarnation FROM node_locks WHERE zone = $1 AND node = $2) \
     INSERT INTO node_locks (zone, node, incarnation, acquired_at) \
     VALUES ($1, $2, $3, clock_timestamp()) ON CONFLICT (zone, node) \
     DO UPDATE SET incarnation = EXCLUDED.incarnation, acquired_at = EXCLUDED.acquired_at \
     RETURNING (SELECT incarnation FROM previous)";
const MARKER: &str = "SELECT incarnation FROM node_locks WHERE zone = $1 AND node = $2";

/// Why the node lock was not acquired.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NodeLockError {
    /// Another session holds it: a live incarnation of the node, or one
    /// whose end the server has not noticed yet.
    Held {
        /// The node.
        node: String,
        /// The holder's session, as `pg_stat_activity` shows it.
        holder: String,
        /// The holder's server process id.
        pid: i32,
    },
    /// The database failed or was unreachable.
    Failed(String),
}

impl fmt::Display for NodeLockError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Held { node, holder, .. } => write!(
                f,
                "node {node} is running elsewhere: its node lock is held by {holder}"
            ),
            Self::Failed(reason) => write!(f, "node lock: {reason}"),
        }
    }
}

impl std::error::Error for NodeLockError {}

impl From<Failure> for NodeLockError {
    fn from(failure: Failure) -> Self {
        Self::Failed(failure.0)
    }
}

/// The advisory lock key `(NODE_LOCK_CLASS, hash)` of node `node` of zone
/// `zone`: a stable hash (32-bit FNV-1a of `zone`, a zero byte and `node`,
/// kept non-negative), the same in every build and process.
pub fn lock_key(zone: &str, node: &str) -> (i32, i32) {
    const OFFSET: u32 = 0x811c_9dc5;
    const PRIME: u32 = 0x0100_0193;
    let bytes = zone.bytes().chain([0]).chain(node.bytes());
    let hash = bytes.fold(OFFSET, |hash, byte| {
        (hash ^ u32::from(byte)).wrapping_mul(PRIME)
    });
    let objid = i32::try_from(hash & 0x7fff_ffff).expect("31 bits fit");
    (NODE_LOCK_CLASS, objid)
}

/// Where the session stands with the lock.
#[derive(Clone, Copy, Debug)]
enum Session {
    /// A new session that has not got the lock.
    Unlocked,
    /// A new session (of server process `pid`) got the lock; the marker is
    /// not read yet.
    Unverified { pid: i32 },
    /// The session holds the lock and the watch knows it.
    Held,
}

/// A held node lock; dropping it (or the process's death) frees it. Its
/// methods block: use it off the async runtime, and drop it there.
pub struct NodeLock {
    connection: Connection,
    zone: String,
    node: String,
    session: Session,
    watch: Watch,
}

impl NodeLock {
    /// Tries once to take node `node`'s lock for incarnation `incarnation`
    /// in the player database `config` names (migrated already: the marker
    /// table is part of its schema). On success also answers the
    /// incarnation that held it last, if any.
    pub fn try_acquire(
        config: &str,
        zone: &str,
        node: &str,
        incarnation: u64,
    ) -> Result<(Self, Option<u64>), NodeLockError> {
        let connection = Connection::open(config)?;
        let name = connection.name().to_owned();
        let mut lock = Self {
            connection,
            zone: zone.to_owned(),
            node: node.to_owned(),
            session: Session::Unlocked,
            watch: Watch::new(incarnation, 0),
        };
        let (got, pid) = lock.try_lock().map_err(|failure| failure.naming(&name))?;
        if !got {
            return Err(lock.held_error(&name));
        }
        let client = lock.connection.client();
        let params = (&lock.zone, &lock.node, &to_column(incarnation));
        let row = lock
            .connection
            .run(client.query_one(MARK, &[params.0, params.1, params.2]))
            .map_err(|failure| failure.naming(&name))?;
        let previous = row.try_get::<_, Option<i64>>(0).map_err(Failure::from)?;
        lock.session = Session::Held;
        lock.watch = Watch::new(incarnation, pid);
        Ok((lock, previous.map(from_column)))
    }

    /// Looks at the lock again (see the module doc) and answers whether the
    /// node serves on.
    pub fn check(&mut self) -> Verdict {
        let probe = self.probe();
        self.watch.judge(probe)
    }

    /// The server process of the session that holds the lock.
    pub fn pid(&self) -> i32 {
        self.watch.pid()
    }

    fn probe(&mut self) -> Probe {
        if self.connection.is_closed() {
            if self.connection.reopen().is_err() {
                return Probe::Unreachable;
            }
            self.session = Session::Unlocked;
        }
        if let Session::Unlocked = self.session {
            match self.try_lock() {
                Err(_) => return Probe::Unreachable,
                Ok((false, _)) => return self.held_by(),
                Ok((true, pid)) => self.session = Session::Unverified { pid },
            }
        }
        match self.session {
            Session::Unverified { pid } => match self.marker() {
                Ok(marker) => {
                    self.session = Session::Held;
                    Probe::Regained { marker, pid }
                }
                Err(_) => Probe::Unreachable,
            },
            _ => match self.holding() {
                Ok(true) => Probe::Holding,
                Ok(false) => Probe::Released,
                Err(_) => Probe::Unreachable,
            },
        }
    }

    fn try_lock(&self) -> Result<(bool, i32), Failure> {
        let (class, objid) = lock_key(&self.zone, &self.node);
        let client = self.connection.client();
        let row = self
            .connection
            .run(client.query_one(TRY_LOCK, &[&class, &objid]))?;
        Ok((row.try_get(0)?, row.try_get(1)?))
    }

    fn holding(&self) -> Result<bool, Failure> {
        let (class, objid) = wide_key(&self.zone, &self.node);
        let client = self.connection.client();
        let row = self
            .connection
            .run(client.query_one(HOLDING, &[&class, &objid]))?;
        Ok(row.try_get(0)?)
    }

    fn marker(&self) -> Result<Option<u64>, Failure> {
        let client = self.connection.client();
        let row = self
            .connection
            .run(client.query_opt(MARKER, &[&self.zone, &self.node]))?;
        let marker = row.map(|row| row.try_get::<_, i64>(0)).transpose()?;
        Ok(marker.map(from_column))
    }

    /// The holder's session, if a session holds the lock.
    fn holder(&self) -> Result<Option<Row>, Failure> {
        let (class, objid) = wide_key(&self.zone, &self.node);
        let client = self.connection.client();
        self.connection
            .run(client.query_opt(HOLDER, &[&class, &objid]))
    }

    /// A new session found the lock held: by whom (`Unreachable` when it
    /// cannot tell, or the holder let go meanwhile: look again).
    fn held_by(&self) -> Probe {
        match self.holder() {
            Ok(Some(row)) => row
                .try_get(0)
                .map_or(Probe::Unreachable, |pid| Probe::HeldBy { pid }),
            _ => Probe::Unreachable,
        }
    }

    fn held_error(&self, database: &str) -> NodeLockError {
        let holder = match self.holder() {
            Ok(Some(row)) => describe_holder(&row),
            Ok(None) => Ok((0, "a session that let go meanwhile".to_owned())),
            Err(failure) => Err(failure),
        };
        match holder {
            Ok((pid, holder)) => NodeLockError::Held {
                node: self.node.clone(),
                holder: format!("{holder} in {database}"),
                pid,
            },
            Err(failure) => NodeLockError::Failed(failure.naming(database).0),
        }
    }
}

/// The key as `pg_locks` shows it (two unsigned 32-bit `oid`s, compared as
/// `int8`).
fn wide_key(zone: &str, node: &str) -> (i64, i64) {
    let (class, objid) = lock_key(zone, node);
    (i64::from(class), i64::from(objid))
}

/// "the session of server process PID (APPLICATION from ADDRESS, since
/// TIME)".
fn describe_holder(row: &Row) -> Result<(i32, String), Failure> {
    let pid: i32 = row.try_get(0)?;
    let (application, address, since): (String, String, String) =
        (row.try_get(1)?, row.try_get(2)?, row.try_get(3)?);
    Ok((
        pid,
        format!(
            "the session of server process {pid} ({application} from {address}, since {since})"
        ),
    ))
}
