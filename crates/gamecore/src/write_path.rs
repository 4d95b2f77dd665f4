//! The write path (DESIGN §5), shared by saves, releases and a crossing's
//! handoff: submit a fenced write carrying everything not yet durable (at
//! most one per player in flight), learn its outcome from the store's
//! answer, or, when the answer was lost, by reading the row back (never by
//! guessing), then go on by kind: a save frees the write slot for a waiting
//! release or handoff, a release ends the hosting, a handoff's outcome goes
//! to its crossing (`crossing::source`). A write refused by the fence drops
//! the player whatever its kind.

use ownership::{Holder, OwnerId, Ownership};
use routing::RoleId;
use store::{FencedWrite, OpOutcome, PlayerOp, StoreError};
use wire::client::ErrorCode;

use crate::Event;
use crate::core::{GameCore, OpPurpose};
use crate::durable::Deferred;
use crate::hosting::PlayerState;
use crate::limits::READ_BACK_ATTEMPTS_MAX;

/// The kind of a fenced write, for reading back an unknown outcome.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum WriteKind {
    /// A save: ownership unchanged.
    Save,
    /// A handoff to this node.
    Handoff(String),
    /// A release at logoff.
    Release,
}

impl WriteKind {
    /// Read-backs tried before an outcome that stays unknown drops the
    /// player: a handoff tries [`READ_BACK_ATTEMPTS_MAX`] times (its player
    /// is frozen and its redirect waits on the outcome); a save or a release
    /// once.
    fn read_backs_max(&self) -> u32 {
        match self {
            WriteKind::Handoff(_) => READ_BACK_ATTEMPTS_MAX,
            WriteKind::Save | WriteKind::Release => 1,
        }
    }
}

/// What a write really did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum WriteOutcome {
    /// It committed.
    Applied,
    /// It did not commit; the writer still holds the row at its epoch.
    NotApplied,
    /// The writer no longer holds the row.
    Fenced,
}

/// Decides a lost-reply write from the row read back (DESIGN §5: read back,
/// never guess): `epoch` and `base_version` are the writer's at submission.
pub(crate) fn resolve_write(
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

/// A write in flight, as its answer and read-back need it.
#[derive(Clone, Debug)]
pub(crate) struct PendingWrite {
    roleid: RoleId,
    generation: u64,
    kind: WriteKind,
    base_version: u64,
    epoch: u64,
    ledger_len: usize,
    /// Read-backs submitted so far.
    read_backs: u32,
    /// Answers sent once this write commits (`durable`).
    answers: Vec<Deferred>,
}

impl GameCore {
    /// Submits a write of `kind` for `roleid` carrying everything not yet
    /// durable. At most one write per player is in flight.
    pub(crate) fn submit_write(&mut self, roleid: RoleId, kind: WriteKind) {
        let owner = self.owner.clone();
        let handoff_ttl_ms = self.config.handoff_ttl_ms;
        let hosted = self.players.get_mut(&roleid).expect("caller checked");
        let generation = hosted.generation;
        let copy = hosted.state.copy_mut().expect("a writable copy");
        assert!(!copy.writing, "one write in flight per player");
        copy.writing = true;
        copy.dirty = false;
        let write = FencedWrite {
            roleid,
            owner,
            epoch: copy.epoch,
            base_version: copy.version,
            data: copy.data.clone(),
            ledger: copy.ledger.clone(),
        };
        let purpose = OpPurpose::Write(PendingWrite {
            roleid,
            generation,
            kind: kind.clone(),
            base_version: copy.version,
            epoch: copy.epoch,
            ledger_len: copy.ledger.len(),
            read_backs: 0,
            answers: std::mem::take(&mut copy.after_durable),
        });
        let operation = match kind {
            WriteKind::Save => PlayerOp::Save(write),
            WriteKind::Release => PlayerOp::Release(write),
            WriteKind::Handoff(to) => PlayerOp::Handoff {
                write,
                to,
                handoff_ttl_ms,
            },
        };
        self.store(purpose, self.home_of(roleid), operation);
    }

    /// The store answered a write at `now_ms`: applied, fenced, or unknown
    /// (read the row back).
    pub(crate) fn written(
        &mut self,
        now_ms: u64,
        write: PendingWrite,
        answer: Result<OpOutcome, StoreError>,
    ) {
        if self.current(write.roleid, write.generation).is_none() {
            return self.abandon_answers(write.answers);
        }
        let outcome = match answer {
            Ok(OpOutcome::Written { data_version, .. }) => {
                assert_eq!(
                    data_version,
                    write.base_version + 1,
                    "a write raises the version by one"
                );
                WriteOutcome::Applied
            }
            Ok(other) => panic!("write answered with {other:?}"),
            Err(StoreError::Refused(_)) => WriteOutcome::Fenced,
            Err(StoreError::LedgerOutOfOrder { .. }) => {
                self.abandon_answers(write.answers);
                return self.drop_player(write.roleid, ErrorCode::Internal);
            }
            Err(_) => return self.read_back(write),
        };
        self.write_resolved(now_ms, write, outcome);
    }

    /// The write's outcome is unknown: read the row's ownership back.
    fn read_back(&mut self, mut write: PendingWrite) {
        let roleid = write.roleid;
        write.read_backs += 1;
        self.store(
            OpPurpose::ReadBack(write),
            self.home_of(roleid),
            PlayerOp::ReadOwnership { roleid },
        );
    }

    /// The row was read back at `now_ms` (or the read failed: read again,
    /// a bounded number of times, then drop the player).
    pub(crate) fn read_back_answered(
        &mut self,
        now_ms: u64,
        write: PendingWrite,
        answer: Result<OpOutcome, StoreError>,
    ) {
        if self.current(write.roleid, write.generation).is_none() {
            return self.abandon_answers(write.answers);
        }
        match answer {
            Ok(OpOutcome::OwnershipRead {
                ownership,
                data_version,
            }) => {
                let outcome = resolve_write(
                    &write.kind,
                    &self.owner,
                    write.epoch,
                    write.base_version,
                    &ownership,
                    data_version,
                );
                self.write_resolved(now_ms, write, outcome);
            }
            Ok(other) => panic!("read back answered with {other:?}"),
            Err(_) if write.read_backs < write.kind.read_backs_max() => self.read_back(write),
            Err(_) => {
                self.abandon_answers(write.answers);
                self.drop_player(write.roleid, ErrorCode::Unavailable);
            }
        }
    }

    /// A write's outcome is known: update the copy and go on by kind.
    fn write_resolved(&mut self, now_ms: u64, mut write: PendingWrite, outcome: WriteOutcome) {
        let roleid = write.roleid;
        let mut answers = std::mem::take(&mut write.answers);
        if outcome == WriteOutcome::Fenced {
            self.abandon_answers(answers);
            self.emit(Event::Fenced { roleid });
            return self.drop_player(roleid, ErrorCode::Fenced);
        }
        let applied = outcome == WriteOutcome::Applied;
        let copy = self
            .players
            .get_mut(&roleid)
            .and_then(|hosted| hosted.state.copy_mut())
            .expect("current");
        copy.writing = false;
        if applied {
            copy.version = write.base_version + 1;
            copy.ledger.drain(..write.ledger_len);
        } else {
            copy.dirty = true;
            copy.after_durable
                .splice(0..0, std::mem::take(&mut answers));
        }
        self.answer_durable_waiters(roleid);
        match write.kind {
            WriteKind::Save => self.write_slot_freed(roleid),
            WriteKind::Release if applied => self.released(roleid),
            WriteKind::Release => self.submit_write(roleid, WriteKind::Release),
            WriteKind::Handoff(_) => self.handed_off(now_ms, roleid, write.epoch, applied),
        }
        self.release_answers(now_ms, roleid, write.generation, answers);
        self.durable_waiters_next(roleid);
    }

    /// After a save, a logoff or a crossing may be waiting for the write
    /// slot, or answers for a save (`durable`).
    fn write_slot_freed(&mut self, roleid: RoleId) {
        match &self.players[&roleid].state {
            PlayerState::Releasing(_) => self.submit_write(roleid, WriteKind::Release),
            PlayerState::Crossing(_, crossing) if crossing.is_handing_off() => {
                self.submit_handoff(roleid)
            }
            PlayerState::Serving(copy) if !copy.after_durable.is_empty() => {
                self.submit_write(roleid, WriteKind::Save)
            }
            _ => {}
        }
    }

    /// Saves every serving player changed since its last write.
    pub(crate) fn save_dirty_players(&mut self) {
        let dirty: Vec<RoleId> = self
            .players
            .iter()
            .filter(|(_, hosted)| {
                matches!(&hosted.state, PlayerState::Serving(copy) if copy.dirty && !copy.writing)
            })
            .map(|(roleid, _)| *roleid)
            .collect();
        for roleid in dirty {
            self.submit_write(roleid, WriteKind::Save);
        }
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

    #[test]
    fn an_unknown_handoff_is_resolved_from_the_row() {
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
            (arriving, WriteOutcome::Applied),
            (still_mine, WriteOutcome::NotApplied),
            (taken, WriteOutcome::Fenced),
        ] {
            assert_eq!(resolve_write(&handoff, &me(), 3, 10, &row, 10), expected);
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
        let (save, release) = (WriteKind::Save, WriteKind::Release);
        for (kind, epoch, row, data_version, expected) in [
            (&save, 3, &mine, 11, WriteOutcome::Applied),
            (&save, 3, &mine, 10, WriteOutcome::NotApplied),
            (&save, 2, &mine, 10, WriteOutcome::Fenced),
            (&release, 3, &free, 11, WriteOutcome::Applied),
            (&release, 3, &mine, 10, WriteOutcome::NotApplied),
        ] {
            let outcome = resolve_write(kind, &me(), epoch, 10, row, data_version);
            assert_eq!(outcome, expected, "{kind:?} at epoch {epoch} over {row:?}");
        }
    }

    #[test]
    fn a_handoff_reads_back_more_often_than_a_save() {
        assert_eq!(
            WriteKind::Handoff("gs2".into()).read_backs_max(),
            READ_BACK_ATTEMPTS_MAX
        );
        assert_eq!(WriteKind::Save.read_backs_max(), 1);
        assert_eq!(WriteKind::Release.read_backs_max(), 1);
    }
}
