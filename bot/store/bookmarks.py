"""The bookmarks table, and the one question reactions ask of ``posts``: which paper is this?"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bot.store.db import Database, from_iso, to_iso, utc_now
from bot.store.dialect import contains_text

# Newest first; the paper id breaks ties so a page never shuffles between two requests.
_NEWEST_FIRST = "ORDER BY created_at DESC, paper_id DESC"


@dataclass(frozen=True, slots=True)
class BookmarkRow:
    """One saved paper of one user, as stored (the paper itself may not be stored yet)."""

    paper_id: str
    saved_at: datetime


@dataclass(frozen=True, slots=True)
class BookmarkMatch:
    """A bookmark found for autocomplete; ``title`` is None while the paper is not stored."""

    paper_id: str
    title: str | None


class BookmarkRepo:
    """Reads and writes bookmarks. Every query is scoped to one user, except
    :meth:`most_bookmarked_in`, which counts a server's bookmarks and never says whose."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def add(
        self,
        user_id: int,
        paper_id: str,
        *,
        now: datetime | None = None,
        guild_id: int | None = None,
    ) -> bool:
        """Save ``paper_id`` for the user; False when it was already saved (its date and server
        are kept). ``guild_id``: the server it was saved in (None in a DM)."""
        async with self.db.transaction() as conn:
            cursor = await conn.execute(
                "INSERT INTO bookmarks (user_id, paper_id, created_at, guild_id)"
                " VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
                (user_id, paper_id, to_iso(now or utc_now()), guild_id),
            )
            return cursor.rowcount > 0

    async def remove(self, user_id: int, paper_id: str) -> bool:
        """Forget ``paper_id`` for the user; False when it was not saved."""
        async with self.db.transaction() as conn:
            cursor = await conn.execute(
                "DELETE FROM bookmarks WHERE user_id = ? AND paper_id = ?", (user_id, paper_id)
            )
            return cursor.rowcount > 0

    async def toggle(
        self,
        user_id: int,
        paper_id: str,
        *,
        now: datetime | None = None,
        guild_id: int | None = None,
    ) -> bool:
        """Save it if it is not saved, else forget it, atomically. True when it is now saved."""
        # One transaction: two quick clicks must flip twice, never both "save".
        async with self.db.transaction() as conn:
            cursor = await conn.execute(
                "DELETE FROM bookmarks WHERE user_id = ? AND paper_id = ?", (user_id, paper_id)
            )
            if cursor.rowcount > 0:
                return False
            await conn.execute(
                "INSERT INTO bookmarks (user_id, paper_id, created_at, guild_id)"
                " VALUES (?, ?, ?, ?)",
                (user_id, paper_id, to_iso(now or utc_now()), guild_id),
            )
            return True

    async def clear(self, user_id: int) -> int:
        """Forget every bookmark of the user; how many there were."""
        async with self.db.transaction() as conn:
            cursor = await conn.execute("DELETE FROM bookmarks WHERE user_id = ?", (user_id,))
            return cursor.rowcount

    async def has(self, user_id: int, paper_id: str) -> bool:
        row = await self.db.fetchone(
            "SELECT 1 FROM bookmarks WHERE user_id = ? AND paper_id = ?", (user_id, paper_id)
        )
        return row is not None

    async def count(self, user_id: int) -> int:
        return int(
            await self.db.fetchval("SELECT count(*) FROM bookmarks WHERE user_id = ?", (user_id,))
        )

    async def newest_first(
        self, user_id: int, *, limit: int | None = None, offset: int = 0
    ) -> list[BookmarkRow]:
        """The user's bookmarks, newest first (all of them unless ``limit``)."""
        sql = f"SELECT paper_id, created_at FROM bookmarks WHERE user_id = ? {_NEWEST_FIRST}"
        if limit is None:
            # No "no limit" value both databases take (SQLite's is -1, PostgreSQL's NULL).
            rows = (await self.db.fetchall(sql, (user_id,)))[offset:]
        else:
            rows = await self.db.fetchall(sql + " LIMIT ? OFFSET ?", (user_id, limit, offset))
        return [BookmarkRow(row["paper_id"], from_iso(row["created_at"])) for row in rows]

    async def search(self, user_id: int, text: str, *, limit: int = 25) -> list[BookmarkMatch]:
        """The user's bookmarks whose id or stored title contains ``text``, newest first."""
        # A substring test rather than LIKE: the user's text needs no escaping of % and _.
        needle = text.strip().lower()
        dialect = self.db.dialect
        rows = await self.db.fetchall(
            "SELECT b.paper_id, p.title FROM bookmarks AS b"
            " LEFT JOIN papers AS p ON p.id = b.paper_id"
            " WHERE b.user_id = ?"
            f"   AND (CAST(? AS TEXT) = '' OR {contains_text(dialect, 'b.paper_id', '?')}"
            f"        OR {contains_text(dialect, 'lower(p.title)', '?')})"
            " ORDER BY b.created_at DESC, b.paper_id DESC LIMIT ?",
            (user_id, needle, needle, needle, limit),
        )
        return [BookmarkMatch(row["paper_id"], row["title"]) for row in rows]

    async def most_bookmarked_in(
        self, guild_id: int, *, since: datetime, limit: int
    ) -> list[tuple[str, int]]:
        """(paper id, bookmarks) of the papers most bookmarked in one server since ``since``.

        Only counts leave this method, never who. Ties: more Hugging Face upvotes first (0 for a
        paper not stored yet), then the newer arXiv id.
        """
        # Count first (the index covers it), then look up upvotes once per paper, not per save.
        rows = await self.db.fetchall(
            "SELECT c.paper_id, c.saves FROM ("
            "  SELECT paper_id, count(*) AS saves FROM bookmarks"
            "  WHERE guild_id = ? AND created_at >= ? GROUP BY paper_id"
            ") AS c LEFT JOIN papers AS p ON p.id = c.paper_id"
            " ORDER BY c.saves DESC, coalesce(p.upvotes, 0) DESC, c.paper_id DESC LIMIT ?",
            (guild_id, to_iso(since), limit),
        )
        return [(row["paper_id"], int(row["saves"])) for row in rows]
