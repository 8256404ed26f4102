-- Private reading lists: one row per (user, paper).
-- Deliberately no foreign key to papers: a bookmark is the user's own data. It is saved even when
-- the paper is not stored yet (an old post while Hugging Face is down) and its details are fetched
-- later; and nothing that ever prunes papers may silently empty someone's reading list.
CREATE TABLE bookmarks (
    user_id    INTEGER NOT NULL,
    paper_id   TEXT NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (user_id, paper_id)
) WITHOUT ROWID;

-- /bookmarks list: newest first, ties broken by paper id so pages never shuffle.
CREATE INDEX bookmarks_newest ON bookmarks (user_id, created_at DESC, paper_id DESC);
