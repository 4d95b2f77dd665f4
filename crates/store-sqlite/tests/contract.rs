//! The store contract suite (DESIGN §14): the same test functions run against
//! the model store, the SQLite store on a file, and the SQLite store in
//! memory, through the `PlayerStore` trait.

use ownership::{Holder, OwnerId, Ownership, Refused, Rules};
use routing::{ROLE_SEQ_MAX, RoleId, Srvno};
use store::model::ModelStore;
use store::{
    FencedWrite, LedgerEntry, LedgerKind, OpOutcome, PlayerOp, PlayerRecord, PlayerStore,
    ReadOnlyPlayer, RowHolder, StoreError,
};
use store_sqlite::SqlitePlayerStore;
use tempfile::TempDir;
use wire::node::PlayerData;

const LEASE_TTL_MS: u64 = 10_000;
const HANDOFF_TTL_MS: u64 = 3_000;
const ACCOUNT: u64 = 42;

/// What the suite needs from a backend beyond `PlayerStore`.
trait Harness {
    type Store: PlayerStore;
    /// A store holding srvnos 1 and 2 (not 3) and applying `rules`.
    fn open_with(&mut self, rules: Rules) -> Self::Store;
    /// A store holding srvnos 1 and 2 with the correct rules.
    fn open(&mut self) -> Self::Store {
        self.open_with(Rules::default())
    }
    /// The store after a restart: whatever it committed is still there.
    fn reopen(&mut self, store: Self::Store) -> Self::Store;
    fn advance_role_seq(store: &mut Self::Store, srvno: Srvno, next_seq: u64) -> u64;
    fn ledger(store: &Self::Store, roleid: RoleId) -> Vec<LedgerEntry>;
}

fn held_srvnos() -> [Srvno; 2] {
    [srvno(1), srvno(2)]
}

struct Model;

impl Harness for Model {
    type Store = ModelStore;
    fn open_with(&mut self, rules: Rules) -> ModelStore {
        ModelStore::new(&held_srvnos(), rules)
    }
    fn reopen(&mut self, store: ModelStore) -> ModelStore {
        store
    }
    fn advance_role_seq(store: &mut ModelStore, srvno: Srvno, next_seq: u64) -> u64 {
        store.advance_role_seq(srvno, next_seq).unwrap()
    }
    fn ledger(store: &ModelStore, roleid: RoleId) -> Vec<LedgerEntry> {
        store.ledger(roleid).to_vec()
    }
}

struct SqliteFile {
    directory: TempDir,
}

impl SqliteFile {
    fn new() -> Self {
        Self {
            directory: tempfile::tempdir().unwrap(),
        }
    }
}

impl Harness for SqliteFile {
    type Store = SqlitePlayerStore;
    fn open_with(&mut self, rules: Rules) -> SqlitePlayerStore {
        let path = self.directory.path().join("srvno.db");
        SqlitePlayerStore::open(path, &held_srvnos(), rules).unwrap()
    }
    fn reopen(&mut self, store: SqlitePlayerStore) -> SqlitePlayerStore {
        drop(store);
        self.open()
    }
    fn advance_role_seq(store: &mut SqlitePlayerStore, srvno: Srvno, next_seq: u64) -> u64 {
        store.advance_role_seq(srvno, next_seq).unwrap()
    }
    fn ledger(store: &SqlitePlayerStore, roleid: RoleId) -> Vec<LedgerEntry> {
        store.ledger(roleid).unwrap()
    }
}

struct SqliteMemory;

impl Harness for SqliteMemory {
    type Store = SqlitePlayerStore;
    fn open_with(&mut self, rules: Rules) -> SqlitePlayerStore {
        SqlitePlayerStore::open_in_memory(&held_srvnos(), rules).unwrap()
    }
    fn reopen(&mut self, store: SqlitePlayerStore) -> SqlitePlayerStore {
        store
    }
    fn advance_role_seq(store: &mut SqlitePlayerStore, srvno: Srvno, next_seq: u64) -> u64 {
        SqliteFile::advance_role_seq(store, srvno, next_seq)
    }
    fn ledger(store: &SqlitePlayerStore, roleid: RoleId) -> Vec<LedgerEntry> {
        SqliteFile::ledger(store, roleid)
    }
}

/// Runs every listed test function against every backend.
macro_rules! contract_suite {
    ($($test:ident),* $(,)?) => {
        mod model {
            $(#[test] fn $test() { super::$test(super::Model); })*
        }
        mod sqlite_file {
            $(#[test] fn $test() { super::$test(super::SqliteFile::new()); })*
        }
        mod sqlite_memory {
            $(#[test] fn $test() { super::$test(super::SqliteMemory); })*
        }
    };
}

contract_suite!(
    created_roles_get_increasing_ids_per_srvno,
    role_ids_are_never_reused_after_reopen,
    role_ids_run_out_with_a_typed_error,
    claim_save_release,
    a_fenced_save_is_refused_and_writes_nothing,
    after_a_handoff_only_the_target_can_claim,
    a_lease_expires_by_database_time,
    leases_renew_in_a_batch,
    a_read_only_load_changes_nothing,
    the_ledger_is_appended_with_the_save,
    out_of_order_ledger_lines_are_refused,
    a_refused_op_does_not_stop_the_rest_of_its_batch,
    ops_on_an_unknown_role_are_refused,
    ops_on_another_srvno_are_refused,
    roles_of_an_account_are_ordered_by_id,
    a_random_incarnation_round_trips,
    a_stale_handoff_is_fenced_unless_the_rules_are_mutated,
    a_restarted_node_takes_back_its_predecessors_rows_durably,
    rows_held_elsewhere_are_listed_in_pages,
    a_holder_is_read_with_its_lease_by_database_time,
);

// ---------------------------------------------------------------- helpers --

fn srvno(number: u32) -> Srvno {
    Srvno::new(number).unwrap()
}

fn role(srvno_number: u32, seq: u64) -> RoleId {
    RoleId::new(srvno(srvno_number), seq).unwrap()
}

fn owner(node: &str, incarnation: u64) -> OwnerId {
    OwnerId {
        node: node.to_owned(),
        incarnation,
    }
}

fn apply_one(
    store: &mut impl PlayerStore,
    now: u64,
    op: PlayerOp,
) -> Result<OpOutcome, StoreError> {
    let mut results = store.apply(now, &[op]);
    assert_eq!(results.len(), 1);
    results.remove(0)
}

fn create(store: &mut impl PlayerStore, srvno_number: u32, name: &str) -> PlayerRecord {
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

fn claim_op(roleid: RoleId, claimant: &OwnerId) -> PlayerOp {
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
fn earn(record: &PlayerRecord, writer: &OwnerId, epoch: u64, gold: u64) -> FencedWrite {
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

// ------------------------------------------------------------------ tests --

fn created_roles_get_increasing_ids_per_srvno<H: Harness>(mut harness: H) {
    let mut store = harness.open();
    let first = create(&mut store, 1, "ann");
    let second = create(&mut store, 1, "bob");
    let other_srvno = create(&mut store, 2, "cat");
    assert_eq!(first.roleid.get(), 1_000_001);
    assert_eq!(second.roleid.get(), 1_000_002);
    assert_eq!(other_srvno.roleid.get(), 2_000_001);
    let expected = PlayerData {
        roleid: 1_000_001,
        account_id: ACCOUNT,
        name: "ann".to_owned(),
        level: 1,
        gold: 0,
        items: Vec::new(),
        next_ledger_seq: 1,
    };
    assert_eq!(first.data, expected);
    assert_eq!(first.data_version, 1);
    assert_eq!(first.ownership, Ownership::free());
    assert_eq!(load(&mut store, 0, first.roleid).data, expected);
}

fn role_ids_are_never_reused_after_reopen<H: Harness>(mut harness: H) {
    let mut store = harness.open();
    create(&mut store, 1, "ann");
    let ann = create(&mut store, 1, "bob");
    let me = owner("gs1", 1);
    let claimed = claim(&mut store, 0, ann.roleid, &me);
    written(apply_one(
        &mut store,
        1,
        PlayerOp::Save(earn(&claimed, &me, 1, 5)),
    ));

    let mut store = harness.reopen(store);
    assert_eq!(create(&mut store, 1, "cat").roleid.get(), 1_000_003);
    let after = load(&mut store, 2, ann.roleid);
    assert_eq!(after.data.gold, 5);
    assert_eq!(after.data_version, 2);
    assert_eq!(after.ownership, held_by(&me, 1, LEASE_TTL_MS));
    assert_eq!(H::ledger(&store, ann.roleid).len(), 1);
}

fn role_ids_run_out_with_a_typed_error<H: Harness>(mut harness: H) {
    let mut store = harness.open();
    create(&mut store, 1, "ann");
    assert_eq!(
        H::advance_role_seq(&mut store, srvno(1), 1),
        2,
        "never down"
    );
    assert_eq!(
        H::advance_role_seq(&mut store, srvno(1), ROLE_SEQ_MAX),
        ROLE_SEQ_MAX
    );
    assert_eq!(create(&mut store, 1, "last").roleid.seq(), ROLE_SEQ_MAX);
    let op = PlayerOp::CreateRole {
        srvno: srvno(1),
        account_id: ACCOUNT,
        name: "late".to_owned(),
    };
    let exhausted = Err(StoreError::RoleIdsExhausted(srvno(1)));
    assert_eq!(apply_one(&mut store, 0, op.clone()), exhausted);
    assert_eq!(create(&mut store, 2, "other").roleid.get(), 2_000_001);

    let mut store = harness.reopen(store);
    assert_eq!(apply_one(&mut store, 0, op), exhausted);
}

fn claim_save_release<H: Harness>(mut harness: H) {
    let mut store = harness.open();
    let created = create(&mut store, 1, "ann");
    let me = owner("gs1", 7);
    let claimed = claim(&mut store, 100, created.roleid, &me);
    assert_eq!(claimed.ownership, held_by(&me, 1, 100 + LEASE_TTL_MS));
    assert_eq!(claimed.data, created.data);
    assert_eq!(claimed.data_version, 1);

    let save = earn(&claimed, &me, 1, 10);
    let (version, ownership) = written(apply_one(&mut store, 200, PlayerOp::Save(save.clone())));
    assert_eq!(version, 2);
    assert_eq!(ownership, claimed.ownership);

    let saved = PlayerRecord {
        data: save.data.clone(),
        data_version: 2,
        ..claimed.clone()
    };
    let release = earn(&saved, &me, 1, 1);
    let (version, ownership) = written(apply_one(
        &mut store,
        300,
        PlayerOp::Release(release.clone()),
    ));
    assert_eq!(version, 3);
    assert_eq!(
        ownership,
        Ownership {
            holder: Holder::Free,
            epoch: 1,
            lease_until_ms: 0
        }
    );
    let read = apply_one(
        &mut store,
        400,
        PlayerOp::ReadOwnership {
            roleid: created.roleid,
        },
    );
    assert_eq!(
        read,
        Ok(OpOutcome::OwnershipRead {
            ownership,
            data_version: 3
        })
    );
    assert_eq!(load(&mut store, 400, created.roleid).data, release.data);
    let again = claim(&mut store, 500, created.roleid, &owner("gs2", 1));
    assert_eq!(again.ownership.epoch, 2);
    assert_eq!(again.data.gold, 11);
}

fn a_fenced_save_is_refused_and_writes_nothing<H: Harness>(mut harness: H) {
    let mut store = harness.open();
    let created = create(&mut store, 1, "ann");
    let zombie = owner("gs1", 1);
    let zombie_copy = claim(&mut store, 0, created.roleid, &zombie);
    let successor = owner("gs2", 1);
    let taken = claim(&mut store, LEASE_TTL_MS, created.roleid, &successor);
    assert_eq!(taken.ownership.epoch, 2);

    for op in [
        PlayerOp::Save(earn(&zombie_copy, &zombie, 1, 99)),
        PlayerOp::Release(earn(&zombie_copy, &zombie, 1, 99)),
        PlayerOp::Save(earn(&zombie_copy, &successor, 1, 99)),
        PlayerOp::Save(earn(&zombie_copy, &owner("gs2", 2), 2, 99)),
    ] {
        let refused = refusal(apply_one(&mut store, LEASE_TTL_MS + 1, op));
        assert_eq!(
            refused,
            Refused::Fenced {
                current: taken.ownership.clone()
            }
        );
    }
    let after = load(&mut store, LEASE_TTL_MS + 2, created.roleid);
    assert_eq!(after.data, created.data);
    assert_eq!(after.data_version, 1);
    assert_eq!(after.ownership, taken.ownership);
    assert!(H::ledger(&store, created.roleid).is_empty());
}

fn after_a_handoff_only_the_target_can_claim<H: Harness>(mut harness: H) {
    let mut store = harness.open();
    let created = create(&mut store, 1, "ann");
    let source = owner("gs1", 1);
    let claimed = claim(&mut store, 0, created.roleid, &source);
    let handoff = PlayerOp::Handoff {
        write: earn(&claimed, &source, 1, 3),
        to: "gs2".to_owned(),
        handoff_ttl_ms: HANDOFF_TTL_MS,
    };
    let (version, ownership) = written(apply_one(&mut store, 50, handoff));
    assert_eq!(version, 2);
    let arriving = Ownership {
        holder: Holder::Arriving("gs2".to_owned()),
        epoch: 2,
        lease_until_ms: 50 + HANDOFF_TTL_MS,
    };
    assert_eq!(ownership, arriving);

    let stranger = apply_one(&mut store, 60, claim_op(created.roleid, &owner("gs3", 1)));
    assert_eq!(
        refusal(stranger),
        Refused::HeldElsewhere {
            current: arriving.clone()
        }
    );
    let source_again = apply_one(&mut store, 60, claim_op(created.roleid, &source));
    assert!(matches!(
        refusal(source_again),
        Refused::HeldElsewhere { .. }
    ));
    let late_save = apply_one(
        &mut store,
        60,
        PlayerOp::Save(earn(&claimed, &source, 1, 1)),
    );
    assert!(matches!(refusal(late_save), Refused::Fenced { .. }));

    let target = owner("gs2", 9);
    let arrived = claim(&mut store, 70, created.roleid, &target);
    assert_eq!(arrived.ownership, held_by(&target, 3, 70 + LEASE_TTL_MS));
    assert_eq!(arrived.data.gold, 3);
    assert_eq!(arrived.data_version, 2);
}

fn a_lease_expires_by_database_time<H: Harness>(mut harness: H) {
    let mut store = harness.open();
    let created = create(&mut store, 1, "ann");
    claim(&mut store, 0, created.roleid, &owner("gs1", 1));
    let rival = owner("gs2", 1);
    let early = apply_one(
        &mut store,
        LEASE_TTL_MS - 1,
        claim_op(created.roleid, &rival),
    );
    assert!(matches!(refusal(early), Refused::HeldElsewhere { .. }));
    let taken = claim(&mut store, LEASE_TTL_MS, created.roleid, &rival);
    assert_eq!(taken.ownership, held_by(&rival, 2, 2 * LEASE_TTL_MS));
}

fn leases_renew_in_a_batch<H: Harness>(mut harness: H) {
    let mut store = harness.open();
    let me = owner("gs1", 1);
    let first = create(&mut store, 1, "ann").roleid;
    let second = create(&mut store, 2, "bob").roleid;
    let foreign = create(&mut store, 1, "cat").roleid;
    claim(&mut store, 0, first, &me);
    claim(&mut store, 0, second, &me);
    let foreign_owner = claim(&mut store, 0, foreign, &owner("gs2", 1)).ownership;
    let unknown = role(1, 999);
    let other_database = role(3, 1);
    let renew = PlayerOp::RenewLeases {
        owner: me.clone(),
        leases: vec![
            (first, 1),
            (second, 2),
            (foreign, 1),
            (unknown, 1),
            (other_database, 1),
        ],
        lease_ttl_ms: LEASE_TTL_MS,
    };
    let now = LEASE_TTL_MS - 5;
    let missing = Refused::Fenced {
        current: Ownership::free(),
    };
    let expected = OpOutcome::Renewed(vec![
        (first, Ok(now + LEASE_TTL_MS)),
        (
            second,
            Err(Refused::Fenced {
                current: held_by(&me, 1, LEASE_TTL_MS),
            }),
        ),
        (
            foreign,
            Err(Refused::Fenced {
                current: foreign_owner,
            }),
        ),
        (unknown, Err(missing.clone())),
        (other_database, Err(missing)),
    ]);
    assert_eq!(apply_one(&mut store, now, renew), Ok(expected));

    let rival = owner("gs3", 1);
    let still_held = apply_one(&mut store, LEASE_TTL_MS, claim_op(first, &rival));
    assert!(matches!(refusal(still_held), Refused::HeldElsewhere { .. }));
    let lapsed = claim(&mut store, LEASE_TTL_MS, second, &rival);
    assert_eq!(lapsed.ownership.epoch, 2);
}

fn a_read_only_load_changes_nothing<H: Harness>(mut harness: H) {
    let mut store = harness.open();
    let created = create(&mut store, 1, "ann");
    let me = owner("gs1", 1);
    let claimed = claim(&mut store, 0, created.roleid, &me);
    written(apply_one(
        &mut store,
        1,
        PlayerOp::Save(earn(&claimed, &me, 1, 4)),
    ));
    let loaded = load(&mut store, 2, created.roleid);
    assert_eq!(loaded.roleid, created.roleid);
    assert_eq!(loaded.data.gold, 4);
    assert_eq!(loaded.data_version, 2);
    assert_eq!(loaded.ownership, claimed.ownership);
    assert_eq!(load(&mut store, 3, created.roleid), loaded);
}

fn the_ledger_is_appended_with_the_save<H: Harness>(mut harness: H) {
    let mut store = harness.open();
    let created = create(&mut store, 1, "ann");
    let me = owner("gs1", 1);
    let claimed = claim(&mut store, 0, created.roleid, &me);
    let mut write = earn(&claimed, &me, 1, 10);
    write.data.items.push(wire::client::ItemStack {
        item_type: 7,
        count: 2,
    });
    write.ledger.push(LedgerEntry {
        seq: 2,
        kind: LedgerKind::Item(7),
        delta: 2,
        reason: "test:loot".to_owned(),
    });
    write.data.next_ledger_seq = 3;
    written(apply_one(&mut store, 1, PlayerOp::Save(write.clone())));
    assert_eq!(H::ledger(&store, created.roleid), write.ledger);

    let saved = PlayerRecord {
        data: write.data.clone(),
        data_version: 2,
        ..claimed
    };
    let spend = earn(&saved, &me, 1, 0);
    written(apply_one(&mut store, 2, PlayerOp::Save(spend.clone())));
    let ledger = H::ledger(&store, created.roleid);
    assert_eq!(ledger.len(), 3);
    assert_eq!(ledger[2], spend.ledger[0]);
    assert_eq!(load(&mut store, 3, created.roleid).data, spend.data);
}

fn out_of_order_ledger_lines_are_refused<H: Harness>(mut harness: H) {
    let mut store = harness.open();
    let created = create(&mut store, 1, "ann");
    let me = owner("gs1", 1);
    let claimed = claim(&mut store, 0, created.roleid, &me);
    let first = earn(&claimed, &me, 1, 10);
    written(apply_one(&mut store, 1, PlayerOp::Save(first.clone())));

    let mut replayed = first.clone();
    replayed.data.next_ledger_seq = 5;
    let mut beyond_next = earn(&claimed, &me, 1, 1);
    beyond_next.ledger[0].seq = 2;
    beyond_next.data.next_ledger_seq = 2;
    for (write, bad_seq) in [(replayed, 1), (beyond_next, 2)] {
        let result = apply_one(&mut store, 2, PlayerOp::Save(write));
        let expected = StoreError::LedgerOutOfOrder {
            roleid: created.roleid,
            seq: bad_seq,
        };
        assert_eq!(result, Err(expected));
    }
    let after = load(&mut store, 3, created.roleid);
    assert_eq!((after.data, after.data_version), (first.data, 2));
    assert_eq!(H::ledger(&store, created.roleid), first.ledger);
}

fn a_refused_op_does_not_stop_the_rest_of_its_batch<H: Harness>(mut harness: H) {
    let mut store = harness.open();
    let me = owner("gs1", 1);
    let ann = create(&mut store, 1, "ann");
    let bob = create(&mut store, 1, "bob");
    let ann_copy = claim(&mut store, 0, ann.roleid, &me);
    let bob_copy = claim(&mut store, 0, bob.roleid, &me);
    let batch = [
        PlayerOp::Save(earn(&ann_copy, &me, 1, 1)),
        PlayerOp::Save(earn(&bob_copy, &me, 7, 1)),
        PlayerOp::CreateRole {
            srvno: srvno(1),
            account_id: ACCOUNT,
            name: "cat".to_owned(),
        },
        PlayerOp::ReadOwnership { roleid: bob.roleid },
    ];
    let results = store.apply(5, &batch);
    assert_eq!(results.len(), 4);
    assert_eq!(written(results[0].clone()).0, 2);
    assert!(matches!(
        refusal(results[1].clone()),
        Refused::Fenced { .. }
    ));
    assert!(matches!(&results[2], Ok(OpOutcome::Created(record)) if record.roleid.seq() == 3));
    assert_eq!(
        results[3],
        Ok(OpOutcome::OwnershipRead {
            ownership: bob_copy.ownership.clone(),
            data_version: 1
        })
    );

    let mut store = harness.reopen(store);
    assert_eq!(load(&mut store, 6, ann.roleid).data.gold, 1);
    assert_eq!(load(&mut store, 6, bob.roleid).data, bob.data);
    assert_eq!(load(&mut store, 6, role(1, 3)).data.name, "cat");
}

fn ops_on_an_unknown_role_are_refused<H: Harness>(mut harness: H) {
    let mut store = harness.open();
    let me = owner("gs1", 1);
    let created = create(&mut store, 1, "ann");
    let ghost = role(1, 500);
    let mut ghost_copy = claim(&mut store, 0, created.roleid, &me);
    ghost_copy.roleid = ghost;
    for op in unknown_role_ops(ghost, &ghost_copy, &me) {
        assert_eq!(
            apply_one(&mut store, 1, op),
            Err(StoreError::UnknownRole(ghost))
        );
    }
}

fn ops_on_another_srvno_are_refused<H: Harness>(mut harness: H) {
    let mut store = harness.open();
    let me = owner("gs1", 1);
    let created = create(&mut store, 1, "ann");
    let elsewhere = role(3, 1);
    let mut copy = claim(&mut store, 0, created.roleid, &me);
    copy.roleid = elsewhere;
    let wrong = Err(StoreError::WrongDatabase(srvno(3)));
    for op in unknown_role_ops(elsewhere, &copy, &me) {
        assert_eq!(apply_one(&mut store, 1, op), wrong);
    }
    let create_there = PlayerOp::CreateRole {
        srvno: srvno(3),
        account_id: ACCOUNT,
        name: "dan".to_owned(),
    };
    assert_eq!(apply_one(&mut store, 1, create_there), wrong);
}

/// Every op that names a role, for `roleid`.
fn unknown_role_ops(roleid: RoleId, copy: &PlayerRecord, me: &OwnerId) -> Vec<PlayerOp> {
    vec![
        claim_op(roleid, me),
        PlayerOp::Save(earn(copy, me, 1, 1)),
        PlayerOp::Handoff {
            write: earn(copy, me, 1, 1),
            to: "gs2".to_owned(),
            handoff_ttl_ms: HANDOFF_TTL_MS,
        },
        PlayerOp::Release(earn(copy, me, 1, 1)),
        PlayerOp::ReadOwnership { roleid },
        PlayerOp::LoadReadOnly { roleid },
    ]
}

fn roles_of_an_account_are_ordered_by_id<H: Harness>(mut harness: H) {
    let mut store = harness.open();
    let on_two = create(&mut store, 2, "ann");
    let op = PlayerOp::CreateRole {
        srvno: srvno(1),
        account_id: ACCOUNT + 1,
        name: "stranger".to_owned(),
    };
    apply_one(&mut store, 0, op).unwrap();
    let on_one = create(&mut store, 1, "bob");
    let roles = apply_one(
        &mut store,
        0,
        PlayerOp::RolesOfAccount {
            account_id: ACCOUNT,
        },
    );
    let expected = vec![(on_one.roleid, on_one.data), (on_two.roleid, on_two.data)];
    assert_eq!(roles, Ok(OpOutcome::Roles(expected)));
    let none = apply_one(&mut store, 0, PlayerOp::RolesOfAccount { account_id: 9 });
    assert_eq!(none, Ok(OpOutcome::Roles(Vec::new())));
}

fn a_random_incarnation_round_trips<H: Harness>(mut harness: H) {
    let mut store = harness.open();
    let created = create(&mut store, 1, "ann");
    let me = owner("gs1", u64::MAX - 3);
    let claimed = claim(&mut store, 0, created.roleid, &me);
    written(apply_one(
        &mut store,
        1,
        PlayerOp::Save(earn(&claimed, &me, 1, 1)),
    ));
    let mut store = harness.reopen(store);
    assert_eq!(
        load(&mut store, 2, created.roleid).ownership,
        claimed.ownership
    );
}

fn a_stale_handoff_is_fenced_unless_the_rules_are_mutated<H: Harness>(mut harness: H) {
    let mutated = Rules {
        handoff_checks_epoch: false,
        ..Rules::default()
    };
    for (rules, goes_through) in [(Rules::default(), false), (mutated, true)] {
        let mut store = harness.open_with(rules);
        let created = create(&mut store, 1, "ann");
        let stale = owner("gs1", 1);
        let stale_copy = claim(&mut store, 0, created.roleid, &stale);
        claim(&mut store, LEASE_TTL_MS, created.roleid, &owner("gs2", 1));
        let handoff = PlayerOp::Handoff {
            write: earn(&stale_copy, &stale, 1, 1),
            to: "gs3".to_owned(),
            handoff_ttl_ms: HANDOFF_TTL_MS,
        };
        let result = apply_one(&mut store, LEASE_TTL_MS + 1, handoff);
        if goes_through {
            assert_eq!(written(result).1.holder, Holder::Arriving("gs3".to_owned()));
        } else {
            assert!(matches!(refusal(result), Refused::Fenced { .. }));
        }
        drop(store);
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

fn a_restarted_node_takes_back_its_predecessors_rows_durably<H: Harness>(mut harness: H) {
    let mut store = harness.open();
    let held = create(&mut store, 1, "ann");
    let arriving = create(&mut store, 2, "bob");
    let elsewhere = create(&mut store, 1, "cat");
    let dead = owner("gs1", 1);
    claim(&mut store, 0, held.roleid, &dead);
    let source = owner("gs2", 1);
    let bob = claim(&mut store, 0, arriving.roleid, &source);
    let handoff = PlayerOp::Handoff {
        write: earn(&bob, &source, 1, 0),
        to: "gs1".to_owned(),
        handoff_ttl_ms: HANDOFF_TTL_MS,
    };
    written(apply_one(&mut store, 0, handoff));
    claim(&mut store, 0, elsewhere.roleid, &owner("gs3", 1));

    let restarted = owner("gs1", 2);
    let taken = apply_one(
        &mut store,
        1,
        PlayerOp::TakeBack {
            owner: restarted.clone(),
        },
    );
    assert_eq!(taken, Ok(OpOutcome::TakenBack { rows: 2 }));
    let mut store = harness.reopen(store);
    assert_eq!(
        load(&mut store, 1, held.roleid).ownership.holder,
        Holder::Free
    );
    assert_eq!(
        load(&mut store, 1, arriving.roleid).ownership.holder,
        Holder::Free
    );
    let zombie = apply_one(&mut store, 1, PlayerOp::Save(earn(&held, &dead, 1, 5)));
    assert!(matches!(refusal(zombie), Refused::Fenced { .. }));
    let other = load(&mut store, 1, elsewhere.roleid).ownership;
    assert_eq!(
        other,
        held_by(&owner("gs3", 1), 1, LEASE_TTL_MS),
        "not gs1's"
    );
    claim(&mut store, 2, held.roleid, &restarted);
    let again = apply_one(&mut store, 3, PlayerOp::TakeBack { owner: restarted });
    assert_eq!(
        again,
        Ok(OpOutcome::TakenBack { rows: 0 }),
        "its own rows stay"
    );
}

fn rows_held_elsewhere_are_listed_in_pages<H: Harness>(mut harness: H) {
    let mut store = harness.open();
    let roles: Vec<RoleId> = (0..5)
        .map(|index| create(&mut store, 1, &format!("p{index}")).roleid)
        .collect();
    let other_srvno = create(&mut store, 2, "far").roleid;
    claim(&mut store, 0, roles[0], &owner("gs2", 1));
    claim(&mut store, 0, roles[1], &owner("gs1", 1)); // the home's own
    claim(&mut store, 0, roles[3], &owner("gs3", 1));
    claim(&mut store, 100, roles[4], &owner("gs2", 1));
    claim(&mut store, 0, other_srvno, &owner("gs2", 1));
    let list = |after: Option<RoleId>, limit: usize| PlayerOp::ListHeldElsewhere {
        srvno: srvno(1),
        except_node: "gs1".to_owned(),
        after,
        limit,
    };
    let first = holders(apply_one(&mut store, 5, list(None, 2)));
    assert_eq!(
        first,
        vec![
            holder(roles[0], Some("gs2"), 1),
            holder(roles[3], Some("gs3"), 1)
        ]
    );
    let second = holders(apply_one(&mut store, 5, list(Some(roles[3]), 2)));
    assert_eq!(second, vec![holder(roles[4], Some("gs2"), 1)]);
    let lapsed = holders(apply_one(&mut store, LEASE_TTL_MS, list(None, 10)));
    assert_eq!(
        lapsed,
        vec![holder(roles[4], Some("gs2"), 1)],
        "leases lapsed"
    );
    let last = RoleId::new(srvno(1), ROLE_SEQ_MAX).unwrap();
    assert!(holders(apply_one(&mut store, 5, list(Some(last), 10))).is_empty());
}

fn a_holder_is_read_with_its_lease_by_database_time<H: Harness>(mut harness: H) {
    let mut store = harness.open();
    let created = create(&mut store, 1, "ann");
    let read = |store: &mut H::Store, now| {
        holders(apply_one(
            store,
            now,
            PlayerOp::ReadHolder {
                roleid: created.roleid,
            },
        ))
    };
    assert_eq!(read(&mut store, 0), vec![holder(created.roleid, None, 0)]);
    claim(&mut store, 0, created.roleid, &owner("gs2", 1));
    assert_eq!(
        read(&mut store, 1),
        vec![holder(created.roleid, Some("gs2"), 1)]
    );
    assert_eq!(
        read(&mut store, LEASE_TTL_MS),
        vec![holder(created.roleid, None, 1)],
        "a lapsed lease holds nothing"
    );
    let unknown = apply_one(
        &mut store,
        0,
        PlayerOp::ReadHolder {
            roleid: role(1, 99),
        },
    );
    assert_eq!(unknown, Err(StoreError::UnknownRole(role(1, 99))));
}
