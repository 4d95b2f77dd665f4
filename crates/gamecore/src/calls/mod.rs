//! The proxy player (DESIGN §9): named player methods a game registers,
//! called on a player wherever it is.
//!
//! - `methods`: the registry ([`Methods`]), the [`PlayerMethod`] trait and
//!   the built-ins ([`AddItems`], [`AddGold`], [`SpendGold`], [`View`]);
//! - `owner`: the owner's side, a `PlayerCall` request served by the game
//!   core (run the method if the player is served here, else say where it
//!   is: `Moved`, `Crossing`, `NotHere`, `Offline`);
//! - `durable`: the durable calls' records in the player's data (applied
//!   once, saved before answered, the first answer remembered);
//! - `locator`: what a server remembers of players that left or are about
//!   to arrive, so it can point a call on;
//! - `route`: the caller's decisions ([`CallRoute`]): where to send first,
//!   following `Moved`, retrying a crossing player, with named bounds.
//!
//! Arguments and results are JSON (serde_json): value types with a version
//! per method ([`PlayerMethod::VERSION`]), readable by any caller (an
//! operator tool, a script binding) without this crate's types.

mod durable;
mod locator;
mod methods;
mod owner;
mod route;

pub use methods::{
    AddGold, AddItems, MethodError, Methods, PlayerMethod, PlayerSnapshot, SpendGold, View,
};
pub use route::{CallRoute, RouteStep};

pub(crate) use durable::DurableWaiters;
pub(crate) use locator::Locator;

use wire::node::node_message::Body;
use wire::node::{NodeMessage, PlayerCall, PlayerCallAnswer, PlayerCallStatus};

/// Why a player call failed, as its caller sees it. Every call ends with a
/// result or one of these, within the caller's deadline.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CallError {
    /// The player is not in the game (its home server holds no mark and
    /// does not serve it): nothing was applied.
    #[error("the player is offline")]
    Offline,
    /// No answer in time: the outcome is unknown (a durable call may be
    /// retried with the same request id).
    #[error("no answer in time")]
    Timeout,
    /// The owner lost the player before the call was durable: the outcome
    /// is unknown (a durable call may be retried with the same request id).
    #[error("the owner lost the player")]
    Fenced,
    /// No method of that name is registered at the owner.
    #[error("no method {0}")]
    NoSuchMethod(String),
    /// The arguments do not decode, are of another version, or are out of
    /// range; nothing was applied.
    #[error("bad arguments: {0}")]
    BadArguments(String),
    /// The method refused by a game rule (e.g. not enough gold); nothing
    /// was applied.
    #[error("refused: {0}")]
    Refused(String),
    /// `Moved` was followed [`crate::limits::CALL_HOPS_MAX`] times, or a
    /// crossing player retried [`crate::limits::CALL_CROSSING_RETRIES_MAX`]
    /// times, without reaching the player.
    #[error("the player was not reached in {0} hops")]
    TooManyHops(u32),
    /// The owner has too many durable calls waiting or remembered, or the
    /// node is overloaded: retry later.
    #[error("busy: retry later")]
    Busy,
    /// The server to ask is not running (or not in the zone).
    #[error("server {0} is unreachable")]
    Unreachable(String),
    /// The result did not decode as the method's result type.
    #[error("bad result: {0}")]
    BadResult(String),
}

/// The request message of a call of `method` with JSON `args` on `roleid`
/// (durable when `request_id` is not empty).
pub fn call_message(
    roleid: routing::RoleId,
    method: &str,
    args_version: u32,
    args: Vec<u8>,
    request_id: Vec<u8>,
) -> NodeMessage {
    NodeMessage {
        body: Some(Body::PlayerCall(PlayerCall {
            roleid: roleid.get(),
            method: method.to_owned(),
            args_version,
            args,
            request_id,
        })),
    }
}

pub(crate) fn answer_message(answer: PlayerCallAnswer) -> NodeMessage {
    NodeMessage {
        body: Some(Body::PlayerCallAnswer(answer)),
    }
}

pub(crate) fn status_answer(
    status: PlayerCallStatus,
    message: impl Into<String>,
) -> PlayerCallAnswer {
    PlayerCallAnswer {
        status: status as i32,
        message: message.into(),
        ..PlayerCallAnswer::default()
    }
}

pub(crate) fn moved_answer(to: &str) -> PlayerCallAnswer {
    PlayerCallAnswer {
        status: PlayerCallStatus::Moved as i32,
        moved_to: to.to_owned(),
        ..PlayerCallAnswer::default()
    }
}
