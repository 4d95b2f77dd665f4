-- The rank server's leaderboards: each role's entry on each board, and each
-- board's latest snapshot (its number, and its rows by rank).

CREATE TABLE rank_entry (
    board TEXT NOT NULL,
    roleid INTEGER NOT NULL,
    score INTEGER NOT NULL,
    -- Unsigned numbers as the bit pattern of a signed INTEGER.
    arrival INTEGER NOT NULL,
    epoch INTEGER NOT NULL,
    seq INTEGER NOT NULL,
    PRIMARY KEY (board, roleid)
) STRICT;

CREATE TABLE rank_snapshot (
    board TEXT PRIMARY KEY,
    number INTEGER NOT NULL
) STRICT;

CREATE TABLE rank_snapshot_row (
    board TEXT NOT NULL,
    rank INTEGER NOT NULL,
    roleid INTEGER NOT NULL,
    score INTEGER NOT NULL,
    PRIMARY KEY (board, rank)
) STRICT;
