-- Each role's level as its game server last reported it (at creation, then
-- whenever a server lets the role go), with the row epoch of that report so
-- a late report never overwrites a newer one. Roles known before this
-- migration read level 0 until their next report.

ALTER TABLE account_roles ADD COLUMN level INTEGER NOT NULL DEFAULT 0;
ALTER TABLE account_roles ADD COLUMN level_epoch INTEGER NOT NULL DEFAULT 0;
