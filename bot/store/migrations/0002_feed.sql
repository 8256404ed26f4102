-- Auto-posting: subscriptions, the delivery outbox, channel notices, and every message the bot
-- posted for a paper.

-- One subscription per channel; subscribing again updates the filters.
CREATE TABLE subscriptions (
    channel_id    INTEGER PRIMARY KEY,
    guild_id      INTEGER NOT NULL,
    min_upvotes   INTEGER NOT NULL DEFAULT 0 CHECK (min_upvotes >= 0),
    keywords      TEXT NOT NULL DEFAULT '',  -- canonical "a, b, -c" text (bot/feed_filters.py)
    since_day     TEXT NOT NULL,             -- papers listed on or after this day are delivered
    created_at    TEXT NOT NULL,
    created_by    INTEGER,
    updated_at    TEXT NOT NULL,
    paused_reason TEXT,                      -- set when Discord refused us (403); cleared on re-subscribe
    paused_at     TEXT
);

CREATE INDEX subscriptions_by_guild ON subscriptions (guild_id);

-- The outbox. One row per (channel, paper) ever decided; kept after sending so nothing posts twice.
-- The nonce is sent with enforce_nonce: a resend after a crash returns the message Discord already
-- created instead of creating a second one.
CREATE TABLE deliveries (
    channel_id      INTEGER NOT NULL,
    paper_id        TEXT NOT NULL REFERENCES papers (id) ON DELETE CASCADE,
    state           TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'sent', 'dropped')),
    nonce           TEXT NOT NULL UNIQUE CHECK (length(nonce) BETWEEN 1 AND 25),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT,                   -- NULL: due now
    last_error      TEXT,
    message_id      INTEGER,
    created_at      TEXT NOT NULL,
    sent_at         TEXT,
    PRIMARY KEY (channel_id, paper_id)
) WITHOUT ROWID;

CREATE INDEX deliveries_due ON deliveries (state, next_attempt_at, channel_id);

-- Plain-text notices to a channel (paused, Hugging Face down / back): an outbox like deliveries.
CREATE TABLE notices (
    id              INTEGER PRIMARY KEY,
    channel_id      INTEGER NOT NULL,
    kind            TEXT NOT NULL CHECK (kind IN ('paused', 'outage', 'recovered')),
    body            TEXT NOT NULL,
    state           TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'sent', 'dropped')),
    nonce           TEXT NOT NULL UNIQUE CHECK (length(nonce) BETWEEN 1 AND 25),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT,
    last_error      TEXT,
    message_id      INTEGER,
    created_at      TEXT NOT NULL,
    sent_at         TEXT
);

CREATE INDEX notices_due ON notices (state, next_attempt_at, channel_id);

-- Every message that shows a paper (auto-post or a public /papers show): reactions and buttons on
-- it resolve to the paper through this table; live-upvote edits compare with what was last shown.
CREATE TABLE posts (
    message_id       INTEGER PRIMARY KEY,
    channel_id       INTEGER NOT NULL,
    guild_id         INTEGER,
    paper_id         TEXT NOT NULL,
    kind             TEXT NOT NULL CHECK (kind IN ('feed', 'show')),
    posted_at        TEXT NOT NULL,
    shown_upvotes    INTEGER NOT NULL DEFAULT 0,
    shown_comments   INTEGER NOT NULL DEFAULT 0,
    edited_at        TEXT
);

CREATE INDEX posts_by_paper ON posts (paper_id, posted_at);
CREATE INDEX posts_by_time ON posts (kind, posted_at);
