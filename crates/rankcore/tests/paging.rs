//! Property test (seeded loops over xoshiro, as the simulator does): under
//! updates interleaved with reads, durable or failed writes, late and
//! duplicate updates and snapshots, every page the core answers is the
//! expected ranking's slice, a player's own rank and the page that shows
//! them always agree (paging forwards, backwards, or around them), and
//! paging a snapshot either way while the board moves shows it whole.

mod common;

use std::collections::BTreeMap;

use common::{Driver, query, take_snapshot, update};
use rand_xoshiro::Xoshiro256PlusPlus;
use rand_xoshiro::rand_core::{Rng, SeedableRng};
use rankcore::{RankCore, RankState, RequestId, WriteError};
use wire::node::node_message::Body;
use wire::node::{RankPage, RankWindow};

const SEEDS: u64 = 48;
const STEPS: usize = 1_500;
const ROLES: u64 = 120;
const BOARD: &str = "level";

/// The expected ranking: every acknowledged update, ordered as the board
/// promises (score down, then who reached it first, then role id).
#[derive(Default)]
struct Model {
    /// roleid → (score, arrival, (epoch, seq)).
    entries: BTreeMap<u64, (i64, u64, (u64, u64))>,
    next_arrival: u64,
}

impl Model {
    fn apply(&mut self, roleid: u64, score: i64, version: (u64, u64)) {
        let arrival = match self.entries.get(&roleid) {
            Some(&(_, _, stored)) if version <= stored => return,
            Some(&(old, arrival, _)) if old == score => arrival,
            _ => {
                self.next_arrival += 1;
                self.next_arrival
            }
        };
        self.entries.insert(roleid, (score, arrival, version));
    }

    /// `(roleid, score)` in rank order.
    fn ranking(&self) -> Vec<(u64, i64)> {
        let mut ranked: Vec<_> = self.entries.iter().collect();
        ranked.sort_by_key(|(roleid, (score, arrival, _))| (-score, *arrival, **roleid));
        ranked
            .into_iter()
            .map(|(roleid, (score, _, _))| (*roleid, *score))
            .collect()
    }
}

/// A snapshot being paged through: its number, the next rank to read
/// (forwards from 1 or backwards from the end), and what was read.
struct Pager {
    number: u64,
    forwards: bool,
    next: u64,
    read: Vec<(u64, i64)>,
}

struct Run {
    prng: Xoshiro256PlusPlus,
    driver: Driver,
    model: Model,
    /// Updates sent, by request: (role, score, version).
    sent: BTreeMap<RequestId, (u64, i64, (u64, u64))>,
    replies_seen: usize,
    versions: BTreeMap<u64, (u64, u64)>,
    /// The latest snapshot, as the model expects it.
    snapshot: Option<(u64, Vec<(u64, i64)>)>,
    pager: Option<Pager>,
    snapshots_paged_whole: usize,
}

impl Run {
    fn new(seed: u64) -> Self {
        Self {
            prng: Xoshiro256PlusPlus::seed_from_u64(seed),
            driver: Driver::new(RankCore::new(RankState::default()).unwrap()),
            model: Model::default(),
            sent: BTreeMap::new(),
            replies_seen: 0,
            versions: BTreeMap::new(),
            snapshot: None,
            pager: None,
            snapshots_paged_whole: 0,
        }
    }

    fn below(&mut self, bound: u64) -> u64 {
        self.prng.next_u64() % bound
    }

    fn role(&mut self) -> u64 {
        (self.below(3) + 1) * 1_000_000 + self.below(ROLES / 3) + 1
    }

    fn step(&mut self) {
        match self.below(20) {
            0..=7 => self.send_update(),
            8..=10 if !self.driver.writes.is_empty() => self.finish_write(),
            11 => {
                self.driver.send(take_snapshot(BOARD));
            }
            12..=14 => self.page_snapshot(),
            _ => self.check_live_page(),
        }
        self.learn_replies();
    }

    /// A new, newer, duplicate or late update of a random role.
    fn send_update(&mut self) {
        let roleid = self.role();
        let score = self.below(12) as i64;
        let stored = self.versions.get(&roleid).copied().unwrap_or((1, 0));
        let version = match self.below(6) {
            0 => stored,
            1 => (stored.0.saturating_sub(1), stored.1 + 3),
            2 => (stored.0 + 1, 0),
            _ => (stored.0, stored.1 + 1),
        };
        self.versions.insert(roleid, version.max(stored));
        let request = self
            .driver
            .send(update(BOARD, roleid, score, version.0, version.1));
        self.sent.insert(request, (roleid, score, version));
    }

    /// Answers the write in flight: durable, or now and then failed.
    fn finish_write(&mut self) {
        let answer = if self.below(8) == 0 {
            Err(WriteError("injected".to_owned()))
        } else {
            Ok(())
        };
        self.driver.finish_write(answer);
    }

    /// Applies what the new replies acknowledged, in the order answered.
    fn learn_replies(&mut self) {
        let replies = self.driver.replies[self.replies_seen..].to_vec();
        self.replies_seen = self.driver.replies.len();
        for (request, message) in replies {
            match message.body {
                Some(Body::Ack(_)) => {
                    let (roleid, score, version) = self.sent[&request];
                    self.model.apply(roleid, score, version);
                }
                Some(Body::RankSnapshotTaken(taken)) => {
                    self.snapshot = Some((taken.snapshot, self.model.ranking()));
                }
                _ => {}
            }
        }
    }

    /// A random page of the live board against the model.
    fn check_live_page(&mut self) {
        let ranking = self.model.ranking();
        let total = ranking.len() as u64;
        let asker = self.role();
        let limit = self.below(15) as u32 + 1;
        let rank = self.below(total + 3);
        let window =
            [RankWindow::From, RankWindow::Until, RankWindow::Around][self.below(3) as usize];
        let page = self
            .driver
            .page(query(BOARD, false, window, rank, limit, asker));
        let own = ranking
            .iter()
            .position(|(roleid, _)| *roleid == asker)
            .map(|at| at as u64 + 1);
        let (first, last) = match (window, own) {
            (RankWindow::From, _) => (rank.max(1), rank.max(1) + u64::from(limit) - 1),
            (RankWindow::Until, _) => {
                let last = rank.min(total);
                ((last + 1).saturating_sub(u64::from(limit)).max(1), last)
            }
            (RankWindow::Around, Some(own)) => (
                own.saturating_sub(u64::from(limit)).max(1),
                own + u64::from(limit),
            ),
            (RankWindow::Around, None) => (1, 0),
        };
        let expected: Vec<(u64, u64, i64)> = (first..=last.min(total))
            .map(|rank| {
                (
                    rank,
                    ranking[rank as usize - 1].0,
                    ranking[rank as usize - 1].1,
                )
            })
            .collect();
        assert_eq!(
            entries(&page),
            expected,
            "{window:?} rank {rank} limit {limit}"
        );
        assert_eq!((page.total, page.own_rank), (total, own.unwrap_or(0)));
        assert_own_rank_agrees(&page, asker);
    }

    /// Reads the next page of the latest snapshot, forwards or backwards,
    /// while updates go on; a finished paging must have read it whole.
    fn page_snapshot(&mut self) {
        let Some((number, expected)) = self.snapshot.clone() else {
            return;
        };
        if self
            .pager
            .as_ref()
            .is_none_or(|pager| pager.number != number)
        {
            let forwards = self.below(2) == 0;
            let next = if forwards { 1 } else { expected.len() as u64 };
            self.pager = Some(Pager {
                number,
                forwards,
                next,
                read: Vec::new(),
            });
        }
        let asker = self.role();
        let limit = self.below(7) as u32 + 1;
        let pager = self.pager.as_mut().expect("set above");
        let window = if pager.forwards {
            RankWindow::From
        } else {
            RankWindow::Until
        };
        let page = self
            .driver
            .page(query(BOARD, true, window, pager.next, limit, asker));
        assert_eq!(page.snapshot, number);
        assert_own_rank_agrees(&page, asker);
        let read: Vec<(u64, i64)> = page.entries.iter().map(|e| (e.roleid, e.score)).collect();
        if pager.forwards {
            pager.next += read.len() as u64;
            pager.read.extend(read);
        } else {
            pager.next = pager.next.saturating_sub(read.len() as u64);
            pager.read.splice(0..0, read);
        }
        let done = if pager.forwards {
            page.entries.is_empty()
        } else {
            pager.next == 0
        };
        if done {
            assert_eq!(pager.read, expected, "snapshot {number} paged whole");
            self.pager = None;
            self.snapshots_paged_whole += 1;
        }
    }
}

fn entries(page: &RankPage) -> Vec<(u64, u64, i64)> {
    page.entries
        .iter()
        .map(|e| (e.rank, e.roleid, e.score))
        .collect()
}

/// The asker shown on the page is shown at the rank the answer gives as
/// theirs, and ranks on the page are consecutive.
fn assert_own_rank_agrees(page: &RankPage, asker: u64) {
    for pair in page.entries.windows(2) {
        assert_eq!(pair[0].rank + 1, pair[1].rank);
    }
    if let Some(shown) = page.entries.iter().find(|entry| entry.roleid == asker) {
        assert_eq!(
            shown.rank, page.own_rank,
            "the asker's rank and the page agree"
        );
    }
    let shown_range = page.entries.first().zip(page.entries.last());
    if let Some((first, last)) = shown_range
        && (first.rank..=last.rank).contains(&page.own_rank)
    {
        assert!(page.entries.iter().any(|entry| entry.roleid == asker));
    }
}

#[test]
fn own_rank_and_pages_agree_under_interleaved_updates() {
    let mut paged_whole = 0;
    for seed in 0..SEEDS {
        let mut run = Run::new(seed);
        for _ in 0..STEPS {
            run.step();
        }
        assert!(
            run.model.entries.len() > ROLES as usize / 2,
            "seed {seed} ranked roles"
        );
        paged_whole += run.snapshots_paged_whole;
    }
    assert!(
        paged_whole > SEEDS as usize,
        "snapshots were paged whole: {paged_whole}"
    );
}
