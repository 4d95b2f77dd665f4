//! Hosted players: the copy this node may write and where it stands
//! (loading, serving, crossing away, releasing), its lease (checked before
//! every acknowledgement, dropped by the timer, renewed in one batch per
//! database), logoff and release, and dropping a copy that is no longer the
//! writable one. How a player comes to be hosted is `crossing::target`; its
//! writes go through `write_path`.

use crate::notes::NoteKind;
use routing::RoleId;
use store::{LedgerEntry, OpOutcome, PlayerOp, PlayerRecord, StoreError};
use wire::client::{CrossContext, ErrorCode};
use wire::node::PlayerData;

use crate::core::{GameCore, OpPurpose};
use crate::crossing::Crossing;
use crate::durable::Deferred;
use crate::write_path::WriteKind;
use crate::{Event, SessionId, messages};

/// The one writable copy of a player on this node.
#[derive(Clone, Debug)]
pub(crate) struct WritableCopy {
    pub(crate) data: PlayerData,
    /// The stored `data_version` this copy descends from.
    pub(crate) version: u64,
    pub(crate) epoch: u64,
    /// Database time the lease runs to.
    pub(crate) lease_until_ms: u64,
    /// Ledger lines not yet durable, oldest first.
    pub(crate) ledger: Vec<LedgerEntry>,
    /// Changed since the last write was submitted.
    pub(crate) dirty: bool,
    /// A write (save, handoff or release) is in flight: at most one is.
    pub(crate) writing: bool,
    /// Answers waiting for the next write to commit (`durable`).
    pub(crate) after_durable: Vec<Deferred>,
}

impl WritableCopy {
    /// The copy a successful claim gives.
    pub(crate) fn claimed(record: PlayerRecord) -> Self {
        assert!(record.ownership.epoch > 0, "a claimed row has an epoch");
        Self {
            version: record.data_version,
            epoch: record.ownership.epoch,
            lease_until_ms: record.ownership.lease_until_ms,
            data: record.data,
            ledger: Vec::new(),
            dirty: false,
            writing: false,
            after_durable: Vec::new(),
        }
    }
}

/// Where a hosted player stands.
#[derive(Clone, Debug)]
pub(crate) enum PlayerState {
    /// The claim is in flight; `request_id` is the EnterGame to answer.
    Loading { request_id: u64 },
    /// In the game.
    Serving(WritableCopy),
    /// Frozen, crossing away.
    Crossing(WritableCopy, Crossing),
    /// Logged off; the release is in flight.
    Releasing(WritableCopy),
}

impl PlayerState {
    /// The copy this node may write, while it serves or crosses.
    pub(crate) fn writable_copy(&self) -> Option<&WritableCopy> {
        match self {
            PlayerState::Serving(copy) | PlayerState::Crossing(copy, _) => Some(copy),
            PlayerState::Loading { .. } | PlayerState::Releasing(_) => None,
        }
    }

    /// The copy whose lease this node keeps, renews and checks: serving, or
    /// crossing until the target answered `Prepare`. After that, the row may
    /// already be the target's: the copy stays frozen, is neither renewed
    /// nor served, and the handoff's outcome decides its fate.
    pub(crate) fn leased_copy(&self) -> Option<&WritableCopy> {
        match self {
            PlayerState::Serving(copy) => Some(copy),
            PlayerState::Crossing(copy, crossing) if crossing.is_preparing() => Some(copy),
            PlayerState::Crossing(..) | PlayerState::Loading { .. } | PlayerState::Releasing(_) => {
                None
            }
        }
    }

    /// The player's data and ownership, in any state that has them
    /// (serving, crossing or releasing).
    pub(crate) fn copy(&self) -> Option<&WritableCopy> {
        match self {
            PlayerState::Serving(copy)
            | PlayerState::Crossing(copy, _)
            | PlayerState::Releasing(copy) => Some(copy),
            PlayerState::Loading { .. } => None,
        }
    }

    pub(crate) fn copy_mut(&mut self) -> Option<&mut WritableCopy> {
        match self {
            PlayerState::Serving(copy)
            | PlayerState::Crossing(copy, _)
            | PlayerState::Releasing(copy) => Some(copy),
            PlayerState::Loading { .. } => None,
        }
    }

    /// The crossing, while the player crosses away.
    pub(crate) fn crossing(&self) -> Option<&Crossing> {
        match self {
            PlayerState::Crossing(_, crossing) => Some(crossing),
            _ => None,
        }
    }
}

/// A player hosted here.
#[derive(Clone, Debug)]
pub(crate) struct Hosted {
    /// Distinguishes this hosting from an earlier one of the same role, so a
    /// late store answer never lands on a newer copy.
    pub(crate) generation: u64,
    pub(crate) session: Option<SessionId>,
    pub(crate) state: PlayerState,
    pub(crate) home_srvname: String,
    pub(crate) context: CrossContext,
    pub(crate) by_crossing: bool,
    pub(crate) last_horn_ms: Option<u64>,
}

impl GameCore {
    /// The hosting of `roleid` if it is still generation `generation`.
    pub(crate) fn current(&self, roleid: RoleId, generation: u64) -> Option<&Hosted> {
        self.players
            .get(&roleid)
            .filter(|hosted| hosted.generation == generation)
    }

    /// Whether the serving copy of `roleid` may still act at `now_ms`. Every
    /// path that acknowledges gameplay asks first: if the lease could have
    /// run out and the timer has not fired yet (the node stalled), the player
    /// is dropped and its client kicked `LEASE_LOST`, as the timer would.
    pub(crate) fn lease_holds(&mut self, now_ms: u64, roleid: RoleId) -> bool {
        let lease_until_ms = match self.players_state(roleid) {
            Some(PlayerState::Serving(copy)) => copy.lease_until_ms,
            other => panic!("lease check of {roleid} in state {other:?}"),
        };
        if self.lease_view(lease_until_ms).may_serve(now_ms) {
            return true;
        }
        self.emit(Event::LeaseLost { roleid });
        self.drop_player(roleid, ErrorCode::LeaseLost);
        false
    }

    /// Drops every player whose lease could have expired. A copy whose
    /// handoff is under way is not served and waits for the outcome.
    pub(crate) fn drop_players_past_lease(&mut self, now_ms: u64) {
        let lost: Vec<RoleId> = self
            .players
            .iter()
            .filter_map(|(roleid, hosted)| {
                let copy = hosted.state.leased_copy()?;
                (!self.lease_view(copy.lease_until_ms).may_serve(now_ms)).then_some(*roleid)
            })
            .collect();
        for roleid in lost {
            self.emit(Event::LeaseLost { roleid });
            self.drop_player(roleid, ErrorCode::LeaseLost);
        }
    }

    /// One renewal batch per database for every copy this node keeps a
    /// lease for (not a copy whose handoff is under way).
    pub(crate) fn renew_leases(&mut self) {
        let mut by_db: std::collections::BTreeMap<routing::Srvno, Vec<(RoleId, u64, u64)>> =
            Default::default();
        for (roleid, hosted) in &self.players {
            if let Some(copy) = hosted.state.leased_copy() {
                by_db.entry(self.home_of(*roleid)).or_default().push((
                    *roleid,
                    copy.epoch,
                    hosted.generation,
                ));
            }
        }
        for (srvno, leases) in by_db {
            for chunk in leases.chunks(store::BATCH_OPS_MAX) {
                if !self.ops_room(1) {
                    return; // the rest waits for the next renewal round
                }
                let generations = chunk
                    .iter()
                    .map(|(roleid, _, generation)| (*roleid, *generation))
                    .collect();
                let leases = chunk
                    .iter()
                    .map(|(roleid, epoch, _)| (*roleid, *epoch))
                    .collect();
                let operation = PlayerOp::RenewLeases {
                    owner: self.owner.clone(),
                    leases,
                    lease_ttl_ms: self.config.lease_ttl_ms,
                };
                self.store(OpPurpose::Renew { generations }, srvno, operation);
            }
        }
    }

    /// The renewal batch was answered: each lease runs on, or was refused.
    pub(crate) fn renewed(
        &mut self,
        generations: Vec<(RoleId, u64)>,
        answer: Result<OpOutcome, StoreError>,
    ) {
        let results = match answer {
            Ok(OpOutcome::Renewed(results)) => results,
            Ok(other) => panic!("renew answered with {other:?}"),
            Err(_) => return, // the leases run on; the next batch retries
        };
        assert_eq!(results.len(), generations.len(), "one answer per lease");
        for ((roleid, generation), (answered, result)) in generations.into_iter().zip(results) {
            assert_eq!(roleid, answered, "answers in the order asked");
            if self.current(roleid, generation).is_none() {
                continue;
            }
            match result {
                Ok(lease_until_ms) => {
                    if let Some(copy) = self
                        .players
                        .get_mut(&roleid)
                        .and_then(|hosted| hosted.state.copy_mut())
                    {
                        copy.lease_until_ms = copy.lease_until_ms.max(lease_until_ms);
                    }
                }
                // The row may have gone to the target by this crossing's own
                // handoff: its outcome decides, not the renewal.
                Err(_) if matches!(self.players[&roleid].state, PlayerState::Crossing(..)) => {}
                Err(_) => {
                    self.emit(Event::Fenced { roleid });
                    self.drop_player(roleid, ErrorCode::Fenced);
                }
            }
        }
    }

    /// The player logs off: final save and release.
    pub(crate) fn start_release(&mut self, roleid: RoleId) {
        let hosted = self.players.get_mut(&roleid).expect("caller checked");
        let PlayerState::Serving(copy) = &hosted.state else {
            return; // loading, crossing or releasing: they finish on their own
        };
        let writing = copy.writing;
        hosted.state = PlayerState::Releasing(copy.clone());
        if !writing {
            self.submit_write(roleid, WriteKind::Release);
        }
    }

    /// The release is durable: the player is gone from here; the home
    /// server and the data center are told.
    pub(crate) fn released(&mut self, roleid: RoleId) {
        let hosted = self.players.remove(&roleid).expect("current");
        let epoch = hosted.state.copy().map_or(0, |copy| copy.epoch);
        self.note_level(roleid, &hosted.state);
        self.emit(Event::Released { roleid });
        if hosted.home_srvname != self.config.srvname {
            let left = messages::left(roleid, &self.config.srvname, epoch);
            self.send_note(NoteKind::Whereabouts, roleid, &hosted.home_srvname, left);
        }
        self.set_current(roleid, false, epoch);
    }

    /// Tells the account center the level of `roleid` as this server lets
    /// it go (released, or handed off to a crossing's target), so the next
    /// `LoginOk` lists it; owed until the account center acknowledges it.
    pub(crate) fn note_level(&mut self, roleid: RoleId, state: &PlayerState) {
        let (PlayerState::Releasing(copy) | PlayerState::Crossing(copy, _)) = state else {
            return;
        };
        let note = messages::role_level(roleid, copy.data.level, copy.epoch);
        let account = self.config.account_node.clone();
        let (level, epoch) = (copy.data.level, copy.epoch);
        self.send_note(NoteKind::Level, roleid, &account, note);
        self.note_rank_level(roleid, level, epoch);
    }

    /// Tells the rank server `roleid`'s level, if the zone runs one; owed
    /// until it acknowledges.
    pub(crate) fn note_rank_level(&mut self, roleid: RoleId, level: u32, epoch: u64) {
        let Some(rank) = self.config.rank_node.clone() else {
            return;
        };
        let note = messages::rank_level(roleid, level, epoch);
        self.send_note(NoteKind::RankLevel, roleid, &rank, note);
    }

    /// Tells the data center whether `roleid` is online here, at `epoch`.
    pub(crate) fn set_current(&mut self, roleid: RoleId, online: bool, epoch: u64) {
        let message = messages::set_current(roleid, &self.config.srvname, online, epoch);
        let datacenter = self.config.datacenter_node.clone();
        self.send_note(NoteKind::Current, roleid, &datacenter, message);
    }

    /// Stops hosting `roleid` without a write (fenced, lease lost, or the
    /// outcome could not be learned) and kicks its client.
    pub(crate) fn drop_player(&mut self, roleid: RoleId, code: ErrorCode) {
        let Some(mut hosted) = self.players.remove(&roleid) else {
            return;
        };
        if let Some(copy) = hosted.state.copy_mut() {
            let answers = std::mem::take(&mut copy.after_durable);
            self.abandon_answers(answers);
        }
        self.fence_durable_waiters(roleid);
        if let Some(session) = hosted.session {
            self.kick(session, code, "this server no longer holds the player");
        }
    }
}
