"""What "similar papers" asks of the store: how common each word is, and one ranked OR query.

Document frequencies come from the full-text index. On SQLite, through an ``fts5vocab`` table:
fts5vocab counts by reading a term's whole doclist (a common word costs a millisecond), so its
counts are copied into ``term_stats`` once, in chunks, and recounted when the store has grown by
REFRESH_GROWTH; both are TEMP objects of this connection: derived data, rebuilt on first use after
a start, never migrated. On PostgreSQL, ``ts_stat`` over ``papers.search`` fills the
``term_stats`` table (migrations_pg/0001) in one statement, on the same schedule; readers see
the old counts until it commits.
"""

from __future__ import annotations

import asyncio
from collections.abc import Collection, Sequence

from bot.models import Paper
from bot.porter import stem
from bot.search import Match, fold
from bot.store.db import Database, Row
from bot.store.dialect import fts_param
from bot.store.papers import PAPER_COLUMNS, paper_from_row

# bm25 weights for similarity, in papers_fts column order (title, ai_keywords, abstract, authors):
# sharing a title word or a Hugging Face keyword says more about the topic than an abstract word.
SIMILAR_WEIGHTS = (4.0, 4.0, 1.0, 2.0)
# ts_rank's weights of the tsvector labels {D, C, B, A} (abstract, authors, keywords, title) on
# PostgreSQL. Authors weigh as much as titles there: ts_rank has no idf, which lifts the rarest
# terms (names) in bm25 (measured on tests/unit/test_similar_service.py's shared-authors case).
SIMILAR_TS_WEIGHTS = "{0.25, 1.0, 1.0, 1.0}"
# Refresh the counts when the store has this many more papers (idf moves slowly) or 50 more.
REFRESH_GROWTH = 0.05
REFRESH_MIN_NEW = 50

# Terms counted per statement: a recount at 100k papers takes about half a second, and other
# queries run between its chunks instead of waiting for all of it.
REFRESH_CHUNK = 100
# Candidates for one misspelt word: a real store has thousands of stems per first letter.
NEAR_TERMS_LIMIT = 3000

_VOCABULARY = (
    "CREATE VIRTUAL TABLE IF NOT EXISTS temp.papers_vocab USING fts5vocab(main, papers_fts, row)"
)
# Filled chunk by chunk, then renamed to term_stats: a click meanwhile reads the old counts.
# Every stored term, those of one paper too: "did you mean" may correct to a rare word.
_NEXT = (
    "DROP TABLE IF EXISTS temp.term_stats_next",
    "CREATE TABLE temp.term_stats_next (term TEXT PRIMARY KEY, docs INTEGER NOT NULL)"
    " WITHOUT ROWID",
)
_SWAP = (
    "DROP TABLE IF EXISTS temp.term_stats",
    "ALTER TABLE temp.term_stats_next RENAME TO term_stats",
)
# PostgreSQL's recount, one statement: terms no paper holds any more go, the others are set. An
# upsert, so two processes recounting at once both succeed.
_RECOUNT_PG = (
    "WITH counted AS (SELECT word, ndoc FROM ts_stat('SELECT search FROM papers')),"
    " gone AS (DELETE FROM term_stats WHERE term NOT IN (SELECT word FROM counted))"
    " INSERT INTO term_stats (term, docs) SELECT word, ndoc FROM counted"
    " ON CONFLICT (term) DO UPDATE SET docs = excluded.docs"
    " WHERE term_stats.docs IS DISTINCT FROM excluded.docs"
)


_BM25 = f"bm25(papers_fts, {', '.join(str(weight) for weight in SIMILAR_WEIGHTS)})"
_RELATED = (
    f"SELECT ranked.score AS similar_score, {PAPER_COLUMNS} FROM ("
    f"  SELECT rowid, {_BM25} AS score FROM papers_fts"
    "   WHERE papers_fts MATCH ? ORDER BY score LIMIT ?"
    ") AS ranked JOIN papers AS p ON p.rowid = ranked.rowid ORDER BY ranked.score"
)
# ts_rank is higher for better matches: negated, it orders like bm25 (lower is better).
_RELATED_PG = (
    f"SELECT ranked.score AS similar_score, {PAPER_COLUMNS} FROM ("
    f"  SELECT rowid, -ts_rank('{SIMILAR_TS_WEIGHTS}', search, q) AS score"
    "   FROM papers, CAST(? AS tsquery) AS q WHERE search @@ q ORDER BY score LIMIT ?"
    ") AS ranked JOIN papers AS p ON p.rowid = ranked.rowid ORDER BY ranked.score"
)


class SimilarRepo:
    """Document frequencies and the similarity query. Reads only, except the TEMP counts."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._papers = 0  # papers counted by the last refresh (0: not counted yet)
        self._max_rowid = 0  # the newest paper the last refresh counted
        self._refreshing = asyncio.Lock()  # two first clicks recount once
        self._stats = "term_stats" if db.dialect == "postgresql" else "temp.term_stats"

    @property
    def papers_counted(self) -> int:
        """How many papers the counts describe (the N of idf)."""
        return self._papers

    async def refresh_if_stale(self) -> bool:
        """Recount document frequencies when never counted or the store grew; True if recounted."""
        async with self._refreshing:
            return await self._refresh_if_stale()

    async def _refresh_if_stale(self) -> bool:
        max_rowid = int(await self.db.fetchval("SELECT coalesce(max(rowid), 0) FROM papers"))
        grown = max_rowid - self._max_rowid
        if self._papers and grown < max(REFRESH_MIN_NEW, int(self._papers * REFRESH_GROWTH)):
            return False
        if self.db.dialect == "postgresql":
            async with self.db.transaction() as conn:
                await conn.execute(_RECOUNT_PG)
                [row] = await conn.execute_fetchall(
                    "SELECT count(*), coalesce(max(rowid), 0) FROM papers"
                )
        else:
            row = await self._recount_sqlite()
        self._papers = max(int(row[0]), 1)
        self._max_rowid = int(row[1])
        return True

    async def _recount_sqlite(self) -> Row:
        """Fill temp.term_stats from fts5vocab chunk by chunk; (papers, max rowid) counted."""
        async with self.db.transaction() as conn:
            for statement in (_VOCABULARY, *_NEXT):
                await conn.execute(statement)
        last = ""
        while True:
            # Each chunk in its own short transaction: the connection is shared, and a bare
            # statement could land inside another coroutine's transaction and roll back with it.
            async with self.db.transaction() as conn:
                cursor = await conn.execute(
                    "INSERT INTO temp.term_stats_next (term, docs)"
                    " SELECT term, doc FROM temp.papers_vocab WHERE term > ?"
                    " ORDER BY term LIMIT ?",
                    (last, REFRESH_CHUNK),
                )
                if cursor.rowcount <= 0:
                    for statement in _SWAP:
                        await conn.execute(statement)
                    [row] = await conn.execute_fetchall(
                        "SELECT count(*), coalesce(max(rowid), 0) FROM papers"
                    )
                    return row
                [found] = await conn.execute_fetchall("SELECT max(term) FROM temp.term_stats_next")
                last = str(found[0]) if found else last

    async def document_counts(self, terms: Sequence[str]) -> dict[str, int]:
        """How many stored papers contain each word (words in none are absent).

        The index stores stems, so each word is looked up by its stem: "models" counts the
        papers with "model", "models" or "modeling", as a search for it would find them.
        """
        if not self._papers:
            await self.refresh_if_stale()
        stems: dict[str, list[str]] = {}  # stem → the words asked about that have it
        for word in dict.fromkeys(terms):
            stems.setdefault(stem(fold(word)), []).append(word)
        found: dict[str, int] = {}
        unique = list(stems)
        for start in range(0, len(unique), 500):
            chunk = unique[start : start + 500]
            marks = ",".join("?" * len(chunk))
            rows = await self.db.fetchall(
                f"SELECT term, docs FROM {self._stats} WHERE term IN ({marks})", chunk
            )
            found.update({word: int(row["docs"]) for row in rows for word in stems[row["term"]]})
        return found

    async def terms_near(
        self, first: str, shortest: int, longest: int, *, limit: int = NEAR_TERMS_LIMIT
    ) -> list[tuple[str, int]]:
        """Stored stems starting with ``first`` whose length is within [shortest, longest], with
        their document counts: the candidates for a misspelt word. At most ``limit``, the most
        common first: each costs an edit distance in Python."""
        if not self._papers:
            await self.refresh_if_stale()
        rows = await self.db.fetchall(
            f"SELECT term, docs FROM {self._stats} WHERE term >= ? AND term < ?"
            " AND length(term) BETWEEN ? AND ? ORDER BY docs DESC LIMIT ?",
            (first, first + "\U0010ffff", shortest, longest, limit),
        )
        return [(str(row["term"]), int(row["docs"])) for row in rows]

    async def related(
        self, match: Match, *, exclude: Collection[str] = (), limit: int = 20
    ) -> list[tuple[Paper, float]]:
        """Papers matching an OR expression, best bm25 first, without the ``exclude`` ids.

        One query: FTS5 scores every match (the caller bounds how many there are), the best
        few are joined to their rows.
        """
        rows = await self.db.fetchall(
            _RELATED_PG if self.db.dialect == "postgresql" else _RELATED,
            (fts_param(self.db.dialect, match), limit + len(exclude)),
        )
        found = [
            (
                paper_from_row(row, (row["listed_days"] or "").split(",")),
                -float(row["similar_score"]),
            )
            for row in rows
        ]
        return [(paper, score) for paper, score in found if paper.id not in exclude][:limit]
