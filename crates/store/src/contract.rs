//! The store contract suite (DESIGN §14), behind the `contract-tests`
//! feature: test functions every [`PlayerStore`] backend must pass, written
//! once against the trait, and [`contract_suite!`](crate::contract_suite),
//! which instantiates each of them as a `#[test]` for one backend. The
//! account and routing stores have suites of their own, made the same way:
//! [`AccountHarness`] with [`account_contract_suite!`](crate::account_contract_suite),
//! [`RoutingHarness`] with [`routing_contract_suite!`](crate::routing_contract_suite),
//! [`RankHarness`] with [`rank_contract_suite!`](crate::rank_contract_suite).
//!
//! A backend's test file implements [`Harness`] (open a store holding
//! srvnos 1 and 2, reopen it after a "restart", and the two operator reads
//! the suite checks) and calls the macro once per way of opening it:
//!
//! ```ignore
//! store::contract_suite!(sqlite_file, Some(SqliteFile::new()));
//! ```
//!
//! The harness expression is evaluated afresh for every test; `None` skips
//! the test (a backend whose server is unreachable outside CI says why when
//! it answers `None`).

mod accounts;
mod audit;
mod batches;
mod fencing;
mod gifts;
mod holders;
mod ranks;
mod roles;
mod routes;
mod transfers;

pub use accounts::*;
pub use audit::*;
pub use batches::*;
pub use fencing::*;
pub use gifts::*;
pub use holders::*;
pub use ranks::*;
pub use roles::*;
pub use routes::*;
pub use transfers::*;

use ownership::{Holder, OwnerId, Ownership, Refused, Rules};
use routing::{ROLE_SEQ_MAX, RoleId, Srvno};
use wire::node::PlayerData;

use crate::{
    FencedWrite, LedgerEntry, LedgerKind, OpOutcome, PlayerOp, PlayerRecord, PlayerStore,
    ReadOnlyPlayer, RowHolder, StoreError,
};

/// The lease every claim of the suite asks for.
pub const LEASE_TTL_MS: u64 = 10_000;
const HANDOFF_TTL_MS: u64 = 3_000;
const ACCOUNT: u64 = 42;

/// What the suite needs from a backend beyond [`PlayerStore`].
pub trait Harness {
    /// The store under test.
    type Store: PlayerStore;
    /// A store holding srvnos 1 and 2 (not 3) and applying `rules`. A
    /// second call opens the same database again.
    fn open_with(&mut self, rules: Rules) -> Self::Store;
    /// A store holding srvnos 1 and 2 with the correct rules.
    fn open(&mut self) -> Self::Store {
        self.open_with(Rules::default())
    }
    /// The store after a restart: whatever it committed is still there.
    fn reopen(&mut self, store: Self::Store) -> Self::Store;
    /// The operators' `advance_role_seq`: moves the sequence of `srvno` up
    /// to `next_seq` and returns the sequence now in force.
    fn advance_role_seq(store: &mut Self::Store, srvno: Srvno, next_seq: u64) -> u64;
    /// The ledger of `roleid` in sequence order.
    fn ledger(store: &Self::Store, roleid: RoleId) -> Vec<LedgerEntry>;
}

/// The srvnos every harness's store holds.
pub fn held_srvnos() -> [Srvno; 2] {
    [srvno(1), srvno(2)]
}

/// Runs `test` on `harness` (of any suite); `None` skips it.
pub fn run<H>(harness: Option<H>, test: fn(H)) {
    if let Some(harness) = harness {
        test(harness);
    }
}

/// Instantiates every contract test for one backend: `contract_suite!(name,
/// harness)` makes a module `name` with one `#[test]` per contract test,
/// each running on the `Option<impl Harness>` that `harness` evaluates to
/// (`None` skips). Names used in `harness` are looked up in the calling
/// module.
#[macro_export]
macro_rules! contract_suite {
    ($module:ident, $harness:expr) => {
        $crate::contract_tests!(
            $module,
            $harness;
            created_roles_get_increasing_ids_per_srvno,
            role_ids_are_never_reused_after_reopen,
            role_ids_run_out_with_a_typed_error,
            roles_of_an_account_are_ordered_by_id,
            a_random_incarnation_round_trips,
            claim_save_release,
            a_fenced_save_is_refused_and_writes_nothing,
            after_a_handoff_only_the_target_can_claim,
            a_lease_expires_by_database_time,
            leases_renew_in_a_batch,
            a_renewal_after_the_lease_lapsed_is_refused,
            a_stale_handoff_is_fenced_unless_the_rules_are_mutated,
            a_restarted_node_takes_back_its_predecessors_rows_durably,
            a_read_only_load_changes_nothing,
            the_ledger_is_appended_with_the_save,
            out_of_order_ledger_lines_are_refused,
            a_refused_op_does_not_stop_the_rest_of_its_batch,
            ops_on_an_unknown_role_are_refused,
            ops_on_another_srvno_are_refused,
            rows_held_elsewhere_are_listed_in_pages,
            a_holder_is_read_with_its_lease_by_database_time,
            an_inboxed_gift_is_credited_once_by_the_next_claim,
            the_inbox_refuses_while_the_receiver_is_held,
            malformed_gifts_and_a_full_inbox_are_refused,
            a_transfer_fences_exports_and_seals_the_old_row_idempotently,
            an_imported_role_keeps_its_id_data_and_ledger_and_plays_on,
        );
    };
}

/// The body of [`contract_suite!`](crate::contract_suite): one `#[test]` per
/// listed contract test.
#[doc(hidden)]
#[macro_export]
macro_rules! contract_tests {
    ($module:ident, $harness:expr; $($test:ident),* $(,)?) => {
        mod $module {
            #[allow(unused_imports)]
            use super::*;
            $(
                #[test]
                fn $test() {
                    $crate::contract::run($harness, $crate::contract::$test);
                }
            )*
        }
    };
}

// ---------------------------------------------------------------- helpers --
// The public ones also serve a backend's own tests.

fn srvno(number: u32) -> Srvno {
    Srvno::new(number).unwrap()
}

fn role(srvno_number: u32, seq: u64) -> RoleId {
    RoleId::new(srvno(srvno_number), seq).unwrap()
}

/// Incarnation `incarnation` of node `node`.
pub fn owner(node: &str, incarnation: u64) -> OwnerId {
    OwnerId {
        node: node.to_owned(),
        incarnation,
    }
}

/// Applies one op alone, at database time `now`.
pub fn apply_one(
    store: &mut impl PlayerStore,
    now: u64,
    op: PlayerOp,
) -> Result<OpOutcome, StoreError> {
    let mut results = store.apply(now, &[op]);
    assert_eq!(results.len(), 1);
    results.remove(0)
}

/// Creates a role of the suite's account in srvno `srvno_number`.
pub fn create(store: &mut impl PlayerStore, srvno_number: u32, name: &str) -> PlayerRecord {
    let op = PlayerOp::CreateRole {
        srvno: srvno(srvno_number),
        account_id: ACCOUNT,
        name: name.to_owned(),
    };
    match apply_one(store, 0, op) {
        Ok(OpOutcome::Created(record)) => record,
        other => panic!("create: {other:?}"),
    }
}

/// A claim of `roleid` by `claimant` for [`LEASE_TTL_MS`].
pub fn claim_op(roleid: RoleId, claimant: &OwnerId) -> PlayerOp {
    PlayerOp::Claim {
        roleid,
        owner: claimant.clone(),
        lease_ttl_ms: LEASE_TTL_MS,
    }
}

fn claim(
    store: &mut impl PlayerStore,
    now: u64,
    roleid: RoleId,
    claimant: &OwnerId,
) -> PlayerRecord {
    match apply_one(store, now, claim_op(roleid, claimant)) {
        Ok(OpOutcome::Claimed(record)) => record,
        other => panic!("claim: {other:?}"),
    }
}

/// A write of `record` with `gold` more gold, recorded in the ledger.
pub fn earn(record: &PlayerRecord, writer: &OwnerId, epoch: u64, gold: u64) -> FencedWrite {
    let mut data = record.data.clone();
    let seq = data.next_ledger_seq;
    data.gold += gold;
    data.next_ledger_seq += 1;
    FencedWrite {
        roleid: record.roleid,
        owner: writer.clone(),
        epoch,
        base_version: record.data_version,
        data,
        ledger: vec![LedgerEntry {
            seq,
            kind: LedgerKind::Gold,
            delta: i64::try_from(gold).unwrap(),
            reason: "test:earn".to_owned(),
        }],
    }
}

fn written(result: Result<OpOutcome, StoreError>) -> (u64, Ownership) {
    match result {
        Ok(OpOutcome::Written {
            data_version,
            ownership,
        }) => (data_version, ownership),
        other => panic!("write: {other:?}"),
    }
}

fn load(store: &mut impl PlayerStore, now: u64, roleid: RoleId) -> ReadOnlyPlayer {
    match apply_one(store, now, PlayerOp::LoadReadOnly { roleid }) {
        Ok(OpOutcome::Loaded(player)) => player,
        other => panic!("load: {other:?}"),
    }
}

fn refusal(result: Result<OpOutcome, StoreError>) -> Refused {
    match result {
        Err(StoreError::Refused(refused)) => refused,
        other => panic!("expected a refusal: {other:?}"),
    }
}

fn held_by(claimant: &OwnerId, epoch: u64, lease_until_ms: u64) -> Ownership {
    Ownership {
        holder: Holder::Held(claimant.clone()),
        epoch,
        lease_until_ms,
    }
}

fn holders(result: Result<OpOutcome, StoreError>) -> Vec<RowHolder> {
    match result {
        Ok(OpOutcome::Holders(holders)) => holders,
        other => panic!("holders: {other:?}"),
    }
}

fn holder(roleid: RoleId, node: Option<&str>, epoch: u64) -> RowHolder {
    RowHolder {
        roleid,
        node: node.map(str::to_owned),
        epoch,
    }
}
