//! What a transfer (转服, DESIGN §7) moves between two srvno databases: the
//! role's row and whole ledger ([`RoleExport`], each line with its writer so
//! the audit holds in the new database), and the mark it leaves on the old
//! row ([`TransferMark`]): fenced while the copy is under way, sealed as a
//! tombstone once the data center routes the role to its new home. A claim
//! of a marked row is refused [`crate::StoreError::Transferred`], naming
//! the new home; no mark is ever removed.

use ownership::OwnerId;
use routing::Srvno;

use crate::{LedgerEntry, PlayerRecord};

/// The mark a transfer leaves on the role's old row.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TransferMark {
    /// The srvno whose database now holds the role.
    pub to: Srvno,
    /// Whether the transfer is finished (the row is a tombstone); until
    /// then it is fenced for the copy.
    pub sealed: bool,
}

/// A ledger line with the writer that appended it (`None` for lines older
/// than writers, or from a store that keeps none).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WrittenLine {
    /// The line.
    pub entry: LedgerEntry,
    /// Its writer and the writer's epoch.
    pub writer: Option<(OwnerId, u64)>,
}

/// A role's row and ledger as `PlayerOp::ExportRole` read them after the
/// fence, for `PlayerOp::ImportRole` in the new home's database.
#[derive(Clone, Debug, PartialEq)]
pub struct RoleExport {
    /// The row (free, at the fence's epoch).
    pub record: PlayerRecord,
    /// The whole ledger, in sequence order.
    pub ledger: Vec<WrittenLine>,
}
