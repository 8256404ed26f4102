-- Several subscriptions per channel, each with a short name and an optional role to ping.
-- A subscription is (channel, name); every existing one becomes the channel's 'default'.
-- Pausing stays per channel (every subscription of a paused channel carries the same pause),
-- and the outbox stays keyed by channel: a paper two subscriptions of one channel want is
-- queued, and posted, once. No outbox row refers to a subscription, so every row stays valid.
-- The table is rebuilt (its key changes): a column added to subscriptions by an earlier
-- migration must be listed here too.
CREATE TABLE subscriptions_named (
    id              INTEGER PRIMARY KEY,
    channel_id      INTEGER NOT NULL,
    name            TEXT NOT NULL DEFAULT 'default' CHECK (length(name) BETWEEN 1 AND 32),
    guild_id        INTEGER NOT NULL,
    min_upvotes     INTEGER NOT NULL DEFAULT 0 CHECK (min_upvotes >= 0),
    keywords        TEXT NOT NULL DEFAULT '',
    since_day       TEXT NOT NULL,
    created_at      TEXT NOT NULL,
    created_by      INTEGER,
    updated_at      TEXT NOT NULL,
    paused_reason   TEXT,
    paused_at       TEXT,
    style           TEXT NOT NULL DEFAULT 'compact' CHECK (style IN ('compact', 'full')),
    thread          INTEGER NOT NULL DEFAULT 0 CHECK (thread IN (0, 1)),
    forum           INTEGER NOT NULL DEFAULT 0 CHECK (forum IN (0, 1)),
    max_per_day     INTEGER CHECK (max_per_day IS NULL OR max_per_day >= 1),  -- NULL: no cap
    mode            TEXT NOT NULL DEFAULT 'posts' CHECK (mode IN ('posts', 'digest')),
    digest_at       TEXT CHECK (digest_at IS NULL OR digest_at GLOB '[0-2][0-9]:[0-5][0-9]'),
    mention_role_id INTEGER,                  -- the role its posts ping; NULL: none
    UNIQUE (channel_id, name)
);

INSERT INTO subscriptions_named (channel_id, name, guild_id, min_upvotes, keywords, since_day,
                                 created_at, created_by, updated_at, paused_reason, paused_at,
                                 style, thread, forum, max_per_day, mode, digest_at)
SELECT channel_id, 'default', guild_id, min_upvotes, keywords, since_day, created_at, created_by,
       updated_at, paused_reason, paused_at, style, thread, forum, max_per_day, mode,
       digest_at
FROM subscriptions ORDER BY created_at, channel_id;

DROP TABLE subscriptions;
ALTER TABLE subscriptions_named RENAME TO subscriptions;
CREATE INDEX subscriptions_by_guild ON subscriptions (guild_id);
