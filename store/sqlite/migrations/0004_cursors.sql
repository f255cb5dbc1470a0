-- wxarchive index database, schema 4: connector cursors. docs/FORMAT.md.

-- Where each connector resumes (msgaudit seq, customer-service cursor…),
-- written in the same transaction as the messages it delivered: a crash
-- replays from the last committed cursor and idempotent ingest absorbs
-- the replay. Operational state, not evidence: not rebuilt by reindex.
CREATE TABLE cursors (
    connector  TEXT PRIMARY KEY,
    value      TEXT NOT NULL,
    updated_at INTEGER NOT NULL    -- ms since epoch
) WITHOUT ROWID;
