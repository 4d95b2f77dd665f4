//! The home server's side of kuafu marks (DESIGN §6): rebuilding the marks
//! from the home database when the server starts, the targets' `Arrived` and
//! `Left` notes, and the heartbeat that reads the row before it gives up on
//! a mark. The book itself is [`crate::marks::MarkBook`].

use routing::{RoleId, Srvno};
use store::{HOLDERS_PAGE_MAX, OpOutcome, PlayerOp, RowHolder, StoreError};
use wire::client::ErrorCode;
use wire::node::node_message::Body;
use wire::node::{Arrived, Left, NodeMessage, OnlineAnswer};

use crate::core::{GameCore, OpPurpose};
use crate::limits::MARK_PAGES_MAX;
use crate::marks::{Heartbeat, Observed};
use crate::messages::{self, Answer};
use crate::peers::CallPurpose;
use crate::{Event, PeerError};

/// A page of the marks' rebuild that still has to be read (the first one,
/// or one whose read failed and is retried on the next heartbeat).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct MarksPage {
    pub(crate) srvno: Srvno,
    pub(crate) after: Option<RoleId>,
    /// Pages read before this one.
    pub(crate) index: usize,
}

impl GameCore {
    /// Reads the first page of every srvno this server is home to: after a
    /// restart the marks come back from the rows.
    pub(crate) fn start_marks_rebuild(&mut self) {
        let srvnos = self
            .config
            .zone
            .server(&self.config.srvname)
            .map(|server| server.srvnos.clone())
            .unwrap_or_default();
        for srvno in srvnos {
            let first = MarksPage {
                srvno,
                after: None,
                index: 0,
            };
            self.read_marks_page(first);
        }
    }

    /// Reads one page, or keeps it for the next heartbeat when no store
    /// operation fits now.
    fn read_marks_page(&mut self, page: MarksPage) {
        assert!(
            page.index < MARK_PAGES_MAX,
            "the rebuild reads a bounded number of pages"
        );
        if !self.ops_room(1) {
            return self.marks_pages_to_retry.push(page);
        }
        let operation = PlayerOp::ListHeldElsewhere {
            srvno: page.srvno,
            except_node: self.config.srvname.clone(),
            after: page.after,
            limit: HOLDERS_PAGE_MAX,
        };
        self.store(OpPurpose::MarksPage(page), page.srvno, operation);
    }

    /// A page of rows held elsewhere: mark each, then read the next page.
    pub(crate) fn marks_page_read(
        &mut self,
        page: MarksPage,
        answer: Result<OpOutcome, StoreError>,
    ) {
        let rows = match answer {
            Ok(OpOutcome::Holders(rows)) => rows,
            Ok(other) => panic!("a page of holders answered with {other:?}"),
            Err(_) => return self.marks_pages_to_retry.push(page),
        };
        assert!(rows.len() <= HOLDERS_PAGE_MAX, "a page is bounded");
        for row in &rows {
            self.marks.observe_row(row);
        }
        if let Some(last) = rows.last().filter(|_| rows.len() == HOLDERS_PAGE_MAX) {
            let next = MarksPage {
                srvno: page.srvno,
                after: Some(last.roleid),
                index: page.index + 1,
            };
            if next.index < MARK_PAGES_MAX {
                self.read_marks_page(next);
            }
        }
    }

    /// Asks every marked server whether its visitor is still online, and
    /// retries the rebuild's failed pages.
    pub(crate) fn heartbeat_marks(&mut self) {
        for page in std::mem::take(&mut self.marks_pages_to_retry) {
            self.read_marks_page(page);
        }
        let marks: Vec<(RoleId, String)> = self
            .marks
            .iter()
            .map(|(roleid, mark)| (roleid, mark.go_srvname.clone()))
            .collect();
        for (roleid, srvname) in marks {
            if !self.calls_room(1) {
                return; // the others are asked on the next heartbeat
            }
            let message = messages::is_online(roleid);
            let purpose = CallPurpose::Heartbeat {
                roleid,
                srvname: srvname.clone(),
            };
            self.request(purpose, &srvname, message);
        }
    }

    /// The marked server answered the heartbeat (or did not in time).
    pub(crate) fn heartbeat_answered(
        &mut self,
        roleid: RoleId,
        srvname: &str,
        answer: Result<NodeMessage, PeerError>,
    ) {
        let online = matches!(
            answer,
            Ok(NodeMessage {
                body: Some(Body::OnlineAnswer(OnlineAnswer { online: true }))
            })
        );
        // Without room for the read, the next miss asks for it again.
        if self.marks.heartbeat_answer(roleid, srvname, online) == Heartbeat::ReadRow
            && self.ops_room(1)
        {
            if self.config.mutations.marks_cleared_on_misses {
                self.marks.left(roleid, srvname, u64::MAX);
                return self.emit(Event::MarkExpired { roleid });
            }
            let operation = PlayerOp::ReadHolder { roleid };
            self.store(
                OpPurpose::MarkRead { roleid },
                self.home_of(roleid),
                operation,
            );
        }
    }

    /// The row of a mark the heartbeat gave up on: the row decides.
    pub(crate) fn mark_row_read(&mut self, roleid: RoleId, answer: Result<OpOutcome, StoreError>) {
        let row: RowHolder = match answer {
            Ok(OpOutcome::Holders(mut rows)) if rows.len() == 1 => rows.remove(0),
            Ok(other) => panic!("a holder read answered with {other:?}"),
            Err(_) => return, // the next heartbeat misses again and reads again
        };
        assert_eq!(row.roleid, roleid, "the row asked for");
        if self.marks.observe_row(&row) == Observed::Cleared {
            self.emit(Event::MarkExpired { roleid });
        }
    }

    /// A target's note: the player arrived there.
    pub(crate) fn note_arrival(&mut self, arrived: &Arrived) -> Answer {
        let roleid = self.own_role(arrived.roleid)?;
        let epoch = arrived.epoch;
        if self.is_hosted_at_newer_epoch(roleid, epoch) {
            return Ok(messages::ack()); // the player came home since
        }
        if !self.marks.arrived(roleid, &arrived.at_srvname, epoch) {
            return Err((ErrorCode::Overloaded, "too many kuafu marks".into()));
        }
        Ok(messages::ack())
    }

    /// A target's note: the player left it (logoff or crossing on).
    pub(crate) fn note_departure(&mut self, left: &Left) -> Answer {
        let roleid = self.own_role(left.roleid)?;
        self.marks.left(roleid, &left.from_srvname, left.epoch);
        Ok(messages::ack())
    }

    fn is_hosted_at_newer_epoch(&self, roleid: RoleId, epoch: u64) -> bool {
        self.players_state(roleid)
            .and_then(|state| state.writable_copy())
            .is_some_and(|copy| copy.epoch > epoch)
    }

    /// A role whose home is this server.
    fn own_role(&self, raw_roleid: u64) -> Result<RoleId, (ErrorCode, String)> {
        let roleid = RoleId::from_raw(raw_roleid)
            .map_err(|error| (ErrorCode::UnknownRole, error.to_string()))?;
        if self.home_srvname(roleid) != Some(self.config.srvname.as_str()) {
            return Err((
                ErrorCode::UnknownRole,
                format!("{roleid} is not at home here"),
            ));
        }
        Ok(roleid)
    }
}
