//! The source side of a crossing (DESIGN §6), as a state machine with no I/O.
//!
//! freeze → prepare (target holds the token) → hand off (one durable store
//! transaction: final save, owner = target, new epoch) → redirect the client.
//! A handoff whose commit outcome is unknown is resolved by reading the row
//! back, never by guessing. The game core drives it: it performs each
//! [`Step`] and feeds the answer back.

use ownership::{Holder, OwnerId, Ownership};
use wire::client::ErrorCode;

/// Read-backs tried before the source gives up and drops the player.
pub const READ_BACK_ATTEMPTS_MAX: u32 = 3;

/// Where a crossing stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// `Prepare` sent to the target; waiting for its answer.
    Preparing,
    /// Handoff submitted to the store; waiting for the commit.
    HandingOff,
    /// The commit's outcome was unknown; reading the row back.
    ReadingBack {
        /// Read-backs tried so far.
        attempts: u32,
    },
}

/// What the crossing needs done next.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// Submit the handoff (final save + owner = target) to the store.
    SubmitHandoff,
    /// Read the row's ownership back.
    ReadBack,
    /// The handoff is durable: send the redirect, close the client, forget
    /// the player.
    Redirect,
    /// The crossing did not happen: the player stays, unfrozen; tell the
    /// client why.
    Abort(ErrorCode),
    /// This copy is no longer the writable one: drop it and kick the client.
    Drop(ErrorCode),
}

/// The answer to a handoff submission.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HandoffAnswer {
    /// Committed.
    Applied,
    /// Refused by the store's fence: nothing written.
    Refused,
    /// The commit's reply was lost or failed: it may or may not have applied.
    Unknown,
}

/// One player's crossing from this server to `target`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Crossing {
    /// The target server's name.
    pub target: String,
    /// The one-time token the target holds for this crossing.
    pub token: u128,
    /// The client request (GoServer / GoHome) to answer.
    pub request_id: u64,
    /// The epoch this copy held when the crossing began.
    pub epoch: u64,
    /// Where it stands.
    pub phase: Phase,
}

impl Crossing {
    /// Freezes the player and starts the crossing; the caller sends `Prepare`.
    pub fn start(target: String, token: u128, request_id: u64, epoch: u64) -> Self {
        Self {
            target,
            token,
            request_id,
            epoch,
            phase: Phase::Preparing,
        }
    }

    /// The target answered `Prepare`: `Ok` when it holds the token, else the
    /// error to give the client.
    pub fn prepared(&mut self, answer: Result<(), ErrorCode>) -> Step {
        assert_eq!(self.phase, Phase::Preparing);
        match answer {
            Ok(()) => {
                self.phase = Phase::HandingOff;
                Step::SubmitHandoff
            }
            Err(code) => Step::Abort(code),
        }
    }

    /// The store answered the handoff.
    pub fn handed_off(&mut self, answer: HandoffAnswer) -> Step {
        assert_eq!(self.phase, Phase::HandingOff);
        match answer {
            HandoffAnswer::Applied => Step::Redirect,
            HandoffAnswer::Refused => Step::Drop(ErrorCode::Fenced),
            HandoffAnswer::Unknown => {
                self.phase = Phase::ReadingBack { attempts: 1 };
                Step::ReadBack
            }
        }
    }

    /// The outcome of the handoff as read back from the row (`None`: the
    /// read failed too).
    pub fn read_back(&mut self, outcome: Option<WriteOutcome>) -> Step {
        let Phase::ReadingBack { attempts } = self.phase else {
            panic!("read back answered in phase {:?}", self.phase);
        };
        match outcome {
            Some(WriteOutcome::Applied) => Step::Redirect,
            Some(WriteOutcome::NotApplied) => Step::Abort(ErrorCode::Unavailable),
            Some(WriteOutcome::Fenced) => Step::Drop(ErrorCode::Fenced),
            None if attempts >= READ_BACK_ATTEMPTS_MAX => Step::Drop(ErrorCode::Unavailable),
            None => {
                self.phase = Phase::ReadingBack {
                    attempts: attempts + 1,
                };
                Step::ReadBack
            }
        }
    }
}

/// The kind of a fenced write, for reading back an unknown outcome.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WriteKind {
    /// A save: ownership unchanged.
    Save,
    /// A handoff to this node.
    Handoff(String),
    /// A release at logoff.
    Release,
}

/// What a write whose commit reply was lost really did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WriteOutcome {
    /// It committed.
    Applied,
    /// It did not commit; the writer still holds the row at its epoch.
    NotApplied,
    /// The writer no longer holds the row.
    Fenced,
}

/// Decides a lost-reply write from the row read back (DESIGN §5: read back,
/// never guess): `epoch` and `base_version` are the writer's at submission.
pub fn resolve_write(
    kind: &WriteKind,
    me: &OwnerId,
    epoch: u64,
    base_version: u64,
    row: &Ownership,
    data_version: u64,
) -> WriteOutcome {
    let still_mine =
        matches!(&row.holder, Holder::Held(owner) if owner == me) && row.epoch == epoch;
    let applied = match kind {
        WriteKind::Save => still_mine && data_version == base_version + 1,
        WriteKind::Handoff(target) => {
            matches!(&row.holder, Holder::Arriving(node) if node == target)
                && row.epoch == epoch + 1
        }
        WriteKind::Release => {
            row.holder == Holder::Free && row.epoch == epoch && data_version == base_version + 1
        }
    };
    if applied {
        WriteOutcome::Applied
    } else if still_mine && data_version == base_version {
        WriteOutcome::NotApplied
    } else {
        WriteOutcome::Fenced
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn me() -> OwnerId {
        OwnerId {
            node: "gs1".into(),
            incarnation: 1,
        }
    }

    fn crossing() -> Crossing {
        Crossing::start("gs2".into(), 99, 5, 3)
    }

    #[test]
    fn the_happy_path_redirects_only_after_the_commit() {
        let mut crossing = crossing();
        assert_eq!(crossing.prepared(Ok(())), Step::SubmitHandoff);
        assert_eq!(crossing.handed_off(HandoffAnswer::Applied), Step::Redirect);
    }

    #[test]
    fn a_refused_prepare_aborts_and_a_fenced_handoff_drops() {
        assert_eq!(
            crossing().prepared(Err(ErrorCode::ServerDown)),
            Step::Abort(ErrorCode::ServerDown)
        );
        let mut crossing = crossing();
        crossing.prepared(Ok(()));
        assert_eq!(
            crossing.handed_off(HandoffAnswer::Refused),
            Step::Drop(ErrorCode::Fenced)
        );
    }

    #[test]
    fn an_unknown_commit_is_resolved_by_reading_back() {
        let arriving = Ownership {
            holder: Holder::Arriving("gs2".into()),
            epoch: 4,
            lease_until_ms: 9,
        };
        let still_mine = Ownership {
            holder: Holder::Held(me()),
            epoch: 3,
            lease_until_ms: 9,
        };
        let other = OwnerId {
            node: "gs3".into(),
            incarnation: 2,
        };
        let taken = Ownership {
            holder: Holder::Held(other),
            epoch: 5,
            lease_until_ms: 9,
        };
        let handoff = WriteKind::Handoff("gs2".into());
        for (row, expected) in [
            (arriving, Step::Redirect),
            (still_mine, Step::Abort(ErrorCode::Unavailable)),
            (taken, Step::Drop(ErrorCode::Fenced)),
        ] {
            let mut crossing = crossing();
            crossing.prepared(Ok(()));
            assert_eq!(crossing.handed_off(HandoffAnswer::Unknown), Step::ReadBack);
            let outcome = resolve_write(&handoff, &me(), 3, 10, &row, 10);
            assert_eq!(crossing.read_back(Some(outcome)), expected);
        }
    }

    #[test]
    fn saves_and_releases_are_resolved_by_version_and_holder() {
        let mine = Ownership {
            holder: Holder::Held(me()),
            epoch: 3,
            lease_until_ms: 9,
        };
        let free = Ownership {
            holder: Holder::Free,
            epoch: 3,
            lease_until_ms: 0,
        };
        assert_eq!(
            resolve_write(&WriteKind::Save, &me(), 3, 10, &mine, 11),
            WriteOutcome::Applied
        );
        assert_eq!(
            resolve_write(&WriteKind::Save, &me(), 3, 10, &mine, 10),
            WriteOutcome::NotApplied
        );
        assert_eq!(
            resolve_write(&WriteKind::Save, &me(), 2, 10, &mine, 10),
            WriteOutcome::Fenced
        );
        assert_eq!(
            resolve_write(&WriteKind::Release, &me(), 3, 10, &free, 11),
            WriteOutcome::Applied
        );
        assert_eq!(
            resolve_write(&WriteKind::Release, &me(), 3, 10, &mine, 10),
            WriteOutcome::NotApplied
        );
    }

    #[test]
    fn failed_read_backs_are_retried_a_bounded_number_of_times() {
        let mut crossing = crossing();
        crossing.prepared(Ok(()));
        crossing.handed_off(HandoffAnswer::Unknown);
        for _ in 1..READ_BACK_ATTEMPTS_MAX {
            assert_eq!(crossing.read_back(None), Step::ReadBack);
        }
        assert_eq!(crossing.read_back(None), Step::Drop(ErrorCode::Unavailable));
    }
}
