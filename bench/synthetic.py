"""Synthetic papers for the benchmarks: real sentences, titles, authors and keywords, remixed."""

from __future__ import annotations

import random
import re
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bot.hf.parse import parse_daily_json  # noqa: E402
from bot.models import Paper  # noqa: E402
from bot.store.db import database_at  # noqa: E402
from bot.store.papers import PaperRepo  # noqa: E402
from bot.summarise import split_sentences  # noqa: E402

FIXTURES = ROOT / "tests" / "fixtures" / "hf" / "api"


def corpus() -> list[Paper]:
    papers: list[Paper] = []
    for path in sorted(FIXTURES.glob("daily_papers_*.json")):
        found = re.search(r"\d{4}-\d{2}-\d{2}", path.stem)
        if found is None:  # a week's or month's list: the same papers as the days again
            continue
        day = date.fromisoformat(found[0])
        papers.extend(parse_daily_json(path.read_bytes(), day).papers)
    return papers


def synthetic_id(index: int) -> str:
    """A unique arXiv-shaped id (YYMM.NNNNN) for synthetic paper number ``index``."""
    return f"{24 + index // 1_000_000:02d}{(index // 100_000) % 12 + 1:02d}.{index % 100_000:05d}"


def synthetic(count: int, seed: int = 7) -> list[Paper]:
    """``count`` papers mixing real sentences, title words, authors and keywords."""
    rng = random.Random(seed)
    real = corpus()
    sentences = [s for paper in real for s in split_sentences(paper.abstract)]
    title_words = [w for paper in real for w in paper.title.split()]
    authors = [a for paper in real for a in paper.authors]
    keywords = [k for paper in real for k in paper.ai_keywords]
    out = []
    for index in range(count):
        day = synthetic_day(index)
        out.append(
            Paper(
                id=synthetic_id(index),
                title=" ".join(rng.choices(title_words, k=rng.randint(6, 14))),
                abstract=" ".join(rng.choices(sentences, k=rng.randint(5, 9))),
                authors=tuple(rng.choices(authors, k=rng.randint(2, 12))),
                listed_on=(day,),
                upvotes=rng.randint(0, 200),
                ai_keywords=tuple(rng.sample(keywords, k=min(len(keywords), rng.randint(0, 8)))),
            )
        )
    return out


def realistic_queries(count: int, seed: int = 11) -> list[str]:
    rng = random.Random(seed)
    real = corpus()
    queries: list[str] = []
    for _ in range(count):
        paper = rng.choice(real)
        kind = rng.random()
        words = [w for w in paper.title.split() if len(w) > 3]
        if kind < 0.35 and paper.ai_keywords:
            queries.append(rng.choice(paper.ai_keywords))  # a keyword phrase
        elif kind < 0.6 and len(words) >= 2:
            queries.append(" ".join(rng.sample(words, 2)))  # two title words
        elif kind < 0.75 and paper.authors:
            queries.append(rng.choice(paper.authors).split()[-1])  # an author surname
        elif kind < 0.85:
            queries.append(f'"{" ".join(paper.abstract.split()[10:13])}"')  # a phrase
        elif kind < 0.95:
            queries.append(
                rng.choice(
                    [
                        "diffusion",
                        "llm agents",
                        "reasoning -vision",
                        "rl OR reinforcement",
                        "transform*",
                        "video generation",
                    ]
                )
            )
        else:
            queries.append(rng.choice(["NEAR(", '"unbalanced', "🙂", "title:llama", "a" * 300]))
    return queries


async def build_database(target: Path | str, papers: int) -> None:
    """Fill (or top up) the database at ``target`` (a SQLite path or a PostgreSQL URL) with
    ``papers`` synthetic papers."""
    async with database_at(target) as db:
        repo = PaperRepo(db)
        existing = await repo.count()
        if existing >= papers:
            return
        batch = synthetic(papers)[existing:]
        now = datetime(2026, 1, 1, tzinfo=UTC)
        for offset in range(0, len(batch), 2000):
            await repo.upsert_papers(batch[offset : offset + 2000], now=now)
        if db.dialect == "sqlite":
            await db.conn.execute("INSERT INTO papers_fts(papers_fts) VALUES ('optimize')")
            await db.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        else:
            async with db.transaction() as conn:
                await conn.execute("ANALYZE")  # fresh statistics before anything is timed


def synthetic_day(index: int) -> date:
    """The listing day of synthetic paper number ``index`` (60 papers a day from 2024-01-01)."""
    return date(2024, 1, 1) + timedelta(days=index // 60)
