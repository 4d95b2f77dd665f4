//! The ledger audit: a player's stored gold and items must equal the sums of
//! its ledger lines (every change carries a reason and is saved with the
//! data), and the ledger's sequence numbers must be unique and below the
//! data's `next_ledger_seq`.

use std::collections::BTreeMap;

use wire::node::PlayerData;

use crate::{LedgerEntry, LedgerKind};

/// What the audit found wrong with one player.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AuditMismatch {
    /// Stored gold differs from the ledger's sum.
    #[error("gold is {stored} but the ledger sums to {ledger}")]
    Gold {
        /// Gold in the data.
        stored: u64,
        /// Sum of the gold lines.
        ledger: i128,
    },
    /// An item count differs from the ledger's sum.
    #[error("item {item_type} count is {stored} but the ledger sums to {ledger}")]
    Item {
        /// Which item.
        item_type: u32,
        /// Count in the data.
        stored: u64,
        /// Sum of that item's lines.
        ledger: i128,
    },
    /// Two lines share a sequence number, or one is not below the data's
    /// `next_ledger_seq`.
    #[error("ledger line {seq} is duplicated or from the future")]
    Sequence {
        /// The offending sequence number.
        seq: u64,
    },
}

/// Audits one player's data against its whole ledger.
pub fn audit_player(data: &PlayerData, ledger: &[LedgerEntry]) -> Result<(), AuditMismatch> {
    let mut gold: i128 = 0;
    let mut items: BTreeMap<u32, i128> = BTreeMap::new();
    let mut seqs = std::collections::BTreeSet::new();
    for line in ledger {
        if !seqs.insert(line.seq) || line.seq >= data.next_ledger_seq {
            return Err(AuditMismatch::Sequence { seq: line.seq });
        }
        match line.kind {
            LedgerKind::Gold => gold += i128::from(line.delta),
            LedgerKind::Item(item_type) => {
                *items.entry(item_type).or_default() += i128::from(line.delta)
            }
        }
    }
    if gold != i128::from(data.gold) {
        return Err(AuditMismatch::Gold {
            stored: data.gold,
            ledger: gold,
        });
    }
    for stack in &data.items {
        let ledger = items.remove(&stack.item_type).unwrap_or_default();
        if ledger != i128::from(stack.count) {
            return Err(AuditMismatch::Item {
                item_type: stack.item_type,
                stored: stack.count,
                ledger,
            });
        }
    }
    match items.into_iter().find(|(_, sum)| *sum != 0) {
        Some((item_type, ledger)) => Err(AuditMismatch::Item {
            item_type,
            stored: 0,
            ledger,
        }),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wire::client::ItemStack;

    fn line(seq: u64, kind: LedgerKind, delta: i64) -> LedgerEntry {
        LedgerEntry {
            seq,
            kind,
            delta,
            reason: "test".into(),
        }
    }

    fn data(gold: u64, items: Vec<ItemStack>, next_ledger_seq: u64) -> PlayerData {
        PlayerData {
            gold,
            items,
            next_ledger_seq,
            ..PlayerData::default()
        }
    }

    #[test]
    fn a_ledger_that_sums_to_the_data_passes() {
        let ledger = [
            line(1, LedgerKind::Gold, 10),
            line(2, LedgerKind::Gold, -4),
            line(3, LedgerKind::Item(7), 2),
        ];
        let stacks = vec![ItemStack {
            item_type: 7,
            count: 2,
        }];
        assert_eq!(audit_player(&data(6, stacks, 4), &ledger), Ok(()));
    }

    #[test]
    fn duplicated_gold_items_and_sequences_are_found() {
        let ledger = [line(1, LedgerKind::Gold, 10)];
        assert_eq!(
            audit_player(&data(20, vec![], 2), &ledger),
            Err(AuditMismatch::Gold {
                stored: 20,
                ledger: 10
            })
        );
        let stacks = vec![ItemStack {
            item_type: 7,
            count: 1,
        }];
        assert!(matches!(
            audit_player(&data(0, stacks, 1), &[]),
            Err(AuditMismatch::Item { item_type: 7, .. })
        ));
        let twice = [line(1, LedgerKind::Gold, 5), line(1, LedgerKind::Gold, 5)];
        assert_eq!(
            audit_player(&data(10, vec![], 2), &twice),
            Err(AuditMismatch::Sequence { seq: 1 })
        );
        let vanished = [line(1, LedgerKind::Item(3), 2)];
        assert!(matches!(
            audit_player(&data(0, vec![], 2), &vanished),
            Err(AuditMismatch::Item { item_type: 3, .. })
        ));
    }
}
