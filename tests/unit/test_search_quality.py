"""A floor on search quality over the evaluation set (tests/fixtures/search_eval.json).

bench/search_quality.py reports the figures before (no stems) and after; this fails when a change
makes the stemmed search with its "did you mean" find fewer of the expected papers.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

from search_quality import load_cases, measure

TOP1_FLOOR = 0.92
TOP5_FLOOR = 0.95


def test_the_evaluation_set_is_broad() -> None:
    cases = load_cases()
    kinds = {case["kind"] for case in cases}
    assert len(cases) >= 40
    assert kinds == {"title", "form", "paraphrase", "typo", "author"}


async def test_stemmed_search_with_suggestions_keeps_its_quality(tmp_path: Path) -> None:
    quality = await measure(tmp_path / "eval.db", stemmed=True)
    assert quality.top1 >= TOP1_FLOOR, quality.misses
    assert quality.top5 >= TOP5_FLOOR, quality.misses


async def test_without_stems_the_set_is_harder(tmp_path: Path) -> None:
    before = await measure(tmp_path / "before.db", stemmed=False)
    after = await measure(tmp_path / "after.db", stemmed=True)
    assert before.top5 < after.top5  # the set measures what stemming and suggestions add
