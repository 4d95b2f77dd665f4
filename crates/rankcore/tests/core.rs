//! The rank core's protocol: updates ordered by the sender's version,
//! acknowledged once durable, many to one write; snapshots; restarts from
//! what was written; typed refusals.

mod common;

use common::{Driver, query, take_snapshot, update};
use rankcore::limits::{BATCH_UPDATES_MAX, BOARD_ENTRIES_MAX, BOARDS_MAX};
use rankcore::{BoardEntry, Entry, RankCore, RankState, Version, WriteError};
use routing::RoleId;
use wire::client::ErrorCode;
use wire::node::node_message::Body;
use wire::node::{NodeMessage, RankPage, RankWindow};

const A: u64 = 1_000_001;
const B: u64 = 2_000_001;
const C: u64 = 3_000_001;

fn driver() -> Driver {
    Driver::new(RankCore::new(RankState::default()).unwrap())
}

fn top(driver: &mut Driver, board: &str) -> Vec<(u64, u64, i64)> {
    let page = driver.page(query(board, false, RankWindow::From, 1, 100, 0));
    ranks(&page)
}

fn ranks(page: &RankPage) -> Vec<(u64, u64, i64)> {
    page.entries
        .iter()
        .map(|entry| (entry.rank, entry.roleid, entry.score))
        .collect()
}

fn is_ack(message: Option<&NodeMessage>) -> bool {
    matches!(message.and_then(|m| m.body.as_ref()), Some(Body::Ack(_)))
}

fn error_code(message: Option<&NodeMessage>) -> Option<ErrorCode> {
    match message.and_then(|m| m.body.as_ref()) {
        Some(Body::Error(error)) => ErrorCode::try_from(error.code).ok(),
        _ => None,
    }
}

/// An update is acknowledged, and seen by queries, only once its write is
/// durable.
#[test]
fn an_update_is_acknowledged_and_seen_only_once_durable() {
    let mut driver = driver();
    let request = driver.send(update("level", A, 5, 1, 1));
    assert_eq!(driver.reply(request), None);
    assert_eq!(top(&mut driver, "level"), vec![]);
    driver.settle();
    assert!(is_ack(driver.reply(request)));
    assert_eq!(top(&mut driver, "level"), vec![(1, A, 5)]);
}

/// Updates that arrive while a write is in flight share the next write.
#[test]
fn updates_arriving_during_a_write_share_the_next_one() {
    let mut driver = driver();
    driver.send(update("level", A, 1, 1, 1));
    const QUEUED: u64 = 300;
    const { assert!(QUEUED as usize <= BATCH_UPDATES_MAX) };
    let queued: Vec<_> = (1..=QUEUED)
        .map(|seq| driver.send(update("level", 2_000_000 + seq, seq as i64, 1, 1)))
        .collect();
    assert_eq!(driver.writes.len(), 1);
    driver.finish_write(Ok(()));
    assert_eq!(driver.writes.len(), 1, "one write for the 300 queued");
    assert_eq!(driver.writes[0].1.entries.len(), QUEUED as usize);
    driver.settle();
    assert!(queued.iter().all(|&request| is_ack(driver.reply(request))));
}

/// An update not newer than the role's stored one (late or duplicate, by
/// the sender's epoch then sequence) is acknowledged and changes nothing,
/// whether the newer one is durable or earlier in the same batch.
#[test]
fn a_late_or_duplicate_update_never_overwrites_a_newer_one() {
    let mut driver = driver();
    driver.send(update("level", A, 10, 2, 1));
    driver.settle();
    let late = driver.send(update("level", A, 99, 1, 7));
    let duplicate = driver.send(update("level", A, 98, 2, 1));
    assert!(driver.writes.is_empty(), "nothing to write");
    assert!(is_ack(driver.reply(late)) && is_ack(driver.reply(duplicate)));
    driver.send(update("power", B, 0, 1, 1));
    driver.send(update("level", B, 3, 5, 2));
    driver.send(update("level", B, 4, 5, 1));
    driver.send(update("level", B, 6, 6, 0));
    driver.send(update("level", B, 5, 5, 9));
    driver.settle();
    assert_eq!(top(&mut driver, "level"), vec![(1, A, 10), (2, B, 6)]);
}

/// Equal scores rank by who reached the score first; a re-sent score keeps
/// its place, a changed one goes behind those already there.
#[test]
fn equal_scores_rank_by_who_reached_them_first() {
    let mut driver = driver();
    for (role, seq) in [(C, 1), (A, 1), (B, 1)] {
        driver.send(update("level", role, 7, 1, seq));
        driver.settle();
    }
    assert_eq!(
        top(&mut driver, "level"),
        vec![(1, C, 7), (2, A, 7), (3, B, 7)]
    );
    driver.send(update("level", C, 7, 1, 2));
    driver.settle();
    assert_eq!(top(&mut driver, "level")[0], (1, C, 7));
    driver.send(update("level", C, 8, 1, 3));
    driver.send(update("level", C, 7, 1, 4));
    driver.settle();
    assert_eq!(
        top(&mut driver, "level"),
        vec![(1, A, 7), (2, B, 7), (3, C, 7)]
    );
}

/// A failed write refuses its updates `UNAVAILABLE` and leaves the boards
/// as they were; the sender's retry then lands.
#[test]
fn a_failed_write_refuses_its_updates_and_changes_nothing() {
    let mut driver = driver();
    let request = driver.send(update("level", A, 5, 1, 1));
    driver.finish_write(Err(WriteError("disk full".to_owned())));
    assert_eq!(
        error_code(driver.reply(request)),
        Some(ErrorCode::Unavailable)
    );
    assert_eq!(top(&mut driver, "level"), vec![]);
    let retry = driver.send(update("level", A, 5, 1, 1));
    driver.settle();
    assert!(is_ack(driver.reply(retry)));
    assert_eq!(top(&mut driver, "level"), vec![(1, A, 5)]);
}

/// A snapshot holds every update acknowledged before it was asked for,
/// none after, and reads the same while the board moves on; each is
/// numbered above the last.
#[test]
fn a_snapshot_stays_readable_while_updates_continue() {
    let mut driver = driver();
    driver.send(update("level", A, 5, 1, 1));
    driver.send(update("level", B, 6, 1, 1));
    let taken = driver.send(take_snapshot("level"));
    driver.send(update("level", C, 9, 1, 1));
    driver.settle();
    let Some(Body::RankSnapshotTaken(first)) = driver.reply(taken).and_then(|m| m.body.clone())
    else {
        panic!("no snapshot answer");
    };
    assert_eq!(first.snapshot, 1);
    let snapshot = driver.page(query("level", true, RankWindow::From, 1, 10, A));
    assert_eq!(ranks(&snapshot), vec![(1, B, 6), (2, A, 5)]);
    assert_eq!((snapshot.snapshot, snapshot.own_rank), (1, 2));
    driver.send(update("level", A, 50, 1, 2));
    driver.settle();
    let again = driver.page(query("level", true, RankWindow::From, 1, 10, A));
    assert_eq!(again, snapshot);
    assert_eq!(top(&mut driver, "level")[0], (1, A, 50));
    let second = driver.send(take_snapshot("level"));
    driver.settle();
    let Some(Body::RankSnapshotTaken(second)) = driver.reply(second).and_then(|m| m.body.clone())
    else {
        panic!("no snapshot answer");
    };
    assert_eq!(second.snapshot, 2);
}

/// A core started from everything written answers every query as the one
/// that wrote it, snapshots included, and numbers new changes after the
/// stored ones.
#[test]
fn a_core_restarted_from_its_writes_answers_the_same() {
    let mut driver = driver();
    for (role, score) in [(A, 4), (B, 4), (C, 9)] {
        driver.send(update("level", role, score, 1, 1));
    }
    driver.send(take_snapshot("level"));
    driver.send(update("level", A, 10, 1, 2));
    let mut state = RankState::default();
    while !driver.writes.is_empty() {
        let write = driver.finish_write(Ok(()));
        state.entries.extend(write.entries);
        state.snapshots.extend(write.snapshots);
    }
    let mut restarted = Driver::new(RankCore::new(state).unwrap());
    for snapshot in [false, true] {
        let asked = query("level", snapshot, RankWindow::From, 1, 10, B);
        assert_eq!(restarted.page(asked.clone()), driver.page(asked));
    }
    for driver in [&mut driver, &mut restarted] {
        driver.send(update("level", B, 10, 1, 2));
        driver.settle();
    }
    assert_eq!(top(&mut restarted, "level"), top(&mut driver, "level"));
    assert_eq!(top(&mut restarted, "level")[1], (2, B, 10));
}

/// Bad requests get typed refusals and change nothing.
#[test]
fn bad_requests_get_typed_refusals() {
    let mut driver = driver();
    let long_name = "x".repeat(rankcore::limits::BOARD_NAME_BYTES_MAX + 1);
    let refused = [
        (update("", A, 1, 1, 1), ErrorCode::BadArgument),
        (update(&long_name, A, 1, 1, 1), ErrorCode::BadArgument),
        (update("level", 0, 1, 1, 1), ErrorCode::UnknownRole),
        (take_snapshot("never"), ErrorCode::BadArgument),
        (
            query("level", false, RankWindow::Around, 1, 3, 0),
            ErrorCode::BadArgument,
        ),
        (
            query("level", false, RankWindow::From, 1, 3, 7),
            ErrorCode::UnknownRole,
        ),
        (NodeMessage { body: None }, ErrorCode::UnexpectedMessage),
    ];
    for (message, code) in refused {
        let request = driver.send(message);
        assert_eq!(error_code(driver.reply(request)), Some(code));
    }
    let mut bad_window = query("level", false, RankWindow::From, 1, 3, 0);
    if let Some(Body::RankQuery(query)) = bad_window.body.as_mut() {
        query.window = 9;
    }
    let request = driver.send(bad_window);
    assert_eq!(
        error_code(driver.reply(request)),
        Some(ErrorCode::BadArgument)
    );
    for board in 0..BOARDS_MAX {
        driver.send(update(&format!("board{board}"), A, 1, 1, 1));
    }
    let one_too_many = driver.send(update("one-too-many", A, 1, 1, 1));
    assert_eq!(
        error_code(driver.reply(one_too_many)),
        Some(ErrorCode::BadArgument)
    );
    assert!(driver.writes.len() <= 1);
}

/// A board at its bound refuses a new role `OVERLOADED` (typed, nothing
/// written for it) and still takes updates of the roles it ranks.
#[test]
fn a_full_board_refuses_a_new_role_and_keeps_its_own() {
    let entries = (1..=BOARD_ENTRIES_MAX as u64).map(|seq| BoardEntry {
        board: "level".to_owned(),
        entry: Entry {
            roleid: RoleId::from_raw((seq / 999_999 + 1) * 1_000_000 + seq % 999_999 + 1).unwrap(),
            score: 1,
            arrival: seq,
            version: Version { epoch: 1, seq: 1 },
        },
    });
    let state = RankState {
        entries: entries.collect(),
        snapshots: Vec::new(),
    };
    let mut driver = Driver::new(RankCore::new(state).unwrap());
    let stranger = driver.send(update("level", 9_000_001, 5, 1, 1));
    let member = driver.send(update("level", 1_000_002, 5, 1, 2));
    driver.settle();
    assert_eq!(
        error_code(driver.reply(stranger)),
        Some(ErrorCode::Overloaded)
    );
    assert!(is_ack(driver.reply(member)));
    assert_eq!(top(&mut driver, "level")[0], (1, 1_000_002, 5));
}
