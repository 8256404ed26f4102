"""A subscription's filters, and why a paper passes or fails them. Pure: no I/O, no Discord.

Keywords are a comma-separated any-of list; ``-word`` excludes. A keyword matches at the start of
a word, case-insensitively, in the title, the abstract or Hugging Face's keywords: ``agent``
matches "agents" and "agentic" but ``rl`` does not match "world".

Matching is planned for many subscriptions at once, so it is kept cheap: a paper's text is
normalised once (:class:`PaperText`) and shared by every filter, and each keyword is first looked
for as a plain substring; only a hit is confirmed at a word start.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache

from bot.errors import InvalidInput
from bot.models import Paper

MAX_KEYWORDS = 25
MAX_KEYWORD_LENGTH = 60
MAX_MIN_UPVOTES = 100_000
# Given as ``keywords``, this clears them (an omitted option keeps what is stored).
CLEAR_KEYWORDS = "*"

# Where a keyword is looked for, in the order an explanation names them.
_FIELDS = ("title", "keywords", "abstract")


def _normalise(text: str) -> str:
    return unicodedata.normalize("NFKC", text).casefold()


def _is_word_char(char: str) -> bool:
    # Exactly what ``\w`` means in a ``str`` pattern.
    return char.isalnum() or char == "_"


class _Term:
    r"""One keyword, compiled for fast checks against normalised text.

    A match is the keyword's first word at the start of a word (unless the keyword starts with
    a non-word character, like "c++"), followed by its other words separated by spaces or
    hyphens ("vision language" matches "vision-language"): what the regex
    ``(?<!\w)vision[\s\-]+language`` finds, found faster. Most keywords are absent from most
    papers, and a plain substring test of the longest word rules them out first.
    """

    __slots__ = ("anchored", "first", "probe", "rest", "words")

    def __init__(self, term: str) -> None:
        self.words = tuple(word for word in re.split(r"[\s\-]+", term) if word)
        self.first = self.words[0] if self.words else ""
        self.probe = max(self.words, key=len, default="")
        self.anchored = bool(self.first) and _is_word_char(self.first[0])
        # The whole phrase, tried only where its first word starts a word.
        self.rest = (
            re.compile(r"[\s\-]+".join(re.escape(word) for word in self.words))
            if len(self.words) > 1
            else None
        )

    def search(self, text: str) -> bool:
        """Whether the keyword occurs in ``text`` (see the class)."""
        if self.probe not in text:
            return False
        first, rest, anchored = self.first, self.rest, self.anchored
        at = text.find(first)
        while at != -1:
            if (not anchored or at == 0 or not _is_word_char(text[at - 1])) and (
                rest is None or rest.match(text, at) is not None
            ):
                return True
            at = text.find(first, at + 1)
        return False


@lru_cache(maxsize=4096)
def _term(term: str) -> _Term:
    return _Term(term)


@dataclass(frozen=True, slots=True)
class PaperText:
    """A paper with its searchable text normalised once, to be checked by many filters.

    It also remembers, per keyword, whether the paper mentions it: subscriptions share
    keywords, so a plan over many of them looks each keyword up once per paper.
    """

    paper: Paper
    title: str
    keywords: str
    abstract: str
    combined: str  # all three fields: a single word found here is in one of them
    listed: date | None  # the paper's latest listing day
    _mentions: dict[str, bool] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def of(cls, paper: Paper) -> PaperText:
        title = _normalise(paper.title)
        keywords = _normalise("\n".join(paper.ai_keywords))
        abstract = _normalise(paper.abstract)
        combined = f"{title}\n{keywords}\n{abstract}"
        return cls(paper, title, keywords, abstract, combined, paper.latest_listing)

    def part(self, name: str) -> str:
        return {"title": self.title, "keywords": self.keywords, "abstract": self.abstract}[name]

    def find(self, term: str) -> str | None:
        """The first field (title, keywords, abstract) that mentions ``term``, if any."""
        if not self.mentions(term):
            return None
        compiled = _term(term)
        return next((name for name in _FIELDS if compiled.search(self.part(name))), None)

    def mentions(self, term: str) -> bool:
        """Whether the title, the keywords or the abstract mention ``term``."""
        known = self._mentions.get(term)
        if known is not None:
            return known
        compiled = _term(term)
        found = compiled.search(self.combined)
        if found and len(compiled.words) != 1:
            # A phrase may run across two fields in the combined text ("…vision" +
            # "language…"): confirm it in one field.
            found = any(compiled.search(self.part(name)) for name in _FIELDS)
        self._mentions[term] = found
        return found


def parse_keywords(text: str | None) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """``"diffusion, agents, -survey"`` → (("diffusion", "agents"), ("survey",)).

    Raises InvalidInput for too many or too long keywords, or a lone ``-``.
    """
    include: list[str] = []
    exclude: list[str] = []
    for raw in (text or "").split(","):
        term = " ".join(_normalise(raw).split())
        if not term:
            continue
        negated = term.startswith("-")
        if negated:
            term = term[1:].strip()
            if not term:
                raise InvalidInput("A `-` must be followed by the word to exclude, like `-survey`.")
        if len(term) > MAX_KEYWORD_LENGTH:
            raise InvalidInput(
                f"The keyword {term[:20]!r}… is too long: at most {MAX_KEYWORD_LENGTH} characters."
            )
        target = exclude if negated else include
        if term not in target:
            target.append(term)
    if len(include) + len(exclude) > MAX_KEYWORDS:
        raise InvalidInput(f"That is too many keywords: at most {MAX_KEYWORDS}.")
    return tuple(include), tuple(exclude)


def check_min_upvotes(value: int) -> int:
    """``value`` if it is a valid ``min_upvotes``; raises InvalidInput otherwise."""
    if not 0 <= value <= MAX_MIN_UPVOTES:
        raise InvalidInput(f"min_upvotes must be between 0 and {MAX_MIN_UPVOTES}.")
    return value


def parse_new_keywords(text: str) -> str:
    """Keywords an admin typed, in canonical form; ``*`` (CLEAR_KEYWORDS) clears them (``""``).

    Unlike an omitted option, text that names no keyword at all (``","``) is refused: it is
    more likely a slip than a wish to receive every paper.
    """
    if text.strip() == CLEAR_KEYWORDS:
        return ""
    include, exclude = parse_keywords(text)
    if CLEAR_KEYWORDS in include or CLEAR_KEYWORDS in exclude:
        raise InvalidInput(
            f"`{CLEAR_KEYWORDS}` clears the keywords: give it alone, without other keywords."
        )
    if not include and not exclude:
        raise InvalidInput(
            "That names no keyword. To receive every paper, clear the keywords with "
            f"`{CLEAR_KEYWORDS}`."
        )
    return FeedFilter(include=include, exclude=exclude).keywords_text


@dataclass(frozen=True, slots=True)
class Verdict:
    """Whether a paper passes, and one sentence saying why (for ``/feed preview``)."""

    passed: bool
    reason: str


@dataclass(frozen=True)
class FeedFilter:
    """``min_upvotes`` and keywords to include (any of) and exclude (none of)."""

    min_upvotes: int = 0
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()

    @classmethod
    def parse(cls, keywords: str | None, min_upvotes: int | None = 0) -> FeedFilter:
        """Validate user input into a filter; raises InvalidInput with a readable sentence."""
        upvotes = check_min_upvotes(min_upvotes or 0)
        include, exclude = parse_keywords(keywords)
        return cls(min_upvotes=upvotes, include=include, exclude=exclude)

    @property
    def keywords_text(self) -> str:
        """The canonical text stored and shown: ``"diffusion, agents, -survey"``."""
        return ", ".join([*self.include, *(f"-{term}" for term in self.exclude)])

    def describe(self) -> str:
        """A short human description: ``"≥ 10 upvotes; any of: diffusion; none of: survey"``."""
        parts = []
        if self.min_upvotes:
            parts.append(f"≥ {self.min_upvotes} upvotes")
        if self.include:
            parts.append("any of: " + ", ".join(self.include))
        if self.exclude:
            parts.append("none of: " + ", ".join(self.exclude))
        return "; ".join(parts) or "every paper"

    def explain(self, paper: Paper | PaperText) -> Verdict:
        """Check ``paper``: exclusions first, then keywords, then upvotes (which change)."""
        text = paper if isinstance(paper, PaperText) else PaperText.of(paper)
        upvotes = text.paper.upvotes
        for term in self.exclude:
            where = text.find(term)
            if where is not None:
                return Verdict(False, f"excluded: mentions “{term}” in the {where}")
        matched = ""
        if self.include:
            for term in self.include:
                where = text.find(term)
                if where is not None:
                    matched = f"mentions “{term}” in the {where}"
                    break
            else:
                return Verdict(False, "mentions none of: " + ", ".join(self.include))
        if upvotes < self.min_upvotes:
            return Verdict(False, f"{upvotes} upvotes, needs {self.min_upvotes}")
        shown = f"{upvotes} upvotes"
        return Verdict(True, f"{matched}, {shown}" if matched else shown)

    def matches(self, paper: Paper | PaperText) -> bool:
        """``explain(paper).passed``, without composing the explanation (the planning path)."""
        upvotes = paper.paper.upvotes if isinstance(paper, PaperText) else paper.upvotes
        if upvotes < self.min_upvotes:
            return False
        if not (self.include or self.exclude):
            return True
        mentions = (paper if isinstance(paper, PaperText) else PaperText.of(paper)).mentions
        # map(), not a generator: this runs for every (subscription, paper) pair of a plan.
        if any(map(mentions, self.exclude)):
            return False
        return not self.include or any(map(mentions, self.include))
