//! What only the PostgreSQL player store does: the database's own clock,
//! row locks against other sessions' concurrent commits, the schema recorded
//! in `kuafu_schema`, a failure rolling the whole batch back, a session the
//! server ended replaced at the next batch, durable session settings, and
//! role ids drawn by two sessions at once never handed out twice, and the
//! ledger audit; a handoff or a claim in two round trips, a batch reading
//! its own writes, and a write failing at the commit rolling its batch back.
//! Each test runs on a database of its own and skips, saying why, when the
//! server is unreachable outside CI.

use std::time::Duration;

use ownership::{OwnerId, Refused, Rules};
use store::contract::{
    LEASE_TTL_MS, assert_clean_audit, assert_forged_audit, claim_op, create, earn,
    forge_ledger_sql, held_srvnos, owner, two_audited_roles,
};
use store::{OpOutcome, PlayerOp, PlayerRecord, PlayerStore, StoreError};
use store_postgres::PostgresPlayerStore;
use store_postgres::test_support::TestDatabase;

/// Polls of `pg_stat_activity` while waiting for the store to block on a
/// row lock, one every [`LOCK_WAIT_POLL_MS`].
const LOCK_WAIT_POLLS_MAX: u32 = 1_000;
const LOCK_WAIT_POLL_MS: u64 = 10;

fn connect(database: &TestDatabase) -> PostgresPlayerStore {
    PostgresPlayerStore::connect(&database.config(), &held_srvnos(), Rules::default()).unwrap()
}

fn create_ann(store: &mut PostgresPlayerStore) -> PlayerRecord {
    create(store, 1, "ann")
}

/// Claims `record`'s role for `claimant` at database time 0.
fn claim(
    store: &mut PostgresPlayerStore,
    record: &PlayerRecord,
    claimant: &OwnerId,
) -> PlayerRecord {
    match store
        .apply(0, &[claim_op(record.roleid, claimant)])
        .remove(0)
    {
        Ok(OpOutcome::Claimed(claimed)) => claimed,
        other => panic!("claimed: {other:?}"),
    }
}

fn backend_message(result: Result<impl std::fmt::Debug, StoreError>) -> String {
    match result {
        Err(StoreError::Backend(message)) => message,
        other => panic!("expected a backend error: {other:?}"),
    }
}

#[test]
fn a_batch_at_the_database_clock_judges_leases_by_it() {
    let Some(database) = TestDatabase::create("clock") else {
        return;
    };
    // The database's clock, 2001-09-09 01:46:40 UTC (10^12 ms), far from
    // this machine's: PostgreSQL looks functions up in `public` first here.
    database.session().execute(&format!(
        "CREATE FUNCTION public.clock_timestamp() RETURNS timestamptz \
           LANGUAGE sql AS $$ SELECT timestamptz '2001-09-09 01:46:40+00' $$; \
         ALTER DATABASE {} SET search_path = public, pg_catalog",
        database.name()
    ));
    let mut store = connect(&database);
    let created = create_ann(&mut store);
    let claim = claim_op(created.roleid, &owner("gs1", 1));
    let Ok(OpOutcome::Claimed(claimed)) = store.apply_at_db_now(&[claim]).remove(0) else {
        panic!("claimed");
    };
    assert_eq!(
        claimed.ownership.lease_until_ms,
        1_000_000_000_000 + LEASE_TTL_MS
    );
}

/// The op a rival session's commit must change the answer of.
#[derive(Clone, Copy, Debug)]
enum Write {
    Claim,
    Save,
    Renew,
}

#[test]
fn a_write_waits_for_another_sessions_transaction_on_its_row_and_sees_its_commit() {
    for write in [Write::Claim, Write::Save, Write::Renew] {
        let Some(database) = TestDatabase::create("locks") else {
            return;
        };
        let mut store = connect(&database);
        let created = create_ann(&mut store);
        let holder = owner("gs1", 1);
        let claimed = store
            .apply(0, &[claim_op(created.roleid, &holder)])
            .remove(0);
        assert!(claimed.is_ok(), "{claimed:?}");
        let op = match write {
            Write::Claim => claim_op(created.roleid, &owner("gs2", 1)),
            Write::Save => PlayerOp::Save(earn(&created, &holder, 1, 1)),
            Write::Renew => PlayerOp::RenewLeases {
                owner: holder.clone(),
                leases: vec![(created.roleid, 1)],
                lease_ttl_ms: LEASE_TTL_MS,
            },
        };
        // gs1's lease has lapsed by then: only the rival's commit, which
        // gives the row to gs9 at epoch 2, can make the op fail.
        let rival = database.session();
        rival.execute(&format!(
            "BEGIN; UPDATE players SET owner_node = 'gs9', owner_incarnation = 9, epoch = 2, \
             lease_until_ms = 1000000 WHERE roleid = {}",
            created.roleid
        ));
        let result = std::thread::scope(|scope| {
            let applying = scope.spawn(|| store.apply(2 * LEASE_TTL_MS, &[op]).remove(0));
            wait_for_a_lock_wait(&database);
            rival.execute("COMMIT");
            applying.join().unwrap()
        });
        let refused = match (write, result) {
            (Write::Renew, Ok(OpOutcome::Renewed(mut leases))) => leases.remove(0).1.err(),
            (_, Err(StoreError::Refused(refused))) => Some(refused),
            (_, other) => panic!("{write:?} answered {other:?}"),
        };
        assert!(
            matches!(
                refused,
                Some(Refused::HeldElsewhere { .. } | Refused::Fenced { .. })
            ),
            "{write:?} must see gs9's commit: {refused:?}"
        );
    }
}

/// Waits until a session of `database` waits for a lock.
fn wait_for_a_lock_wait(database: &TestDatabase) {
    let observer = database.session();
    let waiting = format!(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = '{}' \
         AND wait_event_type = 'Lock'",
        database.name()
    );
    for _ in 0..LOCK_WAIT_POLLS_MAX {
        if observer.value::<i64>(&waiting) > 0 {
            return;
        }
        std::thread::sleep(Duration::from_millis(LOCK_WAIT_POLL_MS));
    }
    panic!("the store never waited for the rival's row lock");
}

/// The player database's migrations (`migrations/player`).
const PLAYER_SCHEMA_VERSION: i64 = 5;

#[test]
fn the_schema_is_migrated_once_and_a_newer_or_other_kind_is_refused() {
    let Some(database) = TestDatabase::create("schema") else {
        return;
    };
    let session = database.session();
    let version = "SELECT version::bigint FROM kuafu_schema";
    for _ in 0..2 {
        drop(connect(&database));
        assert_eq!(session.value::<i64>(version), PLAYER_SCHEMA_VERSION);
    }
    session.execute("UPDATE kuafu_schema SET version = 9");
    let newer = PostgresPlayerStore::connect(&database.config(), &held_srvnos(), Rules::default());
    let message = backend_message(newer);
    assert!(message.contains("newer"), "{message}");
    assert!(message.contains(database.name()), "{message}");
    session.execute("UPDATE kuafu_schema SET version = 1, kind = 'Kuafu account database'");
    let other = PostgresPlayerStore::connect(&database.config(), &held_srvnos(), Rules::default());
    let message = backend_message(other);
    assert!(
        message.contains("it is a Kuafu account database"),
        "{message}"
    );
}

#[test]
fn a_database_of_another_application_is_refused_and_left_untouched() {
    let Some(database) = TestDatabase::create("foreign") else {
        return;
    };
    let session = database.session();
    session.execute("CREATE TABLE notes (text TEXT)");
    let opened = PostgresPlayerStore::connect(&database.config(), &held_srvnos(), Rules::default());
    let message = backend_message(opened);
    assert!(message.contains("not a Kuafu player"), "{message}");
    assert!(message.contains(database.name()), "{message}");
    let tables = "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'";
    assert_eq!(session.value::<i64>(tables), 1, "no table was added");
}

/// Roles each of two sessions creates in the concurrent-creation test.
const CONCURRENT_ROLES: usize = 50;

#[test]
fn two_sessions_creating_roles_at_once_never_hand_out_one_id_twice() {
    let Some(database) = TestDatabase::create("role_ids") else {
        return;
    };
    let create_roles = |session: usize| {
        let mut store = connect(&database);
        (0..CONCURRENT_ROLES)
            .map(|index| create(&mut store, 1, &format!("s{session}-{index}")).roleid)
            .collect::<Vec<_>>()
    };
    let (first, second) = test_support::at_once(|| create_roles(0), || create_roles(1));
    let ids: std::collections::BTreeSet<_> = first.iter().chain(&second).collect();
    assert_eq!(
        ids.len(),
        2 * CONCURRENT_ROLES,
        "a role id was handed out twice"
    );
    let rows = "SELECT count(DISTINCT roleid) FROM players";
    assert_eq!(
        database.session().value::<i64>(rows),
        2 * CONCURRENT_ROLES as i64
    );
}

#[test]
fn stores_opening_a_new_database_at_once_migrate_it_once() {
    let Some(database) = TestDatabase::create("race") else {
        return;
    };
    std::thread::scope(|scope| {
        let openers: Vec<_> = (0..4).map(|_| scope.spawn(|| connect(&database))).collect();
        for opener in openers {
            drop(opener.join().unwrap());
        }
    });
    let version = "SELECT version::bigint FROM kuafu_schema";
    assert_eq!(
        database.session().value::<i64>(version),
        PLAYER_SCHEMA_VERSION
    );
}

#[test]
fn a_database_failure_fails_the_whole_batch_and_writes_nothing() {
    let Some(database) = TestDatabase::create("failure") else {
        return;
    };
    let mut store = connect(&database);
    let ann = create_ann(&mut store);
    database.session().execute(&format!(
        "UPDATE players SET data = '\\xffffffff' WHERE roleid = {}",
        ann.roleid
    ));
    let bob = PlayerOp::CreateRole {
        srvno: held_srvnos()[0],
        account_id: 1,
        name: "bob".to_owned(),
    };
    let batch = [bob, PlayerOp::LoadReadOnly { roleid: ann.roleid }];
    let results = store.apply(1, &batch);
    assert_eq!(results.len(), 2);
    for result in results {
        let message = backend_message(result);
        assert!(message.contains(database.name()), "{message}");
    }
    let next = create(&mut store, 1, "cat");
    assert_eq!(
        next.roleid.seq(),
        2,
        "the failed batch's create was rolled back"
    );
}

#[test]
fn a_session_the_server_ended_is_replaced_and_the_batch_runs() {
    let Some(database) = TestDatabase::create("reconnect") else {
        return;
    };
    let mut store = connect(&database);
    let created = create_ann(&mut store);
    let session = database.session();
    let ended = session.value::<i64>(&format!(
        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity \
         WHERE datname = '{}' AND pid <> pg_backend_pid()",
        database.name()
    ));
    assert_eq!(ended, 1, "the store's session ended");
    let claimed = store.apply(1, &[claim_op(created.roleid, &owner("gs1", 1))]);
    assert!(
        matches!(claimed[0], Ok(OpOutcome::Claimed(_))),
        "{claimed:?}"
    );
}

#[test]
fn every_kuafu_session_commits_durably_whatever_the_database_default() {
    let Some(database) = TestDatabase::create("durable") else {
        return;
    };
    database.session().execute(&format!(
        "ALTER DATABASE {} SET synchronous_commit = off",
        database.name()
    ));
    let session = database.session();
    assert_eq!(session.value::<String>("SHOW synchronous_commit"), "on");
    let idle_limit_ms = "SELECT setting::bigint FROM pg_settings \
         WHERE name = 'idle_in_transaction_session_timeout'";
    assert_eq!(
        session.value::<i64>(idle_limit_ms),
        i64::try_from(store_postgres::IDLE_IN_TRANSACTION_TIMEOUT_MS).unwrap()
    );
}

#[test]
fn the_audit_finds_bad_sums_lines_without_a_writer_epochs_with_two_and_epochs_going_back() {
    let Some(database) = TestDatabase::create("audit") else {
        return;
    };
    let mut store = connect(&database);
    let (ann, bob) = two_audited_roles(&mut store);
    assert_clean_audit(&store.audit().unwrap());
    database.session().execute(&forge_ledger_sql(ann, bob));
    assert_forged_audit(&store.audit().unwrap(), ann, bob);
}

#[test]
fn a_handoff_and_a_claim_each_take_two_round_trips() {
    let Some(database) = TestDatabase::create("trips") else {
        return;
    };
    let mut store = connect(&database);
    let ann = create_ann(&mut store);
    let (gs1, gs2) = (owner("gs1", 1), owner("gs2", 1));
    let trips = |store: &mut PostgresPlayerStore, op: PlayerOp| {
        let before = store.round_trips();
        let result = store.apply_at_db_now(&[op]).remove(0);
        (result, store.round_trips() - before)
    };
    let (claimed, claim_trips) = trips(&mut store, claim_op(ann.roleid, &gs1));
    let Ok(OpOutcome::Claimed(claimed)) = claimed else {
        panic!("claimed: {claimed:?}");
    };
    let handoff = PlayerOp::Handoff {
        write: earn(&claimed, &gs1, claimed.ownership.epoch, 5),
        to: "gs2".to_owned(),
        handoff_ttl_ms: LEASE_TTL_MS,
    };
    let (handed_off, handoff_trips) = trips(&mut store, handoff);
    assert!(handed_off.is_ok(), "{handed_off:?}");
    let (arrived, arrival_trips) = trips(&mut store, claim_op(ann.roleid, &gs2));
    let Ok(OpOutcome::Claimed(arrived)) = arrived else {
        panic!("claimed at the target: {arrived:?}");
    };
    assert_eq!(
        arrived.data.gold,
        claimed.data.gold + 5,
        "the handoff's save"
    );
    assert_eq!((claim_trips, handoff_trips, arrival_trips), (2, 2, 2));
}

#[test]
fn a_batch_reads_its_own_writes_of_its_locked_rows() {
    let Some(database) = TestDatabase::create("own") else {
        return;
    };
    let mut store = connect(&database);
    let ann = create_ann(&mut store);
    let gs1 = owner("gs1", 1);
    let claimed = claim(&mut store, &ann, &gs1);
    let first = earn(&claimed, &gs1, claimed.ownership.epoch, 3);
    let after_first = PlayerRecord {
        data: first.data.clone(),
        data_version: claimed.data_version + 1,
        ..claimed.clone()
    };
    let second = earn(&after_first, &gs1, claimed.ownership.epoch, 4);
    let batch = [
        PlayerOp::Save(first),
        PlayerOp::Save(second),
        PlayerOp::LoadReadOnly { roleid: ann.roleid },
        claim_op(ann.roleid, &owner("gs2", 1)),
    ];
    let mut results = store.apply(1, &batch);
    assert!(
        results[1].is_ok(),
        "the second save sees the first: {:?}",
        results[1]
    );
    let Ok(OpOutcome::Loaded(loaded)) = results.remove(2) else {
        panic!("loaded");
    };
    assert_eq!(
        loaded.data.gold,
        claimed.data.gold + 7,
        "the load sees both saves"
    );
    assert!(
        matches!(
            results[2],
            Err(StoreError::Refused(Refused::HeldElsewhere { .. }))
        ),
        "the claim sees gs1's saved lease: {:?}",
        results[2]
    );
    assert_eq!(store.ledger(ann.roleid).unwrap().len(), 2);
}

#[test]
fn a_write_failing_at_commit_rolls_the_whole_batch_back() {
    let Some(database) = TestDatabase::create("commit") else {
        return;
    };
    let mut store = connect(&database);
    let (ann, bob) = (create_ann(&mut store), create(&mut store, 1, "bob"));
    let gs1 = owner("gs1", 1);
    let claimed = claim(&mut store, &ann, &gs1);
    // Ann's ledger lines now fail when they are inserted, which is when
    // the batch commits.
    database.session().execute(&format!(
        "ALTER TABLE ledger ADD CONSTRAINT no_ann CHECK (roleid <> {})",
        ann.roleid
    ));
    let batch = [
        claim_op(bob.roleid, &gs1),
        PlayerOp::Save(earn(&claimed, &gs1, claimed.ownership.epoch, 3)),
    ];
    for result in store.apply(1, &batch) {
        let message = backend_message(result);
        assert!(message.contains("no_ann"), "{message}");
    }
    let rows = store.apply(
        1,
        &[
            PlayerOp::LoadReadOnly { roleid: ann.roleid },
            claim_op(bob.roleid, &owner("gs2", 1)),
        ],
    );
    let Ok(OpOutcome::Loaded(ann_now)) = &rows[0] else {
        panic!("loaded: {rows:?}");
    };
    assert_eq!(
        ann_now.data.gold, claimed.data.gold,
        "ann's save was rolled back"
    );
    assert!(
        rows[1].is_ok(),
        "bob's claim by gs1 was rolled back: {:?}",
        rows[1]
    );
    assert!(store.ledger(ann.roleid).unwrap().is_empty());
}
