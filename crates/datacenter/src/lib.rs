//! The data center node (seed "Basic support"; DESIGN §8): records where each
//! player is now (`SetCurrent` from the owner) and answers `GetCurrent` (the
//! account center asks it at login). Summaries and their push come later.
//!
//! Requests are applied in batches: while one batch commits on a blocking
//! thread, the next ones queue, so one fsync serves many notes. Each note
//! carries the owner's epoch; an older note never overwrites a newer one. The stored
//! current server is a routing hint; the authoritative answer is the owner
//! in the player's row (DESIGN §7).

use std::path::Path;
use std::sync::{Arc, Mutex};

use bus::{Bus, BusError, Incoming};
use routing::RoleId;
use store_sqlite::{CurrentNote, RoutingError, RoutingStore};
use wire::client::ErrorCode;
use wire::node::node_message::Body;
use wire::node::{CurrentAnswer, NodeMessage};

/// Requests applied in one batch (one transaction).
pub const BATCH_REQUESTS_MAX: usize = 512;

/// A running data center node.
pub struct DataCenter {
    task: tokio::task::JoinHandle<()>,
}

impl DataCenter {
    /// Opens `datacenter.db` under `data_dir`, binds `name` on the bus, and
    /// serves until the bus unbinds it or the node is stopped.
    pub fn start(name: &str, data_dir: &Path, bus: Arc<dyn Bus>) -> Result<Self, StartError> {
        let store = RoutingStore::open(data_dir.join(store_sqlite::ROUTING_DB_FILE))?;
        let inbox = bus.bind(name, bus::INBOX_MESSAGES_MAX)?;
        let task = tokio::spawn(serve(inbox, Arc::new(Mutex::new(store))));
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
    /// The database could not be opened.
    #[error(transparent)]
    Store(#[from] RoutingError),
    /// The name is taken on the bus.
    #[error("bus: {0}")]
    Bus(#[from] BusError),
}

async fn serve(mut inbox: bus::Inbox, store: Arc<Mutex<RoutingStore>>) {
    while let Some(first) = inbox.recv().await {
        let mut batch = vec![first];
        while batch.len() < BATCH_REQUESTS_MAX {
            match inbox.try_recv() {
                Ok(incoming) => batch.push(incoming),
                Err(_) => break,
            }
        }
        let store = store.clone();
        let answered = tokio::task::spawn_blocking(move || answer_batch(&store, batch)).await;
        if let Err(error) = answered {
            tracing::error!(%error, "data center batch failed");
        }
    }
}

/// Records every `SetCurrent` of the batch in one transaction, then answers
/// each request in arrival order.
fn answer_batch(store: &Mutex<RoutingStore>, batch: Vec<Incoming>) {
    let mut store = store
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let notes: Vec<CurrentNote> = batch
        .iter()
        .filter_map(|incoming| current_note(&incoming.message))
        .collect();
    let recorded = store.record(&notes);
    for incoming in batch {
        let answer = match &incoming.message.body {
            Some(Body::SetCurrent(note)) => match (role(note.roleid), &recorded) {
                (Err(refusal), _) => refusal,
                (Ok(_), Ok(())) => bus::ack(),
                (Ok(_), Err(error)) => backend(error.clone()),
            },
            Some(Body::GetCurrent(query)) => current(&store, query.roleid),
            _ => bus::error_reply(
                ErrorCode::UnexpectedMessage,
                "the data center does not take this",
            ),
        };
        incoming.reply(answer);
    }
}

fn current_note(message: &NodeMessage) -> Option<CurrentNote> {
    let Some(Body::SetCurrent(note)) = &message.body else {
        return None;
    };
    let roleid = RoleId::from_raw(note.roleid).ok()?;
    Some(CurrentNote {
        roleid,
        srvname: note.srvname.clone(),
        online: note.online,
        epoch: note.epoch,
    })
}

fn current(store: &RoutingStore, raw_roleid: u64) -> NodeMessage {
    let answer = role(raw_roleid).and_then(|roleid| store.current(roleid).map_err(backend));
    match answer {
        Ok(Some(current)) => {
            let answer = CurrentAnswer {
                known: true,
                srvname: current.srvname,
                online: current.online,
            };
            NodeMessage {
                body: Some(Body::CurrentAnswer(answer)),
            }
        }
        Ok(None) => NodeMessage {
            body: Some(Body::CurrentAnswer(CurrentAnswer::default())),
        },
        Err(refusal) => refusal,
    }
}

fn role(raw: u64) -> Result<RoleId, NodeMessage> {
    RoleId::from_raw(raw)
        .map_err(|error| bus::error_reply(ErrorCode::UnknownRole, error.to_string()))
}

fn backend(error: RoutingError) -> NodeMessage {
    bus::error_reply(ErrorCode::Unavailable, error.to_string())
}
