"""Pure parsing of Hugging Face Daily Papers responses into `Paper` values. No I/O.

Three inputs are understood: the `/api/daily_papers` JSON array, the `/papers?date=` HTML page
(its hydration JSON, or the `<article>` cards when that is missing) and the flat
`/api/papers/{id}` object. Every optional field is read defensively: Hugging Face omits fields
rather than sending null, and the item shape has changed many times since 2024.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime
from typing import Any

from selectolax.lexbor import LexborHTMLParser, LexborNode

from bot.errors import ParseError
from bot.models import DailyPage, Paper, PeriodPage

log = logging.getLogger(__name__)

SOURCE_API = "api"
SOURCE_HTML = "html"
SOURCE_HTML_CARDS = "html-cards"

# The hydration blob: same item shape as the API, entity-decoded by the parser for us.
# Not anchored on `main > div`: RSSHub had to relax exactly that when the page changed.
DAILY_PAPERS_PROPS_SELECTOR = 'div[data-target="DailyPapers"]'
DAILY_PAPERS_PROPS_ATTR = "data-props"
DAILY_PAPERS_PROPS_KEY = "dailyPapers"

# The per-paper cards (2024 layout, plus the 2025-26 `label` upvote box).
CARD_SELECTOR = "article"
CARD_LINK_SELECTOR = "h3 a[href]"
# `div.leading-none` alone would match the "Submitted by" badge first.
CARD_UPVOTES_SELECTORS = ("div.shadow-alternate > div.leading-none", "label div.leading-none")
CARD_COMMENTS_SELECTOR = 'a[href$="#community"]'
# The cover image is a direct child of the cover link; avatars sit in <li>/<div>, and a card
# whose cover is a <video> has no thumbnail at all.
CARD_THUMBNAIL_SELECTOR = "a > img[src]"

# New-style (2301.01234, optional version) and old-style (hep-th/9901001) arXiv identifiers.
ARXIV_ID_RE = re.compile(r"(?:\d{4}\.\d{4,5}|[a-z][a-z.-]*(?:\.[A-Z]{2})?/\d{7})(?:v\d+)?")
_COUNT_RE = re.compile(r"(\d+(?:\.\d+)?)\s*([kKmM]?)")
_IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".gif")


class _SkipItem(Exception):
    """Raised inside item parsing when an item cannot become a Paper."""


def is_arxiv_id(value: str) -> bool:
    """True when `value` is shaped like an arXiv identifier (new or old style)."""
    return ARXIV_ID_RE.fullmatch(value) is not None


def clean_text(value: str) -> str:
    """Collapse every run of whitespace (arXiv hard line breaks included) into one space."""
    return " ".join(value.split())


# --- small typed readers: never trust a key's presence or type -------------------------------


def _text(value: object) -> str | None:
    """A cleaned, non-empty string, or None."""
    if not isinstance(value, str):
        return None
    cleaned = clean_text(value)
    return cleaned or None


def _count(value: object) -> int | None:
    """A non-negative integer count; bools are not counts."""
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    return max(value, 0)


def _timestamp(value: object) -> datetime | None:
    """An aware UTC datetime from Hugging Face's ISO 8601 strings (`…T00:00:00.000Z`)."""
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
        if parsed.tzinfo is None:
            # Hugging Face always sends `Z`; a naive value is still meant as UTC.
            return parsed.replace(tzinfo=UTC)
        return parsed.astimezone(UTC)
    except (ValueError, OverflowError):  # OverflowError: year 1 or 9999 shifted out of range
        return None


def _mapping(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _authors(value: object) -> tuple[str, ...]:
    # Hidden authors are still real authors of the paper; only the HF account link is hidden.
    if not isinstance(value, list):
        return ()
    names = (_text(_mapping(author).get("name")) for author in value)
    return tuple(name for name in names if name)


def _keywords(value: object) -> tuple[str, ...]:
    if not isinstance(value, list):
        return ()
    words = (_text(word) for word in value)
    return tuple(word for word in words if word)


def _organization(*candidates: object) -> str | None:
    for candidate in candidates:
        org = _mapping(candidate)
        name = _text(org.get("fullname")) or _text(org.get("name"))
        if name:
            return name
    return None


def _thumbnail(item: Mapping[str, Any]) -> str | None:
    thumbnail = _text(item.get("thumbnail"))
    if thumbnail:
        return thumbnail
    # Before June 2024 the social thumbnail was sent as a singular `mediaUrl`.
    media_url = _text(item.get("mediaUrl"))
    if media_url and media_url.lower().endswith(_IMAGE_SUFFIXES):
        return media_url
    return None


def _listed_on(
    paper: Mapping[str, Any], item: Mapping[str, Any], requested_day: date | None
) -> tuple[date, ...]:
    submitted = _timestamp(paper.get("submittedOnDailyAt"))
    if submitted is not None:
        return (submitted.date(),)
    # Before 2025-03-17 the top-level publishedAt was the time the paper joined the list, so it
    # came after the arXiv time; from 2025-03-12 it is the arXiv time minus 4-5 h. Only the old
    # meaning is a listing date.
    listed = _timestamp(item.get("publishedAt"))
    published = _timestamp(paper.get("publishedAt"))
    if listed is not None and (published is None or listed >= published):
        return (listed.date(),)
    return (requested_day,) if requested_day is not None else ()


def _paper_from_item(item: object, requested_day: date | None) -> Paper:
    """Build a Paper from one `/api/daily_papers` item, or raise `_SkipItem` saying why."""
    if not isinstance(item, Mapping):
        raise _SkipItem(f"not an object ({type(item).__name__})")
    paper = _mapping(item.get("paper"))
    arxiv_id = paper.get("id")
    if not isinstance(arxiv_id, str) or not arxiv_id:
        raise _SkipItem("no paper.id")
    if not is_arxiv_id(arxiv_id):
        raise _SkipItem(f"paper.id {arxiv_id[:40]!r} is not an arXiv id")
    title = _text(paper.get("title")) or _text(item.get("title"))
    if title is None:
        raise _SkipItem(f"paper {arxiv_id} has no title")
    return Paper(
        id=arxiv_id,
        title=title,
        abstract=_text(paper.get("summary")) or _text(item.get("summary")) or "",
        authors=_authors(paper.get("authors")),
        published_at=_timestamp(paper.get("publishedAt")),
        listed_on=_listed_on(paper, item, requested_day),
        upvotes=_count(paper.get("upvotes")) or 0,
        num_comments=_count(item.get("numComments")) or 0,
        thumbnail=_thumbnail(item),
        github_repo=_text(paper.get("githubRepo")),
        github_stars=_count(paper.get("githubStars")),
        project_page=_text(paper.get("projectPage")),
        organization=_organization(item.get("organization"), paper.get("organization")),
        ai_summary=_text(paper.get("ai_summary")),
        ai_keywords=_keywords(paper.get("ai_keywords")),
    )


def _item_label(item: object, index: int) -> str:
    paper_id = _mapping(_mapping(item).get("paper")).get("id")
    return f"#{index} ({repr(paper_id)[:40]})" if paper_id is not None else f"#{index}"


def _parse_items(items: Iterable[object], requested_day: date, source: str) -> DailyPage:
    papers, skipped = _collect_items(items, requested_day, str(requested_day), source)
    return DailyPage(
        day=requested_day, papers=tuple(papers.values()), skipped=skipped, source=source
    )


def _collect_items(
    items: Iterable[object], requested_day: date | None, listing: str, source: str
) -> tuple[dict[str, Paper], int]:
    """The papers of a list by id (first copy kept), and how many items were skipped."""
    papers: dict[str, Paper] = {}
    skipped = 0
    for index, item in enumerate(items):
        try:
            paper = _paper_from_item(item, requested_day)
        except _SkipItem as why:
            skipped += 1
            log.warning(
                "Skipped %s daily-papers item %s for %s: %s",
                source,
                _item_label(item, index),
                listing,
                why,
            )
            continue
        if paper.id in papers:
            # Keep the first (higher-ranked) copy; count the repeat so totals still add up.
            skipped += 1
            log.warning("Skipped duplicate %s daily-papers item %s", source, paper.id)
            continue
        papers[paper.id] = paper
    return papers, skipped


def _load_json(body: str | bytes, what: str) -> object:
    try:
        return json.loads(body)
    except (ValueError, RecursionError) as exc:  # JSONDecodeError and UnicodeDecodeError
        raise ParseError(f"Hugging Face sent {what} that is not valid JSON ({exc}).") from exc


def parse_daily_json(body: str | bytes, requested_day: date) -> DailyPage:
    """Parse an `/api/daily_papers` body; bad items are skipped and counted, a bad page raises."""
    data = _load_json(body, "a daily papers list")
    if not isinstance(data, list):
        raise ParseError(
            f"Hugging Face sent a daily papers list that is a JSON {type(data).__name__}, "
            "not the expected array."
        )
    return _parse_items(data, requested_day, SOURCE_API)


def parse_period_json(body: str | bytes, period: str) -> PeriodPage:
    """Parse an `/api/daily_papers?week=…` or `?month=…` body: the same items as a day's list.

    Each paper's listing day is its own `submittedOnDailyAt`: the windows are not calendar-exact
    (a week's list may hold papers listed the Friday before), so no day is assumed for an item.
    """
    data = _load_json(body, f"the list for {period}")
    if not isinstance(data, list):
        raise ParseError(
            f"Hugging Face sent the list for {period} as a JSON {type(data).__name__}, "
            "not the expected array."
        )
    papers, skipped = _collect_items(data, None, period, SOURCE_API)
    return PeriodPage(period=period, papers=tuple(papers.values()), skipped=skipped)


def parse_paper_json(body: str | bytes) -> Paper:
    """Parse the flat `/api/papers/{id}` object (no `paper` wrapper) into a Paper."""
    data = _load_json(body, "a paper")
    if not isinstance(data, Mapping):
        raise ParseError(
            f"Hugging Face sent a paper that is a JSON {type(data).__name__}, not an object."
        )
    # The detail object is the `paper` part of a daily item; the listing-only fields are absent.
    try:
        return _paper_from_item({"paper": data}, None)
    except _SkipItem as why:
        raise ParseError(f"Hugging Face sent a paper we cannot use: {why}.") from None


# --- HTML ---------------------------------------------------------------------------------------


def _card_count(node: LexborNode | None) -> int | None:
    """Read `94`, ` 5 ` or `1.2k` from a card's counter."""
    if node is None:
        return None
    match = _COUNT_RE.search(node.text(strip=True).replace(",", ""))
    if match is None:
        return None
    number, suffix = float(match.group(1)), match.group(2).lower()
    return int(number * {"": 1, "k": 1_000, "m": 1_000_000}[suffix])


def _paper_from_card(card: LexborNode, requested_day: date) -> Paper:
    link = card.css_first(CARD_LINK_SELECTOR)
    if link is None:
        raise _SkipItem("no title link")
    href = link.attributes.get("href") or ""
    # Relative (`/papers/<id>`) in 2024; tolerate absolute links and `?`/`#` suffixes too.
    path = href.split("#", 1)[0].split("?", 1)[0].rstrip("/")
    arxiv_id = path.rsplit("/papers/", 1)[1] if "/papers/" in path else ""
    if not is_arxiv_id(arxiv_id):
        raise _SkipItem(f"link {href[:60]!r} does not name an arXiv id")
    title = _text(link.text())
    if title is None:
        raise _SkipItem(f"card {arxiv_id} has no title")
    upvotes = None
    for selector in CARD_UPVOTES_SELECTORS:
        upvotes = _card_count(card.css_first(selector))
        if upvotes is not None:
            break
    thumbnail = card.css_first(CARD_THUMBNAIL_SELECTOR)
    # Cards carry no abstract, author names (only claimed HF usernames) or dates.
    return Paper(
        id=arxiv_id,
        title=title,
        abstract="",
        listed_on=(requested_day,),
        upvotes=upvotes or 0,
        num_comments=_card_count(card.css_first(CARD_COMMENTS_SELECTOR)) or 0,
        thumbnail=_text(thumbnail.attributes.get("src")) if thumbnail is not None else None,
    )


def _parse_cards(cards: list[LexborNode], requested_day: date) -> DailyPage:
    papers: dict[str, Paper] = {}
    skipped = 0
    for index, card in enumerate(cards):
        try:
            paper = _paper_from_card(card, requested_day)
        except _SkipItem as why:
            skipped += 1
            log.warning("Skipped daily-papers card #%d for %s: %s", index, requested_day, why)
            continue
        if paper.id in papers:
            skipped += 1
            continue
        papers[paper.id] = paper
    return DailyPage(
        day=requested_day, papers=tuple(papers.values()), skipped=skipped, source=SOURCE_HTML_CARDS
    )


def parse_daily_html(html: str, requested_day: date) -> DailyPage:
    """Parse the `/papers?date=` page: its hydration JSON, else its `<article>` cards."""
    tree = LexborHTMLParser(html)
    props_node = tree.css_first(DAILY_PAPERS_PROPS_SELECTOR)
    blob_problem = "no DailyPapers hydration data"
    if props_node is not None:
        raw = props_node.attributes.get(DAILY_PAPERS_PROPS_ATTR)
        try:
            props = json.loads(raw) if raw else None
        except (ValueError, RecursionError):
            props = None
        items = props.get(DAILY_PAPERS_PROPS_KEY) if isinstance(props, dict) else None
        if isinstance(items, list):
            return _parse_items(items, requested_day, SOURCE_HTML)
        blob_problem = "DailyPapers hydration data without a readable paper list"
    cards = tree.css(CARD_SELECTOR)
    if cards:
        page = _parse_cards(cards, requested_day)
        if page.papers:
            log.warning("Daily papers page for %s: %s; read the cards", requested_day, blob_problem)
            return page
    raise ParseError(
        f"The Hugging Face papers page for {requested_day} has {blob_problem} and no paper cards."
    )
