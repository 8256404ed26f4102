-- Claims (issue 11): the process that last claimed a row to send it, and until when the claim
-- holds (NULL once the outcome is recorded). Several processes on one PostgreSQL database never
-- send the same row at once; a claim whose holder died expires; only the holder may record the
-- outcome (bot/store/feed.py). On SQLite one process runs, and the claims a crashed run left are
-- released when it starts again.
ALTER TABLE outbox ADD COLUMN claimed_by TEXT;
ALTER TABLE outbox ADD COLUMN claimed_until TEXT;

-- When another process's claims expire (the dispatcher's next wake-up): of the pending rows,
-- those with a claim (a few at any time).
CREATE INDEX outbox_claimed ON outbox (state, claimed_until) WHERE claimed_until IS NOT NULL;
