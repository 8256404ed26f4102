-- One outbox for every message the bot sends on its own: the feed's posts and channel notices
-- today; digests, threads and alert DMs next (bot/delivery). One row per message ever decided,
-- kept after sending so nothing is sent twice; one claim/retry/drop policy for every kind.
-- The rows of the two outboxes it replaces (deliveries, notices) move here with their state,
-- nonce and attempt counts; delivery_history (0006) keeps counting pruned posts.
CREATE TABLE outbox (
    id              INTEGER PRIMARY KEY,
    kind            TEXT NOT NULL
                    CHECK (kind IN ('post', 'edit', 'notice', 'digest', 'thread', 'dm')),
    channel_id      INTEGER,                 -- the target channel (every kind but dm)
    user_id         INTEGER,                 -- the target user (dm)
    paper_id        TEXT REFERENCES papers (id) ON DELETE CASCADE,  -- post, edit, thread, dm
    topic           TEXT,                    -- notice: paused | outage | recovered
    body            TEXT,                    -- notice: the text; other kinds: their payload
    state           TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'sent', 'dropped')),
    nonce           TEXT NOT NULL UNIQUE CHECK (length(nonce) BETWEEN 1 AND 25),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT,                    -- NULL: due now
    last_error      TEXT,
    message_id      INTEGER,
    created_at      TEXT NOT NULL,
    sent_at         TEXT,
    CHECK ((kind = 'dm') = (user_id IS NOT NULL AND channel_id IS NULL)),
    CHECK (kind != 'notice' OR (topic IS NOT NULL AND body IS NOT NULL)),
    CHECK (kind NOT IN ('post', 'edit', 'thread') OR paper_id IS NOT NULL)
);

-- A paper is queued once per channel and kind (NULLs are distinct: notices never collide).
-- It also answers "which channels already have these papers" for one channel, and, with state
-- and sent_at, /feed list's and /feed status's counts from the index alone.
CREATE UNIQUE INDEX outbox_once ON outbox (kind, channel_id, paper_id);
CREATE INDEX outbox_by_channel ON outbox (kind, channel_id, state, sent_at);
-- Planning asks which channels have each paper of the poll window; deleting a paper
-- (ON DELETE CASCADE) looks its rows up the same way.
CREATE INDEX outbox_by_paper ON outbox (paper_id, kind, channel_id);
-- The dispatcher: what is due, and when the next retry falls due.
CREATE INDEX outbox_due ON outbox (state, next_attempt_at, channel_id);

INSERT INTO outbox (kind, channel_id, paper_id, state, nonce, attempts, next_attempt_at,
                    last_error, message_id, created_at, sent_at)
SELECT 'post', channel_id, paper_id, state, nonce, attempts, next_attempt_at, last_error,
       message_id, created_at, sent_at
FROM deliveries ORDER BY channel_id, paper_id;

INSERT INTO outbox (kind, channel_id, topic, body, state, nonce, attempts, next_attempt_at,
                    last_error, message_id, created_at, sent_at)
SELECT 'notice', channel_id, kind, body, state, nonce, attempts, next_attempt_at, last_error,
       message_id, created_at, sent_at
FROM notices ORDER BY id;

DROP TABLE deliveries;
DROP TABLE notices;
