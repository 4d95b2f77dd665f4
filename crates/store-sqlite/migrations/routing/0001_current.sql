-- The data center's routing records: the server each role is on now.

CREATE TABLE current_server (
    roleid INTEGER PRIMARY KEY,
    srvname TEXT NOT NULL,
    online INTEGER NOT NULL CHECK (online IN (0, 1))
) STRICT;
