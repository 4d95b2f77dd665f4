-- A srvno database: player rows with their ownership columns (DESIGN §5), the
-- append-only gold/item ledger, and each srvno's role-id sequence.
-- Unsigned 64-bit values (incarnation, epoch, versions, times) are stored as
-- their bit pattern in a signed INTEGER; below 2^63 that is the number itself.

CREATE TABLE players (
    roleid INTEGER PRIMARY KEY,
    account_id INTEGER NOT NULL,
    name TEXT NOT NULL,
    -- prost-encoded kuafu.node.v1.PlayerData
    data BLOB NOT NULL,
    data_version INTEGER NOT NULL,
    -- NULL: free. With owner_incarnation NULL: handed off, arriving at this node.
    owner_node TEXT,
    owner_incarnation INTEGER,
    epoch INTEGER NOT NULL,
    lease_until_ms INTEGER NOT NULL,
    CHECK (owner_node IS NOT NULL OR owner_incarnation IS NULL)
) STRICT;

CREATE INDEX players_by_account ON players (account_id, roleid);

CREATE TABLE ledger (
    roleid INTEGER NOT NULL,
    seq INTEGER NOT NULL,
    -- 'gold' (item_type NULL) or 'item'
    kind TEXT NOT NULL CHECK (kind IN ('gold', 'item')),
    item_type INTEGER,
    delta INTEGER NOT NULL,
    reason TEXT NOT NULL,
    PRIMARY KEY (roleid, seq)
) STRICT, WITHOUT ROWID;

CREATE TABLE role_seq (
    srvno INTEGER PRIMARY KEY,
    next_seq INTEGER NOT NULL
) STRICT;
