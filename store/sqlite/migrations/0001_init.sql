-- wxarchive index database, schema 1. docs/FORMAT.md describes every table.

-- Primary: the journal and what the WORM copies are reconciled against.
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;

CREATE TABLE journal (
    idx  INTEGER PRIMARY KEY,      -- leaf index
    hash BLOB NOT NULL,            -- RFC 6962 leaf hash
    leaf BLOB NOT NULL             -- canonical event JSON
);

CREATE TABLE tree_nodes (          -- perfect-subtree hashes at levels 4, 8, 12…
    level INTEGER NOT NULL,
    idx   INTEGER NOT NULL,
    hash  BLOB NOT NULL,
    PRIMARY KEY (level, idx)
) WITHOUT ROWID;

CREATE TABLE checkpoints (
    size INTEGER PRIMARY KEY,
    time INTEGER NOT NULL,         -- ms since epoch
    note BLOB NOT NULL             -- signed C2SP checkpoint
);

CREATE TABLE segments (
    first     INTEGER PRIMARY KEY,
    end       INTEGER NOT NULL,
    blob      BLOB NOT NULL,
    sealed_at INTEGER NOT NULL
);

-- Records durable here and not yet sealed into a pack. key = jidx*8 + ordinal.
CREATE TABLE pending (
    key          INTEGER PRIMARY KEY,
    hash         BLOB NOT NULL,
    retain_until INTEGER NOT NULL,
    created_at   INTEGER NOT NULL,
    data         BLOB NOT NULL
);

-- Projection: rebuilt from the journal and the records by reindex.
CREATE TABLE messages (
    serial         INTEGER PRIMARY KEY,
    jidx           INTEGER NOT NULL,
    source         TEXT NOT NULL,
    source_id      TEXT NOT NULL,
    version        INTEGER NOT NULL,
    conflicts_with INTEGER,
    kind           TEXT NOT NULL,
    source_type    TEXT NOT NULL,
    action         TEXT NOT NULL,
    sent_at        INTEGER NOT NULL,
    captured_at    INTEGER NOT NULL,
    conversation   TEXT NOT NULL,
    conv_kind      TEXT NOT NULL,
    sender         TEXT NOT NULL,
    recipients     TEXT NOT NULL,  -- JSON array
    direction      TEXT NOT NULL,
    text           TEXT NOT NULL,
    raw_hash       BLOB NOT NULL,
    record_hash    BLOB NOT NULL,
    raw_size       INTEGER NOT NULL,
    record_size    INTEGER NOT NULL,
    n_attachments  INTEGER NOT NULL,
    attach_faults  INTEGER NOT NULL,
    refers_to      TEXT,
    recalled_by    INTEGER,
    retain_until   INTEGER NOT NULL,
    origin         TEXT
);
CREATE UNIQUE INDEX messages_source_id ON messages (source_id, source, version);

CREATE TABLE attachments (
    serial        INTEGER NOT NULL,
    ord           INTEGER NOT NULL,
    role          TEXT NOT NULL,
    blob          BLOB,
    size          INTEGER NOT NULL,
    declared_size INTEGER NOT NULL,
    media_type    TEXT NOT NULL,
    file_name     TEXT NOT NULL,
    source_ref    TEXT NOT NULL,
    source_md5    TEXT NOT NULL,
    status        TEXT NOT NULL,
    reason        TEXT NOT NULL,
    PRIMARY KEY (serial, ord)
) WITHOUT ROWID;

CREATE TABLE recalls (             -- revoke messages by the source id they recall
    source TEXT NOT NULL,
    target TEXT NOT NULL,
    serial INTEGER NOT NULL,
    PRIMARY KEY (source, target, serial)
) WITHOUT ROWID;

CREATE TABLE consent (
    external_id TEXT NOT NULL,
    serial      INTEGER NOT NULL,
    agreed      INTEGER NOT NULL,
    at          INTEGER NOT NULL,
    employee    TEXT NOT NULL,
    PRIMARY KEY (external_id, serial)
) WITHOUT ROWID;

CREATE TABLE parties (             -- every participant id seen in a message
    id           TEXT PRIMARY KEY,
    kind         TEXT NOT NULL,
    first_serial INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE directory (           -- participant.updated events
    id                TEXT NOT NULL,
    valid_from        INTEGER NOT NULL,
    jidx              INTEGER NOT NULL,
    kind              TEXT NOT NULL,
    name              TEXT NOT NULL,
    department        TEXT NOT NULL,
    title             TEXT NOT NULL,
    supervisory_group TEXT NOT NULL,
    PRIMARY KEY (id, valid_from, jidx)
) WITHOUT ROWID;

CREATE TABLE rejects (
    jidx     INTEGER PRIMARY KEY,
    time     INTEGER NOT NULL,
    source   TEXT NOT NULL,
    origin   TEXT NOT NULL,
    field    TEXT NOT NULL,
    reason   TEXT NOT NULL,
    raw_hash   BLOB NOT NULL,
    raw_size   INTEGER NOT NULL,
    input_hash BLOB NOT NULL,   -- of the whole input (differs from raw_hash when truncated)
    input_size INTEGER NOT NULL
);
CREATE INDEX rejects_input ON rejects (input_hash, origin);

CREATE TABLE packs (
    blob         BLOB PRIMARY KEY,
    first        INTEGER NOT NULL,
    last         INTEGER NOT NULL,
    count        INTEGER NOT NULL,
    bytes        INTEGER NOT NULL,
    retain_until INTEGER NOT NULL,
    jidx         INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX packs_first ON packs (first);
