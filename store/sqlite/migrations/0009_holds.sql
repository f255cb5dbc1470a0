-- wxarchive index database, schema 9: legal holds. docs/FORMAT.md.

-- hold.created and hold.released events: one row per hold.
CREATE TABLE holds (
    name           TEXT PRIMARY KEY,
    jidx           INTEGER NOT NULL,  -- hold.created
    time           INTEGER NOT NULL,
    actor          TEXT NOT NULL,
    matter         TEXT NOT NULL,
    reason         TEXT NOT NULL,
    owner          TEXT NOT NULL,
    scope          TEXT NOT NULL,     -- JSON: the event's scope
    grace_days     INTEGER NOT NULL,
    released_jidx  INTEGER NOT NULL DEFAULT 0,  -- hold.released; 0 while active
    released_at    INTEGER NOT NULL DEFAULT 0,
    released_by    TEXT NOT NULL DEFAULT '',
    release_reason TEXT NOT NULL DEFAULT ''
) WITHOUT ROWID;
