//! The transfer ops (转服, DESIGN §7) over a backend's [`Rows`], written
//! once for every backend: export fences and marks the old row, import
//! copies it into the new home's database, seal makes the old row a
//! tombstone. Each is idempotent, so a transfer killed at any step and run
//! again ends in the same state.

use ownership::Rules;
use routing::{RoleId, Srvno};

use super::rows::{OpError, Rows};
use crate::{OpOutcome, PlayerRecord, RoleExport, StoreError, TransferMark};

type OpResult<F> = Result<OpOutcome, OpError<F>>;

/// Refuses a claim (or a transfer elsewhere) of a row a transfer marked.
pub(super) fn refuse_marked<R: Rows>(
    rows: &mut R,
    roleid: RoleId,
) -> Result<(), OpError<R::Failure>> {
    match rows.transfer_mark(roleid).map_err(OpError::Failed)? {
        Some(mark) => Err(StoreError::Transferred {
            roleid,
            to: mark.to,
        }
        .into()),
        None => Ok(()),
    }
}

/// `PlayerOp::ExportRole` on the loaded `record`.
pub(super) fn export<R: Rows>(
    rows: &mut R,
    rules: &Rules,
    db_now_ms: u64,
    mut record: PlayerRecord,
    to: Srvno,
) -> OpResult<R::Failure> {
    let roleid = record.roleid;
    match rows.transfer_mark(roleid).map_err(OpError::Failed)? {
        Some(mark) if mark.to != to => {
            return Err(StoreError::Transferred {
                roleid,
                to: mark.to,
            }
            .into());
        }
        Some(_) => {}
        None => {
            record.ownership = rules
                .fence_for_transfer(&record.ownership, db_now_ms)
                .map_err(StoreError::Refused)?;
            let mark = TransferMark { to, sealed: false };
            rows.store_ownership(roleid, &record.ownership)
                .map_err(OpError::Failed)?;
            rows.store_transfer_mark(roleid, &mark)
                .map_err(OpError::Failed)?;
        }
    }
    let ledger = rows.written_ledger(roleid).map_err(OpError::Failed)?;
    Ok(OpOutcome::Exported(Box::new(RoleExport { record, ledger })))
}

/// `PlayerOp::ImportRole`: a row already here is the copy, kept as it is
/// (its player may have played since) unless it is itself a transfer's
/// tombstone, which a copy never replaces.
pub(super) fn import<R: Rows>(rows: &mut R, export: &RoleExport) -> OpResult<R::Failure> {
    let roleid = export.record.roleid;
    if rows.ownership(roleid).map_err(OpError::Failed)?.is_none() {
        rows.insert_imported(export).map_err(OpError::Failed)?;
        return Ok(OpOutcome::Transferred { copied: true });
    }
    refuse_marked(rows, roleid)?;
    Ok(OpOutcome::Transferred { copied: false })
}

/// `PlayerOp::SealTransfer` on an existing row.
pub(super) fn seal<R: Rows>(rows: &mut R, roleid: RoleId, to: Srvno) -> OpResult<R::Failure> {
    match rows.transfer_mark(roleid).map_err(OpError::Failed)? {
        Some(mark) if mark.to == to => {
            if !mark.sealed {
                let sealed = TransferMark { to, sealed: true };
                rows.store_transfer_mark(roleid, &sealed)
                    .map_err(OpError::Failed)?;
            }
            Ok(OpOutcome::Transferred { copied: false })
        }
        Some(mark) => Err(StoreError::Transferred {
            roleid,
            to: mark.to,
        }
        .into()),
        None => Err(StoreError::TransferNotStarted(roleid).into()),
    }
}
