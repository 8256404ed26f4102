"""Personal alerts: saved searches that DM a member when a newly listed paper matches.

An alert is compiled by the search's own compiler (``bot.search.build_fts_query``), so an alert
and the ``/papers search`` it came from never disagree: an alert matches what its search matches
(every term, the search's strict reading). After each poll (``on_poll``, a poller hook) each
active alert's query runs over the papers listed in the poll window, within a read budget; the
papers new to a member go out as ONE DM per member per poll, through the one outbox. A member
whose DMs are closed (Discord's 50007) has their alerts paused and is told once, with the answer
to their next command; ``/alerts resume`` turns them back on.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from bot.errors import InvalidInput, InvalidQuery, PaperBotError, QueryTooBroad
from bot.feed import HISTORY_KEPT, PRUNE_EVERY, RETRY_BASE, new_nonce, retry_delay
from bot.ingest import IngestService, PollReport
from bot.models import Paper
from bot.outcomes import Action, Outcome
from bot.search import MAX_QUERY_CHARS, build_fts_query
from bot.store.alerts import Alert, AlertRepo, PlannedMatch
from bot.store.db import ReadBudget, ReadBudgetExceeded
from bot.store.feed import DueDm, OutboxRepo
from bot.store.papers import SEARCH_BUDGET, PaperRepo

log = logging.getLogger(__name__)

MAX_ALERTS = 10
# A DM that fails for a reason other than Discord's answer is dropped after this many attempts.
MAX_DM_ATTEMPTS_AFTER_ERROR = 5
AUTOCOMPLETE_LIMIT = 25
# The same words as /papers search's (bot.catalog): an alert and its search answer alike.
TOO_BROAD = (
    "That search is too broad to finish quickly: add a word, or remove a short "
    "prefix* or some OR alternatives."
)
DMS_CLOSED = "Discord would not deliver a DM (403, code 50007: direct messages are closed)"
DMS_CLOSED_NOTICE = (
    "🔕 I could not send you the papers your alerts found: Discord says your direct messages "
    "are closed to me, so your alerts are paused. Allow direct messages from this server's "
    "members (Server menu → Privacy Settings), then run `/alerts resume`."
)

Listener = Callable[[], None]


class AlertLimitReached(PaperBotError):
    """The member has MAX_ALERTS alerts already."""


@dataclass(frozen=True, slots=True)
class AlertMatch:
    """A paper in an alert DM, and the alert (its query) that matched it."""

    paper: Paper
    query: str


@dataclass(frozen=True, slots=True)
class AlertDigest:
    """What one alert DM shows: the member's new matches, most upvoted first."""

    matches: tuple[AlertMatch, ...]


@dataclass(frozen=True, slots=True)
class DmJob:
    """A due DM and what it shows."""

    row: DueDm
    digest: AlertDigest


@dataclass(frozen=True, slots=True)
class AddedAlert:
    alert: Alert
    count: int  # the member's alerts, this one included
    paused: int  # of which paused (the member may want /alerts resume)


class AlertService:
    """The alerts of every member: commands, matching after each poll, and their DMs."""

    def __init__(
        self,
        alerts: AlertRepo,
        outbox: OutboxRepo,
        papers: PaperRepo,
        ingest: IngestService,
        *,
        clock: Callable[[], datetime],
        budget: ReadBudget = SEARCH_BUDGET,
        nonce: Callable[[], str] = new_nonce,
        retry_base: timedelta = RETRY_BASE,
    ) -> None:
        self.alerts = alerts
        self.outbox = outbox
        self.papers = papers
        self.ingest = ingest
        self.clock = clock
        self.budget = budget  # per alert, per poll: a hostile alert cannot stall the poll
        self.nonce = nonce
        self.retry_base = retry_base
        self._listeners: list[Listener] = []
        self._pruned_at: datetime | None = None  # None: not yet since start

    # --- wiring -------------------------------------------------------------------------------

    def on_outbox_change(self, listener: Listener) -> None:
        """Call ``listener`` whenever a DM may be due (the delivery engine's wake-up)."""
        self._listeners.append(listener)

    def remove_outbox_listener(self, listener: Listener) -> None:
        if listener in self._listeners:
            self._listeners.remove(listener)

    def _notify(self) -> None:
        for listener in self._listeners:
            listener()

    # --- commands -----------------------------------------------------------------------------

    async def add(self, user_id: int, query: str) -> AddedAlert:
        """Save an alert for ``query`` (the syntax of /papers search). Raises InvalidQuery or
        QueryTooBroad exactly as the search would, and AlertLimitReached at MAX_ALERTS."""
        query = " ".join(query.split())[:MAX_QUERY_CHARS]
        compiled = build_fts_query(query)
        try:
            # Run once now, as the search would: a query too costly to answer is refused here
            # rather than paused at the next poll.
            await self.papers.search(compiled.strict, limit=1, budget=self.budget)
        except ReadBudgetExceeded:
            raise QueryTooBroad(TOO_BROAD) from None
        mine = await self.alerts.for_user(user_id)
        if any(alert.query.casefold() == query.casefold() for alert in mine):
            raise InvalidInput(
                f"You already have an alert for `{_code(query)}`: see `/alerts list`."
            )
        alert = await self.alerts.add(user_id, query, now=self.clock(), cap=MAX_ALERTS)
        if alert is None:
            raise AlertLimitReached(
                f"You have {MAX_ALERTS} alerts, the most I keep for one member: remove one with "
                "`/alerts remove`, then add this one again."
            )
        log.info("member %s added alert %s", user_id, alert.id)
        return AddedAlert(alert, len(mine) + 1, sum(a.paused for a in mine))

    async def for_member(self, user_id: int) -> list[Alert]:
        """The member's alerts, oldest first, with their state."""
        return await self.alerts.for_user(user_id)

    async def remove(self, user_id: int, reference: str) -> Alert:
        """Remove one of the member's alerts, by id (what autocomplete gives) or exact query."""
        mine = await self.alerts.for_user(user_id)
        text = reference.strip()
        chosen = next(
            (
                alert
                for alert in mine
                if str(alert.id) == text or alert.query.casefold() == text.casefold()
            ),
            None,
        )
        removed = await self.alerts.remove(user_id, chosen.id) if chosen else None
        if removed is None:
            raise InvalidInput(
                "You have no alert like that: pick one from the suggestions, or see `/alerts list`."
            )
        return removed

    async def suggest(self, user_id: int, current: str) -> list[Alert]:
        """The member's own alerts whose query contains ``current`` (autocomplete)."""
        needle = current.strip().casefold()
        mine = await self.alerts.for_user(user_id)
        return [alert for alert in mine if needle in alert.query.casefold()][:AUTOCOMPLETE_LIMIT]

    async def resume(self, user_id: int) -> int:
        """Turn the member's paused alerts back on; how many were paused."""
        resumed = await self.alerts.resume(user_id)
        if resumed:
            log.info("member %s resumed %d alerts", user_id, resumed)
        return resumed

    async def take_notice(self, user_id: int) -> str | None:
        """What the member must be told about their alerts, once (None: nothing)."""
        return await self.alerts.take_notice(user_id)

    # --- after each poll ----------------------------------------------------------------------

    async def on_poll(self, report: PollReport) -> int:
        """The poller hook: match every active alert against the papers listed in the poll
        window and queue one DM per member with the papers new to them. Returns DMs queued.

        Planned from the store, like the feed: the window's papers (the days this poll covered,
        and always yesterday and today), less those already sent to each member. A paper listed
        before the alert was created is not "newly listed" for it.
        """
        today = self.ingest.today()
        window = {polled.day for polled in report.days} | {today - timedelta(days=1), today}
        queued = await self.match_window(window)
        await self.prune_dms()
        return queued

    async def prune_dms(self) -> int:
        """Retention, like the feed's (HISTORY_KEPT, at most every PRUNE_EVERY): delete old
        sent and dropped DMs; ``alert_matches`` still keeps each paper to one DM per member."""
        now = self.clock()
        if self._pruned_at is not None and now - self._pruned_at < PRUNE_EVERY:
            return 0
        self._pruned_at = now
        deleted = await self.alerts.prune_dms(before=now - HISTORY_KEPT)
        if deleted:
            log.info("pruned %d alert DMs older than %d days", deleted, HISTORY_KEPT.days)
        return deleted

    async def match_window(self, days: Collection[date]) -> int:
        """Match the active alerts against the papers listed on ``days``; DMs queued."""
        alerts = await self.alerts.active()
        if not alerts:
            return 0
        papers = await self.alerts.window_papers(days)
        if not papers:
            return 0
        by_rowid = {paper.rowid: paper for paper in papers}
        sent = await self.alerts.matched(
            {alert.user_id for alert in alerts}, [paper.paper_id for paper in papers]
        )
        planned: list[PlannedMatch] = []
        taken: set[tuple[int, str]] = set(sent)
        for alert in alerts:
            since = alert.created_at.date()
            candidates = [
                paper.rowid
                for paper in papers
                if paper.listed_on >= since and (alert.user_id, paper.paper_id) not in taken
            ]
            if not candidates:
                continue
            found = await self._match(alert, candidates)
            for rowid in sorted(found):
                paper_id = by_rowid[rowid].paper_id
                if (alert.user_id, paper_id) not in taken:
                    taken.add((alert.user_id, paper_id))
                    planned.append(PlannedMatch(alert.id, alert.user_id, paper_id, alert.query))
            await asyncio.sleep(0)  # commands and heartbeats run between alerts
        if not planned:
            return 0
        queued = await self.alerts.queue_dms(planned, now=self.clock(), nonce=self.nonce)
        if queued:
            log.info("queued %d alert DMs (%d papers)", queued, len(planned))
            self._notify()
        return queued

    async def _match(self, alert: Alert, rowids: list[int]) -> set[int]:
        """The rowids ``alert`` matches; an alert that cannot be checked is paused, with why."""
        try:
            compiled = build_fts_query(alert.query)
            return await self.alerts.matching(compiled.strict, rowids, budget=self.budget)
        except InvalidQuery as exc:
            reason, why = "the search can no longer be read", exc.user_message
        except ReadBudgetExceeded:
            reason, why = "too broad to check in time", TOO_BROAD
        notice = (
            f"⏸️ Your alert `{_code(alert.query)}` is paused: {why} "
            "Remove it with `/alerts remove` and add a narrower one."
        )
        if await self.alerts.pause_alert(alert, reason, now=self.clock(), notice=notice):
            log.warning("paused alert %s of member %s: %s", alert.id, alert.user_id, reason)
        return set()

    # --- the delivery engine ------------------------------------------------------------------

    async def due_users(self) -> list[int]:
        """Members with a DM this process may send now (none another process is sending)."""
        now = self.clock()
        return await self.alerts.due_users(now, self.outbox.claimable("o", now))

    async def next_due_at(self, *, busy: Collection[int] = ()) -> datetime | None:
        """When a DM falls due here next: a postponed one, or one whose claim by another
        process (which may have died) expires."""
        return await self.alerts.next_due_at(busy=busy, claimer=self.outbox.claimer)

    async def due_dms(self, user_id: int) -> list[DmJob]:
        """The member's due DMs with the papers they show (current counts). A DM whose papers
        are all gone from the store is dropped."""
        jobs: list[DmJob] = []
        now = self.clock()
        for row in await self.alerts.due_dms(user_id, now, self.outbox.claimable("o", now)):
            items = [(str(item["paper"]), str(item["query"])) for item in json.loads(row.body)]
            papers = await self.papers.get_many([paper_id for paper_id, _ in items])
            matches = [AlertMatch(papers[pid], query) for pid, query in items if pid in papers]
            if not matches:
                await self.outbox.drop(row, error="its papers are no longer stored")
                continue
            matches.sort(key=lambda match: (-match.paper.upvotes, match.paper.id))
            jobs.append(DmJob(row, AlertDigest(tuple(matches))))
        return jobs

    async def begin(self, row: DueDm) -> bool:
        """Claim the DM right before sending it (see ``OutboxRepo.claim``)."""
        return await self.outbox.claim(row)

    async def record_sent(self, row: DueDm, message_id: int) -> None:
        await self.outbox.mark_sent(row, message_id=message_id, now=self.clock())

    async def record_outcome(self, row: DueDm, outcome: Outcome) -> datetime | None:
        """The outbox's policy for a DM: STOP gives the claim back; PAUSE (the member's DMs are
        closed) pauses their alerts, drops the DM and leaves them a notice; REMOVE and DROP drop
        it; RETRY retries later or drops it after ``Outcome.attempts``. The retry time, or None.
        """
        match outcome.action:
            case Action.STOP:
                await self.outbox.release(row)
            case Action.PAUSE:
                paused = await self.alerts.pause_user(
                    row.user_id, DMS_CLOSED, now=self.clock(), notice=DMS_CLOSED_NOTICE
                )
                log.warning(
                    "member %s does not accept DMs (%s): paused %d alerts",
                    row.user_id,
                    outcome.reason,
                    paused,
                )
            case Action.REMOVE | Action.DROP:
                await self.outbox.drop(row, error=outcome.reason)
                log.error("Discord rejected alert DM %s: %s", row.id, outcome.reason)
            case Action.RETRY:
                return await self._retry_or_drop(row, outcome.reason, outcome.attempts)
            case Action.SENT:
                raise ValueError("a sent DM is recorded with record_sent")
        return None

    async def record_error(self, row: DueDm, error: str) -> datetime | None:
        """Something other than Discord's answer failed the DM: retry, or drop it at last."""
        return await self._retry_or_drop(row, error, MAX_DM_ATTEMPTS_AFTER_ERROR)

    async def _retry_or_drop(
        self, row: DueDm, error: str, give_up_after: int | None
    ) -> datetime | None:
        attempts = row.attempts + 1  # this attempt was claimed
        if give_up_after is not None and attempts >= give_up_after:
            await self.outbox.drop(row, error=f"gave up after {attempts} attempts: {error}")
            return None
        at = self.clock() + retry_delay(attempts, self.retry_base)
        await self.outbox.retry_later(row, error=error, at=at)
        return at


def _code(text: str) -> str:
    """Text shown inside `inline code`: backticks cannot end it."""
    return text.replace("`", "ˋ")[:200]
