//! The transfer table as the other nodes use it (DESIGN §7): ask the data
//! center for the table ([`fetch_table`]) or to record an override
//! ([`record_transfer`], the operator's step), and [`TableFollower`], which
//! keeps a node's copy of the table current.
//!
//! A follower subscribes to the push topic first, then loads the table,
//! so no change falls between the two; it serves only once loaded. Pushes
//! arrive at most once: the pure [`Router`] applies the next version, skips
//! an old one and reports a gap, on which the follower loads the table
//! again (at most [`RESYNC_ATTEMPTS_MAX`] tries per gap; the next push
//! tries again). Every change is published to the node on a
//! `tokio::sync::watch` channel.

use std::sync::Arc;
use std::time::Duration;

use bus::{Bus, BusError};
use routing::{PushOutcome, Router, TRANSFERS_TOPIC, Transfer, push_from_wire};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use wire::node::node_message::Body;
use wire::node::{GetTransfers, NodeMessage, RecordTransfer};

/// Tries at loading the table when a node starts, each with the caller's
/// deadline and [`RETRY_PAUSE`] apart (at least 30 s while the data center
/// is not up yet), before the start fails.
pub const LOAD_ATTEMPTS_MAX: u32 = 300;
/// Tries at loading the table again after a gap.
pub const RESYNC_ATTEMPTS_MAX: u32 = 5;
/// Pause between two tries.
pub const RETRY_PAUSE: Duration = Duration::from_millis(100);

/// Why the table could not be had.
#[derive(Debug, thiserror::Error)]
pub enum TableError {
    /// The data center did not answer, or refused.
    #[error("data center: {0}")]
    Bus(#[from] BusError),
    /// It answered something else, or a malformed table.
    #[error("data center answered badly: {0}")]
    BadAnswer(String),
}

/// Who asks the data center, which node it is, and how long each request
/// may take.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Asker {
    /// The asking node's name.
    pub from: String,
    /// The data center's node name.
    pub datacenter: String,
    /// Each request's deadline.
    pub deadline: Duration,
}

impl Asker {
    async fn ask(&self, bus: &dyn Bus, body: Body) -> Result<Option<Body>, BusError> {
        let request = message(body);
        let answer = bus
            .request(&self.from, &self.datacenter, request, self.deadline)
            .await?;
        Ok(answer.body)
    }
}

/// The data center's table.
pub async fn fetch_table(bus: &dyn Bus, asker: &Asker) -> Result<Router, TableError> {
    match asker.ask(bus, Body::GetTransfers(GetTransfers {})).await? {
        Some(Body::TransferTable(table)) => {
            Router::from_table(&table).map_err(|bad| TableError::BadAnswer(bad.to_string()))
        }
        other => Err(TableError::BadAnswer(format!("{other:?}"))),
    }
}

/// Asks the data center to record `transfer` durably; returns the table's
/// version that holds it (recording it again is answered the same way,
/// with no new version).
pub async fn record_transfer(
    bus: &dyn Bus,
    asker: &Asker,
    transfer: Transfer,
) -> Result<u64, TableError> {
    let entry = Some(transfer.to_entry());
    let push = match asker
        .ask(bus, Body::RecordTransfer(RecordTransfer { entry }))
        .await?
    {
        Some(Body::TransferPush(push)) => push,
        other => return Err(TableError::BadAnswer(format!("{other:?}"))),
    };
    match push_from_wire(&push) {
        Ok((version, recorded)) if recorded == transfer => Ok(version),
        other => Err(TableError::BadAnswer(format!("{other:?}"))),
    }
}

/// Keeps a node's copy of the transfer table current. See the module docs.
#[derive(Debug)]
pub struct TableFollower {
    task: JoinHandle<()>,
    table: watch::Receiver<Arc<Router>>,
}

impl TableFollower {
    /// Subscribes, loads the table (at most [`LOAD_ATTEMPTS_MAX`] tries)
    /// and follows the pushes.
    pub async fn start(bus: Arc<dyn Bus>, asker: Asker) -> Result<Self, TableError> {
        let pushes = bus.subscribe(TRANSFERS_TOPIC);
        let table = load(bus.as_ref(), &asker, LOAD_ATTEMPTS_MAX).await?;
        let (sender, receiver) = watch::channel(Arc::new(table.clone()));
        let follow = Follow {
            bus,
            asker,
            table,
            sender,
        };
        let task = tokio::spawn(follow.run(pushes));
        Ok(Self {
            task,
            table: receiver,
        })
    }

    /// The newest table.
    pub fn table(&self) -> Arc<Router> {
        self.table.borrow().clone()
    }

    /// A receiver of every newer table (marked seen up to now).
    pub fn changes(&self) -> watch::Receiver<Arc<Router>> {
        let mut changes = self.table.clone();
        changes.mark_unchanged();
        changes
    }
}

impl Drop for TableFollower {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The follower's task state.
struct Follow {
    bus: Arc<dyn Bus>,
    asker: Asker,
    table: Router,
    sender: watch::Sender<Arc<Router>>,
}

impl Follow {
    async fn run(mut self, mut pushes: bus::Subscription) {
        while let Some(message) = pushes.recv().await {
            let Some(Body::TransferPush(push)) = message.body else {
                continue;
            };
            let Ok((version, transfer)) = push_from_wire(&push) else {
                tracing::warn!(node = %self.asker.from, "a malformed transfer push");
                continue;
            };
            match self.table.handle_push(version, transfer) {
                PushOutcome::Applied => self.publish(),
                PushOutcome::Stale => {}
                PushOutcome::Gap => self.resync().await,
            }
        }
    }

    /// Loads the table again after a gap.
    async fn resync(&mut self) {
        match load(self.bus.as_ref(), &self.asker, RESYNC_ATTEMPTS_MAX).await {
            Ok(snapshot) => {
                if self.table.handle_snapshot(snapshot) {
                    self.publish();
                }
            }
            Err(error) => {
                let node = &self.asker.from;
                tracing::warn!(node, %error, "the transfer table stays behind");
            }
        }
    }

    fn publish(&self) {
        self.sender.send_replace(Arc::new(self.table.clone()));
    }
}

/// The table, in at most `attempts` tries.
async fn load(bus: &dyn Bus, asker: &Asker, attempts: u32) -> Result<Router, TableError> {
    let mut tries = 1;
    loop {
        match fetch_table(bus, asker).await {
            Ok(table) => return Ok(table),
            Err(error) if tries >= attempts => return Err(error),
            Err(_) => tries += 1,
        }
        tokio::time::sleep(RETRY_PAUSE).await;
    }
}

fn message(body: Body) -> NodeMessage {
    NodeMessage { body: Some(body) }
}
