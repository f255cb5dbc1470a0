-- wxarchive index database, schema 6: review of alerts. docs/FORMAT.md.

-- review.action events, one row per alert an action concerns.
CREATE TABLE review_actions (
    jidx        INTEGER NOT NULL,
    alert       INTEGER NOT NULL,    -- the alert's id (its alert.raised journal index)
    time        INTEGER NOT NULL,
    actor       TEXT NOT NULL,
    action      TEXT NOT NULL,       -- view, claim, assign, comment, escalate, close, reopen
    disposition TEXT NOT NULL,       -- close: no_issue, false_positive, violation
    note        TEXT NOT NULL,
    reason      TEXT NOT NULL,       -- bulk actions
    assignee    TEXT NOT NULL,
    PRIMARY KEY (jidx, alert)
) WITHOUT ROWID;
CREATE INDEX review_actions_alert ON review_actions (alert, jidx);
