//! Who holds the rows, for the home server's kuafu marks and a restarted
//! node (DESIGN §5, §6): the rows a node holds or is handed (for take-back),
//! and the rows held elsewhere.

use ownership::Ownership;
use routing::RoleId;
use rusqlite::params;
use store::backend::HoldersPage;

use super::{Batch, StoredOwnership, decode_roleid};
use crate::schema::{Failure, to_column};

const SELECT_HELD_BY_NODE: &str = "SELECT roleid, owner_node, owner_incarnation, epoch, \
     lease_until_ms FROM players WHERE owner_node = ?1 ORDER BY roleid";
const SELECT_HELD_ELSEWHERE: &str = "SELECT roleid, owner_node, owner_incarnation, epoch, \
     lease_until_ms FROM players WHERE roleid BETWEEN ?1 AND ?2 AND owner_node IS NOT NULL \
     AND owner_node != ?3 AND lease_until_ms > ?4 ORDER BY roleid LIMIT ?5";

impl Batch<'_> {
    pub(super) fn rows_held_by_node(
        &self,
        node: &str,
    ) -> Result<Vec<(RoleId, Ownership)>, Failure> {
        self.rows_where(SELECT_HELD_BY_NODE, params![node])
    }

    pub(super) fn rows_held_elsewhere(
        &self,
        db_now_ms: u64,
        page: &HoldersPage<'_>,
    ) -> Result<Vec<(RoleId, Ownership)>, Failure> {
        let limit = i64::try_from(page.limit).unwrap_or(i64::MAX);
        self.rows_where(
            SELECT_HELD_ELSEWHERE,
            params![
                to_column(page.first_roleid),
                to_column(page.last_roleid),
                page.except_node,
                to_column(db_now_ms),
                limit
            ],
        )
    }

    /// `(role, ownership)` of the rows a query selects.
    fn rows_where(
        &self,
        query: &str,
        parameters: impl rusqlite::Params,
    ) -> Result<Vec<(RoleId, Ownership)>, Failure> {
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
