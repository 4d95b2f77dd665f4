//! Who holds the rows, for the home server's kuafu marks and a restarted
//! node (DESIGN §5, §6): take back a dead predecessor's rows, list the rows
//! held elsewhere, read one row's holder.

use ownership::OwnerId;
use rusqlite::params;
use store::backend::HoldersPage;
use store::{OpOutcome, RowHolder};

use super::{Batch, OpResult, StoredOwnership, decode_roleid};
use crate::schema::{Failure, to_column};

const SELECT_HELD_BY_NODE: &str = "SELECT roleid, owner_node, owner_incarnation, epoch, \
     lease_until_ms FROM players WHERE owner_node = ?1 ORDER BY roleid";
const SELECT_HELD_ELSEWHERE: &str = "SELECT roleid, owner_node, owner_incarnation, epoch, \
     lease_until_ms FROM players WHERE roleid BETWEEN ?1 AND ?2 AND owner_node IS NOT NULL \
     AND owner_node != ?3 AND lease_until_ms > ?4 ORDER BY roleid LIMIT ?5";

impl Batch<'_> {
    pub(super) fn take_back_rows(&mut self, owner: &OwnerId) -> OpResult {
        let rows = self.rows_where(SELECT_HELD_BY_NODE, params![owner.node])?;
        let mut taken_back = 0;
        for (roleid, ownership) in rows {
            if let Some(freed) = self.rules.take_back(&ownership, owner) {
                self.store_ownership(roleid, &freed)?;
                taken_back += 1;
            }
        }
        Ok(OpOutcome::TakenBack { rows: taken_back })
    }

    pub(super) fn held_elsewhere(&mut self, db_now_ms: u64, page: &HoldersPage<'_>) -> OpResult {
        let limit = i64::try_from(page.limit).unwrap_or(i64::MAX);
        let rows = self.rows_where(
            SELECT_HELD_ELSEWHERE,
            params![
                to_column(page.first_roleid),
                to_column(page.last_roleid),
                page.except_node,
                to_column(db_now_ms),
                limit
            ],
        )?;
        let holders = rows
            .iter()
            .map(|(roleid, ownership)| RowHolder::of(*roleid, ownership, db_now_ms))
            .filter(|holder| holder.is_elsewhere_than(page.except_node))
            .collect();
        Ok(OpOutcome::Holders(holders))
    }

    /// `(role, ownership)` of the rows a query selects.
    fn rows_where(
        &self,
        query: &str,
        parameters: impl rusqlite::Params,
    ) -> Result<Vec<(routing::RoleId, ownership::Ownership)>, Failure> {
        let mut statement = self.sql.prepare_cached(query)?;
        let rows = statement.query_map(parameters, |row| {
            Ok((row.get::<_, i64>(0)?, StoredOwnership::read(row, 1)?))
        })?;
        rows.map(|row| {
            let (roleid, stored) = row?;
            Ok((decode_roleid(roleid)?, stored.decode()?))
        })
        .collect()
    }
}
