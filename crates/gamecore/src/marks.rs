//! Kuafu marks (seed "Cross-server flows"; DESIGN §6 steps 6–7): the home
//! server's record that one of its players is at another server.
//!
//! Marks are a view of the authority, never a second authority: the player's
//! row in the home database (owner, epoch, lease) says where the player is.
//! So the book is fed three ways, each ordered by the row's epoch (a note or
//! a read older than the mark never undoes it):
//! - the target's notes: `Arrived` sets the mark (or clears it when the
//!   player came home), `Left` clears it;
//! - the rows themselves ([`MarkBook::observe_row`]): read page by page when
//!   the home server starts, so a restart forgets nothing, and read again
//!   before the heartbeat gives up on a mark;
//! - the heartbeat: the home asks the marked server whether the player is
//!   online; after `misses_max` misses in a row (a timeout counts as one) it
//!   does not clear the mark but reads the row ([`Heartbeat::ReadRow`]). A
//!   player whose row is still held by the marked server with a live lease
//!   keeps its mark, however slow that server is to answer.

use std::collections::BTreeMap;

use routing::RoleId;
use store::RowHolder;

/// One mark: where the player went, at which epoch, and heartbeat misses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mark {
    /// The server the player went to (seed `go_srvname`).
    pub go_srvname: String,
    /// The row's epoch when the mark was set.
    pub epoch: u64,
    /// Heartbeats in a row that found the player not online there.
    pub misses: u32,
}

/// What a heartbeat answer asks of the home server.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Heartbeat {
    /// Nothing: the player is online there, or misses are still few.
    Keep,
    /// Misses reached the bound: read the row before touching the mark.
    ReadRow,
}

/// What observing a row did to the mark.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Observed {
    /// The mark stands as it was, or the row was older than the mark.
    Unchanged,
    /// The mark now names the server that holds the row.
    Marked,
    /// The row is free, lapsed or held by the home: no mark.
    Cleared,
    /// The book is full and the row is held elsewhere: no mark was added.
    Full,
}

/// The marks a home server keeps for its players.
#[derive(Clone, Debug)]
pub struct MarkBook {
    home_srvname: String,
    marks: BTreeMap<RoleId, Mark>,
    misses_max: u32,
    marks_max: usize,
}

impl MarkBook {
    /// An empty book for home server `home_srvname`.
    pub fn new(home_srvname: &str, misses_max: u32, marks_max: usize) -> Self {
        assert!(misses_max > 0);
        Self {
            home_srvname: home_srvname.to_owned(),
            marks: BTreeMap::new(),
            misses_max,
            marks_max,
        }
    }

    /// The player arrived at `at_srvname` with a claim at `epoch`: mark it
    /// there, or clear the mark when it came home. A note older than the
    /// mark changes nothing. Returns false when the book is full.
    pub fn arrived(&mut self, roleid: RoleId, at_srvname: &str, epoch: u64) -> bool {
        if self.is_newer_than(roleid, epoch) {
            return true;
        }
        if at_srvname == self.home_srvname {
            self.marks.remove(&roleid);
            return true;
        }
        self.set(roleid, at_srvname, epoch)
    }

    /// The player left `from_srvname`, whose copy was at `epoch`: clear the
    /// mark if it still points there and is no newer (a late `Left` from an
    /// older server must not clear a newer mark).
    pub fn left(&mut self, roleid: RoleId, from_srvname: &str, epoch: u64) {
        if self
            .marks
            .get(&roleid)
            .is_some_and(|mark| mark.go_srvname == from_srvname && mark.epoch <= epoch)
        {
            self.marks.remove(&roleid);
        }
    }

    /// The home server itself holds the player at `epoch`: no mark, unless
    /// a newer one came meanwhile.
    pub fn at_home(&mut self, roleid: RoleId, epoch: u64) {
        if !self.is_newer_than(roleid, epoch) {
            self.marks.remove(&roleid);
        }
    }

    /// What the player's row says now (a page read at start, or the read
    /// before the heartbeat gives up): the mark follows the row unless the
    /// mark is newer.
    pub fn observe_row(&mut self, row: &RowHolder) -> Observed {
        if self.is_newer_than(row.roleid, row.epoch) {
            return Observed::Unchanged;
        }
        match row.node.as_deref() {
            Some(node) if node != self.home_srvname => {
                let unchanged = self.marks.get(&row.roleid).is_some_and(|mark| {
                    mark.go_srvname == node && mark.epoch == row.epoch && mark.misses == 0
                });
                if unchanged {
                    Observed::Unchanged
                } else if self.set(row.roleid, node, row.epoch) {
                    Observed::Marked
                } else {
                    Observed::Full
                }
            }
            _ => match self.marks.remove(&row.roleid) {
                Some(_) => Observed::Cleared,
                None => Observed::Unchanged,
            },
        }
    }

    /// A heartbeat answer from `srvname`: online or not (an unreachable or
    /// slow server counts as not online).
    pub fn heartbeat_answer(&mut self, roleid: RoleId, srvname: &str, online: bool) -> Heartbeat {
        let Some(mark) = self.marks.get_mut(&roleid) else {
            return Heartbeat::Keep;
        };
        if mark.go_srvname != srvname {
            return Heartbeat::Keep;
        }
        if online {
            mark.misses = 0;
            return Heartbeat::Keep;
        }
        mark.misses = mark.misses.saturating_add(1);
        if mark.misses >= self.misses_max {
            Heartbeat::ReadRow
        } else {
            Heartbeat::Keep
        }
    }

    /// The mark of `roleid`, if the player is away (seed
    /// `playermgr.getkuafuplayer(pid)`).
    pub fn get(&self, roleid: RoleId) -> Option<&Mark> {
        self.marks.get(&roleid)
    }

    /// Every mark, ordered by role id.
    pub fn iter(&self) -> impl Iterator<Item = (RoleId, &Mark)> {
        self.marks.iter().map(|(roleid, mark)| (*roleid, mark))
    }

    /// How many players are away.
    pub fn len(&self) -> usize {
        self.marks.len()
    }

    /// Whether no player is away.
    pub fn is_empty(&self) -> bool {
        self.marks.is_empty()
    }

    fn is_newer_than(&self, roleid: RoleId, epoch: u64) -> bool {
        self.marks
            .get(&roleid)
            .is_some_and(|mark| mark.epoch > epoch)
    }

    fn set(&mut self, roleid: RoleId, at_srvname: &str, epoch: u64) -> bool {
        if self.marks.len() >= self.marks_max && !self.marks.contains_key(&roleid) {
            return false;
        }
        let mark = Mark {
            go_srvname: at_srvname.to_owned(),
            epoch,
            misses: 0,
        };
        self.marks.insert(roleid, mark);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use routing::Srvno;

    fn role(seq: u64) -> RoleId {
        RoleId::new(Srvno::new(1).unwrap(), seq).unwrap()
    }

    fn row(node: Option<&str>, epoch: u64) -> RowHolder {
        RowHolder {
            roleid: role(1),
            node: node.map(str::to_owned),
            epoch,
        }
    }

    #[test]
    fn arrival_elsewhere_marks_and_arrival_home_clears() {
        let mut book = MarkBook::new("gs1", 3, 10);
        book.arrived(role(1), "gs2", 1);
        assert_eq!(book.get(role(1)).unwrap().go_srvname, "gs2");
        book.arrived(role(1), "gs3", 3);
        assert_eq!(book.get(role(1)).unwrap().go_srvname, "gs3");
        book.arrived(role(1), "gs1", 5);
        assert!(book.get(role(1)).is_none());
    }

    #[test]
    fn a_late_note_never_undoes_a_newer_one() {
        let mut book = MarkBook::new("gs1", 3, 10);
        book.arrived(role(1), "gs3", 5);
        book.arrived(role(1), "gs2", 3);
        assert_eq!(
            book.get(role(1)).unwrap().go_srvname,
            "gs3",
            "older arrival"
        );
        book.left(role(1), "gs3", 4);
        assert!(book.get(role(1)).is_some(), "a Left older than the mark");
        book.left(role(1), "gs2", 5);
        assert!(book.get(role(1)).is_some(), "a Left from another server");
        book.arrived(role(1), "gs1", 4);
        assert!(book.get(role(1)).is_some(), "an older arrival at home");
        book.left(role(1), "gs3", 5);
        assert!(book.get(role(1)).is_none());
    }

    #[test]
    fn misses_ask_for_the_row_instead_of_clearing() {
        let mut book = MarkBook::new("gs1", 3, 10);
        book.arrived(role(1), "gs2", 1);
        assert_eq!(
            book.heartbeat_answer(role(1), "gs2", false),
            Heartbeat::Keep
        );
        assert_eq!(
            book.heartbeat_answer(role(1), "gs2", false),
            Heartbeat::Keep
        );
        assert_eq!(book.heartbeat_answer(role(1), "gs2", true), Heartbeat::Keep);
        assert_eq!(
            book.heartbeat_answer(role(1), "gs2", false),
            Heartbeat::Keep
        );
        assert_eq!(
            book.heartbeat_answer(role(1), "gs2", false),
            Heartbeat::Keep
        );
        assert_eq!(
            book.heartbeat_answer(role(1), "gs2", false),
            Heartbeat::ReadRow
        );
        assert!(book.get(role(1)).is_some(), "only the row clears a mark");
    }

    #[test]
    fn a_row_still_held_there_keeps_the_mark_and_a_free_row_clears_it() {
        let mut book = MarkBook::new("gs1", 1, 10);
        book.arrived(role(1), "gs2", 2);
        book.heartbeat_answer(role(1), "gs2", false);
        assert_eq!(book.observe_row(&row(Some("gs2"), 2)), Observed::Marked);
        assert_eq!(book.get(role(1)).unwrap().misses, 0, "misses start over");
        assert_eq!(book.observe_row(&row(Some("gs2"), 2)), Observed::Unchanged);
        assert_eq!(book.observe_row(&row(Some("gs3"), 4)), Observed::Marked);
        assert_eq!(book.get(role(1)).unwrap().go_srvname, "gs3");
        assert_eq!(
            book.observe_row(&row(None, 3)),
            Observed::Unchanged,
            "older"
        );
        assert_eq!(book.observe_row(&row(None, 4)), Observed::Cleared);
        assert_eq!(book.observe_row(&row(Some("gs1"), 5)), Observed::Unchanged);
        assert!(book.is_empty());
    }

    #[test]
    fn a_full_book_refuses_new_marks() {
        let mut book = MarkBook::new("gs1", 3, 1);
        assert!(book.arrived(role(1), "gs2", 1));
        assert!(!book.arrived(role(2), "gs2", 1));
        assert!(book.arrived(role(1), "gs3", 2), "updating an existing mark");
        let mut other = row(Some("gs2"), 1);
        other.roleid = role(2);
        assert_eq!(book.observe_row(&other), Observed::Full);
    }
}
