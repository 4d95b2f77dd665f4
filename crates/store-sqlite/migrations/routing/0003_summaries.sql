-- Player summaries (DESIGN §8): each role's profile as its owner last
-- reported it, the owner's (epoch, seq) of that report, and the summary's
-- version (one more per accepted change). Where the player is stays in
-- current_server. `fields` is a protobuf SummaryFields.

CREATE TABLE summaries (
    roleid INTEGER PRIMARY KEY,
    version INTEGER NOT NULL,
    epoch INTEGER NOT NULL,
    seq INTEGER NOT NULL,
    name TEXT NOT NULL,
    level INTEGER NOT NULL,
    home_srvno INTEGER NOT NULL,
    fields BLOB NOT NULL
) STRICT;
