-- Papers keyed by arXiv id, their Daily Papers listing dates, how each listing day was fetched,
-- and small operational facts: SQLite's final schema of these tables (migrations 0001-0014).
-- authors and ai_keywords are newline-separated text, moments ISO text, as on SQLite.
-- rowid: SQLite's implicit rowid made real, so queries say p.rowid on both (and search walks the
-- newest matches first by it).
CREATE TABLE papers (
    rowid         BIGINT GENERATED ALWAYS AS IDENTITY UNIQUE,
    id            TEXT PRIMARY KEY,
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
    updated_at    TEXT NOT NULL,
    -- The words of title (label A), ai_keywords (B), abstract (D) and authors (C) exactly as
    -- SQLite's FTS5 porter unicode61 index stores them: made in Python (bot.search.search_vector)
    -- and written with the row, so both databases match the same papers.
    search        TSVECTOR NOT NULL DEFAULT '',
    -- The title's words alone (label A): what autocomplete's title-only prefix queries read. A
    -- title query matches it exactly as it matches search, and rechecking a GIN candidate
    -- against ~150 inline bytes costs far less than against search's kilobytes in TOAST.
    title_search  TSVECTOR GENERATED ALWAYS AS (ts_filter(search, '{a}')) STORED
);

-- Searches take their matches from the GIN indexes (a bitmap), never by testing each paper's
-- vector: so the vectors live out of line (uncompressed: tsvectors barely compress, and reading
-- one back then costs no decompression) and the heap a bitmap visits stays ~7x smaller.
-- title_search stays inline, as small as a title. Measured in bench/search.py (branch pgperf).
ALTER TABLE papers
    ALTER COLUMN search SET STORAGE EXTERNAL,
    ALTER COLUMN title_search SET STORAGE MAIN,
    SET (toast_tuple_target = 128);

CREATE INDEX papers_search ON papers USING GIN (search);
CREATE INDEX papers_title_search ON papers USING GIN (title_search);

-- The rowids and vectors of the n most recently stored papers matching query, from the GIN
-- index's bitmap. A planner that sees the query picks a sequential scan for a common word, or a
-- backward walk of the rowid index for any (costing neither as what they are: reading and
-- testing every paper's vector, 300-400 ms at 30k papers). This body is planned without the
-- query's value, with sequential scans priced out, and rowid + 0 leaves no index order to walk:
-- the bitmap, then a top-n sort of the matched rowids. SET keeps it from being inlined. ROWS:
-- callers join papers by rowid, which must be index lookups, not a hash of all papers (15 ms).
CREATE FUNCTION newest_matches(query TSQUERY, n BIGINT)
    RETURNS TABLE (rowid BIGINT, search TSVECTOR)
    LANGUAGE sql STABLE PARALLEL SAFE ROWS 25
    SET enable_seqscan = off
    AS $$ SELECT p.rowid, p.search FROM papers AS p WHERE p.search @@ query
          ORDER BY p.rowid + 0 DESC LIMIT n $$;

CREATE INDEX papers_by_upvotes ON papers (upvotes DESC);

CREATE TABLE paper_listings (
    paper_id  TEXT NOT NULL REFERENCES papers (id) ON DELETE CASCADE,
    listed_on TEXT NOT NULL,
    PRIMARY KEY (paper_id, listed_on)
);

CREATE INDEX paper_listings_by_day ON paper_listings (listed_on, paper_id);

-- How each listing day was fetched: 'api', 'html' or 'html-cards' (the whole listing), or
-- 'paper' (only single papers of it were looked up).
CREATE TABLE listing_days (
    day        TEXT PRIMARY KEY,  -- YYYY-MM-DD
    source     TEXT NOT NULL CHECK (source IN ('api', 'html', 'html-cards', 'paper')),
    papers     BIGINT,            -- how many papers the whole listing had; NULL for 'paper'
    fetched_at TEXT NOT NULL
);

-- Small operational facts: last poll, command-sync hash, outage counters (JSON text).
CREATE TABLE bot_state (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

-- Every stored stem and how many papers hold it (ts_stat over papers.search, recounted by
-- bot/store/similar.py when the store grew): "similar papers" and "did you mean" read it, as
-- SQLite's read their fts5vocab counts. Derived data: emptying it loses nothing.
CREATE TABLE term_stats (
    term TEXT PRIMARY KEY COLLATE "C",
    docs BIGINT NOT NULL
);

-- SQLite's group_concat(x): the paper reads list a paper's listing days with it on both.
CREATE FUNCTION group_concat_step(state TEXT, value TEXT) RETURNS TEXT
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$ SELECT CASE WHEN value IS NULL THEN state WHEN state IS NULL THEN value
                      ELSE state || ',' || value END $$;
CREATE AGGREGATE group_concat(TEXT) (SFUNC = group_concat_step, STYPE = TEXT);
