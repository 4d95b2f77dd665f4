//! The rank store contract ([`RankStore`]): what the rank server relies on,
//! for every backend. [`rank_contract_suite!`](crate::rank_contract_suite)
//! instantiates it for one backend, like the other suites. Every test
//! reopens the store before it reads back: what a write returned is what a
//! restarted rank server loads.

use rankcore::{BoardEntry, BoardSnapshot, Entry, Placed, RankState, RankWrite, Snapshot, Version};
use routing::RoleId;

use crate::RankStore;

/// What the rank suite needs from a backend.
pub trait RankHarness {
    /// The store under test.
    type Store: RankStore;
    /// A new session (connection) on the harness's database; every call
    /// opens the same database, so dropping a store then opening one is a
    /// restart.
    fn open_ranks(&mut self) -> Self::Store;
}

/// Instantiates every rank contract test for one backend:
/// `rank_contract_suite!(name, harness)` makes a module `name` with one
/// `#[test]` per test, each on the `Option<impl RankHarness>` that
/// `harness` evaluates to (`None` skips).
#[macro_export]
macro_rules! rank_contract_suite {
    ($module:ident, $harness:expr) => {
        $crate::contract_tests!(
            $module,
            $harness;
            a_new_rank_store_loads_nothing,
            rank_entries_load_back_whole_and_ordered_after_a_reopen,
            an_entry_replaces_its_roles_entry_on_its_board_only,
            a_write_naming_an_entry_twice_keeps_the_later_one,
            a_snapshot_replaces_its_boards_last_and_loads_back_whole,
            a_large_rank_write_is_written_whole,
        );
    };
}

/// Entries (and snapshot rows) in one write beyond any backend's statement
/// size.
const LARGE_WRITE: u64 = 5_000;

fn entry(board: &str, raw: u64, score: i64, arrival: u64, version: (u64, u64)) -> BoardEntry {
    BoardEntry {
        board: board.to_owned(),
        entry: Entry {
            roleid: RoleId::from_raw(raw).unwrap(),
            score,
            arrival,
            version: Version {
                epoch: version.0,
                seq: version.1,
            },
        },
    }
}

fn snapshot(board: &str, number: u64, ranked: &[(u64, i64)]) -> BoardSnapshot {
    let placed = (1..)
        .zip(ranked)
        .map(|(rank, &(raw, score))| Placed {
            rank,
            roleid: RoleId::from_raw(raw).unwrap(),
            score,
        })
        .collect();
    BoardSnapshot {
        board: board.to_owned(),
        snapshot: Snapshot::from_ranks(number, placed).unwrap(),
    }
}

fn entries_only(entries: Vec<BoardEntry>) -> RankWrite {
    RankWrite {
        entries,
        snapshots: Vec::new(),
    }
}

fn reloaded<H: RankHarness>(harness: &mut H) -> RankState {
    harness.open_ranks().load().unwrap()
}

/// A new database holds no entry and no snapshot.
pub fn a_new_rank_store_loads_nothing<H: RankHarness>(mut harness: H) {
    assert_eq!(reloaded(&mut harness), RankState::default());
}

/// What was written loads back after a restart, ordered by board then role
/// id whatever order it was written in, every field whole (negative and
/// extreme scores, versions and arrivals above `i64::MAX`, any board name).
pub fn rank_entries_load_back_whole_and_ordered_after_a_reopen<H: RankHarness>(mut harness: H) {
    let written = [
        entry(
            "power",
            2_000_001,
            i64::MIN,
            u64::MAX,
            (u64::MAX, u64::MAX - 1),
        ),
        entry("level", 3_000_001, -5, 0, (0, 0)),
        entry("戰力", 1_000_001, i64::MAX, 7, (3, 9)),
        entry("level", 1_000_002, 60, 1, (2, 1)),
    ];
    let mut store = harness.open_ranks();
    store.write(&entries_only(written[..2].to_vec())).unwrap();
    store.write(&entries_only(written[2..].to_vec())).unwrap();
    drop(store);
    let expected = [&written[3], &written[1], &written[0], &written[2]];
    assert_eq!(
        reloaded(&mut harness).entries,
        expected.map(Clone::clone).to_vec()
    );
}

/// A later write replaces a role's entry on that board, and leaves the
/// same role's entry on another board, and other roles, alone.
pub fn an_entry_replaces_its_roles_entry_on_its_board_only<H: RankHarness>(mut harness: H) {
    let mut store = harness.open_ranks();
    store
        .write(&entries_only(vec![
            entry("level", 1_000_001, 10, 1, (1, 1)),
            entry("power", 1_000_001, 500, 1, (1, 1)),
            entry("level", 2_000_001, 12, 2, (1, 1)),
        ]))
        .unwrap();
    store
        .write(&entries_only(vec![entry(
            "level",
            1_000_001,
            11,
            3,
            (1, 2),
        )]))
        .unwrap();
    drop(store);
    assert_eq!(
        reloaded(&mut harness).entries,
        vec![
            entry("level", 1_000_001, 11, 3, (1, 2)),
            entry("level", 2_000_001, 12, 2, (1, 1)),
            entry("power", 1_000_001, 500, 1, (1, 1)),
        ]
    );
}

/// One write naming a board and role twice keeps the entry written later.
pub fn a_write_naming_an_entry_twice_keeps_the_later_one<H: RankHarness>(mut harness: H) {
    let mut store = harness.open_ranks();
    store
        .write(&entries_only(vec![
            entry("level", 1_000_001, 1, 1, (1, 1)),
            entry("level", 1_000_001, 2, 2, (1, 2)),
        ]))
        .unwrap();
    drop(store);
    assert_eq!(
        reloaded(&mut harness).entries,
        vec![entry("level", 1_000_001, 2, 2, (1, 2))]
    );
}

/// A board's snapshot replaces its last one whole (a shorter one leaves no
/// rows of the longer behind), other boards' snapshots stay, an empty one
/// loads back empty, and entries written with it are written too.
pub fn a_snapshot_replaces_its_boards_last_and_loads_back_whole<H: RankHarness>(mut harness: H) {
    let mut store = harness.open_ranks();
    let first = snapshot(
        "level",
        1,
        &[(1_000_001, 9), (2_000_001, 8), (3_000_001, 7)],
    );
    let other = snapshot("power", 4, &[(1_000_001, 100)]);
    store
        .write(&RankWrite {
            entries: Vec::new(),
            snapshots: vec![first, other.clone()],
        })
        .unwrap();
    let second = snapshot("level", 2, &[(2_000_001, 10), (1_000_001, 9)]);
    let empty = snapshot("war", 1, &[]);
    let written = RankWrite {
        entries: vec![entry("level", 2_000_001, 10, 4, (1, 2))],
        snapshots: vec![second.clone(), empty.clone()],
    };
    store.write(&written).unwrap();
    drop(store);
    let state = reloaded(&mut harness);
    assert_eq!(state.snapshots, vec![second, other, empty]);
    assert_eq!(state.entries, written.entries);
}

/// A write of thousands of entries and a snapshot of thousands of rows is
/// written whole.
pub fn a_large_rank_write_is_written_whole<H: RankHarness>(mut harness: H) {
    let entries: Vec<BoardEntry> = (1..=LARGE_WRITE)
        .map(|seq| entry("level", 1_000_000 + seq, seq as i64 % 97, seq, (1, seq)))
        .collect();
    let ranked: Vec<(u64, i64)> = (1..=LARGE_WRITE)
        .map(|seq| (2_000_000 + seq, -(seq as i64)))
        .collect();
    let written = RankWrite {
        entries: entries.clone(),
        snapshots: vec![snapshot("level", 1, &ranked)],
    };
    harness.open_ranks().write(&written).unwrap();
    let state = reloaded(&mut harness);
    assert_eq!(state.entries, entries);
    assert_eq!(state.snapshots, written.snapshots);
}
