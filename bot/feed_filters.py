"""A subscription's filters, and why a paper passes or fails them. Pure: no I/O, no Discord.

Keywords are a comma-separated any-of list; ``-word`` excludes. A keyword matches at the start of
a word, case-insensitively, in the title, the abstract or Hugging Face's keywords: ``agent``
matches "agents" and "agentic" but ``rl`` does not match "world".
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import cached_property

from bot.errors import InvalidInput
from bot.models import Paper

MAX_KEYWORDS = 25
MAX_KEYWORD_LENGTH = 60
MAX_MIN_UPVOTES = 100_000

# Where a keyword is looked for, in the order an explanation names them.
_FIELDS = ("title", "keywords", "abstract")


def _normalise(text: str) -> str:
    return unicodedata.normalize("NFKC", text).casefold()


def _pattern(term: str) -> re.Pattern[str]:
    # Words of a phrase may be separated by spaces or hyphens in the paper ("vision-language").
    words = [re.escape(word) for word in re.split(r"[\s\-]+", term) if word]
    body = r"[\s\-]+".join(words)
    # Start-of-word anchor, unless the term itself starts with a non-word character ("c++").
    prefix = r"(?<!\w)" if words and re.match(r"\w", words[0]) else ""
    return re.compile(prefix + body)


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
        upvotes = min_upvotes or 0
        if not 0 <= upvotes <= MAX_MIN_UPVOTES:
            raise InvalidInput(f"min_upvotes must be between 0 and {MAX_MIN_UPVOTES}.")
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

    @cached_property
    def _patterns(self) -> dict[str, re.Pattern[str]]:
        return {term: _pattern(term) for term in (*self.include, *self.exclude)}

    def _find(self, term: str, texts: dict[str, str]) -> str | None:
        pattern = self._patterns[term]
        return next((name for name in _FIELDS if pattern.search(texts[name])), None)

    def explain(self, paper: Paper) -> Verdict:
        """Check ``paper``: exclusions first, then keywords, then upvotes (which change)."""
        texts = {
            "title": _normalise(paper.title),
            "keywords": _normalise("\n".join(paper.ai_keywords)),
            "abstract": _normalise(paper.abstract),
        }
        for term in self.exclude:
            where = self._find(term, texts)
            if where is not None:
                return Verdict(False, f"excluded: mentions “{term}” in the {where}")
        matched = ""
        if self.include:
            for term in self.include:
                where = self._find(term, texts)
                if where is not None:
                    matched = f"mentions “{term}” in the {where}"
                    break
            else:
                return Verdict(False, "mentions none of: " + ", ".join(self.include))
        if paper.upvotes < self.min_upvotes:
            return Verdict(False, f"{paper.upvotes} upvotes, needs {self.min_upvotes}")
        upvotes = f"{paper.upvotes} upvotes"
        return Verdict(True, f"{matched}, {upvotes}" if matched else upvotes)

    def matches(self, paper: Paper) -> bool:
        return self.explain(paper).passed
