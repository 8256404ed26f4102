"""Plain values the core passes around. No I/O, no Discord."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Literal

HF_PAPERS_URL = "https://huggingface.co/papers/"
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


@dataclass(frozen=True, slots=True)
class SearchHit:
    """A paper found by full-text search, with a snippet marking the matched words."""

    paper: Paper
    snippet: str
    score: float
