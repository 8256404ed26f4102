"""Parsing Hugging Face Daily Papers: every recorded vintage, the HTML page, and bad input."""

from __future__ import annotations

import contextlib
import json
import logging
import re
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.errors import ParseError
from bot.hf.parse import (
    is_arxiv_id,
    parse_daily_html,
    parse_daily_json,
    parse_paper_json,
)
from bot.models import DailyPage, Paper

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "hf"
API = FIXTURES / "api"
HTML_2024_08_01 = FIXTURES / "html" / "papers_date_2024-08-01.html"
SOME_DAY = date(2030, 1, 1)  # a requested day that no fixture item carries


def parse_fixture(name: str, requested_day: date = SOME_DAY) -> DailyPage:
    return parse_daily_json((API / name).read_bytes(), requested_day)


def raw_items(name: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = json.loads((API / name).read_text(encoding="utf-8"))
    return items


def by_id(page: DailyPage) -> dict[str, Paper]:
    return {paper.id: paper for paper in page.papers}


DAILY_FIXTURES = {
    "daily_papers_2024-05-27.json": 13,
    "daily_papers_2024-08-01.json": 11,
    "daily_papers_2025-03-17.json": 12,
    "daily_papers_2025-10-03.json": 39,
    "daily_papers_2026-06-12.json": 35,
    "daily_papers_2026-07-21_no_ai_summary.json": 25,
    "daily_papers_2026-07-31_subset5.json": 5,
    "daily_papers_latest_limit100_2026-06-12.json": 30,
}


# --- every vintage parses completely ----------------------------------------------------------


@pytest.mark.parametrize(("name", "count"), DAILY_FIXTURES.items())
def test_every_item_of_every_vintage_becomes_a_paper(name: str, count: int) -> None:
    page = parse_fixture(name)

    assert page.source == "api"
    assert page.day == SOME_DAY
    assert page.skipped == 0
    assert len(page.papers) == count
    assert [p.id for p in page.papers] == [item["paper"]["id"] for item in raw_items(name)]
    for paper in page.papers:
        assert is_arxiv_id(paper.id)
        assert paper.title
        assert paper.abstract
        assert paper.authors
        assert paper.published_at is not None
        assert paper.published_at.tzinfo is not None
        assert len(paper.listed_on) == 1
        assert paper.thumbnail == (
            f"https://cdn-thumbnails.huggingface.co/social-thumbnails/papers/{paper.id}.png"
        )


@pytest.mark.parametrize("name", DAILY_FIXTURES)
def test_whitespace_is_collapsed_everywhere(name: str) -> None:
    for paper in parse_fixture(name).papers:
        for text in (paper.title, paper.abstract, paper.ai_summary or "", *paper.authors):
            assert text == " ".join(text.split())
        for keyword in paper.ai_keywords:
            assert keyword == " ".join(keyword.split())


def test_oldest_vintage_2024_05_27() -> None:
    first = parse_fixture("daily_papers_2024-05-27.json").papers[0]

    assert first.id == "2405.15738"
    # The raw title is "…for Large Multimodal\n  Models".
    assert first.title == (
        "ConvLLaVA: Hierarchical Backbones as Visual Encoder for Large Multimodal Models"
    )
    assert first.abstract.startswith(
        "High-resolution Large Multimodal Models (LMMs) encounter the challenges of excessive"
    )
    assert first.upvotes == 32
    assert first.num_comments == 3
    assert first.authors[:3] == ("Chunjiang Ge", "Sijie Cheng", "Ziming Wang")
    assert len(first.authors) == 9
    assert first.published_at == datetime(2024, 5, 24, 17, 34, 15, tzinfo=UTC)
    # No submittedOnDailyAt yet: the old top-level publishedAt (2024-05-27T03:50Z) is the listing.
    assert first.listed_on == (date(2024, 5, 27),)
    # This vintage sent the social thumbnail as a singular `mediaUrl`.
    assert first.thumbnail == (
        "https://cdn-thumbnails.huggingface.co/social-thumbnails/papers/2405.15738.png"
    )
    assert first.github_repo is None
    assert first.organization is None
    assert first.ai_summary is None
    assert first.ai_keywords == ()


def test_2024_08_01_first_paper() -> None:
    page = parse_fixture("daily_papers_2024-08-01.json")
    llama = page.papers[0]

    assert (llama.id, llama.title, llama.upvotes, llama.num_comments) == (
        "2407.21783",
        "The Llama 3 Herd of Models",
        49,
        4,
    )
    assert llama.authors[0] == "Abhimanyu Dubey"
    assert len(llama.authors) == 533
    assert llama.listed_on == (date(2024, 8, 1),)
    assert "\n" not in llama.abstract


def test_2025_03_17_listing_date_comes_from_submitted_on_daily_at() -> None:
    page = parse_fixture("daily_papers_2025-03-17.json")

    # The top-level publishedAt now means "arXiv time minus 4 h" and spans 2025-03-07…14.
    top_level_days = {
        item["publishedAt"][:10] for item in raw_items("daily_papers_2025-03-17.json")
    }
    assert "2025-03-17" not in top_level_days
    assert all(paper.listed_on == (date(2025, 3, 17),) for paper in page.papers)

    pladis = page.papers[0]
    assert pladis.title == (
        "PLADIS: Pushing the Limits of Attention in Diffusion Models at Inference Time by "
        "Leveraging Sparsity"
    )
    assert pladis.published_at == datetime(2025, 3, 10, 7, 23, 19, tzinfo=UTC)
    assert pladis.ai_keywords[:2] == ("diffusion models", "Classifier-Free Guidance (CFG)")
    assert pladis.ai_summary is None  # ai_summary only appears from 2025-05


def test_2025_03_17_item_with_a_github_repo() -> None:
    flowtok = by_id(parse_fixture("daily_papers_2025-03-17.json"))["2503.10772"]

    assert flowtok.title == "FlowTok: Flowing Seamlessly Across Text and Image Tokens"
    assert flowtok.github_repo == "https://github.com/bytedance/1d-tokenizer/"
    assert flowtok.github_stars is None  # githubStars only appears from 2025-06
    assert flowtok.project_page == "https://tacju.github.io/projects/flowtok.html"


def test_2025_10_03_organization_and_ai_fields() -> None:
    page = parse_fixture("daily_papers_2025-10-03.json")
    papers = by_id(page)
    first = page.papers[0]

    assert first.id == "2510.02283"
    assert first.organization == "ByteDance Seed"  # fullname, not the "ByteDance-Seed" slug
    assert first.github_repo == "https://github.com/justincui03/Self-Forcing-Plus-Plus"
    assert first.github_stars == 1
    assert first.project_page == "https://self-forcing-plus-plus.github.io/"
    assert first.ai_summary is not None
    assert first.ai_summary.startswith("A method is proposed to enhance long-horizon video")
    assert first.ai_keywords[:3] == (
        "diffusion models",
        "transformer architectures",
        "autoregressive formulations",
    )
    assert papers["2510.02314"].organization == "National Yang Ming Chiao Tung University"
    assert sum(p.organization is not None for p in page.papers) == 16
    assert all(p.listed_on == (date(2025, 10, 3),) for p in page.papers)


def test_2026_06_12_keeps_hidden_authors_in_order() -> None:
    page = parse_fixture("daily_papers_2026-06-12.json")
    distilled = by_id(page)["2606.12575"]

    assert page.papers[0].id == "2606.13681"
    assert page.papers[0].upvotes == 90
    assert page.papers[0].published_at == datetime(2026, 6, 11, tzinfo=UTC)
    # "Dengyang Jiang" is `hidden: true` on HF but is still an author of the paper.
    assert distilled.authors[:4] == ("Dongyang Liu", "Ruoyi Du", "David Liu", "Dengyang Jiang")
    assert len(distilled.authors) == 10
    assert distilled.organization == "Tongyi-MAI"


def test_2026_07_21_has_no_ai_fields_yet() -> None:
    page = parse_fixture("daily_papers_2026-07-21_no_ai_summary.json")

    assert all(p.ai_summary is None and p.ai_keywords == () for p in page.papers)
    first = page.papers[0]
    assert first.title == "SWE-Pruner Pro: The Coder LLM Already Knows What to Prune"
    assert first.github_repo == "https://github.com/Ayanami1314/swe-pruner-pro"
    assert first.github_stars is None  # githubStars can be missing when githubRepo is present
    assert first.organization == "ByteDance"


def test_2026_07_31_paper_with_zero_upvotes() -> None:
    pedestrians = by_id(parse_fixture("daily_papers_2026-07-31_subset5.json"))["2607.16922"]

    assert pedestrians.upvotes == 0
    assert pedestrians.listed_on == (date(2026, 7, 31),)
    assert pedestrians.published_at == datetime(2026, 7, 18, tzinfo=UTC)


def test_undated_latest_list_keeps_each_items_own_listing_date() -> None:
    page = parse_fixture("daily_papers_latest_limit100_2026-06-12.json")

    assert page.papers[0].id == "2606.00467"
    assert page.papers[0].upvotes == 0  # undated lists are not sorted by upvotes
    assert all(p.listed_on == (date(2026, 6, 12),) for p in page.papers)


def test_single_paper_object() -> None:
    paper = parse_paper_json((API / "paper_2608.09888.json").read_bytes())

    assert paper.id == "2608.09888"
    assert paper.title == "BDH-CQ: In-Context Learning with Recurrent Latent Reasoning"
    assert paper.authors[0] == "Björn Engdahl"
    assert paper.authors[4] == "Przemysław Uznański"
    assert len(paper.authors) == 9
    assert paper.upvotes == 782
    assert paper.num_comments == 0  # the detail endpoint has no numComments
    assert paper.published_at == datetime(2026, 8, 10, tzinfo=UTC)
    assert paper.listed_on == (date(2026, 8, 11),)
    assert paper.github_repo == "https://github.com/pathwaycom/arc-task-gen"
    assert paper.github_stars == 11184
    assert paper.organization == "Pathway"
    assert paper.ai_keywords[0] == "in-context learning"
    assert paper.thumbnail is None


# --- the HTML page ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def html_page() -> str:
    return HTML_2024_08_01.read_text(encoding="utf-8")


def test_html_hydration_blob_gives_full_papers(html_page: str) -> None:
    page = parse_daily_html(html_page, date(2024, 8, 1))

    assert page.source == "html"
    assert page.skipped == 0
    assert len(page.papers) == 13
    llama = page.papers[0]
    assert (llama.id, llama.title, llama.upvotes, llama.num_comments) == (
        "2407.21783",
        "The Llama 3 Herd of Models",
        94,
        5,
    )
    assert len(llama.authors) == 533
    assert llama.abstract.startswith("Modern artificial intelligence (AI) systems")
    # An April paper put on the 2024-08-01 list.
    assert by_id(page)["2404.01300"].listed_on == (date(2024, 8, 1),)


def test_html_and_api_agree_on_the_papers_they_share(html_page: str) -> None:
    html = by_id(parse_daily_html(html_page, date(2024, 8, 1)))
    api = by_id(parse_fixture("daily_papers_2024-08-01.json", date(2024, 8, 1)))

    # The HTML was crawled later that day: two more papers, and more upvotes.
    assert set(api) < set(html)
    assert set(html) - set(api) == {"2407.20229", "2404.01300"}
    for paper_id, from_api in api.items():
        from_html = html[paper_id]
        assert from_html.title == from_api.title
        assert from_html.authors == from_api.authors
        assert from_html.abstract == from_api.abstract
        assert from_html.published_at == from_api.published_at
        assert from_html.listed_on == from_api.listed_on
        assert from_html.upvotes >= from_api.upvotes


def strip_hydration_blob(html_page: str) -> str:
    stripped, count = re.subn(r'data-target="DailyPapers" data-props="[^"]*"', "", html_page)
    assert count == 1
    return stripped


def test_html_cards_are_read_when_the_blob_is_missing(
    html_page: str, caplog: pytest.LogCaptureFixture
) -> None:
    cards_only = strip_hydration_blob(html_page)
    blob = parse_daily_html(html_page, date(2024, 8, 1))

    with caplog.at_level(logging.WARNING, logger="bot.hf.parse"):
        page = parse_daily_html(cards_only, date(2024, 8, 1))

    assert page.source == "html-cards"
    assert [p.id for p in page.papers] == [p.id for p in blob.papers]
    assert [p.title for p in page.papers] == [p.title for p in blob.papers]
    assert [p.upvotes for p in page.papers] == [p.upvotes for p in blob.papers]
    assert [p.num_comments for p in page.papers] == [p.num_comments for p in blob.papers]
    llama = page.papers[0]
    assert llama.abstract == ""
    assert llama.authors == ()
    assert llama.thumbnail == (
        "https://cdn-thumbnails.huggingface.co/social-thumbnails/papers/2407.21783.png"
    )
    # This card's cover is a <video>; the submitter's avatar is not a thumbnail.
    assert by_id(page)["2407.20229"].thumbnail is None
    assert all(p.listed_on == (date(2024, 8, 1),) for p in page.papers)
    assert "read the cards" in caplog.text


def test_cards_with_the_2025_upvote_box() -> None:
    card = """
    <article><a href="/papers/2509.01234"><img src="https://example.org/t.png"></a>
      <label><div class="leading-none">1.2k</div></label>
      <h3><a href="https://huggingface.co/papers/2509.01234?from=list">A  Newer
         Card</a></h3>
      <a href="/papers/2509.01234#community">7</a></article>"""

    page = parse_daily_html(f"<html><body>{card}</body></html>", date(2025, 9, 2))

    assert page.papers == (
        Paper(
            id="2509.01234",
            title="A Newer Card",
            abstract="",
            listed_on=(date(2025, 9, 2),),
            upvotes=1200,
            num_comments=7,
            thumbnail="https://example.org/t.png",
        ),
    )


@pytest.mark.parametrize(
    "html",
    [
        "",
        "<html><body><h1>Something went wrong</h1></body></html>",
        "<article><h3><a href='/login'>Sign in</a></h3></article>",
        '<div data-target="DailyPapers" data-props="{not json">x</div>',
        '<div data-target="DailyPapers" data-props="{&quot;dailyPapers&quot;: 3}"></div>',
    ],
    ids=["empty", "error-page", "foreign-article", "broken-blob", "blob-without-list"],
)
def test_html_without_papers_is_a_parse_error(html: str) -> None:
    with pytest.raises(ParseError, match="2024-08-01"):
        parse_daily_html(html, date(2024, 8, 1))


def test_html_with_an_empty_list_is_an_empty_day() -> None:
    html = '<div data-target="DailyPapers" data-props="{&quot;dailyPapers&quot;: []}"></div>'

    page = parse_daily_html(html, date(2024, 8, 3))

    assert page == DailyPage(day=date(2024, 8, 3), papers=(), skipped=0, source="html")


# --- malformed input --------------------------------------------------------------------------


def test_malformed_items_are_skipped_counted_and_logged(caplog: pytest.LogCaptureFixture) -> None:
    good = raw_items("daily_papers_2026-07-31_subset5.json")[:2]
    bad: list[object] = [
        "not an object",
        {"title": "no paper at all"},
        {"paper": {"id": "2607.99999", "title": "   "}, "title": ""},
        {"paper": {"id": "../../etc/passwd", "title": "Path"}},
        {"paper": {"id": 2607.23193, "title": "Numeric id"}},
    ]
    body = json.dumps([good[0], *bad, good[1], good[0]])

    with caplog.at_level(logging.WARNING, logger="bot.hf.parse"):
        page = parse_daily_json(body, date(2026, 7, 31))

    assert [p.id for p in page.papers] == [good[0]["paper"]["id"], good[1]["paper"]["id"]]
    assert page.skipped == len(bad) + 1  # the repeated first item is skipped too
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == page.skipped
    assert "#1" in warnings[0]
    assert "not an object" in warnings[0]
    assert "#3" in warnings[2]
    assert "2607.99999" in warnings[2]
    assert "not an arXiv id" in warnings[3]


def test_missing_optional_fields_become_none_or_empty() -> None:
    body = json.dumps([{"paper": {"id": "2401.00001", "title": "Bare"}}])

    (paper,) = parse_daily_json(body, date(2024, 1, 2)).papers

    assert paper == Paper(id="2401.00001", title="Bare", abstract="", listed_on=(date(2024, 1, 2),))


def test_title_falls_back_to_the_top_level_title() -> None:
    body = json.dumps([{"paper": {"id": "2401.00001"}, "title": " Top\n  level ", "summary": "S"}])

    (paper,) = parse_daily_json(body, date(2024, 1, 2)).papers

    assert (paper.title, paper.abstract) == ("Top level", "S")


def test_new_meaning_top_level_published_at_is_not_a_listing_date() -> None:
    # Between 2025-03-12 and 2025-03-17 the top-level time was the arXiv time minus 4 h and
    # submittedOnDailyAt did not exist yet: fall back to the requested day.
    item = {
        "paper": {"id": "2503.01234", "title": "T", "publishedAt": "2025-03-10T07:00:00.000Z"},
        "publishedAt": "2025-03-10T03:00:00.000Z",
    }

    (paper,) = parse_daily_json(json.dumps([item]), date(2025, 3, 14)).papers

    assert paper.listed_on == (date(2025, 3, 14),)


def test_empty_list_is_an_empty_day() -> None:
    assert parse_daily_json(b"[]", date(2026, 8, 1)) == DailyPage(
        day=date(2026, 8, 1), papers=(), skipped=0, source="api"
    )


@pytest.mark.parametrize(
    "body",
    [b"", b"<html>502 Bad Gateway</html>", b'{"error": "Invalid date"}', b"null", b"\xff\xfe\x00"],
    ids=["empty", "html", "object", "null", "bad-bytes"],
)
def test_malformed_page_is_a_parse_error(body: bytes) -> None:
    with pytest.raises(ParseError, match="daily papers list"):
        parse_daily_json(body, date(2026, 8, 1))


@pytest.mark.parametrize(
    "body",
    [b"[]", b"{}", b'{"id": "2608.09888"}', b"oops"],
    ids=["list", "empty", "untitled", "text"],
)
def test_malformed_single_paper_is_a_parse_error(body: bytes) -> None:
    with pytest.raises(ParseError):
        parse_paper_json(body)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2608.09888", True),
        ("2405.1573", True),
        ("2405.15738v2", True),
        ("hep-th/9901001", True),
        ("math.GT/0309136", True),
        ("2608.09888 ", False),
        ("../2608.09888", False),
        ("", False),
        ("llama", False),
    ],
)
def test_is_arxiv_id(value: str, expected: bool) -> None:
    assert is_arxiv_id(value) is expected


# --- property: whatever JSON arrives, only ParseError escapes ---------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=8), children, max_size=5)
    ),
    max_leaves=20,
)
ITEM_KEYS = ["id", "title", "summary", "authors", "publishedAt", "submittedOnDailyAt", "upvotes"]
ITEM_KEYS += ["githubRepo", "githubStars", "projectPage", "ai_summary", "ai_keywords"]
ITEM_KEYS += ["organization", "numComments", "thumbnail", "mediaUrl", "name", "fullname"]
item_like = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.text()
    | st.sampled_from(["2401.00001", "2024-05-27T03:50:58.348Z", "0001-01-01T00:00:00+14:00"]),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.sampled_from([*ITEM_KEYS, "paper"]), children, max_size=8)
    ),
    max_leaves=25,
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(json_values, st.lists(item_like, max_size=5)))
def test_any_json_value_parses_or_raises_parse_error(value: object) -> None:
    try:
        page = parse_daily_json(json.dumps(value), SOME_DAY)
    except ParseError:
        assert not isinstance(value, list)
        return
    assert isinstance(value, list)
    assert len(page.papers) + page.skipped == len(value)


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=64))
def test_any_bytes_parse_or_raise_parse_error(body: bytes) -> None:
    with contextlib.suppress(ParseError):
        parse_daily_json(body, SOME_DAY)


@settings(max_examples=100, deadline=None)
@given(
    st.text(
        alphabet=st.sampled_from("<>/=\"' adiv3h[]{}:article href papers 2401.00001"), max_size=200
    )
)
def test_any_html_parses_or_raises_parse_error(html: str) -> None:
    with contextlib.suppress(ParseError):
        parse_daily_html(html, SOME_DAY)
