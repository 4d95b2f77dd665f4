//! The async writer: concurrent submits share batches, a full queue and a
//! stopped writer answer typed errors, and a dropped writer closes its store.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, mpsc};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use ownership::{OwnerId, Rules};
use routing::{RoleId, Srvno};
use store::model::ModelStore;
use store::{ClockedPlayerStore, OpOutcome, PlayerOp, PlayerStore, StoreError};
use store_sqlite::{PlayerStoreWriter, SqlitePlayerStore, WRITER_QUEUE_OPS_MAX};

const SUBMITTERS: usize = 200;

/// Counts the batches (transactions) and ops a store is given.
#[derive(Default)]
struct Counters {
    batches: AtomicUsize,
    ops: AtomicUsize,
    dropped: AtomicBool,
}

/// A store that counts its batches and can hold each one back a little, so
/// that submits pile up behind it.
struct Counting<S> {
    inner: S,
    counters: Arc<Counters>,
    delay: Duration,
}

impl<S: PlayerStore> PlayerStore for Counting<S> {
    fn apply(&mut self, db_now_ms: u64, ops: &[PlayerOp]) -> Vec<Result<OpOutcome, StoreError>> {
        self.counters.batches.fetch_add(1, Ordering::SeqCst);
        self.counters.ops.fetch_add(ops.len(), Ordering::SeqCst);
        std::thread::sleep(self.delay);
        self.inner.apply(db_now_ms, ops)
    }
}

impl<S> Drop for Counting<S> {
    fn drop(&mut self) {
        self.counters.dropped.store(true, Ordering::SeqCst);
    }
}

fn srvno() -> Srvno {
    Srvno::new(1).unwrap()
}

fn create_op(index: usize) -> PlayerOp {
    PlayerOp::CreateRole {
        srvno: srvno(),
        account_id: 1,
        name: format!("role{index}"),
    }
}

fn counting<S>(inner: S, delay: Duration) -> (Counting<S>, Arc<Counters>) {
    let counters = Arc::new(Counters::default());
    let store = Counting {
        inner,
        counters: counters.clone(),
        delay,
    };
    (store, counters)
}

/// Submits `SUBMITTERS` creates at once; returns the role ids in order.
async fn create_concurrently(writer: Arc<PlayerStoreWriter>) -> Vec<RoleId> {
    let tasks: Vec<_> = (0..SUBMITTERS)
        .map(|index| {
            let writer = writer.clone();
            tokio::spawn(async move { writer.submit(create_op(index)).await })
        })
        .collect();
    let mut roleids = Vec::new();
    for task in tasks {
        match task.await.unwrap() {
            Ok(OpOutcome::Created(record)) => roleids.push(record.roleid),
            other => panic!("create: {other:?}"),
        }
    }
    roleids.sort();
    roleids
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_submits_share_transactions() {
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join("srvno.db");
    let sqlite = SqlitePlayerStore::open(&path, &[srvno()], Rules::default()).unwrap();
    let (store, counters) = counting(sqlite, Duration::from_millis(20));
    let writer = Arc::new(PlayerStoreWriter::spawn(store).unwrap());

    let roleids = create_concurrently(writer.clone()).await;
    let expected: Vec<u64> = (1..=SUBMITTERS as u64).map(|seq| 1_000_000 + seq).collect();
    assert_eq!(
        roleids.iter().map(|id| id.get()).collect::<Vec<_>>(),
        expected
    );
    let batches = counters.batches.load(Ordering::SeqCst);
    assert_eq!(counters.ops.load(Ordering::SeqCst), SUBMITTERS);
    assert!(
        batches <= 10,
        "{SUBMITTERS} ops took {batches} transactions"
    );

    drop(Arc::into_inner(writer).expect("the only handle"));
    assert!(
        counters.dropped.load(Ordering::SeqCst),
        "store closed on drop"
    );
    let mut reopened = SqlitePlayerStore::open(&path, &[srvno()], Rules::default()).unwrap();
    let next = reopened.apply(0, &[create_op(0)]);
    assert!(matches!(&next[0], Ok(OpOutcome::Created(record)) if record.roleid.seq() == 201));
}

#[tokio::test(flavor = "current_thread")]
async fn the_writer_answers_with_database_time_from_the_system_clock() {
    let store: Box<dyn PlayerStore> = Box::new(ModelStore::new(&[srvno()], Rules::default()));
    let writer = PlayerStoreWriter::spawn(store).unwrap();
    let Ok(OpOutcome::Created(record)) = writer.submit(create_op(0)).await else {
        panic!("create failed");
    };
    let me = OwnerId {
        node: "gs1".to_owned(),
        incarnation: 1,
    };
    let claim = PlayerOp::Claim {
        roleid: record.roleid,
        owner: me,
        lease_ttl_ms: 1_000,
    };
    let Ok(OpOutcome::Claimed(claimed)) = writer.submit(claim).await else {
        panic!("claim failed");
    };
    let since_epoch = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap();
    let now_ms = u64::try_from(since_epoch.as_millis()).unwrap();
    let lease_until_ms = claimed.ownership.lease_until_ms;
    assert!(lease_until_ms <= now_ms + 1_000 && lease_until_ms + 60_000 > now_ms + 1_000);
}

/// A store whose database has a clock of its own: a fixed one, far from the
/// system's, as a PostgreSQL server's `clock_timestamp()` may be.
struct OwnClock {
    inner: ModelStore,
    db_now_ms: u64,
}

impl ClockedPlayerStore for OwnClock {
    fn apply_now(&mut self, ops: &[PlayerOp]) -> Vec<Result<OpOutcome, StoreError>> {
        self.inner.apply(self.db_now_ms, ops)
    }
}

#[tokio::test(flavor = "current_thread")]
async fn a_clocked_store_is_run_at_its_own_database_clock() {
    let db_now_ms = 7_000_000;
    let store = OwnClock {
        inner: ModelStore::new(&[srvno()], Rules::default()),
        db_now_ms,
    };
    let writer = PlayerStoreWriter::spawn_clocked(store).unwrap();
    let Ok(OpOutcome::Created(record)) = writer.submit(create_op(0)).await else {
        panic!("create failed");
    };
    let claim = PlayerOp::Claim {
        roleid: record.roleid,
        owner: OwnerId {
            node: "gs1".to_owned(),
            incarnation: 1,
        },
        lease_ttl_ms: 1_000,
    };
    let Ok(OpOutcome::Claimed(claimed)) = writer.submit(claim).await else {
        panic!("claim failed");
    };
    assert_eq!(claimed.ownership.lease_until_ms, db_now_ms + 1_000);
}

/// A store whose first batch waits until the test opens the gate.
struct Gated {
    inner: ModelStore,
    entered: mpsc::Sender<()>,
    gate: Option<mpsc::Receiver<()>>,
}

impl PlayerStore for Gated {
    fn apply(&mut self, db_now_ms: u64, ops: &[PlayerOp]) -> Vec<Result<OpOutcome, StoreError>> {
        if let Some(gate) = self.gate.take() {
            self.entered.send(()).unwrap();
            gate.recv().unwrap();
        }
        self.inner.apply(db_now_ms, ops)
    }
}

#[test]
fn a_full_queue_is_refused_with_a_typed_error() {
    let (entered_sender, entered) = mpsc::channel();
    let (open_gate, gate) = mpsc::channel();
    let store = Gated {
        inner: ModelStore::new(&[srvno()], Rules::default()),
        entered: entered_sender,
        gate: Some(gate),
    };
    let writer = PlayerStoreWriter::spawn(store).unwrap();
    let mut context = Context::from_waker(Waker::noop());

    let mut first = Box::pin(writer.submit(create_op(0)));
    assert!(first.as_mut().poll(&mut context).is_pending());
    entered.recv().unwrap();
    let mut queued: Vec<_> = (1..=WRITER_QUEUE_OPS_MAX)
        .map(|index| Box::pin(writer.submit(create_op(index))))
        .collect();
    for submit in &mut queued {
        assert!(submit.as_mut().poll(&mut context).is_pending());
    }
    let mut overflow = Box::pin(writer.submit(create_op(0)));
    let Poll::Ready(Err(StoreError::Backend(message))) = overflow.as_mut().poll(&mut context)
    else {
        panic!("a full queue must refuse");
    };
    assert!(message.contains("full"), "{message}");

    open_gate.send(()).unwrap();
    drop((overflow, queued, first));
    drop(writer);
}

/// A store that fails the way a broken backend thread would: it panics.
struct Panicking;

impl PlayerStore for Panicking {
    fn apply(&mut self, _: u64, _: &[PlayerOp]) -> Vec<Result<OpOutcome, StoreError>> {
        panic!("the store thread dies (expected by the test)");
    }
}

#[tokio::test(flavor = "current_thread")]
async fn a_stopped_writer_answers_with_a_typed_error() {
    let writer = PlayerStoreWriter::spawn(Panicking).unwrap();
    let stopped = Err(StoreError::Backend("store writer stopped".to_owned()));
    assert_eq!(writer.submit(create_op(0)).await, stopped);
    // The thread is gone, so the queue is closed: refused without waiting.
    tokio::time::sleep(Duration::from_millis(10)).await;
    assert_eq!(writer.submit(create_op(1)).await, stopped);
}
