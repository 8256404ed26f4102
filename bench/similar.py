"""Similar papers: quality on the recorded fixtures, latency over a synthetic store.

    python bench/similar.py [--papers 100000] [--queries 200] [--db PATH] [--write-eval]

Quality: the evaluation set (tests/fixtures/similar_eval.json, rebuilt by --write-eval) lists, for
every fixture paper that has any, the other fixture papers sharing a Hugging Face ai_keyword or an
author with it. precision@5 is the share of the top five that are in that list; "normalised"
divides by min(5, related) instead, so a paper with two related papers can score 1. Printed for
the method as built, for the same method without the keyword and author terms (text only, the
harder test: keywords and authors are what defines "related" here), and for a baseline that
answers the most upvoted papers.

Latency: the same method over ``--papers`` synthetic papers (bench/synthetic.py), per paper
clicked, counts recounted beforehand (timed apart, with what a concurrent query waits meanwhile),
and /bookmarks recommend with 20 saved papers. Target: p95 ≤ 20 ms at 100k papers. Ends with:
similar: papers=… p50_ms=… p95_ms=… precision_at_5=… recount_ms=… db_mb=… rss_mb=…
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import random
import resource
import statistics
import sys
import tempfile
import time
from collections.abc import Collection, Sequence
from dataclasses import replace
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from synthetic import ROOT, build_database, corpus

from bot.catalog import Catalog
from bot.ingest import IngestService
from bot.models import DailyPage, Paper
from bot.search import fold
from bot.similar import MAX_SEEDS, Neighbour, SimilarService
from bot.store.db import database_at
from bot.store.papers import PaperRepo
from bot.store.similar import SimilarRepo
from bot.store.state import StateRepo

EVAL_PATH = ROOT / "tests" / "fixtures" / "similar_eval.json"
TOP = 5


class NoSource:
    async def fetch_daily(self, day: date) -> DailyPage:
        raise RuntimeError("benchmark never fetches")

    async def fetch_paper(self, arxiv_id: str) -> Paper | None:
        return None


def _names(values: tuple[str, ...]) -> set[str]:
    return {" ".join(fold(value).split()) for value in values}


def build_eval_set(papers: list[Paper]) -> dict[str, object]:
    """For each fixture paper, the others that share an ai_keyword or an author with it."""
    unique = {paper.id: paper for paper in papers}
    queries = []
    for paper in sorted(unique.values(), key=lambda p: p.id):
        related = []
        for other in sorted(unique.values(), key=lambda p: p.id):
            if other.id == paper.id:
                continue
            keywords = sorted(_names(paper.ai_keywords) & _names(other.ai_keywords))
            authors = sorted(_names(paper.authors) & _names(other.authors))
            if keywords or authors:
                related.append({"id": other.id, "keywords": keywords, "authors": authors})
        if related:
            queries.append({"paper": paper.id, "title": paper.title, "related": related})
    return {
        "about": "Built by bench/similar.py --write-eval from tests/fixtures/hf/api/*.json: for "
        "each paper, the other fixture papers sharing a Hugging Face ai_keyword or an author "
        "(compared case- and accent-insensitively).",
        "queries": queries,
    }


def load_eval_set() -> list[tuple[str, set[str]]]:
    data = json.loads(EVAL_PATH.read_text(encoding="utf-8"))
    return [(q["paper"], {r["id"] for r in q["related"]}) for q in data["queries"]]


class TextOnly(SimilarService):
    """The same method asked with title and abstract words only (for the ablation line)."""

    async def like(
        self, seeds: Sequence[Paper], *, exclude: Collection[str] = (), limit: int = TOP
    ) -> list[Neighbour]:
        bare = [replace(seed, ai_keywords=(), authors=()) for seed in seeds]
        return await super().like(bare, exclude=exclude, limit=limit)


async def quality(path: Path) -> dict[str, tuple[float, float]]:
    """precision@5 and its normalised form, per method, on the fixture store."""
    evaluation = load_eval_set()
    async with database_at(path) as db:
        repo = PaperRepo(db)
        await repo.upsert_papers(corpus())
        catalog = Catalog(repo, IngestService(NoSource(), repo, StateRepo(db)))
        methods = {
            "similar": SimilarService(SimilarRepo(db), catalog),
            "text_only": TextOnly(SimilarRepo(db), catalog),
        }
        top_upvoted = [p.id for p in await repo.suggest("", limit=TOP + 1)]
        results: dict[str, tuple[float, float]] = {}
        for name, service in methods.items():
            plain, normalised = [], []
            for paper_id, related in evaluation:
                found = await service.similar(paper_id, limit=TOP)
                ids = [n.paper.id for n in found.neighbours]
                assert paper_id not in ids
                hits = len(set(ids) & related)
                plain.append(hits / TOP)
                normalised.append(hits / min(TOP, len(related)))
            results[name] = (statistics.mean(plain), statistics.mean(normalised))
        plain, normalised = [], []
        for paper_id, related in evaluation:
            ids = [i for i in top_upvoted if i != paper_id][:TOP]
            hits = len(set(ids) & related)
            plain.append(hits / TOP)
            normalised.append(hits / min(TOP, len(related)))
        results["most_upvoted"] = (statistics.mean(plain), statistics.mean(normalised))
    return results


async def latency(path: Path, papers: int, queries: int) -> tuple[list[float], float, list[float]]:
    """Per-click times (ms), the refresh time (ms) and recommendation times (ms, sorted)."""
    started = time.perf_counter()
    await build_database(path, papers)
    print(f"database ready: {papers} papers ({time.perf_counter() - started:.1f} s)")
    async with database_at(path) as db:
        repo = PaperRepo(db)
        catalog = Catalog(repo, IngestService(NoSource(), repo, StateRepo(db)))
        similar_repo = SimilarRepo(db)
        service = SimilarService(similar_repo, catalog)
        waits: list[float] = []

        async def concurrent_queries() -> None:  # what a command waits while counts are redone
            while True:
                started = time.perf_counter()
                await db.fetchval(
                    "SELECT count(*) FROM paper_listings WHERE listed_on = '2024-06-01'"
                )
                waits.append((time.perf_counter() - started) * 1000)
                await asyncio.sleep(0.005)

        probe = asyncio.create_task(concurrent_queries())
        started = time.perf_counter()
        await similar_repo.refresh_if_stale()
        refresh_ms = (time.perf_counter() - started) * 1000
        probe.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await probe
        print(
            f"document-frequency recount: {refresh_ms:.0f} ms (after a start, then every 5% "
            f"growth); a concurrent query meanwhile waited at most {max(waits):.1f} ms"
        )
        rng = random.Random(5)
        rowids = [rng.randint(1, papers) for _ in range(queries)]
        marks = ",".join("?" * len(rowids))
        rows = await db.fetchall(f"SELECT id FROM papers WHERE rowid IN ({marks})", rowids)
        ids = [row[0] for row in rows]
        for paper_id in ids[:10]:  # warm the page cache
            await service.similar(paper_id)
        timings = []
        for paper_id in ids:
            started = time.perf_counter()
            await service.similar(paper_id)
            timings.append((time.perf_counter() - started) * 1000)
        # /bookmarks recommend: MAX_SEEDS saved papers at once
        stored = list((await repo.get_many(ids)).values())
        recommend = []
        for start in range(0, len(stored) - MAX_SEEDS + 1, MAX_SEEDS // 2):
            seeds = stored[start : start + MAX_SEEDS]
            started = time.perf_counter()
            await service.like(seeds, limit=15)
            recommend.append((time.perf_counter() - started) * 1000)
    return timings, refresh_ms, sorted(recommend)


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--papers", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--db", type=Path, help="reuse/keep this synthetic database file")
    parser.add_argument("--write-eval", action="store_true", help=f"rewrite {EVAL_PATH.name}")
    args = parser.parse_args()
    if args.write_eval:
        data = build_eval_set(corpus())
        EVAL_PATH.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n", "utf-8")
        print(f"wrote {EVAL_PATH} ({len(data['queries'])} papers)")  # type: ignore[arg-type]

    workdir = tempfile.TemporaryDirectory()
    scores = await quality(Path(workdir.name) / "fixtures.db")
    print(f"evaluation: {len(load_eval_set())} fixture papers with related ones")
    for name, (plain, normalised) in scores.items():
        print(f"  {name:<13} precision@5={plain:.3f}  normalised={normalised:.3f}")

    path = args.db or Path(workdir.name) / "bench.db"
    timings, refresh_ms, recommend = await latency(path, args.papers, args.queries)
    values = sorted(timings)
    p50 = statistics.median(values)
    p95 = values[int(len(values) * 0.95) - 1]
    size_mb = sum(p.stat().st_size for p in path.parent.glob(path.name + "*")) / 1e6
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"clicks={len(values)} p50={p50:.2f} ms p95={p95:.2f} ms max={values[-1]:.2f} ms")
    print(
        f"recommend ({MAX_SEEDS} bookmarks, {len(recommend)} runs): "
        f"p50={statistics.median(recommend):.2f} ms max={recommend[-1]:.2f} ms"
    )
    print(
        f"similar: papers={args.papers} p50_ms={p50:.2f} p95_ms={p95:.2f} "
        f"precision_at_5={scores['similar'][0]:.3f} normalised={scores['similar'][1]:.3f} "
        f"recount_ms={refresh_ms:.0f} db_mb={size_mb:.0f} rss_mb={rss_mb:.0f}"
    )
    workdir.cleanup()


if __name__ == "__main__":
    asyncio.run(main())
