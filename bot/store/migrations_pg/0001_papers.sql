-- STAND-IN for helper pgsearch's schema (branch pgfeed only, so the feed's PostgreSQL tests have
-- papers to refer to): at merge, take pgsearch's version of this file whole.
CREATE TABLE papers (
    id            TEXT PRIMARY KEY,
    rowid         BIGINT GENERATED ALWAYS AS IDENTITY UNIQUE,
    title         TEXT NOT NULL,
    abstract      TEXT NOT NULL,
    authors       TEXT NOT NULL DEFAULT '',
    published_at  TEXT,
    upvotes       BIGINT NOT NULL DEFAULT 0,
    num_comments  BIGINT NOT NULL DEFAULT 0,
    thumbnail     TEXT,
    github_repo   TEXT,
    github_stars  BIGINT,
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
);
CREATE INDEX paper_listings_by_day ON paper_listings (listed_on, paper_id);
CREATE INDEX papers_by_upvotes ON papers (upvotes DESC);

CREATE TABLE listing_days (
    day        TEXT PRIMARY KEY,
    source     TEXT NOT NULL CHECK (source IN ('api', 'html', 'html-cards', 'paper')),
    papers     BIGINT,
    fetched_at TEXT NOT NULL
);

CREATE TABLE bot_state (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
