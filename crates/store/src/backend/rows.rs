//! The ops of a database backend, written once over the row reads and
//! writes it provides ([`Rows`]): every SQL backend (SQLite, PostgreSQL)
//! runs the same code from the loaded row to the stored one, so they
//! cannot drift apart, and a backend only loads rows and stores what the
//! rules return.
//!
//! [`apply_in_transaction`] runs a batch through [`dispatch`] inside the
//! backend's open transaction: a refused op answers its [`StoreError`] and
//! the batch goes on; a database failure (`Rows::Failure`) ends the batch,
//! which the backend then rolls back.

use ownership::{OwnerId, Ownership, Refused, Rules};
use routing::{RoleId, Srvno};
use wire::node::{Gift, GiftId, PlayerData};

use super::{HoldersPage, OpHandler, WriteKind, dispatch};
use crate::{
    BATCH_OPS_MAX, FencedWrite, OpOutcome, PlayerOp, PlayerRecord, ReadOnlyPlayer, RoleExport,
    RowHolder, StoreError, TransferMark, WrittenLine, gifts,
};

/// What a fenced write is checked against.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WriteBasis {
    /// The row's ownership columns.
    pub ownership: Ownership,
    /// The row's data version.
    pub data_version: u64,
    /// The highest stored ledger line of the role.
    pub last_ledger_seq: Option<u64>,
}

/// The row reads and writes of one batch's transaction. `None` from a read:
/// the role has no row. Every method may fail with the database's own
/// `Failure`, which fails the whole batch.
pub trait Rows {
    /// A database failure or a malformed stored value.
    type Failure;
    /// Whether this database holds `srvno`.
    fn holds(&self, srvno: Srvno) -> bool;
    /// The sequence number the next role of `srvno` gets (a srvno it holds).
    fn next_role_seq(&mut self, srvno: Srvno) -> Result<u64, Self::Failure>;
    /// Inserts a new role's row and moves its srvno's sequence past it.
    fn insert_role(&mut self, record: &PlayerRecord) -> Result<(), Self::Failure>;
    /// The whole row.
    fn record(&mut self, roleid: RoleId) -> Result<Option<PlayerRecord>, Self::Failure>;
    /// The ownership columns and the data version, without the data.
    fn ownership(&mut self, roleid: RoleId) -> Result<Option<(Ownership, u64)>, Self::Failure>;
    /// What a fenced write of `roleid` is checked against.
    fn write_basis(&mut self, roleid: RoleId) -> Result<Option<WriteBasis>, Self::Failure>;
    /// Stores new ownership columns in an existing row.
    fn store_ownership(
        &mut self,
        roleid: RoleId,
        ownership: &Ownership,
    ) -> Result<(), Self::Failure>;
    /// Stores an authorized write: its data at `data_version`, `ownership`,
    /// and its ledger lines appended.
    fn store_write(
        &mut self,
        write: &FencedWrite,
        data_version: u64,
        ownership: &Ownership,
    ) -> Result<(), Self::Failure>;
    /// `(role, data)` of the roles of `account_id`, ordered by role id.
    fn roles_of_account(
        &mut self,
        account_id: u64,
    ) -> Result<Vec<(RoleId, PlayerData)>, Self::Failure>;
    /// `(role, ownership)` of the rows whose owner or handoff target is
    /// `node`.
    fn held_by_node(&mut self, node: &str) -> Result<Vec<(RoleId, Ownership)>, Self::Failure>;
    /// `(role, ownership)` of the rows of `page` with an owner or handoff
    /// target other than `page.except_node` and a lease live at
    /// `db_now_ms`, ordered by role id, at most `page.limit`.
    fn held_elsewhere(
        &mut self,
        db_now_ms: u64,
        page: &HoldersPage<'_>,
    ) -> Result<Vec<(RoleId, Ownership)>, Self::Failure>;
    /// The gifts in `roleid`'s inbox, ordered by gift id, at most
    /// [`crate::gifts::INBOX_GIFTS_MAX`].
    fn inbox(&mut self, roleid: RoleId) -> Result<Vec<Gift>, Self::Failure>;
    /// Puts `gift` in the inbox of `gift.to_roleid` (not there yet).
    fn insert_inbox(&mut self, gift: &Gift) -> Result<(), Self::Failure>;
    /// Removes the gifts `ids` from `roleid`'s inbox.
    fn remove_inbox(&mut self, roleid: RoleId, ids: &[GiftId]) -> Result<(), Self::Failure>;
    /// The transfer mark of `roleid`'s row, if a transfer marked it.
    fn transfer_mark(&mut self, roleid: RoleId) -> Result<Option<TransferMark>, Self::Failure>;
    /// Stores the transfer mark of an existing row.
    fn store_transfer_mark(
        &mut self,
        roleid: RoleId,
        mark: &TransferMark,
    ) -> Result<(), Self::Failure>;
    /// The whole ledger of `roleid` with each line's writer, in sequence
    /// order.
    fn written_ledger(&mut self, roleid: RoleId) -> Result<Vec<WrittenLine>, Self::Failure>;
    /// Inserts a transferred role's row and ledger as exported, moving no
    /// srvno sequence.
    fn insert_imported(&mut self, export: &RoleExport) -> Result<(), Self::Failure>;
}

/// Why one op of a batch did not succeed.
#[derive(Debug)]
pub enum OpError<F> {
    /// Refused or invalid: this op wrote nothing and the batch goes on.
    Store(StoreError),
    /// The database failed: the whole batch fails.
    Failed(F),
}

impl<F> From<StoreError> for OpError<F> {
    fn from(error: StoreError) -> Self {
        Self::Store(error)
    }
}

/// Applies `ops` in order through `rows`, inside the backend's transaction,
/// at database time `db_now_ms`; one result per op, or the failure that
/// ended the batch (the backend rolls back: nothing of it is written).
pub fn apply_in_transaction<R: Rows>(
    rows: &mut R,
    rules: Rules,
    db_now_ms: u64,
    ops: &[PlayerOp],
) -> Result<Vec<Result<OpOutcome, StoreError>>, R::Failure> {
    let mut handler = RowOps { rows, rules };
    let mut results = Vec::with_capacity(ops.len());
    for op in ops {
        match dispatch(&mut handler, db_now_ms, op) {
            Ok(outcome) => results.push(Ok(outcome)),
            Err(OpError::Store(error)) => results.push(Err(error)),
            Err(OpError::Failed(failure)) => return Err(failure),
        }
    }
    Ok(results)
}

/// What every backend's `PlayerStore::apply` does around its batch: checks
/// its size (at most [`BATCH_OPS_MAX`]), answers an empty batch without
/// running it, and answers every op with the error that failed the batch.
pub fn answer_batch(
    ops: &[PlayerOp],
    run: impl FnOnce() -> Result<Vec<Result<OpOutcome, StoreError>>, StoreError>,
) -> Vec<Result<OpOutcome, StoreError>> {
    assert!(
        ops.len() <= BATCH_OPS_MAX,
        "a batch of {} ops exceeds BATCH_OPS_MAX",
        ops.len()
    );
    if ops.is_empty() {
        return Vec::new();
    }
    run().unwrap_or_else(|error| ops.iter().map(|_| Err(error.clone())).collect())
}

/// The [`OpHandler`] of a [`Rows`] backend.
struct RowOps<'a, R> {
    rows: &'a mut R,
    rules: Rules,
}

type OpResult<F> = Result<OpOutcome, OpError<F>>;

impl<R: Rows> RowOps<'_, R> {
    /// Why a role has no row here: unknown, or of a srvno this database
    /// does not hold (a transferred role's row is found wherever it is).
    fn missing(&self, roleid: RoleId) -> StoreError {
        missing(&*self.rows, roleid)
    }

    fn record(&mut self, roleid: RoleId) -> Result<PlayerRecord, OpError<R::Failure>> {
        let record = self.rows.record(roleid).map_err(OpError::Failed)?;
        Ok(record.ok_or_else(|| self.missing(roleid))?)
    }

    fn ownership(&mut self, roleid: RoleId) -> Result<(Ownership, u64), OpError<R::Failure>> {
        let ownership = self.rows.ownership(roleid).map_err(OpError::Failed)?;
        Ok(ownership.ok_or_else(|| self.missing(roleid))?)
    }

    /// One lease of a renewal: the new lease, or why not (a role this
    /// database has no row for is fenced against a free row).
    fn renew_lease(
        &mut self,
        db_now_ms: u64,
        (roleid, epoch): (RoleId, u64),
        owner: &OwnerId,
        lease_ttl_ms: u64,
    ) -> Result<Result<u64, Refused>, R::Failure> {
        let current = match self.ownership(roleid) {
            Ok((current, _)) => current,
            Err(OpError::Store(_)) => return Ok(Err(super::renewal_of_missing_role())),
            Err(OpError::Failed(failure)) => return Err(failure),
        };
        match self
            .rules
            .renew(&current, owner, epoch, db_now_ms, lease_ttl_ms)
        {
            Ok(renewed) => {
                self.rows.store_ownership(roleid, &renewed)?;
                Ok(Ok(renewed.lease_until_ms))
            }
            Err(refused) => Ok(Err(refused)),
        }
    }
}

impl<R: Rows> RowOps<'_, R> {
    /// Credits the gifts of `inbox` to the row a claim by `owner` just
    /// gave it (each once, by gift id), written at the claim's epoch with
    /// the new ownership, and removes them from the inbox. A gift that
    /// cannot be credited (the gold would overflow) stays there.
    fn credit_inbox(
        &mut self,
        record: &mut PlayerRecord,
        owner: &OwnerId,
        inbox: &[Gift],
    ) -> Result<(), R::Failure> {
        let base_version = record.data_version;
        let mut ledger = Vec::new();
        let mut taken = Vec::new();
        for gift in inbox {
            if let (Ok(line), Some(id)) = (gifts::credit(&mut record.data, gift), &gift.id) {
                ledger.extend(line);
                taken.push(*id);
            }
        }
        record.data_version += 1;
        let write = FencedWrite {
            roleid: record.roleid,
            owner: owner.clone(),
            epoch: record.ownership.epoch,
            base_version,
            data: record.data.clone(),
            ledger,
        };
        self.rows
            .store_write(&write, record.data_version, &record.ownership)?;
        self.rows.remove_inbox(record.roleid, &taken)
    }
}

impl<R: Rows> OpHandler for RowOps<'_, R> {
    type Error = OpError<R::Failure>;

    fn create_role(&mut self, srvno: Srvno, account_id: u64, name: &str) -> OpResult<R::Failure> {
        if !self.rows.holds(srvno) {
            return Err(StoreError::WrongDatabase(srvno).into());
        }
        let next_seq = self.rows.next_role_seq(srvno).map_err(OpError::Failed)?;
        let roleid =
            RoleId::new(srvno, next_seq).map_err(|_| StoreError::RoleIdsExhausted(srvno))?;
        let record = PlayerRecord {
            roleid,
            data: super::new_player_data(roleid, account_id, name),
            data_version: super::DATA_VERSION_FIRST,
            ownership: Ownership::free(),
        };
        self.rows.insert_role(&record).map_err(OpError::Failed)?;
        Ok(OpOutcome::Created(record))
    }

    fn claim(
        &mut self,
        db_now_ms: u64,
        roleid: RoleId,
        owner: &OwnerId,
        lease_ttl_ms: u64,
    ) -> OpResult<R::Failure> {
        let mut record = self.record(roleid)?;
        super::transfers::refuse_marked(&mut *self.rows, roleid)?;
        record.ownership = self
            .rules
            .claim(&record.ownership, owner, db_now_ms, lease_ttl_ms)
            .map_err(StoreError::Refused)?;
        let inbox = self.rows.inbox(roleid).map_err(OpError::Failed)?;
        if inbox.is_empty() {
            let stored = self.rows.store_ownership(roleid, &record.ownership);
            stored.map_err(OpError::Failed)?;
        } else {
            self.credit_inbox(&mut record, owner, &inbox)
                .map_err(OpError::Failed)?;
        }
        Ok(OpOutcome::Claimed(record))
    }

    fn write(
        &mut self,
        db_now_ms: u64,
        write: &FencedWrite,
        kind: WriteKind<'_>,
    ) -> OpResult<R::Failure> {
        let basis = self
            .rows
            .write_basis(write.roleid)
            .map_err(OpError::Failed)?;
        let basis = basis.ok_or_else(|| self.missing(write.roleid))?;
        let ownership = super::authorize_write(
            &self.rules,
            kind,
            write,
            &basis.ownership,
            basis.last_ledger_seq,
            db_now_ms,
        )?;
        let data_version = basis.data_version + 1;
        let stored = self.rows.store_write(write, data_version, &ownership);
        stored.map_err(OpError::Failed)?;
        Ok(OpOutcome::Written {
            data_version,
            ownership,
        })
    }

    fn renew_leases(
        &mut self,
        db_now_ms: u64,
        owner: &OwnerId,
        leases: &[(RoleId, u64)],
        lease_ttl_ms: u64,
    ) -> OpResult<R::Failure> {
        let renewed = leases
            .iter()
            .map(|&lease| {
                let renewed = self.renew_lease(db_now_ms, lease, owner, lease_ttl_ms)?;
                Ok((lease.0, renewed))
            })
            .collect::<Result<Vec<_>, R::Failure>>()
            .map_err(OpError::Failed)?;
        Ok(OpOutcome::Renewed(renewed))
    }

    fn read_ownership(&mut self, roleid: RoleId) -> OpResult<R::Failure> {
        let (ownership, data_version) = self.ownership(roleid)?;
        Ok(OpOutcome::OwnershipRead {
            ownership,
            data_version,
        })
    }

    fn load_read_only(&mut self, roleid: RoleId) -> OpResult<R::Failure> {
        let record = self.record(roleid)?;
        Ok(OpOutcome::Loaded(ReadOnlyPlayer {
            roleid,
            data: record.data,
            data_version: record.data_version,
            ownership: record.ownership,
        }))
    }

    fn roles_of_account(&mut self, account_id: u64) -> OpResult<R::Failure> {
        let roles = self.rows.roles_of_account(account_id);
        Ok(OpOutcome::Roles(roles.map_err(OpError::Failed)?))
    }

    fn take_back(&mut self, owner: &OwnerId) -> OpResult<R::Failure> {
        let held = self
            .rows
            .held_by_node(&owner.node)
            .map_err(OpError::Failed)?;
        let mut rows = 0;
        for (roleid, ownership) in held {
            if let Some(freed) = self.rules.take_back(&ownership, owner) {
                let stored = self.rows.store_ownership(roleid, &freed);
                stored.map_err(OpError::Failed)?;
                rows += 1;
            }
        }
        Ok(OpOutcome::TakenBack { rows })
    }

    fn list_held_elsewhere(
        &mut self,
        db_now_ms: u64,
        page: &HoldersPage<'_>,
    ) -> OpResult<R::Failure> {
        let held = self.rows.held_elsewhere(db_now_ms, page);
        let holders = held
            .map_err(OpError::Failed)?
            .iter()
            .map(|(roleid, ownership)| RowHolder::of(*roleid, ownership, db_now_ms))
            .filter(|holder| holder.is_elsewhere_than(page.except_node))
            .collect();
        Ok(OpOutcome::Holders(holders))
    }

    fn inbox_gift(&mut self, db_now_ms: u64, to: RoleId, gift: &Gift) -> OpResult<R::Failure> {
        let (current, _) = self.ownership(to)?;
        if gift.to_roleid != to.get() || gift.id.is_none() {
            return Err(StoreError::MalformedGift(to).into());
        }
        if current.live_node(db_now_ms).is_some() {
            return Err(StoreError::Refused(Refused::HeldElsewhere { current }).into());
        }
        let inbox = self.rows.inbox(to).map_err(OpError::Failed)?;
        if inbox.iter().any(|held| held.id == gift.id) {
            return Ok(OpOutcome::Inboxed);
        }
        if inbox.len() >= gifts::INBOX_GIFTS_MAX {
            return Err(StoreError::InboxFull(to).into());
        }
        self.rows.insert_inbox(gift).map_err(OpError::Failed)?;
        Ok(OpOutcome::Inboxed)
    }

    fn read_holder(&mut self, db_now_ms: u64, roleid: RoleId) -> OpResult<R::Failure> {
        let (ownership, _) = self.ownership(roleid)?;
        Ok(OpOutcome::Holders(vec![RowHolder::of(
            roleid, &ownership, db_now_ms,
        )]))
    }

    fn export_role(&mut self, db_now_ms: u64, roleid: RoleId, to: Srvno) -> OpResult<R::Failure> {
        let record = self.record(roleid)?;
        super::transfers::export(&mut *self.rows, &self.rules, db_now_ms, record, to)
    }

    fn import_role(&mut self, export: &RoleExport) -> OpResult<R::Failure> {
        super::transfers::import(&mut *self.rows, export)
    }

    fn seal_transfer(&mut self, roleid: RoleId, to: Srvno) -> OpResult<R::Failure> {
        self.ownership(roleid)?;
        super::transfers::seal(&mut *self.rows, roleid, to)
    }
}

/// Why `roleid` has no row in `rows`: unknown, or of a srvno it does not
/// hold.
fn missing<R: Rows + ?Sized>(rows: &R, roleid: RoleId) -> StoreError {
    let srvno = roleid.home_srvno();
    if rows.holds(srvno) {
        StoreError::UnknownRole(roleid)
    } else {
        StoreError::WrongDatabase(srvno)
    }
}
