-- Work that must happen once across processes (polling Hugging Face, syncing commands, queueing
-- digests and alerts) runs in the process holding the lease row, renewed while it lives.
CREATE TABLE leases (
    name        TEXT PRIMARY KEY,
    holder      TEXT NOT NULL,  -- hostname:pid:random, the process holding it
    expires_at  TEXT NOT NULL   -- ISO UTC; past it, any process may take the lease over
);

-- Each scheduled poll tick (floor(epoch / interval)) is claimed once: at a lease hand-over two
-- processes may both believe they hold it for a moment, but only one wins the tick's row.
CREATE TABLE poll_slots (
    slot        BIGINT PRIMARY KEY,
    claimed_by  TEXT NOT NULL,
    claimed_at  TEXT NOT NULL
);
