//! [`RankCore`]: the rank server's protocol core, quinn-style: requests in
//! through [`RankCore::handle_request`], the store's answers through
//! [`RankCore::handle_write_answer`], outputs out of
//! [`RankCore::poll_output`]. No timers: a periodic snapshot is a
//! `TakeRankSnapshot` the shell sends on its own schedule.
//!
//! - Updates wait for the next batch; while one batch is written the next
//!   requests queue, so one durable write serves many updates (group
//!   commit). A role's update is decided against the newest entry, durable
//!   or earlier in the batch ([`Entry::successor`]); an update that changes
//!   nothing is acknowledged without a write.
//! - An update is acknowledged once its batch is durable, and only then do
//!   queries see it; a failed batch is refused `UNAVAILABLE` and the boards
//!   stay as they were.
//! - A snapshot request is a batch of its own, taken when every request
//!   queued before it is durable: it holds every update acknowledged before
//!   it was asked for. It is readable once durable.
//! - Queries are answered at once from the durable state.

use std::collections::{BTreeMap, VecDeque};

use routing::RoleId;
use wire::client::ErrorCode;
use wire::node::NodeMessage;
use wire::node::node_message::Body;

use crate::board::{Board, BoardError, Entry, Snapshot, Update, View};
use crate::limits::{BATCH_UPDATES_MAX, BOARDS_MAX, OUTPUTS_MAX, WAITING_REQUESTS_MAX};
use crate::messages;

/// A request a peer sent, numbered by the shell.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RequestId(pub u64);

/// A batch being written, numbered by the core.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct BatchId(pub u64);

/// A role's entry on a named board, as the store keeps it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BoardEntry {
    /// The board.
    pub board: String,
    /// The entry.
    pub entry: Entry,
}

/// A board's latest snapshot, as the store keeps it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BoardSnapshot {
    /// The board.
    pub board: String,
    /// The snapshot.
    pub snapshot: Snapshot,
}

/// One durable write: entries replacing their roles' entries, and
/// snapshots replacing their boards' snapshots.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RankWrite {
    /// At most one per board and role.
    pub entries: Vec<BoardEntry>,
    /// At most one per board.
    pub snapshots: Vec<BoardSnapshot>,
}

/// Everything the store holds: the core's state at start.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RankState {
    /// Every entry.
    pub entries: Vec<BoardEntry>,
    /// Each board's latest snapshot.
    pub snapshots: Vec<BoardSnapshot>,
}

/// What the core asks its shell to do.
#[derive(Clone, Debug, PartialEq)]
pub enum Output {
    /// Write this in one durable transaction; answer with
    /// [`RankCore::handle_write_answer`].
    Write {
        /// Names the answer.
        batch: BatchId,
        /// What to write.
        write: RankWrite,
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
#[error("rank store: {0}")]
pub struct WriteError(pub String);

/// Why stored state could not be loaded.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("stored board {board}: {error}")]
pub struct LoadError {
    /// The board.
    pub board: String,
    /// What is wrong with it.
    pub error: BoardError,
}

/// A request waiting for a batch.
enum Waiting {
    Update { board: String, update: Update },
    Snapshot { board: String },
}

/// One board: the live ranking and its latest durable snapshot.
#[derive(Default)]
struct Ranking {
    board: Board,
    snapshot: Option<Snapshot>,
}

/// The batch being written and what it answers.
struct Committing {
    batch: BatchId,
    write: RankWrite,
    replies: Vec<(RequestId, NodeMessage)>,
}

/// What one batch of updates decided so far.
#[derive(Default)]
struct Decisions {
    /// The newest entry of each board and role.
    entries: BTreeMap<(String, RoleId), Entry>,
    /// Per board: what the batch adds to it.
    changes: BTreeMap<String, BoardChanges>,
}

/// What one batch does to one board.
#[derive(Default)]
struct BoardChanges {
    /// Entries decided (each takes the next arrival number).
    made: u64,
    /// Roles not on the board before.
    new_roles: usize,
}

/// The rank server's protocol core. See the module docs.
pub struct RankCore {
    rankings: BTreeMap<String, Ranking>,
    waiting: VecDeque<(RequestId, Waiting)>,
    committing: Option<Committing>,
    outputs: VecDeque<Output>,
    next_batch: u64,
}

impl RankCore {
    /// A core whose state is `state`, as loaded from the store.
    pub fn new(state: RankState) -> Result<Self, LoadError> {
        let mut rankings: BTreeMap<String, Ranking> = BTreeMap::new();
        for BoardEntry { board, entry } in state.entries {
            let ranking = rankings.entry(board.clone()).or_default();
            ranking
                .board
                .apply(entry)
                .map_err(|error| LoadError { board, error })?;
        }
        for BoardSnapshot { board, snapshot } in state.snapshots {
            rankings.entry(board).or_default().snapshot = Some(snapshot);
        }
        Ok(Self {
            rankings,
            waiting: VecDeque::new(),
            committing: None,
            outputs: VecDeque::new(),
            next_batch: 1,
        })
    }

    /// A request from a peer: updates and snapshots wait for a batch,
    /// queries are answered at once, anything else is refused.
    pub fn handle_request(&mut self, request: RequestId, message: NodeMessage) {
        let queued =
            match message.body {
                Some(Body::RankUpdate(update)) => messages::update(update)
                    .and_then(|(board, update)| self.board_for_update(board, update)),
                Some(Body::TakeRankSnapshot(take)) => messages::board_name(take.board)
                    .and_then(|board| self.known_board(board))
                    .map(|board| Waiting::Snapshot { board }),
                Some(Body::RankQuery(query)) => Err(messages::query(query)
                    .map_or_else(|refusal| refusal, |query| self.answer(&query))),
                _ => Err(messages::error(
                    ErrorCode::UnexpectedMessage,
                    "the rank server does not take this".to_owned(),
                )),
            };
        match queued {
            Ok(_) if self.waiting.len() >= WAITING_REQUESTS_MAX => self.reply(
                request,
                messages::error(
                    ErrorCode::Overloaded,
                    "too many requests waiting".to_owned(),
                ),
            ),
            Ok(waiting) => self.waiting.push_back((request, waiting)),
            Err(answer) => self.reply(request, answer),
        }
    }
}

impl RankCore {
    /// The store's answer to batch `batch`: once durable, its entries and
    /// snapshots are the state and its requests are answered; if it failed,
    /// its requests are refused `UNAVAILABLE` and the state is as before.
    /// An answer to a batch not in flight is ignored.
    pub fn handle_write_answer(&mut self, batch: BatchId, answer: Result<(), WriteError>) {
        if self.committing.as_ref().map(|committing| committing.batch) != Some(batch) {
            return;
        }
        let committing = self.committing.take().expect("checked above");
        if let Err(failure) = answer {
            let refusal = messages::error(ErrorCode::Unavailable, failure.to_string());
            for (request, _) in committing.replies {
                self.reply(request, refusal.clone());
            }
            return;
        }
        for BoardEntry { board, entry } in committing.write.entries {
            let ranking = self.rankings.entry(board).or_default();
            ranking
                .board
                .apply(entry)
                .expect("the batch was decided against the board's room");
        }
        for BoardSnapshot { board, snapshot } in committing.write.snapshots {
            self.rankings.entry(board).or_default().snapshot = Some(snapshot);
        }
        for (request, message) in committing.replies {
            self.reply(request, message);
        }
    }

    /// The next output. When nothing else is queued and no batch is in
    /// flight, the requests waiting become the next batch.
    pub fn poll_output(&mut self) -> Option<Output> {
        if self.outputs.is_empty() && self.committing.is_none() {
            self.start_batch();
        }
        self.outputs.pop_front()
    }

    /// The names of every board, in order.
    pub fn boards(&self) -> impl Iterator<Item = &str> {
        self.rankings.keys().map(String::as_str)
    }

    /// The board an update goes to: a new board is made while there are
    /// fewer than [`BOARDS_MAX`].
    fn board_for_update(&mut self, board: String, update: Update) -> Result<Waiting, NodeMessage> {
        if !self.rankings.contains_key(&board) {
            if self.rankings.len() >= BOARDS_MAX {
                return Err(messages::error(
                    ErrorCode::BadArgument,
                    format!("the zone has {BOARDS_MAX} boards already"),
                ));
            }
            self.rankings.insert(board.clone(), Ranking::default());
        }
        Ok(Waiting::Update { board, update })
    }

    fn known_board(&self, board: String) -> Result<String, NodeMessage> {
        if self.rankings.contains_key(&board) {
            Ok(board)
        } else {
            Err(messages::error(
                ErrorCode::BadArgument,
                format!("no board named {board}"),
            ))
        }
    }

    /// A query's answer, from the durable state; a board nobody ranked on
    /// (or with no snapshot yet) reads as empty.
    fn answer(&self, query: &messages::Query) -> NodeMessage {
        let ranking = self.rankings.get(&query.board);
        if query.snapshot {
            let snapshot = ranking.and_then(|ranking| ranking.snapshot.as_ref());
            return match snapshot {
                Some(snapshot) => {
                    messages::page(snapshot.page(query.window, query.asker), snapshot.number())
                }
                None => messages::page(Board::default().page(query.window, query.asker), 0),
            };
        }
        let empty = Board::default();
        let board = ranking.map_or(&empty, |ranking| &ranking.board);
        messages::page(board.page(query.window, query.asker), 0)
    }

    /// Takes the requests waiting: the snapshots at the head of the queue
    /// (one batch of their own), or else updates up to the next snapshot
    /// request or [`BATCH_UPDATES_MAX`]. A batch that writes nothing is
    /// answered at once and the next one is taken.
    fn start_batch(&mut self) {
        while !self.waiting.is_empty() {
            let mut batch = Committing {
                batch: BatchId(self.next_batch),
                write: RankWrite::default(),
                replies: Vec::new(),
            };
            if matches!(self.waiting.front(), Some((_, Waiting::Snapshot { .. }))) {
                self.take_snapshots(&mut batch);
            } else {
                self.take_updates(&mut batch);
            }
            if batch.write.entries.is_empty() && batch.write.snapshots.is_empty() {
                for (request, message) in batch.replies {
                    self.reply(request, message);
                }
                continue;
            }
            self.next_batch += 1;
            self.push(Output::Write {
                batch: batch.batch,
                write: batch.write.clone(),
            });
            self.committing = Some(batch);
            return;
        }
    }

    fn take_snapshots(&mut self, batch: &mut Committing) {
        let mut numbers: BTreeMap<String, u64> = BTreeMap::new();
        while let Some((_, Waiting::Snapshot { .. })) = self.waiting.front() {
            let Some((request, Waiting::Snapshot { board })) = self.waiting.pop_front() else {
                unreachable!("matched above");
            };
            let number = *numbers.entry(board.clone()).or_insert_with(|| {
                let ranking = &self.rankings[&board];
                let number = ranking.snapshot.as_ref().map_or(0, Snapshot::number) + 1;
                let snapshot = ranking.board.snapshot(number);
                batch.write.snapshots.push(BoardSnapshot {
                    board: board.clone(),
                    snapshot,
                });
                number
            });
            batch
                .replies
                .push((request, messages::snapshot_taken(number)));
        }
    }

    fn take_updates(&mut self, batch: &mut Committing) {
        let mut decisions = Decisions::default();
        let mut taken = 0;
        while taken < BATCH_UPDATES_MAX {
            let Some((_, Waiting::Update { .. })) = self.waiting.front() else {
                break;
            };
            let Some((request, Waiting::Update { board, update })) = self.waiting.pop_front()
            else {
                unreachable!("matched above");
            };
            taken += 1;
            let reply = self.decide(&mut decisions, board, update);
            batch.replies.push((request, reply));
        }
        batch.write.entries = decisions
            .entries
            .into_iter()
            .map(|((board, _), entry)| BoardEntry { board, entry })
            .collect();
    }

    /// Decides one update against the newest entry of its role (earlier in
    /// this batch, or durable): the reply it gets once the batch is durable.
    fn decide(&self, decisions: &mut Decisions, board: String, update: Update) -> NodeMessage {
        let live = &self.rankings[&board].board;
        let changes = decisions.changes.entry(board.clone()).or_default();
        let key = (board, update.roleid);
        let current = decisions
            .entries
            .get(&key)
            .or_else(|| live.entry(update.roleid));
        let is_new = current.is_none();
        let arrival = live.next_arrival() + changes.made;
        let Some(entry) = Entry::successor(current, &update, arrival) else {
            return messages::ack();
        };
        if is_new {
            if !live.has_room_for(changes.new_roles + 1) {
                return messages::error(ErrorCode::Overloaded, BoardError::Full.to_string());
            }
            changes.new_roles += 1;
        }
        changes.made += 1;
        decisions.entries.insert(key, entry);
        messages::ack()
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
