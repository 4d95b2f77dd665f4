//! The distributed mode's node lock shell (DESIGN §5), the counterpart of
//! the embedded mode's data directory lock (`takeover`): a game server takes
//! its node lock (`store_postgres::NodeLock`) in its own srvno database
//! before it serves, and a thread of its own looks at the lock every
//! [`NODE_LOCK_CHECK_MS`] while it runs, reporting when it must stop
//! ([`HeldNodeLock::lost`]; the decision is `store_postgres::Watch`'s).
//!
//! A node that finds its lock held retries for [`NODE_LOCK_WAIT_MS`] (a
//! predecessor killed a moment ago: the server ends its session as soon as
//! it sees the socket closed), then refuses to start, naming the holder.

use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use store_postgres::{NodeLock, NodeLockError, Verdict};
use tokio::sync::watch;

use crate::embedded::ZoneError;

/// How long a starting game server tries to take a held (or unreachable)
/// node lock before it refuses to start.
pub const NODE_LOCK_WAIT_MS: u64 = 10_000;
/// The pause between two such tries.
pub const NODE_LOCK_RETRY_MS: u64 = 200;
/// How often a running game server looks at its node lock.
pub const NODE_LOCK_CHECK_MS: u64 = 1_000;

/// Where a node lock is and whose it is.
pub struct LockSpec {
    /// The connection string of the node's own srvno database.
    pub database: String,
    /// The zone's name.
    pub zone: String,
    /// The game server's name.
    pub node: String,
    /// The incarnation taking it.
    pub incarnation: u64,
}

/// A node lock held by this process, watched by a thread of its own; freed
/// when dropped.
pub struct HeldNodeLock {
    /// Dropping it ends the watching thread, which drops the lock.
    stop: Option<mpsc::Sender<()>>,
    thread: Option<JoinHandle<()>>,
    /// Why the node must stop, once it must.
    lost: watch::Receiver<Option<String>>,
}

impl HeldNodeLock {
    /// Takes the lock `spec` names, retrying a held or unreachable one for
    /// [`NODE_LOCK_WAIT_MS`]; answers it with the incarnation that held it
    /// last, if any.
    pub async fn acquire(spec: LockSpec) -> Result<(Self, Option<u64>), ZoneError> {
        let taking = tokio::task::spawn_blocking(move || acquire_blocking(&spec));
        let (lock, previous) = taking.await.map_err(failed)??;
        let (stop, stopped) = mpsc::channel();
        let (lose, lost) = watch::channel(None);
        let thread = std::thread::Builder::new()
            .name("node-lock".to_owned())
            .spawn(move || watch_lock(lock, &stopped, &lose))
            .map_err(failed)?;
        let held = Self {
            stop: Some(stop),
            thread: Some(thread),
            lost,
        };
        Ok((held, previous))
    }

    /// Resolves, with the reason, once the node must stop serving: another
    /// incarnation of it may have taken its players back.
    pub async fn lost(&mut self) -> String {
        match self.lost.wait_for(Option::is_some).await {
            Ok(reason) => reason.clone().unwrap_or_default(),
            // The watch ended without a loss (released): never.
            Err(_) => std::future::pending().await,
        }
    }

    /// Frees the lock and waits until its session is closed.
    pub async fn release(mut self) {
        drop(self.stop.take());
        if let Some(thread) = self.thread.take() {
            let _ = tokio::task::spawn_blocking(move || thread.join()).await;
        }
    }
}

impl Drop for HeldNodeLock {
    fn drop(&mut self) {
        // Wakes the thread, which drops the lock (closing its session).
        drop(self.stop.take());
    }
}

fn failed(error: impl std::fmt::Display) -> ZoneError {
    ZoneError::NodeLock(NodeLockError::Failed(error.to_string()))
}

fn acquire_blocking(spec: &LockSpec) -> Result<(NodeLock, Option<u64>), ZoneError> {
    let deadline = Instant::now() + Duration::from_millis(NODE_LOCK_WAIT_MS);
    loop {
        let taken = NodeLock::try_acquire(&spec.database, &spec.zone, &spec.node, spec.incarnation);
        match taken {
            Ok(taken) => return Ok(taken),
            Err(error) if Instant::now() >= deadline => return Err(ZoneError::NodeLock(error)),
            Err(error) => {
                tracing::info!(node = %spec.node, %error, "waiting for the node lock");
                std::thread::sleep(Duration::from_millis(NODE_LOCK_RETRY_MS));
            }
        }
    }
}

/// Looks at `lock` every [`NODE_LOCK_CHECK_MS`] until `stopped` says stop
/// (or its sender is dropped), or until the node must stop (then sends why
/// on `lose`).
fn watch_lock(
    mut lock: NodeLock,
    stopped: &mpsc::Receiver<()>,
    lose: &watch::Sender<Option<String>>,
) {
    let interval = Duration::from_millis(NODE_LOCK_CHECK_MS);
    let mut last = Verdict::Serve;
    while let Err(RecvTimeoutError::Timeout) = stopped.recv_timeout(interval) {
        let verdict = lock.check();
        if verdict != last {
            tracing::warn!(?verdict, "node lock");
        }
        if let Verdict::Stop(reason) = verdict {
            lose.send_replace(Some(format!(
                "lost the node lock ({reason:?}): another incarnation may have taken its players back"
            )));
            return;
        }
        last = verdict;
    }
}
