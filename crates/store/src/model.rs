//! The in-memory model store: one srvno database as ordered maps, for the
//! deterministic simulator and as the reference the SQLite store is compared
//! with.
//!
//! It is a [`Rows`] backend: the ops run through the same code as the SQL
//! backends' ([`backend::apply_in_transaction`]), applying the same
//! `ownership::Rules`; only the row reads and writes are maps. It reads no clock, draws no random
//! number and iterates only ordered maps, so a seed replays exactly. It is
//! `Clone` and `PartialEq` so a harness can snapshot and compare it, and it
//! exposes read accessors for the simulator's checker.
//!
//! "Durable" here means "kept in this value": every committed op survives
//! until the value is dropped. Commit-outcome faults are the harness's choice
//! of calling [`PlayerStore::apply`] or not, and of delivering its results.

use std::collections::{BTreeMap, BTreeSet};
use std::convert::Infallible;

use ownership::{Holder, OwnerId, Ownership, Rules};
use routing::{ROLE_SEQ_MAX, RoleId, Srvno};
use wire::node::{Gift, GiftId, PlayerData};

use crate::backend::{self, HoldersPage, Rows, WriteBasis};
use crate::{
    FencedWrite, LedgerEntry, OpOutcome, PlayerOp, PlayerRecord, PlayerStore, RoleExport,
    RowHolder, StoreError, TransferMark, WrittenLine,
};

/// One srvno database (or a merged group of srvnos) held in memory.
#[derive(Clone, Debug, PartialEq)]
pub struct ModelStore {
    /// The rules every write is checked against.
    rules: Rules,
    /// Next role sequence number of each srvno this database holds.
    next_seq_by_srvno: BTreeMap<Srvno, u64>,
    /// The player rows.
    rows: BTreeMap<RoleId, ModelRow>,
    /// The roles of each account (the one a role was created for), for
    /// `RolesOfAccount`.
    roles_by_account: BTreeMap<u64, BTreeSet<RoleId>>,
    /// Each offline receiver's gifts, by `(sender, seq)`.
    inboxes: BTreeMap<RoleId, BTreeMap<(u64, u64), Gift>>,
    /// The rows a transfer marked (转服).
    transfer_marks: BTreeMap<RoleId, TransferMark>,
    /// The writer (owner, epoch) of each ledger line, by role and sequence.
    ledger_writers: BTreeMap<(RoleId, u64), (OwnerId, u64)>,
}

/// A player row and its ledger.
#[derive(Clone, Debug, PartialEq)]
struct ModelRow {
    record: PlayerRecord,
    ledger: Vec<LedgerEntry>,
}

impl ModelStore {
    /// An empty database holding `srvnos`, each with its sequence at 1.
    pub fn new(srvnos: &[Srvno], rules: Rules) -> Self {
        Self {
            rules,
            next_seq_by_srvno: srvnos.iter().map(|&srvno| (srvno, 1)).collect(),
            rows: BTreeMap::new(),
            roles_by_account: BTreeMap::new(),
            inboxes: BTreeMap::new(),
            transfer_marks: BTreeMap::new(),
            ledger_writers: BTreeMap::new(),
        }
    }

    /// The gifts waiting in `roleid`'s inbox, by gift id.
    pub fn inbox_of(&self, roleid: RoleId) -> impl Iterator<Item = &Gift> + '_ {
        self.inboxes
            .get(&roleid)
            .into_iter()
            .flat_map(BTreeMap::values)
    }

    /// The srvnos this database holds, in order.
    pub fn srvnos(&self) -> impl Iterator<Item = Srvno> + '_ {
        self.next_seq_by_srvno.keys().copied()
    }

    /// The row of `roleid`, if this database has it.
    pub fn row(&self, roleid: RoleId) -> Option<&PlayerRecord> {
        self.rows.get(&roleid).map(|row| &row.record)
    }

    /// Every row, ordered by role id.
    pub fn rows(&self) -> impl Iterator<Item = &PlayerRecord> + '_ {
        self.rows.values().map(|row| &row.record)
    }

    /// The ledger of `roleid` in sequence order (empty for an unknown role).
    pub fn ledger(&self, roleid: RoleId) -> &[LedgerEntry] {
        self.rows.get(&roleid).map_or(&[], |row| &row.ledger)
    }

    /// The sequence number the next role of `srvno` gets (`ROLE_SEQ_MAX + 1`
    /// once exhausted), or `None` when this database does not hold `srvno`.
    pub fn next_role_seq(&self, srvno: Srvno) -> Option<u64> {
        self.next_seq_by_srvno.get(&srvno).copied()
    }

    /// Moves the role sequence of `srvno` up to `next_seq` (never down, and at
    /// most to exhaustion); returns the sequence now in force. The operators'
    /// tool after restoring an older copy of a database: it skips the ids
    /// handed out after the copy was taken, so none is reused.
    pub fn advance_role_seq(&mut self, srvno: Srvno, next_seq: u64) -> Result<u64, StoreError> {
        let current = self
            .next_seq_by_srvno
            .get_mut(&srvno)
            .ok_or(StoreError::WrongDatabase(srvno))?;
        *current = (*current).max(next_seq.min(ROLE_SEQ_MAX + 1));
        Ok(*current)
    }

    /// The row of `roleid`, if this database has it (of a srvno it holds,
    /// or transferred in).
    fn existing(&self, roleid: RoleId) -> Option<&ModelRow> {
        self.rows.get(&roleid)
    }

    /// The row of `roleid` for writing; the generic ops only store into rows
    /// they read.
    fn existing_mut(&mut self, roleid: RoleId) -> &mut ModelRow {
        self.rows
            .get_mut(&roleid)
            .unwrap_or_else(|| panic!("role {roleid} is stored before it was read"))
    }
}

impl Rows for ModelStore {
    type Failure = Infallible;

    fn holds(&self, srvno: Srvno) -> bool {
        self.next_seq_by_srvno.contains_key(&srvno)
    }

    fn next_role_seq(&mut self, srvno: Srvno) -> Result<u64, Infallible> {
        Ok(self.next_seq_by_srvno[&srvno])
    }

    fn insert_role(&mut self, record: &PlayerRecord) -> Result<(), Infallible> {
        let roleid = record.roleid;
        self.next_seq_by_srvno
            .insert(roleid.home_srvno(), roleid.seq() + 1);
        let row = ModelRow {
            record: record.clone(),
            ledger: Vec::new(),
        };
        let previous = self.rows.insert(roleid, row);
        assert!(previous.is_none(), "role id {roleid} allocated twice");
        self.roles_by_account
            .entry(record.data.account_id)
            .or_default()
            .insert(roleid);
        Ok(())
    }

    fn record(&mut self, roleid: RoleId) -> Result<Option<PlayerRecord>, Infallible> {
        Ok(self.existing(roleid).map(|row| row.record.clone()))
    }

    fn ownership(&mut self, roleid: RoleId) -> Result<Option<(Ownership, u64)>, Infallible> {
        Ok(self
            .existing(roleid)
            .map(|row| (row.record.ownership.clone(), row.record.data_version)))
    }

    fn write_basis(&mut self, roleid: RoleId) -> Result<Option<WriteBasis>, Infallible> {
        Ok(self.existing(roleid).map(|row| WriteBasis {
            ownership: row.record.ownership.clone(),
            data_version: row.record.data_version,
            last_ledger_seq: row.ledger.last().map(|entry| entry.seq),
        }))
    }

    fn store_ownership(&mut self, roleid: RoleId, ownership: &Ownership) -> Result<(), Infallible> {
        self.existing_mut(roleid).record.ownership = ownership.clone();
        Ok(())
    }

    fn store_write(
        &mut self,
        write: &FencedWrite,
        data_version: u64,
        ownership: &Ownership,
    ) -> Result<(), Infallible> {
        let row = self.existing_mut(write.roleid);
        row.record.data = write.data.clone();
        row.record.data_version = data_version;
        row.record.ownership = ownership.clone();
        row.ledger.extend_from_slice(&write.ledger);
        for line in &write.ledger {
            let writer = (write.owner.clone(), write.epoch);
            self.ledger_writers.insert((write.roleid, line.seq), writer);
        }
        Ok(())
    }

    fn roles_of_account(
        &mut self,
        account_id: u64,
    ) -> Result<Vec<(RoleId, PlayerData)>, Infallible> {
        let roleids = self.roles_by_account.get(&account_id).into_iter().flatten();
        Ok(roleids
            .map(|roleid| (*roleid, self.rows[roleid].record.data.clone()))
            .collect())
    }

    fn held_by_node(&mut self, node: &str) -> Result<Vec<(RoleId, Ownership)>, Infallible> {
        let held = self
            .rows
            .iter()
            .filter(|(_, row)| match &row.record.ownership.holder {
                Holder::Held(owner) => owner.node == node,
                Holder::Arriving(target) => target == node,
                Holder::Free => false,
            });
        Ok(held
            .map(|(roleid, row)| (*roleid, row.record.ownership.clone()))
            .collect())
    }

    fn held_elsewhere(
        &mut self,
        db_now_ms: u64,
        page: &HoldersPage<'_>,
    ) -> Result<Vec<(RoleId, Ownership)>, Infallible> {
        let (Ok(first), Ok(last)) = (
            RoleId::from_raw(page.first_roleid),
            RoleId::from_raw(page.last_roleid),
        ) else {
            return Ok(Vec::new());
        };
        if first > last {
            return Ok(Vec::new()); // the previous page ended the srvno
        }
        Ok(self
            .rows
            .range(first..=last)
            .filter(|(roleid, row)| {
                RowHolder::of(**roleid, &row.record.ownership, db_now_ms)
                    .is_elsewhere_than(page.except_node)
            })
            .take(page.limit)
            .map(|(roleid, row)| (*roleid, row.record.ownership.clone()))
            .collect())
    }

    fn inbox(&mut self, roleid: RoleId) -> Result<Vec<Gift>, Infallible> {
        let gifts = self.inbox_of(roleid).take(crate::gifts::INBOX_GIFTS_MAX);
        Ok(gifts.cloned().collect())
    }

    fn insert_inbox(&mut self, gift: &Gift) -> Result<(), Infallible> {
        let to = RoleId::from_raw(gift.to_roleid).expect("checked by the op");
        let id = gift.id.unwrap_or_default();
        let inbox = self.inboxes.entry(to).or_default();
        inbox.insert((id.from_roleid, id.seq), *gift);
        Ok(())
    }

    fn remove_inbox(&mut self, roleid: RoleId, ids: &[GiftId]) -> Result<(), Infallible> {
        if let Some(inbox) = self.inboxes.get_mut(&roleid) {
            for id in ids {
                inbox.remove(&(id.from_roleid, id.seq));
            }
            if inbox.is_empty() {
                self.inboxes.remove(&roleid);
            }
        }
        Ok(())
    }

    fn transfer_mark(&mut self, roleid: RoleId) -> Result<Option<TransferMark>, Infallible> {
        Ok(self.transfer_marks.get(&roleid).copied())
    }

    fn store_transfer_mark(
        &mut self,
        roleid: RoleId,
        mark: &TransferMark,
    ) -> Result<(), Infallible> {
        assert!(self.rows.contains_key(&roleid), "a mark on a missing row");
        self.transfer_marks.insert(roleid, *mark);
        Ok(())
    }

    fn written_ledger(&mut self, roleid: RoleId) -> Result<Vec<WrittenLine>, Infallible> {
        let lines = self.ledger(roleid).iter().cloned();
        Ok(lines
            .map(|entry| WrittenLine {
                writer: self.ledger_writers.get(&(roleid, entry.seq)).cloned(),
                entry,
            })
            .collect())
    }

    fn insert_imported(&mut self, export: &RoleExport) -> Result<(), Infallible> {
        let record = &export.record;
        let row = ModelRow {
            record: record.clone(),
            ledger: export
                .ledger
                .iter()
                .map(|line| line.entry.clone())
                .collect(),
        };
        let previous = self.rows.insert(record.roleid, row);
        assert!(previous.is_none(), "role {} imported twice", record.roleid);
        for line in &export.ledger {
            if let Some(writer) = &line.writer {
                let key = (record.roleid, line.entry.seq);
                self.ledger_writers.insert(key, writer.clone());
            }
        }
        self.roles_by_account
            .entry(record.data.account_id)
            .or_default()
            .insert(record.roleid);
        Ok(())
    }
}

impl PlayerStore for ModelStore {
    fn apply(&mut self, db_now_ms: u64, ops: &[PlayerOp]) -> Vec<Result<OpOutcome, StoreError>> {
        let rules = self.rules;
        backend::answer_batch(ops, || {
            let applied = backend::apply_in_transaction(self, rules, db_now_ms, ops);
            Ok(applied.unwrap_or_else(|never| match never {}))
        })
    }
}

#[cfg(test)]
mod tests {
    use ownership::OwnerId;

    use super::*;

    fn srvno() -> Srvno {
        Srvno::new(1).unwrap()
    }

    #[test]
    fn a_snapshot_compares_equal_until_the_store_moves_on() {
        let mut store = ModelStore::new(&[srvno()], Rules::default());
        let create = PlayerOp::CreateRole {
            srvno: srvno(),
            account_id: 1,
            name: "ann".to_owned(),
        };
        let Ok(OpOutcome::Created(created)) = store.apply(0, &[create]).remove(0) else {
            panic!("create failed");
        };
        let snapshot = store.clone();
        assert_eq!(snapshot, store);

        let owner = OwnerId {
            node: "gs1".to_owned(),
            incarnation: 1,
        };
        let claim = PlayerOp::Claim {
            roleid: created.roleid,
            owner: owner.clone(),
            lease_ttl_ms: 10,
        };
        assert!(store.apply(5, &[claim])[0].is_ok());
        assert_ne!(snapshot, store);
        assert_eq!(snapshot.row(created.roleid), Some(&created));
        let row = store.row(created.roleid).unwrap();
        assert_eq!(row.ownership.holder, Holder::Held(owner));
        assert_eq!(store.rows().count(), 1);
        assert!(store.ledger(created.roleid).is_empty());
        assert_eq!(store.next_role_seq(srvno()), Some(2));
        assert_eq!(store.srvnos().collect::<Vec<_>>(), vec![srvno()]);
    }
}
