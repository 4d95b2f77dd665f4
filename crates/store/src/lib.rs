//! The store contract (DESIGN §5): what every backend (the in-memory model,
//! SQLite, PostgreSQL) does, and the operations the game core emits.
//!
//! A srvno database holds player rows `roleid, data, data_version, owner,
//! epoch, lease_until` plus an append-only gold/item ledger and the srvno's
//! role-id sequence. Every write is fenced by the ownership rules of the
//! `ownership` crate, applied inside the backend's transaction.
//!
//! [`PlayerStore::apply`] takes a batch of operations and commits them in one
//! durable transaction (group commit: one fsync serves the whole batch), with
//! one result per operation. `db_now_ms` is an input, so the simulator owns
//! the database clock.
//!
//! Beside the player rows: [`AccountStore`], the account center's database,
//! [`RoutingStore`], the data center's routing records, and [`RankStore`],
//! the rank server's leaderboards, each a trait with its own contract suite.
//!
//! Architecture invariant: this crate does no I/O; backends live in their own
//! crates (`store-sqlite`, `store-postgres`). The `contract-tests` feature
//! adds [`contract`], the test suite every backend runs.

mod accounts;
pub mod audit;
pub mod backend;
#[cfg(feature = "contract-tests")]
pub mod contract;
pub mod gifts;
pub mod model;
mod ranks;
mod routes;
mod transfer;

pub use accounts::{AccountError, AccountRole, AccountStore};
pub use ranks::{RankStore, RankStoreError};
pub use routes::{RoutingError, RoutingStore, SummaryRecord, decode_fields, encode_fields};
pub use transfer::{RoleExport, TransferMark, WrittenLine};

use ownership::{OwnerId, Ownership, Refused};
use routing::{RoleId, Srvno};
use wire::node::{Gift, PlayerData};

/// Largest number of operations one `apply` call commits together.
pub const BATCH_OPS_MAX: usize = 1024;

/// Most rows one `ListHeldElsewhere` answers; the caller pages on.
pub const HOLDERS_PAGE_MAX: usize = 1024;

/// Who holds a row now, as a home server's kuafu marks need it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RowHolder {
    /// The role.
    pub roleid: RoleId,
    /// The node that holds the row or that it is arriving at, while the
    /// lease is live by the database's clock; `None` when free or lapsed.
    pub node: Option<String>,
    /// The row's epoch.
    pub epoch: u64,
}

impl RowHolder {
    /// The holder of a row with `ownership` at database time `db_now_ms`.
    pub fn of(roleid: RoleId, ownership: &Ownership, db_now_ms: u64) -> Self {
        Self {
            roleid,
            node: ownership.live_node(db_now_ms).map(str::to_owned),
            epoch: ownership.epoch,
        }
    }

    /// Whether a node other than `node` holds the row with a live lease.
    pub fn is_elsewhere_than(&self, node: &str) -> bool {
        self.node.as_deref().is_some_and(|holder| holder != node)
    }
}

/// A player row as loaded by a claim.
#[derive(Clone, Debug, PartialEq)]
pub struct PlayerRecord {
    /// The role this row belongs to.
    pub roleid: RoleId,
    /// The player's data.
    pub data: PlayerData,
    /// Raised by every successful write of `data`.
    pub data_version: u64,
    /// The ownership columns after the operation.
    pub ownership: Ownership,
}

/// A read-only copy of a player (seed "Points of care" 1): it has no save.
/// Any node may load one; only the owner's copy is writable.
#[derive(Clone, Debug, PartialEq)]
pub struct ReadOnlyPlayer {
    /// The role.
    pub roleid: RoleId,
    /// The data as of the last durable write.
    pub data: PlayerData,
    /// Version of `data`.
    pub data_version: u64,
    /// Who held the player when it was read.
    pub ownership: Ownership,
}

/// What a gold or item change was; recorded in the append-only ledger in the
/// same transaction as the save that carries it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LedgerKind {
    /// Gold changed by `delta`.
    Gold,
    /// Items of this type changed by `delta`.
    Item(u32),
}

/// One ledger line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LedgerEntry {
    /// Unique per role and increasing: `PlayerData::next_ledger_seq` when made.
    pub seq: u64,
    /// Gold or which item.
    pub kind: LedgerKind,
    /// Signed change.
    pub delta: i64,
    /// The caller's reason, e.g. `test:rpc`.
    pub reason: String,
}

/// A write of the player's data by its owner, fenced by `(owner, epoch)`.
#[derive(Clone, Debug, PartialEq)]
pub struct FencedWrite {
    /// The role.
    pub roleid: RoleId,
    /// The writer.
    pub owner: OwnerId,
    /// The epoch the writer holds.
    pub epoch: u64,
    /// The `data_version` the writer's copy descends from (for the
    /// simulator's lost-write check; the fence is owner and epoch).
    pub base_version: u64,
    /// The whole new data.
    pub data: PlayerData,
    /// Ledger lines made since the last write, in order.
    pub ledger: Vec<LedgerEntry>,
}

/// One store operation.
#[derive(Clone, Debug, PartialEq)]
pub enum PlayerOp {
    /// Allocate the next role id of `srvno` (never reused, even after a crash)
    /// and insert the new role's row, unowned.
    CreateRole {
        /// The srvno whose sequence to draw from.
        srvno: Srvno,
        /// The account the role belongs to.
        account_id: u64,
        /// The role's name.
        name: String,
    },
    /// Take ownership and load the data (rules: `ownership::Rules::claim`).
    /// In the same transaction, every gift in the role's inbox is credited
    /// once (`gifts::credit`, by gift id) with a ledger line written at the
    /// claim's epoch, and the inbox is emptied (DESIGN §9: an offline
    /// receiver gets its gifts on its next load).
    Claim {
        /// The role.
        roleid: RoleId,
        /// The claimant.
        owner: OwnerId,
        /// Lease length from `db_now_ms`.
        lease_ttl_ms: u64,
    },
    /// Save the data; ownership unchanged.
    Save(FencedWrite),
    /// Final save and hand the row to node `to` (DESIGN §6 step 3).
    Handoff {
        /// The final save.
        write: FencedWrite,
        /// The target node's name.
        to: String,
        /// How long the target has to claim.
        handoff_ttl_ms: u64,
    },
    /// Final save at logoff; the row becomes free.
    Release(FencedWrite),
    /// Renew the leases of many players held by `owner`, in one statement.
    /// A role with no row in this database (unknown, or of a srvno it does
    /// not hold) answers `Refused::Fenced` against a free row: the renewer
    /// cannot hold it, so it drops the player.
    RenewLeases {
        /// The holder.
        owner: OwnerId,
        /// `(role, epoch)` for each lease.
        leases: Vec<(RoleId, u64)>,
        /// Lease length from `db_now_ms`.
        lease_ttl_ms: u64,
    },
    /// Read the ownership columns back, e.g. after a commit whose reply was
    /// lost (DESIGN §5: read back, never guess).
    ReadOwnership {
        /// The role.
        roleid: RoleId,
    },
    /// Load a read-only copy.
    LoadReadOnly {
        /// The role.
        roleid: RoleId,
    },
    /// The roles of an account in this database.
    RolesOfAccount {
        /// The account.
        account_id: u64,
    },
    /// Frees every row a dead predecessor of `owner` held or was handed
    /// (`ownership::Rules::take_back`). Only a node that proved its
    /// predecessor dead asks (DESIGN §5: players log in again at once after
    /// a restart, not after the lease).
    TakeBack {
        /// The restarted node's new incarnation.
        owner: OwnerId,
    },
    /// The rows of `srvno` held by, or arriving at, a node other than
    /// `except_node` with a live lease, in role id order after `after`, at
    /// most `limit` (capped at [`HOLDERS_PAGE_MAX`]): a home server rebuilds
    /// its kuafu marks from them when it starts.
    ListHeldElsewhere {
        /// Whose rows.
        srvno: Srvno,
        /// The asking home server, whose own rows are not listed.
        except_node: String,
        /// The last role of the previous page.
        after: Option<RoleId>,
        /// Page size.
        limit: usize,
    },
    /// Who holds `roleid` now: what a home server reads before it clears a
    /// kuafu mark.
    ReadHolder {
        /// The role.
        roleid: RoleId,
    },
    /// Puts `gift` in the inbox of its receiver `to` (in `to`'s home
    /// database), only while no node holds `to`'s row with a live lease:
    /// then the next claim credits it. Refused `HeldElsewhere` while a node
    /// holds the row (deliver to that node instead), `InboxFull` beyond
    /// [`gifts::INBOX_GIFTS_MAX`]. A gift already in the inbox is answered
    /// `Inboxed` again and kept once.
    InboxGift {
        /// The receiver.
        to: RoleId,
        /// The gift, whose `to_roleid` is `to`.
        gift: Gift,
    },
    /// A transfer's first step, in the role's old home database: fences the
    /// offline row for a move to `to` (`ownership::Rules::
    /// fence_for_transfer`; refused while a node holds it), marks it so no
    /// claim succeeds again, and reads the row and its ledger. Again on a
    /// row already marked for `to`: reads it again.
    ExportRole {
        /// The role.
        roleid: RoleId,
        /// Its new home srvno.
        to: Srvno,
    },
    /// A transfer's copy, in the new home's database: inserts the exported
    /// row and ledger as they are (the role id is kept; no srvno sequence
    /// moves). A row of the role already there is kept: the copy is done.
    ImportRole(Box<RoleExport>),
    /// A transfer's last step, in the old home database: the row marked for
    /// `to` becomes a tombstone.
    SealTransfer {
        /// The role.
        roleid: RoleId,
        /// Its new home srvno.
        to: Srvno,
    },
}

impl PlayerOp {
    /// Whether the op must be on disk before it is answered. Saves, handoffs,
    /// releases and role creations must (an answered write is a promise; a
    /// role id once given is never reused). Claims, lease renewals and reads
    /// need not: a claim lost to an operating-system crash leaves the row as
    /// it was, so the claimant's next write is fenced, never a second writer;
    /// in the embedded mode that crash stops every node anyway; and the next
    /// durable commit on the database makes it durable too (the log is
    /// sequential). A backend may commit a batch of only such ops without
    /// waiting for the disk.
    pub fn must_be_durable_before_answer(&self) -> bool {
        match self {
            PlayerOp::CreateRole { .. }
            | PlayerOp::Save(_)
            | PlayerOp::Handoff { .. }
            | PlayerOp::Release(_)
            | PlayerOp::TakeBack { .. }
            | PlayerOp::InboxGift { .. } => true,
            PlayerOp::ExportRole { .. }
            | PlayerOp::ImportRole(_)
            | PlayerOp::SealTransfer { .. } => true,
            PlayerOp::Claim { .. }
            | PlayerOp::RenewLeases { .. }
            | PlayerOp::ReadOwnership { .. }
            | PlayerOp::LoadReadOnly { .. }
            | PlayerOp::RolesOfAccount { .. }
            | PlayerOp::ListHeldElsewhere { .. }
            | PlayerOp::ReadHolder { .. } => false,
        }
    }
}

/// The result of one successful operation.
#[derive(Clone, Debug, PartialEq)]
pub enum OpOutcome {
    /// `CreateRole`: the new row.
    Created(PlayerRecord),
    /// `Claim`: the row, now owned by the claimant.
    Claimed(PlayerRecord),
    /// `Save`, `Handoff`, `Release`: the new data version and ownership.
    Written {
        /// The data version now stored.
        data_version: u64,
        /// The ownership now stored.
        ownership: Ownership,
    },
    /// `RenewLeases`: per lease, the new `lease_until_ms` or why not, in the
    /// order asked.
    Renewed(Vec<(RoleId, Result<u64, Refused>)>),
    /// `ReadOwnership`.
    OwnershipRead {
        /// The ownership columns.
        ownership: Ownership,
        /// The stored data version.
        data_version: u64,
    },
    /// `LoadReadOnly`.
    Loaded(ReadOnlyPlayer),
    /// `RolesOfAccount`: `(role, data)` ordered by role id.
    Roles(Vec<(RoleId, PlayerData)>),
    /// `TakeBack`: how many rows became free.
    TakenBack {
        /// Rows freed.
        rows: u64,
    },
    /// `ListHeldElsewhere` (ordered by role id) and `ReadHolder` (one).
    Holders(Vec<RowHolder>),
    /// `InboxGift`: the gift is in the receiver's inbox.
    Inboxed,
    /// `ExportRole`: the fenced row and its ledger.
    Exported(Box<RoleExport>),
    /// `ImportRole` (`copied`: false when the row was there already) and
    /// `SealTransfer` (`copied` is false).
    Transferred {
        /// Whether this op wrote the row.
        copied: bool,
    },
}

/// Why an operation failed.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum StoreError {
    /// The ownership rules refused it; nothing was written.
    #[error("refused: {0}")]
    Refused(Refused),
    /// No row for this role.
    #[error("unknown role {0}")]
    UnknownRole(RoleId),
    /// The srvno's 999_999 role ids are spent.
    #[error("role ids of srvno {0} are exhausted")]
    RoleIdsExhausted(Srvno),
    /// This database does not hold that srvno.
    #[error("srvno {0} is not in this database")]
    WrongDatabase(Srvno),
    /// The write's ledger lines are not in order: each `seq` must be above
    /// the role's stored ledger lines and the previous line of the write, and
    /// below the written `next_ledger_seq`. Nothing was written.
    #[error("ledger line {seq} of role {roleid} is out of order")]
    LedgerOutOfOrder {
        /// The role.
        roleid: RoleId,
        /// The first offending sequence number.
        seq: u64,
    },
    /// A gift's receiver inbox holds [`gifts::INBOX_GIFTS_MAX`] gifts.
    #[error("the inbox of role {0} is full")]
    InboxFull(RoleId),
    /// A gift without an id, or whose `to_roleid` is not the role asked.
    #[error("malformed gift for role {0}")]
    MalformedGift(RoleId),
    /// The role moved to srvno `to`'s database (转服): its row here is
    /// marked, and no claim or other transfer of it succeeds here again.
    #[error("role {roleid} was transferred to srvno {to}")]
    Transferred {
        /// The role.
        roleid: RoleId,
        /// Its new home.
        to: Srvno,
    },
    /// A transfer's seal of a row its export step never marked.
    #[error("role {0} is not marked for a transfer")]
    TransferNotStarted(RoleId),
    /// The backend failed; the operation's outcome is unknown when the failure
    /// came at commit, so the caller reads back before acting.
    #[error("backend: {0}")]
    Backend(String),
}

/// A player database (one per srvno, or per merged group of srvnos).
pub trait PlayerStore: Send {
    /// Applies `ops` (at most [`BATCH_OPS_MAX`]) in one durable transaction at
    /// database time `db_now_ms`; returns one result per op, in order. Ops
    /// apply in order, each seeing the effects of those before it. A refused
    /// op writes nothing and does not affect the others.
    fn apply(&mut self, db_now_ms: u64, ops: &[PlayerOp]) -> Vec<Result<OpOutcome, StoreError>>;
}

/// A player store as a node's writer thread runs it: each batch applied at
/// its database's own clock. The SQLite stores of the embedded mode take
/// the system clock (the database and the node share a machine);
/// PostgreSQL reads `clock_timestamp()` inside the batch's transaction
/// (DESIGN §5). This crate only names the seam; the backends read the clocks.
pub trait ClockedPlayerStore: Send {
    /// Applies `ops` like [`PlayerStore::apply`], at the database's clock
    /// now.
    fn apply_now(&mut self, ops: &[PlayerOp]) -> Vec<Result<OpOutcome, StoreError>>;
}

/// A boxed store is a store, so a node can pick its backend at run time.
impl<S: PlayerStore + ?Sized> PlayerStore for Box<S> {
    fn apply(&mut self, db_now_ms: u64, ops: &[PlayerOp]) -> Vec<Result<OpOutcome, StoreError>> {
        (**self).apply(db_now_ms, ops)
    }
}
