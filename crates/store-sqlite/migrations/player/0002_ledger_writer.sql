-- Every ledger line names its writer: the owner (node and incarnation) and
-- the epoch of the fenced write that appended it (DESIGN §5), so an audit
-- can show that no epoch of a role had two writers. Lines appended before
-- this migration name none (NULL).
ALTER TABLE ledger ADD COLUMN writer_node TEXT;
ALTER TABLE ledger ADD COLUMN writer_incarnation INTEGER;
ALTER TABLE ledger ADD COLUMN writer_epoch INTEGER;
