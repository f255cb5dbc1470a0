-- wxarchive index database, schema 10: messages whose source gave no
-- usable time (msgtime 0 or missing, a callback without CreateTime), filed
-- at their capture time (archive.Message.TimeUnknown). docs/FORMAT.md.
ALTER TABLE messages ADD COLUMN time_unknown INTEGER NOT NULL DEFAULT 0;

-- Versions from 2026-12-03 archived such messages before this column
-- existed: an index that may hold one must be rebuilt from the records to
-- say which they are (search asks for `wxarchive reindex` until then).
INSERT OR IGNORE INTO meta (key, value)
    SELECT 'reindex_required', 'schema 10 added time_unknown'
    WHERE EXISTS (SELECT 1 FROM messages WHERE captured_at >= 1796256000000);
