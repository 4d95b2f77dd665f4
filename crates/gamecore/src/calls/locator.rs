//! What a game server remembers of players it does not serve, so a call
//! that reaches it can be pointed on: where a player it handed off went
//! (the newest [`DEPARTURES_MAX`]), and which players a crossing token
//! admits here soon (until the token's expiry). Both are hints; the caller
//! bounds how far it follows them.

use std::collections::{BTreeMap, VecDeque};

use routing::RoleId;

use crate::limits::DEPARTURES_MAX;

/// Departures and expected arrivals of one server.
#[derive(Clone, Debug, Default)]
pub(crate) struct Locator {
    departed: BTreeMap<RoleId, String>,
    /// Departures oldest first, to forget the oldest beyond the bound.
    departure_order: VecDeque<RoleId>,
    /// Players a crossing token admits here, with the token's expiry.
    arriving: BTreeMap<RoleId, u64>,
}

impl Locator {
    /// `roleid` was handed off to `target` (durably).
    pub(crate) fn departed(&mut self, roleid: RoleId, target: &str) {
        if self.departed.insert(roleid, target.to_owned()).is_none() {
            self.departure_order.push_back(roleid);
        }
        while self.departure_order.len() > DEPARTURES_MAX {
            if let Some(oldest) = self.departure_order.pop_front() {
                self.departed.remove(&oldest);
            }
        }
    }

    /// Where `roleid` went, if it left from here.
    pub(crate) fn departure(&self, roleid: RoleId) -> Option<&str> {
        self.departed.get(&roleid).map(String::as_str)
    }

    /// A crossing token admits `roleid` here until `expires_at_ms`. Only a
    /// token the token book took is recorded, so the token bound holds here.
    pub(crate) fn arriving(&mut self, roleid: RoleId, expires_at_ms: u64) {
        self.arriving.insert(roleid, expires_at_ms);
    }

    /// Whether `roleid` is expected here at `now_ms`.
    pub(crate) fn is_arriving(&self, roleid: RoleId, now_ms: u64) -> bool {
        self.arriving
            .get(&roleid)
            .is_some_and(|expires_at_ms| now_ms < *expires_at_ms)
    }

    /// `roleid` entered here: no longer expected, no longer departed.
    pub(crate) fn entered(&mut self, roleid: RoleId) {
        self.arriving.remove(&roleid);
        self.departed.remove(&roleid);
    }

    /// Forgets arrivals whose token expired by `now_ms`.
    pub(crate) fn expire(&mut self, now_ms: u64) {
        self.arriving
            .retain(|_, expires_at_ms| now_ms < *expires_at_ms);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn role(seq: u64) -> RoleId {
        RoleId::from_raw(1_000_000 + seq).unwrap()
    }

    #[test]
    fn departures_beyond_the_bound_forget_the_oldest() {
        let mut locator = Locator::default();
        for seq in 1..=DEPARTURES_MAX as u64 + 1 {
            locator.departed(role(seq), "gs2");
        }
        assert_eq!(locator.departure(role(1)), None);
        assert_eq!(locator.departure(role(2)), Some("gs2"));
        assert_eq!(locator.departed.len(), DEPARTURES_MAX);
    }

    #[test]
    fn an_arrival_is_expected_until_its_token_expires_or_it_enters() {
        let mut locator = Locator::default();
        locator.arriving(role(1), 100);
        locator.arriving(role(2), 100);
        assert!(locator.is_arriving(role(1), 99));
        assert!(!locator.is_arriving(role(1), 100));
        locator.entered(role(2));
        assert!(!locator.is_arriving(role(2), 0));
        locator.expire(100);
        assert!(locator.arriving.is_empty());
    }
}
