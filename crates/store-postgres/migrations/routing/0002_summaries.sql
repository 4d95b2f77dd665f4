-- Player summaries (DESIGN §8): each role's profile as its owner last
-- reported it, the owner's (epoch, seq) of that report, and the summary's
-- version (one more per accepted change); the same table as the SQLite
-- data center database's. Where the player is stays in current_server.
-- Unsigned numbers are stored as the bit pattern of a signed BIGINT;
-- `fields` is a protobuf SummaryFields.

CREATE TABLE summaries (
    roleid BIGINT PRIMARY KEY,
    version BIGINT NOT NULL,
    epoch BIGINT NOT NULL,
    seq BIGINT NOT NULL,
    name TEXT NOT NULL,
    level BIGINT NOT NULL,
    home_srvno BIGINT NOT NULL,
    fields BYTEA NOT NULL
);
