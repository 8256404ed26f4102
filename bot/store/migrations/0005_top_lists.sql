-- Top lists. Hugging Face's weekly and monthly lists: which papers each list held when it was last
-- fetched (the papers themselves are stored like any others, with their own listing days), so a
-- list is refetched at most every few minutes and still shown while Hugging Face is down.
CREATE TABLE top_lists (
    period     TEXT PRIMARY KEY,  -- "2025-W40" (ISO week) or "2025-10" (month)
    fetched_at TEXT NOT NULL
) WITHOUT ROWID;

CREATE TABLE top_list_papers (
    period   TEXT NOT NULL REFERENCES top_lists (period) ON DELETE CASCADE,
    paper_id TEXT NOT NULL REFERENCES papers (id) ON DELETE CASCADE,
    PRIMARY KEY (period, paper_id)
) WITHOUT ROWID;

-- The server a bookmark was made in, for the server's own top list (counts only, never who).
-- NULL for bookmarks made in DMs and for those saved before this migration.
ALTER TABLE bookmarks ADD COLUMN guild_id INTEGER;

-- /papers top period:server: one server's bookmarks of the last days.
CREATE INDEX bookmarks_by_guild ON bookmarks (guild_id, created_at);
