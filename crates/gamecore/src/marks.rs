//! Kuafu marks (seed "Cross-server flows"; DESIGN §6 steps 6–7): the home
//! server's record that one of its players is at another server.
//!
//! The target reports `Arrived` (set the mark, or clear it when the player came
//! home) and `Left` (clear it). A heartbeat asks the marked server whether the
//! player is still online and clears the mark after `misses_max` misses in a
//! row, so a lost `Left` cannot leave a mark behind forever.

use std::collections::BTreeMap;

use routing::RoleId;

/// One mark: where the player went, and heartbeat misses in a row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mark {
    /// The server the player went to (seed `go_srvname`).
    pub go_srvname: String,
    /// Heartbeats in a row that found the player not online there.
    pub misses: u32,
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

    /// The player arrived at `at_srvname`: mark it there, or clear the mark
    /// when it came home. Returns false when the book is full.
    pub fn arrived(&mut self, roleid: RoleId, at_srvname: &str) -> bool {
        if at_srvname == self.home_srvname {
            self.marks.remove(&roleid);
            return true;
        }
        if self.marks.len() >= self.marks_max && !self.marks.contains_key(&roleid) {
            return false;
        }
        let mark = Mark {
            go_srvname: at_srvname.to_owned(),
            misses: 0,
        };
        self.marks.insert(roleid, mark);
        true
    }

    /// The player left `from_srvname`: clear the mark if it still points there
    /// (a late `Left` from an older server must not clear a newer mark).
    pub fn left(&mut self, roleid: RoleId, from_srvname: &str) {
        if self
            .marks
            .get(&roleid)
            .is_some_and(|mark| mark.go_srvname == from_srvname)
        {
            self.marks.remove(&roleid);
        }
    }

    /// The player is at home now: no mark.
    pub fn clear(&mut self, roleid: RoleId) {
        self.marks.remove(&roleid);
    }

    /// A heartbeat answer from `srvname`: online or not (an unreachable server
    /// counts as not online). Returns true when the mark was cleared.
    pub fn heartbeat_answer(&mut self, roleid: RoleId, srvname: &str, online: bool) -> bool {
        let Some(mark) = self.marks.get_mut(&roleid) else {
            return false;
        };
        if mark.go_srvname != srvname {
            return false;
        }
        if online {
            mark.misses = 0;
            return false;
        }
        mark.misses += 1;
        if mark.misses >= self.misses_max {
            self.marks.remove(&roleid);
            return true;
        }
        false
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
}

#[cfg(test)]
mod tests {
    use super::*;
    use routing::Srvno;

    fn role(seq: u64) -> RoleId {
        RoleId::new(Srvno::new(1).unwrap(), seq).unwrap()
    }

    #[test]
    fn arrival_elsewhere_marks_and_arrival_home_clears() {
        let mut book = MarkBook::new("gs1", 3, 10);
        book.arrived(role(1), "gs2");
        assert_eq!(book.get(role(1)).unwrap().go_srvname, "gs2");
        book.arrived(role(1), "gs3");
        assert_eq!(book.get(role(1)).unwrap().go_srvname, "gs3");
        book.arrived(role(1), "gs1");
        assert!(book.get(role(1)).is_none());
    }

    #[test]
    fn a_late_left_from_an_older_server_keeps_the_newer_mark() {
        let mut book = MarkBook::new("gs1", 3, 10);
        book.arrived(role(1), "gs3");
        book.left(role(1), "gs2");
        assert!(book.get(role(1)).is_some());
        book.left(role(1), "gs3");
        assert!(book.get(role(1)).is_none());
    }

    #[test]
    fn three_misses_in_a_row_clear_the_mark() {
        let mut book = MarkBook::new("gs1", 3, 10);
        book.arrived(role(1), "gs2");
        assert!(!book.heartbeat_answer(role(1), "gs2", false));
        assert!(!book.heartbeat_answer(role(1), "gs2", false));
        assert!(
            !book.heartbeat_answer(role(1), "gs2", true),
            "online resets"
        );
        assert!(!book.heartbeat_answer(role(1), "gs2", false));
        assert!(!book.heartbeat_answer(role(1), "gs2", false));
        assert!(book.heartbeat_answer(role(1), "gs2", false));
        assert!(book.is_empty());
    }

    #[test]
    fn a_full_book_refuses_new_marks() {
        let mut book = MarkBook::new("gs1", 3, 1);
        assert!(book.arrived(role(1), "gs2"));
        assert!(!book.arrived(role(2), "gs2"));
        assert!(book.arrived(role(1), "gs3"), "updating an existing mark");
    }
}
