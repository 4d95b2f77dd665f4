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

use routing::{RoleId, Srvno};
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
    /// A call on `roleid`, whose home is srvno `home` (as the caller's
    /// transfer table routes it), sent first to `hint` if it is a server of
    /// the zone, else home; the first step is `Send(self.target())`. Fails
    /// `BadArguments` if no server of the zone is the role's home.
    pub fn new(
        zone: &ZoneMap,
        roleid: RoleId,
        home: Srvno,
        hint: Option<&str>,
    ) -> Result<Self, CallError> {
        let home = zone.home_srvname(home).ok_or_else(|| {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ServerInfo;
    use routing::Srvno;
    use wire::client::ServerAddress;

    fn zone() -> ZoneMap {
        ZoneMap::new((1..=3).map(|number| ServerInfo {
            address: ServerAddress {
                srvname: format!("gs{number}"),
                ..ServerAddress::default()
            },
            srvnos: vec![Srvno::new(number).unwrap()],
        }))
    }

    fn of_gs1() -> RoleId {
        RoleId::from_raw(1_000_001).unwrap()
    }

    fn answer(status: PlayerCallStatus, moved_to: &str) -> Result<NodeMessage, PeerError> {
        Ok(NodeMessage {
            body: Some(Body::PlayerCallAnswer(PlayerCallAnswer {
                status: status as i32,
                moved_to: moved_to.into(),
                result: b"7".to_vec(),
                ..PlayerCallAnswer::default()
            })),
        })
    }

    #[test]
    fn the_first_target_is_a_hint_of_the_zone_else_home() {
        let route = CallRoute::new(&zone(), of_gs1(), of_gs1().home_srvno(), Some("gs3")).unwrap();
        assert_eq!(route.start(), RouteStep::Send("gs3".into()));
        let route = CallRoute::new(&zone(), of_gs1(), of_gs1().home_srvno(), Some("gs9")).unwrap();
        assert_eq!(route.target(), "gs1");
        let homeless = RoleId::from_raw(9_000_001).unwrap();
        assert!(matches!(
            CallRoute::new(&zone(), homeless, homeless.home_srvno(), None),
            Err(CallError::BadArguments(_))
        ));
    }

    #[test]
    fn moved_is_followed_a_bounded_number_of_times() {
        let mut route = CallRoute::new(&zone(), of_gs1(), of_gs1().home_srvno(), None).unwrap();
        for hop in 0..CALL_HOPS_MAX {
            let to = if hop % 2 == 0 { "gs2" } else { "gs3" };
            let step = route.on_answer(answer(PlayerCallStatus::Moved, to));
            assert_eq!(step, RouteStep::Send(to.into()));
        }
        let step = route.on_answer(answer(PlayerCallStatus::Moved, "gs2"));
        assert_eq!(
            step,
            RouteStep::Failed(CallError::TooManyHops(CALL_HOPS_MAX + 1))
        );
    }

    #[test]
    fn a_crossing_player_is_asked_again_after_a_pause_until_it_arrives_within_a_bound() {
        let mut route =
            CallRoute::new(&zone(), of_gs1(), of_gs1().home_srvno(), Some("gs2")).unwrap();
        let again = RouteStep::SendAfter {
            to: "gs2".into(),
            delay_ms: CALL_CROSSING_RETRY_MS,
        };
        assert_eq!(
            route.on_answer(answer(PlayerCallStatus::Crossing, "")),
            again
        );
        let moved = route.on_answer(answer(PlayerCallStatus::Moved, "gs3"));
        assert_eq!(moved, RouteStep::Send("gs3".into()));
        let done = route.on_answer(answer(PlayerCallStatus::Done, ""));
        assert_eq!(done, RouteStep::Done(b"7".to_vec()));
        let mut route = CallRoute::new(&zone(), of_gs1(), of_gs1().home_srvno(), None).unwrap();
        for _ in 0..CALL_CROSSING_RETRIES_MAX {
            let step = route.on_answer(answer(PlayerCallStatus::Crossing, ""));
            assert!(matches!(step, RouteStep::SendAfter { .. }));
        }
        let step = route.on_answer(answer(PlayerCallStatus::Crossing, ""));
        assert!(matches!(step, RouteStep::Failed(CallError::TooManyHops(_))));
    }

    #[test]
    fn not_here_goes_home_and_after_the_home_was_asked_waits_for_its_mark() {
        let mut route =
            CallRoute::new(&zone(), of_gs1(), of_gs1().home_srvno(), Some("gs2")).unwrap();
        let home = route.on_answer(answer(PlayerCallStatus::NotHere, ""));
        assert_eq!(home, RouteStep::Send("gs1".into()));
        let moved = route.on_answer(answer(PlayerCallStatus::Moved, "gs3"));
        assert_eq!(moved, RouteStep::Send("gs3".into()));
        let again = route.on_answer(answer(PlayerCallStatus::NotHere, ""));
        let home_later = RouteStep::SendAfter {
            to: "gs1".into(),
            delay_ms: CALL_CROSSING_RETRY_MS,
        };
        assert_eq!(again, home_later);
        let offline = route.on_answer(answer(PlayerCallStatus::Offline, ""));
        assert_eq!(offline, RouteStep::Failed(CallError::Offline));
    }

    #[test]
    fn bus_failures_are_typed_and_an_unreachable_hint_falls_back_home() {
        let mut route =
            CallRoute::new(&zone(), of_gs1(), of_gs1().home_srvno(), Some("gs2")).unwrap();
        assert_eq!(
            route.on_answer(Err(PeerError::Unreachable)),
            RouteStep::Send("gs1".into())
        );
        let down = route.on_answer(Err(PeerError::Unreachable));
        assert_eq!(
            down,
            RouteStep::Failed(CallError::Unreachable("gs1".into()))
        );
        let mut route = CallRoute::new(&zone(), of_gs1(), of_gs1().home_srvno(), None).unwrap();
        assert_eq!(
            route.on_answer(Err(PeerError::Timeout)),
            RouteStep::Failed(CallError::Timeout)
        );
        let busy = route.on_answer(Err(PeerError::Remote(ErrorCode::Overloaded)));
        assert_eq!(busy, RouteStep::Failed(CallError::Busy));
        let refusals = [
            (
                PlayerCallStatus::NoSuchMethod,
                CallError::NoSuchMethod(String::new()),
            ),
            (
                PlayerCallStatus::BadArguments,
                CallError::BadArguments(String::new()),
            ),
            (PlayerCallStatus::Refused, CallError::Refused(String::new())),
            (PlayerCallStatus::Fenced, CallError::Fenced),
            (PlayerCallStatus::Busy, CallError::Busy),
        ];
        for (status, error) in refusals {
            assert_eq!(
                route.on_answer(answer(status, "")),
                RouteStep::Failed(error)
            );
        }
    }
}
