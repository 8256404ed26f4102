-- How auto-posts show a paper (issue 9): 'compact' (a few lines and an Abstract button, the
-- default, for existing subscriptions too) or 'full' (the card of /papers show).
ALTER TABLE subscriptions ADD COLUMN style TEXT NOT NULL DEFAULT 'compact'
    CHECK (style IN ('compact', 'full'));

-- The style each message was posted in, so live-upvote edits render it the same way. Messages
-- posted before this migration showed the full card.
ALTER TABLE posts ADD COLUMN style TEXT NOT NULL DEFAULT 'full'
    CHECK (style IN ('compact', 'full'));
