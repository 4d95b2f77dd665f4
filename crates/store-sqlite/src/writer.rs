//! [`PlayerStoreWriter`]: the async handle of a player database. The store
//! lives on its own OS thread; callers submit single ops, and the thread
//! commits everything queued (up to `BATCH_OPS_MAX`) in one `apply`, so many
//! concurrent saves and handoffs share one fsync (group commit).
//!
//! The writer runs any [`ClockedPlayerStore`], the backend reading its own
//! database's clock for each batch (PostgreSQL's `clock_timestamp()` in the
//! distributed mode). A plain [`PlayerStore`] (SQLite in the embedded mode)
//! runs [`OnSystemClock`]: the database clock (`db_now_ms`) is this
//! machine's system clock, read once per batch, since the database and the
//! writer share the machine.
//!
//! The writer records each batch into its [`WriterMetrics`] (the batch's
//! size and how long it took to apply and commit); the handles are no-ops
//! unless the node's owner registered them.

use std::thread::{self, JoinHandle};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use metrics::{Counter, Histogram};

use store::{BATCH_OPS_MAX, ClockedPlayerStore, OpOutcome, PlayerOp, PlayerStore, StoreError};
use tokio::sync::{mpsc, oneshot};

/// Most ops waiting for the writer thread; a submit beyond it is refused.
pub const WRITER_QUEUE_OPS_MAX: usize = 4 * BATCH_OPS_MAX;

/// One queued op and where its answer goes.
struct Request {
    op: PlayerOp,
    reply: oneshot::Sender<Result<OpOutcome, StoreError>>,
}

/// Where a writer records its batches.
#[derive(Clone, Debug)]
pub struct WriterMetrics {
    /// One per batch applied.
    pub batches: Counter,
    /// Ops per batch.
    pub batch_ops: Histogram,
    /// Seconds to apply and commit one batch.
    pub commit_seconds: Histogram,
}

impl Default for WriterMetrics {
    /// Records nothing.
    fn default() -> Self {
        Self {
            batches: Counter::noop(),
            batch_ops: Histogram::noop(),
            commit_seconds: Histogram::noop(),
        }
    }
}

/// Async handle of a [`PlayerStore`] owned by a dedicated thread.
///
/// Dropping the handle closes the queue; the thread commits what is still
/// queued and stops, and the drop waits for it (at most one batch), so the
/// database is closed when the drop returns.
pub struct PlayerStoreWriter {
    /// `None` only while dropping.
    requests: Option<mpsc::Sender<Request>>,
    thread: Option<JoinHandle<()>>,
}

impl PlayerStoreWriter {
    /// Moves `store` onto a new thread named `store-writer` and returns its
    /// handle; each batch is applied at the system clock ([`OnSystemClock`]).
    /// Fails only when the thread cannot be started.
    pub fn spawn<S: PlayerStore + 'static>(store: S) -> Result<Self, StoreError> {
        Self::spawn_clocked(OnSystemClock(store))
    }

    /// Moves `store` onto a new thread named `store-writer` and returns its
    /// handle; each batch is applied at the database's clock
    /// ([`ClockedPlayerStore::apply_now`]). Fails only when the thread
    /// cannot be started.
    pub fn spawn_clocked<S: ClockedPlayerStore + 'static>(store: S) -> Result<Self, StoreError> {
        Self::spawn_metered(store, WriterMetrics::default())
    }

    /// [`spawn_clocked`](Self::spawn_clocked), recording every batch into
    /// `metrics`.
    pub fn spawn_metered<S: ClockedPlayerStore + 'static>(
        store: S,
        metrics: WriterMetrics,
    ) -> Result<Self, StoreError> {
        let (requests, queue) = mpsc::channel(WRITER_QUEUE_OPS_MAX);
        let thread = thread::Builder::new()
            .name("store-writer".to_owned())
            .spawn(move || run(store, queue, &metrics))
            .map_err(|error| {
                StoreError::Backend(format!("cannot start the store writer: {error}"))
            })?;
        Ok(Self {
            requests: Some(requests),
            thread: Some(thread),
        })
    }

    /// Queues `op` for the next batch and waits for its result.
    ///
    /// A full queue or a stopped writer answers `StoreError::Backend` without
    /// queueing. Once queued, the op is committed even if this future is
    /// dropped: a caller that stops waiting must read back before acting.
    pub async fn submit(&self, op: PlayerOp) -> Result<OpOutcome, StoreError> {
        let requests = self.requests.as_ref().ok_or_else(writer_stopped)?;
        let (reply, answer) = oneshot::channel();
        requests
            .try_send(Request { op, reply })
            .map_err(|error| match error {
                mpsc::error::TrySendError::Full(_) => StoreError::Backend(format!(
                    "store writer queue is full ({WRITER_QUEUE_OPS_MAX} ops)"
                )),
                mpsc::error::TrySendError::Closed(_) => writer_stopped(),
            })?;
        answer.await.map_err(|_| writer_stopped())?
    }
}

impl Drop for PlayerStoreWriter {
    fn drop(&mut self) {
        // Closing the queue ends the thread's loop once the queue is drained.
        drop(self.requests.take());
        if let Some(thread) = self.thread.take() {
            // A panicked writer already answered its callers with "stopped".
            let _ = thread.join();
        }
    }
}

/// The writer thread: waits for one op, takes whatever else is queued up to
/// a full batch, applies it, answers each caller. Ends when the queue closes.
fn run<S: ClockedPlayerStore>(
    mut store: S,
    mut queue: mpsc::Receiver<Request>,
    metrics: &WriterMetrics,
) {
    let mut ops = Vec::with_capacity(BATCH_OPS_MAX);
    let mut replies = Vec::with_capacity(BATCH_OPS_MAX);
    while let Some(first) = queue.blocking_recv() {
        let mut next = Some(first);
        while let Some(Request { op, reply }) = next {
            ops.push(op);
            replies.push(reply);
            next = if ops.len() < BATCH_OPS_MAX {
                queue.try_recv().ok()
            } else {
                None
            };
        }
        let started = Instant::now();
        let results = store.apply_now(&ops);
        metrics.commit_seconds.record(started.elapsed());
        metrics.batch_ops.record(ops.len() as f64);
        metrics.batches.increment(1);
        assert_eq!(results.len(), ops.len(), "apply answers every op");
        ops.clear();
        for (reply, result) in replies.drain(..).zip(results) {
            // A caller that stopped waiting no longer wants the answer.
            let _ = reply.send(result);
        }
    }
}

/// A store whose database shares this machine's clock: each batch is
/// applied at the system clock, read once per batch (the embedded mode's
/// SQLite stores).
#[derive(Debug)]
pub struct OnSystemClock<S>(pub S);

impl<S: PlayerStore> ClockedPlayerStore for OnSystemClock<S> {
    fn apply_now(&mut self, ops: &[PlayerOp]) -> Vec<Result<OpOutcome, StoreError>> {
        self.0.apply(system_now_ms(), ops)
    }
}

/// Milliseconds since the Unix epoch on the system clock (0 before it).
fn system_now_ms() -> u64 {
    let since_epoch = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    u64::try_from(since_epoch.as_millis()).unwrap_or(u64::MAX)
}

fn writer_stopped() -> StoreError {
    StoreError::Backend("store writer stopped".to_owned())
}
