//! The ledger audit: a player's stored gold and items must equal the sums of
//! its ledger lines (every change carries a reason and is saved with the
//! data), and the ledger's sequence numbers must be unique and below the
//! data's `next_ledger_seq`; each database's gift lines are collected for
//! the zone-wide pairing of every credit with its debit (`crate::gifts`). [`AuditReport`] adds up one database's audit,
//! whichever backend it is read from; the SQL backends also check that
//! every ledger line names its writer (owner and epoch), that no epoch of a
//! role has two writers and that a role's epochs never go back along its
//! ledger ([`LINES_WITHOUT_WRITER`], [`EPOCHS_WITH_TWO_WRITERS`],
//! [`EPOCHS_GOING_BACK`]).

use std::collections::BTreeMap;

use routing::RoleId;
use wire::node::PlayerData;

use crate::gifts::GiftBook;
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

/// The SQL backends' count of ledger lines that do not name their writer.
pub const LINES_WITHOUT_WRITER: &str = "SELECT count(*) FROM ledger \
     WHERE writer_node IS NULL OR writer_incarnation IS NULL OR writer_epoch IS NULL";
/// The SQL backends' `(roleid, epoch)` pairs whose ledger lines name two or
/// more writers (a fenced write let a second owner in).
pub const EPOCHS_WITH_TWO_WRITERS: &str = "SELECT roleid, writer_epoch FROM ledger \
     WHERE writer_epoch IS NOT NULL GROUP BY roleid, writer_epoch \
     HAVING count(DISTINCT writer_node || ':' || writer_incarnation) > 1 \
     ORDER BY roleid, writer_epoch";

/// The SQL backends' `(roleid, seq)` of ledger lines written at a lower
/// epoch than an earlier line of the same role: a writer that wrote after
/// its successor (a zombie the fence let through).
pub const EPOCHS_GOING_BACK: &str = "SELECT roleid, seq FROM (SELECT roleid, seq, writer_epoch, \
     max(writer_epoch) OVER (PARTITION BY roleid ORDER BY seq \
     ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS earlier FROM ledger) AS lines \
     WHERE writer_epoch < earlier ORDER BY roleid, seq";

/// What an audit of one database found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AuditReport {
    /// Roles read.
    pub roles: u64,
    /// Ledger lines read.
    pub ledger_lines: u64,
    /// Roles whose data does not match their ledger.
    pub mismatches: Vec<(RoleId, AuditMismatch)>,
    /// Ledger lines that do not name their writer (owner and epoch).
    pub lines_without_writer: u64,
    /// `(role, epoch)` pairs whose ledger lines name two writers or more.
    pub epochs_with_two_writers: Vec<(RoleId, u64)>,
    /// `(role, seq)` of lines written at a lower epoch than an earlier line
    /// of the role.
    pub epochs_going_back: Vec<(RoleId, u64)>,
    /// The gift lines read (debits and credits), to pair across the zone's
    /// databases (`GiftBook::merge`, then `GiftBook::pairing`).
    pub gifts: GiftBook,
}

impl AuditReport {
    /// How many things the audit found wrong: mismatched roles, lines
    /// without a writer, epochs with two writers and lines going back.
    pub fn problems(&self) -> usize {
        let unnamed = usize::try_from(self.lines_without_writer).unwrap_or(usize::MAX);
        self.mismatches.len()
            + unnamed
            + self.epochs_with_two_writers.len()
            + self.epochs_going_back.len()
    }

    /// Audits one more role ([`audit_player`]) and adds it to the report.
    pub fn add(&mut self, roleid: RoleId, data: &PlayerData, ledger: &[LedgerEntry]) {
        self.roles += 1;
        self.ledger_lines += ledger.len() as u64;
        for line in ledger {
            self.gifts.add(roleid, line);
        }
        if let Err(mismatch) = audit_player(data, ledger) {
            self.mismatches.push((roleid, mismatch));
        }
    }
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
    fn reports_of_two_databases_pair_a_gift_once_merged() {
        let (sender, receiver) = (
            RoleId::from_raw(1_000_001).unwrap(),
            RoleId::from_raw(2_000_001).unwrap(),
        );
        let mut debit = line(1, LedgerKind::Gold, -5);
        debit.reason = crate::gifts::debit_reason(receiver);
        let mut credit = line(1, LedgerKind::Gold, 5);
        let id = wire::node::GiftId {
            from_roleid: sender.get(),
            seq: 1,
        };
        credit.reason = crate::gifts::credit_reason(&id);
        let (mut home, mut other) = (AuditReport::default(), AuditReport::default());
        home.add(
            sender,
            &data(0, vec![], 2),
            &[line(0, LedgerKind::Gold, 5), debit],
        );
        assert_eq!(home.gifts.pairing().in_flight, 1);
        other.add(receiver, &data(5, vec![], 2), &[credit]);
        home.gifts.merge(other.gifts);
        let pairing = home.gifts.pairing();
        assert_eq!((pairing.paired, pairing.in_flight), (1, 0));
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
