//! The protocol core of the data center (seed "Basic support"; DESIGN §8), as
//! a state machine in the shape of quinn-proto: inputs are `handle_*`,
//! outputs are drained with [`DataCenterCore::poll_output`]. It never does
//! I/O, never reads a clock and never draws randomness, so the same code runs
//! in the `datacenter` node (tokio shell over SQLite) and in the simulator.
//! It has no timers, so it has no `poll_timeout`.
//!
//! The core keeps each role's current server in memory, loaded from the
//! store at start, and decides every change:
//!
//! - a `SetCurrent` note from a player's owner carries the owner's epoch; a
//!   note of an older epoch than the recorded one is acknowledged and
//!   ignored (a late logoff never hides a newer arrival), and notes of one
//!   epoch apply in arrival order;
//! - notes are written in batches ([`Output::Record`]): while one batch is
//!   being written, the next notes wait, so one write serves many notes; a
//!   note is acknowledged once its batch is durable, and only then does the
//!   state (and so `GetCurrent`) show it;
//! - `GetCurrent` is answered at once from the recorded state;
//! - player summaries ([`summaries`]): a `SummaryUpdate` from the owner,
//!   ordered by the owner's `(epoch, seq)`, waits for the next batch like a
//!   note; every accepted change of a role's summary (its profile, or where
//!   the player is) gives it the next version, written in the same batch;
//!   once the batch is durable, each change is pushed
//!   ([`Output::Push`]) to every node subscribed to the role, in version
//!   order. `SubscribeSummaries` is answered at once with a snapshot of the
//!   durable summaries, `UnsubscribeSummaries` stops the pushes.
//!
//! It also keeps the transfer table (module `transfers`, DESIGN §7): each
//! override written durably as the next version, then answered and pushed.
//! One write is in flight at a time, a batch of notes or a transfer.
//!
//! The recorded current server is a routing hint; the authoritative answer
//! is the owner in the player's row (DESIGN §7).

mod batch;
pub mod summaries;
mod transfers;

use std::collections::{BTreeMap, VecDeque};

use routing::{RoleId, Router};
use wire::client::ErrorCode;
use wire::node::node_message::Body;
use wire::node::{
    Ack, CurrentAnswer, NodeError, NodeMessage, SetCurrent, Summary, SummaryPush, SummarySnapshot,
};

use summaries::Subscriptions;
pub use summaries::{Profile, ProfileNote, SummaryRecord};

use transfers::{Effect, Transfers};
pub use transfers::{TRANSFERS_WAITING_MAX, TransferWrite};

/// Notes written in one batch (one store transaction), at most.
pub const BATCH_NOTES_MAX: usize = 512;
/// Notes waiting for the batch in flight, at most; a note beyond it is
/// refused `OVERLOADED`.
pub const WAITING_NOTES_MAX: usize = 65_536;
/// Summaries in one push message, at most (a batch's changes for one node
/// are split into messages of at most this many).
pub const PUSH_SUMMARIES_MAX: usize = 128;
/// Outputs queued between two drains, at most; the shell drains after every
/// input, so reaching it means a bug in the shell.
pub const OUTPUTS_MAX: usize = 1 << 20;

/// A request a peer sent to the data center, numbered by the shell.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RequestId(pub u64);

/// A batch of notes being written, numbered by the core.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct BatchId(pub u64);

/// Where a role is now, as recorded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Current {
    /// The server it is on (or was on last).
    pub srvname: String,
    /// Whether it is online there.
    pub online: bool,
    /// The owner's epoch for the role's row when it wrote the note.
    pub epoch: u64,
}

/// One role's record, as the store keeps it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CurrentNote {
    /// The role.
    pub roleid: RoleId,
    /// Where it is.
    pub current: Current,
}

/// A note waiting for a batch: where a player is, or its profile.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Note {
    Current(CurrentNote),
    Profile(ProfileNote),
}

/// What the core asks its shell to do, drained by
/// [`DataCenterCore::poll_output`].
#[derive(Clone, Debug, PartialEq)]
pub enum Output {
    /// Write these records in one transaction (each replaces the role's
    /// record); answer with [`DataCenterCore::handle_record_answer`].
    Record {
        /// Names the answer.
        batch: BatchId,
        /// The current-server records, at most one per role.
        notes: Vec<CurrentNote>,
        /// The summary records, at most one per role.
        summaries: Vec<SummaryRecord>,
    },
    /// Publish `message` (a `SummaryPush`) on node `node`'s summary topic
    /// (`wire::summary_topic`): best effort, a subscriber detects a lost
    /// push by the versions.
    Push {
        /// The subscribing node.
        node: String,
        /// The push.
        message: NodeMessage,
    },
    /// Write this override as the table's new version in one durable
    /// transaction; answer with [`DataCenterCore::handle_transfer_answer`].
    RecordTransfer(TransferWrite),
    /// Publish `message` on bus topic `topic` (a transfer push).
    Publish {
        /// The topic.
        topic: &'static str,
        /// The push.
        message: NodeMessage,
    },
    /// Answer a peer's request.
    Reply {
        /// The request answered.
        request: RequestId,
        /// The answer.
        message: NodeMessage,
    },
}

/// Why a batch could not be written.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("routing store: {0}")]
pub struct RecordError(pub String);

/// The batch being written: the requests it answers, the records that
/// become the state once it is durable, and the changes to push then.
struct Committing {
    batch: BatchId,
    requests: Vec<RequestId>,
    records: BTreeMap<RoleId, Current>,
    summaries: BTreeMap<RoleId, SummaryRecord>,
    changes: Vec<Summary>,
}

/// The data center's protocol core. See the crate docs.
pub struct DataCenterCore {
    current: BTreeMap<RoleId, Current>,
    summaries: BTreeMap<RoleId, SummaryRecord>,
    subscriptions: Subscriptions,
    waiting: VecDeque<(RequestId, Note)>,
    committing: Option<Committing>,
    outputs: VecDeque<Output>,
    next_batch: u64,
    transfers: Transfers,
}

impl DataCenterCore {
    /// A core whose state is `records`, as loaded from the store.
    pub fn new(records: impl IntoIterator<Item = CurrentNote>) -> Self {
        Self {
            current: records
                .into_iter()
                .map(|note| (note.roleid, note.current))
                .collect(),
            summaries: BTreeMap::new(),
            subscriptions: Subscriptions::default(),
            waiting: VecDeque::new(),
            committing: None,
            outputs: VecDeque::new(),
            next_batch: 1,
            transfers: Transfers::default(),
        }
    }

    /// The summary records loaded from the store, added to a new core.
    pub fn with_summaries(mut self, records: impl IntoIterator<Item = SummaryRecord>) -> Self {
        self.summaries = records
            .into_iter()
            .map(|record| (record.roleid, record))
            .collect();
        self
    }

    /// The core with `table`, the transfer table as loaded from the store.
    pub fn with_transfers(mut self, table: Router) -> Self {
        self.transfers = Transfers::new(table);
        self
    }

    /// The durable transfer table.
    pub fn transfers(&self) -> &Router {
        self.transfers.table()
    }

    /// A request from a peer: `SetCurrent` and `SummaryUpdate` wait for
    /// the next batch; `GetCurrent`, the subscriptions and `GetTransfers`
    /// are answered at once; `RecordTransfer` waits for its own write;
    /// anything else is refused.
    pub fn handle_request(&mut self, request: RequestId, message: NodeMessage) {
        let refusal = match message.body {
            Some(Body::SetCurrent(note)) => match current_note(note) {
                Ok(note) => return self.wait(request, Note::Current(note)),
                Err(refusal) => refusal,
            },
            Some(Body::SummaryUpdate(update)) => match summaries::profile_note(update) {
                Ok(note) => return self.wait(request, Note::Profile(note)),
                Err((code, text)) => error(code, text),
            },
            Some(Body::GetCurrent(query)) => match RoleId::from_raw(query.roleid) {
                Ok(roleid) => answer(self.current.get(&roleid)),
                Err(bad) => error(ErrorCode::UnknownRole, bad.to_string()),
            },
            Some(Body::SubscribeSummaries(subscribe)) => {
                self.subscribe(&subscribe.node, &subscribe.roleids)
            }
            Some(Body::UnsubscribeSummaries(unsubscribe)) => {
                match summaries::subscription_request(&unsubscribe.node, &unsubscribe.roleids) {
                    Ok(roleids) => {
                        self.subscriptions.unsubscribe(&unsubscribe.node, &roleids);
                        ack()
                    }
                    Err((code, text)) => error(code, text),
                }
            }
            Some(Body::RecordTransfer(record)) => match self.transfers.request(request, record) {
                Some(refusal) => refusal,
                None => return,
            },
            Some(Body::GetTransfers(_)) => self.transfers.snapshot(),
            _ => error(
                ErrorCode::UnexpectedMessage,
                "the data center does not take this".to_owned(),
            ),
        };
        self.reply(request, refusal);
    }

    /// The store's answer to batch `batch`: once it is durable its notes are
    /// the state and acknowledged; if it failed, its notes are refused
    /// `UNAVAILABLE` and the state is as before. An answer to a batch not in
    /// flight is ignored.
    pub fn handle_record_answer(&mut self, batch: BatchId, answer: Result<(), RecordError>) {
        if self.committing.as_ref().map(|committing| committing.batch) != Some(batch) {
            return;
        }
        let committing = self.committing.take().expect("checked above");
        let message = match answer {
            Ok(()) => {
                self.current.extend(committing.records);
                self.summaries.extend(committing.summaries);
                self.push_changes(committing.changes);
                ack()
            }
            Err(failure) => error(ErrorCode::Unavailable, failure.to_string()),
        };
        for request in committing.requests {
            self.reply(request, message.clone());
        }
    }

    /// Role `roleid`'s summary as recorded (durable), if it has one.
    pub fn summary(&self, roleid: RoleId) -> Option<Summary> {
        self.summary_of(roleid)
    }

    /// The (role, node) subscriptions held.
    pub fn subscriptions(&self) -> usize {
        self.subscriptions.len()
    }

    /// Queues a valid note for the next batch, or refuses it beyond the bound.
    fn wait(&mut self, request: RequestId, note: Note) {
        if self.waiting.len() < WAITING_NOTES_MAX {
            self.waiting.push_back((request, note));
        } else {
            let refusal = error(ErrorCode::Overloaded, "too many notes waiting".to_owned());
            self.reply(request, refusal);
        }
    }

    /// Subscribes `node` to `raw_roleids` and answers the snapshot of those
    /// the data center knows.
    fn subscribe(&mut self, node: &str, raw_roleids: &[u64]) -> NodeMessage {
        let subscribed = summaries::subscription_request(node, raw_roleids).and_then(|roleids| {
            self.subscriptions
                .subscribe(node, &roleids)
                .map(|()| roleids)
        });
        match subscribed {
            Ok(roleids) => {
                let summaries = roleids
                    .into_iter()
                    .filter_map(|roleid| self.summary_of(roleid))
                    .collect();
                message(Body::SummarySnapshot(SummarySnapshot { summaries }))
            }
            Err((code, text)) => error(code, text),
        }
    }

    /// A role's durable summary: its record (version 0 when it has only a
    /// current-server record, from before summaries) and where it is.
    fn summary_of(&self, roleid: RoleId) -> Option<Summary> {
        let current = self.current.get(&roleid);
        match self.summaries.get(&roleid) {
            Some(record) => Some(summaries::wire_summary(record, current)),
            None => current.map(|current| {
                summaries::wire_summary(&SummaryRecord::empty(roleid), Some(current))
            }),
        }
    }

    /// Pushes a durable batch's changes to their subscribers: per node, in
    /// the batch's order (each role's in version order), at most
    /// [`PUSH_SUMMARIES_MAX`] a message.
    fn push_changes(&mut self, changes: Vec<Summary>) {
        let mut by_node: BTreeMap<String, Vec<Summary>> = BTreeMap::new();
        for change in changes {
            let roleid = RoleId::from_raw(change.roleid).expect("a recorded role");
            for node in self.subscriptions.subscribers(roleid) {
                by_node
                    .entry(node.to_owned())
                    .or_default()
                    .push(change.clone());
            }
        }
        for (node, changes) in by_node {
            for chunk in changes.chunks(PUSH_SUMMARIES_MAX) {
                let push = SummaryPush {
                    summaries: chunk.to_vec(),
                };
                let message = message(Body::SummaryPush(push));
                let node = node.clone();
                self.push(Output::Push { node, message });
            }
        }
    }

    /// The store's answer to the transfer write of `version` (see
    /// [`Output::RecordTransfer`]): once durable it is the table's, answered
    /// and pushed; a failure is refused `UNAVAILABLE`.
    pub fn handle_transfer_answer(&mut self, version: u64, answer: Result<(), RecordError>) {
        let mut effects = Vec::new();
        self.transfers.handle_answer(version, answer, &mut effects);
        self.carry_out(effects);
    }

    /// The next output for the shell. When nothing else is queued and no
    /// write is in flight, a waiting transfer is written, else the notes
    /// waiting become the next batch.
    pub fn poll_output(&mut self) -> Option<Output> {
        if self.outputs.is_empty() && self.committing.is_none() && !self.transfers.is_writing() {
            let mut effects = Vec::new();
            let write = self.transfers.start_write(&mut effects);
            self.carry_out(effects);
            match write {
                Some(write) => self.push(Output::RecordTransfer(write)),
                None => self.start_batch(),
            }
        }
        self.outputs.pop_front()
    }

    fn carry_out(&mut self, effects: Vec<Effect>) {
        for effect in effects {
            match effect {
                Effect::Reply(request, message) => self.reply(request, message),
                Effect::Publish(topic, message) => self.push(Output::Publish { topic, message }),
            }
        }
    }

    /// Where `roleid` is, as recorded (durable).
    pub fn current(&self, roleid: RoleId) -> Option<&Current> {
        self.current.get(&roleid)
    }

    /// Every recorded role, ordered by role id.
    pub fn records(&self) -> impl Iterator<Item = (RoleId, &Current)> {
        self.current
            .iter()
            .map(|(roleid, current)| (*roleid, current))
    }

    /// Takes the notes waiting (up to [`BATCH_NOTES_MAX`]) and decides them
    /// against the state (`batch`). A batch whose notes change nothing is
    /// acknowledged at once, with no write, and the next one is taken.
    fn start_batch(&mut self) {
        while !self.waiting.is_empty() {
            let take = self.waiting.len().min(BATCH_NOTES_MAX);
            let notes: Vec<(RequestId, Note)> = self.waiting.drain(..take).collect();
            let decided = batch::decide(&self.current, &self.summaries, notes);
            if decided.records.is_empty() && decided.summaries.is_empty() {
                for request in decided.requests {
                    self.reply(request, ack());
                }
                continue;
            }
            let batch = BatchId(self.next_batch);
            self.next_batch += 1;
            self.push(Output::Record {
                batch,
                notes: batch::current_notes(&decided.records),
                summaries: decided.summaries.values().cloned().collect(),
            });
            self.committing = Some(Committing {
                batch,
                requests: decided.requests,
                records: decided.records,
                summaries: decided.summaries,
                changes: decided.changes,
            });
            return;
        }
    }

    fn reply(&mut self, request: RequestId, message: NodeMessage) {
        self.push(Output::Reply { request, message });
    }

    fn push(&mut self, output: Output) {
        assert!(
            self.outputs.len() < OUTPUTS_MAX,
            "the shell stopped draining outputs"
        );
        self.outputs.push_back(output);
    }
}

fn current_note(note: SetCurrent) -> Result<CurrentNote, NodeMessage> {
    let roleid = RoleId::from_raw(note.roleid)
        .map_err(|bad| error(ErrorCode::UnknownRole, bad.to_string()))?;
    if note.srvname.is_empty() {
        return Err(error(
            ErrorCode::BadArgument,
            "a note names no server".to_owned(),
        ));
    }
    let current = Current {
        srvname: note.srvname,
        online: note.online,
        epoch: note.epoch,
    };
    Ok(CurrentNote { roleid, current })
}

fn answer(current: Option<&Current>) -> NodeMessage {
    let answer = match current {
        Some(current) => CurrentAnswer {
            known: true,
            srvname: current.srvname.clone(),
            online: current.online,
        },
        None => CurrentAnswer::default(),
    };
    message(Body::CurrentAnswer(answer))
}

fn ack() -> NodeMessage {
    message(Body::Ack(Ack {}))
}

fn error(code: ErrorCode, text: String) -> NodeMessage {
    message(Body::Error(NodeError {
        code: code as i32,
        message: text,
    }))
}

fn message(body: Body) -> NodeMessage {
    NodeMessage { body: Some(body) }
}

#[cfg(test)]
mod tests;
