"""AlertService and AlertRepo on a real SQLite file with the recorded papers: saving alerts,
matching a poll's papers with the search's compiler, one DM per member, and how sends went."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta

import pytest

from bot.alerts import DMS_CLOSED, MAX_ALERTS, TOO_BROAD, AlertLimitReached, AlertService
from bot.catalog import Catalog
from bot.errors import InvalidInput, InvalidQuery, QueryTooBroad
from bot.feed import HISTORY_KEPT
from bot.ingest import IngestService, PollReport
from bot.models import DailyPage, Paper
from bot.outcomes import CANNOT_MESSAGE_USER, Action, read_answer, transient
from bot.store.alerts import AlertRepo
from bot.store.db import Database, ReadBudget
from bot.store.feed import OutboxRepo
from bot.store.papers import PaperRepo
from bot.store.state import StateRepo
from tests.conftest import fixture_papers

TODAY = date(2026, 6, 12)
BOB, CAROL = 501, 502
NO_TIME = ReadBudget(seconds=0, check_every=1)
TODAYS = fixture_papers("daily_papers_2026-06-12")


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


class Source:
    def __init__(self) -> None:
        self.papers: list[Paper] = []

    async def fetch_daily(self, day: date) -> DailyPage:
        return DailyPage(day=day, papers=tuple(self.papers) if day == TODAY else ())

    async def fetch_paper(self, arxiv_id: str) -> Paper | None:
        return None


@dataclasses.dataclass
class World:
    alerts: AlertService
    ingest: IngestService
    source: Source
    catalog: Catalog
    db: Database
    clock: Clock

    async def poll(self, papers: Sequence[Paper]) -> PollReport:
        self.source.papers = list(papers)
        report = await self.ingest.poll()
        await self.alerts.on_poll(report)
        return report

    async def dms(self, user_id: int) -> list[list[str]]:
        """Paper ids of each DM queued for the member, oldest first."""
        rows = await self.db.fetchall(
            "SELECT body FROM outbox WHERE kind = 'dm' AND user_id = ? ORDER BY id", (user_id,)
        )
        return [[item["paper"] for item in json.loads(row[0])] for row in rows]


@pytest.fixture
async def world(db: Database) -> World:
    clock = Clock(datetime(2026, 6, 12, 9, 0, tzinfo=UTC))
    papers = PaperRepo(db)
    source = Source()
    ingest = IngestService(source, papers, StateRepo(db), clock=clock)
    alerts = AlertService(AlertRepo(db), OutboxRepo(db), papers, ingest, clock=clock)
    return World(alerts, ingest, source, Catalog(papers, ingest), db, clock)


async def searched(world: World, query: str) -> set[str]:
    return {hit.paper.id for hit in (await world.catalog.search(query, limit=100)).hits}


# --- saving -----------------------------------------------------------------------------------


async def test_a_member_keeps_at_most_ten_alerts(world: World) -> None:
    for n in range(MAX_ALERTS):
        added = await world.alerts.add(BOB, f"topic{n}")
        assert added.count == n + 1
    with pytest.raises(AlertLimitReached, match="remove one with `/alerts remove`"):
        await world.alerts.add(BOB, "one more")
    assert (await world.alerts.add(CAROL, "agents")).count == 1  # per member
    assert len(await world.alerts.for_member(BOB)) == MAX_ALERTS


async def test_the_cap_holds_inside_the_write_transaction(world: World) -> None:
    repo = world.alerts.alerts
    for n in range(MAX_ALERTS):
        assert await repo.add(BOB, f"topic{n}", now=world.clock(), cap=MAX_ALERTS)
    assert await repo.add(BOB, "late", now=world.clock(), cap=MAX_ALERTS) is None


async def test_hostile_queries_are_refused_with_the_searchs_own_words(world: World) -> None:
    many = " ".join(f"w{n}" for n in range(30))
    with pytest.raises(InvalidQuery) as from_search:
        await world.catalog.search(many)
    with pytest.raises(InvalidQuery) as from_alert:
        await world.alerts.add(BOB, many)
    assert from_alert.value.user_message == from_search.value.user_message
    with pytest.raises(InvalidQuery, match="not only what to leave out"):
        await world.alerts.add(BOB, "-agents")
    world.alerts.budget = world.catalog.search_budget = NO_TIME
    with pytest.raises(QueryTooBroad) as too_broad:
        await world.catalog.search("agents")
    assert too_broad.value.user_message == TOO_BROAD
    with pytest.raises(QueryTooBroad, match="too broad to finish quickly"):
        await world.alerts.add(BOB, "agents")
    assert await world.alerts.for_member(BOB) == []


async def test_the_same_alert_twice_is_refused_and_remove_takes_only_ones_own(
    world: World,
) -> None:
    added = await world.alerts.add(BOB, "world  models")
    with pytest.raises(InvalidInput, match="already have an alert"):
        await world.alerts.add(BOB, "World models")
    with pytest.raises(InvalidInput, match="no alert like that"):
        await world.alerts.remove(CAROL, str(added.alert.id))
    assert (await world.alerts.remove(BOB, str(added.alert.id))).query == "world models"
    assert await world.alerts.for_member(BOB) == []


# --- matching ---------------------------------------------------------------------------------


async def test_alerts_match_what_their_search_finds_author_and_exclusions_included(
    world: World,
) -> None:
    await world.alerts.add(BOB, "author:haoran")
    await world.alerts.add(CAROL, "agents -benchmark -benchmarks")
    await world.poll(TODAYS)
    assert set((await world.dms(BOB))[0]) == await searched(world, "author:haoran")
    assert set((await world.dms(CAROL))[0]) == await searched(
        world, "agents -benchmark -benchmarks"
    )
    assert len((await world.dms(BOB))[0]) == 2


async def test_one_dm_per_member_per_poll_and_each_paper_once_whatever_alert_matched(
    world: World,
) -> None:
    # Two alerts that overlap ("agentic" would stem to the same word as "agents").
    await world.alerts.add(BOB, "agents")
    await world.alerts.add(BOB, "reasoning")
    await world.poll(TODAYS[:10])
    [first] = await world.dms(BOB)
    assert len(first) == len(set(first))  # a paper both alerts match is listed once
    both = await searched(world, "agents") & await searched(world, "reasoning")
    assert both, "the two alerts must overlap for this test to mean anything"
    assert set(first) == await searched(world, "agents") | await searched(world, "reasoning")
    await world.poll(TODAYS[:10])
    assert len(await world.dms(BOB)) == 1  # nothing new: no second DM
    await world.poll(TODAYS)
    dms = await world.dms(BOB)
    assert len(dms) == 2 and not set(dms[0]) & set(dms[1])
    matched = [a.last_matched_at for a in await world.alerts.for_member(BOB)]
    assert all(moment == world.clock() for moment in matched)


async def test_papers_listed_before_the_alert_existed_are_not_news(world: World) -> None:
    await world.poll(TODAYS)
    world.clock.now += timedelta(days=1)
    await world.alerts.add(BOB, "agents")
    await world.poll([])  # yesterday's papers are still in the window
    assert await world.dms(BOB) == []


async def test_an_alert_too_costly_to_check_is_paused_and_its_member_told_once(
    world: World,
) -> None:
    added = await world.alerts.add(BOB, "agents")
    world.alerts.budget = NO_TIME
    await world.poll(TODAYS)
    assert await world.dms(BOB) == []
    [alert] = await world.alerts.for_member(BOB)
    assert alert.paused_reason == "too broad to check in time"
    notice = await world.alerts.take_notice(BOB)
    assert notice is not None and "`agents` is paused" in notice and TOO_BROAD in notice
    assert await world.alerts.take_notice(BOB) is None
    world.alerts.budget = ReadBudget(seconds=5)
    await world.poll(TODAYS)
    assert await world.dms(BOB) == []  # paused alerts are not matched
    assert await world.alerts.resume(BOB) == 1
    await world.poll(TODAYS)
    assert (await world.dms(BOB))[0]
    assert added.alert.id == (await world.alerts.for_member(BOB))[0].id


# --- how a DM's send went ---------------------------------------------------------------------


async def test_closed_dms_pause_every_alert_drop_the_dm_and_leave_one_notice(
    world: World,
) -> None:
    assert read_answer(403, CANNOT_MESSAGE_USER, "Cannot send messages to this user").action is (
        Action.PAUSE
    )
    await world.alerts.add(BOB, "agents")
    await world.alerts.add(BOB, "diffusion")
    await world.alerts.add(CAROL, "agents")
    await world.poll(TODAYS)
    assert await world.alerts.due_users() == [BOB, CAROL]
    [job] = await world.alerts.due_dms(BOB)
    assert await world.alerts.begin(job.row)
    outcome = read_answer(403, CANNOT_MESSAGE_USER, "Cannot send messages to this user")
    assert await world.alerts.record_outcome(job.row, outcome) is None
    assert {a.paused_reason for a in await world.alerts.for_member(BOB)} == {DMS_CLOSED}
    assert not any(a.paused for a in await world.alerts.for_member(CAROL))
    [row] = await world.db.fetchall(
        "SELECT state, last_error FROM outbox WHERE kind = 'dm' AND user_id = ?", (BOB,)
    )
    assert (row[0], row[1]) == ("dropped", DMS_CLOSED)
    assert await world.alerts.due_users() == [CAROL]
    notice = await world.alerts.take_notice(BOB)
    assert notice is not None and "`/alerts resume`" in notice
    assert await world.alerts.take_notice(BOB) is None


async def test_a_dm_is_retried_later_and_a_refused_token_gives_the_claim_back(
    world: World,
) -> None:
    await world.alerts.add(BOB, "agents")
    await world.poll(TODAYS)
    [job] = await world.alerts.due_dms(BOB)
    assert await world.alerts.begin(job.row)
    at = await world.alerts.record_outcome(job.row, transient("503 Service Unavailable"))
    assert at is not None and at > world.clock()
    assert await world.alerts.due_users() == []
    assert await world.alerts.next_due_at() == at
    assert await world.alerts.outbox.next_due_at() is None  # the channels' own clock ignores DMs
    world.clock.now = at
    [job] = await world.alerts.due_dms(BOB)
    assert job.row.attempts == 1
    assert await world.alerts.begin(job.row)
    await world.alerts.record_outcome(job.row, read_answer(401, 0, "Unauthorized"))
    [job] = await world.alerts.due_dms(BOB)
    assert job.row.attempts == 1  # as before the refused attempt
    assert await world.alerts.begin(job.row)
    await world.alerts.record_sent(job.row, 777)
    assert await world.alerts.due_users() == []
    # Most upvoted first in the DM.
    upvotes = [match.paper.upvotes for match in job.digest.matches]
    assert upvotes == sorted(upvotes, reverse=True)


async def test_old_dms_are_pruned_and_their_papers_still_never_sent_again(world: World) -> None:
    await world.alerts.add(BOB, "agents")
    await world.poll(TODAYS)
    [job] = await world.alerts.due_dms(BOB)
    assert await world.alerts.begin(job.row)
    await world.alerts.record_sent(job.row, 777)
    world.clock.now += HISTORY_KEPT + timedelta(hours=1)
    assert await world.alerts.prune_dms() == 1
    assert await world.dms(BOB) == []
    assert await world.alerts.prune_dms() == 0  # not again before PRUNE_EVERY
    await world.alerts.match_window([TODAY])
    assert await world.dms(BOB) == []


async def test_a_dm_another_process_is_sending_is_left_to_it_until_its_claim_expires(
    world: World,
) -> None:
    # A second process on the same store (the same database object stands in for its own).
    other = AlertService(
        AlertRepo(world.db),
        OutboxRepo(world.db, claimer="other-process", clock=world.clock),
        world.alerts.papers,
        world.ingest,
        clock=world.clock,
    )
    await world.alerts.add(BOB, "agents")
    await world.poll(TODAYS)
    [job] = await other.due_dms(BOB)
    assert await other.begin(job.row)  # the other process is sending it now
    assert await world.alerts.due_users() == []
    assert await world.alerts.due_dms(BOB) == []
    expires = await world.alerts.next_due_at()
    assert expires is not None and expires > world.clock()
    world.clock.now = expires  # it died mid-send: the DM is this process's to send
    assert await world.alerts.due_users() == [BOB]
    [again] = await world.alerts.due_dms(BOB)
    assert again.row.attempts == 1 and await world.alerts.begin(again.row)
