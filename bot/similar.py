"""Similar papers ("more like this one") and "more like these" for recommendations.

The method, and why. A paper is turned into a short weighted query of its most distinctive
terms: its title words, its abstract words, its Hugging Face ``ai_keywords`` (as phrases) and its
authors (as names), each worth its idf over the store (log N/df, document frequencies from
FTS5's own vocabulary, see ``bot.store.similar``) times how telling its place is (title and
keywords more than abstract; a shared author is a strong hint too). The terms go to the existing
FTS5 index as one OR query ranked by bm25, which fetches the best candidates in one pass of C;
the candidates are then re-scored by the sum of the values of the terms they share, which is also
the explanation shown ("shares: diffusion transformer, video generation").

Measured against the alternative, tf-idf vectors with cosine similarity: vectors for 100k
papers either live in memory (a sparse matrix of ~15M entries, well over 100 MB, and numpy/scipy
as new dependencies) or are scanned from disk per click; the index already holds the postings,
so asking it costs only the postings of the chosen terms. ``bench/similar.py`` prints the
latency and the precision@5 on an evaluation set built from the recorded fixtures.

The cost is bounded whatever the paper: at most MAX_TERMS terms, chosen greedily by value under a
budget of POSTINGS_BUDGET index entries (a term costs its document frequency; a phrase the sum of
its words'), words in more than COMMON_SHARE of the store are never asked, and only the first
MAX_ABSTRACT_CHARS of an abstract are read. Everything shown to a reader is a real word or
keyword of the seed paper, never an index token, so it stays readable under a stemming tokenizer.
"""

from __future__ import annotations

import math
import re
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field, replace

from bot.catalog import Catalog
from bot.ingest import PollReport
from bot.models import Paper
from bot.search import Match, any_of, fold, phrase
from bot.store.similar import SimilarRepo

SIMILAR_LIMIT = 5
MAX_LIMIT = 25
MAX_TERMS = 16
POSTINGS_BUDGET = 6000
COMMON_SHARE = 0.2
MAX_ABSTRACT_CHARS = 3000
CANDIDATE_TEXT_CHARS = 20_000  # of a candidate's abstract read to tell what it shares
MAX_KEYWORDS = 12
MAX_AUTHORS = 12
MAX_SEEDS = 20
CANDIDATES = 30  # best bm25 matches re-scored by the values of the terms they share
MIN_WORD_CHARS = 3
ABSTRACT_TF_CAP = 3  # an abstract repeating a word five times is not five times about it

# How telling a term is by where it comes from (multiplies its idf).
TITLE_WEIGHT = 3.0
ABSTRACT_WEIGHT = 1.0
KEYWORD_WEIGHT = 5.0
AUTHOR_WEIGHT = 4.0
SAME_KEYWORD_BONUS = 3.0  # both papers carry the keyword, not only its words
BM25_SHARE = 0.3  # bm25's part in the final score, next to the shared-term values
SHOWN_SHARED = 4
SHOWN_AUTHORS = 2

_WORD = re.compile(r"\w+", re.UNICODE)
# English function words and the boilerplate of abstracts: frequent, so cheap to lose, and never
# what two papers "share".
_STOPWORD_TEXT = """
    a about above across after again against all also although among an and another any are
    around as at be because been before being below between both but by can could did do does
    doing during each either etc even ever every few for from further had has have having here
    how however if in into is it its itself just less many may might more most much must neither
    no nor not now of off often on once one only onto or other others our ours out over own per
    rather same several should since so some such than that the their theirs them themselves then
    there therefore these they this those though through thus to too toward towards under until
    up upon us use used uses using very via was we well were what when where whether which while
    who whom whose why will with within without would yet you your
    paper propose proposed proposes present presents introduce introduces introduced show shows
    shown demonstrate demonstrates approach approaches method methods results result achieve
    achieves achieved based novel new existing work works first however moreover furthermore
    extensive experiments experimental study studies significantly significant state art
    outperforms performance better best code available https http www com github io org
"""
STOPWORDS = frozenset(_STOPWORD_TEXT.split())


def _folded_words(text: str) -> list[str]:
    """Words as the index compares them: lower case, without diacritics."""
    return _WORD.findall(fold(text))


def _telling(word: str) -> bool:
    return len(word) >= MIN_WORD_CHARS and not word.isdigit() and word not in STOPWORDS


def _light_stem(word: str) -> str:
    """Singular and plural compare equal when telling a reader what two papers share."""
    if len(word) > 4 and word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return word


@dataclass(frozen=True, slots=True)
class Term:
    """One part of a similarity query: what FTS5 is asked, and what a reader is shown."""

    kind: str  # "word", "keyword" (a Hugging Face keyword phrase) or "author"
    words: tuple[str, ...]  # folded
    label: str  # as written in the seed paper
    value: float = 0.0
    cost: int = 0  # index entries FTS5 reads for it
    seeds: frozenset[str] = field(default_factory=frozenset)

    @property
    def expression(self) -> Match:
        return phrase(self.words, "authors" if self.kind == "author" else None)


@dataclass(frozen=True, slots=True)
class Neighbour:
    """A paper like the seed(s), and why: the terms it shares, the authors it shares."""

    paper: Paper
    score: float
    shared: tuple[str, ...] = ()
    authors: tuple[str, ...] = ()
    because: str | None = None  # the seed paper it is most like (recommendations)

    def why(self) -> str:
        """ "shares: video generation, diffusion; same author: Jane Doe" (may be empty)."""
        parts = []
        if self.shared:
            parts.append("shares: " + ", ".join(self.shared[:SHOWN_SHARED]))
        if self.authors:
            label = "same author" if len(self.authors) == 1 else "same authors"
            parts.append(f"{label}: " + ", ".join(self.authors[:SHOWN_AUTHORS]))
        return "; ".join(parts)


@dataclass(frozen=True, slots=True)
class SimilarResult:
    paper: Paper
    neighbours: tuple[Neighbour, ...]


def candidate_terms(paper: Paper) -> list[Term]:
    """Every term of a paper that could describe it, valued by place only (idf comes later)."""
    found: dict[tuple[str, tuple[str, ...]], Term] = {}

    def add(kind: str, words: tuple[str, ...], label: str, weight: float) -> None:
        key = (kind, words)
        old = found.get(key)
        found[key] = Term(
            kind, words, old.label if old else label, (old.value if old else 0.0) + weight
        )

    for keyword in paper.ai_keywords[:MAX_KEYWORDS]:
        words = tuple(_folded_words(keyword))
        if len(words) <= 6 and any(_telling(word) for word in words):
            add("keyword", words, " ".join(keyword.split()).lower(), KEYWORD_WEIGHT)
    for word in _folded_words(paper.title):
        if _telling(word):
            add("word", (word,), word, TITLE_WEIGHT)
    counts: dict[str, int] = {}
    for word in _folded_words(paper.abstract[:MAX_ABSTRACT_CHARS]):
        if _telling(word) and counts.get(word, 0) < ABSTRACT_TF_CAP:
            counts[word] = counts.get(word, 0) + 1
            add("word", (word,), word, ABSTRACT_WEIGHT)
    for author in paper.authors[:MAX_AUTHORS]:
        words = tuple(_folded_words(author))
        if words:
            add("author", words, " ".join(author.split()), AUTHOR_WEIGHT)
    return [replace(term, seeds=frozenset({paper.id})) for term in found.values()]


def price_terms(terms: Iterable[Term], counts: dict[str, int], papers: int) -> list[Term]:
    """Terms with their idf value and their cost; those no other paper can share are dropped.

    ``counts``: document frequency per word (absent: in one paper at most).
    """
    priced = []
    papers = max(papers, 1)
    for term in terms:
        frequencies = [counts.get(word, 1) for word in term.words]
        rarest = min(frequencies)
        if rarest <= 1:
            continue  # a word of this paper only: nothing else can match it
        if len(term.words) == 1 and rarest > COMMON_SHARE * papers:
            continue
        idf = math.log(papers / rarest)
        if idf <= 0:
            continue
        priced.append(replace(term, value=term.value * idf, cost=sum(frequencies)))
    return priced


def choose_terms(terms: Iterable[Term], *, budget: int = POSTINGS_BUDGET) -> list[Term]:
    """The most valuable terms whose costs fit the budget, at most MAX_TERMS of them."""
    chosen: list[Term] = []
    left = budget
    for term in sorted(terms, key=lambda t: (-t.value, t.cost, t.words)):
        if len(chosen) >= MAX_TERMS:
            break
        if term.cost <= left:
            chosen.append(term)
            left -= term.cost
    return chosen


def merge_terms(groups: Iterable[Iterable[Term]]) -> list[Term]:
    """One term list from several seeds' lists: a term several seeds share adds up."""
    merged: dict[tuple[str, tuple[str, ...]], Term] = {}
    for group in groups:
        for term in group:
            key = (term.kind, term.words)
            old = merged.get(key)
            merged[key] = (
                term
                if old is None
                else replace(old, value=old.value + term.value, seeds=old.seeds | term.seeds)
            )
    return list(merged.values())


@dataclass(frozen=True, slots=True)
class _PaperText:
    """A candidate's words, for telling which query terms it really shares."""

    words: frozenset[str]
    joined: str  # " w1 w2 … " of title, keywords and abstract, for phrases
    authors: frozenset[tuple[str, ...]]
    keywords: frozenset[tuple[str, ...]]

    @classmethod
    def of(cls, paper: Paper) -> _PaperText:
        words = [
            _light_stem(word)
            for text in (
                paper.title,
                " ".join(paper.ai_keywords),
                paper.abstract[:CANDIDATE_TEXT_CHARS],
            )
            for word in _folded_words(text)
        ]
        authors = frozenset(tuple(_folded_words(author)) for author in paper.authors)
        keywords = frozenset(
            tuple(_light_stem(word) for word in _folded_words(keyword))
            for keyword in paper.ai_keywords
        )
        return cls(frozenset(words), " " + " ".join(words) + " ", authors, keywords)

    def same_keyword(self, term: Term) -> bool:
        """Hugging Face gave both papers this keyword (stronger than the words appearing)."""
        return term.kind == "keyword" and tuple(map(_light_stem, term.words)) in self.keywords

    def has(self, term: Term) -> bool:
        if term.kind == "author":
            return term.words in self.authors
        stems = [_light_stem(word) for word in term.words]
        if len(stems) == 1:
            return stems[0] in self.words
        return " " + " ".join(stems) + " " in self.joined


def rank_candidates(
    terms: Sequence[Term], found: Sequence[tuple[Paper, float]], *, limit: int
) -> list[Neighbour]:
    """Re-score bm25's candidates by the values of the terms they share; best first."""
    best_bm25 = max((score for _, score in found), default=0.0) or 1.0
    total_value = sum(term.value for term in terms) or 1.0
    ranked = []
    for paper, bm25 in found:
        text = _PaperText.of(paper)
        shared = [term for term in terms if text.has(term)]
        value = (
            sum(
                term.value * (SAME_KEYWORD_BONUS if text.same_keyword(term) else 1.0)
                for term in shared
            )
            / total_value
        )
        score = value + BM25_SHARE * bm25 / best_bm25
        by_value = sorted(shared, key=lambda t: -t.value)
        seeds: dict[str, float] = {}
        for term in shared:
            for seed in term.seeds:
                seeds[seed] = seeds.get(seed, 0.0) + term.value
        ranked.append(
            Neighbour(
                paper=paper,
                score=score,
                shared=tuple(
                    dict.fromkeys(term.label for term in by_value if term.kind != "author")
                ),
                authors=tuple(term.label for term in by_value if term.kind == "author"),
                because=max(seeds, key=lambda seed: (seeds[seed], seed)) if seeds else None,
            )
        )
    ranked.sort(key=lambda n: (-n.score, -n.paper.upvotes, n.paper.id))
    return ranked[:limit]


def _by_support(terms: Sequence[Term], seeds: Sequence[Paper]) -> list[Term]:
    """Terms worth more the more seeds contain them: what several saved papers have in common
    is the member's topic, a word of one of them is not."""
    texts = {seed.id: _PaperText.of(seed) for seed in seeds}
    supported = []
    for term in terms:
        having = frozenset(seed for seed, text in texts.items() if text.has(term)) | term.seeds
        supported.append(replace(term, value=term.value * len(having), seeds=having))
    return supported


class SimilarService:
    """Papers like one paper (``/papers similar``, the Similar button) or like several."""

    def __init__(self, repo: SimilarRepo, catalog: Catalog) -> None:
        self.repo = repo
        self.catalog = catalog

    async def similar(self, reference: str, *, limit: int = SIMILAR_LIMIT) -> SimilarResult:
        """The paper named by id, link or title (fetched when not stored) and its neighbours."""
        paper = await self.catalog.paper(reference)
        return SimilarResult(paper, tuple(await self.like([paper], limit=limit)))

    async def like(
        self, seeds: Sequence[Paper], *, exclude: Collection[str] = (), limit: int = SIMILAR_LIMIT
    ) -> list[Neighbour]:
        """Stored papers most like ``seeds`` (never a seed, nor an ``exclude`` id), best first."""
        seeds = list(seeds)[:MAX_SEEDS]
        if not seeds:
            return []
        await self.repo.refresh_if_stale()
        candidates = [candidate_terms(seed) for seed in seeds]
        words = [word for group in candidates for term in group for word in term.words]
        counts = await self.repo.document_counts(words)
        papers = self.repo.papers_counted
        # Each seed's best terms first, so one long abstract cannot crowd out the other seeds.
        per_seed = POSTINGS_BUDGET // len(seeds)
        merged = merge_terms(
            choose_terms(price_terms(group, counts, papers), budget=per_seed)
            for group in candidates
        )
        terms = choose_terms(_by_support(merged, seeds) if len(seeds) > 1 else merged)
        if not terms:
            return []
        skip = {seed.id for seed in seeds} | set(exclude)
        limit = max(1, min(limit, MAX_LIMIT))
        found = await self.repo.related(
            any_of([term.expression for term in terms]),
            exclude=skip,
            limit=max(CANDIDATES, limit * 2),
        )
        return rank_candidates(terms, found, limit=limit)

    async def on_poll(self, _report: PollReport) -> None:
        """After a poll: recount document frequencies if the store grew (not on a click)."""
        await self.repo.refresh_if_stale()
