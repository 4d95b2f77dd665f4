-- A srvno database: player rows with their ownership columns (DESIGN §5), the
-- append-only gold/item ledger, and each srvno's role-id sequence; the same
-- schema as the SQLite player database's first migration.
-- Unsigned 64-bit values (incarnation, epoch, versions, times) are stored as
-- their bit pattern in a signed BIGINT; below 2^63 that is the number itself.

CREATE TABLE players (
    roleid BIGINT PRIMARY KEY,
    account_id BIGINT NOT NULL,
    name TEXT NOT NULL,
    -- prost-encoded kuafu.node.v1.PlayerData
    data BYTEA NOT NULL,
    data_version BIGINT NOT NULL,
    -- NULL: free. With owner_incarnation NULL: handed off, arriving at this node.
    owner_node TEXT,
    owner_incarnation BIGINT,
    epoch BIGINT NOT NULL,
    lease_until_ms BIGINT NOT NULL,
    CHECK (owner_node IS NOT NULL OR owner_incarnation IS NULL)
);

CREATE INDEX players_by_account ON players (account_id, roleid);

CREATE TABLE ledger (
    roleid BIGINT NOT NULL,
    seq BIGINT NOT NULL,
    -- 'gold' (item_type NULL) or 'item'
    kind TEXT NOT NULL CHECK (kind IN ('gold', 'item')),
    item_type BIGINT,
    delta BIGINT NOT NULL,
    reason TEXT NOT NULL,
    PRIMARY KEY (roleid, seq)
);

CREATE TABLE role_seq (
    srvno BIGINT PRIMARY KEY,
    next_seq BIGINT NOT NULL
);
