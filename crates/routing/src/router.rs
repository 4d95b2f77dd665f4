//! [`Router`]: a node's view of the transfer table (DESIGN §7), the one
//! place every lookup of a role's home goes through.
//!
//! A role's home is the srvno its role id encodes unless the transfer table
//! overrides it (转服: the role moved to another server's database, keeping
//! its id). The data center keeps the table and numbers every change with a
//! version, one more than the last; it pushes each change on a bus topic,
//! which delivers at most once, so a node applies a push only when it is
//! the next version, ignores one it already has, and on a gap asks for a
//! snapshot ([`PushOutcome::Gap`]) — until then it keeps answering from the
//! table it has. A node loads a snapshot before it serves.
//!
//! Pure: no I/O, no clock.

use std::collections::BTreeMap;

use crate::{RoleId, Srvno};

mod messages;

pub use messages::push_from_wire;

/// The bus topic of the data center's transfer pushes.
pub const TRANSFERS_TOPIC: &str = "transfers";

/// Most overrides a transfer table holds: a snapshot is one bus message
/// (a few bytes per entry, under NATS's 1 MiB payload), so the data center
/// refuses a transfer beyond it.
pub const TRANSFERS_MAX: usize = 20_000;

/// One override: `roleid` is at home on `to`, having moved from `from`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Transfer {
    /// The role, whose id is kept.
    pub roleid: RoleId,
    /// The srvno whose database now holds the role's row.
    pub to: Srvno,
    /// The srvno it moved from, whose database keeps a tombstone.
    pub from: Srvno,
}

/// What a push did to the table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PushOutcome {
    /// It was the next version: applied.
    Applied,
    /// The table already has this version or a newer one: ignored.
    Stale,
    /// Versions between the table's and the push's were missed: the node
    /// must load a snapshot; the table is unchanged.
    Gap,
}

/// Why the table refused a change.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TableError {
    /// The table holds [`TRANSFERS_MAX`] overrides already.
    #[error("the transfer table is full ({TRANSFERS_MAX} overrides)")]
    Full,
    /// A snapshot larger than [`TRANSFERS_MAX`] or naming a role twice.
    #[error("malformed transfer snapshot: {0}")]
    MalformedSnapshot(String),
}

/// A versioned transfer table. Version 0 is the empty table.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Router {
    version: u64,
    overrides: BTreeMap<RoleId, Transfer>,
}

impl Router {
    /// The empty table: every role at the home its id encodes.
    pub fn new() -> Self {
        Self::default()
    }

    /// The table of a snapshot at `version`.
    pub fn from_snapshot(
        version: u64,
        transfers: impl IntoIterator<Item = Transfer>,
    ) -> Result<Self, TableError> {
        let mut overrides = BTreeMap::new();
        for transfer in transfers {
            if overrides.len() == TRANSFERS_MAX {
                return Err(TableError::MalformedSnapshot("too many overrides".into()));
            }
            if overrides.insert(transfer.roleid, transfer).is_some() {
                let text = format!("role {} named twice", transfer.roleid);
                return Err(TableError::MalformedSnapshot(text));
            }
        }
        Ok(Self { version, overrides })
    }

    /// The srvno whose database holds `roleid`'s row and whose server is
    /// its home: the override, else the srvno its id encodes.
    pub fn home_of(&self, roleid: RoleId) -> Srvno {
        self.overrides
            .get(&roleid)
            .map_or_else(|| roleid.home_srvno(), |transfer| transfer.to)
    }

    /// The override of `roleid`, if it was transferred.
    pub fn transfer_of(&self, roleid: RoleId) -> Option<&Transfer> {
        self.overrides.get(&roleid)
    }

    /// The table's version: the number of changes it has seen.
    pub fn version(&self) -> u64 {
        self.version
    }

    /// How many overrides the table holds.
    pub fn len(&self) -> usize {
        self.overrides.len()
    }

    /// Whether no role was transferred.
    pub fn is_empty(&self) -> bool {
        self.overrides.is_empty()
    }

    /// Every override, ordered by role id.
    pub fn transfers(&self) -> impl Iterator<Item = &Transfer> {
        self.overrides.values()
    }

    /// The data center's own change: `transfer` becomes the next version,
    /// which it returns.
    pub fn record(&mut self, transfer: Transfer) -> Result<u64, TableError> {
        let replaces = self.overrides.contains_key(&transfer.roleid);
        if !replaces && self.overrides.len() == TRANSFERS_MAX {
            return Err(TableError::Full);
        }
        self.overrides.insert(transfer.roleid, transfer);
        self.version += 1;
        Ok(self.version)
    }

    /// A pushed change of `version`: applied only when it is the next one.
    pub fn handle_push(&mut self, version: u64, transfer: Transfer) -> PushOutcome {
        if version <= self.version {
            return PushOutcome::Stale;
        }
        if version > self.version + 1 {
            return PushOutcome::Gap;
        }
        match self.record(transfer) {
            Ok(_) => PushOutcome::Applied,
            // The data center never records beyond the bound; a push that
            // would is treated as missed history, resolved by a snapshot.
            Err(TableError::Full | TableError::MalformedSnapshot(_)) => PushOutcome::Gap,
        }
    }

    /// A snapshot replaces the table when it is not older; returns whether
    /// it did (a snapshot answered before a push the node already applied
    /// is older and ignored).
    pub fn handle_snapshot(&mut self, snapshot: Router) -> bool {
        if snapshot.version < self.version {
            return false;
        }
        *self = snapshot;
        true
    }
}

#[cfg(test)]
mod tests;
