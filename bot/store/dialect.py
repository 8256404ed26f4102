"""Where SQLite and PostgreSQL disagree: each difference is chosen here, by ``db.dialect``.

Everything else the repositories send is SQL both accept: ``?`` placeholders (translated for
asyncpg), ``INSERT … ON CONFLICT``, ``RETURNING``, ``coalesce``, ISO text for moments.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from bot.search import Match
from bot.store.db import Dialect


def in_values(dialect: Dialect, column: str) -> str:
    """``column`` is one of a list given as ONE parameter (see :func:`values_param`): a list's
    length never changes the statement, so it is prepared once."""
    if dialect == "postgresql":
        return f"{column} = ANY(?)"
    return f"{column} IN (SELECT value FROM json_each(?))"


def values_param(dialect: Dialect, values: Iterable[Any]) -> Any:
    """The parameter :func:`in_values` expects: an array for asyncpg, JSON text for SQLite."""
    return list(values) if dialect == "postgresql" else json.dumps(list(values))


def skip_locked(dialect: Dialect) -> str:
    """The end of a ``SELECT`` that picks rows to claim: PostgreSQL locks them and skips rows
    another transaction is claiming; SQLite's one writer at a time needs nothing."""
    return " FOR UPDATE SKIP LOCKED" if dialect == "postgresql" else ""


def greatest(dialect: Dialect, first: str, second: str) -> str:
    """The larger of two values (SQLite's two-argument ``max``; PostgreSQL's ``greatest``)."""
    name = "greatest" if dialect == "postgresql" else "max"
    return f"{name}({first}, {second})"


def string_agg(dialect: Dialect, expression: str, separator: str) -> str:
    """An aggregate joining the group's non-NULL ``expression`` values with ``separator`` (an
    SQL string literal)."""
    name = "string_agg" if dialect == "postgresql" else "group_concat"
    return f"{name}({expression}, {separator})"


def offset_only(dialect: Dialect) -> str:
    """Every row after the first ``?`` ones (SQLite takes OFFSET only after a LIMIT)."""
    return "OFFSET ?" if dialect == "postgresql" else "LIMIT -1 OFFSET ?"


# Full-text search. A compiled bot.search.Match is bound as ONE parameter: its FTS5 text on
# SQLite, its tsquery text on PostgreSQL (lexemes already stemmed as FTS5 stems them, so it is
# cast, not parsed again by to_tsquery, whose parser would split or drop some of them).
def fts_rowids(dialect: Dialect) -> str:
    """``SELECT rowid`` of the papers matching the one ``?`` parameter (:func:`fts_param`).

    Callers may append ``AND rowid …`` conditions, and ``ORDER BY`` :func:`fts_newest_first`
    for the newest matches (FTS5 skips to a rowid range in each doclist)."""
    if dialect == "postgresql":
        return "SELECT rowid FROM papers WHERE search @@ CAST(? AS tsquery)"
    return "SELECT rowid FROM papers_fts WHERE papers_fts MATCH ?"


def fts_title_rowids(dialect: Dialect) -> str:
    """:func:`fts_rowids` for a match over titles alone (each phrase's column ``"title"``): on
    PostgreSQL it reads ``papers.title_search``, the title's words alone, which such a match
    matches exactly as it matches ``search``, at a fraction of the cost per candidate."""
    if dialect == "postgresql":
        return "SELECT rowid FROM papers WHERE title_search @@ CAST(? AS tsquery)"
    return fts_rowids(dialect)


def fts_newest_rowids(dialect: Dialect) -> str:
    """``SELECT rowid`` of the most recently stored papers matching the first ``?`` parameter
    (:func:`fts_param`), at most the second. On PostgreSQL through newest_matches
    (migrations_pg/0001), which takes them from the GIN index whatever the word."""
    if dialect == "postgresql":
        return "SELECT rowid FROM newest_matches(CAST(? AS tsquery), ?)"
    return f"{fts_rowids(dialect)} ORDER BY {fts_newest_first(dialect)} LIMIT ?"


def fts_newest_first(dialect: Dialect) -> str:
    """The ``ORDER BY`` that lists :func:`fts_rowids`' matches newest first.

    FTS5 walks its doclists backwards. PostgreSQL sorts what the GIN index matched: ``rowid + 0``
    keeps its planner from walking the rowid index backwards instead, reading and testing every
    paper's vector until enough match (what a prepared statement's generic plan picks, even for
    a word no paper holds: ~10 µs a paper)."""
    return "rowid + 0 DESC" if dialect == "postgresql" else "rowid DESC"


def fts_match(dialect: Dialect, rowid_column: str) -> str:
    """A predicate: the paper whose rowid is ``rowid_column`` matches the one ``?`` parameter
    (:func:`fts_param`)."""
    return f"{rowid_column} IN ({fts_rowids(dialect)})"


def fts_param(dialect: Dialect, match: Match) -> str:
    """The parameter :func:`fts_rowids` and :func:`fts_match` expect for ``match``."""
    return match.tsquery if dialect == "postgresql" else match.fts5


def ordered_join(dialect: Dialect) -> str:
    """A join whose left table is read first: SQLite's CROSS JOIN fixes its order (whatever its
    statistics say); PostgreSQL's planner takes no such hint, nor CROSS JOIN … ON."""
    return "JOIN" if dialect == "postgresql" else "CROSS JOIN"


def contains_text(dialect: Dialect, haystack: str, needle: str) -> str:
    """``needle`` occurs in ``haystack`` (SQL expressions): a plain substring test, so the
    needle needs no escaping as a LIKE pattern would."""
    if dialect == "postgresql":
        return f"strpos({haystack}, {needle}) > 0"
    return f"instr({haystack}, {needle}) > 0"


def serialise_on(dialect: Dialect) -> str | None:
    """A statement (one text ``?``: a key such as ``alerts:<user id>``) that makes later
    transactions locking the same key wait for this one to end, so a count read in it stays true
    until it commits; None on SQLite, where a write transaction already excludes every other."""
    if dialect == "postgresql":
        return "SELECT pg_advisory_xact_lock(hashtext(?))"
    return None
