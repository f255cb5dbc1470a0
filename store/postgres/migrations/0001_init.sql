-- wxarchive index database on PostgreSQL, schema 1: the tables of the
-- SQLite store's migrations 0001–0009 (docs/FORMAT.md describes each), in
-- one file. Columns are in the order SQLite ends up with (ALTER TABLE
-- appends), because DumpProjection renders SELECT * and dumps of the two
-- engines must compare equal. Integers are bigint (rendered as int64),
-- times are ms since the epoch (identity tables: ns), text is COLLATE "C"
-- so that comparisons and ORDER BY are byte order, as SQLite's BINARY.

CREATE TABLE meta (
    key   text COLLATE "C" PRIMARY KEY,
    value text COLLATE "C" NOT NULL
);

CREATE TABLE journal (
    idx  bigint PRIMARY KEY,
    hash bytea NOT NULL,
    leaf bytea NOT NULL
);

CREATE TABLE tree_nodes (
    level bigint NOT NULL,
    idx   bigint NOT NULL,
    hash  bytea NOT NULL,
    PRIMARY KEY (level, idx)
);

CREATE TABLE checkpoints (
    size bigint PRIMARY KEY,
    time bigint NOT NULL,
    note bytea NOT NULL
);

CREATE TABLE segments (
    first     bigint PRIMARY KEY,
    "end"     bigint NOT NULL,
    blob      bytea NOT NULL,
    sealed_at bigint NOT NULL
);

CREATE TABLE pending (
    key          bigint PRIMARY KEY,   -- jidx*8 + ordinal
    hash         bytea NOT NULL,
    retain_until bigint NOT NULL,
    created_at   bigint NOT NULL,
    data         bytea NOT NULL
);

-- Projection.
CREATE TABLE messages (
    serial         bigint PRIMARY KEY,
    jidx           bigint NOT NULL,
    source         text COLLATE "C" NOT NULL,
    source_id      text COLLATE "C" NOT NULL,
    version        bigint NOT NULL,
    conflicts_with bigint,
    kind           text COLLATE "C" NOT NULL,
    source_type    text COLLATE "C" NOT NULL,
    action         text COLLATE "C" NOT NULL,
    sent_at        bigint NOT NULL,
    captured_at    bigint NOT NULL,
    conversation   text COLLATE "C" NOT NULL,
    conv_kind      text COLLATE "C" NOT NULL,
    sender         text COLLATE "C" NOT NULL,
    recipients     text COLLATE "C" NOT NULL,  -- JSON array
    direction      text COLLATE "C" NOT NULL,
    text           text COLLATE "C" NOT NULL,
    raw_hash       bytea NOT NULL,
    record_hash    bytea NOT NULL,
    raw_size       bigint NOT NULL,
    record_size    bigint NOT NULL,
    n_attachments  bigint NOT NULL,
    attach_faults  bigint NOT NULL,
    refers_to      text COLLATE "C",
    recalled_by    bigint,
    retain_until   bigint NOT NULL,
    origin         text COLLATE "C",
    skey           bigint,
    retention_rule    text COLLATE "C" NOT NULL DEFAULT '',
    retention_version bigint NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX messages_source_id ON messages (source_id, source, version);
CREATE UNIQUE INDEX messages_skey ON messages (skey);
CREATE INDEX messages_source_captured ON messages (source, captured_at);
CREATE INDEX messages_sender_skey ON messages (sender, skey);

CREATE TABLE attachments (
    serial        bigint NOT NULL,
    ord           bigint NOT NULL,
    role          text COLLATE "C" NOT NULL,
    blob          bytea,
    size          bigint NOT NULL,
    declared_size bigint NOT NULL,
    media_type    text COLLATE "C" NOT NULL,
    file_name     text COLLATE "C" NOT NULL,
    source_ref    text COLLATE "C" NOT NULL,
    source_md5    text COLLATE "C" NOT NULL,
    status        text COLLATE "C" NOT NULL,
    reason        text COLLATE "C" NOT NULL,
    text          text COLLATE "C" NOT NULL DEFAULT '',
    PRIMARY KEY (serial, ord)
);

CREATE TABLE recalls (
    source text COLLATE "C" NOT NULL,
    target text COLLATE "C" NOT NULL,
    serial bigint NOT NULL,
    PRIMARY KEY (source, target, serial)
);

CREATE TABLE consent (
    external_id text COLLATE "C" NOT NULL,
    serial      bigint NOT NULL,
    agreed      bigint NOT NULL,           -- 1 or 0, as SQLite stores a bool
    at          bigint NOT NULL,
    employee    text COLLATE "C" NOT NULL,
    PRIMARY KEY (external_id, serial)
);

CREATE TABLE parties (
    id           text COLLATE "C" PRIMARY KEY,
    kind         text COLLATE "C" NOT NULL,
    first_serial bigint NOT NULL
);

CREATE TABLE directory (
    id                text COLLATE "C" NOT NULL,
    valid_from        bigint NOT NULL,
    jidx              bigint NOT NULL,
    kind              text COLLATE "C" NOT NULL,
    name              text COLLATE "C" NOT NULL,
    department        text COLLATE "C" NOT NULL,
    title             text COLLATE "C" NOT NULL,
    supervisory_group text COLLATE "C" NOT NULL,
    PRIMARY KEY (id, valid_from, jidx)
);
CREATE INDEX directory_name ON directory (name);
CREATE INDEX directory_department ON directory (department);

CREATE TABLE rejects (
    jidx       bigint PRIMARY KEY,
    time       bigint NOT NULL,
    source     text COLLATE "C" NOT NULL,
    origin     text COLLATE "C" NOT NULL,
    field      text COLLATE "C" NOT NULL,
    reason     text COLLATE "C" NOT NULL,
    raw_hash   bytea NOT NULL,
    raw_size   bigint NOT NULL,
    input_hash bytea NOT NULL,
    input_size bigint NOT NULL
);
CREATE INDEX rejects_input ON rejects (input_hash, origin);

CREATE TABLE packs (
    blob         bytea PRIMARY KEY,
    first        bigint NOT NULL,
    last         bigint NOT NULL,
    count        bigint NOT NULL,
    bytes        bigint NOT NULL,
    retain_until bigint NOT NULL,
    jidx         bigint NOT NULL
);
CREATE INDEX packs_first ON packs (first);

-- The full-text index: one document per message with text, keyed by the
-- message's search key. body and atts are the index terms (textindex,
-- space-separated) of the text and of the attachments' texts; terms is
-- the set of both, GIN-indexed, which narrows a query to the documents
-- holding its exact terms before phrases, prefixes and NEAR are checked.
-- body_len and atts_len are the token counts SQLite's FTS5 keeps in its
-- docsize table (what DumpProjection renders, and BM25's lengths).
CREATE TABLE search (
    skey     bigint PRIMARY KEY,
    body     text COLLATE "C" NOT NULL,
    atts     text COLLATE "C" NOT NULL,
    terms    text[] COLLATE "C" NOT NULL,
    body_len bigint NOT NULL,
    atts_len bigint NOT NULL
);
CREATE INDEX search_terms ON search USING gin (terms);

CREATE TABLE capture_faults (
    jidx      bigint PRIMARY KEY,
    time      bigint NOT NULL,
    connector text COLLATE "C" NOT NULL,
    kind      text COLLATE "C" NOT NULL,
    subject   text COLLATE "C" NOT NULL,
    state     text COLLATE "C" NOT NULL,
    detail    text COLLATE "C" NOT NULL
);
CREATE INDEX capture_faults_key ON capture_faults (connector, kind, subject, jidx);

CREATE TABLE cursors (
    connector  text COLLATE "C" PRIMARY KEY,
    value      text COLLATE "C" NOT NULL,
    updated_at bigint NOT NULL
);

CREATE TABLE policies (
    name    text COLLATE "C" NOT NULL,
    version bigint NOT NULL,
    jidx    bigint NOT NULL,
    time    bigint NOT NULL,
    actor   text COLLATE "C" NOT NULL,
    sha256  bytea NOT NULL,
    source  text COLLATE "C" NOT NULL,
    PRIMARY KEY (name, version)
);

CREATE TABLE alerts (
    jidx           bigint PRIMARY KEY,
    time           bigint NOT NULL,
    serial         bigint NOT NULL,
    policy         text COLLATE "C" NOT NULL,
    policy_version bigint NOT NULL,
    rule           text COLLATE "C" NOT NULL,
    hit            text COLLATE "C" NOT NULL
);
CREATE INDEX alerts_serial ON alerts (serial);
CREATE INDEX alerts_policy ON alerts (policy, jidx);

CREATE TABLE review_actions (
    jidx        bigint NOT NULL,
    alert       bigint NOT NULL,
    time        bigint NOT NULL,
    actor       text COLLATE "C" NOT NULL,
    action      text COLLATE "C" NOT NULL,
    disposition text COLLATE "C" NOT NULL,
    note        text COLLATE "C" NOT NULL,
    reason      text COLLATE "C" NOT NULL,
    assignee    text COLLATE "C" NOT NULL,
    PRIMARY KEY (jidx, alert)
);
CREATE INDEX review_actions_alert ON review_actions (alert, jidx);

-- Identity tables: primary (credentials never enter the journal). Times
-- are Unix nanoseconds (0: none); lists are JSON arrays.
CREATE TABLE users (
    name          text COLLATE "C" PRIMARY KEY,
    roles         text COLLATE "C" NOT NULL,
    departments   text COLLATE "C" NOT NULL,
    disabled      bigint NOT NULL,
    password_hash text COLLATE "C" NOT NULL,
    totp_secret   bytea,
    totp_step     bigint NOT NULL,
    scope         bytea,
    expires       bigint NOT NULL,
    created       bigint NOT NULL,
    updated       bigint NOT NULL
);

CREATE TABLE oidc_identities (
    issuer    text COLLATE "C" NOT NULL,
    subject   text COLLATE "C" NOT NULL,
    "user"    text COLLATE "C" NOT NULL,
    created   bigint NOT NULL,
    last_used bigint NOT NULL,
    PRIMARY KEY (issuer, subject)
);

CREATE TABLE api_tokens (
    id        text COLLATE "C" PRIMARY KEY,
    name      text COLLATE "C" NOT NULL,
    owner     text COLLATE "C" NOT NULL,
    scopes    text COLLATE "C" NOT NULL,
    hash      bytea NOT NULL UNIQUE,
    created   bigint NOT NULL,
    expires   bigint NOT NULL,
    revoked   bigint NOT NULL,
    last_used bigint NOT NULL
);
CREATE INDEX api_tokens_owner ON api_tokens (owner, id);

CREATE TABLE sessions (
    hash       bytea PRIMARY KEY,
    id         text COLLATE "C" NOT NULL,
    "user"     text COLLATE "C" NOT NULL,
    method     text COLLATE "C" NOT NULL,
    addr       text COLLATE "C" NOT NULL,
    created    bigint NOT NULL,
    last_seen  bigint NOT NULL,
    idle_until bigint NOT NULL,
    expires    bigint NOT NULL
);
CREATE INDEX sessions_user ON sessions ("user");

CREATE TABLE login_failures (
    key text COLLATE "C" NOT NULL,
    at  bigint NOT NULL
);
CREATE INDEX login_failures_key ON login_failures (key, at);
CREATE INDEX login_failures_at ON login_failures (at);

CREATE TABLE login_lockouts (
    key   text COLLATE "C" PRIMARY KEY,
    until bigint NOT NULL
);

CREATE TABLE retention_sets (
    version   bigint PRIMARY KEY,
    jidx      bigint NOT NULL,
    time      bigint NOT NULL,
    actor     text COLLATE "C" NOT NULL,
    name      text COLLATE "C" NOT NULL,
    sha256    bytea NOT NULL,
    source    text COLLATE "C" NOT NULL,
    overrides text COLLATE "C" NOT NULL
);

CREATE TABLE holds (
    name           text COLLATE "C" PRIMARY KEY,
    jidx           bigint NOT NULL,
    time           bigint NOT NULL,
    actor          text COLLATE "C" NOT NULL,
    matter         text COLLATE "C" NOT NULL,
    reason         text COLLATE "C" NOT NULL,
    owner          text COLLATE "C" NOT NULL,
    scope          text COLLATE "C" NOT NULL,
    grace_days     bigint NOT NULL,
    released_jidx  bigint NOT NULL DEFAULT 0,
    released_at    bigint NOT NULL DEFAULT 0,
    released_by    text COLLATE "C" NOT NULL DEFAULT '',
    release_reason text COLLATE "C" NOT NULL DEFAULT ''
);
