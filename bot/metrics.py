"""What operators see: Prometheus ``/metrics`` and ``/healthz`` on METRICS_PORT (off by default).

Each app has its own ``CollectorRegistry`` (never the process-wide default), so two bots in one
test process never share a counter. Counters are bumped where things happen (a poll, an HTTP
answer, a command); what the store already knows (papers, the outbox) is read from it at scrape
time by a collector, never counted in the hot paths.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import socket
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import aiohttp
from aiohttp import web
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.registry import Collector

from bot import __version__
from bot.ingest import PollReport
from bot.store.db import Database
from bot.store.metrics import StoreFigures, database_answers, store_figures

if TYPE_CHECKING:
    from bot.lease import Lease

log = logging.getLogger(__name__)

# Interactions answer in milliseconds to a few seconds (a Hugging Face fetch on the spot).
LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
# A health check that waits longer than this for the database says it does not answer.
HEALTH_DB_TIMEOUT = 2.0


def process_name() -> str:
    """This process as ``hostname:pid``: what /feed status and ``papers_bot_info`` name."""
    return f"{socket.gethostname()}:{os.getpid()}"


class StoreCollector(Collector):
    """Yields the figures read from the store for the scrape in progress."""

    def __init__(self) -> None:
        self.figures: StoreFigures | None = None
        # The lease (its name, this process's holding it, and its holder now), when watched.
        self.lease: tuple[str, bool, str | None] | None = None

    def collect(self) -> Iterator[Metric]:
        if self.lease is not None:
            name, held, holder = self.lease
            holding = GaugeMetricFamily(
                "papers_bot_lease_holder",
                "1 for the process holding the lease (it polls, syncs commands, queues digests "
                "and alerts); no sample while nobody holds it.",
                labels=["name", "holder"],
            )
            if holder is not None:
                holding.add_metric([name, holder], 1)
            yield holding
            mine = GaugeMetricFamily(
                "papers_bot_lease_held",
                "1 if this process holds the lease, else 0.",
                labels=["name"],
            )
            mine.add_metric([name], 1 if held else 0)
            yield mine
        if self.figures is None:
            return
        papers = GaugeMetricFamily("papers_bot_papers_stored", "Papers in the store.")
        papers.add_metric([], self.figures.papers)
        yield papers
        outbox = GaugeMetricFamily(
            "papers_bot_deliveries",
            "Outbox rows (kind paper or notice) by state (pending, sent, dropped) and reason.",
            labels=["kind", "state", "reason"],
        )
        for (kind, state, reason), count in sorted(self.figures.outbox.items()):
            outbox.add_metric([kind, state, reason], count)
        yield outbox


class Metrics:
    """One app's registry and the instruments the rest of the bot records into."""

    def __init__(self, *, process: str | None = None) -> None:
        self.process = process or process_name()
        self.registry = CollectorRegistry()
        self.polls = Counter(
            "papers_bot_polls",
            "Polls of Hugging Face, by outcome (ok, error).",
            ["outcome"],
            registry=self.registry,
        )
        self.interactions = Histogram(
            "papers_bot_interaction_seconds",
            "Time from receiving a slash command to finishing its answer, by command and outcome.",
            ["command", "outcome"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.hf_errors = Counter(
            "papers_bot_hf_errors",
            "Hugging Face answers that were not 2xx, by status (or timeout, connection).",
            ["status"],
            registry=self.registry,
        )
        self.discord_errors = Counter(
            "papers_bot_discord_errors",
            "Discord REST answers of 400 or more (429s discord.py waited out included), by status.",
            ["status"],
            registry=self.registry,
        )
        info = Gauge(
            "papers_bot_info",
            "Always 1: the version and the process (hostname:pid).",
            ["version", "process"],
            registry=self.registry,
        )
        info.labels(version=__version__, process=self.process).set(1)
        for outcome in ("ok", "error"):
            self.polls.labels(outcome=outcome)  # both series exist from the start
        self._store = StoreCollector()
        self.registry.register(self._store)
        self._scrape = asyncio.Lock()
        self._lease: Lease | None = None

    def watch_lease(self, lease: Lease) -> None:
        """Show who holds ``lease`` (read at scrape time) and whether this process does."""
        self._lease = lease

    async def on_poll(self, report: PollReport) -> None:
        """A poll hook: count the poll by outcome."""
        self.polls.labels(outcome="ok" if report.ok else "error").inc()

    def hf_error(self, status: str) -> None:
        """Hugging Face answered ``status`` (not 2xx), or ``timeout`` / ``connection``."""
        self.hf_errors.labels(status=status).inc()

    def observe_interaction(self, command: str, outcome: str, seconds: float) -> None:
        self.interactions.labels(command=command, outcome=outcome).observe(seconds)

    def discord_trace(self) -> aiohttp.TraceConfig:
        """An aiohttp trace for discord.py's HTTP session: every answer of 400 or more, counted
        by status in one place (sends, edits, reactions, interaction replies, its own 429s)."""

        async def on_end(
            _session: aiohttp.ClientSession, _context: Any, params: aiohttp.TraceRequestEndParams
        ) -> None:
            if params.response.status >= 400:
                self.discord_errors.labels(status=str(params.response.status)).inc()

        trace = aiohttp.TraceConfig()
        trace.on_request_end.append(on_end)
        return trace

    async def exposition(self, db: Database) -> bytes:
        """The Prometheus text for one scrape, store figures read now."""
        async with self._scrape:  # one scrape at a time sets the collector's figures
            self._store.figures = await store_figures(db)
            if self._lease is not None:
                holder = await self._lease.current_holder()
                self._store.lease = (self._lease.name, self._lease.held, holder)
            try:
                return generate_latest(self.registry)
            finally:
                self._store.figures = None
                self._store.lease = None


class MetricsServer:
    """``/healthz`` and ``/metrics`` over aiohttp.web; started and stopped with the bot."""

    def __init__(
        self,
        metrics: Metrics,
        db: Database,
        *,
        gateway_connected: Callable[[], bool],
        host: str,
        port: int,
    ) -> None:
        self.metrics = metrics
        self.db = db
        self.gateway_connected = gateway_connected
        self.host = host
        self.port = port
        self._runner: web.AppRunner | None = None

    @property
    def bound_port(self) -> int:
        """The port listened on (the one chosen by the system when ``port`` is 0)."""
        assert self._runner is not None, "the metrics server is not started"
        return int(self._runner.addresses[0][1])

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/healthz", self._healthz)
        app.router.add_get("/metrics", self._metrics)
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await runner.setup()
        try:
            await web.TCPSite(runner, self.host, self.port).start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        log.info("metrics and health on http://%s:%d/metrics and /healthz", self.host, self.port)

    async def stop(self) -> None:
        if self._runner is not None:
            runner, self._runner = self._runner, None
            await runner.cleanup()

    async def _healthz(self, _request: web.Request) -> web.Response:
        gateway = self.gateway_connected()
        try:
            database = await asyncio.wait_for(database_answers(self.db), HEALTH_DB_TIMEOUT)
        except TimeoutError:
            database = False
        body = {
            "status": "ok" if gateway and database else "unavailable",
            "gateway": "connected" if gateway else "not connected",
            "database": "ok" if database else "not answering",
            "process": self.metrics.process,
        }
        return web.Response(
            status=200 if gateway and database else 503,
            text=json.dumps(body),
            content_type="application/json",
        )

    async def _metrics(self, _request: web.Request) -> web.Response:
        body = await self.metrics.exposition(self.db)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})
