//! The player database's SQL, prepared once per session (all in one round
//! trip), so each statement later costs one message, not a parse.
//!
//! The statements that read a row before the batch writes it lock it
//! (`FOR UPDATE`): under PostgreSQL's READ COMMITTED, a plain read followed
//! by an update would overwrite another session's commit made in between
//! (a second writer). Claims, writes and renewals lock their rows at the
//! start of the batch, all in role id order ([`LOCK_PLAYERS`]), so two
//! batches never wait for each other in a cycle.

use tokio_postgres::{Client, Statement};

/// Locks the rows a batch writes, in role id order.
const LOCK_PLAYERS: &str =
    "SELECT roleid FROM players WHERE roleid = ANY($1) ORDER BY roleid FOR UPDATE";
/// Locks the role sequences a batch draws from, in srvno order.
const LOCK_ROLE_SEQS: &str =
    "SELECT srvno FROM role_seq WHERE srvno = ANY($1) ORDER BY srvno FOR UPDATE";
/// The rows a batch locked, read after the locks (see `locked.rs`): the
/// ownership columns, the data version, the role's last ledger line, and
/// the data of the rows in `$2` (those a claim loads).
const SELECT_LOCKED: &str = "SELECT roleid, owner_node, owner_incarnation, epoch, \
     lease_until_ms, data_version, \
     (SELECT MAX(seq) FROM ledger WHERE ledger.roleid = players.roleid), \
     CASE WHEN roleid = ANY($2) THEN data END, transferred_to, transfer_sealed, \
     EXISTS (SELECT 1 FROM inbox WHERE inbox.roleid = players.roleid) \
     FROM players WHERE roleid = ANY($1)";
/// The database's clock in milliseconds since the Unix epoch, read when the
/// statement runs (not at the transaction's start).
const DB_NOW: &str = "SELECT floor(extract(epoch FROM clock_timestamp()) * 1000)::bigint";
const SELECT_NEXT_SEQ: &str = "SELECT next_seq FROM role_seq WHERE srvno = $1";
const UPDATE_NEXT_SEQ: &str = "UPDATE role_seq SET next_seq = $2 WHERE srvno = $1";
const ADVANCE_NEXT_SEQ: &str = "UPDATE role_seq SET next_seq = GREATEST(next_seq, $2) \
     WHERE srvno = $1 RETURNING next_seq";
const INSERT_PLAYER: &str = "INSERT INTO players (roleid, account_id, name, data, \
     data_version, owner_node, owner_incarnation, epoch, lease_until_ms) \
     VALUES ($1, $2, $3, $4, $5, NULL, NULL, $6, $7)";
const SELECT_RECORD: &str = "SELECT data, data_version, owner_node, owner_incarnation, epoch, \
     lease_until_ms FROM players WHERE roleid = $1";
const SELECT_OWNERSHIP: &str = "SELECT owner_node, owner_incarnation, epoch, lease_until_ms, \
     data_version FROM players WHERE roleid = $1";
const SELECT_WRITE_BASIS: &str = "SELECT owner_node, owner_incarnation, epoch, lease_until_ms, \
     data_version, (SELECT MAX(seq) FROM ledger WHERE roleid = $1) FROM players \
     WHERE roleid = $1 FOR UPDATE";
const UPDATE_OWNERSHIP: &str = "UPDATE players SET owner_node = $2, owner_incarnation = $3, \
     epoch = $4, lease_until_ms = $5 WHERE roleid = $1";
const UPDATE_WRITE: &str = "UPDATE players SET owner_node = $2, owner_incarnation = $3, \
     epoch = $4, lease_until_ms = $5, data = $6, data_version = $7, name = $8 WHERE roleid = $1";
/// Appends every ledger line of one write in one statement, each naming
/// the write's owner and epoch.
const INSERT_LEDGER: &str = "INSERT INTO ledger (roleid, seq, kind, item_type, delta, reason, \
     writer_node, writer_incarnation, writer_epoch) \
     SELECT $1, lines.*, $7::text, $8::bigint, $9::bigint \
     FROM UNNEST($2::bigint[], $3::text[], $4::bigint[], $5::bigint[], $6::text[]) AS lines";
const SELECT_ROLES_OF_ACCOUNT: &str =
    "SELECT roleid, data FROM players WHERE account_id = $1 ORDER BY roleid";
const SELECT_HELD_BY_NODE: &str = "SELECT roleid, owner_node, owner_incarnation, epoch, \
     lease_until_ms FROM players WHERE owner_node = $1 ORDER BY roleid FOR UPDATE";
const SELECT_HELD_ELSEWHERE: &str = "SELECT roleid, owner_node, owner_incarnation, epoch, \
     lease_until_ms FROM players WHERE roleid BETWEEN $1 AND $2 AND owner_node IS NOT NULL \
     AND owner_node <> $3 AND lease_until_ms > $4 ORDER BY roleid LIMIT $5";
const SELECT_LEDGER: &str =
    "SELECT seq, kind, item_type, delta, reason FROM ledger WHERE roleid = $1 ORDER BY seq";

/// Every prepared statement of the player store, named for its SQL.
pub(super) struct Statements {
    pub(super) lock_players: Statement,
    pub(super) lock_role_seqs: Statement,
    pub(super) select_locked: Statement,
    pub(super) db_now: Statement,
    pub(super) select_next_seq: Statement,
    pub(super) update_next_seq: Statement,
    pub(super) advance_next_seq: Statement,
    pub(super) insert_player: Statement,
    pub(super) select_record: Statement,
    pub(super) select_ownership: Statement,
    pub(super) select_write_basis: Statement,
    pub(super) update_ownership: Statement,
    pub(super) update_write: Statement,
    pub(super) insert_ledger: Statement,
    pub(super) select_roles_of_account: Statement,
    pub(super) select_held_by_node: Statement,
    pub(super) select_held_elsewhere: Statement,
    pub(super) select_ledger: Statement,
    pub(super) select_inbox: Statement,
    pub(super) insert_inbox: Statement,
    pub(super) delete_inbox: Statement,
}

impl Statements {
    /// Prepares every statement on `client`, pipelined.
    pub(super) async fn prepare(client: &Client) -> Result<Self, tokio_postgres::Error> {
        let (lock_players, lock_role_seqs, db_now, select_next_seq, update_next_seq) = tokio::try_join!(
            client.prepare(LOCK_PLAYERS),
            client.prepare(LOCK_ROLE_SEQS),
            client.prepare(DB_NOW),
            client.prepare(SELECT_NEXT_SEQ),
            client.prepare(UPDATE_NEXT_SEQ),
        )?;
        let (advance_next_seq, insert_player, select_record, select_ownership, select_write_basis) =
            tokio::try_join!(
                client.prepare(ADVANCE_NEXT_SEQ),
                client.prepare(INSERT_PLAYER),
                client.prepare(SELECT_RECORD),
                client.prepare(SELECT_OWNERSHIP),
                client.prepare(SELECT_WRITE_BASIS),
            )?;
        let (update_ownership, update_write, insert_ledger, select_roles_of_account) = tokio::try_join!(
            client.prepare(UPDATE_OWNERSHIP),
            client.prepare(UPDATE_WRITE),
            client.prepare(INSERT_LEDGER),
            client.prepare(SELECT_ROLES_OF_ACCOUNT),
        )?;
        let (select_held_by_node, select_held_elsewhere, select_ledger, select_locked) = tokio::try_join!(
            client.prepare(SELECT_HELD_BY_NODE),
            client.prepare(SELECT_HELD_ELSEWHERE),
            client.prepare(SELECT_LEDGER),
            client.prepare(SELECT_LOCKED),
        )?;
        let (select_inbox, insert_inbox, delete_inbox) = tokio::try_join!(
            client.prepare(super::inbox::SELECT_INBOX),
            client.prepare(super::inbox::INSERT_INBOX),
            client.prepare(super::inbox::DELETE_INBOX),
        )?;
        Ok(Self {
            lock_players,
            lock_role_seqs,
            select_locked,
            db_now,
            select_next_seq,
            update_next_seq,
            advance_next_seq,
            insert_player,
            select_record,
            select_ownership,
            select_write_basis,
            update_ownership,
            update_write,
            insert_ledger,
            select_roles_of_account,
            select_held_by_node,
            select_held_elsewhere,
            select_ledger,
            select_inbox,
            insert_inbox,
            delete_inbox,
        })
    }
}
