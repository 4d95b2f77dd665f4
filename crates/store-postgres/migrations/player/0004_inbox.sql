-- Gifts to offline players (DESIGN §9): each waits in its receiver's inbox,
-- in the receiver's home database, until the claim that next loads the
-- receiver credits it and removes it in the same transaction. A gift is
-- named by its sender and the sequence number of the ledger line that
-- debited it.
CREATE TABLE inbox (
    roleid BIGINT NOT NULL,
    from_roleid BIGINT NOT NULL,
    seq BIGINT NOT NULL,
    gold BIGINT NOT NULL,
    PRIMARY KEY (roleid, from_roleid, seq)
);
