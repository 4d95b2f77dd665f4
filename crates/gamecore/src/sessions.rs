//! Client connections at a game server: a session opens, its frames are
//! dispatched by kind, it lists and creates its account's roles, it logs off
//! or is kicked. How a session gets in (tokens, `Authenticate`,
//! `EnterGame`, the claim) is `crossing::target`; what a player in the game
//! may do is `playing`.

use routing::RoleId;
use store::{OpOutcome, PlayerOp, StoreError};
use wire::client::client_frame::Body as In;
use wire::client::server_frame::Body as Out;
use wire::client::{
    ClientFrame, CreateRole, Error, ErrorCode, GameCall, Kicked, ListRoles, RoleCreated, RoleList,
    RoleSummary,
};
use wire::node::PlayerData;

use crate::core::{GameCore, OpPurpose};
use crate::hosting::PlayerState;
use crate::limits::ROLE_NAME_CHARS_MAX;
use crate::peers::CallPurpose;
use crate::tokens::Grant;
use crate::{Entropy, Output, SessionId, frame, messages};

/// What a client connection has proven.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Auth {
    /// Nothing yet: only `Authenticate` is accepted.
    Anonymous,
    /// A login token from the account center admitted this account.
    Account(u64),
    /// A crossing token admitted this role.
    Crossing(RoleId, Grant),
}

/// One client connection.
#[derive(Clone, Debug)]
pub(crate) struct Session {
    pub(crate) auth: Auth,
    /// The player this connection plays, once entered (or entering).
    pub(crate) roleid: Option<RoleId>,
}

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
        self.awaiting_entry.remove(&session);
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

    /// Answers request `request_id` of `session` with an error.
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
        self.reply(session, request_id, Out::Error(error));
    }

    /// Answers request `request_id` of `session`.
    pub(crate) fn reply(&mut self, session: SessionId, request_id: u64, body: Out) {
        self.push(Output::Send {
            session,
            frame: frame(request_id, body),
        });
    }

    /// Closes `session` with a `Kicked` frame saying why.
    pub(crate) fn kick(&mut self, session: SessionId, code: ErrorCode, message: &str) {
        self.sessions.remove(&session);
        let kicked = Kicked {
            code: code as i32,
            message: message.to_owned(),
        };
        self.push(Output::Close {
            session,
            last: Some(frame(0, Out::Kicked(kicked))),
        });
    }

    /// Whether a client request's new work (`ops` store operations, `calls`
    /// peer requests) fits the pending bounds; if not, the request is
    /// refused `OVERLOADED` and nothing is started.
    pub(crate) fn admit(
        &mut self,
        session: SessionId,
        request_id: u64,
        ops: usize,
        calls: usize,
    ) -> bool {
        if self.ops_room(ops) && self.calls_room(calls) {
            return true;
        }
        let message = format!(
            "too much in flight (at most {} store operations and {} requests); retry",
            self.config.pending_ops_max, self.config.pending_calls_max
        );
        self.reply_error(session, request_id, ErrorCode::Overloaded, &message);
        false
    }

    fn logoff(&mut self, session: SessionId) {
        self.handle_session_closed(session);
        self.push(Output::Close {
            session,
            last: None,
        });
    }

    /// The session plays no player any more (its enter failed).
    pub(crate) fn detach_session(&mut self, session: SessionId) {
        if let Some(session) = self.sessions.get_mut(&session) {
            session.roleid = None;
        }
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
        if !self.admit(session, request_id, 1, 0) {
            return;
        }
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

    /// The store listed the account's roles on this server's srvno.
    pub(crate) fn roles_listed(
        &mut self,
        session: SessionId,
        request_id: u64,
        answer: Result<OpOutcome, StoreError>,
    ) {
        match answer {
            Ok(OpOutcome::Roles(roles)) => {
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

    fn role_summary(&self, roleid: RoleId, data: &PlayerData) -> RoleSummary {
        RoleSummary {
            roleid: roleid.get(),
            name: data.name.clone(),
            level: data.level,
            home_srvname: self.home_srvname(roleid).unwrap_or_default().to_owned(),
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
        if !self.admit(session, request_id, 1, 0) {
            return;
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

    /// The store created the role (or could not): tell the account center.
    pub(crate) fn role_created(
        &mut self,
        session: SessionId,
        request_id: u64,
        answer: Result<OpOutcome, StoreError>,
    ) {
        let record = match answer {
            Ok(OpOutcome::Created(record)) => record,
            Ok(other) => panic!("role creation answered with {other:?}"),
            Err(StoreError::RoleIdsExhausted(_)) => {
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
        if !self.calls_room(1) {
            // As if the account center could not be reached: the role
            // exists in its srvno's database either way.
            return self.role_noted(session, request_id, role);
        }
        let note = messages::role_created(record.data.account_id, role.clone());
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
    pub(crate) fn role_noted(&mut self, session: SessionId, request_id: u64, role: RoleSummary) {
        if self.sessions.contains_key(&session) {
            self.reply(
                session,
                request_id,
                Out::RoleCreated(RoleCreated { role: Some(role) }),
            );
        }
    }
}
