-- The transfer table (DESIGN §7, 转服): role -> srvno overrides, each with
-- the table version that recorded it. The table's version is the largest;
-- the same table as the SQLite data center database's.

CREATE TABLE transfers (
    roleid BIGINT PRIMARY KEY,
    to_srvno INTEGER NOT NULL,
    from_srvno INTEGER NOT NULL,
    version BIGINT NOT NULL
);
