//! Requests from other nodes and the answers to this node's requests, each
//! dispatched to the sub-protocol it belongs to: login grants and crossing
//! preparation (`crossing::target`), arrival and departure notes and
//! heartbeats (`home`), fights (`playing`), prepare answers
//! (`crossing::source`).

use routing::RoleId;
use wire::client::{ErrorCode, RoleSummary};
use wire::node::node_message::Body;
use wire::node::{NodeMessage, OnlineAnswer};

use crate::core::GameCore;
use crate::messages::{self, Answer};
use crate::playing::Fight;
use crate::{CallId, Output, PeerError, RequestId, SessionId};

/// The zone topic horns travel on.
pub const HORN_TOPIC: &str = "horn";

/// What a peer request in flight is for. A note owed until acknowledged is
/// tracked (`notes`); one sent once (the note book is full) is not: see
/// [`GameCore::notify`].
#[derive(Clone, Debug)]
pub(crate) enum CallPurpose {
    /// A note owed until acknowledged (`notes`).
    Note {
        key: crate::notes::NoteKey,
        sending: u64,
    },
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
        role: RoleSummary,
    },
    Fight(Fight),
    /// A summary subscription (or resync): its snapshot.
    Subscribe,
    /// A summary unsubscription.
    Unsubscribe,
    GiftLocate(crate::gifts::DeliveryKey),
    GiftDeliver(crate::gifts::DeliveryKey),
}

impl GameCore {
    /// A request from node `from`; answer it with an `Output::Reply`.
    pub fn handle_request(
        &mut self,
        now_ms: u64,
        request: RequestId,
        from: &str,
        message: NodeMessage,
    ) {
        if let Some(Body::GiftDelivery(delivery)) = message.body {
            let Some(answer) = self.receive_gift(now_ms, request, delivery) else {
                return; // answered once the credit is on disk
            };
            let message = answer.unwrap_or_else(|(code, message)| messages::error(code, message));
            return self.push(Output::Reply { request, message });
        }
        let answer = match message.body {
            Some(Body::PlayerCall(call)) => return self.player_call(now_ms, request, call),
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
        let message = answer.unwrap_or_else(|(code, message)| messages::error(code, message));
        self.push(Output::Reply { request, message });
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
            CallPurpose::Note { key, sending } => self.note_answered(key, sending, &answer),
            CallPurpose::Prepare { roleid, generation } => {
                let answer = answer.map(drop).map_err(|error| match error {
                    PeerError::Remote(code) => code,
                    PeerError::Unreachable | PeerError::Timeout => ErrorCode::ServerDown,
                });
                self.prepared(now_ms, roleid, generation, answer);
            }
            CallPurpose::Subscribe => self.subscribed(answer),
            CallPurpose::Unsubscribe => {}
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
            CallPurpose::GiftLocate(key) => self.gift_located(now_ms, key, answer),
            CallPurpose::GiftDeliver(key) => self.gift_delivered(now_ms, key, answer),
        }
    }

    fn answer_is_online(&self, raw_roleid: u64) -> Answer {
        let online = RoleId::from_raw(raw_roleid).is_ok_and(|roleid| self.is_online(roleid));
        Ok(NodeMessage {
            body: Some(Body::OnlineAnswer(OnlineAnswer { online })),
        })
    }
}
