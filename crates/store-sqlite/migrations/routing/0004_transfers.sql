-- The transfer table (DESIGN §7, 转服): role -> srvno overrides, each with
-- the table version that recorded it. The table's version is the largest.

CREATE TABLE transfers (
    roleid INTEGER PRIMARY KEY,
    to_srvno INTEGER NOT NULL,
    from_srvno INTEGER NOT NULL,
    version INTEGER NOT NULL
) STRICT;
