-- Papers keyed by arXiv id, their Daily Papers listing dates, and an FTS5 index kept in step by triggers.
-- authors and ai_keywords are newline-separated text: order kept, and FTS5 can index them directly.
CREATE TABLE papers (
    id            TEXT PRIMARY KEY,
    title         TEXT NOT NULL,
    abstract      TEXT NOT NULL,
    authors       TEXT NOT NULL DEFAULT '',
    published_at  TEXT,
    upvotes       INTEGER NOT NULL DEFAULT 0,
    num_comments  INTEGER NOT NULL DEFAULT 0,
    thumbnail     TEXT,
    github_repo   TEXT,
    github_stars  INTEGER,
    project_page  TEXT,
    organization  TEXT,
    ai_summary    TEXT,
    ai_keywords   TEXT NOT NULL DEFAULT '',
    first_seen_at TEXT NOT NULL,
    updated_at    TEXT NOT NULL
);

CREATE TABLE paper_listings (
    paper_id  TEXT NOT NULL REFERENCES papers (id) ON DELETE CASCADE,
    listed_on TEXT NOT NULL,
    PRIMARY KEY (paper_id, listed_on)
) WITHOUT ROWID;

CREATE INDEX paper_listings_by_day ON paper_listings (listed_on, paper_id);
CREATE INDEX papers_by_upvotes ON papers (upvotes DESC);

-- External-content FTS5: the text lives once, in papers; column order fixes the bm25 weights.
CREATE VIRTUAL TABLE papers_fts USING fts5 (
    title, ai_keywords, abstract, authors,
    content = 'papers', content_rowid = 'rowid',
    tokenize = 'unicode61 remove_diacritics 2'
);

CREATE TRIGGER papers_fts_insert AFTER INSERT ON papers BEGIN
    INSERT INTO papers_fts (rowid, title, ai_keywords, abstract, authors)
    VALUES (new.rowid, new.title, new.ai_keywords, new.abstract, new.authors);
END;

CREATE TRIGGER papers_fts_delete AFTER DELETE ON papers BEGIN
    INSERT INTO papers_fts (papers_fts, rowid, title, ai_keywords, abstract, authors)
    VALUES ('delete', old.rowid, old.title, old.ai_keywords, old.abstract, old.authors);
END;

CREATE TRIGGER papers_fts_update AFTER UPDATE OF title, ai_keywords, abstract, authors ON papers BEGIN
    INSERT INTO papers_fts (papers_fts, rowid, title, ai_keywords, abstract, authors)
    VALUES ('delete', old.rowid, old.title, old.ai_keywords, old.abstract, old.authors);
    INSERT INTO papers_fts (rowid, title, ai_keywords, abstract, authors)
    VALUES (new.rowid, new.title, new.ai_keywords, new.abstract, new.authors);
END;

-- Small operational facts: last poll, command-sync hash, outage counters.
CREATE TABLE bot_state (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;
