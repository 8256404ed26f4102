-- Claims (issue 11): the process that last claimed a row to send it, and until when the claim
-- holds. Several processes on one PostgreSQL database never send the same row at once; a claim
-- whose holder died expires; only the holder may record the outcome (bot/store/feed.py). On
-- SQLite one process runs, and the claims it left at a crash are released when it starts again.
ALTER TABLE outbox ADD COLUMN claimed_by TEXT;
ALTER TABLE outbox ADD COLUMN claimed_until TEXT;
