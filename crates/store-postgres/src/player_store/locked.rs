//! The rows a batch locks at its start, read in the same round trip as the
//! locks and kept current as the batch writes them: the batch's reads of
//! them cost no round trip, and its writes to them wait for the commit's
//! ([`super::deferred`]). They are the rows its claims, writes and renewals
//! touch, so a crossing's handoff or claim is two round trips: the locks
//! with the reads, then the writes with `COMMIT`.
//!
//! Read after the locks, by a statement of its own: under READ COMMITTED
//! each statement sees what was committed when it started, so the read sees
//! every commit made before the locks were granted (the role's ledger
//! lines included, which only a holder of the row's lock appends).

use std::collections::BTreeMap;

use ownership::Ownership;
use prost::Message;
use routing::RoleId;
use store::backend::{WriteBasis, from_column};
use store::{FencedWrite, PlayerRecord, TransferMark};
use tokio_postgres::Row;
use wire::node::PlayerData;

use super::rows::{decode_mark, decode_ownership, decode_roleid};
use crate::connection::Failure;

/// One locked row as this batch last left it.
#[derive(Clone, Debug)]
struct LockedRow {
    ownership: Ownership,
    data_version: u64,
    last_ledger_seq: Option<u64>,
    /// Read only for the rows a claim loads.
    data: Option<PlayerData>,
    /// The row's transfer mark (转服), if a transfer marked it.
    mark: Option<TransferMark>,
    /// Whether the role's gift inbox may hold gifts (it was not empty when
    /// locked, or this batch added one): a lock is taken before a gift is
    /// put in a role's inbox, so an empty one stays empty otherwise.
    inbox_gifts: bool,
}

/// The rows this batch holds locked, by role.
#[derive(Debug, Default)]
pub(super) struct LockedRows(BTreeMap<RoleId, LockedRow>);

impl LockedRows {
    /// The rows of `statements::SELECT_LOCKED`.
    pub(super) fn decode(rows: &[Row]) -> Result<Self, Failure> {
        let mut locked = BTreeMap::new();
        for row in rows {
            let data: Option<Vec<u8>> = row.try_get(7)?;
            let data = data
                .map(|data| PlayerData::decode(data.as_slice()))
                .transpose()?;
            let last_ledger_seq: Option<i64> = row.try_get(6)?;
            let entry = LockedRow {
                ownership: decode_ownership(row, 1)?,
                data_version: from_column(row.try_get(5)?),
                last_ledger_seq: last_ledger_seq.map(from_column),
                data,
                mark: decode_mark(row, 8)?,
                inbox_gifts: row.try_get(10)?,
            };
            locked.insert(decode_roleid(row.try_get(0)?)?, entry);
        }
        Ok(Self(locked))
    }

    /// Whether this batch holds `roleid`'s row locked.
    pub(super) fn holds(&self, roleid: RoleId) -> bool {
        self.0.contains_key(&roleid)
    }

    /// The whole row, when it is locked and its data was read.
    pub(super) fn record(&self, roleid: RoleId) -> Option<PlayerRecord> {
        let row = self.0.get(&roleid)?;
        Some(PlayerRecord {
            roleid,
            data: row.data.clone()?,
            data_version: row.data_version,
            ownership: row.ownership.clone(),
        })
    }

    /// The ownership columns and data version of a locked row.
    pub(super) fn ownership(&self, roleid: RoleId) -> Option<(Ownership, u64)> {
        let row = self.0.get(&roleid)?;
        Some((row.ownership.clone(), row.data_version))
    }

    /// What a write of a locked row is checked against.
    pub(super) fn write_basis(&self, roleid: RoleId) -> Option<WriteBasis> {
        let row = self.0.get(&roleid)?;
        Some(WriteBasis {
            ownership: row.ownership.clone(),
            data_version: row.data_version,
            last_ledger_seq: row.last_ledger_seq,
        })
    }

    /// A locked row's transfer mark (`None` when the row is not locked).
    pub(super) fn transfer_mark(&self, roleid: RoleId) -> Option<Option<TransferMark>> {
        self.0.get(&roleid).map(|row| row.mark)
    }

    /// Whether `roleid`'s row is locked and its gift inbox is empty.
    pub(super) fn inbox_is_empty(&self, roleid: RoleId) -> bool {
        self.0.get(&roleid).is_some_and(|row| !row.inbox_gifts)
    }

    /// Notes a gift put in a locked role's inbox by this batch.
    pub(super) fn note_inbox_gift(&mut self, roleid: RoleId) {
        if let Some(row) = self.0.get_mut(&roleid) {
            row.inbox_gifts = true;
        }
    }

    /// Keeps a locked row's new transfer mark.
    pub(super) fn store_transfer_mark(&mut self, roleid: RoleId, mark: TransferMark) {
        if let Some(row) = self.0.get_mut(&roleid) {
            row.mark = Some(mark);
        }
    }

    /// Keeps a locked row's new ownership.
    pub(super) fn store_ownership(&mut self, roleid: RoleId, ownership: &Ownership) {
        if let Some(row) = self.0.get_mut(&roleid) {
            row.ownership = ownership.clone();
        }
    }

    /// Keeps a locked row's write: its data, version, ownership and ledger.
    pub(super) fn store_write(
        &mut self,
        write: &FencedWrite,
        data_version: u64,
        ownership: &Ownership,
    ) {
        if let Some(row) = self.0.get_mut(&write.roleid) {
            row.ownership = ownership.clone();
            row.data_version = data_version;
            row.data = Some(write.data.clone());
            let appended = write.ledger.iter().map(|line| line.seq).max();
            row.last_ledger_seq = row.last_ledger_seq.max(appended);
        }
    }
}
