-- The rank server's leaderboards: each role's entry on each board, and each
-- board's latest snapshot (its number, and its rows by rank); the same
-- tables as the SQLite rank database.

CREATE TABLE rank_entry (
    board TEXT NOT NULL,
    roleid BIGINT NOT NULL,
    score BIGINT NOT NULL,
    -- Unsigned numbers as the bit pattern of a signed BIGINT.
    arrival BIGINT NOT NULL,
    epoch BIGINT NOT NULL,
    seq BIGINT NOT NULL,
    PRIMARY KEY (board, roleid)
);

CREATE TABLE rank_snapshot (
    board TEXT PRIMARY KEY,
    number BIGINT NOT NULL
);

CREATE TABLE rank_snapshot_row (
    board TEXT NOT NULL,
    rank BIGINT NOT NULL,
    roleid BIGINT NOT NULL,
    score BIGINT NOT NULL,
    PRIMARY KEY (board, rank)
);
