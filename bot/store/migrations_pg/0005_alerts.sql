-- Personal alerts (SQLite's 0011): a member's saved searches, matched against each poll's newly
-- listed papers and delivered as one DM per poll (an outbox row of kind 'dm', see 0002).
-- No foreign key to papers from alert_matches: it remembers what reached a member for ever, so
-- that a paper pruned and listed again is never sent twice.
CREATE TABLE alerts (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id         BIGINT NOT NULL,
    query           TEXT NOT NULL CHECK (length(query) BETWEEN 1 AND 1000),
    created_at      TEXT NOT NULL,
    paused_reason   TEXT,                    -- NULL: active
    paused_at       TEXT,
    last_matched_at TEXT
);
CREATE INDEX alerts_by_user ON alerts (user_id, id);

-- Each paper reaches a member at most once, whichever alert matched it (written in the same
-- transaction as the DM's outbox row).
CREATE TABLE alert_matches (
    user_id    BIGINT NOT NULL,
    paper_id   TEXT NOT NULL,
    alert_id   BIGINT NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (user_id, paper_id)
);

-- One line a member is shown once, with their next command's answer (alerts paused because
-- their DMs are closed, or because an alert was too broad to check).
CREATE TABLE alert_notices (
    user_id    BIGINT PRIMARY KEY,
    body       TEXT NOT NULL,
    created_at TEXT NOT NULL
);
-- The dispatcher's per-member drain of DMs (outbox_dm_due) is an index of the outbox: 0002.
