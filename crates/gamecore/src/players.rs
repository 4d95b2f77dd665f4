//! Hosted players: claim and load, serve, save, renew, release, drop, and the
//! crossing steps that touch the store; plus the answers of the store.

use ownership::Refused;
use routing::RoleId;
use store::{FencedWrite, LedgerEntry, OpOutcome, PlayerOp, PlayerRecord, StoreError};
use wire::client::server_frame::Body;
use wire::client::{CrossContext, Entered, ErrorCode, Kicked, Redirect};
use wire::node::PlayerData;

use crate::core::{Auth, GameCore};
use crate::crossing::{
    Crossing, HandoffAnswer, Phase, Step, WriteKind, WriteOutcome, resolve_write,
};
use crate::tokens::token_to_bytes;
use crate::{Event, OpId, Output, SessionId, frame, gameplay, peers};

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
}

impl WritableCopy {
    /// The copy a successful claim gives.
    fn claimed(record: PlayerRecord) -> Self {
        assert!(record.ownership.epoch > 0, "a claimed row has an epoch");
        Self {
            version: record.data_version,
            epoch: record.ownership.epoch,
            lease_until_ms: record.ownership.lease_until_ms,
            data: record.data,
            ledger: Vec::new(),
            dirty: false,
            writing: false,
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
    /// crossing until its handoff is submitted. Once it is, the row may
    /// already be the target's: the copy stays frozen, is neither renewed
    /// nor served, and the handoff's answer (or read-back) decides its fate.
    pub(crate) fn leased_copy(&self) -> Option<&WritableCopy> {
        match self {
            PlayerState::Serving(copy) => Some(copy),
            PlayerState::Crossing(copy, crossing) if crossing.phase == Phase::Preparing => {
                Some(copy)
            }
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

    /// The epoch of the copy, in any state that has one.
    fn writable_or_releasing_epoch(&self) -> u64 {
        self.copy().map_or(0, |copy| copy.epoch)
    }

    fn copy_mut(&mut self) -> Option<&mut WritableCopy> {
        match self {
            PlayerState::Serving(copy)
            | PlayerState::Crossing(copy, _)
            | PlayerState::Releasing(copy) => Some(copy),
            PlayerState::Loading { .. } => None,
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

/// What a store operation in flight is for.
#[derive(Clone, Debug)]
pub(crate) enum OpPurpose {
    CreateRole { session: SessionId, request_id: u64 },
    ListRoles { session: SessionId, request_id: u64 },
    Claim { roleid: RoleId, generation: u64 },
    Write(PendingWrite),
    ReadBack(PendingWrite),
    Renew { generations: Vec<(RoleId, u64)> },
    MarksPage(crate::home::MarksPage),
    MarkRead { roleid: RoleId },
}

/// What a peer request in flight is for.
#[derive(Clone, Debug)]
pub(crate) enum CallPurpose {
    /// Fire and forget (notifications to the home server or data center).
    Notify,
    Prepare {
        roleid: RoleId,
        generation: u64,
    },
    Heartbeat {
        roleid: RoleId,
        srvname: String,
    },
    RoleCreated {
        session: SessionId,
        request_id: u64,
        role: wire::client::RoleSummary,
    },
    Fight(crate::client::Fight),
}

impl GameCore {
    /// Starts entering `roleid` for `session`: a claim on the role's home DB.
    pub(crate) fn start_enter(&mut self, session: SessionId, request_id: u64, roleid: RoleId) {
        let Some(home_srvname) = self.config.zone.home_srvname(roleid).map(str::to_owned) else {
            return self.reply_error(
                session,
                request_id,
                ErrorCode::UnknownRole,
                "no server holds this srvno",
            );
        };
        if self.players.len() >= self.config.players_max {
            return self.reply_error(session, request_id, ErrorCode::Overloaded, "server full");
        }
        let (context, by_crossing) = match &self.sessions[&session].auth {
            Auth::Crossing(_, crate::tokens::Grant::Crossing { context, .. }) => (*context, true),
            _ => (self.home_context(), false),
        };
        let generation = self.next_generation();
        let hosted = Hosted {
            generation,
            session: Some(session),
            state: PlayerState::Loading { request_id },
            home_srvname,
            context,
            by_crossing,
            last_horn_ms: None,
        };
        self.players.insert(roleid, hosted);
        self.sessions
            .get_mut(&session)
            .expect("caller checked")
            .roleid = Some(roleid);
        let operation = PlayerOp::Claim {
            roleid,
            owner: self.owner.clone(),
            lease_ttl_ms: self.config.lease_ttl_ms,
        };
        self.store(
            OpPurpose::Claim { roleid, generation },
            roleid.home_srvno(),
            operation,
        );
    }

    /// The context a home server gives its own players.
    pub(crate) fn home_context(&self) -> CrossContext {
        CrossContext {
            home_server_level: self.config.server_level,
        }
    }

    /// Handles the store's answer to operation `op`, at `now_ms` (own
    /// clock). Whatever the answer lets the core tell a client that its
    /// player is served here (`Entered` after a claim, a crossing aborted
    /// after its handoff did not apply) is said only while the lease still
    /// allows it at `now_ms`: an answer handled after a stall may come after
    /// the lease could have run out. A redirect needs no lease: it follows a
    /// durable handoff, and the row is the target's.
    pub fn handle_store_answer(
        &mut self,
        now_ms: u64,
        op: OpId,
        answer: Result<OpOutcome, StoreError>,
    ) {
        let Some(purpose) = self.ops.remove(&op) else {
            return; // answered twice (a duplicated reply): the first one counted
        };
        match purpose {
            OpPurpose::CreateRole {
                session,
                request_id,
            } => self.role_created(session, request_id, answer),
            OpPurpose::ListRoles {
                session,
                request_id,
            } => self.roles_listed(session, request_id, answer),
            OpPurpose::Claim { roleid, generation } => {
                self.claimed(now_ms, roleid, generation, answer)
            }
            OpPurpose::Write(write) => self.written(now_ms, write, answer),
            OpPurpose::ReadBack(write) => self.read_back(now_ms, write, answer),
            OpPurpose::Renew { generations } => self.renewed(generations, answer),
            OpPurpose::MarksPage(page) => self.marks_page_read(page, answer),
            OpPurpose::MarkRead { roleid } => self.mark_row_read(roleid, answer),
        }
    }

    fn claimed(
        &mut self,
        now_ms: u64,
        roleid: RoleId,
        generation: u64,
        answer: Result<OpOutcome, StoreError>,
    ) {
        let Some(hosted) = self.current(roleid, generation) else {
            return self.release_orphan_claim(roleid, answer);
        };
        let PlayerState::Loading { request_id } = hosted.state else {
            panic!("claim answered for {roleid} in state {:?}", hosted.state);
        };
        let session = hosted.session;
        let record = match answer {
            Ok(OpOutcome::Claimed(record)) => record,
            Ok(other) => panic!("claim answered with {other:?}"),
            Err(error) => return self.enter_failed(roleid, session, request_id, &error),
        };
        let account_id = record.data.account_id;
        let Some(session) =
            session.filter(|session| self.session_may_play(*session, roleid, account_id))
        else {
            return self.hold_then_release(roleid, record, session, request_id);
        };
        self.enter_claimed(now_ms, roleid, session, request_id, record);
    }

    /// Serves the claimed copy and answers `Entered`, if the lease the claim
    /// gave still allows it at `now_ms`.
    fn enter_claimed(
        &mut self,
        now_ms: u64,
        roleid: RoleId,
        session: SessionId,
        request_id: u64,
        record: PlayerRecord,
    ) {
        let copy = WritableCopy::claimed(record);
        let hosted = self.players.get_mut(&roleid).expect("checked by caller");
        let entered = Entered {
            player: Some(gameplay::view(&copy.data)),
            srvname: self.config.srvname.clone(),
            home_srvname: hosted.home_srvname.clone(),
            context: Some(hosted.context),
        };
        let by_crossing = hosted.by_crossing;
        let home_srvname = hosted.home_srvname.clone();
        let epoch = copy.epoch;
        hosted.state = PlayerState::Serving(copy);
        if !self.lease_holds(now_ms, roleid) {
            return;
        }
        self.push(Output::Send {
            session,
            frame: frame(request_id, Body::Entered(entered)),
        });
        self.emit(Event::Entered {
            roleid,
            by_crossing,
        });
        self.announce_arrival(roleid, &home_srvname, epoch);
    }

    /// Tells the home server (marks) and the data center (current server).
    fn announce_arrival(&mut self, roleid: RoleId, home_srvname: &str, epoch: u64) {
        if home_srvname == self.config.srvname {
            self.marks.at_home(roleid, epoch);
        } else {
            let arrived = peers::arrived(roleid, &self.config.srvname, epoch);
            self.request(CallPurpose::Notify, home_srvname, arrived);
        }
        self.set_current(roleid, true, epoch);
    }

    pub(crate) fn set_current(&mut self, roleid: RoleId, online: bool, epoch: u64) {
        let message = peers::set_current(roleid, &self.config.srvname, online, epoch);
        let datacenter = self.config.datacenter_node.clone();
        self.request(CallPurpose::Notify, &datacenter, message);
    }

    /// Whether `session` may play `roleid`, a role of `account_id`: it logged
    /// in as that account, or holds a crossing token for that role.
    pub(crate) fn session_may_play(
        &self,
        session: SessionId,
        roleid: RoleId,
        account_id: u64,
    ) -> bool {
        match self.sessions.get(&session).map(|session| &session.auth) {
            Some(Auth::Account(logged_in)) => *logged_in == account_id,
            Some(Auth::Crossing(admitted, _)) => *admitted == roleid,
            Some(Auth::Anonymous) | None => false,
        }
    }

    /// The claim succeeded but nobody may play it (the client left, or the
    /// role is another account's): release it at once.
    fn hold_then_release(
        &mut self,
        roleid: RoleId,
        record: PlayerRecord,
        session: Option<SessionId>,
        request_id: u64,
    ) {
        if let Some(session) = session {
            self.reply_error(
                session,
                request_id,
                ErrorCode::NotYourRole,
                "this role belongs to another account",
            );
            self.detach_session(session);
        }
        let hosted = self.players.get_mut(&roleid).expect("checked by caller");
        hosted.session = None;
        hosted.state = PlayerState::Serving(WritableCopy::claimed(record));
        self.start_release(roleid);
    }

    /// A claim answered for a hosting that is gone (its client left and it
    /// was dropped meanwhile). If no newer hosting exists, host the claimed
    /// row without a client and release it, so the player is not locked out
    /// for a lease; a newer hosting's own claim fences this one anyway.
    fn release_orphan_claim(&mut self, roleid: RoleId, answer: Result<OpOutcome, StoreError>) {
        let Ok(OpOutcome::Claimed(record)) = answer else {
            return;
        };
        if self.players.contains_key(&roleid) {
            return;
        }
        let home_srvname = self
            .config
            .zone
            .home_srvname(roleid)
            .unwrap_or_default()
            .to_owned();
        let hosted = Hosted {
            generation: self.next_generation(),
            session: None,
            state: PlayerState::Serving(WritableCopy::claimed(record)),
            home_srvname,
            context: self.home_context(),
            by_crossing: false,
            last_horn_ms: None,
        };
        self.players.insert(roleid, hosted);
        self.start_release(roleid);
    }

    fn enter_failed(
        &mut self,
        roleid: RoleId,
        session: Option<SessionId>,
        request_id: u64,
        error: &StoreError,
    ) {
        self.players.remove(&roleid);
        let Some(session) = session else { return };
        self.detach_session(session);
        let (code, message) = match error {
            StoreError::Refused(Refused::HeldElsewhere { .. }) => (
                ErrorCode::PlayerBusy,
                "the player is online on another server",
            ),
            StoreError::Refused(Refused::Fenced { .. }) => {
                (ErrorCode::PlayerBusy, "the player is busy")
            }
            StoreError::UnknownRole(_) | StoreError::WrongDatabase(_) => {
                (ErrorCode::UnknownRole, "no such role")
            }
            StoreError::RoleIdsExhausted(_)
            | StoreError::LedgerOutOfOrder { .. }
            | StoreError::Backend(_) => (ErrorCode::Unavailable, "store unavailable"),
        };
        self.reply_error(session, request_id, code, message);
    }

    fn detach_session(&mut self, session: SessionId) {
        if let Some(session) = self.sessions.get_mut(&session) {
            session.roleid = None;
        }
    }

    /// The hosting of `roleid` if it is still generation `generation`.
    fn current(&self, roleid: RoleId, generation: u64) -> Option<&Hosted> {
        self.players
            .get(&roleid)
            .filter(|hosted| hosted.generation == generation)
    }

    /// Submits a write of `kind` for `roleid` carrying everything not yet
    /// durable. At most one write per player is in flight.
    fn submit_write(&mut self, roleid: RoleId, kind: WriteKind) {
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
        self.store(purpose, roleid.home_srvno(), operation);
    }

    fn written(&mut self, now_ms: u64, write: PendingWrite, answer: Result<OpOutcome, StoreError>) {
        if self.current(write.roleid, write.generation).is_none() {
            return;
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
                return self.drop_player(write.roleid, ErrorCode::Internal);
            }
            Err(_) => return self.submit_read_back(write),
        };
        self.write_resolved(now_ms, write, outcome);
    }

    fn submit_read_back(&mut self, write: PendingWrite) {
        if let WriteKind::Handoff(_) = write.kind {
            let step = self
                .crossing_mut(write.roleid)
                .map(|crossing| crossing.handed_off(HandoffAnswer::Unknown));
            assert_eq!(
                step,
                Some(Step::ReadBack),
                "an unknown handoff is read back"
            );
        }
        self.read_again(write);
    }

    fn read_again(&mut self, write: PendingWrite) {
        let roleid = write.roleid;
        self.store(
            OpPurpose::ReadBack(write),
            roleid.home_srvno(),
            PlayerOp::ReadOwnership { roleid },
        );
    }

    fn read_back(
        &mut self,
        now_ms: u64,
        write: PendingWrite,
        answer: Result<OpOutcome, StoreError>,
    ) {
        if self.current(write.roleid, write.generation).is_none() {
            return;
        }
        let outcome = match answer {
            Ok(OpOutcome::OwnershipRead {
                ownership,
                data_version,
            }) => Some(resolve_write(
                &write.kind,
                &self.owner,
                write.epoch,
                write.base_version,
                &ownership,
                data_version,
            )),
            Ok(other) => panic!("read back answered with {other:?}"),
            Err(_) => None,
        };
        match (&write.kind, outcome) {
            (WriteKind::Handoff(_), _) => self.handoff_read_back(now_ms, write, outcome),
            (_, Some(outcome)) => self.write_resolved(now_ms, write, outcome),
            (_, None) => self.drop_player(write.roleid, ErrorCode::Unavailable),
        }
    }

    fn handoff_read_back(
        &mut self,
        now_ms: u64,
        write: PendingWrite,
        outcome: Option<WriteOutcome>,
    ) {
        let step = self
            .crossing_mut(write.roleid)
            .expect("crossing")
            .read_back(outcome);
        match step {
            Step::ReadBack => self.read_again(write),
            Step::Redirect => self.write_resolved(now_ms, write, WriteOutcome::Applied),
            Step::Abort(_) => self.write_resolved(now_ms, write, WriteOutcome::NotApplied),
            Step::Drop(code) => self.drop_player(write.roleid, code),
            Step::SubmitHandoff => unreachable!("read back never resubmits"),
        }
    }

    /// A write's outcome is known: update the copy and continue.
    fn write_resolved(&mut self, now_ms: u64, write: PendingWrite, outcome: WriteOutcome) {
        let roleid = write.roleid;
        if outcome == WriteOutcome::Fenced {
            self.emit(Event::Fenced { roleid });
            return self.drop_player(roleid, ErrorCode::Fenced);
        }
        let copy = self
            .players
            .get_mut(&roleid)
            .and_then(|hosted| hosted.state.copy_mut())
            .expect("current");
        copy.writing = false;
        if outcome == WriteOutcome::Applied {
            copy.version = write.base_version + 1;
            copy.ledger.drain(..write.ledger_len);
        } else {
            copy.dirty = true;
        }
        match (write.kind, outcome) {
            (WriteKind::Save, _) => self.continue_after_save(roleid),
            (WriteKind::Release, WriteOutcome::Applied) => self.released(roleid),
            (WriteKind::Release, _) => self.submit_write(roleid, WriteKind::Release),
            (WriteKind::Handoff(_), WriteOutcome::Applied) => {
                self.crossing_step(now_ms, roleid, Step::Redirect)
            }
            (WriteKind::Handoff(_), _) => {
                self.crossing_step(now_ms, roleid, Step::Abort(ErrorCode::Unavailable))
            }
        }
    }

    /// After a save, a logoff or a crossing may be waiting for the write slot.
    fn continue_after_save(&mut self, roleid: RoleId) {
        match &self.players[&roleid].state {
            PlayerState::Releasing(_) => self.submit_write(roleid, WriteKind::Release),
            PlayerState::Crossing(_, crossing) if crossing.phase == Phase::HandingOff => {
                let target = crossing.target.clone();
                self.submit_handoff(roleid, target);
            }
            _ => {}
        }
    }

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

    /// One renewal batch per database for every copy this node keeps a
    /// lease for (not a copy whose handoff is submitted).
    pub(crate) fn renew_leases(&mut self) {
        let mut by_db: std::collections::BTreeMap<routing::Srvno, Vec<(RoleId, u64, u64)>> =
            Default::default();
        for (roleid, hosted) in &self.players {
            if let Some(copy) = hosted.state.leased_copy() {
                by_db.entry(roleid.home_srvno()).or_default().push((
                    *roleid,
                    copy.epoch,
                    hosted.generation,
                ));
            }
        }
        for (srvno, leases) in by_db {
            for chunk in leases.chunks(store::BATCH_OPS_MAX) {
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

    fn renewed(&mut self, generations: Vec<(RoleId, u64)>, answer: Result<OpOutcome, StoreError>) {
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
                // handoff: its answer (or read-back) decides, not the renewal.
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

    fn released(&mut self, roleid: RoleId) {
        let hosted = self.players.remove(&roleid).expect("current");
        let epoch = hosted.state.writable_or_releasing_epoch();
        self.note_level(roleid, &hosted.state);
        self.emit(Event::Released { roleid });
        if hosted.home_srvname != self.config.srvname {
            let left = peers::left(roleid, &self.config.srvname, epoch);
            self.request(CallPurpose::Notify, &hosted.home_srvname, left);
        }
        self.set_current(roleid, false, epoch);
    }

    /// Stops hosting `roleid` without a write (fenced, lease lost, or the
    /// outcome could not be learned) and kicks its client.
    pub(crate) fn drop_player(&mut self, roleid: RoleId, code: ErrorCode) {
        let Some(hosted) = self.players.remove(&roleid) else {
            return;
        };
        if let Some(session) = hosted.session {
            self.kick(session, code, "this server no longer holds the player");
        }
    }

    pub(crate) fn kick(&mut self, session: SessionId, code: ErrorCode, message: &str) {
        self.sessions.remove(&session);
        let kicked = Kicked {
            code: code as i32,
            message: message.to_owned(),
        };
        self.push(Output::Close {
            session,
            last: Some(frame(0, Body::Kicked(kicked))),
        });
    }

    fn crossing_mut(&mut self, roleid: RoleId) -> Option<&mut Crossing> {
        match &mut self.players.get_mut(&roleid)?.state {
            PlayerState::Crossing(_, crossing) => Some(crossing),
            _ => None,
        }
    }

    /// Freezes the player and sends `Prepare` to the target.
    pub(crate) fn start_crossing(
        &mut self,
        roleid: RoleId,
        request_id: u64,
        target: String,
        token: u128,
    ) {
        let hosted = self.players.get_mut(&roleid).expect("caller checked");
        let PlayerState::Serving(copy) = &hosted.state else {
            panic!("crossing from state {:?}", hosted.state);
        };
        let crossing = Crossing::start(target.clone(), token, request_id, copy.epoch);
        hosted.state = PlayerState::Crossing(copy.clone(), crossing);
        let generation = hosted.generation;
        let prepare = peers::prepare(
            roleid,
            token,
            &hosted.home_srvname,
            hosted.context,
            &self.config,
        );
        self.request(
            CallPurpose::Prepare { roleid, generation },
            &target,
            prepare,
        );
    }

    /// The target answered `Prepare`.
    pub(crate) fn prepared(
        &mut self,
        now_ms: u64,
        roleid: RoleId,
        generation: u64,
        answer: Result<(), ErrorCode>,
    ) {
        if self.current(roleid, generation).is_none() {
            return;
        }
        let Some(crossing) = self.crossing_mut(roleid) else {
            return;
        };
        let step = crossing.prepared(answer);
        self.crossing_step(now_ms, roleid, step);
    }

    fn crossing_step(&mut self, now_ms: u64, roleid: RoleId, step: Step) {
        match step {
            Step::SubmitHandoff => {
                let (copy, crossing) = match &self.players[&roleid].state {
                    PlayerState::Crossing(copy, crossing) => (copy, crossing),
                    other => panic!("handoff from state {other:?}"),
                };
                if !copy.writing {
                    let target = crossing.target.clone();
                    self.submit_handoff(roleid, target);
                }
            }
            Step::Redirect => self.redirect(roleid),
            Step::Abort(code) => self.abort_crossing(now_ms, roleid, code),
            Step::Drop(code) => self.drop_player(roleid, code),
            Step::ReadBack => unreachable!("read backs are submitted by the write path"),
        }
    }

    fn submit_handoff(&mut self, roleid: RoleId, target: String) {
        self.submit_write(roleid, WriteKind::Handoff(target));
        if self.config.mutations.redirect_before_commit {
            self.redirect(roleid);
        }
    }

    fn redirect(&mut self, roleid: RoleId) {
        let Some(hosted) = self.players.remove(&roleid) else {
            return;
        };
        let PlayerState::Crossing(_, crossing) = &hosted.state else {
            panic!("redirect from state {:?}", hosted.state);
        };
        self.note_level(roleid, &hosted.state);
        self.emit(Event::Redirected {
            roleid,
            target: crossing.target.clone(),
        });
        let Some(session) = hosted.session else {
            return;
        };
        self.sessions.remove(&session);
        let address = self
            .config
            .zone
            .server(&crossing.target)
            .map(|server| server.address.clone());
        let redirect = Redirect {
            address,
            go_srvname: crossing.target.clone(),
            home_srvname: hosted.home_srvname.clone(),
            token: token_to_bytes(crossing.token),
            roleid: roleid.get(),
        };
        let last = frame(crossing.request_id, Body::Redirect(redirect));
        self.push(Output::Close {
            session,
            last: Some(last),
        });
    }

    /// The crossing did not happen: the player serves here again, and its
    /// client is told so only while the lease allows it at `now_ms`.
    fn abort_crossing(&mut self, now_ms: u64, roleid: RoleId, code: ErrorCode) {
        let hosted = self.players.get_mut(&roleid).expect("caller checked");
        let PlayerState::Crossing(copy, crossing) = &hosted.state else {
            panic!("abort from state {:?}", hosted.state);
        };
        let request_id = crossing.request_id;
        hosted.state = PlayerState::Serving(copy.clone());
        let session = hosted.session;
        self.emit(Event::CrossingAborted { roleid });
        match session {
            Some(session) => {
                if self.lease_holds(now_ms, roleid) {
                    self.reply_error(session, request_id, code, "the crossing did not happen");
                }
            }
            None => self.start_release(roleid),
        }
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
}
