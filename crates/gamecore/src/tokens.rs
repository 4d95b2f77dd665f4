//! One-time tokens (DESIGN §6 step 2, §11): 128 random bits, bound to what
//! they admit, valid until an expiry, redeemed at most once.
//!
//! The book remembers a redeemed token until [`REDEEMED_MEMORY_MS`] past its
//! expiry, so a replay is told `Used` (later `Unknown`): either way it admits
//! nobody. Remembering it past the expiry matters because the grant itself
//! can be delivered twice (a duplicated or retried `GrantLogin` or `Prepare`,
//! possibly seconds late): re-issuing a forgotten token would let it be
//! redeemed a second time. Bounded by `tokens_max`: a full book refuses new
//! tokens instead of growing.

use std::collections::BTreeMap;

use routing::RoleId;
use wire::client::CrossContext;

/// How long a redeemed token is remembered after its expiry, so a grant
/// delivered again later cannot re-arm it. Far above any bus delay.
pub const REDEEMED_MEMORY_MS: u64 = 60_000;

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
    tokens_max: usize,
    /// Deliberate bug for the simulator: a redeemed token stays valid.
    reusable: bool,
}

impl TokenBook {
    /// An empty book holding at most `tokens_max` tokens.
    pub fn new(tokens_max: usize, reusable: bool) -> Self {
        Self {
            entries: BTreeMap::new(),
            tokens_max,
            reusable,
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
        Ok(())
    }

    /// Redeems `token` at `now_ms`: the grant the first time, an error after.
    pub fn redeem(&mut self, token: u128, now_ms: u64) -> Result<Grant, TokenError> {
        let entry = self.entries.get_mut(&token).ok_or(TokenError::Unknown)?;
        if entry.used {
            return Err(TokenError::Used);
        }
        if now_ms >= entry.expires_at_ms {
            return Err(TokenError::Expired);
        }
        entry.used = !self.reusable;
        Ok(entry.grant.clone())
    }

    /// Forgets unused tokens past their expiry, and redeemed ones
    /// [`REDEEMED_MEMORY_MS`] later; returns how many expired unused.
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
        unused_expired
    }

    /// Outstanding tokens, used or not.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the book is empty.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// Parses a token from its 16 wire bytes.
pub fn token_from_bytes(bytes: &[u8]) -> Option<u128> {
    let bytes: [u8; 16] = bytes.try_into().ok()?;
    Some(u128::from_be_bytes(bytes))
}

/// The 16 wire bytes of a token.
pub fn token_to_bytes(token: u128) -> Vec<u8> {
    token.to_be_bytes().to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn login() -> Grant {
        Grant::Login { account_id: 1 }
    }

    #[test]
    fn a_token_is_redeemed_once() {
        let mut book = TokenBook::new(8, false);
        book.issue(7, login(), 100).unwrap();
        assert_eq!(book.redeem(7, 50), Ok(login()));
        assert_eq!(book.redeem(7, 51), Err(TokenError::Used));
        assert_eq!(book.redeem(8, 51), Err(TokenError::Unknown));
    }

    #[test]
    fn an_expired_token_admits_nobody_and_is_forgotten() {
        let mut book = TokenBook::new(8, false);
        book.issue(7, login(), 100).unwrap();
        assert_eq!(book.redeem(7, 100), Err(TokenError::Expired));
        assert_eq!(book.expire(100), 1);
        assert!(book.is_empty());
        assert_eq!(book.redeem(7, 100), Err(TokenError::Unknown));
    }

    #[test]
    fn a_grant_delivered_again_after_the_expiry_cannot_re_arm_a_redeemed_token() {
        let mut book = TokenBook::new(8, false);
        book.issue(7, login(), 100).unwrap();
        assert!(book.redeem(7, 50).is_ok());
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
        assert_eq!(book.redeem(7, 4_150), Err(TokenError::Used));
        book.expire(100 + REDEEMED_MEMORY_MS);
        assert!(book.is_empty(), "forgotten in the end");
    }

    #[test]
    fn a_full_book_refuses_new_tokens() {
        let mut book = TokenBook::new(1, false);
        book.issue(1, login(), 100).unwrap();
        assert_eq!(book.issue(2, login(), 100), Err(TokenError::Full));
    }

    #[test]
    fn the_reusable_mutation_admits_twice() {
        let mut book = TokenBook::new(8, true);
        book.issue(7, login(), 100).unwrap();
        assert!(book.redeem(7, 1).is_ok());
        assert!(book.redeem(7, 2).is_ok());
    }

    #[test]
    fn tokens_round_trip_through_bytes() {
        let token = 0x0123_4567_89ab_cdef_0011_2233_4455_6677;
        assert_eq!(token_from_bytes(&token_to_bytes(token)), Some(token));
        assert_eq!(token_from_bytes(&[1, 2, 3]), None);
    }
}
