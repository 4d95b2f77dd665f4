-- The account database: accounts (by name and password, or by device), and
-- the roles each account has on the game servers.

-- AUTOINCREMENT: an account id is never reused, even after a delete.
CREATE TABLE accounts (
    account_id INTEGER PRIMARY KEY AUTOINCREMENT,
    -- NULL for an account made for a device.
    account TEXT UNIQUE,
    password_hash TEXT,
    -- The role the account entered last, or NULL.
    last_roleid INTEGER
) STRICT;

CREATE TABLE devices (
    device_id TEXT PRIMARY KEY,
    account_id INTEGER NOT NULL REFERENCES accounts (account_id)
) STRICT;

CREATE TABLE account_roles (
    roleid INTEGER PRIMARY KEY,
    account_id INTEGER NOT NULL REFERENCES accounts (account_id),
    name TEXT NOT NULL,
    srvname TEXT NOT NULL
) STRICT;

CREATE INDEX account_roles_by_account ON account_roles (account_id, roleid);
