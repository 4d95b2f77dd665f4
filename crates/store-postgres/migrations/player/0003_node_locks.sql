-- The node lock's marker (DESIGN §5): the incarnation of each game server
-- that last got its node lock (a session-level advisory lock), written
-- while it holds the lock and before it takes anything back. A holder that
-- lost its session and gets the lock again serves on only if this row
-- still names it.
CREATE TABLE node_locks (
    zone TEXT NOT NULL,
    node TEXT NOT NULL,
    incarnation BIGINT NOT NULL,
    acquired_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (zone, node)
);
