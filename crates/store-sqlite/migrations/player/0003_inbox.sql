-- Gifts to offline players (DESIGN §9): each waits in its receiver's inbox,
-- in the receiver's home database, until the claim that next loads the
-- receiver credits it and removes it in the same transaction. A gift is
-- named by its sender and the sequence number of the ledger line that
-- debited it.
CREATE TABLE inbox (
    roleid INTEGER NOT NULL,
    from_roleid INTEGER NOT NULL,
    seq INTEGER NOT NULL,
    gold INTEGER NOT NULL,
    PRIMARY KEY (roleid, from_roleid, seq)
) STRICT, WITHOUT ROWID;
