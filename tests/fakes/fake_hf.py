"""A fake Hugging Face Daily Papers server: a real aiohttp app on 127.0.0.1.

Typical use::

    async with FakeHF() as hf:
        day = hf.load_fixture_day("daily_papers_2024-08-01.json")
        hf.fail("daily", 503, times=2)           # the next two API calls answer 503
        client = HFClient(session, hf.base_url, backoff_base=0.001)
        page = await client.fetch_daily(day)
        assert hf.requests_for("daily") == 3

Routes (names used by `fail`, `hang`, `garbage` and `requests_for`):

* ``"daily"``: ``GET /api/daily_papers?date=YYYY-MM-DD&limit=N&p=K`` — the day's raw API items,
  sliced like Hugging Face pages them (``limit`` defaults to 50, ``p`` is 0-based). An unknown
  date answers ``[]`` (like a weekend); no date answers the latest day set; a bad date is 400.
  ``week=YYYY-Www`` or ``month=YYYY-MM`` instead of ``date`` answers the items given to
  `set_week` / `set_month` (or a ``daily_papers_week_…``/``_month_…`` fixture), paged the same
  way; an unknown period answers ``[]``. A malformed period, two of date/week/month, or any
  other query parameter answers 400 (an unknown parameter is also recorded in `unhandled`).
* ``"html"``: ``GET /papers?date=YYYY-MM-DD`` — the HTML given to `set_html`, else a small page
  whose hydration blob holds the day's items (so the client's HTML fallback works out of the box).
* ``"paper"``: ``GET /api/papers/{id}`` — the object given to `set_paper`, else the ``paper`` part
  of any listed item with that id, else 404.

Any other path answers 404 and is recorded in `unhandled`, so a test can fail loudly on it.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import json
import re
from collections import deque
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from types import TracebackType
from typing import Any

from aiohttp import web

FIXTURES_DIR = Path(__file__).resolve().parents[1] / "fixtures" / "hf"
API_FIXTURES_DIR = FIXTURES_DIR / "api"
HTML_FIXTURES_DIR = FIXTURES_DIR / "html"

ROUTES = ("daily", "html", "paper")
DEFAULT_LIMIT = 50  # what Hugging Face uses when `limit` is not sent
JSON_CONTENT_TYPE = "application/json"  # exactly this, no charset parameter
GARBAGE_JSON = "<html><body>upstream proxy error</body></html>"
GARBAGE_HTML = "<!doctype html><html><body><h1>Something went wrong</h1></body></html>"

_DATE_RE = re.compile(r"\d{4}-\d{2}-\d{2}")
_WEEK_RE = re.compile(r"\d{4}-W(0[1-9]|[1-4]\d|5[0-3])")
_MONTH_RE = re.compile(r"\d{4}-(0[1-9]|1[0-2])")
_PERIOD_FIXTURE_RE = re.compile(r"_(week|month)_(\d{4}-(?:W\d{2}|\d{2}))\.json$")
DAILY_PARAMS = frozenset({"date", "week", "month", "limit", "p"})


@dataclass(frozen=True, slots=True)
class Fault:
    """One programmed misbehaviour, used up by one request to its route."""

    kind: str  # "fail", "hang" or "garbage"
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: str | None = None
    seconds: float = 0.0


class FakeHF:
    """A programmable Hugging Face: list days, pages and papers, inject errors and delays."""

    def __init__(self) -> None:
        self._days: dict[date, list[dict[str, Any]]] = {}
        self._periods: dict[tuple[str, str], list[dict[str, Any]]] = {}  # ("week", "2025-W40")
        self._html: dict[date, str] = {}
        self._papers: dict[str, dict[str, Any]] = {}
        self._faults: dict[str, deque[Fault]] = {route: deque() for route in ROUTES}
        self._outage = False
        self.outage_retry_after = "0"
        """`Retry-After` sent with outage 503s: "0" keeps tests from waiting out real backoff."""
        self._closing = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self._base_url: str | None = None
        self.requests: list[tuple[str, dict[str, str]]] = []
        """`(path, query)` of every request received, in order (unhandled ones included)."""
        self.request_headers: list[dict[str, str]] = []
        """The headers of each request, parallel to `requests` (e.g. to check the User-Agent)."""
        self._request_routes: list[str | None] = []  # parallel to `requests`
        self.unhandled: list[str] = []
        """`METHOD path?query` of requests to routes this fake does not know."""

    # --- lifecycle -------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        """`http://127.0.0.1:<port>`, the value to use as HF_BASE_URL."""
        if self._base_url is None:
            raise RuntimeError("FakeHF is not started; use `async with FakeHF()` or `start()`")
        return self._base_url

    async def start(self) -> None:
        """Listen on a free port of 127.0.0.1."""
        self._closing = asyncio.Event()
        app = web.Application()
        app.router.add_get("/api/daily_papers", self._daily)
        app.router.add_get("/papers", self._daily_html)
        app.router.add_get("/api/papers/{paper_id:.+}", self._paper)
        app.router.add_route("*", "/{tail:.*}", self._unknown)
        # A short shutdown: a client that gave up on a hanging request must not stall teardown.
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self._base_url = f"http://127.0.0.1:{port}"

    async def close(self) -> None:
        """Stop listening; requests still hanging are released first."""
        self._closing.set()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeHF:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    # --- data ------------------------------------------------------------------------------

    def set_day(self, day: date, items: list[dict[str, Any]]) -> None:
        """Serve these raw `/api/daily_papers` items for `day` (replacing earlier ones)."""
        self._days[day] = list(items)

    def items(self, day: date) -> list[dict[str, Any]]:
        """The raw items currently served for `day` (a copy; use `set_day` to change them)."""
        return list(self._days.get(day, []))

    def load_fixture_day(self, filename: str) -> date:
        """Serve `tests/fixtures/hf/api/<filename>` under the date in its name; return that date."""
        match = _DATE_RE.search(filename)
        if match is None:
            raise ValueError(f"no YYYY-MM-DD date in fixture name {filename!r}")
        day = date.fromisoformat(match.group())
        items = json.loads((API_FIXTURES_DIR / filename).read_text(encoding="utf-8"))
        self.set_day(day, items)
        return day

    def set_week(self, week: str, items: list[dict[str, Any]]) -> None:
        """Serve these raw items as `/api/daily_papers?week=<week>` ("2025-W40")."""
        self._periods[("week", week)] = list(items)

    def set_month(self, month: str, items: list[dict[str, Any]]) -> None:
        """Serve these raw items as `/api/daily_papers?month=<month>` ("2026-07")."""
        self._periods[("month", month)] = list(items)

    def load_fixture_period(self, filename: str) -> str:
        """Serve `daily_papers_week_<YYYY-Www>.json` or `daily_papers_month_<YYYY-MM>.json` for
        the period in its name; return that period."""
        match = _PERIOD_FIXTURE_RE.search(filename)
        if match is None:
            raise ValueError(f"no _week_YYYY-Www or _month_YYYY-MM in fixture name {filename!r}")
        kind, period = match.groups()
        items = json.loads((API_FIXTURES_DIR / filename).read_text(encoding="utf-8"))
        self._periods[(kind, period)] = items
        return period

    def load_fixture_html(self, filename: str) -> date:
        """Serve `tests/fixtures/hf/html/<filename>` as `/papers` of the date in its name."""
        match = _DATE_RE.search(filename)
        if match is None:
            raise ValueError(f"no YYYY-MM-DD date in fixture name {filename!r}")
        day = date.fromisoformat(match.group())
        self.set_html(day, (HTML_FIXTURES_DIR / filename).read_text(encoding="utf-8"))
        return day

    def set_html(self, day: date, page: str) -> None:
        """Serve this exact HTML as `/papers?date=<day>`."""
        self._html[day] = page

    def set_paper(self, paper_id: str, obj: dict[str, Any]) -> None:
        """Serve this flat object as `/api/papers/<paper_id>`."""
        self._papers[paper_id] = obj

    def load_fixture_paper(self, filename: str = "paper_2608.09888.json") -> str:
        """Serve a recorded `/api/papers/{id}` fixture; return its id."""
        obj = json.loads((API_FIXTURES_DIR / filename).read_text(encoding="utf-8"))
        self.set_paper(obj["id"], obj)
        return str(obj["id"])

    # --- faults ----------------------------------------------------------------------------

    def fail(
        self,
        route: str,
        status: int,
        times: int = 1,
        headers: dict[str, str] | None = None,
        body: str | None = None,
    ) -> None:
        """Make the next `times` requests to `route` answer `status`, after earlier faults."""
        fault = Fault("fail", status=status, headers=dict(headers or {}), body=body)
        self._queue(route, fault, times)

    def hang(self, route: str, times: int = 1, seconds: float = 30.0) -> None:
        """Make the next `times` requests to `route` wait `seconds` before answering normally."""
        self._queue(route, Fault("hang", seconds=seconds), times)

    def garbage(self, route: str, times: int = 1) -> None:
        """Make the next `times` requests to `route` answer 200 with an unreadable body."""
        self._queue(route, Fault("garbage"), times)

    def clear_faults(self) -> None:
        """Forget every queued fault and end any outage."""
        for queue in self._faults.values():
            queue.clear()
        self._outage = False

    @property
    def outage(self) -> bool:
        """While True, every route answers 503."""
        return self._outage

    @outage.setter
    def outage(self, value: bool) -> None:
        self._outage = value

    def requests_for(self, route: str) -> int:
        """How many requests `route` ("daily", "html", "paper") has received."""
        return len(self.queries_for(route))

    def queries_for(self, route: str) -> list[dict[str, str]]:
        """The query parameters of each request `route` received, in order."""
        self._check_route(route)
        return [
            query
            for (_, query), seen_route in zip(self.requests, self._request_routes, strict=True)
            if seen_route == route
        ]

    def _queue(self, route: str, fault: Fault, times: int) -> None:
        self._check_route(route)
        self._faults[route].extend([fault] * times)

    @staticmethod
    def _check_route(route: str) -> None:
        if route not in ROUTES:
            raise ValueError(f"unknown route {route!r}; expected one of {ROUTES}")

    # --- handlers --------------------------------------------------------------------------

    async def _misbehave(self, route: str, request: web.Request) -> web.StreamResponse | None:
        """Record the request and apply the outage or the next fault; None: answer normally."""
        self._record(route, request)
        if self._outage:
            response = _json({"error": "Service Unavailable (FakeHF outage)"}, status=503)
            response.headers["Retry-After"] = self.outage_retry_after
            return response
        queue = self._faults[route]
        if not queue:
            return None
        fault = queue.popleft()
        if fault.kind == "hang":
            # Wakes early on close() so a test never waits for the full delay at teardown.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._closing.wait(), fault.seconds)
            return None
        if fault.kind == "garbage":
            if route == "html":
                return web.Response(text=GARBAGE_HTML, content_type="text/html")
            return web.Response(body=GARBAGE_JSON.encode(), headers=_JSON_HEADERS)
        body = fault.body if fault.body is not None else json.dumps({"error": f"{fault.status}"})
        headers = {"Content-Type": JSON_CONTENT_TYPE, **fault.headers}
        return web.Response(status=fault.status, body=body.encode(), headers=headers)

    def _record(self, route: str | None, request: web.Request) -> None:
        self.requests.append((request.path, dict(request.query)))
        self.request_headers.append(dict(request.headers))
        self._request_routes.append(route)

    def _requested_day(self, request: web.Request) -> date | web.Response | None:
        """The `date` query as a date; the latest day served when absent; a 400 when invalid."""
        raw = request.query.get("date")
        if raw is None:
            return max(self._days, default=None)
        try:
            if _DATE_RE.fullmatch(raw):  # HF wants zero-padded YYYY-MM-DD
                return date.fromisoformat(raw)
        except ValueError:
            pass
        return _json({"error": f'"date" must be a valid YYYY-MM-DD date, got {raw!r}'}, 400)

    async def _daily(self, request: web.Request) -> web.StreamResponse:
        if (fault := await self._misbehave("daily", request)) is not None:
            return fault
        unknown = sorted(set(request.query) - DAILY_PARAMS)
        if unknown:
            self.unhandled.append(f"{request.method} {request.path_qs}")
            return _json({"error": f"FakeHF does not know the parameters {unknown}"}, 400)
        selectors = [key for key in ("date", "week", "month") if key in request.query]
        if len(selectors) > 1:
            return _json({"error": f"only one of date, week, month: got {selectors}"}, 400)
        items: list[dict[str, Any]]
        if selectors in (["week"], ["month"]):
            kind = selectors[0]
            period = request.query[kind]
            if not (_WEEK_RE if kind == "week" else _MONTH_RE).fullmatch(period):
                return _json({"error": f"{kind} {period!r} is not a valid {kind}"}, 400)
            items = self._periods.get((kind, period), [])
        else:
            day = self._requested_day(request)
            if isinstance(day, web.Response):
                return day
            items = self._days.get(day, []) if day is not None else []
        try:
            limit = int(request.query.get("limit", DEFAULT_LIMIT))
            page = int(request.query.get("p", 0))
        except ValueError:
            return _json({"error": "limit and p must be integers"}, status=400)
        if limit < 1 or page < 0:
            return _json({"error": "limit must be >= 1 and p >= 0"}, status=400)
        return _json(items[page * limit : (page + 1) * limit])

    async def _daily_html(self, request: web.Request) -> web.StreamResponse:
        if (fault := await self._misbehave("html", request)) is not None:
            return fault
        day = self._requested_day(request)
        if isinstance(day, web.Response):
            return day
        if day is not None and day in self._html:
            page = self._html[day]
        else:
            page = render_daily_page(day, self._days.get(day, []) if day is not None else [])
        return web.Response(text=page, content_type="text/html")

    async def _paper(self, request: web.Request) -> web.StreamResponse:
        if (fault := await self._misbehave("paper", request)) is not None:
            return fault
        paper_id = request.match_info["paper_id"]
        if paper_id in self._papers:
            return _json(self._papers[paper_id])
        for items in self._days.values():
            for item in items:
                paper = item.get("paper") if isinstance(item, dict) else None
                if isinstance(paper, dict) and paper.get("id") == paper_id:
                    return _json(paper)
        return _json({"error": "Paper not found"}, status=404)

    async def _unknown(self, request: web.Request) -> web.StreamResponse:
        self._record(None, request)
        self.unhandled.append(f"{request.method} {request.path_qs}")
        if self._outage:
            response = _json({"error": "Service Unavailable (FakeHF outage)"}, status=503)
            response.headers["Retry-After"] = self.outage_retry_after
            return response
        return _json({"error": f"FakeHF does not know {request.method} {request.path}"}, 404)


_JSON_HEADERS = {"Content-Type": JSON_CONTENT_TYPE}


def _json(value: object, status: int = 200) -> web.Response:
    return web.Response(status=status, body=json.dumps(value).encode(), headers=_JSON_HEADERS)


def render_daily_page(day: date | None, items: list[dict[str, Any]]) -> str:
    """A minimal `/papers` page carrying `items` in the same hydration blob Hugging Face uses."""
    props = {
        "date": f"{day.isoformat()}T00:00:00.000Z" if day else None,
        "dailyPapers": items,
    }
    blob = html.escape(json.dumps(props), quote=True)
    return (
        "<!doctype html><html><head><title>Daily Papers - Hugging Face</title></head><body>"
        '<main class="flex flex-1 flex-col">'
        f'<div class="SVELTE_HYDRATER contents" data-target="DailyPapers" data-props="{blob}">'
        "</div></main></body></html>"
    )
