//! The rank server node (seed "Server architecture" 4; DESIGN §10): the
//! tokio shell that drives a [`RankCore`] (crate `rankcore`, which decides
//! everything: each role's updates ordered by the sender's version, the
//! batches, the answers) over the bus and its [`RankStore`] (SQLite's
//! `rank.db` in the embedded mode, a PostgreSQL database in the
//! distributed mode).
//!
//! The shell feeds the core every request already queued in its inbox (at
//! most [`BATCH_REQUESTS_MAX`] at a time), then carries out its outputs:
//! replies go back over the bus, and a batch is written on a blocking
//! thread while the next requests queue, so one durable write serves many
//! updates. At start it loads everything into the core. With a snapshot
//! period it asks its own core for a snapshot of every board each period.
//! [`query`] holds the calls any node (or an operator) makes to read it.

pub mod query;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use bus::{Bus, BusError, Incoming, Replier};
use rankcore::{BatchId, LoadError, Output, RankCore, RankWrite, RequestId, WriteError};
use store::{RankStore, RankStoreError};
use tokio::task::JoinHandle;
use wire::node::node_message::Body;
use wire::node::{NodeMessage, TakeRankSnapshot};

/// Requests handed to the core between two drains of its outputs.
pub const BATCH_REQUESTS_MAX: usize = 512;

/// The rank server's node name when the zone file names none.
pub const RANK_NODE: &str = "rank";

/// A running rank server.
pub struct RankServer {
    task: JoinHandle<()>,
}

impl RankServer {
    /// Loads everything `store` holds (on a blocking thread), binds `name`
    /// on the bus, and serves until the bus unbinds it or the node is
    /// stopped; with `snapshot_every` (not zero), snapshots every board each
    /// period.
    pub async fn start(
        name: &str,
        store: Box<dyn RankStore>,
        bus: Arc<dyn Bus>,
        snapshot_every: Option<Duration>,
    ) -> Result<Self, StartError> {
        let (store, state) = tokio::task::spawn_blocking(move || {
            let mut store = store;
            let state = store.load();
            (store, state)
        })
        .await
        .map_err(|error| RankStoreError::Backend(format!("loading the boards: {error}")))?;
        let core = RankCore::new(state?)?;
        let inbox = bus.bind(name, bus::INBOX_MESSAGES_MAX)?;
        let shell = Shell {
            core,
            store: Some(store),
            repliers: BTreeMap::new(),
            next_request: 1,
            writing: None,
        };
        let task = tokio::spawn(shell.serve(inbox, snapshot_every));
        Ok(Self { task })
    }

    /// Stops serving at once, as a crash would: requests in flight get no
    /// answer; what was acknowledged is durable.
    pub fn stop(self) {
        self.task.abort();
    }
}

/// Why the rank server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The database could not be opened or read.
    #[error(transparent)]
    Store(#[from] RankStoreError),
    /// What the database holds is not a ranking.
    #[error(transparent)]
    Load(#[from] LoadError),
    /// The name is taken on the bus.
    #[error("bus: {0}")]
    Bus(#[from] BusError),
}

/// What writing a batch gives back: the store, the batch and its answer.
type Written = (Box<dyn RankStore>, BatchId, Result<(), WriteError>);

/// What woke the shell.
enum Wake {
    /// A request arrived (`None`: the bus unbound the node).
    Request(Option<Incoming>),
    /// The batch being written is done.
    Written(Result<Written, tokio::task::JoinError>),
    /// A snapshot period ended.
    SnapshotDue,
}

/// The core and what the shell holds for it.
struct Shell {
    core: RankCore,
    /// The store, while no batch is being written.
    store: Option<Box<dyn RankStore>>,
    /// Who waits for each request's answer (`None`: the shell's own).
    repliers: BTreeMap<RequestId, Option<Replier>>,
    next_request: u64,
    writing: Option<JoinHandle<Written>>,
}

impl Shell {
    async fn serve(mut self, mut inbox: bus::Inbox, snapshot_every: Option<Duration>) {
        let snapshot_every = snapshot_every.filter(|period| !period.is_zero());
        // Without a period the timer is never polled; any period will do.
        let period = snapshot_every.unwrap_or(Duration::from_secs(1));
        let mut snapshots = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
        loop {
            let woken = tokio::select! {
                incoming = inbox.recv() => Wake::Request(incoming),
                written = async { self.writing.as_mut().expect("guarded").await },
                    if self.writing.is_some() => Wake::Written(written),
                _ = snapshots.tick(), if snapshot_every.is_some() => Wake::SnapshotDue,
            };
            match woken {
                Wake::Request(None) => break,
                Wake::Request(Some(first)) => {
                    self.request(first);
                    for _ in 1..BATCH_REQUESTS_MAX {
                        let Ok(incoming) = inbox.try_recv() else {
                            break;
                        };
                        self.request(incoming);
                    }
                }
                Wake::Written(Ok((store, batch, answer))) => {
                    self.writing = None;
                    self.store = Some(store);
                    self.core.handle_write_answer(batch, answer);
                }
                Wake::Written(Err(error)) => {
                    tracing::error!(%error, "the rank server's store writer failed");
                    break;
                }
                Wake::SnapshotDue => self.snapshot_every_board(),
            }
            self.carry_out_outputs();
        }
    }

    fn request(&mut self, incoming: Incoming) {
        let (_from, message, replier) = incoming.into_parts();
        self.submit(message, Some(replier));
    }

    fn submit(&mut self, message: NodeMessage, replier: Option<Replier>) {
        let request = RequestId(self.next_request);
        self.next_request += 1;
        self.repliers.insert(request, replier);
        self.core.handle_request(request, message);
    }

    fn snapshot_every_board(&mut self) {
        let boards: Vec<String> = self.core.boards().map(str::to_owned).collect();
        for board in boards {
            let take = Body::TakeRankSnapshot(TakeRankSnapshot { board });
            self.submit(NodeMessage { body: Some(take) }, None);
        }
    }

    fn carry_out_outputs(&mut self) {
        while let Some(output) = self.core.poll_output() {
            match output {
                Output::Reply { request, message } => {
                    if let Some(Some(replier)) = self.repliers.remove(&request) {
                        replier.reply(message);
                    }
                }
                Output::Write { batch, write } => self.write(batch, write),
            }
        }
    }

    /// Writes a batch on a blocking thread; the core has at most one in flight.
    fn write(&mut self, batch: BatchId, write: RankWrite) {
        let mut store = self
            .store
            .take()
            .expect("the core writes one batch at a time");
        self.writing = Some(tokio::task::spawn_blocking(move || {
            let answer = store
                .write(&write)
                .map_err(|error| WriteError(error.to_string()));
            (store, batch, answer)
        }));
    }
}
