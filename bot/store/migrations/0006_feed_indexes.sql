-- The feed at scale: indexes that match its queries, and what retention keeps of pruned rows.

-- /feed list and /feed status count each channel's sent and pending deliveries and read its
-- latest send; the worker reads a channel's pending ones. All of them are answered from this
-- index (paper_id rides along as the rest of the primary key), never from the wide outbox rows.
CREATE INDEX deliveries_by_channel ON deliveries (channel_id, state, sent_at);

-- Planning asks which channels already have each paper of the poll window; deleting a paper
-- (ON DELETE CASCADE) looks its deliveries up the same way.
CREATE INDEX deliveries_by_paper ON deliveries (paper_id, channel_id);

-- Retention (bot/feed.py, HISTORY_KEPT) deletes sent and dropped deliveries of papers listed
-- long ago, outside any poll window. What /feed list shows of the pruned 'sent' rows stays here,
-- per channel, so its counts are the same before and after a prune. Keyed by channel like the
-- outbox: a channel that unsubscribes and subscribes again keeps its count.
CREATE TABLE delivery_history (
    channel_id   INTEGER PRIMARY KEY,
    sent_pruned  INTEGER NOT NULL DEFAULT 0 CHECK (sent_pruned >= 0),
    last_sent_at TEXT  -- the latest sent_at among the pruned rows
);
