"""``python -m bot fetch --since``: a long backfill, paced, resumable, honouring 429s.

The backfill runs in-process against the fake Hugging Face with a pacing interval of 0 and a
recording ``sleep``, so nothing waits for the wall clock; the refusals run as real processes.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from bot.cli import FIRST_LISTING_DAY, RATE_LIMIT_RETRIES, backfill_command
from bot.config import Settings
from bot.store.db import database_at
from bot.store.papers import PaperRepo
from tests.e2e.test_cli import run_bot_cli
from tests.fakes.fake_hf import API_FIXTURES_DIR, FakeHF

SINCE = date(2024, 7, 23)
TODAY = SINCE + timedelta(days=9)  # ten days in all
DAYS = [SINCE + timedelta(days=n) for n in range(10)]
ITEMS = json.loads((API_FIXTURES_DIR / "daily_papers_2024-08-01.json").read_text("utf-8"))


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture
async def hf() -> AsyncIterator[FakeHF]:
    async with FakeHF() as fake:
        for day in DAYS:
            fake.set_day(day, ITEMS)
        yield fake


class Run:
    """One backfill, with what it printed and how long it was asked to wait."""

    def __init__(self, hf: FakeHF, tmp_path: Path) -> None:
        self.settings = Settings(  # type: ignore[call-arg]
            _env_file=None,
            database_url=f"sqlite:///{tmp_path / 'papers.db'}",
            hf_base_url=hf.base_url,
        )
        self.db_path = tmp_path / "papers.db"
        self.waits: list[float] = []
        self.ticks = 0.0

    def monotonic(self) -> float:
        self.ticks += 1.0  # every reading one second later: a deterministic ETA
        return self.ticks

    async def sleep(self, seconds: float) -> None:
        self.waits.append(seconds)

    async def __call__(self, out: io.StringIO | None = None) -> tuple[int, str]:
        out = out if out is not None else io.StringIO()
        code = await backfill_command(
            self.settings,
            SINCE,
            clock=lambda: datetime(TODAY.year, TODAY.month, TODAY.day, 12, tzinfo=UTC),
            out=out,
            interval=0.0,
            sleep=self.sleep,
            monotonic=self.monotonic,
        )
        return code, out.getvalue()

    async def stored_days(self) -> list[date]:
        async with database_at(self.db_path) as db:
            papers = PaperRepo(db)
            return [
                day
                for day in DAYS
                if (known := await papers.listing_day(day)) is not None
                and known.whole
                and known.papers == len(ITEMS)
            ]


async def test_a_ten_day_backfill_stores_every_day_in_plain_lines(
    hf: FakeHF, tmp_path: Path
) -> None:
    run = Run(hf, tmp_path)
    code, out = await run()
    assert code == 0, out
    assert await run.stored_days() == DAYS
    lines = out.splitlines()
    assert "\r" not in out  # not a terminal: plain lines only
    assert lines[0] == f"backfill {SINCE} to {TODAY}: 0 days already stored, 10 to fetch"
    assert lines[1].startswith(f"{SINCE}: 11 papers (11 new, 0 updated) [1/10, ETA ")
    assert lines[10].startswith(f"{TODAY}: 11 papers (0 new, 0 updated) [10/10, ETA 0 s]")
    assert re.fullmatch(
        r"total: 110 papers fetched \(11 new, 0 updated\) on 10 days, 0 days skipped "
        r"\(already stored\), 0 days failed; 11 papers stored; took \d+ s",
        lines[-1],
    ), lines[-1]
    assert hf.requests_for("daily") == 10


async def test_a_second_run_skips_the_stored_days_but_the_last_two(
    hf: FakeHF, tmp_path: Path
) -> None:
    run = Run(hf, tmp_path)
    await run()
    before = hf.requests_for("daily")
    code, out = await run()
    assert code == 0
    asked = [query["date"] for query in hf.queries_for("daily")[before:]]
    assert asked == [str(TODAY - timedelta(days=1)), str(TODAY)]  # they may still fill in
    assert out.splitlines()[0] == (
        f"backfill {SINCE} to {TODAY}: 8 days already stored, 2 to fetch"
    )
    assert "8 days skipped (already stored)" in out.splitlines()[-1]


async def test_an_interrupted_run_continues_where_it_stopped(hf: FakeHF, tmp_path: Path) -> None:
    # Hugging Face keeps refusing from the fourth day on: the run stops there, politely.
    run = Run(hf, tmp_path)
    await run()  # fills every day...
    async with database_at(run.db_path) as db:  # ...then forget the last seven of them
        await db.fetchall("DELETE FROM listing_days WHERE day >= ?", (str(DAYS[3]),))
    hf.fail("daily", 429, times=RATE_LIMIT_RETRIES + 1, headers={"Retry-After": "120"})
    code, out = await run()
    assert code == 1
    assert f"stopped at {DAYS[3]}: Hugging Face kept asking us to wait" in out
    assert run.waits == [120.0] * RATE_LIMIT_RETRIES  # bounded
    before = hf.requests_for("daily")
    code, out = await run()
    assert code == 0
    assert out.splitlines()[0].endswith("3 days already stored, 7 to fetch")
    assert hf.queries_for("daily")[before]["date"] == str(DAYS[3])
    assert await run.stored_days() == DAYS


async def test_a_429_waits_as_asked_and_the_day_is_fetched(hf: FakeHF, tmp_path: Path) -> None:
    run = Run(hf, tmp_path)
    # Longer than the client holds a request open for: it hands the wait to the backfill.
    hf.fail("daily", 429, headers={"Retry-After": "120"})
    code, out = await run()
    assert code == 0, out
    assert run.waits == [120.0]
    assert f"{SINCE}: Hugging Face asked us to slow down; waiting 2 min, then trying" in out
    assert await run.stored_days() == DAYS


async def test_on_a_terminal_one_line_is_redrawn(hf: FakeHF, tmp_path: Path) -> None:
    run = Run(hf, tmp_path)
    code, out = await run(Terminal())
    assert code == 0
    frames = out.split("\r")
    assert len(frames) >= 10
    assert re.match(rf"{TODAY}  10/10 days  110 papers  ETA 0 s\s*\n", frames[-1]), frames[-1]
    assert out.splitlines()[-1].startswith("total: 110 papers fetched")


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (("--since", "2023-05-03"), f"before {FIRST_LISTING_DAY}, the first day"),
        (("--since", "2999-01-01"), "is in the future"),
        (("--since", "2024-01-01", "--days", "3"), "leave out --date/--days"),
        (("--since", "2024-01-01", "--date", "2024-02-01"), "leave out --date/--days"),
    ],
)
async def test_a_bad_since_is_refused_in_one_line(
    tmp_path: Path, args: tuple[str, ...], says: str
) -> None:
    code, out, err = await run_bot_cli(tmp_path, "fetch", *args, HF_BASE_URL="http://127.0.0.1:9")
    assert code == 2
    assert out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and says in lines[0], err
    assert not (tmp_path / "papers.db").exists()
