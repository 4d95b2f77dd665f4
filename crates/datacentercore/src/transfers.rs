//! The transfer table's decisions in the data center (DESIGN §7, 转服): the
//! data center keeps the table ([`routing::Router`]), records each override
//! durably before it is answered or pushed, and numbers every change with
//! the next version.
//!
//! - `RecordTransfer{roleid, to, from}` waits its turn (one write at a time,
//!   at most [`TRANSFERS_WAITING_MAX`] waiting), then is decided against the
//!   durable table: the override the table already has is answered with the
//!   table's version and no write (so an operator's rerun is idempotent); a
//!   role whose home is not `from` is refused (`BAD_ARGUMENT`, or
//!   `ALREADY_THERE` when it is at home on `to`); `to == from` is refused at
//!   once; a full table is refused `UNAVAILABLE`. Anything else is written
//!   as the next version ([`crate::Output::RecordTransfer`]).
//! - Once durable the table applies it, the request is answered with the
//!   `TransferPush` of its version and the same push goes to every node
//!   ([`crate::Output::Publish`] on [`routing::TRANSFERS_TOPIC`]); a failed
//!   write is refused `UNAVAILABLE` and changes nothing.
//! - `GetTransfers` is answered at once with the durable table.

use std::collections::VecDeque;

use routing::{Router, TRANSFERS_MAX, TRANSFERS_TOPIC, TableError, Transfer};
use wire::client::ErrorCode;
use wire::node::node_message::Body;
use wire::node::{NodeMessage, RecordTransfer};

use crate::{RecordError, RequestId, error, message};

/// Transfers waiting for the one being written, at most; one beyond it is
/// refused `OVERLOADED` (transfers are operator commands, one at a time).
pub const TRANSFERS_WAITING_MAX: usize = 64;

/// An override being written as `version` of the table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TransferWrite {
    /// The override.
    pub transfer: Transfer,
    /// The table's version once it is durable.
    pub version: u64,
}

/// What the transfer table asks of the core's outputs.
pub(crate) enum Effect {
    /// Answer a request.
    Reply(RequestId, NodeMessage),
    /// Push to every node.
    Publish(&'static str, NodeMessage),
}

/// The table, the transfers waiting and the one being written.
#[derive(Default)]
pub(crate) struct Transfers {
    table: Router,
    waiting: VecDeque<(RequestId, Transfer)>,
    writing: Option<(RequestId, TransferWrite)>,
}

impl Transfers {
    pub(crate) fn new(table: Router) -> Self {
        Self {
            table,
            ..Self::default()
        }
    }

    pub(crate) fn table(&self) -> &Router {
        &self.table
    }

    pub(crate) fn is_writing(&self) -> bool {
        self.writing.is_some()
    }

    /// A `RecordTransfer`: queued, or refused at once (the reply).
    pub(crate) fn request(
        &mut self,
        request: RequestId,
        record: RecordTransfer,
    ) -> Option<NodeMessage> {
        let entry = record.entry.unwrap_or_default();
        let transfer = match Transfer::from_entry(&entry) {
            Ok(transfer) => transfer,
            Err(bad) => return Some(error(ErrorCode::BadArgument, bad.to_string())),
        };
        if transfer.to == transfer.from {
            let text = format!(
                "role {} is already on srvno {}",
                transfer.roleid, transfer.to
            );
            return Some(error(ErrorCode::AlreadyThere, text));
        }
        if self.waiting.len() >= TRANSFERS_WAITING_MAX {
            let text = "too many transfers waiting".to_owned();
            return Some(error(ErrorCode::Overloaded, text));
        }
        self.waiting.push_back((request, transfer));
        None
    }

    /// The durable table as a snapshot.
    pub(crate) fn snapshot(&self) -> NodeMessage {
        message(Body::TransferTable(self.table.to_table()))
    }

    /// Decides the transfers waiting, in order, until one needs a write,
    /// which it returns; the others are answered through `effects`.
    pub(crate) fn start_write(&mut self, effects: &mut Vec<Effect>) -> Option<TransferWrite> {
        assert!(self.writing.is_none(), "one transfer write at a time");
        while let Some((request, transfer)) = self.waiting.pop_front() {
            match self.decide(transfer) {
                Ok(write) => {
                    self.writing = Some((request, write));
                    return Some(write);
                }
                Err(reply) => effects.push(Effect::Reply(request, reply)),
            }
        }
        None
    }

    /// The store's answer to the write of `version` (an answer to no write
    /// in flight is ignored).
    pub(crate) fn handle_answer(
        &mut self,
        version: u64,
        answer: Result<(), RecordError>,
        effects: &mut Vec<Effect>,
    ) {
        let in_flight = self.writing.map(|(_, write)| write.version);
        if in_flight != Some(version) {
            return;
        }
        let (request, write) = self.writing.take().expect("checked above");
        if let Err(failure) = answer {
            let reply = error(ErrorCode::Unavailable, failure.to_string());
            return effects.push(Effect::Reply(request, reply));
        }
        let recorded = self.table.record(write.transfer);
        assert_eq!(recorded, Ok(write.version), "decided against this table");
        let push = message(Body::TransferPush(write.transfer.to_push(write.version)));
        effects.push(Effect::Reply(request, push.clone()));
        effects.push(Effect::Publish(TRANSFERS_TOPIC, push));
    }

    /// The write `transfer` needs, or the reply that settles it now.
    fn decide(&self, transfer: Transfer) -> Result<TransferWrite, NodeMessage> {
        if self.table.transfer_of(transfer.roleid) == Some(&transfer) {
            let push = transfer.to_push(self.table.version());
            return Err(message(Body::TransferPush(push)));
        }
        let home = self.table.home_of(transfer.roleid);
        if home != transfer.from {
            let code = if home == transfer.to {
                ErrorCode::AlreadyThere
            } else {
                ErrorCode::BadArgument
            };
            let text = format!(
                "role {} is at home on srvno {home}, not {}",
                transfer.roleid, transfer.from
            );
            return Err(error(code, text));
        }
        let adds = self.table.transfer_of(transfer.roleid).is_none();
        if adds && self.table.len() >= TRANSFERS_MAX {
            return Err(error(ErrorCode::Unavailable, TableError::Full.to_string()));
        }
        let version = self.table.version() + 1;
        Ok(TransferWrite { transfer, version })
    }
}

#[cfg(test)]
mod tests;
