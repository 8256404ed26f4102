-- How each listing day was fetched. A day is complete only when its whole listing was fetched
-- (source 'api', 'html' or 'html-cards'); 'paper' means only single papers of that day were
-- looked up (/papers show, a bookmark), so the rest of the day is still to be fetched.
-- No backfill: stored papers cannot tell which way they came, so each older day is fetched
-- whole once more, on demand, and the poller records today and yesterday at its next poll.
CREATE TABLE listing_days (
    day        TEXT PRIMARY KEY,  -- YYYY-MM-DD
    source     TEXT NOT NULL CHECK (source IN ('api', 'html', 'html-cards', 'paper')),
    papers     INTEGER,           -- how many papers the whole listing had; NULL for 'paper'
    fetched_at TEXT NOT NULL      -- the last whole fetch (for 'paper': the last lookup)
) WITHOUT ROWID;
