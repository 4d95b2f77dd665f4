//! Requests from other nodes (login grants, crossing preparation, arrival
//! and departure notes, heartbeats), the answers to this node's requests,
//! zone topics, and the node messages the core builds.

use routing::RoleId;
use wire::client::server_frame::Body as Out;
use wire::client::{CrossContext, ErrorCode, HornHeard, RoleSummary};
use wire::node::node_message::Body;
use wire::node::{
    Arrived, GrantLogin, HornBroadcast, IsOnline, Left, NodeError, NodeMessage, OnlineAnswer,
    Prepare, RoleCreatedNote, RoleLevelNote, SetCurrent,
};

use crate::core::GameCore;
use crate::players::{CallPurpose, PlayerState};
use crate::tokens::{Grant, TokenError, token_from_bytes};
use crate::{CallId, Config, Output, PeerError, RequestId, frame};

/// The zone topic horns travel on.
pub const HORN_TOPIC: &str = "horn";
/// Longest horn text, in bytes.
pub const HORN_TEXT_BYTES_MAX: usize = 256;

impl GameCore {
    /// A request from node `from`; answer it with an `Output::Reply`.
    pub fn handle_request(
        &mut self,
        now_ms: u64,
        request: RequestId,
        from: &str,
        message: NodeMessage,
    ) {
        let answer = match message.body {
            Some(Body::GrantLogin(grant)) => self.grant_login(now_ms, &grant),
            Some(Body::Prepare(prepare)) => self.prepare_arrival(now_ms, &prepare),
            Some(Body::Arrived(arrived)) => self.note_arrival(&arrived),
            Some(Body::Left(left)) => self.note_departure(&left),
            Some(Body::IsOnline(query)) => self.answer_is_online(query.roleid),
            _ => Err((
                ErrorCode::UnexpectedMessage,
                format!("a game server does not take this from {from}"),
            )),
        };
        let message = answer.unwrap_or_else(|(code, message)| error(code, message));
        self.push(Output::Reply { request, message });
    }

    /// Tells the account center the level of `roleid` as this server lets
    /// it go (released, or handed off to a crossing's target), so the next
    /// `LoginOk` lists it. Fire and forget: a lost note leaves the previous
    /// level listed until the next one.
    pub(crate) fn note_level(&mut self, roleid: RoleId, state: &PlayerState) {
        let (PlayerState::Releasing(copy) | PlayerState::Crossing(copy, _)) = state else {
            return;
        };
        let note = role_level(roleid, copy.data.level, copy.epoch);
        let account = self.config.account_node.clone();
        self.request(CallPurpose::Notify, &account, note);
    }

    /// The answer to this node's request `call`, at `now_ms` (own clock).
    pub fn handle_call_answer(
        &mut self,
        now_ms: u64,
        call: CallId,
        answer: Result<NodeMessage, PeerError>,
    ) {
        let Some(purpose) = self.calls.remove(&call) else {
            return;
        };
        match purpose {
            CallPurpose::Notify => {}
            CallPurpose::Prepare { roleid, generation } => {
                let answer = answer.map(drop).map_err(|error| match error {
                    PeerError::Remote(code) => code,
                    PeerError::Unreachable | PeerError::Timeout => ErrorCode::ServerDown,
                });
                self.prepared(now_ms, roleid, generation, answer);
            }
            CallPurpose::Heartbeat { roleid, srvname } => {
                self.heartbeat_answered(roleid, &srvname, answer)
            }
            CallPurpose::RoleCreated {
                session,
                request_id,
                role,
            } => self.role_noted(session, request_id, role),
            CallPurpose::Fight(fight) => {
                let result = match answer {
                    Ok(NodeMessage {
                        body: Some(Body::BattleResult(result)),
                    }) => Some(result),
                    _ => None,
                };
                self.fought(now_ms, fight, result);
            }
        }
    }

    /// A message on a zone topic this node subscribes to.
    pub fn handle_topic(&mut self, message: NodeMessage) {
        let Some(Body::Horn(horn)) = message.body else {
            return;
        };
        let heard = HornHeard {
            from_roleid: horn.from_roleid,
            from_name: horn.from_name,
            text: horn.text,
        };
        let listeners: Vec<_> = self
            .players
            .values()
            .filter_map(|hosted| hosted.session)
            .collect();
        for session in listeners {
            self.push(Output::Send {
                session,
                frame: frame(0, Out::HornHeard(heard.clone())),
            });
        }
    }

    fn grant_login(&mut self, now_ms: u64, grant: &GrantLogin) -> Answer {
        let token = token_from_bytes(&grant.token)
            .ok_or((ErrorCode::BadToken, "a token is 16 bytes".into()))?;
        let ttl_ms = grant.ttl_ms.min(self.config.token_ttl_ms);
        let login = Grant::Login {
            account_id: grant.account_id,
        };
        self.tokens
            .issue(token, login, now_ms + ttl_ms)
            .map_err(token_error)?;
        Ok(ack())
    }

    fn prepare_arrival(&mut self, now_ms: u64, prepare: &Prepare) -> Answer {
        let roleid = RoleId::from_raw(prepare.roleid)
            .map_err(|error| (ErrorCode::UnknownRole, error.to_string()))?;
        let token = token_from_bytes(&prepare.token)
            .ok_or((ErrorCode::BadToken, "a token is 16 bytes".into()))?;
        if self.players.contains_key(&roleid) {
            return Err((ErrorCode::AlreadyThere, "the player is hosted here".into()));
        }
        let ttl_ms = prepare.ttl_ms.min(self.config.token_ttl_ms);
        let grant = Grant::Crossing {
            roleid,
            home_srvname: prepare.home_srvname.clone(),
            context: prepare.context.unwrap_or_default(),
        };
        self.tokens
            .issue(token, grant, now_ms + ttl_ms)
            .map_err(token_error)?;
        Ok(ack())
    }

    fn answer_is_online(&self, raw_roleid: u64) -> Answer {
        let online = RoleId::from_raw(raw_roleid).is_ok_and(|roleid| self.is_online(roleid));
        Ok(NodeMessage {
            body: Some(Body::OnlineAnswer(OnlineAnswer { online })),
        })
    }
}

/// A request's answer, or the error to reply.
pub(crate) type Answer = Result<NodeMessage, (ErrorCode, String)>;

fn token_error(error: TokenError) -> (ErrorCode, String) {
    let code = if error == TokenError::Full {
        ErrorCode::Overloaded
    } else {
        ErrorCode::BadToken
    };
    (code, error.to_string())
}

fn message(body: Body) -> NodeMessage {
    NodeMessage { body: Some(body) }
}

pub(crate) fn ack() -> NodeMessage {
    message(Body::Ack(wire::node::Ack {}))
}

fn error(code: ErrorCode, text: String) -> NodeMessage {
    message(Body::Error(NodeError {
        code: code as i32,
        message: text,
    }))
}

pub(crate) fn is_online(roleid: RoleId) -> NodeMessage {
    message(Body::IsOnline(IsOnline {
        roleid: roleid.get(),
    }))
}

pub(crate) fn arrived(roleid: RoleId, at_srvname: &str, epoch: u64) -> NodeMessage {
    message(Body::Arrived(Arrived {
        roleid: roleid.get(),
        at_srvname: at_srvname.to_owned(),
        epoch,
    }))
}

pub(crate) fn left(roleid: RoleId, from_srvname: &str, epoch: u64) -> NodeMessage {
    message(Body::Left(Left {
        roleid: roleid.get(),
        from_srvname: from_srvname.to_owned(),
        epoch,
    }))
}

pub(crate) fn set_current(roleid: RoleId, srvname: &str, online: bool, epoch: u64) -> NodeMessage {
    message(Body::SetCurrent(SetCurrent {
        roleid: roleid.get(),
        srvname: srvname.to_owned(),
        online,
        epoch,
    }))
}

pub(crate) fn role_level(roleid: RoleId, level: u32, epoch: u64) -> NodeMessage {
    message(Body::RoleLevel(RoleLevelNote {
        roleid: roleid.get(),
        level,
        epoch,
    }))
}

pub(crate) fn role_created(account_id: u64, role: RoleSummary) -> NodeMessage {
    message(Body::RoleCreated(RoleCreatedNote {
        account_id,
        role: Some(role),
    }))
}

pub(crate) fn horn(heard: &HornHeard) -> NodeMessage {
    let horn = HornBroadcast {
        from_roleid: heard.from_roleid,
        from_name: heard.from_name.clone(),
        text: heard.text.clone(),
    };
    message(Body::Horn(horn))
}

pub(crate) fn battle_request(
    roleid: RoleId,
    player_level: u32,
    monster_level: u32,
    seed: u64,
) -> NodeMessage {
    message(Body::BattleRequest(wire::node::BattleRequest {
        roleid: roleid.get(),
        player_level,
        monster_level,
        seed,
    }))
}

pub(crate) fn prepare(
    roleid: RoleId,
    token: u128,
    home_srvname: &str,
    context: CrossContext,
    config: &Config,
) -> NodeMessage {
    message(Body::Prepare(Prepare {
        roleid: roleid.get(),
        token: crate::tokens::token_to_bytes(token),
        home_srvname: home_srvname.to_owned(),
        context: Some(context),
        ttl_ms: config.token_ttl_ms,
        from_srvname: config.srvname.clone(),
    }))
}
