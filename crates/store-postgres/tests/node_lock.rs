//! The node lock on PostgreSQL (DESIGN §5, `store_postgres::NodeLock`): a
//! lock held by one session refuses a second, naming the holder; a dropped
//! or killed holder's session frees it, and the next incarnation learns
//! whose it was; a holder whose session was killed gets the lock again and
//! serves on, unless another incarnation held it meanwhile, or holds it
//! now: then it stops.
//!
//! Under `CI=true` the tests fail when PostgreSQL is unreachable; elsewhere
//! they skip, saying why.

use ownership::Rules;
use routing::Srvno;
use store_postgres::test_support::{Session, TestDatabase};
use store_postgres::{
    KEEPALIVE_IDLE_S, KEEPALIVE_INTERVAL_S, KEEPALIVE_PROBES, NodeLock, NodeLockError,
    PostgresPlayerStore, StopReason, Verdict, lock_key,
};

const ZONE: &str = "lockzone";
const NODE: &str = "gs1";
/// Looks a holder takes to tell after its session was killed: the first
/// finds the session ended, the second a new session's answer.
const LOOKS_AFTER_A_KILL: usize = 2;

/// A player database, migrated (the marker table is part of its schema).
fn player_database(purpose: &str) -> Option<TestDatabase> {
    let database = TestDatabase::create(purpose)?;
    let srvnos = [Srvno::new(1).unwrap()];
    PostgresPlayerStore::connect(&database.config(), &srvnos, Rules::default()).unwrap();
    Some(database)
}

fn acquire(
    database: &TestDatabase,
    node: &str,
    incarnation: u64,
) -> Result<(NodeLock, Option<u64>), NodeLockError> {
    NodeLock::try_acquire(&database.config(), ZONE, node, incarnation)
}

/// Ends the session of server process `pid` and waits until it is gone.
fn kill_session(database: &TestDatabase, pid: i32) {
    let sql = format!("SELECT pg_terminate_backend({pid}, 10000)");
    assert!(database.session().value::<bool>(&sql), "{sql}");
}

/// Waits until no session holds `node`'s lock: takes it (blocking) on a
/// session of its own, and lets go.
fn wait_until_free(database: &TestDatabase, node: &str) {
    let (class, objid) = lock_key(ZONE, node);
    let session: Session = database.session();
    session.execute(&format!(
        "SELECT pg_advisory_lock({class}, {objid}); SELECT pg_advisory_unlock({class}, {objid})"
    ));
}

/// The verdict of a holder whose session was killed.
fn verdict_after_a_kill(lock: &mut NodeLock) -> Verdict {
    let mut verdict = Verdict::LookAgain;
    for _ in 0..LOOKS_AFTER_A_KILL {
        verdict = lock.check();
        if verdict != Verdict::LookAgain {
            break;
        }
    }
    verdict
}

#[test]
fn a_held_node_lock_refuses_a_second_session_and_names_the_holder() {
    let Some(database) = player_database("lock_held") else {
        return;
    };
    let (mut first, previous) = acquire(&database, NODE, 1).unwrap();
    assert_eq!(previous, None, "the first incarnation has no predecessor");
    let refused = acquire(&database, NODE, 2)
        .err()
        .expect("the second is refused");
    let NodeLockError::Held { node, holder, pid } = &refused else {
        panic!("{refused}");
    };
    assert_eq!((node.as_str(), *pid), (NODE, first.pid()));
    assert!(
        holder.contains(&format!("server process {pid} (kuafu")),
        "{holder}"
    );
    assert!(refused.to_string().contains(database.name()), "{refused}");
    // Another node's lock is another key.
    assert!(acquire(&database, "gs2", 3).is_ok());
    assert_eq!(first.check(), Verdict::Serve);
}

/// A node lock's session is opened like every Kuafu session; the server
/// must probe it when it goes silent, so a game server whose host died
/// loses its lock within `DEAD_CLIENT_DETECTED_S`, not the operating
/// system's two hours.
#[test]
fn every_session_asks_the_server_to_end_it_when_its_host_goes_silent() {
    let Some(database) = player_database("lock_keepalive") else {
        return;
    };
    let session = database.session();
    let setting = |name: &str| session.value::<String>(&format!("SHOW {name}"));
    assert_eq!(setting("tcp_keepalives_idle"), KEEPALIVE_IDLE_S.to_string());
    assert_eq!(
        setting("tcp_keepalives_interval"),
        KEEPALIVE_INTERVAL_S.to_string()
    );
    assert_eq!(
        setting("tcp_keepalives_count"),
        KEEPALIVE_PROBES.to_string()
    );
}

#[test]
fn a_dropped_or_killed_holder_frees_the_lock_for_the_next_incarnation() {
    let Some(database) = player_database("lock_freed") else {
        return;
    };
    let (first, _) = acquire(&database, NODE, 1).unwrap();
    drop(first);
    wait_until_free(&database, NODE);
    let (mut second, previous) = acquire(&database, NODE, 2).unwrap();
    assert_eq!(previous, Some(1), "the next learns whose it was");
    kill_session(&database, second.pid());
    // Killed: free at once, as for a killed process's session.
    let (third, previous) = acquire(&database, NODE, 3).unwrap();
    assert_eq!(previous, Some(2));
    let stop = Verdict::Stop(StopReason::HeldByAnother { pid: third.pid() });
    assert_eq!(verdict_after_a_kill(&mut second), stop);
}

#[test]
fn a_holder_whose_session_was_killed_gets_the_lock_again_and_serves_on() {
    let Some(database) = player_database("lock_regained") else {
        return;
    };
    let (mut lock, _) = acquire(&database, NODE, 1).unwrap();
    let old_pid = lock.pid();
    kill_session(&database, old_pid);
    assert_eq!(verdict_after_a_kill(&mut lock), Verdict::Serve);
    assert_ne!(lock.pid(), old_pid, "held on a new session");
    let refused = acquire(&database, NODE, 2).err();
    assert!(matches!(refused, Some(NodeLockError::Held { pid, .. }) if pid == lock.pid()));
    assert_eq!(lock.check(), Verdict::Serve);
}

#[test]
fn a_holder_stops_when_another_incarnation_held_the_lock_meanwhile() {
    let Some(database) = player_database("lock_taken") else {
        return;
    };
    let (mut lock, _) = acquire(&database, NODE, 1).unwrap();
    kill_session(&database, lock.pid());
    let (successor, _) = acquire(&database, NODE, 2).unwrap();
    kill_session(&database, successor.pid());
    let stop = Verdict::Stop(StopReason::TakenMeanwhile { marker: Some(2) });
    assert_eq!(verdict_after_a_kill(&mut lock), stop);
}
