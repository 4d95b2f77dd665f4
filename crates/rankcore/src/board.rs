//! One leaderboard: [`Board`], the live ranking, and [`Snapshot`], a frozen
//! copy (e.g. yesterday's ranks) that stays readable while the board moves.
//!
//! The order is total: a higher score ranks first; of equal scores, the one
//! reached first (the lower `arrival`, a per-board counter the core assigns
//! when a role's score changes) ranks first; the role id breaks what is
//! left. Ranks count from 1. A role's updates are ordered by the sender's
//! [`Version`] (the owner's epoch, then its sequence): an update not newer
//! than the stored one changes nothing (see [`Entry::successor`]).
//!
//! Both the board and a snapshot answer queries through [`View`], so a
//! page, a role's rank and its neighbours are computed once, at one
//! instant, from one state: a page that shows the asker shows them at the
//! rank the answer gives as theirs.

use std::cmp::Reverse;
use std::collections::BTreeMap;

use routing::RoleId;

use crate::limits::{BOARD_ENTRIES_MAX, PAGE_ENTRIES_MAX};
use crate::ordered::OrderedList;

/// Where a role's update comes from in its sender's order: the owner's
/// epoch for the role's row, then the owner's sequence within it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Version {
    /// The row's epoch when the owner sent it.
    pub epoch: u64,
    /// The owner's sequence for the role within that epoch.
    pub seq: u64,
}

/// A role's new score, as a game server sends it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Update {
    /// The role.
    pub roleid: RoleId,
    /// Its score on the board.
    pub score: i64,
    /// The sender's order.
    pub version: Version,
}

/// A role's entry on a board, as the store keeps it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Entry {
    /// The role.
    pub roleid: RoleId,
    /// Its score.
    pub score: i64,
    /// When the score was reached, in the board's order of changes: the
    /// tie-break between equal scores.
    pub arrival: u64,
    /// The version of the update that set it.
    pub version: Version,
}

impl Entry {
    /// What `update` makes of the role's `current` entry, `arrival` being
    /// the board's next change number: `None` when the update is not newer
    /// than the current one (late or duplicate). An update that keeps the
    /// score keeps the arrival, so a re-sent score never loses its place.
    pub fn successor(current: Option<&Entry>, update: &Update, arrival: u64) -> Option<Entry> {
        let arrival = match current {
            Some(current) if update.version <= current.version => return None,
            Some(current) if update.score == current.score => current.arrival,
            _ => arrival,
        };
        Some(Entry {
            roleid: update.roleid,
            score: update.score,
            arrival,
            version: update.version,
        })
    }

    fn key(&self) -> Key {
        (Reverse(self.score), self.arrival, self.roleid)
    }
}

/// The total order: score descending, then arrival, then role id.
type Key = (Reverse<i64>, u64, RoleId);

/// One role on a page, with its rank at the instant of the answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Placed {
    /// 1 for the first.
    pub rank: u64,
    /// The role.
    pub roleid: RoleId,
    /// Its score.
    pub score: i64,
}

/// Why a board refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum BoardError {
    /// The board ranks [`BOARD_ENTRIES_MAX`] roles already.
    #[error("the board ranks {BOARD_ENTRIES_MAX} roles already")]
    Full,
    /// Stored snapshot rows do not number ranks 1, 2, 3… once each.
    #[error("snapshot rows are not ranks 1..=n")]
    BadSnapshot,
}

/// Which part of a ranking a query asks for; every page holds at most
/// [`PAGE_ENTRIES_MAX`] entries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Window {
    /// Ranks `from`, `from + 1`, … (paging forwards; `from` 0 counts as 1).
    From {
        /// The first rank shown.
        from: u64,
        /// Entries asked for.
        limit: usize,
    },
    /// The `limit` ranks ending at `until` (paging backwards).
    Until {
        /// The last rank shown.
        until: u64,
        /// Entries asked for.
        limit: usize,
    },
    /// The asker and up to `radius` neighbours on each side.
    Around {
        /// Neighbours on each side.
        radius: usize,
    },
}

/// The answer to a query, all of it read at one instant.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Page {
    /// The entries, in rank order, ranks consecutive.
    pub entries: Vec<Placed>,
    /// Roles ranked on the board (or snapshot).
    pub total: u64,
    /// The asker's rank, if they are ranked.
    pub own_rank: Option<u64>,
}

/// A ranking that answers queries: the live [`Board`] or a [`Snapshot`].
pub trait View {
    /// Roles ranked.
    fn total(&self) -> usize;
    /// The rank of `roleid` (from 1), if it is ranked.
    fn rank_of(&self, roleid: RoleId) -> Option<u64>;
    /// The entries at ranks `first..first + count`, fewer past the end.
    fn ranks(&self, first: u64, count: usize) -> Vec<Placed>;

    /// The `window` of the ranking, with the `asker`'s own rank.
    fn page(&self, window: Window, asker: Option<RoleId>) -> Page {
        let own_rank = asker.and_then(|roleid| self.rank_of(roleid));
        let (first, count) = match window {
            Window::From { from, limit } => (from.max(1), limit.min(PAGE_ENTRIES_MAX)),
            Window::Until { until, limit } => {
                let count = limit.min(PAGE_ENTRIES_MAX) as u64;
                let last = until.min(self.total() as u64);
                let first = last.saturating_sub(count.saturating_sub(1)).max(1);
                (first, (last + 1).saturating_sub(first) as usize)
            }
            Window::Around { radius } => match own_rank {
                Some(rank) => {
                    let radius = radius.min((PAGE_ENTRIES_MAX - 1) / 2) as u64;
                    let first = rank.saturating_sub(radius).max(1);
                    (first, (rank + radius + 1 - first) as usize)
                }
                None => (1, 0),
            },
        };
        Page {
            entries: self.ranks(first, count),
            total: self.total() as u64,
            own_rank,
        }
    }
}

/// A live leaderboard. See the module docs.
#[derive(Clone, Debug, Default)]
pub struct Board {
    order: OrderedList<Key>,
    entries: BTreeMap<RoleId, Entry>,
    next_arrival: u64,
}

impl Board {
    /// The role's entry, if it is ranked.
    pub fn entry(&self, roleid: RoleId) -> Option<&Entry> {
        self.entries.get(&roleid)
    }

    /// The next change number: above every stored arrival.
    pub fn next_arrival(&self) -> u64 {
        self.next_arrival
    }

    /// Whether `new_roles` more roles fit.
    pub fn has_room_for(&self, new_roles: usize) -> bool {
        self.entries.len() + new_roles <= BOARD_ENTRIES_MAX
    }

    /// Puts `entry` in place of its role's entry.
    pub fn apply(&mut self, entry: Entry) -> Result<(), BoardError> {
        match self.entries.get(&entry.roleid) {
            Some(old) => {
                self.order.remove(&old.key());
            }
            None if !self.has_room_for(1) => return Err(BoardError::Full),
            None => {}
        }
        self.order.insert(entry.key());
        self.entries.insert(entry.roleid, entry);
        self.next_arrival = self.next_arrival.max(entry.arrival.saturating_add(1));
        Ok(())
    }

    /// A frozen copy of the ranking, numbered `number`.
    pub fn snapshot(&self, number: u64) -> Snapshot {
        let placed = self.ranks(1, self.total());
        Snapshot::from_ranks(number, placed).expect("a board's ranks are 1..=n")
    }
}

impl View for Board {
    fn total(&self) -> usize {
        self.order.len()
    }

    fn rank_of(&self, roleid: RoleId) -> Option<u64> {
        let entry = self.entries.get(&roleid)?;
        self.order
            .position(&entry.key())
            .map(|position| position as u64 + 1)
    }

    fn ranks(&self, first: u64, count: usize) -> Vec<Placed> {
        let start = first.saturating_sub(1) as usize;
        self.order
            .range(start, count)
            .zip(first.max(1)..)
            .map(|(&(Reverse(score), _, roleid), rank)| Placed {
                rank,
                roleid,
                score,
            })
            .collect()
    }
}

/// A frozen ranking (e.g. the daily ranks), readable while the board moves.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Snapshot {
    number: u64,
    placed: Vec<Placed>,
    ranks: BTreeMap<RoleId, u64>,
}

impl Snapshot {
    /// A snapshot of `placed`, which must hold ranks 1, 2, … in order.
    pub fn from_ranks(number: u64, placed: Vec<Placed>) -> Result<Self, BoardError> {
        let mut ranks = BTreeMap::new();
        for (expected, entry) in (1..).zip(&placed) {
            if entry.rank != expected || ranks.insert(entry.roleid, entry.rank).is_some() {
                return Err(BoardError::BadSnapshot);
            }
        }
        Ok(Self {
            number,
            placed,
            ranks,
        })
    }

    /// Its number: each snapshot of a board is numbered above the last.
    pub fn number(&self) -> u64 {
        self.number
    }

    /// Every entry, in rank order.
    pub fn placed(&self) -> &[Placed] {
        &self.placed
    }
}

impl View for Snapshot {
    fn total(&self) -> usize {
        self.placed.len()
    }

    fn rank_of(&self, roleid: RoleId) -> Option<u64> {
        self.ranks.get(&roleid).copied()
    }

    fn ranks(&self, first: u64, count: usize) -> Vec<Placed> {
        let start = (first.saturating_sub(1) as usize).min(self.placed.len());
        let end = start.saturating_add(count).min(self.placed.len());
        self.placed[start..end].to_vec()
    }
}
