"""How fast the Hugging Face parsers are on the recorded fixtures.

Run from the repository root: `python bench/parse.py [--runs N]`. Prints one row per fixture and
ends with `parse: api_ms=… html_ms=…` (plus `bs4_ms=…` when BeautifulSoup is installed, timing
the same hydration-blob extraction with `html.parser` for comparison). Target: HTML page <= 3 ms.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import statistics
import sys
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))  # so `bot` imports without installing the package

from bot.hf.parse import parse_daily_html, parse_daily_json  # noqa: E402

FIXTURES = REPO_ROOT / "tests" / "fixtures" / "hf"
HTML_FIXTURE = FIXTURES / "html" / "papers_date_2024-08-01.html"
HTML_DAY = date(2024, 8, 1)


def median_ms(work: Callable[[], object], runs: int) -> float:
    """Median wall time of `work()` over `runs` calls, after one warm-up call."""
    work()
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        work()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples) * 1000


def bs4_parse(page: str) -> int:
    """The same hydration-blob extraction with BeautifulSoup's pure-Python parser."""
    from bs4 import BeautifulSoup  # optional: imported only when installed

    node = BeautifulSoup(page, "html.parser").select_one('div[data-target="DailyPapers"]')
    props = json.loads(str(node["data-props"])) if node is not None else {}
    return len(props.get("dailyPapers", []))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=50, help="timed runs per input (default 50)")
    args = parser.parse_args()
    runs: int = max(args.runs, 1)

    print(f"{'input':<48} {'KB':>6} {'papers':>6} {'median ms':>10}")
    api_times = []
    for path in sorted((FIXTURES / "api").glob("daily_papers_*.json")):
        if "_week_" in path.name or "_month_" in path.name:
            continue  # the constructed period lists: the same items as the days again
        body = path.read_bytes()
        papers = len(parse_daily_json(body, HTML_DAY).papers)
        ms = median_ms(lambda body=body: parse_daily_json(body, HTML_DAY), runs)
        api_times.append(ms)
        print(f"{path.name:<48} {len(body) / 1024:>6.0f} {papers:>6} {ms:>10.3f}")

    page = HTML_FIXTURE.read_text(encoding="utf-8")
    papers = len(parse_daily_html(page, HTML_DAY).papers)
    html_ms = median_ms(lambda: parse_daily_html(page, HTML_DAY), runs)
    size_kb = len(page.encode()) / 1024
    print(f"{HTML_FIXTURE.name + ' (selectolax)':<48} {size_kb:>6.0f} {papers:>6} {html_ms:>10.3f}")

    summary = f"parse: api_ms={statistics.median(api_times):.3f} html_ms={html_ms:.3f}"
    if importlib.util.find_spec("bs4") is not None:
        bs4_papers = bs4_parse(page)
        bs4_ms = median_ms(lambda: bs4_parse(page), runs)
        label = HTML_FIXTURE.name + " (bs4 html.parser)"
        print(f"{label:<48} {size_kb:>6.0f} {bs4_papers:>6} {bs4_ms:>10.3f}")
        summary += f" bs4_ms={bs4_ms:.3f}"
    else:
        print("(bs4 not installed: BeautifulSoup comparison skipped)")
    print(summary)


if __name__ == "__main__":
    main()
