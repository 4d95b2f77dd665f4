//! Transfer (转服, DESIGN §7): the operator moves an offline role's row to
//! another srvno's database, keeping its id, over any bus (the embedded
//! zone's, or NATS as node `operator`) and the zone's player databases.
//!
//! The steps, each idempotent, so a run killed at any step and run again
//! ends in the same state:
//! 1. **fence** — `ExportRole` in the role's home database (as the
//!    transfer table routes it now): refused while a node holds the role;
//!    else the row is fenced (its epoch raised, no claim can succeed), and
//!    read with its ledger;
//! 2. **copy** — `ImportRole` into the new srvno's database (a copy already
//!    there is kept);
//! 3. **record** — the data center records the override durably and pushes
//!    it to every node (recording it again changes nothing);
//! 4. **seal** — the old row becomes a tombstone.
//!
//! A run that finds the table already routing the role to its target only
//! seals the old row again. Typed errors: unknown role or srvno, the same
//! srvno, an online role, a transfer elsewhere under way.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use bus::Bus;
use bus_nats::{NatsBus, NatsBusConfig};
use datacenter::table::{Asker, TableError, fetch_table, record_transfer};
use ownership::Refused;
use routing::{RoleId, Router, Srvno, Transfer};
use store::{OpOutcome, PlayerOp, RoleExport, StoreError};
use store_sqlite::PlayerStoreWriter;

use crate::ZoneConfig;
use crate::embedded::{DATACENTER_NODE, OPERATOR_NODE, ZoneError};

/// The zone's player databases by srvno.
pub type PlayerDatabases = BTreeMap<Srvno, Arc<PlayerStoreWriter>>;

/// A transfer's steps, in order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum TransferStep {
    /// The old row is fenced and read.
    Fenced,
    /// The row and its ledger are in the new database.
    Copied,
    /// The data center routes the role to its new home.
    Recorded,
    /// The old row is a tombstone: the transfer is finished.
    Sealed,
}

/// What a run did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Transferred {
    /// The override: the role, its new home and its old one.
    pub transfer: Transfer,
    /// The last step done (`Sealed`: finished).
    pub step: TransferStep,
}

/// Why a transfer was refused or could not go on.
#[derive(Debug, thiserror::Error)]
pub enum TransferError {
    /// No role of this id in its home database.
    #[error("unknown role {0}")]
    UnknownRole(RoleId),
    /// No game server of the zone has this srvno (or it is no srvno).
    #[error("no srvno {0} in the zone")]
    UnknownSrvno(u32),
    /// The role is at home on that srvno already.
    #[error("role {roleid} is at home on srvno {srvno} already")]
    SameSrvno {
        /// The role.
        roleid: RoleId,
        /// Its home.
        srvno: Srvno,
    },
    /// A node holds the role (or it is crossing): only an offline role moves.
    #[error("role {0} is online")]
    Online(RoleId),
    /// Its row is marked for a transfer to another srvno: finish that one.
    #[error("role {roleid} is being transferred to srvno {to}")]
    Elsewhere {
        /// The role.
        roleid: RoleId,
        /// The other target.
        to: Srvno,
    },
    /// A player database failed (the step's outcome is unknown: run again).
    #[error("player database: {0}")]
    Store(StoreError),
    /// The data center did not answer or refused (run again).
    #[error("data center: {0}")]
    DataCenter(#[from] TableError),
    /// The zone's bus or databases could not be reached.
    #[error("{0}")]
    Setup(String),
}

/// The player databases of a distributed zone file, each with a writer,
/// for the operator (node `operator`) to run a transfer on.
pub async fn open_player_databases(config: &ZoneConfig) -> Result<PlayerDatabases, ZoneError> {
    let registry = telemetry::Registry::new();
    let stores = crate::distributed::open_player_stores(config, &registry, OPERATOR_NODE).await?;
    Ok(Arc::unwrap_or_clone(stores))
}

/// Transfers `roleid` to srvno `to` in the distributed zone of `config`:
/// connects to its NATS as node `operator` and to its player databases
/// (what `kuafu transfer` runs).
pub async fn transfer_in_distributed_zone(
    config: &ZoneConfig,
    roleid: RoleId,
    to: u32,
) -> Result<Transferred, TransferError> {
    let setup = |error: &dyn std::fmt::Display| TransferError::Setup(error.to_string());
    let distributed = config
        .distributed
        .as_ref()
        .ok_or_else(|| setup(&ZoneError::NotDistributed))?;
    let nats = NatsBusConfig::new(&distributed.nats, &config.zone, OPERATOR_NODE);
    let bus = NatsBus::connect(&nats)
        .await
        .map_err(|error| setup(&error))?;
    let databases = open_player_databases(config)
        .await
        .map_err(|error| setup(&error))?;
    let deadline = Duration::from_millis(config.timing.request_deadline_ms);
    transfer(&bus, &databases, deadline, (roleid, to), None).await
}

/// The data center's transfer table, asked as the operator.
pub async fn transfer_table(bus: &dyn Bus, deadline: Duration) -> Result<Router, TableError> {
    fetch_table(bus, &operator(deadline)).await
}

fn operator(deadline: Duration) -> Asker {
    Asker {
        from: OPERATOR_NODE.to_owned(),
        datacenter: DATACENTER_NODE.to_owned(),
        deadline,
    }
}

/// Transfers `roleid` to srvno `to`, stopping after step `until` (`None`:
/// the whole transfer). See the module docs.
pub async fn transfer(
    bus: &dyn Bus,
    databases: &PlayerDatabases,
    deadline: Duration,
    (roleid, to): (RoleId, u32),
    until: Option<TransferStep>,
) -> Result<Transferred, TransferError> {
    let to = Srvno::new(to)
        .ok()
        .filter(|srvno| databases.contains_key(srvno))
        .ok_or(TransferError::UnknownSrvno(to))?;
    let asker = operator(deadline);
    let table = fetch_table(bus, &asker).await?;
    let from = table.home_of(roleid);
    let transfer = Transfer { roleid, to, from };
    if from == to {
        let done = table.transfer_of(roleid).filter(|done| done.to == to);
        let done = *done.ok_or(TransferError::SameSrvno { roleid, srvno: to })?;
        seal(databases, done).await?;
        return Ok(Transferred {
            transfer: done,
            step: TransferStep::Sealed,
        });
    }
    let reached = |step| until.is_some_and(|until| until <= step);
    let export = fence(databases, transfer).await?;
    if reached(TransferStep::Fenced) {
        return Ok(Transferred {
            transfer,
            step: TransferStep::Fenced,
        });
    }
    submit(
        databases,
        (roleid, to),
        PlayerOp::ImportRole(Box::new(export)),
    )
    .await?;
    if reached(TransferStep::Copied) {
        return Ok(Transferred {
            transfer,
            step: TransferStep::Copied,
        });
    }
    record_transfer(bus, &asker, transfer).await?;
    if reached(TransferStep::Recorded) {
        return Ok(Transferred {
            transfer,
            step: TransferStep::Recorded,
        });
    }
    seal(databases, transfer).await?;
    Ok(Transferred {
        transfer,
        step: TransferStep::Sealed,
    })
}

/// Step 1: the old row fenced and read.
async fn fence(
    databases: &PlayerDatabases,
    transfer: Transfer,
) -> Result<RoleExport, TransferError> {
    let export = PlayerOp::ExportRole {
        roleid: transfer.roleid,
        to: transfer.to,
    };
    match submit(databases, (transfer.roleid, transfer.from), export).await? {
        OpOutcome::Exported(export) => Ok(*export),
        other => Err(unexpected(&other)),
    }
}

/// Step 4: the old row sealed.
async fn seal(databases: &PlayerDatabases, transfer: Transfer) -> Result<(), TransferError> {
    let seal = PlayerOp::SealTransfer {
        roleid: transfer.roleid,
        to: transfer.to,
    };
    submit(databases, (transfer.roleid, transfer.from), seal)
        .await
        .map(drop)
}

/// `op` on `roleid` in srvno `srvno`'s database, its refusals as transfer
/// errors (a role whose home srvno is not in the zone is unknown).
async fn submit(
    databases: &PlayerDatabases,
    (roleid, srvno): (RoleId, Srvno),
    op: PlayerOp,
) -> Result<OpOutcome, TransferError> {
    let database = databases
        .get(&srvno)
        .ok_or(TransferError::UnknownRole(roleid))?;
    database.submit(op).await.map_err(|error| match error {
        StoreError::UnknownRole(roleid) => TransferError::UnknownRole(roleid),
        StoreError::Refused(Refused::HeldElsewhere { .. }) => TransferError::Online(roleid),
        StoreError::Transferred { roleid, to } => TransferError::Elsewhere { roleid, to },
        other => TransferError::Store(other),
    })
}

fn unexpected(outcome: &OpOutcome) -> TransferError {
    TransferError::Store(StoreError::Backend(format!("answered {outcome:?}")))
}
