-- wxarchive index database, schema 5: supervision. docs/FORMAT.md.

-- policy.applied events: every version of every policy, with its file.
CREATE TABLE policies (
    name    TEXT NOT NULL,
    version INTEGER NOT NULL,
    jidx    INTEGER NOT NULL,
    time    INTEGER NOT NULL,
    actor   TEXT NOT NULL,
    sha256  BLOB NOT NULL,
    source  TEXT NOT NULL,       -- the YAML as applied
    PRIMARY KEY (name, version)
) WITHOUT ROWID;

-- alert.raised events: a rule of a policy version matched a message.
CREATE TABLE alerts (
    jidx           INTEGER PRIMARY KEY,  -- the alert's id
    time           INTEGER NOT NULL,
    serial         INTEGER NOT NULL,
    policy         TEXT NOT NULL,
    policy_version INTEGER NOT NULL,
    rule           TEXT NOT NULL,
    hit            TEXT NOT NULL         -- JSON: spans, in_attachment, masked
);
CREATE INDEX alerts_serial ON alerts (serial);
CREATE INDEX alerts_policy ON alerts (policy, jidx);
