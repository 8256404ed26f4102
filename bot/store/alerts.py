"""Personal alerts: the saved searches, which papers reached which member, and their DMs.

All of the alerts' SQL lives here. A DM is a row of the one outbox (kind 'dm', see
``bot.store.feed``); it is written in the same transaction as the ``alert_matches`` rows of the
papers it carries, so a paper reaches a member at most once, whatever restarts happen.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import date, datetime

from bot.search import Match
from bot.store.db import Connection, Database, ReadBudget, Row, from_iso, to_iso
from bot.store.dialect import fts_param, fts_rowids, in_values, serialise_on, values_param
from bot.store.feed import DueDm, NonceFactory

# A WHERE condition and its parameters, made by another repository (OutboxRepo.claimable).
SqlFragment = tuple[str, list[object]]


@dataclass(frozen=True, slots=True)
class Alert:
    """A member's saved search; paused (with why) when it cannot be matched or delivered."""

    id: int
    user_id: int
    query: str
    created_at: datetime
    paused_reason: str | None = None
    paused_at: datetime | None = None
    last_matched_at: datetime | None = None

    @property
    def paused(self) -> bool:
        return self.paused_reason is not None


def _alert(row: Row) -> Alert:
    return Alert(
        id=row["id"],
        user_id=row["user_id"],
        query=row["query"],
        created_at=from_iso(row["created_at"]),
        paused_reason=row["paused_reason"],
        paused_at=from_iso(row["paused_at"]) if row["paused_at"] else None,
        last_matched_at=from_iso(row["last_matched_at"]) if row["last_matched_at"] else None,
    )


@dataclass(frozen=True, slots=True)
class WindowPaper:
    """A paper listed in the poll window: its full-text rowid and latest listing day there."""

    rowid: int
    paper_id: str
    listed_on: date


@dataclass(frozen=True, slots=True)
class PlannedMatch:
    """A paper an alert matched, to be sent to the alert's member."""

    alert_id: int
    user_id: int
    paper_id: str
    query: str


class AlertRepo:
    """Alerts, their matches, their notices and their DMs in the outbox."""

    def __init__(self, db: Database) -> None:
        self.db = db

    # --- the member's alerts ------------------------------------------------------------------

    async def add(self, user_id: int, query: str, *, now: datetime, cap: int) -> Alert | None:
        """Save an alert; None (and nothing saved) when the member has ``cap`` alerts already.

        The count is checked inside the write transaction, which on PostgreSQL first locks the
        member's alerts: two quick adds (in two processes, too) never pass the cap.
        """
        async with self.db.transaction() as conn:
            if lock := serialise_on(self.db.dialect):
                await conn.execute(lock, (f"alerts:{user_id}",))
            rows = list(
                await conn.execute_fetchall(
                    "INSERT INTO alerts (user_id, query, created_at)"
                    " SELECT CAST(? AS BIGINT), CAST(? AS TEXT), CAST(? AS TEXT)"
                    " WHERE (SELECT count(*) FROM alerts WHERE user_id = ?) < ? RETURNING *",
                    (user_id, query, to_iso(now), user_id, cap),
                )
            )
        return _alert(rows[0]) if rows else None

    async def for_user(self, user_id: int) -> list[Alert]:
        """The member's alerts, oldest first."""
        rows = await self.db.fetchall(
            "SELECT * FROM alerts WHERE user_id = ? ORDER BY id", (user_id,)
        )
        return [_alert(row) for row in rows]

    async def remove(self, user_id: int, alert_id: int) -> Alert | None:
        """Delete one of the member's alerts; None when they have no such alert. Papers it
        matched stay recorded: another alert never sends them again."""
        async with self.db.transaction() as conn:
            rows = await conn.execute_fetchall(
                "DELETE FROM alerts WHERE id = ? AND user_id = ? RETURNING *", (alert_id, user_id)
            )
            found = list(rows)
        return _alert(found[0]) if found else None

    async def active(self) -> list[Alert]:
        """Every alert not paused, by member then age."""
        rows = await self.db.fetchall(
            "SELECT * FROM alerts WHERE paused_reason IS NULL ORDER BY user_id, id"
        )
        return [_alert(row) for row in rows]

    async def resume(self, user_id: int) -> int:
        """Un-pause the member's alerts; how many were paused."""
        async with self.db.transaction() as conn:
            cursor = await conn.execute(
                "UPDATE alerts SET paused_reason = NULL, paused_at = NULL"
                " WHERE user_id = ? AND paused_reason IS NOT NULL",
                (user_id,),
            )
            await conn.execute("DELETE FROM alert_notices WHERE user_id = ?", (user_id,))
            return cursor.rowcount

    # --- pausing, and telling the member once --------------------------------------------------

    async def pause_user(self, user_id: int, reason: str, *, now: datetime, notice: str) -> int:
        """Pause every active alert of the member, drop their pending DMs with ``reason`` and
        leave ``notice`` for their next command, in one transaction. How many were paused."""
        moment = to_iso(now)
        async with self.db.transaction() as conn:
            cursor = await conn.execute(
                "UPDATE alerts SET paused_reason = ?, paused_at = ?"
                " WHERE user_id = ? AND paused_reason IS NULL",
                (reason, moment, user_id),
            )
            paused = cursor.rowcount
            await conn.execute(
                "UPDATE outbox SET state = 'dropped', last_error = ?"
                " WHERE kind = 'dm' AND user_id = ? AND state = 'pending'",
                (reason[:500], user_id),
            )
            await _leave_notice(conn, user_id, notice, moment)
        return paused

    async def pause_alert(self, alert: Alert, reason: str, *, now: datetime, notice: str) -> bool:
        """Pause one alert with ``reason`` and leave ``notice`` for the member's next command.
        False when it was paused or removed meanwhile."""
        moment = to_iso(now)
        async with self.db.transaction() as conn:
            cursor = await conn.execute(
                "UPDATE alerts SET paused_reason = ?, paused_at = ?"
                " WHERE id = ? AND paused_reason IS NULL",
                (reason, moment, alert.id),
            )
            if cursor.rowcount == 0:
                return False
            await _leave_notice(conn, alert.user_id, notice, moment)
        return True

    async def take_notice(self, user_id: int) -> str | None:
        """The member's waiting notice, removed as it is read (shown once)."""
        # Asked after every command: a read first, so that the usual answer takes no write lock.
        if not await self.db.fetchval("SELECT 1 FROM alert_notices WHERE user_id = ?", (user_id,)):
            return None
        async with self.db.transaction() as conn:
            rows = list(
                await conn.execute_fetchall(
                    "DELETE FROM alert_notices WHERE user_id = ? RETURNING body", (user_id,)
                )
            )
        return str(rows[0][0]) if rows else None

    # --- matching -----------------------------------------------------------------------------

    async def window_papers(self, days: Collection[date]) -> list[WindowPaper]:
        """Papers listed on any of ``days``, with their latest listing day among them."""
        wanted = sorted({day.isoformat() for day in days})
        if not wanted:
            return []
        dialect = self.db.dialect
        rows = await self.db.fetchall(
            "SELECT p.rowid AS rowid, p.id AS paper_id, max(l.listed_on) AS listed_on"
            " FROM paper_listings AS l JOIN papers AS p ON p.id = l.paper_id"
            f" WHERE {in_values(dialect, 'l.listed_on')} GROUP BY p.id",
            (values_param(dialect, wanted),),
        )
        return [
            WindowPaper(row["rowid"], row["paper_id"], date.fromisoformat(row["listed_on"]))
            for row in rows
        ]

    async def matching(
        self, match: Match, rowids: Sequence[int], *, budget: ReadBudget
    ) -> set[int]:
        """Which of ``rowids`` the search expression ``match`` matches (a search restricted to
        the window's papers). Raises ReadBudgetExceeded past ``budget``."""
        if not rowids:
            return set()
        # Only a rowid range goes to FTS5, which skips to it in each doclist (a poll's papers
        # are the newest rows, mostly): ~0.1 ms an alert at 30k papers. An IN list would run
        # the whole MATCH once per rowid (bench/alerts.py). The window is kept exactly here.
        rows = await self.db.fetchall_within(
            budget,
            fts_rowids(self.db.dialect) + " AND rowid BETWEEN ? AND ?",
            (fts_param(self.db.dialect, match), min(rowids), max(rowids)),
        )
        wanted = set(rowids)
        return {row[0] for row in rows if row[0] in wanted}

    async def matched(
        self, user_ids: Collection[int], paper_ids: Collection[str]
    ) -> set[tuple[int, str]]:
        """(member, paper) pairs already sent (or on their way), among these."""
        if not user_ids or not paper_ids:
            return set()
        dialect = self.db.dialect
        rows = await self.db.fetchall(
            "SELECT user_id, paper_id FROM alert_matches"
            f" WHERE {in_values(dialect, 'user_id')} AND {in_values(dialect, 'paper_id')}",
            (values_param(dialect, sorted(user_ids)), values_param(dialect, sorted(paper_ids))),
        )
        return {(row[0], row[1]) for row in rows}

    async def queue_dms(
        self, matches: Sequence[PlannedMatch], *, now: datetime, nonce: NonceFactory
    ) -> int:
        """Record the matches and queue one DM per member with the papers new to them, in one
        transaction; returns how many DMs were queued.

        A match is recorded only if its alert still exists and is active, and only once per
        (member, paper): what a concurrent plan recorded first is left out of this DM.
        """
        moment = to_iso(now)
        by_user: dict[int, list[PlannedMatch]] = {}
        for match in matches:
            by_user.setdefault(match.user_id, []).append(match)
        queued = 0
        async with self.db.transaction() as conn:
            for user_id, planned in by_user.items():
                carried: list[PlannedMatch] = []
                for match in planned:
                    cursor = await conn.execute(
                        "INSERT INTO alert_matches (user_id, paper_id, alert_id, created_at)"
                        " SELECT CAST(? AS BIGINT), CAST(? AS TEXT), CAST(? AS BIGINT),"
                        " CAST(? AS TEXT) WHERE EXISTS (SELECT 1 FROM alerts"
                        " WHERE id = ? AND user_id = ? AND paused_reason IS NULL)"
                        " ON CONFLICT DO NOTHING",
                        (user_id, match.paper_id, match.alert_id, moment, match.alert_id, user_id),
                    )
                    if cursor.rowcount == 1:
                        carried.append(match)
                if not carried:
                    continue
                body = json.dumps(
                    [
                        {"paper": match.paper_id, "alert": match.alert_id, "query": match.query}
                        for match in carried
                    ]
                )
                await conn.execute(
                    "INSERT INTO outbox (kind, user_id, body, nonce, created_at)"
                    " VALUES ('dm', ?, ?, ?, ?)",
                    (user_id, body, nonce(), moment),
                )
                await conn.executemany(
                    "UPDATE alerts SET last_matched_at = ? WHERE id = ?",
                    [(moment, alert_id) for alert_id in {m.alert_id for m in carried}],
                )
                queued += 1
        return queued

    async def prune_dms(self, *, before: datetime) -> int:
        """Delete alert DMs sent or dropped before ``before``; how many went. What they carried
        stays in ``alert_matches``, so no paper is ever sent to their member again."""
        async with self.db.transaction() as conn:
            cursor = await conn.execute(
                "DELETE FROM outbox WHERE kind = 'dm' AND state IN ('sent', 'dropped')"
                " AND coalesce(sent_at, created_at) < ?",
                (to_iso(before),),
            )
            return cursor.rowcount

    # --- what is due --------------------------------------------------------------------------

    async def due_users(self, now: datetime, claimable: SqlFragment) -> list[int]:
        """Members with a DM due now that ``claimable`` (``OutboxRepo.claimable("o", now)``)
        lets this process claim."""
        where, params = claimable
        rows = await self.db.fetchall(
            "SELECT DISTINCT o.user_id FROM outbox AS o WHERE o.kind = 'dm'"
            " AND o.state = 'pending' AND (o.next_attempt_at IS NULL OR o.next_attempt_at <= ?)"
            f" AND {where}",
            (to_iso(now), *params),
        )
        return [row[0] for row in rows]

    async def next_due_at(self, *, busy: Collection[int] = (), claimer: str) -> datetime | None:
        """When the earliest postponed DM falls due, or another process's claim on a DM expires
        (``claimer`` is this process), leaving out members being sent to."""
        dialect = self.db.dialect
        value = await self.db.fetchval(
            "SELECT min(coalesce(CASE WHEN claimed_by <> ? THEN claimed_until END,"
            " next_attempt_at)) FROM outbox WHERE kind = 'dm' AND state = 'pending'"
            " AND (next_attempt_at IS NOT NULL OR claimed_until IS NOT NULL)"
            f" AND NOT ({in_values(dialect, 'user_id')})",
            (claimer, values_param(dialect, sorted(busy))),
        )
        return from_iso(value) if value else None

    async def due_dms(self, user_id: int, now: datetime, claimable: SqlFragment) -> list[DueDm]:
        """The member's due DMs this process may claim (see :meth:`due_users`), oldest first."""
        where, params = claimable
        rows = await self.db.fetchall(
            "SELECT o.id, o.user_id, o.body, o.nonce, o.attempts FROM outbox AS o"
            " WHERE o.kind = 'dm' AND o.user_id = ? AND o.state = 'pending'"
            " AND (o.next_attempt_at IS NULL OR o.next_attempt_at <= ?)"
            f" AND {where} ORDER BY o.id",
            (user_id, to_iso(now), *params),
        )
        return [
            DueDm(
                id=row["id"],
                user_id=row["user_id"],
                body=row["body"],
                nonce=row["nonce"],
                attempts=row["attempts"],
            )
            for row in rows
        ]


async def _leave_notice(conn: Connection, user_id: int, body: str, moment: str) -> None:
    # One waiting notice per member: the latest says what is paused now.
    await conn.execute(
        "INSERT INTO alert_notices (user_id, body, created_at) VALUES (?, ?, ?)"
        " ON CONFLICT (user_id) DO UPDATE SET body = excluded.body,"
        " created_at = excluded.created_at",
        (user_id, body, moment),
    )
