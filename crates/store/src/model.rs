//! The in-memory model store: one srvno database as ordered maps, for the
//! deterministic simulator and as the reference the SQLite store is compared
//! with.
//!
//! It applies the same ownership rules as every backend (through
//! [`crate::backend`] and `ownership::Rules`), reads no clock, draws no random
//! number and iterates only ordered maps, so a seed replays exactly. It is
//! `Clone` and `PartialEq` so a harness can snapshot and compare it, and it
//! exposes read accessors for the simulator's checker.
//!
//! "Durable" here means "kept in this value": every committed op survives
//! until the value is dropped. Commit-outcome faults are the harness's choice
//! of calling [`PlayerStore::apply`] or not, and of delivering its results.

use std::collections::{BTreeMap, BTreeSet};

use ownership::{OwnerId, Ownership, Refused, Rules};
use routing::{ROLE_SEQ_MAX, RoleId, Srvno};

use crate::backend::{self, HoldersPage, OpHandler, WriteKind};
use crate::{
    BATCH_OPS_MAX, FencedWrite, LedgerEntry, OpOutcome, PlayerOp, PlayerRecord, PlayerStore,
    ReadOnlyPlayer, RowHolder, StoreError,
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
        }
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

    fn renew_lease(
        &mut self,
        db_now_ms: u64,
        roleid: RoleId,
        owner: &OwnerId,
        epoch: u64,
        lease_ttl_ms: u64,
    ) -> Result<u64, Refused> {
        let rules = self.rules;
        let row = self
            .existing_mut(roleid)
            .map_err(|_| backend::renewal_of_missing_role())?;
        let ownership =
            rules.renew(&row.record.ownership, owner, epoch, db_now_ms, lease_ttl_ms)?;
        row.record.ownership = ownership;
        Ok(row.record.ownership.lease_until_ms)
    }

    /// The row of `roleid`, or why this database has none.
    fn existing(&self, roleid: RoleId) -> Result<&ModelRow, StoreError> {
        self.check_held(roleid)?;
        self.rows
            .get(&roleid)
            .ok_or(StoreError::UnknownRole(roleid))
    }

    /// The row of `roleid` for writing, or why this database has none.
    fn existing_mut(&mut self, roleid: RoleId) -> Result<&mut ModelRow, StoreError> {
        self.check_held(roleid)?;
        self.rows
            .get_mut(&roleid)
            .ok_or(StoreError::UnknownRole(roleid))
    }

    fn check_held(&self, roleid: RoleId) -> Result<(), StoreError> {
        let srvno = roleid.home_srvno();
        if self.next_seq_by_srvno.contains_key(&srvno) {
            Ok(())
        } else {
            Err(StoreError::WrongDatabase(srvno))
        }
    }
}

impl OpHandler for ModelStore {
    type Error = StoreError;

    fn create_role(
        &mut self,
        srvno: Srvno,
        account_id: u64,
        name: &str,
    ) -> Result<OpOutcome, StoreError> {
        let next_seq = self
            .next_seq_by_srvno
            .get_mut(&srvno)
            .ok_or(StoreError::WrongDatabase(srvno))?;
        let roleid =
            RoleId::new(srvno, *next_seq).map_err(|_| StoreError::RoleIdsExhausted(srvno))?;
        *next_seq += 1;
        let record = PlayerRecord {
            roleid,
            data: backend::new_player_data(roleid, account_id, name),
            data_version: backend::DATA_VERSION_FIRST,
            ownership: Ownership::free(),
        };
        let row = ModelRow {
            record: record.clone(),
            ledger: Vec::new(),
        };
        let previous = self.rows.insert(roleid, row);
        assert!(previous.is_none(), "role id {roleid} allocated twice");
        self.roles_by_account
            .entry(account_id)
            .or_default()
            .insert(roleid);
        Ok(OpOutcome::Created(record))
    }

    fn claim(
        &mut self,
        db_now_ms: u64,
        roleid: RoleId,
        owner: &OwnerId,
        lease_ttl_ms: u64,
    ) -> Result<OpOutcome, StoreError> {
        let rules = self.rules;
        let row = self.existing_mut(roleid)?;
        let ownership = rules
            .claim(&row.record.ownership, owner, db_now_ms, lease_ttl_ms)
            .map_err(StoreError::Refused)?;
        row.record.ownership = ownership;
        Ok(OpOutcome::Claimed(row.record.clone()))
    }

    fn write(
        &mut self,
        db_now_ms: u64,
        write: &FencedWrite,
        kind: WriteKind<'_>,
    ) -> Result<OpOutcome, StoreError> {
        let rules = self.rules;
        let row = self.existing_mut(write.roleid)?;
        let last_ledger_seq = row.ledger.last().map(|entry| entry.seq);
        let ownership = backend::authorize_write(
            &rules,
            kind,
            write,
            &row.record.ownership,
            last_ledger_seq,
            db_now_ms,
        )?;
        row.record.data = write.data.clone();
        row.record.data_version += 1;
        row.record.ownership = ownership.clone();
        row.ledger.extend_from_slice(&write.ledger);
        Ok(OpOutcome::Written {
            data_version: row.record.data_version,
            ownership,
        })
    }

    fn renew_leases(
        &mut self,
        db_now_ms: u64,
        owner: &OwnerId,
        leases: &[(RoleId, u64)],
        lease_ttl_ms: u64,
    ) -> Result<OpOutcome, StoreError> {
        let renewed = leases
            .iter()
            .map(|&(roleid, epoch)| {
                let lease = self.renew_lease(db_now_ms, roleid, owner, epoch, lease_ttl_ms);
                (roleid, lease)
            })
            .collect();
        Ok(OpOutcome::Renewed(renewed))
    }

    fn read_ownership(&mut self, roleid: RoleId) -> Result<OpOutcome, StoreError> {
        let record = &self.existing(roleid)?.record;
        Ok(OpOutcome::OwnershipRead {
            ownership: record.ownership.clone(),
            data_version: record.data_version,
        })
    }

    fn load_read_only(&mut self, roleid: RoleId) -> Result<OpOutcome, StoreError> {
        let record = &self.existing(roleid)?.record;
        Ok(OpOutcome::Loaded(ReadOnlyPlayer {
            roleid,
            data: record.data.clone(),
            data_version: record.data_version,
            ownership: record.ownership.clone(),
        }))
    }

    fn roles_of_account(&mut self, account_id: u64) -> Result<OpOutcome, StoreError> {
        let roleids = self.roles_by_account.get(&account_id).into_iter().flatten();
        let roles = roleids
            .map(|roleid| (*roleid, self.rows[roleid].record.data.clone()))
            .collect();
        Ok(OpOutcome::Roles(roles))
    }

    fn take_back(&mut self, owner: &OwnerId) -> Result<OpOutcome, StoreError> {
        let rules = self.rules;
        let mut rows = 0;
        for row in self.rows.values_mut() {
            if let Some(freed) = rules.take_back(&row.record.ownership, owner) {
                row.record.ownership = freed;
                rows += 1;
            }
        }
        Ok(OpOutcome::TakenBack { rows })
    }

    fn list_held_elsewhere(
        &mut self,
        db_now_ms: u64,
        page: &HoldersPage<'_>,
    ) -> Result<OpOutcome, StoreError> {
        let (Ok(first), Ok(last)) = (
            RoleId::from_raw(page.first_roleid),
            RoleId::from_raw(page.last_roleid),
        ) else {
            return Ok(OpOutcome::Holders(Vec::new()));
        };
        if first > last {
            return Ok(OpOutcome::Holders(Vec::new())); // the previous page ended the srvno
        }
        let holders = self
            .rows
            .range(first..=last)
            .map(|(roleid, row)| RowHolder::of(*roleid, &row.record.ownership, db_now_ms))
            .filter(|holder| holder.is_elsewhere_than(page.except_node))
            .take(page.limit)
            .collect();
        Ok(OpOutcome::Holders(holders))
    }

    fn read_holder(&mut self, db_now_ms: u64, roleid: RoleId) -> Result<OpOutcome, StoreError> {
        let ownership = &self.existing(roleid)?.record.ownership;
        Ok(OpOutcome::Holders(vec![RowHolder::of(
            roleid, ownership, db_now_ms,
        )]))
    }
}

impl PlayerStore for ModelStore {
    fn apply(&mut self, db_now_ms: u64, ops: &[PlayerOp]) -> Vec<Result<OpOutcome, StoreError>> {
        assert!(
            ops.len() <= BATCH_OPS_MAX,
            "a batch of {} ops exceeds BATCH_OPS_MAX",
            ops.len()
        );
        ops.iter()
            .map(|op| backend::dispatch(self, db_now_ms, op))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use ownership::Holder;

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
