"""Hugging Face's weekly and monthly lists as last fetched: ``top_lists``, ``top_list_papers``."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime

from bot.models import Paper
from bot.store.db import Database, Row, from_iso, to_iso
from bot.store.papers import PAPER_COLUMNS, paper_from_row

# Most upvoted first; the id breaks ties so pages never shuffle between two requests.
_BY_UPVOTES = "ORDER BY p.upvotes DESC, p.id DESC"


def _papers(rows: Sequence[Row]) -> list[Paper]:
    return [paper_from_row(row, (row["listed_days"] or "").split(",")) for row in rows]


class TopListRepo:
    """Which papers a period's list held, and when it was fetched. The papers live in ``papers``."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def fetched_at(self, period: str) -> datetime | None:
        """When the list of ``period`` ("2025-W40", "2025-10") was last fetched whole, or None."""
        value = await self.db.fetchval(
            "SELECT fetched_at FROM top_lists WHERE period = ?", (period,)
        )
        return from_iso(value) if value else None

    async def replace(self, period: str, paper_ids: Sequence[str], *, now: datetime) -> None:
        """Record a whole fetch of ``period``: exactly these (stored) papers, fetched ``now``."""
        async with self.db.transaction() as conn:
            await conn.execute(
                "INSERT INTO top_lists (period, fetched_at) VALUES (?, ?)"
                " ON CONFLICT (period) DO UPDATE SET fetched_at = excluded.fetched_at",
                (period, to_iso(now)),
            )
            await conn.execute("DELETE FROM top_list_papers WHERE period = ?", (period,))
            await conn.executemany(
                "INSERT INTO top_list_papers (period, paper_id) VALUES (?, ?)"
                " ON CONFLICT DO NOTHING",
                [(period, paper_id) for paper_id in paper_ids],
            )

    async def papers(self, period: str, *, limit: int) -> tuple[list[Paper], int]:
        """The ``limit`` most upvoted papers of the period's list, and how many it holds."""
        rows = await self.db.fetchall(
            f"SELECT {PAPER_COLUMNS} FROM top_list_papers AS t"
            f" JOIN papers AS p ON p.id = t.paper_id WHERE t.period = ? {_BY_UPVOTES} LIMIT ?",
            (period, limit),
        )
        total = await self.db.fetchval(
            "SELECT count(*) FROM top_list_papers WHERE period = ?", (period,)
        )
        return _papers(rows), int(total)

    async def papers_listed_between(
        self, first: date, last: date, *, limit: int
    ) -> tuple[list[Paper], int]:
        """The ``limit`` most upvoted stored papers listed on a day in ``first``..``last``, and
        how many there are: what the store knows of a period whose list was never fetched."""
        span = (first.isoformat(), last.isoformat())
        rows = await self.db.fetchall(
            f"SELECT {PAPER_COLUMNS} FROM papers AS p WHERE p.id IN ("
            " SELECT paper_id FROM paper_listings WHERE listed_on BETWEEN ? AND ?)"
            f" {_BY_UPVOTES} LIMIT ?",
            (*span, limit),
        )
        total = await self.db.fetchval(
            "SELECT count(DISTINCT paper_id) FROM paper_listings WHERE listed_on BETWEEN ? AND ?",
            span,
        )
        return _papers(rows), int(total)
