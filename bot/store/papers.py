"""The papers table, its listing dates and its full-text index."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from bot.models import Paper, UpsertResult
from bot.search import Match, all_of, fold, phrase, search_vector
from bot.store.db import Database, ReadBudget, Row, from_iso, to_iso, utc_now
from bot.store.dialect import (
    fts_newest_first,
    fts_newest_rowids,
    fts_param,
    fts_title_rowids,
    ordered_join,
)

# bm25 weights, in papers_fts column order: title > keywords > authors > abstract.
BM25_WEIGHTS = (10.0, 5.0, 1.0, 3.0)
# How many of the most recently stored matches a search ranks (see PaperRepo.search).
RANK_WINDOW = 1000
# How long one search or autocomplete read may keep SQLite's thread (a normal search takes ~5 ms;
# every other command waits behind a running read).
SEARCH_BUDGET = ReadBudget(seconds=0.25)
# Autocomplete reads bounded sets: the most recent listings (for empty input or a one- or
# two-letter word), or the most recently stored title matches. Each is ordered in Python.
RECENT_WINDOW = 500
SUGGEST_WINDOW = 200
# A shorter last word is not an FTS5 prefix: "t*" expands to every word starting with t.
MIN_FTS_PREFIX = 3
MAX_SUGGEST_WORDS = 8
_SEP = "\n"
# The listing_days source of a day of which only single papers were looked up.
SINGLE_PAPERS = "paper"
_TOKEN = re.compile(r"[^\W_]+")  # what the unicode61 tokenizer calls a word

# Columns Hugging Face may change after a paper is first listed.
_MUTABLE_COLUMNS = (
    "title",
    "abstract",
    "authors",
    "published_at",
    "upvotes",
    "num_comments",
    "thumbnail",
    "github_repo",
    "github_stars",
    "project_page",
    "organization",
    "ai_summary",
    "ai_keywords",
)
# Optional facts a later, sparser response must not erase (the single-paper API, the HTML cards).
_KEEP_IF_MISSING = frozenset(
    {
        "thumbnail",
        "github_repo",
        "github_stars",
        "project_page",
        "organization",
        "ai_summary",
        "ai_keywords",
        "published_at",
        "authors",
        "abstract",
    }
)


def _columns(paper: Paper) -> dict[str, Any]:
    return {
        "title": paper.title,
        "abstract": paper.abstract,
        "authors": _SEP.join(paper.authors),
        "published_at": to_iso(paper.published_at) if paper.published_at else None,
        "upvotes": paper.upvotes,
        "num_comments": paper.num_comments,
        "thumbnail": paper.thumbnail,
        "github_repo": paper.github_repo,
        "github_stars": paper.github_stars,
        "project_page": paper.project_page,
        "organization": paper.organization,
        "ai_summary": paper.ai_summary,
        "ai_keywords": _SEP.join(paper.ai_keywords),
    }


# The searched columns, in the order PostgreSQL's papers.search lists them (FTS5's order).
_SEARCHED = ("title", "ai_keywords", "abstract", "authors")


def _search_vector(values: dict[str, Any]) -> str:
    """The tsvector text of a paper's searched columns (PostgreSQL's index of them)."""
    return search_vector([(column, values[column] or "") for column in _SEARCHED])


def _mark(column: str) -> str:
    # asyncpg binds the tsvector as text: the cast makes PostgreSQL parse it.
    return "CAST(? AS tsvector)" if column == "search" else "?"


def _marks(row: dict[str, Any]) -> str:
    return ", ".join(_mark(column) for column in row)


def _split(text: str | None) -> tuple[str, ...]:
    return tuple(part for part in (text or "").split(_SEP) if part)


def paper_from_row(row: Row, listed_on: Iterable[str] = ()) -> Paper:
    """Build a Paper from a ``papers`` row (and its listing dates)."""
    return Paper(
        id=row["id"],
        title=row["title"],
        abstract=row["abstract"],
        authors=_split(row["authors"]),
        published_at=from_iso(row["published_at"]) if row["published_at"] else None,
        listed_on=tuple(sorted(date.fromisoformat(day) for day in listed_on if day)),
        upvotes=row["upvotes"],
        num_comments=row["num_comments"],
        thumbnail=row["thumbnail"],
        github_repo=row["github_repo"],
        github_stars=row["github_stars"],
        project_page=row["project_page"],
        organization=row["organization"],
        ai_summary=row["ai_summary"],
        ai_keywords=_split(row["ai_keywords"]),
        first_seen_at=from_iso(row["first_seen_at"]),
        updated_at=from_iso(row["updated_at"]),
    )


# Every paper read selects its listing days too, so one query (one thread hop) builds a Paper.
# The columns are named, not p.*: PostgreSQL's papers also hold the search tsvector, kilobytes
# no reader needs. group_concat is SQLite's; migrations_pg/0001 defines it for PostgreSQL.
PAPER_COLUMNS = (
    "p.id, p.title, p.abstract, p.authors, p.published_at, p.upvotes, p.num_comments,"
    " p.thumbnail, p.github_repo, p.github_stars, p.project_page, p.organization, p.ai_summary,"
    " p.ai_keywords, p.first_seen_at, p.updated_at,"
    " (SELECT group_concat(l.listed_on) FROM paper_listings AS l"
    " WHERE l.paper_id = p.id) AS listed_days"
)


_WEIGHTS = ", ".join(str(weight) for weight in BM25_WEIGHTS)
# The ranking search: the inner query walks matches newest first and stops after the window,
# scoring only those; the next keeps the best; the outer one reads their rows, ties by upvotes.
# One pass over the index, one trip to the database thread.
SEARCH_SQL = (
    f"SELECT ranked.score AS search_score, {PAPER_COLUMNS} FROM ("
    "  SELECT rowid, score FROM ("
    f"   SELECT rowid, bm25(papers_fts, {_WEIGHTS}) AS score FROM papers_fts"
    "    WHERE papers_fts MATCH ? ORDER BY rowid DESC LIMIT ?"
    "  ) ORDER BY score LIMIT ?"
    ") AS ranked JOIN papers AS p ON p.rowid = ranked.rowid"
    " ORDER BY ranked.score, p.upvotes DESC, p.id"
)
# ts_rank's weights of the tsvector labels {D, C, B, A}: abstract, authors, keywords, title, in
# the proportions of BM25_WEIGHTS. Negated so that lower is better, as bm25's scores are.
TS_RANK_WEIGHTS = "{0.1, 0.3, 0.5, 1.0}"
# The same three steps on PostgreSQL, planned so that only the window's vectors are read: the
# window comes out of the GIN index (newest_matches), and is ranked after that cut (a vector
# read and ranked costs ~5 µs; testing every paper's, as the planner's own choices did, cost
# 170-400 ms at 30k papers). Ties at the page's cut: the newest first.
SEARCH_SQL_PG = (
    f"SELECT ranked.score AS search_score, {PAPER_COLUMNS} FROM ("
    f"  SELECT w.rowid, -ts_rank('{TS_RANK_WEIGHTS}', w.search, q) AS score"
    "   FROM CAST(? AS tsquery) AS q, newest_matches(q, ?) AS w"
    "   ORDER BY score, w.rowid DESC LIMIT ?"
    ") AS ranked JOIN papers AS p ON p.rowid = ranked.rowid"
    " ORDER BY ranked.score, p.upvotes DESC, p.id"
)


class StoredHit:
    """One search result as read: its id, score and abstract, and its Paper when asked."""

    __slots__ = ("_row", "abstract", "id", "score")

    def __init__(self, row: Row) -> None:
        self._row = row
        self.id: str = row["id"]
        self.score = float(row["search_score"])
        self.abstract: str = row["abstract"]

    def paper(self) -> Paper:
        """The whole Paper (built on each call: read it once)."""
        return paper_from_row(self._row, (self._row["listed_days"] or "").split(","))


@dataclass(frozen=True, slots=True)
class FetchedDay:
    """A listing day fetched whole: from the API, the HTML page or its cards, with how many
    papers it listed."""

    day: date
    source: str
    papers: int


@dataclass(frozen=True, slots=True)
class ListingDay:
    """What the store knows about fetching one listing day (a ``listing_days`` row)."""

    day: date
    source: str  # 'api', 'html', 'html-cards', or SINGLE_PAPERS
    papers: int | None  # how many the whole listing had; None when never fetched whole
    fetched_at: datetime

    @property
    def whole(self) -> bool:
        """The whole listing was fetched (not only single papers of it)."""
        return self.source != SINGLE_PAPERS


class PaperRepo:
    """Reads and writes papers. Every method is one short query or one transaction."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._search_sql = SEARCH_SQL_PG if db.dialect == "postgresql" else SEARCH_SQL

    async def upsert_papers(
        self,
        papers: Sequence[Paper],
        *,
        now: datetime | None = None,
        fetched_day: FetchedDay | None = None,
        single_lookup: bool = False,
    ) -> UpsertResult:
        """Insert new papers and update what Hugging Face changed; first-seen never moves.

        In the same transaction, ``fetched_day`` records that day as fetched whole, and
        ``single_lookup`` records the papers' days as looked up one paper at a time (which
        never makes a day count as fetched).
        """
        moment = to_iso(now or utc_now())
        by_id = {paper.id: paper for paper in papers}  # the last copy of a duplicate wins
        if not by_id and fetched_day is None:
            return UpsertResult()
        new: list[str] = []
        updated: list[str] = []
        unchanged = 0
        async with self.db.transaction() as conn:
            if fetched_day is not None:
                await conn.execute(
                    "INSERT INTO listing_days (day, source, papers, fetched_at)"
                    " VALUES (?, ?, ?, ?) ON CONFLICT (day) DO UPDATE SET"
                    " source = excluded.source, papers = excluded.papers,"
                    " fetched_at = excluded.fetched_at",
                    (fetched_day.day.isoformat(), fetched_day.source, fetched_day.papers, moment),
                )
            if single_lookup:
                days = sorted(
                    {day.isoformat() for paper in by_id.values() for day in paper.listed_on}
                )
                # A day fetched whole stays so: one more paper of it says nothing about the rest.
                await conn.executemany(
                    "INSERT INTO listing_days (day, source, papers, fetched_at)"
                    " VALUES (?, ?, NULL, ?) ON CONFLICT (day) DO UPDATE SET"
                    " fetched_at = excluded.fetched_at WHERE listing_days.source = ?",
                    [(day, SINGLE_PAPERS, moment, SINGLE_PAPERS) for day in days],
                )
            existing: dict[str, Row] = {}
            listings: dict[str, set[str]] = {paper_id: set() for paper_id in by_id}
            ids = list(by_id)
            for start in range(0, len(ids), 500):
                chunk = ids[start : start + 500]
                marks = ",".join("?" * len(chunk))
                for row in await conn.execute_fetchall(
                    f"SELECT id, {', '.join(_MUTABLE_COLUMNS)} FROM papers WHERE id IN ({marks})",
                    chunk,
                ):
                    existing[row["id"]] = row
                for row in await conn.execute_fetchall(
                    f"SELECT paper_id, listed_on FROM paper_listings WHERE paper_id IN ({marks})",
                    chunk,
                ):
                    listings[row["paper_id"]].add(row["listed_on"])

            for paper_id, paper in by_id.items():
                values = _columns(paper)
                new_days = {day.isoformat() for day in paper.listed_on} - listings[paper_id]
                old = existing.get(paper_id)
                if old is None:
                    row = {**values, "id": paper_id, "first_seen_at": moment, "updated_at": moment}
                    if self.db.dialect == "postgresql":
                        row["search"] = _search_vector(values)
                    await conn.execute(
                        f"INSERT INTO papers ({', '.join(row)}) VALUES ({_marks(row)})",
                        list(row.values()),
                    )
                    new.append(paper_id)
                else:
                    changes = {
                        column: value
                        for column, value in values.items()
                        if old[column] != value
                        and not (column in _KEEP_IF_MISSING and value in (None, ""))
                    }
                    if changes:
                        changes["updated_at"] = moment
                        if self.db.dialect == "postgresql" and any(
                            column in changes for column in _SEARCHED
                        ):
                            searched = {column: old[column] for column in _SEARCHED}
                            changes["search"] = _search_vector({**searched, **changes})
                        assignments = ", ".join(f"{column} = {_mark(column)}" for column in changes)
                        await conn.execute(
                            f"UPDATE papers SET {assignments} WHERE id = ?",
                            [*changes.values(), paper_id],
                        )
                    elif new_days:
                        await conn.execute(
                            "UPDATE papers SET updated_at = ? WHERE id = ?", (moment, paper_id)
                        )
                    if changes or new_days:
                        updated.append(paper_id)
                    else:
                        unchanged += 1
                await conn.executemany(
                    "INSERT INTO paper_listings (paper_id, listed_on) VALUES (?, ?)"
                    " ON CONFLICT DO NOTHING",
                    [(paper_id, day) for day in sorted(new_days)],
                )
        return UpsertResult(new=tuple(new), updated=tuple(updated), unchanged=unchanged)

    @staticmethod
    def _papers(rows: Sequence[Row]) -> list[Paper]:
        return [paper_from_row(row, (row["listed_days"] or "").split(",")) for row in rows]

    async def get(self, paper_id: str) -> Paper | None:
        """One stored paper, or None."""
        row = await self.db.fetchone(
            f"SELECT {PAPER_COLUMNS} FROM papers AS p WHERE p.id = ?", (paper_id,)
        )
        return None if row is None else self._papers([row])[0]

    async def get_many(self, paper_ids: Sequence[str]) -> dict[str, Paper]:
        """Stored papers by id (missing ids are simply absent)."""
        found: dict[str, Paper] = {}
        for start in range(0, len(paper_ids), 500):
            chunk = list(paper_ids[start : start + 500])
            marks = ",".join("?" * len(chunk))
            rows = await self.db.fetchall(
                f"SELECT {PAPER_COLUMNS} FROM papers AS p WHERE p.id IN ({marks})", chunk
            )
            found.update({paper.id: paper for paper in self._papers(rows)})
        return found

    async def papers_listed_on(self, day: date, *, limit: int | None = None) -> list[Paper]:
        """The day's papers by upvotes (most first), then id for a stable order."""
        rows = await self.db.fetchall(
            f"SELECT {PAPER_COLUMNS} FROM paper_listings AS day"
            " JOIN papers AS p ON p.id = day.paper_id"
            " WHERE day.listed_on = ? ORDER BY p.upvotes DESC, p.id"
            + ("" if limit is None else " LIMIT ?"),
            (day.isoformat(),) if limit is None else (day.isoformat(), limit),
        )
        return self._papers(rows)

    async def papers_listed_in(self, days: Iterable[date]) -> list[Paper]:
        """Papers listed on any of ``days``, each once (in no particular order)."""
        wanted = sorted({day.isoformat() for day in days})
        if not wanted:
            return []
        marks = ",".join("?" * len(wanted))
        rows = await self.db.fetchall(
            f"SELECT {PAPER_COLUMNS} FROM papers AS p WHERE p.id IN"
            f" (SELECT paper_id FROM paper_listings WHERE listed_on IN ({marks}))",
            wanted,
        )
        return self._papers(rows)

    async def listing_day(self, day: date) -> ListingDay | None:
        """How ``day`` was fetched, or None if nothing of it ever was."""
        row = await self.db.fetchone(
            "SELECT day, source, papers, fetched_at FROM listing_days WHERE day = ?",
            (day.isoformat(),),
        )
        if row is None:
            return None
        return ListingDay(
            day=date.fromisoformat(row["day"]),
            source=row["source"],
            papers=row["papers"],
            fetched_at=from_iso(row["fetched_at"]),
        )

    async def latest_listing_day(self) -> date | None:
        """The most recent day fetched whole that has papers stored."""
        value = await self.db.fetchval(
            "SELECT d.day FROM listing_days AS d WHERE d.source != ? AND EXISTS"
            " (SELECT 1 FROM paper_listings AS l WHERE l.listed_on = d.day)"
            " ORDER BY d.day DESC LIMIT 1",
            (SINGLE_PAPERS,),
        )
        return date.fromisoformat(value) if value else None

    async def count(self) -> int:
        return int(await self.db.fetchval("SELECT count(*) FROM papers"))

    async def search(
        self,
        match: Match,
        *,
        limit: int = 25,
        window: int = RANK_WINDOW,
        budget: ReadBudget = SEARCH_BUDGET,
    ) -> list[StoredHit]:
        """Papers matching a search expression (from ``bot.search``), best first, then upvotes.

        bm25 costs microseconds per match, and a common word matches half the store, so only the
        ``window`` most recently stored matches are ranked. Queries with fewer matches are ranked
        exactly. One query ranks and reads the rows; each Paper is built only when a reply shows
        it. Raises ReadBudgetExceeded when the match runs past ``budget``.
        """
        rows = await self.db.fetchall_within(
            budget, self._search_sql, (fts_param(self.db.dialect, match), window, limit)
        )
        return [StoredHit(row) for row in rows]

    async def search_relaxing(
        self,
        strict: Match,
        relaxed: Match | None,
        *,
        limit: int = 25,
        window: int = RANK_WINDOW,
        budget: ReadBudget = SEARCH_BUDGET,
    ) -> tuple[list[StoredHit], bool]:
        """Like :meth:`search` with ``strict``, and with ``relaxed`` when that finds nothing, in
        one trip to the database thread: (the hits, whether they are the relaxed ones)."""
        alternatives = [(fts_param(self.db.dialect, strict), window, limit)]
        if relaxed is not None:
            alternatives.append((fts_param(self.db.dialect, relaxed), window, limit))
        used, rows = await self.db.first_fetchall_within(budget, self._search_sql, alternatives)
        return [StoredHit(row) for row in rows], bool(rows) and used == 1

    async def texts_matching(
        self, match: Match, *, limit: int = 3, budget: ReadBudget = SEARCH_BUDGET
    ) -> list[str]:
        """Title, keywords and abstract of a few papers matching a search expression (the most
        recently stored): where "did you mean" finds the real word for a stem."""
        rows = await self.db.fetchall_within(
            budget,
            "SELECT p.title || ' ' || p.ai_keywords || ' ' || p.abstract FROM ("
            f"  {fts_newest_rowids(self.db.dialect)}"
            ") AS m JOIN papers AS p ON p.rowid = m.rowid",
            (fts_param(self.db.dialect, match), limit),
        )
        return [str(row[0]) for row in rows]

    async def suggest(
        self, text: str, *, limit: int = 25, budget: ReadBudget = SEARCH_BUDGET
    ) -> list[Paper]:
        """Papers for autocomplete: by id prefix, else by title words (the last one a prefix).

        Nothing typed: the latest days' papers, most upvoted first. Every read is bounded by an
        index walk or a LIMIT, whatever the text; the FTS5 read also by ``budget``.
        """
        text = text.strip()
        if text[:1].isdigit():
            rows = await self.db.fetchall(
                f"SELECT {PAPER_COLUMNS} FROM papers AS p"
                " WHERE p.id >= ? AND p.id < ? ORDER BY p.id DESC LIMIT ?",
                (text, text + "\uffff", limit),
            )
            if rows:
                return self._papers(rows)
        words = "".join(c if c.isalnum() else " " for c in text).split()[:MAX_SUGGEST_WORDS]
        if text and not words:
            return []
        *full, last = words or [""]
        if len(last) >= MIN_FTS_PREFIX:
            # The index stores stems ("diffusi" of "diffusion" is under "diffus"): ask for every
            # stem the word's completions have, and keep below the titles with a word starting
            # exactly as typed.
            match: Match | None = all_of(
                [
                    *(phrase((word,), "title") for word in full),
                    phrase((last,), "title", prefix=True),
                ]
            )
        else:  # a short last word filters the candidates below instead
            match = all_of([phrase((word,), "title") for word in full]) if full else None
        if match:
            # The most recently stored title matches, most upvoted first.
            candidates = await self.db.fetchall_within(
                budget,
                "SELECT p.id, p.title, p.upvotes, '' AS listed_on FROM ("
                f"  {fts_title_rowids(self.db.dialect)}"
                f" ORDER BY {fts_newest_first(self.db.dialect)} LIMIT ?"
                ") AS m JOIN papers AS p ON p.rowid = m.rowid",
                (fts_param(self.db.dialect, match), SUGGEST_WINDOW),
            )
        else:
            # The latest listings, walking paper_listings_by_day backwards (CROSS JOIN keeps
            # SQLite from starting at papers instead, whatever its statistics say).
            candidates = await self.db.fetchall(
                "SELECT p.id, p.title, p.upvotes, l.listed_on FROM paper_listings AS l"
                f" {ordered_join(self.db.dialect)} papers AS p ON p.id = l.paper_id"
                " ORDER BY l.listed_on DESC, l.paper_id DESC LIMIT ?",
                (RECENT_WINDOW,),
            )
        prefix = fold(last)
        chosen: dict[str, None] = {}  # ids, in order
        candidates.sort(key=lambda row: row["id"])  # ties below: lowest id first, as days list
        for row in sorted(candidates, key=lambda r: (r["listed_on"], r["upvotes"]), reverse=True):
            if len(chosen) == limit:
                break
            if not prefix or any(
                word.startswith(prefix) for word in _TOKEN.findall(fold(row["title"]))
            ):
                chosen.setdefault(row["id"])
        found = await self.get_many(list(chosen))
        return [found[paper_id] for paper_id in chosen if paper_id in found]
