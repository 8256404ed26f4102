"""Private reading lists: save and forget papers, list them newest first, export BibTeX.

Used by the ``/bookmarks`` commands, the Bookmark button and the bookmark reaction. Every method
takes the acting user's id and touches only that user's bookmarks.

A bookmark is saved before anything slow happens. When the paper is not stored yet, its details
are then fetched from Hugging Face; if Hugging Face is down the bookmark stays saved with its
details pending, and they are fetched again whenever the list or the export is next shown (or the
paper is bookmarked again). A reaction has nobody to tell about a failure, so it must never be
lost: the 🔖 stays on the message and the user rightly believes the paper is saved.

Taking a 🔖 off deletes nothing: Discord's reaction-remove event names the member who reacted,
whoever removed the reaction (a moderator may), so it cannot tell "I changed my mind" from
"a moderator tidied up". Members un-bookmark with the Bookmark button or ``/bookmarks remove``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime

from bot.bibtex import export_bibtex
from bot.catalog import Catalog, normalise_paper_id
from bot.errors import PaperBotError
from bot.hf.parse import is_arxiv_id
from bot.ingest import IngestService
from bot.models import Paper
from bot.similar import MAX_SEEDS, SimilarService
from bot.store.bookmarks import BookmarkMatch, BookmarkRepo
from bot.store.db import utc_now
from bot.store.feed import PostRepo
from bot.store.papers import PaperRepo
from bot.store.similar import SimilarRepo

log = logging.getLogger(__name__)

PAGE_SIZE = 10
SUGGESTION_LIMIT = 25  # Discord's autocomplete limit
# Details fetched per list or export while Hugging Face keeps answering: bounds the wait.
DETAIL_FETCHES_PER_REQUEST = 10
EXPORT_FILENAME = "bookmarks.bib"
RECOMMENDATIONS = 15  # the best matches, then shown newest first


class NotBookmarked(PaperBotError):
    """The user asked to remove a paper that is not in their bookmarks."""


@dataclass(frozen=True, slots=True)
class BookmarkChange:
    """What a save, remove or toggle did, for the user's short confirmation."""

    paper_id: str
    saved: bool  # whether the paper is bookmarked now
    changed: bool  # False when it already was (or already was not)
    total: int  # the user's bookmarks afterwards
    title: str | None = None  # None while the paper's details are not stored
    details_pending: bool = False  # saved, but Hugging Face could not be asked for details


@dataclass(frozen=True, slots=True)
class SavedPaper:
    """One entry of a reading list. ``details_pending``: ``paper`` is only a placeholder."""

    paper: Paper
    saved_at: datetime
    details_pending: bool = False


@dataclass(frozen=True, slots=True)
class BookmarkPage:
    """One page of a reading list; ``page`` counts from 1."""

    entries: tuple[SavedPaper, ...]
    page: int
    pages: int
    total: int


@dataclass(frozen=True, slots=True)
class Recommendation:
    """A paper like some of the user's bookmarks: ``because`` is the saved one it is most like."""

    paper: Paper
    because: Paper
    why: str  # "shares: …; same author: …" (may be empty)
    score: float  # how alike (higher: more), for ordering among equals


@dataclass(frozen=True, slots=True)
class Recommendations:
    """``saved`` 0: the user has no bookmarks yet (tell them how to start)."""

    entries: tuple[Recommendation, ...]
    saved: int


@dataclass(frozen=True, slots=True)
class BibtexExport:
    """A user's bookmarks as a ``.bib`` file (``count`` 0: nothing to export)."""

    text: str
    count: int
    details_pending: int = 0
    filename: str = EXPORT_FILENAME


def pending_placeholder(paper_id: str) -> Paper:
    """Stands in for a paper whose details Hugging Face has not given us yet."""
    return Paper(id=paper_id, title=f"arXiv {paper_id} (details not fetched yet)", abstract="")


class BookmarkService:
    """Bookmarks for the commands, the button and the reaction; one user at a time."""

    def __init__(
        self,
        bookmarks: BookmarkRepo,
        papers: PaperRepo,
        ingest: IngestService,
        posts: PostRepo,
        *,
        clock: Callable[[], datetime] = utc_now,
        page_size: int = PAGE_SIZE,
        similar: SimilarService | None = None,
    ) -> None:
        self.bookmarks = bookmarks
        self.papers = papers
        self.ingest = ingest
        self.posts = posts
        self.clock = clock
        self.page_size = page_size
        self.similar = similar or SimilarService(SimilarRepo(papers.db), Catalog(papers, ingest))

    # -- saving and forgetting ---------------------------------------------------------------

    async def add(
        self, user_id: int, paper_id: str, *, guild_id: int | None = None
    ) -> BookmarkChange:
        """Save the paper (again: nothing changes, but missing details are fetched).

        ``guild_id``: the server it is saved in (None in a DM), for that server's top list.
        """
        _check_id(paper_id)
        changed = await self.bookmarks.add(user_id, paper_id, now=self.clock(), guild_id=guild_id)
        return await self._saved(user_id, paper_id, changed=changed)

    async def toggle(
        self, user_id: int, paper_id: str, *, guild_id: int | None = None
    ) -> BookmarkChange:
        """Save the paper if it is not saved, else forget it (the Bookmark button)."""
        _check_id(paper_id)
        if await self.bookmarks.toggle(user_id, paper_id, now=self.clock(), guild_id=guild_id):
            return await self._saved(user_id, paper_id, changed=True)
        return await self._removed(user_id, paper_id)

    async def remove(self, user_id: int, reference: str) -> BookmarkChange:
        """Forget one of the user's bookmarks, named by id, link or (unique) title words."""
        paper_id = await self._own_bookmark(user_id, reference)
        if paper_id is None or not await self.bookmarks.remove(user_id, paper_id):
            raise NotBookmarked(
                "That paper is not in your bookmarks: pick one from the suggestions, "
                "or see `/bookmarks list`."
            )
        return await self._removed(user_id, paper_id)

    async def clear(self, user_id: int) -> int:
        """Forget all of the user's bookmarks; how many there were."""
        return await self.bookmarks.clear(user_id)

    async def count(self, user_id: int) -> int:
        return await self.bookmarks.count(user_id)

    # -- reactions on paper posts -------------------------------------------------------------

    async def bookmark_message(
        self, user_id: int, message_id: int, *, guild_id: int | None = None
    ) -> BookmarkChange | None:
        """Save the paper a bot message shows; None when the message shows no paper."""
        paper_id = await self.posts.paper_for_message(message_id)
        if paper_id is None:
            return None
        return await self.add(user_id, paper_id, guild_id=guild_id)

    # -- reading ------------------------------------------------------------------------------

    async def pages(self, user_id: int) -> tuple[BookmarkPage, ...]:
        """The user's reading list, newest first, in pages (one empty page when there is none)."""
        rows = await self.bookmarks.newest_first(user_id)
        papers, pending = await self._papers_for([row.paper_id for row in rows])
        entries = [
            SavedPaper(
                papers.get(row.paper_id) or pending_placeholder(row.paper_id),
                row.saved_at,
                details_pending=row.paper_id in pending,
            )
            for row in rows
        ]
        size = self.page_size
        count = max(1, -(-len(entries) // size))
        return tuple(
            BookmarkPage(
                tuple(entries[index * size : (index + 1) * size]),
                page=index + 1,
                pages=count,
                total=len(entries),
            )
            for index in range(count)
        )

    async def export(self, user_id: int) -> BibtexExport:
        """The user's bookmarks as BibTeX, newest first."""
        rows = await self.bookmarks.newest_first(user_id)
        papers, pending = await self._papers_for([row.paper_id for row in rows])
        # A paper without details still cites correctly: its eprint, url and year come from its id.
        chosen = [papers.get(row.paper_id) or Paper(row.paper_id, "", "") for row in rows]
        return BibtexExport(export_bibtex(chosen), count=len(chosen), details_pending=len(pending))

    async def recommend(self, user_id: int) -> Recommendations:
        """Stored papers like the user's most recent bookmarks, none already saved.

        The best RECOMMENDATIONS matches, newest listing first (then best match first).
        """
        rows = await self.bookmarks.newest_first(user_id)
        saved = [row.paper_id for row in rows]
        stored = await self.papers.get_many(saved[:MAX_SEEDS])
        seeds = [stored[paper_id] for paper_id in saved[:MAX_SEEDS] if paper_id in stored]
        found = await self.similar.like(seeds, exclude=set(saved), limit=RECOMMENDATIONS)
        found.sort(key=lambda n: (n.paper.latest_listing or date.min, n.score), reverse=True)
        entries = tuple(
            Recommendation(n.paper, stored[n.because or seeds[0].id], n.why(), n.score)
            for n in found
        )
        return Recommendations(entries, saved=len(saved))

    async def suggest(self, user_id: int, text: str) -> list[BookmarkMatch]:
        """The user's own bookmarks matching ``text`` (id or title words), for autocomplete."""
        return await self.bookmarks.search(user_id, text[:100], limit=SUGGESTION_LIMIT)

    # -- helpers ------------------------------------------------------------------------------

    async def _saved(self, user_id: int, paper_id: str, *, changed: bool) -> BookmarkChange:
        paper, pending = await self._details(paper_id)
        return BookmarkChange(
            paper_id,
            saved=True,
            changed=changed,
            total=await self.bookmarks.count(user_id),
            title=paper.title if paper else None,
            details_pending=pending,
        )

    async def _removed(self, user_id: int, paper_id: str) -> BookmarkChange:
        paper = await self.papers.get(paper_id)  # only what is stored: no need to ask HF now
        return BookmarkChange(
            paper_id,
            saved=False,
            changed=True,
            total=await self.bookmarks.count(user_id),
            title=paper.title if paper else None,
        )

    async def _details(self, paper_id: str) -> tuple[Paper | None, bool]:
        """The stored paper, or one fetched now; (None, True) when Hugging Face is not answering."""
        try:
            paper = await self.ingest.paper(paper_id)
        except PaperBotError as exc:  # down, or an answer we could not read: keep the bookmark
            log.warning(
                "bookmark of %s saved without its details, to be fetched when the list or "
                "export is next shown: %s",
                paper_id,
                exc.user_message,
            )
            return None, True
        if paper is None:
            log.warning("bookmark of %s saved, but Hugging Face does not know that paper", paper_id)
        return paper, False

    async def _papers_for(self, paper_ids: Sequence[str]) -> tuple[dict[str, Paper], set[str]]:
        """Stored papers by id, fetching a few missing ones; the ids still without details."""
        papers = await self.papers.get_many(paper_ids)
        missing = [paper_id for paper_id in paper_ids if paper_id not in papers]
        pending = set(missing)
        for paper_id in missing[:DETAIL_FETCHES_PER_REQUEST]:
            try:
                paper = await self.ingest.paper(paper_id)
            except PaperBotError as exc:
                # Hugging Face is down: asking about the next paper would only wait again.
                log.warning("details of %d bookmarked papers still pending: %s", len(pending), exc)
                break
            if paper is not None:
                papers[paper_id] = paper
                pending.discard(paper_id)
        return papers, pending

    async def _own_bookmark(self, user_id: int, reference: str) -> str | None:
        """Which of the user's bookmarks ``reference`` names (never anyone else's)."""
        text = reference.strip()
        for candidate in (text, normalise_paper_id(text)):
            if candidate and await self.bookmarks.has(user_id, candidate):
                return candidate
        matches = await self.bookmarks.search(user_id, text, limit=2) if text else []
        return matches[0].paper_id if len(matches) == 1 else None


def _check_id(paper_id: str) -> None:
    if not is_arxiv_id(paper_id):
        raise PaperBotError("That does not look like an arXiv paper, so it cannot be bookmarked.")
