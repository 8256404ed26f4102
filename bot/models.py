"""Plain values the core passes around. No I/O, no Discord."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Literal

HF_PAPERS_URL = "https://huggingface.co/papers/"
# The first day Hugging Face Daily Papers listed papers: nothing is listed before it.
FIRST_LISTING_DAY = date(2023, 5, 4)
ARXIV_ABS_URL = "https://arxiv.org/abs/"
ARXIV_PDF_URL = "https://arxiv.org/pdf/"

# How an auto-post shows a paper: a few lines with an Abstract button, or today's full card.
CardStyle = Literal["compact", "full"]
CARD_STYLES: tuple[CardStyle, ...] = ("compact", "full")
# How a subscription posts: one post per paper, or one digest a day (bot/feed.py).
SubscriptionMode = Literal["posts", "digest"]


@dataclass(frozen=True, slots=True)
class Paper:
    """One paper as Hugging Face lists it, keyed by its arXiv id.

    ``listed_on`` holds every Daily Papers date the paper appeared on (usually one).
    ``first_seen_at``/``updated_at`` are set only on papers read back from the store.
    """

    id: str
    title: str
    abstract: str
    authors: tuple[str, ...] = ()
    published_at: datetime | None = None
    listed_on: tuple[date, ...] = ()
    upvotes: int = 0
    num_comments: int = 0
    thumbnail: str | None = None
    github_repo: str | None = None
    github_stars: int | None = None
    project_page: str | None = None
    organization: str | None = None
    ai_summary: str | None = None
    ai_keywords: tuple[str, ...] = ()
    first_seen_at: datetime | None = None
    updated_at: datetime | None = None

    @property
    def hf_url(self) -> str:
        return HF_PAPERS_URL + self.id

    @property
    def arxiv_url(self) -> str:
        return ARXIV_ABS_URL + self.id

    @property
    def pdf_url(self) -> str:
        return ARXIV_PDF_URL + self.id

    @property
    def latest_listing(self) -> date | None:
        return max(self.listed_on) if self.listed_on else None


@dataclass(frozen=True, slots=True)
class DailyPage:
    """What one Hugging Face listing request produced: the papers and the items skipped."""

    day: date
    papers: tuple[Paper, ...]
    skipped: int = 0
    source: str = "api"


PeriodKind = Literal["week", "month"]  # the `/api/daily_papers` parameter that names a period


@dataclass(frozen=True, slots=True)
class PeriodPage:
    """Hugging Face's list for a week or a month (``period``: "2025-W40", "2025-10")."""

    period: str
    papers: tuple[Paper, ...]
    skipped: int = 0


@dataclass(frozen=True, slots=True)
class UpsertResult:
    """How an upsert changed the store."""

    new: tuple[str, ...] = ()
    updated: tuple[str, ...] = ()
    unchanged: int = 0


class SearchHit:
    """A paper found by full-text search, with a snippet marking the matched words.

    The paper and the snippet may be given as zero-argument callables, made when first read: a
    reply renders one page of hits at a time, and most hits of a search are never shown.
    """

    __slots__ = ("_paper", "_snippet", "paper_id", "score")

    def __init__(
        self,
        paper: Paper | Callable[[], Paper],
        snippet: str | Callable[[], str],
        score: float,
        *,
        paper_id: str | None = None,
    ) -> None:
        if paper_id is None:
            assert isinstance(paper, Paper), "a lazily made paper needs its paper_id"
            paper_id = paper.id
        self.paper_id = paper_id
        self.score = score
        self._paper = paper
        self._snippet = snippet

    @property
    def paper(self) -> Paper:
        if not isinstance(self._paper, Paper):
            self._paper = self._paper()
        return self._paper

    @property
    def snippet(self) -> str:
        if not isinstance(self._snippet, str):
            self._snippet = self._snippet()
        return self._snippet

    def __repr__(self) -> str:
        return f"SearchHit(paper_id={self.paper_id!r}, score={self.score!r})"
