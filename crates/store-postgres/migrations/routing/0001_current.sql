-- The data center's routing records: the server each role is on now, and
-- the owner's epoch of the note that put it there; the same table as the
-- SQLite data center database after its second migration.

CREATE TABLE current_server (
    roleid BIGINT PRIMARY KEY,
    srvname TEXT NOT NULL,
    online BOOLEAN NOT NULL,
    -- An unsigned epoch as the bit pattern of a signed BIGINT.
    epoch BIGINT NOT NULL
);
