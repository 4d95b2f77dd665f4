-- A transfer's mark on a role's old row (DESIGN §7, 转服): the srvno whose
-- database now holds the role (NULL: never transferred from here), and
-- whether the transfer is finished (the row is a tombstone). No claim of a
-- marked row succeeds. The same columns as the SQLite player database's.
ALTER TABLE players ADD COLUMN transferred_to INTEGER;
ALTER TABLE players ADD COLUMN transfer_sealed BOOLEAN NOT NULL DEFAULT FALSE;
