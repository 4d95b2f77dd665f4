//! The small gameplay module that tests and bots use: gold (never below zero),
//! items by type and count, and level. Every gold or item change carries a
//! reason and makes a ledger line, saved in the same transaction as the data,
//! so totals can be audited (gold == sum of gold ledger deltas).

use store::{LedgerEntry, LedgerKind};
use wire::client::{ItemStack, PlayerView};
use wire::node::PlayerData;

use crate::limits::{GRANT_AMOUNT_MAX, ITEM_TYPES_MAX, LEVEL_MAX, REASON_BYTES_MAX};

/// Why a gameplay call was refused; nothing changed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum GameplayError {
    /// Spending more gold than the player has.
    #[error("not enough gold: have {have}, need {need}")]
    InsufficientGold {
        /// Gold held.
        have: u64,
        /// Gold asked for.
        need: u64,
    },
    /// An amount of zero or above the grant limit, an empty or long reason,
    /// too many item types, or the level cap.
    #[error("bad argument: {0}")]
    BadArgument(String),
}

/// Adds `amount` gold; returns the amount added.
pub fn add_gold(
    data: &mut PlayerData,
    ledger: &mut Vec<LedgerEntry>,
    amount: u64,
    reason: &str,
) -> Result<u64, GameplayError> {
    check_amount(amount, reason)?;
    data.gold = data
        .gold
        .checked_add(amount)
        .ok_or(GameplayError::BadArgument("gold overflow".into()))?;
    record(data, ledger, LedgerKind::Gold, amount as i64, reason);
    Ok(amount)
}

/// Spends `amount` gold; gold never goes below zero.
pub fn spend_gold(
    data: &mut PlayerData,
    ledger: &mut Vec<LedgerEntry>,
    amount: u64,
    reason: &str,
) -> Result<u64, GameplayError> {
    check_amount(amount, reason)?;
    if data.gold < amount {
        return Err(GameplayError::InsufficientGold {
            have: data.gold,
            need: amount,
        });
    }
    data.gold -= amount;
    record(data, ledger, LedgerKind::Gold, -(amount as i64), reason);
    Ok(amount)
}

/// Adds `count` items of `item_type` (seed `itemdb:additembytype`).
pub fn add_item(
    data: &mut PlayerData,
    ledger: &mut Vec<LedgerEntry>,
    item_type: u32,
    count: u64,
    reason: &str,
) -> Result<u64, GameplayError> {
    check_amount(count, reason)?;
    let position = data
        .items
        .binary_search_by_key(&item_type, |stack| stack.item_type);
    match position {
        Ok(index) => {
            let stack = &mut data.items[index];
            stack.count = stack
                .count
                .checked_add(count)
                .ok_or(GameplayError::BadArgument("item overflow".into()))?;
        }
        Err(index) => {
            if data.items.len() >= ITEM_TYPES_MAX {
                return Err(GameplayError::BadArgument(format!(
                    "at most {ITEM_TYPES_MAX} item types"
                )));
            }
            data.items.insert(index, ItemStack { item_type, count });
        }
    }
    record(
        data,
        ledger,
        LedgerKind::Item(item_type),
        count as i64,
        reason,
    );
    Ok(count)
}

/// Raises the level by one.
pub fn level_up(data: &mut PlayerData) -> Result<u64, GameplayError> {
    if data.level >= LEVEL_MAX {
        return Err(GameplayError::BadArgument(format!(
            "level {LEVEL_MAX} is the cap"
        )));
    }
    data.level += 1;
    Ok(1)
}

/// What the client sees of a player.
pub fn view(data: &PlayerData) -> PlayerView {
    PlayerView {
        roleid: data.roleid,
        name: data.name.clone(),
        level: data.level,
        gold: data.gold,
        items: data.items.clone(),
    }
}

fn check_amount(amount: u64, reason: &str) -> Result<(), GameplayError> {
    if amount == 0 || amount > GRANT_AMOUNT_MAX {
        return Err(GameplayError::BadArgument(format!(
            "amount must be 1..={GRANT_AMOUNT_MAX}"
        )));
    }
    if reason.is_empty() || reason.len() > REASON_BYTES_MAX {
        return Err(GameplayError::BadArgument(format!(
            "reason must be 1..={REASON_BYTES_MAX} bytes"
        )));
    }
    Ok(())
}

fn record(
    data: &mut PlayerData,
    ledger: &mut Vec<LedgerEntry>,
    kind: LedgerKind,
    delta: i64,
    reason: &str,
) {
    let seq = data.next_ledger_seq;
    data.next_ledger_seq += 1;
    ledger.push(LedgerEntry {
        seq,
        kind,
        delta,
        reason: reason.to_owned(),
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fresh() -> PlayerData {
        PlayerData {
            roleid: 1_000_001,
            level: 1,
            next_ledger_seq: 1,
            ..PlayerData::default()
        }
    }

    #[test]
    fn gold_is_added_spent_and_never_negative() {
        let (mut data, mut ledger) = (fresh(), Vec::new());
        assert_eq!(add_gold(&mut data, &mut ledger, 10, "test:rpc"), Ok(10));
        assert_eq!(spend_gold(&mut data, &mut ledger, 4, "shop"), Ok(4));
        let refused = spend_gold(&mut data, &mut ledger, 7, "shop");
        assert_eq!(
            refused,
            Err(GameplayError::InsufficientGold { have: 6, need: 7 })
        );
        assert_eq!(data.gold, 6);
        let deltas: i64 = ledger.iter().map(|entry| entry.delta).sum();
        assert_eq!(deltas, 6, "the ledger audits the total");
        assert_eq!(
            ledger.iter().map(|entry| entry.seq).collect::<Vec<_>>(),
            [1, 2]
        );
    }

    #[test]
    fn items_stack_by_type_in_order() {
        let (mut data, mut ledger) = (fresh(), Vec::new());
        add_item(&mut data, &mut ledger, 105001, 10, "test:rpc").unwrap();
        add_item(&mut data, &mut ledger, 2, 1, "drop").unwrap();
        add_item(&mut data, &mut ledger, 105001, 5, "drop").unwrap();
        let items: Vec<_> = data.items.iter().map(|s| (s.item_type, s.count)).collect();
        assert_eq!(items, [(2, 1), (105001, 15)]);
    }

    #[test]
    fn refusals_name_the_limits_they_enforce() {
        let (mut data, mut ledger) = (fresh(), Vec::new());
        let text = |refused: Result<u64, GameplayError>| refused.unwrap_err().to_string();
        let amount = text(add_gold(&mut data, &mut ledger, 0, "x"));
        assert!(amount.contains(&GRANT_AMOUNT_MAX.to_string()), "{amount}");
        let reason = text(add_gold(&mut data, &mut ledger, 1, ""));
        assert!(reason.contains(&REASON_BYTES_MAX.to_string()), "{reason}");
        data.level = LEVEL_MAX;
        let level = text(level_up(&mut data));
        assert!(level.contains(&LEVEL_MAX.to_string()), "{level}");
    }

    #[test]
    fn bad_arguments_change_nothing() {
        let (mut data, mut ledger) = (fresh(), Vec::new());
        assert!(add_gold(&mut data, &mut ledger, 0, "x").is_err());
        assert!(add_gold(&mut data, &mut ledger, 1, "").is_err());
        assert!(add_item(&mut data, &mut ledger, 1, GRANT_AMOUNT_MAX + 1, "x").is_err());
        assert_eq!(data, fresh());
        assert!(ledger.is_empty());
    }
}
