//! Notes a game server owes its peers about the players it hosts (DESIGN §6,
//! §8, §11): `Arrived` and `Left` to the player's home server (its kuafu
//! mark), `SetCurrent` to the data center (where the player is now),
//! `SummaryUpdate` to the data center (the player's profile),
//! `RoleLevel` to the account center (the level `LoginOk` lists), and
//! `RankUpdate` to the rank server (the player's level on the `level`
//! board, versioned by the row's epoch and the level itself, which only
//! grows within an epoch).
//!
//! A note is sent again until its receiver acknowledges it: a note lost on
//! the bus, cut off by a partition, or refused because the receiver could
//! not write it would otherwise leave the receiver's view stale for good (the
//! simulator's `datacenter-hears-every-owner` found exactly that). Receivers
//! order notes by the row's epoch, so only the newest note of a kind for a
//! role matters: a newer one replaces an older one still owed, and an answer
//! to the older one is ignored. A refusal that retrying cannot change (the
//! receiver does not take the note, or the role is not its own) drops it.

use std::collections::BTreeMap;

use routing::RoleId;
use wire::client::ErrorCode;
use wire::node::NodeMessage;
use wire::node::node_message::Body;

use crate::PeerError;
use crate::core::GameCore;
use crate::peers::CallPurpose;

/// Notes owed at most; beyond it a note is sent once, unowed (the next note
/// of the role, or the receiver's own repair, corrects its view).
pub const NOTES_OWED_MAX: usize = 100_000;

/// What a note tells, for which role: the newest note of a kind replaces
/// the older ones.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum NoteKind {
    /// `Arrived` or `Left`, to the home server.
    Whereabouts,
    /// `SetCurrent`, to the data center.
    Current,
    /// `RoleLevel`, to the account center.
    Level,
    /// `SummaryUpdate`, to the data center.
    Summary,
    /// `RankUpdate` of the `level` board, to the rank server.
    RankLevel,
}

/// Which note: its kind and role.
pub(crate) type NoteKey = (NoteKind, RoleId);

/// A note owed: where it goes, what it says, and which sending of it is the
/// newest (only that one's answer counts).
#[derive(Clone, Debug)]
struct Owed {
    to: String,
    message: NodeMessage,
    sending: u64,
    in_flight: bool,
}

/// The notes this node owes.
#[derive(Clone, Debug, Default)]
pub(crate) struct NoteBook {
    owed: BTreeMap<NoteKey, Owed>,
    next_sending: u64,
}

impl NoteBook {
    /// Notes owed now.
    pub(crate) fn len(&self) -> usize {
        self.owed.len()
    }
}

/// What an answer to a note means.
enum Answered {
    /// The receiver has it.
    Acknowledged,
    /// It may get it next time: send it again.
    Retry,
    /// It will never take it: forget it.
    Refused,
}

impl GameCore {
    /// Sends `message` to `to` as the newest note of `kind` for `roleid`,
    /// owed until `to` acknowledges it.
    pub(crate) fn send_note(
        &mut self,
        kind: NoteKind,
        roleid: RoleId,
        to: &str,
        message: NodeMessage,
    ) {
        let key = (kind, roleid);
        let book = &mut self.notes;
        if book.owed.len() >= NOTES_OWED_MAX && !book.owed.contains_key(&key) {
            return self.notify(to, message);
        }
        book.next_sending += 1;
        let sending = book.next_sending;
        // With no room for another request in flight, the note waits for
        // the next round of re-sending.
        let in_flight = self.calls_room(1);
        let owed = Owed {
            to: to.to_owned(),
            message: message.clone(),
            sending,
            in_flight,
        };
        self.notes.owed.insert(key, owed);
        if in_flight {
            self.request(CallPurpose::Note { key, sending }, to, message);
        }
    }

    /// The receiver answered sending `sending` of note `key`.
    pub(crate) fn note_answered(
        &mut self,
        key: NoteKey,
        sending: u64,
        answer: &Result<NodeMessage, PeerError>,
    ) {
        let Some(owed) = self.notes.owed.get_mut(&key) else {
            return;
        };
        if owed.sending != sending {
            return; // a newer note replaced it
        }
        match classify(answer) {
            Answered::Acknowledged | Answered::Refused => {
                self.notes.owed.remove(&key);
            }
            Answered::Retry => owed.in_flight = false,
        }
        assert!(self.notes.owed.len() <= NOTES_OWED_MAX);
    }

    /// Sends again every owed note whose last sending failed.
    pub(crate) fn resend_notes(&mut self) {
        if self.config.mutations.notes_not_resent {
            return;
        }
        let due: Vec<NoteKey> = self
            .notes
            .owed
            .iter()
            .filter(|(_, owed)| !owed.in_flight)
            .map(|(key, _)| *key)
            .collect();
        for key in due {
            let owed = self.notes.owed.remove(&key).expect("listed");
            self.send_note(key.0, key.1, &owed.to, owed.message);
        }
    }
}

fn classify(answer: &Result<NodeMessage, PeerError>) -> Answered {
    let code = match answer {
        Ok(NodeMessage {
            body: Some(Body::Error(error)),
        }) => ErrorCode::try_from(error.code).unwrap_or(ErrorCode::Unspecified),
        Ok(_) => return Answered::Acknowledged,
        Err(PeerError::Timeout | PeerError::Unreachable) => return Answered::Retry,
        Err(PeerError::Remote(code)) => *code,
    };
    match code {
        ErrorCode::Unavailable | ErrorCode::Overloaded | ErrorCode::ShuttingDown => Answered::Retry,
        _ => Answered::Refused,
    }
}
