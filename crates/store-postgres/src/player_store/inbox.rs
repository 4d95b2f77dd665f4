//! The receivers' inboxes (DESIGN §9): gifts to offline players, read and
//! emptied by the claim that next loads the receiver. The receiver's row is
//! locked by the batch before its inbox is read or written (`Locks`), so an
//! inbox write and a claim of the same receiver never interleave.

use routing::RoleId;
use store::backend::{from_column, roleid_column, to_column};
use store::gifts::INBOX_GIFTS_MAX;
use wire::node::{Gift, GiftId};

use super::rows::Batch;
use crate::connection::Failure;

pub(super) const SELECT_INBOX: &str = "SELECT from_roleid, seq, gold FROM inbox \
     WHERE roleid = $1 ORDER BY from_roleid, seq LIMIT $2";
pub(super) const INSERT_INBOX: &str = "INSERT INTO inbox (roleid, from_roleid, seq, gold) \
     VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING";
/// Removes the listed gifts of one receiver in one statement.
pub(super) const DELETE_INBOX: &str = "DELETE FROM inbox WHERE roleid = $1 \
     AND (from_roleid, seq) IN (SELECT * FROM UNNEST($2::bigint[], $3::bigint[]))";

impl Batch<'_> {
    pub(super) fn read_inbox(&self, roleid: RoleId) -> Result<Vec<Gift>, Failure> {
        let client = self.connection.client();
        let limit = i64::try_from(INBOX_GIFTS_MAX).unwrap_or(i64::MAX);
        let statement = &self.statements.select_inbox;
        let rows = self
            .connection
            .run(client.query(statement, &[&roleid_column(roleid), &limit]))?;
        rows.iter()
            .map(|row| {
                let id = GiftId {
                    from_roleid: from_column(row.try_get(0)?),
                    seq: from_column(row.try_get(1)?),
                };
                Ok(Gift {
                    id: Some(id),
                    to_roleid: roleid.get(),
                    gold: from_column(row.try_get(2)?),
                })
            })
            .collect()
    }

    pub(super) fn add_to_inbox(&self, gift: &Gift) -> Result<(), Failure> {
        let client = self.connection.client();
        let id = gift.id.unwrap_or_default();
        let columns = [
            to_column(gift.to_roleid),
            to_column(id.from_roleid),
            to_column(id.seq),
            to_column(gift.gold),
        ];
        let statement = &self.statements.insert_inbox;
        let params: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> =
            columns.iter().map(|column| column as _).collect();
        self.connection.run(client.execute(statement, &params))?;
        Ok(())
    }

    pub(super) fn take_from_inbox(&self, roleid: RoleId, ids: &[GiftId]) -> Result<(), Failure> {
        if ids.is_empty() {
            return Ok(());
        }
        let client = self.connection.client();
        let senders: Vec<i64> = ids.iter().map(|id| to_column(id.from_roleid)).collect();
        let seqs: Vec<i64> = ids.iter().map(|id| to_column(id.seq)).collect();
        let statement = &self.statements.delete_inbox;
        let roleid = roleid_column(roleid);
        self.connection
            .run(client.execute(statement, &[&roleid, &senders, &seqs]))?;
        Ok(())
    }
}
