//! The transfer table on the wire (`kuafu.node.v1`): an override as a
//! `TransferEntry`, the table as a `TransferTable` snapshot, a change as a
//! `TransferPush`. A malformed entry is a typed error, never a panic.

use wire::node::{TransferEntry, TransferPush, TransferTable};

use super::{Router, TableError, Transfer};
use crate::{IdError, RoleId, Srvno};

impl Transfer {
    /// The override read from the wire.
    pub fn from_entry(entry: &TransferEntry) -> Result<Self, IdError> {
        Ok(Self {
            roleid: RoleId::from_raw(entry.roleid)?,
            to: Srvno::new(entry.to_srvno)?,
            from: Srvno::new(entry.from_srvno)?,
        })
    }

    /// The override as the wire carries it.
    pub fn to_entry(&self) -> TransferEntry {
        TransferEntry {
            roleid: self.roleid.get(),
            to_srvno: self.to.get(),
            from_srvno: self.from.get(),
        }
    }

    /// The push of this override as `version` of the table.
    pub fn to_push(&self, version: u64) -> TransferPush {
        TransferPush {
            version,
            entry: Some(self.to_entry()),
        }
    }
}

impl Router {
    /// The table read from a snapshot.
    pub fn from_table(table: &TransferTable) -> Result<Self, TableError> {
        let transfers = table
            .entries
            .iter()
            .map(Transfer::from_entry)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|bad| TableError::MalformedSnapshot(bad.to_string()))?;
        Self::from_snapshot(table.version, transfers)
    }

    /// The table as a snapshot.
    pub fn to_table(&self) -> TransferTable {
        TransferTable {
            version: self.version,
            entries: self.transfers().map(Transfer::to_entry).collect(),
        }
    }
}

/// A push read from the wire: its version and override.
pub fn push_from_wire(push: &TransferPush) -> Result<(u64, Transfer), IdError> {
    let entry = push.entry.unwrap_or_default();
    Ok((push.version, Transfer::from_entry(&entry)?))
}
