"""Short summaries and keywords from paper abstracts: pure, deterministic, stdlib only.

Hugging Face's own ``ai_summary``/``ai_keywords`` are preferred when present (they appear hours
after a paper is listed); until then an extractive TextRank summary picks key sentences from the
abstract, so nothing here invents text the authors did not write.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from bot.models import Paper

DAMPING = 0.85
MAX_ITERATIONS = 100
TOLERANCE = 1e-6
# Past this many characters, a summary stops at two sentences even when three were asked for.
SUMMARY_SOFT_CHARS = 600
EXTRACTED_KEYWORDS = 5
# Real abstracts stay under 2,000 characters (arXiv's limit); these caps only bound the work that
# odd or hostile input can cause.
MAX_TEXT_CHARS = 20_000
MAX_RANKED_SENTENCES = 60

_WHITESPACE = re.compile(r"\s+")
# A sentence-ending mark (with any closing quotes or brackets) followed by whitespace.
_BOUNDARY = re.compile(r"[.!?]+[\"'”’)\]]*\s+")
_URL = re.compile(r"https?://|www\.", re.IGNORECASE)
# Words keep inner hyphens and apostrophes ("long-horizon", "model's"); digits allowed ("GPT-4").
_WORD = re.compile(r"[^\W_]+(?:[-'’][^\W_]+)*")
# Punctuation that ends a keyword phrase: a phrase never spans a comma, a colon or a bracket.
_PHRASE_BREAK = re.compile(r"[,;:()\[\]{}\"“”!?]|[.](?=\s|$)")

# Abbreviations after which a full stop never ends a sentence, whatever follows ("Fig. 3").
_NEVER_ENDS = frozenset(
    {
        "e.g.", "i.e.", "cf.", "vs.", "viz.", "approx.", "resp.", "w.r.t.", "a.k.a.",
        "fig.", "figs.", "eq.", "eqs.", "sec.", "secs.", "tab.", "ref.", "refs.", "ch.",
        "thm.", "def.", "prop.", "lem.", "alg.", "app.", "appx.", "no.", "nos.", "vol.",
        "pp.", "dr.", "mr.", "mrs.", "ms.", "prof.", "st.", "jr.", "sr.", "inc.", "ltd.",
        "corp.", "co.", "est.", "max.", "min.", "avg.", "ca.", "incl.", "excl.",
    }
)  # fmt: skip
# Abbreviations that may end a sentence: they do only when a capitalised word follows.
_MAY_END = frozenset({"al.", "etc."})


def _word_set(text: str) -> frozenset[str]:
    return frozenset(text.split())


STOPWORDS = _word_set(
    """
    a about above across after again against all almost along also although always am among an
    and another any are around as at be became because become been before being below between
    both but by can cannot could did do does doing done down due during each either else enough
    especially etc even ever every few for from further had has have having he her here hers him
    his how however i if in into is it its itself just least less let like made make makes many
    may me might more most much must my neither no nor not now of off often on once one only onto
    or other others otherwise our ours out over own per perhaps rather same several she should
    since so some such than that the their theirs them themselves then there thereby therefore
    these they this those though through throughout thus to together too toward towards under
    until up upon us very via was we well were what whatever when where whereas whether which
    while who whom whose why will with within without would yet you your yours
    e.g i.e et al cf vs
    """
)
# Words too generic to be a keyword on their own, though they may sit inside a phrase
# ("language models", "video generation").
_GENERIC = _word_set(
    """
    paper papers work works study studies propose proposes proposed proposing present presents
    presented introduce introduces introduced introducing approach approaches method methods
    technique techniques framework frameworks result results show shows shown showing demonstrate
    demonstrates demonstrated demonstrating achieve achieves achieved achieving novel new existing
    recent recently current prior previous based using use used uses leverage leverages
    leveraging enable enables enabled enabling improve improves improved improving improvement
    improvements performance state-of-the-art sota significant significantly substantially
    effective effectively efficient efficiently various different several specific key task tasks
    problem problems challenge challenges challenging model models data dataset datasets
    experiment experiments experimental extensive evaluation evaluate evaluated evaluations
    benchmark benchmarks baseline baselines first two three large small high low better best
    strong stronger simple able ability across additionally furthermore moreover specifically
    existing including include includes included code available release released open github
    set sets way ways number time times level levels type types further order
    long short multiple diverse single many often widely remains remain remained yet still lack
    lacks limited limitations capability
    capabilities potential provide provides providing provided allow allows allowing make
    makes making given beyond require requires required requiring
    """
)


def _collapse(text: str) -> str:
    return _WHITESPACE.sub(" ", text).strip()


def _ends_sentence(text: str, match: re.Match[str]) -> bool:
    """Whether the mark matched at ``match`` really closes a sentence."""
    rest = text[match.end() :]
    if not rest:
        return True
    marks = match.group().rstrip()
    # "?" and "!" are not used in abbreviations; a following capital is not required after them.
    if "." not in marks:
        return True
    word_start = text.rfind(" ", 0, match.start()) + 1
    original = text[word_start : match.start() + 1].lstrip("([{\"'“‘")
    token = original.lower()
    first = rest[0]
    capitalised = first.isupper() or first.isdigit() or first in "\"'“‘([«"
    if token in _NEVER_ENDS:
        return False
    if token in _MAY_END:
        return first.isupper()
    # A single capital letter is an initial ("J. Smith"); dotted acronyms ("U.S.") likewise.
    if re.fullmatch(r"[a-z]\.", token) and original[:1].isupper():
        return False
    if re.fullmatch(r"(?:[a-z]\.){2,}", token):
        return False
    return capitalised


def split_sentences(text: str) -> list[str]:
    """Split an abstract into sentences, whitespace collapsed, robust to common abbreviations."""
    text = _collapse(text)
    if not text:
        return []
    sentences: list[str] = []
    start = 0
    for match in _BOUNDARY.finditer(text):
        if _ends_sentence(text, match):
            sentence = text[start : match.end()].strip()
            if sentence:
                sentences.append(sentence)
            start = match.end()
    tail = text[start:].strip()
    if tail:
        sentences.append(tail)
    return sentences


def _stem(word: str) -> str:
    """A very light plural fold, so "model" and "models" count as one word."""
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


def _content_words(sentence: str) -> list[str]:
    words = (word.lower() for word in _WORD.findall(sentence))
    return [
        _stem(word)
        for word in words
        if word not in STOPWORDS and len(word) > 1 and not word.isdigit()
    ]


def _similarity(first: set[str], second: set[str], len_first: int, len_second: int) -> float:
    """TextRank's overlap similarity: shared words over the sum of the log lengths."""
    overlap = len(first & second)
    if not overlap:
        return 0.0
    denominator = math.log(len_first) + math.log(len_second)
    # Two one-word sentences have log lengths of zero; their overlap alone is the similarity.
    return overlap / denominator if denominator > 0 else float(overlap)


def _textrank(sentences: Sequence[str]) -> list[float]:
    """PageRank scores of sentences over the weighted word-overlap graph."""
    words = [_content_words(sentence) for sentence in sentences]
    bags = [set(bag) for bag in words]
    count = len(sentences)
    weights = [[0.0] * count for _ in range(count)]
    for i in range(count):
        for j in range(i + 1, count):
            weight = _similarity(bags[i], bags[j], len(words[i]), len(words[j]))
            weights[i][j] = weights[j][i] = weight
    out_sums = [sum(row) for row in weights]
    # Incoming edges with their normalised weights, so an iteration touches only real edges.
    incoming = [
        [(j, weights[j][i] / out_sums[j]) for j in range(count) if weights[j][i]]
        for i in range(count)
    ]
    scores = [1.0] * count
    for _ in range(MAX_ITERATIONS):
        updated = [
            (1 - DAMPING) + DAMPING * sum(share * scores[j] for j, share in edges)
            for edges in incoming
        ]
        delta = max(abs(new - old) for new, old in zip(updated, scores, strict=True))
        scores = updated
        if delta < TOLERANCE:
            break
    return scores


def _ranked(sentences: Sequence[str]) -> list[int]:
    """Sentence indexes, best first; sentences that are mostly a URL come last."""
    scores = _textrank(sentences)
    # Rounding keeps float noise from deciding a tie; ties then go to the earlier sentence.
    return sorted(
        range(len(sentences)),
        key=lambda i: (bool(_URL.search(sentences[i])), -round(scores[i], 9), i),
    )


def extractive_summary(text: str, max_sentences: int = 3) -> str:
    """The key sentences of ``text`` (TextRank), in their original order.

    Never longer than the input, never empty for non-empty input; an abstract with no more
    sentences than asked for comes back whole.
    """
    sentences = split_sentences(text[:MAX_TEXT_CHARS])
    max_sentences = max(1, max_sentences)
    if len(sentences) <= max_sentences:
        return " ".join(sentences)
    chosen: list[int] = []
    length = 0
    for index in _ranked(sentences[:MAX_RANKED_SENTENCES]):
        if len(chosen) >= max_sentences:
            break
        # Two long sentences already say enough; a third would make a wall of text.
        if len(chosen) >= 2 and length + len(sentences[index]) > SUMMARY_SOFT_CHARS:
            break
        chosen.append(index)
        length += len(sentences[index]) + 1
    return " ".join(sentences[i] for i in sorted(chosen))


def one_sentence(paper: Paper) -> str:
    """A single sentence about ``paper`` for digests: HF's AI summary, else the abstract."""
    if paper.ai_summary and paper.ai_summary.strip():
        return split_sentences(paper.ai_summary)[0]
    if paper.abstract.strip():
        return extractive_summary(paper.abstract, max_sentences=1)
    return _collapse(paper.title)


@dataclass(frozen=True)
class Summary:
    """A paper's summary, where it came from, and its keywords."""

    text: str
    source: Literal["huggingface", "extractive"]
    keywords: tuple[str, ...]


def _phrases(text: str) -> list[list[str]]:
    """Runs of words between punctuation, as they appear (original case)."""
    return [_WORD.findall(chunk) for chunk in _PHRASE_BREAK.split(text)]


def _display(forms: Counter[str]) -> str:
    """The most common spelling, lower-cased except words that look like acronyms or names."""
    form = min(forms, key=lambda f: (-forms[f], f))
    return " ".join(
        word if any(ch.isupper() for ch in word[1:]) else word.lower() for word in form.split(" ")
    )


def extract_keywords(
    text: str, top: int = EXTRACTED_KEYWORDS, *, title: str = ""
) -> tuple[str, ...]:
    """The ``top`` keywords of ``text``: recurring phrases of two or three words, then words.

    Words from ``title`` count extra. Deterministic: ties go to the keyword seen first.
    """
    counts: Counter[str] = Counter()
    forms: dict[str, Counter[str]] = {}
    first_seen: dict[str, int] = {}
    in_title: set[str] = set()

    def note(key: str, form: str, from_title: bool) -> None:
        counts[key] += 1
        forms.setdefault(key, Counter())[form] += 1
        first_seen.setdefault(key, len(first_seen))
        if from_title:
            in_title.add(key)

    for source, from_title in ((title, True), (text, False)):
        for phrase in _phrases(_collapse(source[:MAX_TEXT_CHARS])):
            run: list[tuple[str, str]] = []  # (key, form) of the current stopword-free run
            for word in phrase:
                lower = word.lower()
                if lower in STOPWORDS or len(lower) < 3 or lower.replace("-", "").isdigit():
                    run = []
                    continue
                key = _stem(lower)
                run.append((key, word))
                if lower not in _GENERIC:
                    note(key, word, from_title)
                for size in (2, 3):
                    gram = run[-size:]
                    # A phrase of generic words only ("proposed method") says nothing.
                    if len(gram) == size and any(k not in _GENERIC for k, _ in gram):
                        note(" ".join(k for k, _ in gram), " ".join(f for _, f in gram), from_title)

    def score(key: str) -> float:
        # A recurring phrase says more than any of its words alone; the title is on-topic.
        size = key.count(" ") + 1
        return counts[key] * (1 + 0.75 * (size - 1)) * (1.5 if key in in_title else 1.0)

    # A phrase must recur; a single occurrence is usually an accident of wording.
    candidates = [key for key in counts if " " not in key or counts[key] >= 2]
    candidates.sort(key=lambda key: (-score(key), first_seen[key]))
    phrases = [key for key in candidates if " " in key]

    def widen(key: str) -> str:
        # "tokens" becomes "visual tokens" when most of its uses are in that phrase.
        while True:
            inside = [
                p
                for p in phrases
                if f" {key} " in f" {p} " and p != key and counts[p] * 2.5 >= counts[key]
            ]
            if not inside:
                return key
            key = min(inside, key=lambda p: (-counts[p], -len(p), first_seen[p]))

    chosen: list[str] = []
    used: set[str] = set()
    for candidate in candidates:
        if len(chosen) >= top:
            break
        key = widen(candidate)
        words = set(key.split(" "))
        # Keywords that share a word repeat each other ("language models", "large language").
        if words & used:
            continue
        chosen.append(key)
        used |= words
    return tuple(_display(forms[key]) for key in chosen)


def _clean_keywords(keywords: Sequence[str]) -> tuple[str, ...]:
    seen: set[str] = set()
    cleaned: list[str] = []
    for keyword in keywords:
        keyword = _collapse(keyword)
        if keyword and keyword.lower() not in seen:
            seen.add(keyword.lower())
            cleaned.append(keyword)
    return tuple(cleaned)


def paper_keywords(paper: Paper) -> tuple[str, ...]:
    """HF's ``ai_keywords`` when there are any, else keywords extracted from title and abstract."""
    keywords = _clean_keywords(paper.ai_keywords)
    if keywords:
        return keywords
    return extract_keywords(paper.abstract, title=paper.title)


def summarise_paper(paper: Paper) -> Summary:
    """HF's AI summary when present, else an extractive summary of the abstract."""
    keywords = paper_keywords(paper)
    if paper.ai_summary and paper.ai_summary.strip():
        return Summary(_collapse(paper.ai_summary), "huggingface", keywords)
    text = extractive_summary(paper.abstract) or _collapse(paper.title)
    return Summary(text, "extractive", keywords)


def _keyword_key(keyword: str) -> str:
    """Case- and plural-insensitive identity: "Diffusion Models" == "diffusion model"."""
    words = keyword.lower().split()
    return " ".join([*words[:-1], _stem(words[-1])]) if words else ""


def recurring_keywords(papers: Sequence[Paper], top: int = 8) -> list[tuple[str, int]]:
    """Keywords found in at least two of ``papers``, with how many papers mention each.

    Sorted by count (descending), then alphabetically; at most ``top`` of them.
    """
    counts: Counter[str] = Counter()
    forms: dict[str, Counter[str]] = {}
    for paper in papers:
        keys: dict[str, str] = {}
        for keyword in paper_keywords(paper):
            key = _keyword_key(keyword)
            if key:
                keys.setdefault(key, keyword.lower())
        for key, form in keys.items():
            counts[key] += 1
            forms.setdefault(key, Counter())[form] += 1
    recurring = [
        (min(forms[key], key=lambda f: (-forms[key][f], f)), count)
        for key, count in counts.items()
        if count >= 2
    ]
    recurring.sort(key=lambda item: (-item[1], item[0]))
    return recurring[: max(0, top)]
