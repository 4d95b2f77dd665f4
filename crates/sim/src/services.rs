//! Models of the zone's shared nodes, as the game servers and players see
//! them over the simulated bus (the account center is the production core,
//! in `account_link`).
//!
//! - The data center (DESIGN §8): the current server of each role, set by
//!   owners' `SetCurrent` notes (a note with an older epoch than the one
//!   recorded is ignored, so a late logoff never hides a newer arrival) and
//!   read by `GetCurrent`.
//!
//! It keeps its state across the run (it is durable in production); the
//! simulator cuts it off with partitions but does not crash it.

use std::collections::BTreeMap;

use wire::client::ErrorCode;
use wire::node::node_message::Body;
use wire::node::{Ack, CurrentAnswer, GetCurrent, NodeError, NodeMessage};

/// Where the data center believes a role is.
struct Current {
    srvname: String,
    online: bool,
    epoch: u64,
}

/// The data center's routing records.
#[derive(Default)]
pub struct DataCenter {
    current: BTreeMap<u64, Current>,
}

impl DataCenter {
    /// Answers a request.
    pub fn request(&mut self, message: NodeMessage) -> NodeMessage {
        match message.body {
            Some(Body::SetCurrent(note)) => {
                // As `store_sqlite::RoutingStore`: notes of one epoch apply
                // in order, an older epoch's note is ignored.
                let newer = self
                    .current
                    .get(&note.roleid)
                    .is_none_or(|current| note.epoch >= current.epoch);
                if newer {
                    let current = Current {
                        srvname: note.srvname,
                        online: note.online,
                        epoch: note.epoch,
                    };
                    self.current.insert(note.roleid, current);
                }
                reply(Body::Ack(Ack {}))
            }
            Some(Body::GetCurrent(GetCurrent { roleid })) => {
                let answer = match self.current.get(&roleid) {
                    Some(current) => CurrentAnswer {
                        known: true,
                        srvname: current.srvname.clone(),
                        online: current.online,
                    },
                    None => CurrentAnswer::default(),
                };
                reply(Body::CurrentAnswer(answer))
            }
            _ => error(ErrorCode::UnexpectedMessage),
        }
    }
}

fn reply(body: Body) -> NodeMessage {
    NodeMessage { body: Some(body) }
}

fn error(code: ErrorCode) -> NodeMessage {
    reply(Body::Error(NodeError {
        code: code as i32,
        message: "not taken here".to_owned(),
    }))
}
