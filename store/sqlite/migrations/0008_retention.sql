-- wxarchive index database, schema 8: retention rules. docs/FORMAT.md.

-- retention.applied events: every version of the retention rule set, with
-- its file and the rules it lets go below the floor.
CREATE TABLE retention_sets (
    version   INTEGER PRIMARY KEY,
    jidx      INTEGER NOT NULL,
    time      INTEGER NOT NULL,
    actor     TEXT NOT NULL,
    name      TEXT NOT NULL,
    sha256    BLOB NOT NULL,
    source    TEXT NOT NULL,      -- the YAML as applied
    overrides TEXT NOT NULL       -- JSON: [{rule, period, reason}]
);
