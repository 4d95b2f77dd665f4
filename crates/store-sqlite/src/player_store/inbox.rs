//! The receivers' inboxes (DESIGN §9): gifts to offline players, read and
//! emptied by the claim that next loads the receiver.

use routing::RoleId;
use rusqlite::params;
use store::backend::roleid_column;
use store::gifts::INBOX_GIFTS_MAX;
use wire::node::{Gift, GiftId};

use super::Batch;
use crate::schema::{Failure, from_column, to_column};

const SELECT_INBOX: &str = "SELECT from_roleid, seq, gold FROM inbox WHERE roleid = ?1 \
     ORDER BY from_roleid, seq LIMIT ?2";
const INSERT_INBOX: &str = "INSERT INTO inbox (roleid, from_roleid, seq, gold) \
     VALUES (?1, ?2, ?3, ?4) ON CONFLICT DO NOTHING";
const DELETE_INBOX: &str = "DELETE FROM inbox WHERE roleid = ?1 AND from_roleid = ?2 AND seq = ?3";

impl Batch<'_> {
    pub(super) fn read_inbox(&self, roleid: RoleId) -> Result<Vec<Gift>, Failure> {
        let mut statement = self.sql.prepare_cached(SELECT_INBOX)?;
        let limit = i64::try_from(INBOX_GIFTS_MAX).unwrap_or(i64::MAX);
        let rows = statement.query_map(params![roleid_column(roleid), limit], |row| {
            Ok((
                row.get::<_, i64>(0)?,
                row.get::<_, i64>(1)?,
                row.get::<_, i64>(2)?,
            ))
        })?;
        rows.map(|row| {
            let (from_roleid, seq, gold) = row?;
            Ok(Gift {
                id: Some(GiftId {
                    from_roleid: from_column(from_roleid),
                    seq: from_column(seq),
                }),
                to_roleid: roleid.get(),
                gold: from_column(gold),
            })
        })
        .collect()
    }

    pub(super) fn add_to_inbox(&self, gift: &Gift) -> Result<(), Failure> {
        let id = gift.id.unwrap_or_default();
        let mut statement = self.sql.prepare_cached(INSERT_INBOX)?;
        statement.execute(params![
            to_column(gift.to_roleid),
            to_column(id.from_roleid),
            to_column(id.seq),
            to_column(gift.gold),
        ])?;
        Ok(())
    }

    pub(super) fn take_from_inbox(&self, roleid: RoleId, ids: &[GiftId]) -> Result<(), Failure> {
        let mut statement = self.sql.prepare_cached(DELETE_INBOX)?;
        for id in ids {
            statement.execute(params![
                roleid_column(roleid),
                to_column(id.from_roleid),
                to_column(id.seq),
            ])?;
        }
        Ok(())
    }
}
