-- Stemmed search: the same external-content FTS5 index, its words reduced by the Porter stemmer
-- (as FTS5's porter tokenizer does it) after unicode61 folds case and accents, so "transformers"
-- finds "Transformer" and "generating" finds "generation". Rebuilt from papers in place.
DROP TRIGGER papers_fts_insert;
DROP TRIGGER papers_fts_delete;
DROP TRIGGER papers_fts_update;
DROP TABLE papers_fts;

CREATE VIRTUAL TABLE papers_fts USING fts5 (
    title, ai_keywords, abstract, authors,
    content = 'papers', content_rowid = 'rowid',
    tokenize = 'porter unicode61 remove_diacritics 2'
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

INSERT INTO papers_fts (papers_fts) VALUES ('rebuild');
