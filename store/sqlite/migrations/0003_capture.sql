-- wxarchive index database, schema 3: capture health. docs/FORMAT.md.

-- capture.fault events: a fault is open from its latest "raised" event
-- until a "resolved" one for the same (connector, kind, subject).
CREATE TABLE capture_faults (
    jidx      INTEGER PRIMARY KEY,  -- journal index of the event
    time      INTEGER NOT NULL,     -- ms since epoch
    connector TEXT NOT NULL,
    kind      TEXT NOT NULL,
    subject   TEXT NOT NULL,
    state     TEXT NOT NULL,        -- raised | resolved
    detail    TEXT NOT NULL
);
CREATE INDEX capture_faults_key ON capture_faults (connector, kind, subject, jidx);

-- A connector's newest message, its recent message count and an
-- employee's newest sent message are index lookups, not scans.
CREATE INDEX messages_source_captured ON messages (source, captured_at);
CREATE INDEX messages_sender_skey ON messages (sender, skey);
