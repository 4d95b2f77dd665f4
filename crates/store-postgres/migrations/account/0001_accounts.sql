-- The account database: accounts (by name and password, or by device), and
-- the roles each account has on the game servers; the same tables as the
-- SQLite account database after its second migration.

-- An identity column draws from a sequence, which never hands a value out
-- twice (not after a rollback, not to two sessions): account ids are never
-- reused.
CREATE TABLE accounts (
    account_id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- NULL for an account made for a device.
    account TEXT UNIQUE,
    password_hash TEXT,
    -- The role the account entered last, or NULL.
    last_roleid BIGINT
);

CREATE TABLE devices (
    device_id TEXT PRIMARY KEY,
    account_id BIGINT NOT NULL REFERENCES accounts (account_id)
);

-- Each role's level as its game server last reported it, with the row epoch
-- of that report so a late report never overwrites a newer one.
CREATE TABLE account_roles (
    roleid BIGINT PRIMARY KEY,
    account_id BIGINT NOT NULL REFERENCES accounts (account_id),
    name TEXT NOT NULL,
    srvname TEXT NOT NULL,
    level BIGINT NOT NULL,
    level_epoch BIGINT NOT NULL DEFAULT 0
);

CREATE INDEX account_roles_by_account ON account_roles (account_id, roleid);
