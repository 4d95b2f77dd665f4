//! One-time tokens (DESIGN §6 step 2, §11): 128 random bits, bound to what
//! they admit, valid until an expiry, redeemed at most once.
//!
//! A redemption that fails changes nothing: the book checks what the token
//! admits (its role, for a crossing token) before it marks the token used, so
//! a wrong role never burns the token of the right one (DESIGN §6).
//!
//! The book remembers a redeemed token until [`REDEEMED_MEMORY_MS`](crate::limits::REDEEMED_MEMORY_MS) past its
//! expiry, so a replay is told `Used` (later `Unknown`): either way it admits
//! nobody. Remembering it past the expiry matters because the grant itself
//! can be delivered twice (a duplicated or retried `GrantLogin` or `Prepare`,
//! possibly seconds late): re-issuing a forgotten token would let it be
//! redeemed a second time. Bounded by `tokens_max`: a full book refuses new
//! tokens instead of growing.

use std::collections::BTreeMap;

use routing::RoleId;
use wire::client::CrossContext;

use crate::Mutations;
use crate::limits::{REDEEMED_MEMORY_MS, TOKEN_BYTES};

/// What a token admits.
#[derive(Clone, Debug, PartialEq)]
pub enum Grant {
    /// A login from the account center: this account may pick or create a role.
    Login {
        /// The account.
        account_id: u64,
    },
    /// A crossing: this role may enter, carrying its home and context.
    Crossing {
        /// The role.
        roleid: RoleId,
        /// The role's home server name.
        home_srvname: String,
        /// The seed's `player_data`.
        context: CrossContext,
    },
}

/// Why a token admits nobody.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// Never issued here, or forgotten after its expiry.
    #[error("unknown token")]
    Unknown,
    /// Past its expiry.
    #[error("token expired")]
    Expired,
    /// Already redeemed once.
    #[error("token already used")]
    Used,
    /// The book is full; try again later.
    #[error("too many outstanding tokens")]
    Full,
    /// A crossing token presented for another role.
    #[error("token was issued for another role")]
    WrongRole,
}

#[derive(Clone, Debug)]
struct Entry {
    grant: Grant,
    expires_at_ms: u64,
    used: bool,
}

/// Outstanding tokens of one node.
#[derive(Clone, Debug)]
pub struct TokenBook {
    entries: BTreeMap<u128, Entry>,
    /// Entries not redeemed yet (expired ones until [`TokenBook::expire`]).
    unused: usize,
    tokens_max: usize,
    /// Deliberate bug for the simulator: a redeemed token stays valid.
    reusable: bool,
    /// Deliberate bug for the simulator: a crossing token admits any role.
    admits_any_role: bool,
}

impl TokenBook {
    /// An empty book holding at most `tokens_max` tokens, with the token
    /// bugs of `mutations` (none in production).
    pub fn new(tokens_max: usize, mutations: Mutations) -> Self {
        Self {
            entries: BTreeMap::new(),
            unused: 0,
            tokens_max,
            reusable: mutations.reusable_tokens,
            admits_any_role: mutations.crossing_token_admits_any_role,
        }
    }

    /// Records `token` as admitting `grant` until `expires_at_ms`.
    pub fn issue(
        &mut self,
        token: u128,
        grant: Grant,
        expires_at_ms: u64,
    ) -> Result<(), TokenError> {
        if self.entries.len() >= self.tokens_max {
            return Err(TokenError::Full);
        }
        // 128 random bits do not collide; a duplicate is a replayed issue.
        if self.entries.contains_key(&token) {
            return Err(TokenError::Used);
        }
        self.entries.insert(
            token,
            Entry {
                grant,
                expires_at_ms,
                used: false,
            },
        );
        self.unused += 1;
        Ok(())
    }

    /// Redeems `token` at `now_ms` for a client that presents
    /// `presented_roleid` (a crossing token admits only its own role): the
    /// grant the first time, an error after. A refused redemption leaves the
    /// token as it was.
    pub fn redeem(
        &mut self,
        token: u128,
        now_ms: u64,
        presented_roleid: Option<RoleId>,
    ) -> Result<Grant, TokenError> {
        let entry = self.entries.get_mut(&token).ok_or(TokenError::Unknown)?;
        if let Grant::Crossing { roleid, .. } = &entry.grant
            && presented_roleid != Some(*roleid)
            && !self.admits_any_role
        {
            return Err(TokenError::WrongRole);
        }
        if entry.used {
            return Err(TokenError::Used);
        }
        if now_ms >= entry.expires_at_ms {
            return Err(TokenError::Expired);
        }
        entry.used = !self.reusable;
        if entry.used {
            self.unused -= 1;
        }
        Ok(entry.grant.clone())
    }

    /// Forgets unused tokens past their expiry, and redeemed ones
    /// [`REDEEMED_MEMORY_MS`](crate::limits::REDEEMED_MEMORY_MS) later; returns how many expired unused.
    pub fn expire(&mut self, now_ms: u64) -> usize {
        let before = self.entries.len();
        let mut unused_expired = 0;
        self.entries.retain(|_, entry| {
            if entry.used {
                return now_ms < entry.expires_at_ms.saturating_add(REDEEMED_MEMORY_MS);
            }
            let keep = now_ms < entry.expires_at_ms;
            if !keep {
                unused_expired += 1;
            }
            keep
        });
        debug_assert!(self.entries.len() <= before);
        self.unused -= unused_expired;
        unused_expired
    }

    /// Outstanding tokens, used or not.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Tokens issued and not redeemed yet: each may bring a player, so a
    /// server counts them against its player cap.
    pub fn unused(&self) -> usize {
        self.unused
    }

    /// Whether the book is empty.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// Parses a token from its [`TOKEN_BYTES`] wire bytes.
pub fn token_from_bytes(bytes: &[u8]) -> Option<u128> {
    let bytes: [u8; TOKEN_BYTES] = bytes.try_into().ok()?;
    Some(u128::from_be_bytes(bytes))
}

/// The [`TOKEN_BYTES`] wire bytes of a token.
pub fn token_to_bytes(token: u128) -> Vec<u8> {
    token.to_be_bytes().to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn login() -> Grant {
        Grant::Login { account_id: 1 }
    }

    fn role(raw: u64) -> RoleId {
        RoleId::from_raw(raw).unwrap()
    }

    fn crossing(roleid: u64) -> Grant {
        Grant::Crossing {
            roleid: role(roleid),
            home_srvname: "gs1".into(),
            context: CrossContext::default(),
        }
    }

    /// A book of eight tokens with the bugs of `mutations`.
    fn book(mutations: Mutations) -> TokenBook {
        TokenBook::new(8, mutations)
    }

    #[test]
    fn a_token_is_redeemed_once() {
        let mut book = book(Mutations::default());
        book.issue(7, login(), 100).unwrap();
        assert_eq!(book.redeem(7, 50, None), Ok(login()));
        assert_eq!(book.redeem(7, 51, None), Err(TokenError::Used));
        assert_eq!(book.redeem(8, 51, None), Err(TokenError::Unknown));
    }

    #[test]
    fn an_expired_token_admits_nobody_and_is_forgotten() {
        let mut book = book(Mutations::default());
        book.issue(7, login(), 100).unwrap();
        assert_eq!(book.redeem(7, 100, None), Err(TokenError::Expired));
        assert_eq!(book.expire(100), 1);
        assert!(book.is_empty());
        assert_eq!(book.redeem(7, 100, None), Err(TokenError::Unknown));
    }

    #[test]
    fn a_grant_delivered_again_after_the_expiry_cannot_re_arm_a_redeemed_token() {
        let mut book = book(Mutations::default());
        book.issue(7, login(), 100).unwrap();
        assert!(book.redeem(7, 50, None).is_ok());
        assert_eq!(
            book.expire(100 + 4_000),
            0,
            "a redeemed token did not expire unused"
        );
        assert_eq!(
            book.issue(7, login(), 4_200),
            Err(TokenError::Used),
            "the late duplicate grant"
        );
        assert_eq!(book.redeem(7, 4_150, None), Err(TokenError::Used));
        book.expire(100 + REDEEMED_MEMORY_MS);
        assert!(book.is_empty(), "forgotten in the end");
    }

    #[test]
    fn a_crossing_token_presented_for_another_role_is_refused_and_not_burnt() {
        let mut book = book(Mutations::default());
        book.issue(7, crossing(1_000_001), 100).unwrap();
        for wrong in [None, Some(role(1_000_002))] {
            assert_eq!(book.redeem(7, 10, wrong), Err(TokenError::WrongRole));
        }
        assert_eq!(
            book.redeem(7, 11, Some(role(1_000_001))),
            Ok(crossing(1_000_001))
        );
        assert_eq!(
            book.redeem(7, 12, Some(role(1_000_001))),
            Err(TokenError::Used)
        );
    }

    #[test]
    fn the_any_role_mutation_admits_a_crossing_token_for_another_role() {
        let mut book = book(Mutations {
            crossing_token_admits_any_role: true,
            ..Mutations::default()
        });
        book.issue(7, crossing(1_000_001), 100).unwrap();
        assert!(book.redeem(7, 10, Some(role(1_000_002))).is_ok());
    }

    #[test]
    fn a_full_book_refuses_new_tokens() {
        let mut book = TokenBook::new(1, Mutations::default());
        book.issue(1, login(), 100).unwrap();
        assert_eq!(book.issue(2, login(), 100), Err(TokenError::Full));
    }

    #[test]
    fn the_reusable_mutation_admits_twice() {
        let mut book = book(Mutations {
            reusable_tokens: true,
            ..Mutations::default()
        });
        book.issue(7, login(), 100).unwrap();
        assert!(book.redeem(7, 1, None).is_ok());
        assert!(book.redeem(7, 2, None).is_ok());
    }

    #[test]
    fn tokens_round_trip_through_bytes() {
        let token = 0x0123_4567_89ab_cdef_0011_2233_4455_6677;
        assert_eq!(token_from_bytes(&token_to_bytes(token)), Some(token));
        assert_eq!(token_from_bytes(&[1, 2, 3]), None);
    }
}
