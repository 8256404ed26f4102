"""HFClient against a real local fake Hugging Face: paging, retries, fallback, failures."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from typing import Any

import aiohttp
import pytest

import bot
from bot.errors import ParseError, RateLimitedError, UpstreamError
from bot.hf.client import MAX_RETRY_AFTER, HFClient, Pacer, parse_retry_after
from bot.hf.parse import parse_daily_json
from tests.fakes.fake_hf import API_FIXTURES_DIR, FakeHF

DAY_2024_08_01 = date(2024, 8, 1)
SATURDAY = date(2024, 8, 3)
NOT_ANSWERING_503 = (
    "Hugging Face is not answering right now (HTTP 503); "
    "the papers already stored are still available."
)


@pytest.fixture
async def hf() -> AsyncIterator[FakeHF]:
    async with FakeHF() as fake:
        yield fake


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client_session:
        yield client_session


def make_client(session: aiohttp.ClientSession, base_url: str, **options: Any) -> HFClient:
    """A client whose back-off waits are milliseconds, so failure tests stay fast."""
    tuning: dict[str, Any] = {"backoff_base": 0.001, "max_backoff": 0.05, "timeout": 2.0}
    return HFClient(session, base_url, **(tuning | options))


def fixture_ids(name: str) -> list[str]:
    page = parse_daily_json((API_FIXTURES_DIR / name).read_bytes(), DAY_2024_08_01)
    return [paper.id for paper in page.papers]


def retry_messages(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if "retrying in" in r.getMessage()]


# --- the happy path ---------------------------------------------------------------------------


async def test_fetches_a_day_with_date_limit_and_a_user_agent(
    hf: FakeHF, session: aiohttp.ClientSession
) -> None:
    day = hf.load_fixture_day("daily_papers_2024-08-01.json")

    page = await make_client(session, hf.base_url).fetch_daily(day)

    assert page.source == "api"
    assert page.day == day
    assert [p.id for p in page.papers] == fixture_ids("daily_papers_2024-08-01.json")
    assert hf.requests == [("/api/daily_papers", {"date": "2024-08-01", "limit": "100"})]
    user_agent = hf.request_headers[0]["User-Agent"]
    assert user_agent == f"papers-bot/{bot.__version__} (+https://github.com/papers-bot)"


async def test_pages_until_a_page_is_not_full(hf: FakeHF, session: aiohttp.ClientSession) -> None:
    day = hf.load_fixture_day("daily_papers_2024-08-01.json")  # 11 items

    page = await make_client(session, hf.base_url, page_size=5).fetch_daily(day)

    assert len(page.papers) == 11
    assert [p.id for p in page.papers] == fixture_ids("daily_papers_2024-08-01.json")
    assert hf.queries_for("daily") == [
        {"date": "2024-08-01", "limit": "5"},
        {"date": "2024-08-01", "limit": "5", "p": "1"},
        {"date": "2024-08-01", "limit": "5", "p": "2"},
    ]


async def test_an_exactly_full_last_page_costs_one_empty_request(
    hf: FakeHF, session: aiohttp.ClientSession
) -> None:
    day = hf.load_fixture_day("daily_papers_2026-07-31_subset5.json")

    page = await make_client(session, hf.base_url, page_size=5).fetch_daily(day)

    assert len(page.papers) == 5
    assert hf.requests_for("daily") == 2


async def test_papers_repeated_across_pages_are_merged(
    hf: FakeHF, session: aiohttp.ClientSession
) -> None:
    day = hf.load_fixture_day("daily_papers_2024-08-01.json")
    items = hf.items(day)
    # The list shifted between two page requests: page 1 starts with page 0's last paper.
    hf.set_day(day, [*items[:3], items[2], *items[3:5]])

    page = await make_client(session, hf.base_url, page_size=3).fetch_daily(day)

    assert [p.id for p in page.papers] == [item["paper"]["id"] for item in items[:5]]


async def test_a_weekend_is_an_empty_day_not_an_error(
    hf: FakeHF, session: aiohttp.ClientSession
) -> None:
    page = await make_client(session, hf.base_url).fetch_daily(SATURDAY)

    assert page.papers == ()
    assert page.source == "api"
    assert hf.requests_for("html") == 0


# --- retries ----------------------------------------------------------------------------------


async def test_429_with_retry_after_then_success(
    hf: FakeHF, session: aiohttp.ClientSession, caplog: pytest.LogCaptureFixture
) -> None:
    day = hf.load_fixture_day("daily_papers_2024-08-01.json")
    hf.fail("daily", 429, headers={"Retry-After": "0"})

    with caplog.at_level(logging.WARNING, logger="bot.hf.client"):
        page = await make_client(session, hf.base_url).fetch_daily(day)

    assert len(page.papers) == 11
    assert page.source == "api"
    assert hf.requests_for("daily") == 2
    assert retry_messages(caplog) == [
        "GET /api/daily_papers: HTTP 429 (wait 0.0); retrying in 0.000s (attempt 2 of 4)"
    ]


async def test_429_waits_for_a_short_ratelimit_reset_then_succeeds(
    hf: FakeHF, session: aiohttp.ClientSession, caplog: pytest.LogCaptureFixture
) -> None:
    day = hf.load_fixture_day("daily_papers_2024-08-01.json")
    hf.fail("daily", 429, headers={"RateLimit": '"api";r=0;t=0.01'})

    with caplog.at_level(logging.WARNING, logger="bot.hf.client"):
        page = await make_client(session, hf.base_url, max_backoff=1).fetch_daily(day)

    assert len(page.papers) == 11
    assert retry_messages(caplog) == [
        "GET /api/daily_papers: HTTP 429 (wait 0.01); retrying in 0.010s (attempt 2 of 4)"
    ]


async def test_429_asking_for_longer_than_we_wait_gives_up_at_once_without_the_html_page(
    hf: FakeHF, session: aiohttp.ClientSession
) -> None:
    day = hf.load_fixture_day("daily_papers_2024-08-01.json")
    hf.fail("daily", 429, headers={"RateLimit": '"api";r=0;t=300'})

    with pytest.raises(RateLimitedError) as raised:
        await make_client(session, hf.base_url, max_backoff=0.02).fetch_daily(day)

    assert raised.value.retry_after == 300
    assert hf.requests_for("daily") == 1
    assert hf.requests_for("html") == 0  # same host, same quota: not asked while told to wait


def test_only_an_exhausted_rate_limit_policy_sets_the_wait() -> None:
    headers = {"RateLimit": '"api";r=120;t=290, "pages";r=0;t=12'}
    assert parse_retry_after(headers) == 12
    assert parse_retry_after({"RateLimit": '"api";r=5;t=200'}) is None


async def test_server_errors_back_off_exponentially_then_succeed(
    hf: FakeHF, session: aiohttp.ClientSession, caplog: pytest.LogCaptureFixture
) -> None:
    day = hf.load_fixture_day("daily_papers_2024-08-01.json")
    hf.fail("daily", 500, times=2)

    with caplog.at_level(logging.WARNING, logger="bot.hf.client"):
        page = await make_client(session, hf.base_url).fetch_daily(day)

    assert page.source == "api"
    assert len(page.papers) == 11
    assert hf.requests_for("daily") == 3
    assert retry_messages(caplog) == [
        "GET /api/daily_papers: HTTP 500; retrying in 0.001s (attempt 2 of 4)",
        "GET /api/daily_papers: HTTP 500; retrying in 0.002s (attempt 3 of 4)",
    ]


async def test_a_timeout_is_retried(hf: FakeHF, session: aiohttp.ClientSession) -> None:
    day = hf.load_fixture_day("daily_papers_2024-08-01.json")
    hf.hang("daily", times=1, seconds=10)

    page = await make_client(session, hf.base_url, timeout=0.1).fetch_daily(day)

    assert page.source == "api"
    assert len(page.papers) == 11
    assert hf.requests_for("daily") == 2


async def test_other_4xx_are_not_retried(hf: FakeHF, session: aiohttp.ClientSession) -> None:
    paper_id = hf.load_fixture_paper()
    hf.fail("paper", 403, times=5)

    with pytest.raises(UpstreamError, match=r"refused the request \(HTTP 403\)"):
        await make_client(session, hf.base_url).fetch_paper(paper_id)

    assert hf.requests_for("paper") == 1


# --- the HTML fallback ------------------------------------------------------------------------


async def test_persistent_server_errors_fall_back_to_the_html_page(
    hf: FakeHF, session: aiohttp.ClientSession, caplog: pytest.LogCaptureFixture
) -> None:
    day = hf.load_fixture_day("daily_papers_2024-08-01.json")
    hf.load_fixture_html("papers_date_2024-08-01.html")
    hf.fail("daily", 500, times=4)

    with caplog.at_level(logging.WARNING, logger="bot.hf.client"):
        page = await make_client(session, hf.base_url).fetch_daily(day)

    assert page.source == "html"
    assert len(page.papers) == 13  # the recorded page holds two more papers than the API did
    assert page.papers[0].title == "The Llama 3 Herd of Models"
    assert hf.requests_for("daily") == 4
    assert hf.queries_for("html") == [{"date": "2024-08-01"}]
    assert "used the HTML page fallback" in caplog.text


async def test_an_unreadable_api_answer_falls_back_without_retrying(
    hf: FakeHF, session: aiohttp.ClientSession
) -> None:
    day = hf.load_fixture_day("daily_papers_2025-10-03.json")
    hf.garbage("daily")

    page = await make_client(session, hf.base_url).fetch_daily(day)

    assert page.source == "html"
    assert [p.id for p in page.papers] == [item["paper"]["id"] for item in hf.items(day)]
    assert hf.requests_for("daily") == 1


async def test_an_outage_raises_the_apis_error_for_the_user(
    hf: FakeHF, session: aiohttp.ClientSession
) -> None:
    day = hf.load_fixture_day("daily_papers_2024-08-01.json")
    hf.outage = True

    with pytest.raises(UpstreamError) as raised:
        await make_client(session, hf.base_url).fetch_daily(day)

    assert raised.value.user_message == NOT_ANSWERING_503
    assert hf.requests_for("daily") == 4
    assert hf.requests_for("html") == 4

    hf.outage = False
    assert len((await make_client(session, hf.base_url).fetch_daily(day)).papers) == 11


async def test_rate_limited_everywhere_raises_rate_limited_with_the_wait(
    hf: FakeHF, session: aiohttp.ClientSession
) -> None:
    day = hf.load_fixture_day("daily_papers_2024-08-01.json")
    hf.fail("daily", 429, times=2, headers={"RateLimit": '"api";r=0;t=42'})
    hf.fail("html", 503, times=2)

    with pytest.raises(RateLimitedError) as raised:
        await make_client(session, hf.base_url, max_attempts=2).fetch_daily(day)

    assert raised.value.retry_after == 42
    assert "slow down for about 42 s" in raised.value.user_message


async def test_unreadable_api_and_page_raise_a_parse_error_for_the_user(
    hf: FakeHF, session: aiohttp.ClientSession
) -> None:
    day = hf.load_fixture_day("daily_papers_2024-08-01.json")
    hf.garbage("daily")
    hf.garbage("html")

    with pytest.raises(ParseError, match="could not read; the papers already stored"):
        await make_client(session, hf.base_url).fetch_daily(day)


async def test_an_unreachable_host_is_an_upstream_error(session: aiohttp.ClientSession) -> None:
    async with FakeHF() as gone:
        base_url = gone.base_url  # nothing listens there once closed

    with pytest.raises(UpstreamError, match=r"not answering right now \(connection failed\)"):
        await make_client(session, base_url, max_attempts=2).fetch_daily(SATURDAY)


# --- single papers ----------------------------------------------------------------------------


async def test_fetch_paper_found(hf: FakeHF, session: aiohttp.ClientSession) -> None:
    paper_id = hf.load_fixture_paper("paper_2608.09888.json")

    paper = await make_client(session, hf.base_url).fetch_paper(paper_id)

    assert paper is not None
    assert paper.title == "BDH-CQ: In-Context Learning with Recurrent Latent Reasoning"
    assert paper.github_stars == 11184
    assert hf.requests == [("/api/papers/2608.09888", {})]


async def test_fetch_paper_unknown_is_none(hf: FakeHF, session: aiohttp.ClientSession) -> None:
    client = make_client(session, hf.base_url)

    assert await client.fetch_paper("2401.00001") is None
    assert await client.fetch_paper("../admin") is None  # never sent: not an arXiv id
    assert hf.requests == [("/api/papers/2401.00001", {})]


async def test_fetch_paper_failures(hf: FakeHF, session: aiohttp.ClientSession) -> None:
    paper_id = hf.load_fixture_paper()
    client = make_client(session, hf.base_url, max_attempts=2)

    hf.fail("paper", 429, headers={"Retry-After": "7"})
    with pytest.raises(RateLimitedError) as raised:
        await client.fetch_paper(paper_id)
    assert raised.value.retry_after == 7
    assert hf.requests_for("paper") == 1  # 7 s is longer than this client waits: no retry

    hf.garbage("paper")
    with pytest.raises(ParseError):
        await client.fetch_paper(paper_id)

    assert await client.fetch_paper(paper_id) is not None


@pytest.mark.parametrize(
    "headers",
    [
        {"Retry-After": "inf"},
        {"Retry-After": "1e400"},
        {"Retry-After": "nan"},
        {"Retry-After": "-7"},
        {"Retry-After": "tomorrow-ish"},
        {"Retry-After": "Fri, 31 Dec 9999 23:59:59 GMT"},
        {"RateLimit": '"api";r=0;t=' + "9" * 400},
    ],
)
async def test_a_hostile_429_header_ends_in_a_clear_error_with_a_bounded_wait(
    hf: FakeHF, session: aiohttp.ClientSession, headers: dict[str, str]
) -> None:
    paper_id = hf.load_fixture_paper()
    hf.fail("paper", 429, times=2, headers=headers)
    client = make_client(session, hf.base_url, max_attempts=2)

    with pytest.raises(RateLimitedError) as raised:
        await client.fetch_paper(paper_id)

    assert 0 <= raised.value.retry_after <= MAX_RETRY_AFTER
    message = raised.value.user_message
    assert message.startswith("Hugging Face is asking us to slow down")
    assert message.endswith("the papers already stored are still available.")
    assert "inf" not in message and "nan" not in message
    hf.clear_faults()
    assert await client.fetch_paper(paper_id) is not None  # the client is still usable


# --- header parsing ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"Retry-After": "12"}, 12.0),
        ({"Retry-After": " 1.5 "}, 1.5),
        ({"Retry-After": "-3"}, 0.0),
        ({"Retry-After": "Wed, 21 Oct 2026 07:28:30 GMT"}, 30.0),
        ({"RateLimit": '"api";r=0;t=42'}, 42.0),
        ({"RateLimit": '"pages";r=0;t=7, "api";r=3;t=120'}, 7.0),
        ({"Retry-After": "soon", "RateLimit": '"api";r=0;t=9'}, 9.0),
        ({"RateLimit": '"api";r=0'}, None),
        ({}, None),
        # Hostile or broken values: clamped to 0..MAX_RETRY_AFTER, or ignored when meaningless.
        ({"Retry-After": "inf"}, MAX_RETRY_AFTER),
        ({"Retry-After": "1e400"}, MAX_RETRY_AFTER),
        ({"Retry-After": "31536000"}, MAX_RETRY_AFTER),
        ({"Retry-After": "-inf"}, 0.0),
        ({"Retry-After": "nan"}, None),
        ({"Retry-After": "NaN", "RateLimit": '"api";r=0;t=9'}, 9.0),
        ({"Retry-After": "\x00\xff garbage"}, None),
        ({"Retry-After": "Fri, 31 Dec 9999 23:59:59 GMT"}, MAX_RETRY_AFTER),
        ({"Retry-After": "Wed, 21 Oct 1970 07:28:30 GMT"}, 0.0),
        ({"RateLimit": '"api";r=0;t=' + "9" * 400}, MAX_RETRY_AFTER),
        ({"RateLimit": '"api";r=0;t=inf'}, None),
        ({"RateLimit": '"api";r=0;t=-5'}, None),
    ],
)
def test_parse_retry_after(headers: dict[str, str], expected: float | None) -> None:
    now = datetime(2026, 10, 21, 7, 28, tzinfo=UTC)

    assert parse_retry_after(headers, now=now) == expected


async def test_the_pacer_spaces_requests_by_its_interval() -> None:
    now = [100.0]
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)
        now[0] += seconds

    pacer = Pacer(1.0, clock=lambda: now[0], sleep=sleep)
    await pacer.wait()  # the first request goes at once
    now[0] += 0.25
    await pacer.wait()  # 0.25 s later: waits the remaining 0.75 s
    now[0] += 3.0
    await pacer.wait()  # long after: at once again
    assert waits == [0.75]
    assert await Pacer(0.0, sleep=sleep).wait() is None and waits == [0.75]
