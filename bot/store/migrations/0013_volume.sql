-- Volume control per subscription (bot/feed.py): a daily cap, or one digest a day instead of
-- one post per paper.
ALTER TABLE subscriptions ADD COLUMN max_per_day INTEGER CHECK (max_per_day IS NULL OR max_per_day >= 1);  -- NULL: no cap
ALTER TABLE subscriptions ADD COLUMN mode TEXT NOT NULL DEFAULT 'posts' CHECK (mode IN ('posts', 'digest'));
ALTER TABLE subscriptions ADD COLUMN digest_at TEXT CHECK (digest_at IS NULL OR digest_at GLOB '[0-2][0-9]:[0-5][0-9]');  -- HH:MM, the server's time

-- post: the listing day the post counts against (the cap is per channel and listing day);
-- digest: the server's local day it is posted for (one per channel and day).
ALTER TABLE outbox ADD COLUMN day TEXT;
UPDATE outbox SET day = (SELECT max(l.listed_on) FROM paper_listings AS l
                         WHERE l.paper_id = outbox.paper_id) WHERE kind = 'post';

CREATE INDEX outbox_by_day ON outbox (kind, channel_id, day);
-- Exactly one digest per channel and local day, whatever restarts and crashes happen.
CREATE UNIQUE INDEX outbox_digest_once ON outbox (channel_id, day) WHERE kind = 'digest';
