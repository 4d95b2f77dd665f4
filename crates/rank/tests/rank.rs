//! The rank server over the in-process bus, on each rank store backend (a
//! SQLite `rank.db`, and a PostgreSQL database of its own, skipped outside
//! CI when the server is unreachable): concurrent updates from several
//! servers are acknowledged once durable, share writes and rank right; a
//! restarted server loses no acknowledged update; a periodic snapshot is
//! readable; bad requests get typed errors.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bus::{Bus, BusError, InProcessBus};
use rank::RankServer;
use rank::query::{self, Ranking};
use rankcore::{RankState, RankWrite};
use routing::RoleId;
use store::{RankStore, RankStoreError};
use store_postgres::PostgresRankStore;
use store_postgres::test_support::TestDatabase;
use store_sqlite::{RANK_DB_FILE, SqliteRankStore};
use tempfile::TempDir;
use wire::client::ErrorCode;
use wire::node::node_message::Body;
use wire::node::{NodeMessage, RankPage, RankUpdate};

const DEADLINE: Duration = Duration::from_secs(10);
const LEVEL: Ranking<'static> = Ranking {
    node: "rank",
    board: "level",
    snapshot: false,
};

/// Counts the writes of the store it wraps.
struct Counting {
    store: Box<dyn RankStore>,
    writes: Arc<AtomicUsize>,
}

impl RankStore for Counting {
    fn write(&mut self, write: &RankWrite) -> Result<(), RankStoreError> {
        self.writes.fetch_add(1, Ordering::SeqCst);
        self.store.write(write)
    }
    fn load(&mut self) -> Result<RankState, RankStoreError> {
        self.store.load()
    }
}

/// Where a test's boards live.
enum Database {
    Sqlite(TempDir),
    Postgres(TestDatabase),
}

impl Database {
    fn sqlite() -> Self {
        Self::Sqlite(tempfile::tempdir().unwrap())
    }

    fn postgres() -> Option<Self> {
        TestDatabase::create("rank").map(Self::Postgres)
    }

    /// A new store on the database, opened on a blocking thread.
    async fn open(&self) -> Box<dyn RankStore> {
        let open: Box<dyn FnOnce() -> Box<dyn RankStore> + Send> = match self {
            Self::Sqlite(directory) => {
                let path = directory.path().join(RANK_DB_FILE);
                Box::new(move || Box::new(SqliteRankStore::open(path).unwrap()))
            }
            Self::Postgres(database) => {
                let config = database.config();
                Box::new(move || Box::new(PostgresRankStore::connect(&config).unwrap()))
            }
        };
        tokio::task::spawn_blocking(open).await.unwrap()
    }
}

async fn start(bus: &InProcessBus, database: &Database, every: Option<Duration>) -> RankServer {
    let bus: Arc<dyn Bus> = Arc::new(bus.clone());
    RankServer::start("rank", database.open().await, bus, every)
        .await
        .unwrap()
}

async fn send_update(bus: &InProcessBus, from: &str, roleid: u64, score: i64, seq: u64) {
    let answer = bus
        .request(from, "rank", update(roleid, score, seq), DEADLINE)
        .await;
    assert_eq!(answer, Ok(bus::ack()), "update of {roleid}");
}

fn update(roleid: u64, score: i64, seq: u64) -> NodeMessage {
    let update = RankUpdate {
        board: "level".to_owned(),
        roleid,
        score,
        epoch: 1,
        seq,
    };
    NodeMessage {
        body: Some(Body::RankUpdate(update)),
    }
}

async fn top(bus: &InProcessBus, ranking: &Ranking<'_>, limit: u32) -> Vec<(u64, u64, i64)> {
    let page = query::top(bus, "operator", DEADLINE, ranking, limit)
        .await
        .unwrap();
    listed(&page)
}

fn listed(page: &RankPage) -> Vec<(u64, u64, i64)> {
    page.entries
        .iter()
        .map(|e| (e.rank, e.roleid, e.score))
        .collect()
}

fn role(raw: u64) -> RoleId {
    RoleId::from_raw(raw).unwrap()
}

/// Each test once per backend: `sqlite::NAME` and `postgres::NAME`.
macro_rules! on_both_backends {
    ($($test:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $test() {
                    super::$test(super::Database::sqlite()).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test]
                async fn $test() {
                    if let Some(database) = super::Database::postgres() {
                        super::$test(database).await;
                    }
                }
            )*
        }
    };
}

on_both_backends!(
    concurrent_updates_from_several_servers_rank_right_and_survive_a_restart,
    a_periodic_snapshot_is_readable_while_updates_continue,
    a_bad_update_is_refused_with_a_typed_error,
);

/// 3 servers × 100 roles update concurrently: every update is acknowledged,
/// they share writes, top N and each role's rank and neighbours are right,
/// and a rank server stopped like a crash and restarted answers the same.
async fn concurrent_updates_from_several_servers_rank_right_and_survive_a_restart(
    database: Database,
) {
    let bus = InProcessBus::new();
    let writes = Arc::new(AtomicUsize::new(0));
    let store = Counting {
        store: database.open().await,
        writes: writes.clone(),
    };
    let shared: Arc<dyn Bus> = Arc::new(bus.clone());
    let node = RankServer::start("rank", Box::new(store), shared, None)
        .await
        .unwrap();
    let expected = Arc::new(Mutex::new(Vec::new()));
    let mut senders = Vec::new();
    for srvno in 1..=3u64 {
        for seq in 1..=100u64 {
            let (bus, expected) = (bus.clone(), expected.clone());
            senders.push(tokio::spawn(async move {
                let roleid = srvno * 1_000_000 + seq;
                let score = ((seq * 7 + srvno) % 60) as i64;
                send_update(&bus, &format!("gs{srvno}"), roleid, score, 1).await;
                expected.lock().unwrap().push((roleid, score));
            }));
        }
    }
    for sender in senders {
        sender.await.unwrap();
    }
    assert!(writes.load(Ordering::SeqCst) < 300, "updates share writes");
    let before = top(&bus, &LEVEL, 100).await;
    assert_eq!(before.len(), 100);
    assert!(before.windows(2).all(|pair| pair[0].2 >= pair[1].2));
    let best = expected
        .lock()
        .unwrap()
        .iter()
        .map(|(_, score)| *score)
        .max();
    assert_eq!(Some(before[0].2), best);
    let asker = role(2_000_050);
    let around = query::around(&bus, "gs2", DEADLINE, &LEVEL, asker, 2)
        .await
        .unwrap();
    let shown = around
        .entries
        .iter()
        .find(|entry| entry.roleid == asker.get())
        .unwrap();
    assert_eq!(shown.rank, around.own_rank);
    node.stop();

    let bus = InProcessBus::new();
    let _node = start(&bus, &database, None).await;
    assert_eq!(top(&bus, &LEVEL, 100).await, before);
    let again = query::around(&bus, "gs2", DEADLINE, &LEVEL, asker, 2)
        .await
        .unwrap();
    assert_eq!(again, around);
}

/// With a snapshot period, every board is snapshotted; the snapshot reads
/// the same while the live board moves on.
async fn a_periodic_snapshot_is_readable_while_updates_continue(database: Database) {
    let bus = InProcessBus::new();
    let _node = start(&bus, &database, Some(Duration::from_millis(50))).await;
    send_update(&bus, "gs1", 1_000_001, 5, 1).await;
    send_update(&bus, "gs2", 2_000_001, 9, 1).await;
    let snapshot = Ranking {
        snapshot: true,
        ..LEVEL
    };
    let frozen = test_support::eventually("a snapshot of both roles", || {
        let bus = bus.clone();
        let snapshot = snapshot.clone();
        async move {
            let page = query::top(&bus, "operator", DEADLINE, &snapshot, 10)
                .await
                .unwrap();
            (page.entries.len() == 2).then_some(page)
        }
    })
    .await;
    assert_eq!(listed(&frozen), vec![(1, 2_000_001, 9), (2, 1_000_001, 5)]);
    assert!(frozen.snapshot >= 1);
    send_update(&bus, "gs1", 1_000_001, 50, 2).await;
    assert_eq!(top(&bus, &LEVEL, 1).await, vec![(1, 1_000_001, 50)]);
    let later = query::top(&bus, "operator", DEADLINE, &snapshot, 10)
        .await
        .unwrap();
    // The same snapshot reads as it did; a newer one (the period ran on)
    // holds the update acknowledged before it.
    if later.snapshot == frozen.snapshot {
        assert_eq!(later, frozen);
    } else {
        assert_eq!(listed(&later)[0], (1, 1_000_001, 50));
    }
}

async fn a_bad_update_is_refused_with_a_typed_error(database: Database) {
    let bus = InProcessBus::new();
    let _node = start(&bus, &database, None).await;
    let answer = bus.request("gs1", "rank", update(7, 1, 1), DEADLINE).await;
    assert!(
        matches!(
            answer,
            Err(BusError::Remote {
                code: ErrorCode::UnknownRole,
                ..
            })
        ),
        "{answer:?}"
    );
    assert_eq!(top(&bus, &LEVEL, 10).await, vec![]);
}
