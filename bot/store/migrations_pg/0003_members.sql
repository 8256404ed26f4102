-- What members and servers keep: bookmarks, the servers' settings, Hugging Face's top lists.
-- The final shape of SQLite's 0003 (bookmarks), 0005 (top lists, bookmarks.guild_id) and 0008
-- (guild_settings): same names and constraints; BIGINT for Discord ids, ISO text for moments.

-- Private reading lists: one row per (user, paper). Deliberately no foreign key to papers: a
-- bookmark is the user's own data, saved before its paper is stored, and kept whatever prunes.
-- guild_id: the server it was saved in (NULL in DMs and for bookmarks saved before SQLite's 0005).
CREATE TABLE bookmarks (
    user_id    BIGINT NOT NULL,
    paper_id   TEXT NOT NULL,
    created_at TEXT NOT NULL,
    guild_id   BIGINT,
    PRIMARY KEY (user_id, paper_id)
);

-- /bookmarks list: newest first, ties broken by paper id so pages never shuffle.
CREATE INDEX bookmarks_newest ON bookmarks (user_id, created_at DESC, paper_id DESC);
-- /papers top period:server: one server's bookmarks of the last days.
CREATE INDEX bookmarks_by_guild ON bookmarks (guild_id, created_at);

-- Hugging Face's weekly and monthly lists as last fetched (the papers are stored like any others).
CREATE TABLE top_lists (
    period     TEXT PRIMARY KEY,  -- "2025-W40" (ISO week) or "2025-10" (month)
    fetched_at TEXT NOT NULL
);

CREATE TABLE top_list_papers (
    period   TEXT NOT NULL REFERENCES top_lists (period) ON DELETE CASCADE,
    paper_id TEXT NOT NULL REFERENCES papers (id) ON DELETE CASCADE,
    PRIMARY KEY (period, paper_id)
);


-- Per-server settings an admin chooses; a server without a row has the defaults (UTC).
CREATE TABLE guild_settings (
    guild_id   BIGINT PRIMARY KEY,
    timezone   TEXT NOT NULL,  -- an IANA name, checked against zoneinfo before it is stored
    updated_at TEXT NOT NULL
);
