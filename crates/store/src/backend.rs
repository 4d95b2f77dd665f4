//! What every backend computes the same way, so the model, SQLite and
//! PostgreSQL stores cannot drift apart.
//!
//! The ownership rules themselves live in `ownership::Rules`; this module only
//! routes each op to its rule ([`dispatch`]), checks the ledger lines a write
//! carries, and builds a new role's data. A backend implements [`Rows`] (load
//! a row, store one) and runs its batches through [`apply_in_transaction`],
//! which authorizes every op ([`authorize_write`] for the fenced writes) and
//! stores what the rules return.

use ownership::{OwnerId, Ownership, Refused, Rules};
use routing::{RoleId, Srvno};
use wire::node::{Gift, PlayerData};

use crate::{FencedWrite, OpOutcome, PlayerOp, RoleExport, StoreError};

mod columns;
mod rows;
mod transfers;

pub use columns::{
    expect_one_row, from_column, holder_columns, holder_from_columns, ledger_kind_columns,
    ledger_kind_from_columns, roleid_column, roleid_from_column, to_column,
};
pub use rows::{OpError, Rows, WriteBasis, answer_batch, apply_in_transaction};

/// What a backend does for each kind of operation, inside its batch;
/// [`dispatch`] routes every [`PlayerOp`] to it, so every backend reads the
/// operations the same way.
pub trait OpHandler {
    /// How an operation fails: at least every [`StoreError`].
    type Error: From<StoreError>;
    /// `PlayerOp::CreateRole`.
    fn create_role(
        &mut self,
        srvno: Srvno,
        account_id: u64,
        name: &str,
    ) -> Result<OpOutcome, Self::Error>;
    /// `PlayerOp::Claim`.
    fn claim(
        &mut self,
        db_now_ms: u64,
        roleid: RoleId,
        owner: &OwnerId,
        lease_ttl_ms: u64,
    ) -> Result<OpOutcome, Self::Error>;
    /// `PlayerOp::Save`, `Handoff` and `Release`.
    fn write(
        &mut self,
        db_now_ms: u64,
        write: &FencedWrite,
        kind: WriteKind<'_>,
    ) -> Result<OpOutcome, Self::Error>;
    /// `PlayerOp::RenewLeases`.
    fn renew_leases(
        &mut self,
        db_now_ms: u64,
        owner: &OwnerId,
        leases: &[(RoleId, u64)],
        lease_ttl_ms: u64,
    ) -> Result<OpOutcome, Self::Error>;
    /// `PlayerOp::ReadOwnership`.
    fn read_ownership(&mut self, roleid: RoleId) -> Result<OpOutcome, Self::Error>;
    /// `PlayerOp::LoadReadOnly`.
    fn load_read_only(&mut self, roleid: RoleId) -> Result<OpOutcome, Self::Error>;
    /// `PlayerOp::RolesOfAccount`.
    fn roles_of_account(&mut self, account_id: u64) -> Result<OpOutcome, Self::Error>;
    /// `PlayerOp::TakeBack`.
    fn take_back(&mut self, owner: &OwnerId) -> Result<OpOutcome, Self::Error>;
    /// `PlayerOp::ListHeldElsewhere`, with `limit` already capped.
    fn list_held_elsewhere(
        &mut self,
        db_now_ms: u64,
        page: &HoldersPage<'_>,
    ) -> Result<OpOutcome, Self::Error>;
    /// `PlayerOp::ReadHolder`.
    fn read_holder(&mut self, db_now_ms: u64, roleid: RoleId) -> Result<OpOutcome, Self::Error>;
    /// `PlayerOp::InboxGift`.
    fn inbox_gift(
        &mut self,
        db_now_ms: u64,
        to: RoleId,
        gift: &Gift,
    ) -> Result<OpOutcome, Self::Error>;
    /// `PlayerOp::ExportRole`.
    fn export_role(
        &mut self,
        db_now_ms: u64,
        roleid: RoleId,
        to: Srvno,
    ) -> Result<OpOutcome, Self::Error>;
    /// `PlayerOp::ImportRole`.
    fn import_role(&mut self, export: &RoleExport) -> Result<OpOutcome, Self::Error>;
    /// `PlayerOp::SealTransfer`.
    fn seal_transfer(&mut self, roleid: RoleId, to: Srvno) -> Result<OpOutcome, Self::Error>;
}

/// One page of `PlayerOp::ListHeldElsewhere`: role ids in
/// `first_roleid..=last_roleid`, of rows held by a node other than
/// `except_node`, at most `limit`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HoldersPage<'a> {
    /// The lowest role id to list (just after the previous page).
    pub first_roleid: u64,
    /// The highest role id of the srvno.
    pub last_roleid: u64,
    /// The asking home server.
    pub except_node: &'a str,
    /// At most this many rows ([`crate::HOLDERS_PAGE_MAX`] at most).
    pub limit: usize,
}

impl<'a> HoldersPage<'a> {
    fn new(srvno: Srvno, except_node: &'a str, after: Option<RoleId>, limit: usize) -> Self {
        let srvno_base = u64::from(srvno.get()) * (routing::ROLE_SEQ_MAX + 1);
        let first_of_srvno = srvno_base + 1;
        let first_roleid = after.map_or(first_of_srvno, |after| {
            (after.get() + 1).max(first_of_srvno)
        });
        Self {
            first_roleid,
            last_roleid: srvno_base + routing::ROLE_SEQ_MAX,
            except_node,
            limit: limit.min(crate::HOLDERS_PAGE_MAX),
        }
    }
}

/// Applies one operation through `handler` at database time `db_now_ms`.
pub fn dispatch<H: OpHandler>(
    handler: &mut H,
    db_now_ms: u64,
    op: &PlayerOp,
) -> Result<OpOutcome, H::Error> {
    match op {
        PlayerOp::CreateRole {
            srvno,
            account_id,
            name,
        } => handler.create_role(*srvno, *account_id, name),
        PlayerOp::Claim {
            roleid,
            owner,
            lease_ttl_ms,
        } => handler.claim(db_now_ms, *roleid, owner, *lease_ttl_ms),
        PlayerOp::Save(write) => handler.write(db_now_ms, write, WriteKind::Save),
        PlayerOp::Handoff {
            write,
            to,
            handoff_ttl_ms,
        } => {
            let kind = WriteKind::Handoff {
                to,
                handoff_ttl_ms: *handoff_ttl_ms,
            };
            handler.write(db_now_ms, write, kind)
        }
        PlayerOp::Release(write) => handler.write(db_now_ms, write, WriteKind::Release),
        PlayerOp::RenewLeases {
            owner,
            leases,
            lease_ttl_ms,
        } => handler.renew_leases(db_now_ms, owner, leases, *lease_ttl_ms),
        PlayerOp::ReadOwnership { roleid } => handler.read_ownership(*roleid),
        PlayerOp::LoadReadOnly { roleid } => handler.load_read_only(*roleid),
        PlayerOp::RolesOfAccount { account_id } => handler.roles_of_account(*account_id),
        PlayerOp::TakeBack { owner } => handler.take_back(owner),
        PlayerOp::ListHeldElsewhere {
            srvno,
            except_node,
            after,
            limit,
        } => {
            let page = HoldersPage::new(*srvno, except_node, *after, *limit);
            handler.list_held_elsewhere(db_now_ms, &page)
        }
        PlayerOp::ReadHolder { roleid } => handler.read_holder(db_now_ms, *roleid),
        PlayerOp::InboxGift { to, gift } => handler.inbox_gift(db_now_ms, *to, gift),
        PlayerOp::ExportRole { roleid, to } => handler.export_role(db_now_ms, *roleid, *to),
        PlayerOp::ImportRole(export) => handler.import_role(export),
        PlayerOp::SealTransfer { roleid, to } => handler.seal_transfer(*roleid, *to),
    }
}

/// The `data_version` of a newly created role.
pub const DATA_VERSION_FIRST: u64 = 1;

/// Which fenced write an operation is, with what decides the ownership it
/// leaves behind.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WriteKind<'a> {
    /// `PlayerOp::Save`: ownership unchanged.
    Save,
    /// `PlayerOp::Handoff`: the row goes to node `to` for `handoff_ttl_ms`.
    Handoff {
        /// The target node's name.
        to: &'a str,
        /// How long the target has to claim.
        handoff_ttl_ms: u64,
    },
    /// `PlayerOp::Release`: the row becomes free.
    Release,
}

/// Checks a fenced write against the row's `current` ownership (the rule of
/// its `kind`) and then its ledger lines against `last_ledger_seq`, the
/// highest stored line of the role. Returns the ownership to store with the
/// write.
pub fn authorize_write(
    rules: &Rules,
    kind: WriteKind<'_>,
    write: &FencedWrite,
    current: &Ownership,
    last_ledger_seq: Option<u64>,
    db_now_ms: u64,
) -> Result<Ownership, StoreError> {
    let ownership =
        ownership_after(rules, kind, write, current, db_now_ms).map_err(StoreError::Refused)?;
    check_ledger(write, last_ledger_seq)?;
    Ok(ownership)
}

/// The ownership rule of each write kind.
fn ownership_after(
    rules: &Rules,
    kind: WriteKind<'_>,
    write: &FencedWrite,
    current: &Ownership,
    db_now_ms: u64,
) -> Result<Ownership, Refused> {
    match kind {
        WriteKind::Save => rules
            .authorize_write(current, &write.owner, write.epoch)
            .map(|()| current.clone()),
        WriteKind::Handoff { to, handoff_ttl_ms } => rules.handoff(
            current,
            &write.owner,
            write.epoch,
            to,
            db_now_ms,
            handoff_ttl_ms,
        ),
        WriteKind::Release => rules.release(current, &write.owner, write.epoch),
    }
}

/// Ledger lines must rise strictly, above every stored line of the role, and
/// stay below the written `next_ledger_seq`: a duplicate would mean two
/// writers spent the same sequence number.
fn check_ledger(write: &FencedWrite, last_ledger_seq: Option<u64>) -> Result<(), StoreError> {
    // Sequence numbers start at 1, so 0 is below every valid line.
    let mut floor = last_ledger_seq.unwrap_or(0);
    for entry in &write.ledger {
        if entry.seq <= floor || entry.seq >= write.data.next_ledger_seq {
            return Err(StoreError::LedgerOutOfOrder {
                roleid: write.roleid,
                seq: entry.seq,
            });
        }
        floor = entry.seq;
    }
    Ok(())
}

/// What a lease renewal answers for a role this database has no row for: the
/// renewer cannot hold it, so it is fenced against a free row.
pub fn renewal_of_missing_role() -> Refused {
    Refused::Fenced {
        current: Ownership::free(),
    }
}

/// The data of a newly created role: level 1, no gold, no items, and the
/// first ledger line still to come.
pub fn new_player_data(roleid: RoleId, account_id: u64, name: &str) -> PlayerData {
    PlayerData {
        roleid: roleid.get(),
        account_id,
        name: name.to_owned(),
        level: 1,
        gold: 0,
        items: Vec::new(),
        next_ledger_seq: 1,
        ..PlayerData::default()
    }
}
