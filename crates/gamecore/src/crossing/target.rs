//! The target side of a crossing (DESIGN §6), which is also how any player
//! enters this server, read top to bottom:
//!
//! 1. a token is issued here: `Prepare` from the crossing's source (a
//!    crossing token, bound to the role and carrying its home and context)
//!    or `GrantLogin` from the account center (a login token, bound to the
//!    account);
//! 2. `Authenticate` redeems it, once;
//! 3. `EnterGame` claims the row in the role's home database (after a
//!    handoff, this server's is the only claim that can succeed), or takes
//!    over a player already served here;
//! 4. the claim's answer: `Entered` (while the lease it gave holds), then
//!    the `Arrived` note to the home server (its kuafu mark) and
//!    `SetCurrent` to the data center.

use crate::notes::NoteKind;
use ownership::Refused;
use routing::RoleId;
use store::{OpOutcome, PlayerOp, PlayerRecord, StoreError};
use wire::client::server_frame::Body as Out;
use wire::client::{Authenticated, CrossContext, Entered, ErrorCode};
use wire::node::{GrantLogin, Prepare};

use crate::core::{GameCore, OpPurpose};
use crate::hosting::{Hosted, PlayerState, WritableCopy};
use crate::limits::TOKEN_BYTES;
use crate::messages::{self, Answer};
use crate::sessions::Auth;
use crate::tokens::{Grant, TokenError, token_from_bytes};
use crate::{Event, SessionId, gameplay};

impl GameCore {
    /// Step 1: The source of a crossing asks this server to admit `roleid` with
    /// its token.
    pub(crate) fn prepare_arrival(&mut self, now_ms: u64, prepare: &Prepare) -> Answer {
        let roleid = RoleId::from_raw(prepare.roleid)
            .map_err(|error| (ErrorCode::UnknownRole, error.to_string()))?;
        let token = parse_token(&prepare.token)?;
        if self.players.contains_key(&roleid) {
            return Err((ErrorCode::AlreadyThere, "the player is hosted here".into()));
        }
        self.check_room()?;
        let ttl_ms = prepare.ttl_ms.min(self.config.token_ttl_ms);
        let grant = Grant::Crossing {
            roleid,
            home_srvname: prepare.home_srvname.clone(),
            context: prepare.context.unwrap_or_default(),
        };
        let answer = self.issue_token(token, grant, now_ms + ttl_ms)?;
        self.locator.arriving(roleid, now_ms + ttl_ms);
        Ok(answer)
    }

    /// Step 1: The account center grants a login of `account_id` here.
    /// A full server still takes it when it hosts the account's role the
    /// grant names: that login takes over a player already here.
    pub(crate) fn grant_login(&mut self, now_ms: u64, grant: &GrantLogin) -> Answer {
        let token = parse_token(&grant.token)?;
        if !self.hosts_role_of(grant.online_roleid, grant.account_id) {
            self.check_room()?;
        }
        let ttl_ms = grant.ttl_ms.min(self.config.token_ttl_ms);
        let login = Grant::Login {
            account_id: grant.account_id,
        };
        self.issue_token(token, login, now_ms + ttl_ms)
    }

    /// Whether one more player may be promised a place: the players hosted,
    /// the sessions a token admitted that have not entered yet, and the
    /// tokens not redeemed yet stay within `players_max`. So a client that
    /// got a token (after the login queue, or a crossing's redirect) is not
    /// then refused for capacity: the cap is applied when the token is
    /// granted (DESIGN §11).
    /// Whether `raw_roleid` is hosted here, loaded, as a role of `account_id`.
    fn hosts_role_of(&self, raw_roleid: u64, account_id: u64) -> bool {
        let hosted = RoleId::from_raw(raw_roleid)
            .ok()
            .and_then(|roleid| self.players.get(&roleid));
        hosted
            .and_then(|hosted| hosted.state.copy())
            .is_some_and(|copy| copy.data.account_id == account_id)
    }

    fn check_room(&self) -> Result<(), (ErrorCode, String)> {
        let promised = self.players.len() + self.awaiting_entry.len() + self.tokens.unused();
        if promised < self.config.players_max {
            return Ok(());
        }
        let message = format!("server full: {} players", self.config.players_max);
        Err((ErrorCode::ServerFull, message))
    }

    fn issue_token(&mut self, token: u128, grant: Grant, expires_at_ms: u64) -> Answer {
        self.tokens
            .issue(token, grant, expires_at_ms)
            .map_err(|error| {
                let code = if error == TokenError::Full {
                    ErrorCode::Overloaded
                } else {
                    ErrorCode::BadToken
                };
                (code, error.to_string())
            })?;
        Ok(messages::ack())
    }

    /// Step 2: `Authenticate{token, roleid}`: the token admits the connection
    /// once, as its account (login) or as its role (crossing).
    pub(crate) fn authenticate(
        &mut self,
        now_ms: u64,
        session: SessionId,
        request_id: u64,
        token: &[u8],
        raw_roleid: u64,
    ) {
        if self.sessions[&session].auth != Auth::Anonymous {
            return self.reply_error(
                session,
                request_id,
                ErrorCode::UnexpectedMessage,
                "already authenticated",
            );
        }
        let token = match parse_token(token) {
            Ok(token) => token,
            Err((code, message)) => return self.reply_error(session, request_id, code, &message),
        };
        // The book checks the role a crossing token admits before it marks
        // the token used: a refusal leaves the token as it was.
        let presented = RoleId::from_raw(raw_roleid).ok();
        let auth = match self.tokens.redeem(token, now_ms, presented) {
            Ok(Grant::Login { account_id }) => Auth::Account(account_id),
            Ok(grant @ Grant::Crossing { roleid, .. }) => {
                Auth::Crossing(presented.unwrap_or(roleid), grant)
            }
            Err(error) => return self.token_refused(session, request_id, error),
        };
        self.emit(Event::TokenRedeemed { token });
        self.awaiting_entry.insert(session);
        let account_id = match &auth {
            Auth::Account(account_id) => *account_id,
            _ => 0,
        };
        self.sessions.get_mut(&session).expect("checked").auth = auth;
        self.reply(
            session,
            request_id,
            Out::Authenticated(Authenticated { account_id }),
        );
    }

    fn token_refused(&mut self, session: SessionId, request_id: u64, error: TokenError) {
        let code = match error {
            TokenError::Expired => ErrorCode::TokenExpired,
            TokenError::Used => ErrorCode::TokenUsed,
            TokenError::Unknown | TokenError::WrongRole => ErrorCode::BadToken,
            TokenError::Full => ErrorCode::Overloaded,
        };
        self.reply_error(session, request_id, code, &error.to_string());
    }

    /// Step 3: `EnterGame{roleid}`: claim the row, or take over the player if it
    /// is already served here.
    pub(crate) fn enter_game(
        &mut self,
        now_ms: u64,
        session: SessionId,
        request_id: u64,
        raw_roleid: u64,
    ) {
        let Ok(roleid) = RoleId::from_raw(raw_roleid) else {
            return self.reply_error(session, request_id, ErrorCode::UnknownRole, "not a role id");
        };
        if let Err((code, message)) = self.may_enter(session, roleid) {
            return self.reply_error(session, request_id, code, message);
        }
        if !self.players.contains_key(&roleid) {
            return self.start_enter(session, request_id, roleid);
        }
        if self.lease_holds(now_ms, roleid) {
            self.second_login(session, request_id, roleid);
        } else {
            // The copy in memory could have lapsed and was dropped: this
            // login claims the row afresh, as when the player is not here.
            self.start_enter(session, request_id, roleid);
        }
    }

    /// Whether `session` may enter `roleid` now; a player hosted here must
    /// be serving (its lease is checked next).
    fn may_enter(
        &self,
        session: SessionId,
        roleid: RoleId,
    ) -> Result<(), (ErrorCode, &'static str)> {
        let state = &self.sessions[&session];
        let allowed = match &state.auth {
            Auth::Account(_) => true,
            Auth::Crossing(admitted, _) => *admitted == roleid,
            Auth::Anonymous => false,
        };
        if !allowed {
            return Err((
                ErrorCode::NotAuthenticated,
                "authenticate for this role first",
            ));
        }
        if state.roleid.is_some() {
            return Err((ErrorCode::UnexpectedMessage, "already in the game"));
        }
        let Some(hosted) = self.players.get(&roleid) else {
            return Ok(());
        };
        // Whenever the player's data is here, the account check comes first:
        // another account learns nothing of the role's state. (While the
        // claim is loading, its answer decides.)
        if let Some(copy) = hosted.state.copy()
            && !self.session_may_play(session, roleid, copy.data.account_id)
        {
            return Err((
                ErrorCode::NotYourRole,
                "this role belongs to another account",
            ));
        }
        if !matches!(hosted.state, PlayerState::Serving(_)) {
            return Err((ErrorCode::PlayerBusy, "the player is busy; retry"));
        }
        Ok(())
    }

    /// The player is already in the game here and `session` may play it:
    /// the new connection takes over and the old one is kicked (never two
    /// live copies). A crossing token for this very role may take over too
    /// (a player redirected here while an older connection of its still
    /// holds the player).
    fn second_login(&mut self, session: SessionId, request_id: u64, roleid: RoleId) {
        self.awaiting_entry.remove(&session);
        let hosted = self.players.get_mut(&roleid).expect("checked");
        let previous = hosted.session.replace(session);
        let hosted = &self.players[&roleid];
        let PlayerState::Serving(copy) = &hosted.state else {
            unreachable!("checked")
        };
        let entered = self.entered(copy, hosted);
        self.sessions.get_mut(&session).expect("checked").roleid = Some(roleid);
        if let Some(previous) = previous {
            self.kick(
                previous,
                ErrorCode::LoggedInElsewhere,
                "this role logged in again",
            );
        }
        self.reply(session, request_id, Out::Entered(entered));
    }

    /// Step 3: Starts entering `roleid` for `session`: a claim on the role's
    /// home database.
    fn start_enter(&mut self, session: SessionId, request_id: u64, roleid: RoleId) {
        let Some(home_srvname) = self.home_srvname(roleid).map(str::to_owned) else {
            return self.reply_error(
                session,
                request_id,
                ErrorCode::UnknownRole,
                "no server holds this srvno",
            );
        };
        self.awaiting_entry.remove(&session);
        if self.players.len() >= self.config.players_max {
            return self.reply_error(session, request_id, ErrorCode::ServerFull, "server full");
        }
        if !self.admit(session, request_id, 1, 0) {
            return;
        }
        let (context, by_crossing) = match &self.sessions[&session].auth {
            Auth::Crossing(_, Grant::Crossing { context, .. }) => (*context, true),
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
            self.home_of(roleid),
            operation,
        );
    }

    /// The context a home server gives its own players.
    fn home_context(&self) -> CrossContext {
        CrossContext {
            home_server_level: self.config.server_level,
        }
    }

    /// Step 4: The claim was answered at `now_ms`.
    pub(crate) fn claimed(
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

    /// Step 4: Serves the claimed copy and answers `Entered`, if the lease the
    /// claim gave still allows it at `now_ms`; then tells the home server and
    /// the data center.
    fn enter_claimed(
        &mut self,
        now_ms: u64,
        roleid: RoleId,
        session: SessionId,
        request_id: u64,
        record: PlayerRecord,
    ) {
        let copy = WritableCopy::claimed(record);
        let hosted = &self.players[&roleid];
        let entered = self.entered(&copy, hosted);
        let by_crossing = hosted.by_crossing;
        let home_srvname = hosted.home_srvname.clone();
        let epoch = copy.epoch;
        self.players
            .get_mut(&roleid)
            .expect("checked by caller")
            .state = PlayerState::Serving(copy);
        self.locator.entered(roleid);
        if !self.lease_holds(now_ms, roleid) {
            return;
        }
        self.reply(session, request_id, Out::Entered(entered));
        self.emit(Event::Entered {
            roleid,
            by_crossing,
        });
        self.announce_arrival(roleid, &home_srvname, epoch);
        self.resume_deliveries(roleid);
    }

    /// What `Entered` tells the client of its player.
    fn entered(&self, copy: &WritableCopy, hosted: &Hosted) -> Entered {
        Entered {
            player: Some(gameplay::view(&copy.data)),
            srvname: self.config.srvname.clone(),
            home_srvname: hosted.home_srvname.clone(),
            context: Some(hosted.context),
        }
    }

    /// Step 4: Tells the home server (its kuafu mark) and the data center (the
    /// current server) that the player is here now.
    fn announce_arrival(&mut self, roleid: RoleId, home_srvname: &str, epoch: u64) {
        if home_srvname == self.config.srvname {
            self.marks.at_home(roleid, epoch);
        } else {
            let arrived = messages::arrived(roleid, &self.config.srvname, epoch);
            self.send_note(NoteKind::Whereabouts, roleid, home_srvname, arrived);
        }
        self.set_current(roleid, true, epoch);
        self.send_summary(roleid);
        self.reference_friends(roleid);
    }

    /// Whether `session` may play `roleid`, a role of `account_id`: it logged
    /// in as that account, or holds a crossing token for that role.
    fn session_may_play(&self, session: SessionId, roleid: RoleId, account_id: u64) -> bool {
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
        let home_srvname = self.home_srvname(roleid).unwrap_or_default().to_owned();
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
            // This server's transfer table was behind (DESIGN §7): the
            // next login routes to the new home.
            StoreError::Transferred { to, .. } => {
                let message = format!("the role moved to srvno {to}");
                return self.reply_error(session, request_id, ErrorCode::RoleTransferred, &message);
            }
            StoreError::RoleIdsExhausted(_)
            | StoreError::LedgerOutOfOrder { .. }
            | StoreError::InboxFull(_)
            | StoreError::MalformedGift(_)
            | StoreError::TransferNotStarted(_)
            | StoreError::Backend(_) => (ErrorCode::Unavailable, "store unavailable"),
        };
        self.reply_error(session, request_id, code, message);
    }
}

/// A token from its wire bytes, or the refusal to give.
fn parse_token(bytes: &[u8]) -> Result<u128, (ErrorCode, String)> {
    token_from_bytes(bytes).ok_or_else(|| {
        let message = format!("a token is {TOKEN_BYTES} bytes");
        (ErrorCode::BadToken, message)
    })
}
