//! Client frames at a game server: authenticate by token, list and create
//! roles, enter, gameplay calls, crossing requests, horns and logoff.

use routing::RoleId;
use store::PlayerOp;
use wire::client::client_frame::Body as In;
use wire::client::game_call::Call;
use wire::client::server_frame::Body as Out;
use wire::client::{
    Authenticated, CallReply, ClientFrame, CreateRole, Error, ErrorCode, GameCall, ListRoles,
    RoleCreated, RoleList,
};

use crate::core::{Auth, GameCore, Session};
use crate::gameplay::{self, GameplayError};
use crate::players::{CallPurpose, OpPurpose, PlayerState};
use crate::tokens::{Grant, TokenError, token_from_bytes};
use crate::{Entropy, Event, Output, SessionId, frame, peers};

/// Gold a won fight pays per monster level.
pub const BATTLE_GOLD_PER_LEVEL: u64 = 10;

/// A fight waiting for the battle server, as its answer needs it.
#[derive(Clone, Debug)]
pub(crate) struct Fight {
    pub(crate) session: SessionId,
    pub(crate) request_id: u64,
    pub(crate) roleid: RoleId,
    pub(crate) generation: u64,
    pub(crate) monster_level: u32,
}

/// Longest role name, in characters.
pub const ROLE_NAME_CHARS_MAX: usize = 32;

impl GameCore {
    /// A client finished the handshake.
    pub fn handle_session_opened(&mut self, session: SessionId) {
        let previous = self.sessions.insert(
            session,
            Session {
                auth: Auth::Anonymous,
                roleid: None,
            },
        );
        assert!(previous.is_none(), "session {session:?} opened twice");
    }

    /// A client's connection closed: its player logs off.
    pub fn handle_session_closed(&mut self, session: SessionId) {
        let Some(closed) = self.sessions.remove(&session) else {
            return;
        };
        let Some(roleid) = closed.roleid else { return };
        let Some(hosted) = self.players.get_mut(&roleid) else {
            return;
        };
        if hosted.session != Some(session) {
            return;
        }
        hosted.session = None;
        if matches!(hosted.state, PlayerState::Serving(_)) {
            self.start_release(roleid);
        }
    }

    /// A frame from a client (after the handshake, which the shell does).
    pub fn handle_client_frame(
        &mut self,
        now_ms: u64,
        session: SessionId,
        frame: ClientFrame,
        entropy: &mut dyn Entropy,
    ) {
        if !self.sessions.contains_key(&session) {
            return; // closed or kicked meanwhile
        }
        let request_id = frame.request_id;
        match frame.body {
            Some(In::Authenticate(authenticate)) => self.authenticate(
                now_ms,
                session,
                request_id,
                &authenticate.token,
                authenticate.roleid,
            ),
            Some(In::ListRoles(ListRoles {})) => self.list_roles(session, request_id),
            Some(In::CreateRole(CreateRole { name })) => {
                self.create_role(session, request_id, name)
            }
            Some(In::EnterGame(enter)) => {
                self.enter_game(now_ms, session, request_id, enter.roleid)
            }
            Some(In::Call(GameCall { call: Some(call) })) => {
                self.game_call(now_ms, session, request_id, call, entropy)
            }
            Some(In::Horn(horn)) => self.horn(now_ms, session, request_id, horn.text),
            Some(In::Logoff(_)) => self.logoff(session),
            _ => self.reply_error(
                session,
                request_id,
                ErrorCode::UnexpectedMessage,
                "not a game server request",
            ),
        }
    }

    pub(crate) fn reply_error(
        &mut self,
        session: SessionId,
        request_id: u64,
        code: ErrorCode,
        message: &str,
    ) {
        let error = Error {
            code: code as i32,
            message: message.to_owned(),
        };
        self.push(Output::Send {
            session,
            frame: frame(request_id, Out::Error(error)),
        });
    }

    fn reply(&mut self, session: SessionId, request_id: u64, body: Out) {
        self.push(Output::Send {
            session,
            frame: frame(request_id, body),
        });
    }

    fn authenticate(
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
        let Some(token) = token_from_bytes(token) else {
            return self.reply_error(
                session,
                request_id,
                ErrorCode::BadToken,
                "a token is 16 bytes",
            );
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

    fn account_of(&mut self, session: SessionId, request_id: u64) -> Option<u64> {
        match self.sessions[&session].auth {
            Auth::Account(account_id) => Some(account_id),
            _ => {
                self.reply_error(
                    session,
                    request_id,
                    ErrorCode::NotAuthenticated,
                    "log in first",
                );
                None
            }
        }
    }

    fn list_roles(&mut self, session: SessionId, request_id: u64) {
        let Some(account_id) = self.account_of(session, request_id) else {
            return;
        };
        let srvno = self.config.srvno;
        self.store(
            OpPurpose::ListRoles {
                session,
                request_id,
            },
            srvno,
            PlayerOp::RolesOfAccount { account_id },
        );
    }

    pub(crate) fn roles_listed(
        &mut self,
        session: SessionId,
        request_id: u64,
        answer: Result<store::OpOutcome, store::StoreError>,
    ) {
        match answer {
            Ok(store::OpOutcome::Roles(roles)) => {
                let roles = roles
                    .iter()
                    .map(|(roleid, data)| self.role_summary(*roleid, data))
                    .collect();
                self.reply(session, request_id, Out::RoleList(RoleList { roles }));
            }
            Ok(other) => panic!("role list answered with {other:?}"),
            Err(error) => self.reply_error(
                session,
                request_id,
                ErrorCode::Unavailable,
                &error.to_string(),
            ),
        }
    }

    fn role_summary(
        &self,
        roleid: RoleId,
        data: &wire::node::PlayerData,
    ) -> wire::client::RoleSummary {
        wire::client::RoleSummary {
            roleid: roleid.get(),
            name: data.name.clone(),
            level: data.level,
            home_srvname: self
                .config
                .zone
                .home_srvname(roleid)
                .unwrap_or_default()
                .to_owned(),
        }
    }

    fn create_role(&mut self, session: SessionId, request_id: u64, name: String) {
        let Some(account_id) = self.account_of(session, request_id) else {
            return;
        };
        let length = name.chars().count();
        if length == 0 || length > ROLE_NAME_CHARS_MAX || name.chars().any(char::is_control) {
            return self.reply_error(
                session,
                request_id,
                ErrorCode::BadArgument,
                &format!("a name is 1..={ROLE_NAME_CHARS_MAX} printable characters"),
            );
        }
        let operation = PlayerOp::CreateRole {
            srvno: self.config.srvno,
            account_id,
            name,
        };
        self.store(
            OpPurpose::CreateRole {
                session,
                request_id,
            },
            self.config.srvno,
            operation,
        );
    }

    pub(crate) fn role_created(
        &mut self,
        session: SessionId,
        request_id: u64,
        answer: Result<store::OpOutcome, store::StoreError>,
    ) {
        let record = match answer {
            Ok(store::OpOutcome::Created(record)) => record,
            Ok(other) => panic!("role creation answered with {other:?}"),
            Err(store::StoreError::RoleIdsExhausted(_)) => {
                return self.reply_error(
                    session,
                    request_id,
                    ErrorCode::RoleIdsExhausted,
                    "this server is full",
                );
            }
            Err(error) => {
                return self.reply_error(
                    session,
                    request_id,
                    ErrorCode::Unavailable,
                    &error.to_string(),
                );
            }
        };
        let role = self.role_summary(record.roleid, &record.data);
        let note = peers::role_created(record.data.account_id, role.clone());
        let account = self.config.account_node.clone();
        self.request(
            CallPurpose::RoleCreated {
                session,
                request_id,
                role,
            },
            &account,
            note,
        );
    }

    /// The account center took note of a new role (or could not be reached:
    /// the role exists in its srvno DB either way).
    pub(crate) fn role_noted(
        &mut self,
        session: SessionId,
        request_id: u64,
        role: wire::client::RoleSummary,
    ) {
        if self.sessions.contains_key(&session) {
            self.reply(
                session,
                request_id,
                Out::RoleCreated(RoleCreated { role: Some(role) }),
            );
        }
    }

    fn enter_game(&mut self, now_ms: u64, session: SessionId, request_id: u64, raw_roleid: u64) {
        let Ok(roleid) = RoleId::from_raw(raw_roleid) else {
            return self.reply_error(session, request_id, ErrorCode::UnknownRole, "not a role id");
        };
        let state = &self.sessions[&session];
        let allowed = match &state.auth {
            Auth::Account(_) => true,
            Auth::Crossing(admitted, _) => *admitted == roleid,
            Auth::Anonymous => false,
        };
        if !allowed {
            return self.reply_error(
                session,
                request_id,
                ErrorCode::NotAuthenticated,
                "authenticate for this role first",
            );
        }
        if state.roleid.is_some() {
            return self.reply_error(
                session,
                request_id,
                ErrorCode::UnexpectedMessage,
                "already in the game",
            );
        }
        let Some(hosted) = self.players.get(&roleid) else {
            return self.start_enter(session, request_id, roleid);
        };
        // Whenever the player's data is here, the account check comes first:
        // another account learns nothing of the player's state. (While the
        // claim is loading, its answer decides.)
        if let Some(copy) = hosted.state.copy()
            && !self.session_may_play(session, roleid, copy.data.account_id)
        {
            return self.reply_error(
                session,
                request_id,
                ErrorCode::NotYourRole,
                "this role belongs to another account",
            );
        }
        if !matches!(hosted.state, PlayerState::Serving(_)) {
            return self.reply_error(
                session,
                request_id,
                ErrorCode::PlayerBusy,
                "the player is busy; retry",
            );
        }
        if self.lease_holds(now_ms, roleid) {
            self.second_login(session, request_id, roleid);
        } else {
            // The copy in memory could have lapsed and was dropped: this
            // login claims the row afresh, as when the player is not here.
            self.start_enter(session, request_id, roleid);
        }
    }

    /// The player is already in the game here and `session` may play it:
    /// the new connection takes over and the old one is kicked (never two
    /// live copies). A crossing token for this very role may take over too
    /// (a player redirected here while an older connection of its still
    /// holds the player).
    fn second_login(&mut self, session: SessionId, request_id: u64, roleid: RoleId) {
        let hosted = self.players.get_mut(&roleid).expect("checked");
        let previous = hosted.session.replace(session);
        let PlayerState::Serving(copy) = &hosted.state else {
            unreachable!("checked")
        };
        let entered = wire::client::Entered {
            player: Some(gameplay::view(&copy.data)),
            srvname: self.config.srvname.clone(),
            home_srvname: hosted.home_srvname.clone(),
            context: Some(hosted.context),
        };
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

    /// Whether the serving copy of `roleid` may still act at `now_ms`. Every
    /// path that acknowledges gameplay asks first: if the lease could have
    /// run out and the timer has not fired yet (the node stalled), the player
    /// is dropped and its client kicked `LEASE_LOST`, as the timer would.
    fn lease_holds(&mut self, now_ms: u64, roleid: RoleId) -> bool {
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

    /// The player a session plays, if it is serving here and its lease
    /// still allows it at `now_ms`.
    fn playing(&mut self, now_ms: u64, session: SessionId, request_id: u64) -> Option<RoleId> {
        let Some(roleid) = self.sessions[&session].roleid else {
            self.reply_error(
                session,
                request_id,
                ErrorCode::NotInGame,
                "enter the game first",
            );
            return None;
        };
        match self.players_state(roleid) {
            Some(PlayerState::Serving(_)) => self.lease_holds(now_ms, roleid).then_some(roleid),
            Some(PlayerState::Crossing(..)) => {
                self.reply_error(
                    session,
                    request_id,
                    ErrorCode::CrossingInProgress,
                    "the player is crossing",
                );
                None
            }
            _ => {
                self.reply_error(
                    session,
                    request_id,
                    ErrorCode::PlayerBusy,
                    "the player is not ready",
                );
                None
            }
        }
    }

    fn game_call(
        &mut self,
        now_ms: u64,
        session: SessionId,
        request_id: u64,
        call: Call,
        entropy: &mut dyn Entropy,
    ) {
        let Some(roleid) = self.playing(now_ms, session, request_id) else {
            return;
        };
        match call {
            Call::GoServer(go) => self.go_server(session, request_id, roleid, go.srvname, entropy),
            Call::Fight(fight) => {
                self.fight(session, request_id, roleid, fight.monster_level, entropy)
            }
            Call::GoHome(_) => {
                let home = self.players[&roleid].home_srvname.clone();
                self.go_server(session, request_id, roleid, home, entropy)
            }
            call => self.apply_gameplay(session, request_id, roleid, call),
        }
    }

    fn apply_gameplay(&mut self, session: SessionId, request_id: u64, roleid: RoleId, call: Call) {
        let hosted = self.players.get_mut(&roleid).expect("playing");
        let PlayerState::Serving(copy) = &mut hosted.state else {
            unreachable!("playing")
        };
        let (data, ledger) = (&mut copy.data, &mut copy.ledger);
        let applied = match call {
            Call::AddGold(add) => {
                if self.config.mutations.double_credit {
                    let _ = gameplay::add_gold(data, ledger, add.amount, &add.reason);
                }
                gameplay::add_gold(data, ledger, add.amount, &add.reason)
            }
            Call::SpendGold(spend) => {
                gameplay::spend_gold(data, ledger, spend.amount, &spend.reason)
            }
            Call::AddItem(add) => {
                gameplay::add_item(data, ledger, add.item_type, add.count, &add.reason)
            }
            Call::LevelUp(_) => gameplay::level_up(data),
            Call::GetPlayer(_) => Ok(0),
            Call::GoServer(_) | Call::GoHome(_) | Call::Fight(_) => {
                unreachable!("handled by the caller")
            }
        };
        match applied {
            Ok(applied) => {
                copy.dirty |= applied > 0;
                let player = Some(gameplay::view(&copy.data));
                self.reply(
                    session,
                    request_id,
                    Out::CallReply(CallReply { player, applied }),
                );
            }
            Err(GameplayError::InsufficientGold { .. }) => self.reply_error(
                session,
                request_id,
                ErrorCode::InsufficientGold,
                "not enough gold",
            ),
            Err(GameplayError::BadArgument(why)) => {
                self.reply_error(session, request_id, ErrorCode::BadArgument, &why)
            }
        }
    }

    /// Asks this server's battle server to run the fight; the answer comes
    /// back through `fought`.
    fn fight(
        &mut self,
        session: SessionId,
        request_id: u64,
        roleid: RoleId,
        monster_level: u32,
        entropy: &mut dyn Entropy,
    ) {
        if monster_level == 0 || monster_level > gameplay::LEVEL_MAX {
            return self.reply_error(
                session,
                request_id,
                ErrorCode::BadArgument,
                &format!("a monster is level 1..={}", gameplay::LEVEL_MAX),
            );
        }
        let hosted = &self.players[&roleid];
        let PlayerState::Serving(copy) = &hosted.state else {
            unreachable!("playing")
        };
        let seed = entropy.token() as u64;
        let message = peers::battle_request(roleid, copy.data.level, monster_level, seed);
        let fight = Fight {
            session,
            request_id,
            roleid,
            generation: hosted.generation,
            monster_level,
        };
        let battle = self.config.battle_node.clone();
        self.request(CallPurpose::Fight(fight), &battle, message);
    }

    /// The battle server answered at `now_ms`: a win pays gold through the
    /// ledger, if the lease still allows the player to be served.
    pub(crate) fn fought(
        &mut self,
        now_ms: u64,
        fight: Fight,
        result: Option<wire::node::BattleResult>,
    ) {
        let Fight {
            session,
            request_id,
            roleid,
            generation,
            monster_level,
        } = fight;
        let Some(result) = result else {
            return self.reply_error(
                session,
                request_id,
                ErrorCode::ServerDown,
                "the battle server did not answer",
            );
        };
        let serving = self.players.get(&roleid).is_some_and(|hosted| {
            hosted.generation == generation && matches!(hosted.state, PlayerState::Serving(_))
        });
        if !serving {
            return self.reply_error(
                session,
                request_id,
                ErrorCode::NotInGame,
                "the player left during the fight",
            );
        }
        if !self.lease_holds(now_ms, roleid) {
            return;
        }
        let hosted = self.players.get_mut(&roleid).expect("serving");
        let PlayerState::Serving(copy) = &mut hosted.state else {
            unreachable!("serving")
        };
        let reward = if result.won {
            u64::from(monster_level) * BATTLE_GOLD_PER_LEVEL
        } else {
            0
        };
        if reward > 0 {
            let added = gameplay::add_gold(&mut copy.data, &mut copy.ledger, reward, "battle:win");
            assert!(added.is_ok(), "a battle reward is a valid grant: {added:?}");
            copy.dirty = true;
        }
        let player = Some(gameplay::view(&copy.data));
        self.reply(
            session,
            request_id,
            Out::CallReply(CallReply {
                player,
                applied: reward,
            }),
        );
    }

    fn go_server(
        &mut self,
        session: SessionId,
        request_id: u64,
        roleid: RoleId,
        target: String,
        entropy: &mut dyn Entropy,
    ) {
        if target == self.config.srvname {
            return self.reply_error(
                session,
                request_id,
                ErrorCode::AlreadyThere,
                "the player is on that server",
            );
        }
        if self.config.zone.server(&target).is_none() {
            return self.reply_error(
                session,
                request_id,
                ErrorCode::UnknownServer,
                "no such server in this zone",
            );
        }
        self.start_crossing(roleid, request_id, target, entropy.token());
    }

    fn horn(&mut self, now_ms: u64, session: SessionId, request_id: u64, text: String) {
        let Some(roleid) = self.playing(now_ms, session, request_id) else {
            return;
        };
        if text.is_empty() || text.len() > peers::HORN_TEXT_BYTES_MAX {
            return self.reply_error(
                session,
                request_id,
                ErrorCode::BadArgument,
                &format!("a horn is 1..={} bytes", peers::HORN_TEXT_BYTES_MAX),
            );
        }
        let interval = self.config.horn_interval_ms;
        let hosted = self.players.get_mut(&roleid).expect("playing");
        if hosted
            .last_horn_ms
            .is_some_and(|last| now_ms < last + interval)
        {
            return self.reply_error(
                session,
                request_id,
                ErrorCode::RateLimited,
                &format!("one horn per {interval} ms"),
            );
        }
        hosted.last_horn_ms = Some(now_ms);
        let PlayerState::Serving(copy) = &hosted.state else {
            unreachable!("playing")
        };
        let heard = wire::client::HornHeard {
            from_roleid: roleid.get(),
            from_name: copy.data.name.clone(),
            text,
        };
        let message = peers::horn(&heard);
        self.push(Output::Publish {
            topic: peers::HORN_TOPIC.to_owned(),
            message,
        });
        self.reply(session, request_id, Out::HornHeard(heard));
    }

    fn logoff(&mut self, session: SessionId) {
        self.handle_session_closed(session);
        self.push(Output::Close {
            session,
            last: None,
        });
    }
}
