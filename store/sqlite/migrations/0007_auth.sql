-- wxarchive index database, schema 7: the identity tables (docs/FORMAT.md,
-- "Identity tables"). Primary, not a projection of the journal: they hold
-- credentials, which never enter it, so reindex keeps them. Times are Unix
-- nanoseconds (0: none); lists are JSON arrays.

CREATE TABLE users (
    name          TEXT PRIMARY KEY,
    roles         TEXT NOT NULL,       -- JSON array of role names
    departments   TEXT NOT NULL,       -- JSON array
    disabled      INTEGER NOT NULL,
    password_hash TEXT NOT NULL,       -- PHC string; '' for single sign-on only
    totp_secret   BLOB,                -- RFC 6238 key; NULL when not enrolled
    totp_step     INTEGER NOT NULL,    -- time step of the last code accepted
    scope         BLOB,                -- a regulator's scope (JSON)
    expires       INTEGER NOT NULL,
    created       INTEGER NOT NULL,
    updated       INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE oidc_identities (
    issuer    TEXT NOT NULL,
    subject   TEXT NOT NULL,
    user      TEXT NOT NULL,
    created   INTEGER NOT NULL,
    last_used INTEGER NOT NULL,
    PRIMARY KEY (issuer, subject)
) WITHOUT ROWID;

CREATE TABLE api_tokens (
    id        TEXT PRIMARY KEY,
    name      TEXT NOT NULL,
    owner     TEXT NOT NULL,
    scopes    TEXT NOT NULL,           -- JSON array of permissions; [] = the owner's
    hash      BLOB NOT NULL UNIQUE,    -- SHA-256 of the secret; the secret is never stored
    created   INTEGER NOT NULL,
    expires   INTEGER NOT NULL,
    revoked   INTEGER NOT NULL,
    last_used INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX api_tokens_owner ON api_tokens (owner, id);

CREATE TABLE sessions (
    hash       BLOB PRIMARY KEY,       -- SHA-256 of the cookie's secret
    id         TEXT NOT NULL,          -- public id
    user       TEXT NOT NULL,
    method     TEXT NOT NULL,
    addr       TEXT NOT NULL,
    created    INTEGER NOT NULL,
    last_seen  INTEGER NOT NULL,
    idle_until INTEGER NOT NULL,
    expires    INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX sessions_user ON sessions (user);

CREATE TABLE login_failures (
    key TEXT NOT NULL,                 -- user:NAME or addr:ADDRESS
    at  INTEGER NOT NULL
);
CREATE INDEX login_failures_key ON login_failures (key, at);
CREATE INDEX login_failures_at ON login_failures (at);

CREATE TABLE login_lockouts (
    key   TEXT PRIMARY KEY,
    until INTEGER NOT NULL
) WITHOUT ROWID;
