//! Gifts between players (DESIGN §9): what the sender's debit, the
//! receiver's credit and the audit agree on, written once for the game core
//! (a credit to a player it hosts) and the stores (a credit from the
//! receiver's inbox, applied by the claim that loads it).
//!
//! A gift is named by its [`GiftId`]: the sender and the sequence number of
//! the ledger line that debited it, unique per sender. The credit's ledger
//! line names that id in its reason, so the audit pairs every credit with
//! its debit ([`GiftBook`]). A receiver remembers the newest
//! [`GIFTS_REMEMBERED_MAX`] ids it was credited (`PlayerData::gifts_received`)
//! and never credits a remembered id again.

use std::collections::BTreeMap;

use routing::RoleId;
use wire::node::{Gift, GiftId, PlayerData};

use crate::{LedgerEntry, LedgerKind};

/// Gift ids a receiver remembers; the oldest is forgotten when a newer one
/// is credited beyond it. A sender delivers a gift until acknowledged and
/// keeps at most `gamecore::limits::GIFTS_OUTBOX_MAX` unacknowledged, so a
/// redelivery older than this many newer credits of the same receiver
/// cannot come from a live outbox.
pub const GIFTS_REMEMBERED_MAX: usize = 1024;

/// Gifts a receiver's inbox holds at most while it is offline; a sender
/// whose gift finds it full retries later.
pub const INBOX_GIFTS_MAX: usize = 1024;

/// The ledger reason of a gift's debit: `gift:to:<receiver>`.
pub fn debit_reason(to: RoleId) -> String {
    format!("gift:to:{}", to.get())
}

/// The ledger reason of a gift's credit: `gift:from:<sender>:<seq>`.
pub fn credit_reason(id: &GiftId) -> String {
    format!("gift:from:{}:{}", id.from_roleid, id.seq)
}

/// Why a gift cannot be credited.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum GiftError {
    /// The gift is for another role, or has no id.
    #[error("the gift is not for role {0}")]
    NotForThisRole(u64),
    /// The receiver's gold would overflow.
    #[error("gold overflow")]
    GoldOverflow,
}

/// Credits `gift` to the player `data`, once: returns the ledger line made,
/// or `None` when the gift's id was already credited (remembered).
pub fn credit(data: &mut PlayerData, gift: &Gift) -> Result<Option<LedgerEntry>, GiftError> {
    let id = match &gift.id {
        Some(id) if gift.to_roleid == data.roleid => id,
        _ => return Err(GiftError::NotForThisRole(data.roleid)),
    };
    if data.gifts_received.contains(id) {
        return Ok(None);
    }
    let gold = data.gold.checked_add(gift.gold);
    data.gold = gold.ok_or(GiftError::GoldOverflow)?;
    if data.gifts_received.len() >= GIFTS_REMEMBERED_MAX {
        data.gifts_received.remove(0);
    }
    data.gifts_received.push(*id);
    let seq = data.next_ledger_seq;
    data.next_ledger_seq += 1;
    Ok(Some(LedgerEntry {
        seq,
        kind: LedgerKind::Gold,
        delta: i64::try_from(gift.gold).unwrap_or(i64::MAX),
        reason: credit_reason(id),
    }))
}

/// A gift's ledger line, read back from its reason.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GiftLine {
    /// The sender's debit, to `to`.
    Debit {
        /// The receiver.
        to: u64,
    },
    /// The receiver's credit of gift `id`.
    Credit {
        /// The gift.
        id: GiftId,
    },
}

/// The gift a ledger line moves, if it is a gift's debit or credit.
pub fn gift_line(reason: &str) -> Option<GiftLine> {
    if let Some(to) = reason.strip_prefix("gift:to:") {
        return Some(GiftLine::Debit {
            to: to.parse().ok()?,
        });
    }
    let (from, seq) = reason.strip_prefix("gift:from:")?.split_once(':')?;
    let id = GiftId {
        from_roleid: from.parse().ok()?,
        seq: seq.parse().ok()?,
    };
    Some(GiftLine::Credit { id })
}

/// One gift as the ledgers show it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct GiftSeen {
    /// `(receiver, gold)` of the debit, if seen.
    debit: Option<(u64, u64)>,
    /// `(receiver, gold)` of each credit seen.
    credits: Vec<(u64, u64)>,
}

/// Every gift's debit and credits across a zone's ledgers, to pair them up:
/// each credit has its debit (same receiver and gold) and no gift is
/// credited twice. A debit without its credit is a gift still in flight
/// (its sender's outbox holds it).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GiftBook {
    gifts: BTreeMap<(u64, u64), GiftSeen>,
}

/// What pairing a zone's gift lines found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GiftPairing {
    /// Gifts debited.
    pub debited: u64,
    /// Gifts debited and credited once, to the receiver and gold debited.
    pub paired: u64,
    /// Gifts debited and not credited yet.
    pub in_flight: u64,
    /// Gift ids credited more than once, or credited without a matching
    /// debit (another receiver or amount, or no debit at all).
    pub unpaired: Vec<GiftId>,
}

impl GiftBook {
    /// Notes `line` of role `roleid`'s ledger, if it moves a gift.
    pub fn add(&mut self, roleid: RoleId, line: &LedgerEntry) {
        let gold = line.delta.unsigned_abs();
        match gift_line(&line.reason) {
            Some(GiftLine::Debit { to }) => {
                let seen = self.gifts.entry((roleid.get(), line.seq)).or_default();
                seen.debit = Some((to, gold));
            }
            Some(GiftLine::Credit { id }) => {
                let seen = self.gifts.entry((id.from_roleid, id.seq)).or_default();
                seen.credits.push((roleid.get(), gold));
            }
            None => {}
        }
    }

    /// Adds every gift of `other` (another database of the zone).
    pub fn merge(&mut self, other: GiftBook) {
        for (id, seen) in other.gifts {
            let mine = self.gifts.entry(id).or_default();
            mine.debit = mine.debit.or(seen.debit);
            mine.credits.extend(seen.credits);
        }
    }

    /// The gifts debited and not credited yet.
    pub fn in_flight(&self) -> impl Iterator<Item = GiftId> + '_ {
        self.gifts
            .iter()
            .filter(|(_, seen)| seen.debit.is_some() && seen.credits.is_empty())
            .map(|(&(from_roleid, seq), _)| GiftId { from_roleid, seq })
    }

    /// Pairs every credit with its debit.
    pub fn pairing(&self) -> GiftPairing {
        let mut pairing = GiftPairing::default();
        for (&(from_roleid, seq), seen) in &self.gifts {
            pairing.debited += u64::from(seen.debit.is_some());
            match (seen.debit, seen.credits.as_slice()) {
                (Some(_), []) => pairing.in_flight += 1,
                (Some(debit), [credit]) if debit == *credit => pairing.paired += 1,
                _ => pairing.unpaired.push(GiftId { from_roleid, seq }),
            }
        }
        pairing
    }
}

#[cfg(test)]
mod tests;
