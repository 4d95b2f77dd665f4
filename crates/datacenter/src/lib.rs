//! The data center node (seed "Basic support"; DESIGN §8): the tokio shell
//! that drives a [`DataCenterCore`] (crate `datacentercore`, which decides
//! everything: notes ordered by the owner's epoch, batches, answers) over
//! the bus and its [`RoutingStore`] (SQLite's `datacenter.db` in the
//! embedded mode, a PostgreSQL database in the distributed mode).
//!
//! The shell feeds the core every request already queued in its inbox (at
//! most [`BATCH_REQUESTS_MAX`] at a time), then carries out its outputs:
//! replies go back over the bus, a batch of records (current servers and
//! summaries) is written on a blocking thread while the next requests
//! queue, so one fsync serves many notes, and the summary pushes are
//! published on each subscriber's summary topic. At start it loads every
//! record, every summary and the transfer table into the core. A transfer override is written the same way, one write at a time
//! (the core decides), and its push published on the transfer topic once
//! durable. The store blocks, so it is only ever called on a blocking
//! thread.
//!
//! [`table`] is the transfer table as the other nodes use it: fetched,
//! recorded by the operator, and followed through the pushes.

pub mod table;

use std::collections::BTreeMap;
use std::sync::Arc;

use bus::{Bus, BusError, Incoming, Replier};
use datacentercore::{
    BatchId, CurrentNote, DataCenterCore, Output, RecordError, RequestId, SummaryRecord,
    TransferWrite,
};
use store::{RoutingError, RoutingStore};
use tokio::task::JoinHandle;

/// Requests handed to the core between two drains of its outputs.
pub const BATCH_REQUESTS_MAX: usize = 512;

/// A running data center node.
pub struct DataCenter {
    task: JoinHandle<()>,
}

impl DataCenter {
    /// Loads every record of `store` (on a blocking thread), binds `name`
    /// on the bus, and serves until the bus unbinds it or the node is
    /// stopped.
    pub async fn start(
        name: &str,
        store: Box<dyn RoutingStore>,
        bus: Arc<dyn Bus>,
    ) -> Result<Self, StartError> {
        let loaded = tokio::task::spawn_blocking(move || {
            let mut store = store;
            let records = store.load();
            let summaries = store.load_summaries();
            let transfers = store.load_transfers();
            (store, records, summaries, transfers)
        })
        .await
        .map_err(|error| RoutingError::Backend(format!("loading the records: {error}")))?;
        let (store, records, summaries, transfers) = loaded;
        let core = DataCenterCore::new(records?)
            .with_summaries(summaries?)
            .with_transfers(transfers?);
        let inbox = bus.bind(name, bus::INBOX_MESSAGES_MAX)?;
        let shell = Shell {
            core,
            bus,
            store: Some(store),
            repliers: BTreeMap::new(),
            next_request: 1,
            writing: None,
        };
        let task = tokio::spawn(shell.serve(inbox));
        Ok(Self { task })
    }

    /// Stops serving.
    pub fn stop(self) {
        self.task.abort();
    }
}

/// Why the data center could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The database could not be opened or read.
    #[error(transparent)]
    Store(#[from] RoutingError),
    /// The name is taken on the bus.
    #[error("bus: {0}")]
    Bus(#[from] BusError),
}

/// What a write gives back: the store, what was written and its answer.
type Written = (Box<dyn RoutingStore>, Wrote, Result<(), RecordError>);

/// What a write was.
enum Wrote {
    /// A batch of current-server notes.
    Batch(BatchId),
    /// A transfer override, as this version of the table.
    Transfer(u64),
}

/// A batch being written on a blocking thread.
type Writing = JoinHandle<Written>;

/// What woke the shell.
enum Wake {
    /// A request arrived (`None`: the bus unbound the node).
    Request(Option<Incoming>),
    /// The batch being written is done.
    Written(Result<Written, tokio::task::JoinError>),
}

/// The core and what the shell holds for it.
struct Shell {
    core: DataCenterCore,
    /// Where summary and transfer pushes are published.
    bus: Arc<dyn Bus>,
    /// The store, while no batch is being written.
    store: Option<Box<dyn RoutingStore>>,
    repliers: BTreeMap<RequestId, Replier>,
    next_request: u64,
    writing: Option<Writing>,
}

impl Shell {
    async fn serve(mut self, mut inbox: bus::Inbox) {
        loop {
            let woken = tokio::select! {
                incoming = inbox.recv() => Wake::Request(incoming),
                written = async { self.writing.as_mut().expect("guarded").await },
                    if self.writing.is_some() => Wake::Written(written),
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
                Wake::Written(Ok((store, wrote, answer))) => {
                    self.writing = None;
                    self.store = Some(store);
                    match wrote {
                        Wrote::Batch(batch) => self.core.handle_record_answer(batch, answer),
                        Wrote::Transfer(version) => {
                            self.core.handle_transfer_answer(version, answer);
                        }
                    }
                }
                Wake::Written(Err(error)) => {
                    tracing::error!(%error, "the data center's store writer failed");
                    break;
                }
            }
            self.carry_out_outputs();
        }
    }

    fn request(&mut self, incoming: Incoming) {
        let request = RequestId(self.next_request);
        self.next_request += 1;
        let (_from, message, replier) = incoming.into_parts();
        self.repliers.insert(request, replier);
        self.core.handle_request(request, message);
    }

    fn carry_out_outputs(&mut self) {
        while let Some(output) = self.core.poll_output() {
            match output {
                Output::Reply { request, message } => {
                    if let Some(replier) = self.repliers.remove(&request) {
                        replier.reply(message);
                    }
                }
                Output::Record {
                    batch,
                    notes,
                    summaries,
                } => self.write(batch, notes, summaries),
                Output::Push { node, message } => {
                    self.bus.publish(&wire::summary_topic(&node), message)
                }
                Output::RecordTransfer(write) => self.write_transfer(write),
                Output::Publish { topic, message } => self.bus.publish(topic, message),
            }
        }
    }

    /// Writes a batch on a blocking thread; the core has at most one write
    /// in flight.
    fn write(&mut self, batch: BatchId, notes: Vec<CurrentNote>, summaries: Vec<SummaryRecord>) {
        self.write_with(Wrote::Batch(batch), move |store| {
            store.record_with_summaries(&notes, &summaries)
        });
    }

    /// Writes a transfer override on a blocking thread.
    fn write_transfer(&mut self, write: TransferWrite) {
        let wrote = Wrote::Transfer(write.version);
        self.write_with(wrote, move |store| store.record_transfer(&write));
    }

    fn write_with(
        &mut self,
        wrote: Wrote,
        write: impl FnOnce(&mut dyn RoutingStore) -> Result<(), RoutingError> + Send + 'static,
    ) {
        let mut store = self.store.take().expect("the core writes one at a time");
        self.writing = Some(tokio::task::spawn_blocking(move || {
            let answer = write(store.as_mut()).map_err(|error| RecordError(error.to_string()));
            (store, wrote, answer)
        }));
    }
}
