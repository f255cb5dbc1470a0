-- wxarchive PostgreSQL index, schema 2: messages whose source gave no
-- usable time, filed at their capture time (archive.Message.TimeUnknown).
-- docs/FORMAT.md.
ALTER TABLE messages ADD COLUMN time_unknown bigint NOT NULL DEFAULT 0; -- 1 or 0, as SQLite stores a bool

-- An index that may hold such a message archived before this column
-- (versions from 2026-12-03) must be rebuilt from the records.
INSERT INTO meta (key, value)
    SELECT 'reindex_required', 'schema 2 added time_unknown'
    WHERE EXISTS (SELECT 1 FROM messages WHERE captured_at >= 1796256000000)
    ON CONFLICT DO NOTHING;
