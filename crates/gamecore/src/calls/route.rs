//! The caller's side of a player call, as a pure state machine: where to
//! send it first, and what each answer means for the next step. Its async
//! drivers (the `game` crate's `ProxyPlayer`, a core that calls a player)
//! only carry out [`RouteStep`]s.
//!
//! The first target is the hint (where the caller last found the player,
//! or the data center's view) if it names a server of the zone, else the
//! player's home server, whose kuafu mark knows where it went. `Moved{to}`
//! is followed at most [`CALL_HOPS_MAX`] times; a player crossing (or a
//! `NotHere` after the home was asked, the home's mark not yet moved) is
//! asked again after [`CALL_CROSSING_RETRY_MS`], at most
//! [`CALL_CROSSING_RETRIES_MAX`] times: a player mid-crossing is reached
//! once it arrived, and no call waits without bound.

use routing::RoleId;
use wire::client::ErrorCode;
use wire::node::node_message::Body;
use wire::node::{NodeMessage, PlayerCallAnswer, PlayerCallStatus};

use crate::limits::{CALL_CROSSING_RETRIES_MAX, CALL_CROSSING_RETRY_MS, CALL_HOPS_MAX};
use crate::{PeerError, ZoneMap};

use super::CallError;

/// What the caller does next.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RouteStep {
    /// Send the call to node `to` now.
    Send(String),
    /// Send the call to node `to` after `delay_ms`.
    SendAfter {
        /// The node.
        to: String,
        /// How long to wait first.
        delay_ms: u64,
    },
    /// The call ended with the method's JSON result.
    Done(Vec<u8>),
    /// The call failed.
    Failed(CallError),
}

/// One call's way to its player.
#[derive(Clone, Debug)]
pub struct CallRoute {
    home: String,
    target: String,
    asked_home: bool,
    hops: u32,
    retries: u32,
}

impl CallRoute {
    /// A call on `roleid`, sent first to `hint` if it is a server of the
    /// zone, else home; the first step is `Send(self.target())`. Fails
    /// `BadArguments` if no server of the zone is the role's home.
    pub fn new(zone: &ZoneMap, roleid: RoleId, hint: Option<&str>) -> Result<Self, CallError> {
        let home = zone.home_srvname(roleid).ok_or_else(|| {
            CallError::BadArguments(format!("no server of the zone is the home of {roleid}"))
        })?;
        let target = hint
            .filter(|hint| zone.server(hint).is_some())
            .unwrap_or(home);
        Ok(Self {
            home: home.to_owned(),
            target: target.to_owned(),
            asked_home: false,
            hops: 0,
            retries: 0,
        })
    }

    /// The node the call goes to now.
    pub fn target(&self) -> &str {
        &self.target
    }

    /// The first step.
    pub fn start(&self) -> RouteStep {
        RouteStep::Send(self.target.clone())
    }

    /// The answer of [`CallRoute::target`] (or the bus's error).
    pub fn on_answer(&mut self, answer: Result<NodeMessage, PeerError>) -> RouteStep {
        self.asked_home |= self.target == self.home;
        match answer {
            Ok(NodeMessage {
                body: Some(Body::PlayerCallAnswer(answer)),
            }) => self.on_call_answer(answer),
            Ok(NodeMessage {
                body: Some(Body::Error(error)),
            }) => self.on_peer_error(PeerError::Remote(
                ErrorCode::try_from(error.code).unwrap_or(ErrorCode::Internal),
            )),
            Ok(other) => RouteStep::Failed(CallError::BadResult(format!("{other:?}"))),
            Err(error) => self.on_peer_error(error),
        }
    }

    fn on_call_answer(&mut self, answer: PlayerCallAnswer) -> RouteStep {
        let failed = |error| RouteStep::Failed(error);
        match answer.status() {
            PlayerCallStatus::Done => RouteStep::Done(answer.result),
            PlayerCallStatus::Moved => self.hop(answer.moved_to),
            PlayerCallStatus::Crossing => self.retry(self.target.clone()),
            PlayerCallStatus::NotHere if self.asked_home => self.retry(self.home.clone()),
            PlayerCallStatus::NotHere => self.hop(self.home.clone()),
            PlayerCallStatus::Offline => failed(CallError::Offline),
            PlayerCallStatus::NoSuchMethod => failed(CallError::NoSuchMethod(answer.message)),
            PlayerCallStatus::BadArguments => failed(CallError::BadArguments(answer.message)),
            PlayerCallStatus::Refused => failed(CallError::Refused(answer.message)),
            PlayerCallStatus::Fenced => failed(CallError::Fenced),
            PlayerCallStatus::Busy => failed(CallError::Busy),
            PlayerCallStatus::Unspecified => failed(CallError::BadResult("no status".into())),
        }
    }

    /// The bus did not deliver, or the node refused the request itself.
    fn on_peer_error(&mut self, error: PeerError) -> RouteStep {
        match error {
            PeerError::Timeout => RouteStep::Failed(CallError::Timeout),
            PeerError::Remote(ErrorCode::Overloaded | ErrorCode::Busy) => {
                RouteStep::Failed(CallError::Busy)
            }
            PeerError::Unreachable | PeerError::Remote(_) if !self.asked_home => {
                self.hop(self.home.clone())
            }
            PeerError::Unreachable | PeerError::Remote(_) => {
                RouteStep::Failed(CallError::Unreachable(self.target.clone()))
            }
        }
    }

    fn hop(&mut self, to: String) -> RouteStep {
        self.hops += 1;
        if self.hops > CALL_HOPS_MAX {
            return RouteStep::Failed(CallError::TooManyHops(self.hops));
        }
        self.target = to.clone();
        RouteStep::Send(to)
    }

    fn retry(&mut self, to: String) -> RouteStep {
        self.retries += 1;
        if self.retries > CALL_CROSSING_RETRIES_MAX {
            return RouteStep::Failed(CallError::TooManyHops(self.hops));
        }
        self.target = to.clone();
        RouteStep::SendAfter {
            to,
            delay_ms: CALL_CROSSING_RETRY_MS,
        }
    }
}
