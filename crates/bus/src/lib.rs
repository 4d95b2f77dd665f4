//! The bus between the nodes of a zone (DESIGN §4).
//!
//! [`Bus`] is the small trait every node talks through: `request` with a
//! deadline, `publish` and `subscribe`. [`InProcessBus`] runs a whole zone in
//! one process over bounded tokio channels; `bus-nats` puts the same trait on
//! NATS. [`contract`] (feature `contract`) is the suite every implementation
//! passes.
//!
//! Errors a caller can tell apart ([`BusError`]): an unknown node, a node that
//! stopped, an overloaded node, a remote error reply, and a timeout or a
//! transport failure, which are *unknown outcomes*: the request may have been
//! applied.

#[cfg(any(test, feature = "contract"))]
pub mod contract;
mod in_process;

use std::time::Duration;

use futures_util::future::BoxFuture;
use tokio::sync::{mpsc, oneshot};
use wire::client::ErrorCode;
use wire::node::{NodeError, NodeMessage, node_message::Body};

pub use in_process::InProcessBus;

/// Default bound of a node's inbox, in messages.
pub const INBOX_MESSAGES_MAX: usize = 4096;
/// Bound of a topic subscription's queue, in messages; a subscriber that
/// falls this far behind misses messages (topics carry no durable facts).
pub const SUBSCRIPTION_MESSAGES_MAX: usize = 1024;

/// Why a request got no reply.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum BusError {
    /// No node of that name is bound.
    #[error("unknown node {0}")]
    UnknownNode(String),
    /// The node was bound but has stopped (its inbox is closed, or it
    /// dropped the request without answering).
    #[error("node {0} stopped")]
    NodeStopped(String),
    /// The node's inbox is full; the request was not delivered.
    #[error("node {0} is overloaded")]
    Overloaded(String),
    /// The node answered with an error.
    #[error("remote error {code:?}: {message}")]
    Remote {
        /// The typed code.
        code: ErrorCode,
        /// Human-readable detail.
        message: String,
    },
    /// No answer before the deadline: the outcome is unknown (the request may
    /// have been applied).
    #[error("no reply from {0} before the deadline: outcome unknown")]
    Timeout(String),
    /// A node of that name is already bound.
    #[error("node {0} is already bound")]
    AlreadyBound(String),
    /// The bus itself failed (a reply that does not decode, a message the
    /// transport refused, a lost connection): like a timeout, the outcome is
    /// unknown (the request may have been applied).
    #[error("bus transport failed: {0}: outcome unknown")]
    Transport(String),
}

/// A request as a node receives it: who sent it, what, and how to answer.
#[derive(Debug)]
pub struct Incoming {
    /// The sender's node name.
    pub from: String,
    /// The request.
    pub message: NodeMessage,
    reply: oneshot::Sender<NodeMessage>,
}

impl Incoming {
    /// Builds an incoming request whose answer goes to `reply`.
    pub fn new(from: String, message: NodeMessage, reply: oneshot::Sender<NodeMessage>) -> Self {
        Self {
            from,
            message,
            reply,
        }
    }

    /// Answers the request. A requester that gave up is ignored.
    pub fn reply(self, message: NodeMessage) {
        let _gone = self.reply.send(message);
    }

    /// Splits into the message and a detached [`Replier`], so the answer can be
    /// sent later (after a store commit, say).
    pub fn into_parts(self) -> (String, NodeMessage, Replier) {
        (self.from, self.message, Replier(self.reply))
    }
}

/// The answering half of a request, held until the answer is known.
#[derive(Debug)]
pub struct Replier(oneshot::Sender<NodeMessage>);

impl Replier {
    /// Sends the answer.
    pub fn reply(self, message: NodeMessage) {
        let _gone = self.0.send(message);
    }
}

/// A bound node's stream of requests.
pub type Inbox = mpsc::Receiver<Incoming>;
/// A topic subscription's stream of messages.
pub type Subscription = mpsc::Receiver<NodeMessage>;

/// The bus every node talks through.
pub trait Bus: Send + Sync + 'static {
    /// Binds node `name` and returns its inbox (at most `inbox_max` queued,
    /// and at least one: an `inbox_max` of 0 holds one request).
    fn bind(&self, name: &str, inbox_max: usize) -> Result<Inbox, BusError>;
    /// Unbinds `name`: later requests to it fail with `UnknownNode`.
    fn unbind(&self, name: &str);
    /// Sends `message` from `from` to node `to` and waits for the answer at
    /// most `deadline`. An error reply becomes [`BusError::Remote`].
    fn request(
        &self,
        from: &str,
        to: &str,
        message: NodeMessage,
        deadline: Duration,
    ) -> BoxFuture<'static, Result<NodeMessage, BusError>>;
    /// Publishes `message` to every subscriber of `topic` (best effort).
    fn publish(&self, topic: &str, message: NodeMessage);
    /// Subscribes to `topic`.
    fn subscribe(&self, topic: &str) -> Subscription;
}

/// An `Ack` reply.
pub fn ack() -> NodeMessage {
    NodeMessage {
        body: Some(Body::Ack(wire::node::Ack {})),
    }
}

/// An error reply with a typed code.
pub fn error_reply(code: ErrorCode, message: impl Into<String>) -> NodeMessage {
    let error = NodeError {
        code: code as i32,
        message: message.into(),
    };
    NodeMessage {
        body: Some(Body::Error(error)),
    }
}

/// Turns an error reply into [`BusError::Remote`], passing other replies on.
pub fn into_result(reply: NodeMessage) -> Result<NodeMessage, BusError> {
    match reply.body {
        Some(Body::Error(error)) => Err(BusError::Remote {
            code: ErrorCode::try_from(error.code).unwrap_or(ErrorCode::Internal),
            message: error.message,
        }),
        _ => Ok(reply),
    }
}
