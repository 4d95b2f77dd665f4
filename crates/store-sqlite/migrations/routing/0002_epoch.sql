-- The owner's epoch of each note, so a late note never overwrites a newer one.

ALTER TABLE current_server ADD COLUMN epoch INTEGER NOT NULL DEFAULT 0;
