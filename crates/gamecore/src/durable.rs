//! Answers promised only once what they confirm is on disk (DESIGN §5: a
//! call marked durable is saved before it is answered). A change that needs
//! one (a gift's debit and outbox row, a gift's credit) asks
//! [`GameCore::when_durable`]: the answers wait on the player's copy, ride
//! with its next write (`write_path`), and go out when that write commits;
//! a write that did not commit puts them back for the next one. A copy
//! dropped before its write committed abandons them: a peer is answered
//! `UNAVAILABLE` (it retries), a client was kicked.

use routing::RoleId;
use wire::client::ErrorCode;
use wire::client::server_frame::Body as Out;
use wire::node::{Gift, NodeMessage};

use crate::core::GameCore;
use crate::hosting::PlayerState;
use crate::write_path::WriteKind;
use crate::{Output, RequestId, SessionId, messages};

/// An answer held until the player's copy is durable.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Deferred {
    /// A client's reply.
    Client {
        session: SessionId,
        request_id: u64,
        body: Out,
    },
    /// A peer's reply.
    Peer {
        request: RequestId,
        message: NodeMessage,
    },
    /// A gift of the outbox is on disk: its delivery may start.
    Deliver(Gift),
}

impl GameCore {
    /// Holds `answers` until everything the copy of `roleid` (serving here)
    /// holds now is on disk: at once if it is, else after the write that
    /// carries it, submitted now unless one is in flight.
    pub(crate) fn when_durable(&mut self, now_ms: u64, roleid: RoleId, answers: Vec<Deferred>) {
        let hosted = self.players.get_mut(&roleid).expect("caller checked");
        let generation = hosted.generation;
        let PlayerState::Serving(copy) = &mut hosted.state else {
            panic!("durable answers of {roleid}, which is not serving");
        };
        if !copy.dirty && !copy.writing {
            return self.release_answers(now_ms, roleid, generation, answers);
        }
        copy.after_durable.extend(answers);
        if !copy.writing {
            self.submit_write(roleid, WriteKind::Save);
        }
    }

    /// The write that carried `answers` committed, as known at `now_ms`:
    /// a peer is answered whatever became of the copy (what it asked for
    /// is on disk); a client only while its player still serves here and
    /// the lease allows it (every acknowledgement checks the lease first);
    /// a delivery starts if the sender's hosting is still here.
    pub(crate) fn release_answers(
        &mut self,
        now_ms: u64,
        roleid: RoleId,
        generation: u64,
        answers: Vec<Deferred>,
    ) {
        for answer in answers {
            match answer {
                Deferred::Client {
                    session,
                    request_id,
                    body,
                } => {
                    let serving = self
                        .current(roleid, generation)
                        .is_some_and(|hosted| matches!(hosted.state, PlayerState::Serving(_)));
                    if serving && self.lease_holds(now_ms, roleid) {
                        self.reply(session, request_id, body);
                    }
                }
                Deferred::Peer { request, message } => {
                    self.push(Output::Reply { request, message })
                }
                Deferred::Deliver(gift) => {
                    if self.current(roleid, generation).is_some() {
                        self.start_delivery(roleid, generation, gift);
                    }
                }
            }
        }
    }

    /// The copy that held `answers` is gone before they were durable.
    pub(crate) fn abandon_answers(&mut self, answers: Vec<Deferred>) {
        for answer in answers {
            if let Deferred::Peer { request, .. } = answer {
                let text = "the player's copy was dropped before it was saved; retry".to_owned();
                let message = messages::error(ErrorCode::Unavailable, text);
                self.push(Output::Reply { request, message });
            }
        }
    }
}
