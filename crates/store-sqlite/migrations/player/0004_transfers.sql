-- A transfer's mark on a role's old row (DESIGN §7, 转服): the srvno whose
-- database now holds the role (NULL: never transferred from here), and
-- whether the transfer is finished (the row is a tombstone). No claim of a
-- marked row succeeds.
ALTER TABLE players ADD COLUMN transferred_to INTEGER;
ALTER TABLE players ADD COLUMN transfer_sealed INTEGER NOT NULL DEFAULT 0
    CHECK (transfer_sealed IN (0, 1));
