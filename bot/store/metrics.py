"""What ``/metrics`` and ``/healthz`` read from the store at scrape time: all their SQL is here.

All of it reads the one outbox table and the retention counters.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

from bot.store.db import Database

# A delivery's state as the metrics name it (the store's own words).
STATES = ("pending", "sent", "dropped")
_GAVE_UP = re.compile(r"^gave up after \d+ attempts: ")
_HTTP = re.compile(r"^(\d{3})\b(?:.*\(code (\d+)\))?")
_EXCEPTION = re.compile(r"^([A-Za-z_][A-Za-z0-9_.]*): ")


@dataclass(frozen=True, slots=True)
class StoreFigures:
    """One scrape's figures: papers stored, and outbox rows by (kind, state, reason)."""

    papers: int
    outbox: dict[tuple[str, str, str], int]


def reason_label(state: str, last_error: str | None) -> str:
    """A bounded label for why a row is where it is: ``http_403_50013``, ``timeout``, an
    exception's type name, ``unsubscribed``; ``none`` for a sent row or a first attempt."""
    if state == "sent" or not last_error:
        return "none"
    text = _GAVE_UP.sub("", last_error.strip())
    if match := _HTTP.match(text):
        status, code = match.groups()
        return f"http_{status}_{code}" if code else f"http_{status}"
    if text.startswith("timed out"):
        return "timeout"
    if text.startswith("rate limited"):
        return "rate_limited"
    if text in ("unsubscribed", "resumed"):
        return text
    if match := _EXCEPTION.match(text):
        return match.group(1).rsplit(".", 1)[-1][:40]
    return "other"


# The outbox's kinds as the metrics name them ("paper": a post of a paper to a channel).
_KIND_LABELS = {"post": "paper"}


async def outbox_counts(db: Database) -> dict[tuple[str, str, str], int]:
    """Outbox rows by (kind, state, reason), plus the sent posts retention pruned, so that
    figure never drops after a prune.

    Sent rows are the bulk of the outbox: they are each kind's whole count (read from the
    once-per-kind index) less its pending and dropped rows, which are read from the state index.
    ``state != 'sent'`` would scan the table: 0.3 s at 1M rows (bench/metrics.py).
    """
    counts: Counter[tuple[str, str, str]] = Counter()
    totals = {
        row["kind"]: int(row["n"])
        for row in await db.fetchall("SELECT kind, count(*) AS n FROM outbox GROUP BY kind")
    }
    rows = await db.fetchall(
        "SELECT kind, state, last_error, count(*) AS n FROM outbox"
        " WHERE state IN ('pending', 'dropped') GROUP BY kind, state, last_error"
    )
    unsent: Counter[str] = Counter()
    for row in rows:
        kind = _KIND_LABELS.get(row["kind"], row["kind"])
        counts[(kind, row["state"], reason_label(row["state"], row["last_error"]))] += row["n"]
        unsent[row["kind"]] += row["n"]
    for kind, total in totals.items():
        counts[(_KIND_LABELS.get(kind, kind), "sent", "none")] += total - unsent[kind]
    pruned = await db.fetchval("SELECT coalesce(sum(sent_pruned), 0) FROM delivery_history")
    counts[("paper", "sent", "none")] += int(pruned)
    for kind in ("paper", "notice"):
        for state in STATES:
            counts.setdefault((kind, state, "none"), 0)  # every series exists from the start
    return dict(counts)


async def store_figures(db: Database) -> StoreFigures:
    """Everything the metrics read from the store, in one call per scrape."""
    papers = int(await db.fetchval("SELECT count(*) FROM papers"))
    return StoreFigures(papers=papers, outbox=await outbox_counts(db))


async def database_answers(db: Database) -> bool:
    """True when the database answers ``SELECT 1`` (the health check)."""
    try:
        return int(await db.fetchval("SELECT 1")) == 1
    except Exception:  # any failure is "not answering"; the caller reports it
        return False
