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

-- The rule that decided each message's retain-until and its set's version
-- (message.archived's retention_rule and retention_version; '' and 0 when
-- the archive's retention_years decided).
ALTER TABLE messages ADD COLUMN retention_rule TEXT NOT NULL DEFAULT '';
ALTER TABLE messages ADD COLUMN retention_version INTEGER NOT NULL DEFAULT 0;
