""" "Did you mean …?": the stored word nearest to a misspelt one, by edit distance and frequency.

Words are compared as the index stores them, by Porter stem ("difusion" → "difus", one edit from
the stored "diffus"), and the correction is shown as a real word: the stored stem with the
ending the user typed ("diffus" + "ion"), checked to stem back to it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from bot.porter import stem
from bot.search import Term, fold, parse_terms

# Shorter words have too many neighbours one edit away to guess which was meant.
MIN_WORD_CHARS = 4
# Up to this many edits (an insertion, deletion, substitution or swap of two neighbours) from a
# stem of at least LONG_STEM characters, one edit from a shorter one.
MAX_EDITS = 2
LONG_STEM = 6
# Endings tried when the typed one does not give a word with the corrected stem.
_ENDINGS = ("", "e", "s", "er", "ing", "ion", "ation", "ed", "y", "al", "ic", "ment")


def _shared_start(a: str, b: str) -> str:
    length = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        length += 1
    return a[:length]


def edit_distance(a: str, b: str, bound: int) -> int:
    """Optimal string alignment distance of ``a`` and ``b``, or ``bound + 1`` once past it."""
    if abs(len(a) - len(b)) > bound:
        return bound + 1
    # A shared start and end cost nothing: only the middle goes through the table. (Trimming
    # the start keeps a swap whole; the end is trimmed only while both differ before it.)
    start = len(_shared_start(a, b))
    a, b = a[start:], b[start:]
    while a and b and a[-1] == b[-1] and (len(a) < 2 or len(b) < 2 or a[-2] == b[-2]):
        a, b = a[:-1], b[:-1]
    if not a or not b:
        distance = len(a) + len(b)
        return distance if distance <= bound else bound + 1
    previous2: list[int] = []
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i] + [0] * len(b)
        for j, cb in enumerate(b, 1):
            cost = 0 if ca == cb else 1
            value = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                value = min(value, previous2[j - 2] + 1)
            current[j] = value
        if min(current) > bound:
            return bound + 1
        previous2, previous = previous, current
    return previous[-1] if previous[-1] <= bound else bound + 1


def allowed_edits(stemmed: str) -> int:
    return MAX_EDITS if len(stemmed) >= LONG_STEM else 1


def nearest(stemmed: str, candidates: Iterable[tuple[str, int]]) -> str | None:
    """The candidate stem fewest edits from ``stemmed``; among those, the one sharing the longest
    start with it, then the one in the most papers."""
    bound = allowed_edits(stemmed)
    best: tuple[int, int, int, str] | None = None
    for term, docs in candidates:
        if term == stemmed:
            continue
        distance = edit_distance(stemmed, term, bound)
        if distance > bound:
            continue
        # People rarely mistype a word's start: among as few edits, the longer shared start wins.
        key = (distance, -len(_shared_start(stemmed, term)), -docs, term)
        if best is None or key < best:
            best = key
    return best[3] if best else None


def as_word(typed: str, corrected: str) -> str:
    """A word whose stem is ``corrected``, ending as the word the user typed did."""
    folded = fold(typed)
    typed_stem = stem(folded)
    shared = len(_shared_start(folded, corrected))
    tails = [folded[len(typed_stem) :]] if folded.startswith(typed_stem) else []
    tails.append(folded[shared:])
    # "splating" → "splat": the typed ending, after the stem or a doubled last letter.
    tried = [corrected + tail for tail in tails] + [corrected + corrected[-1] + t for t in tails]
    for word in (*tried, *(corrected + ending for ending in _ENDINGS)):
        if stem(word) == corrected:
            return word
    return corrected


def checkable_words(text: str) -> list[str]:
    """The words of a query that may be misspelt: searched for (not excluded, not a prefix),
    alphabetic and long enough to correct. Folded, in order, each once."""
    found: dict[str, None] = {}
    for item in parse_terms(text):
        if not isinstance(item, Term) or item.excluded:
            continue
        words = item.words[:-1] if item.prefix else item.words
        for word in words:
            folded = fold(word)
            if len(folded) >= MIN_WORD_CHARS and folded.isalpha():
                found.setdefault(folded)
    return list(found)


def replace_words(text: str, corrections: dict[str, str]) -> str:
    """``text`` with each whole word that folds to a key of ``corrections`` replaced."""

    def swap(match: re.Match[str]) -> str:
        return corrections.get(fold(match.group().lower()), match.group())

    return re.sub(r"[^\W_]+", swap, text)


def real_word(typed: str, corrected: str, texts: Iterable[str]) -> str | None:
    """The word in ``texts`` with the stem ``corrected`` closest to what was typed, if any."""
    folded = fold(typed)
    best: tuple[int, str] | None = None
    for text in texts:
        for token in _TOKEN.findall(fold(text)):
            if stem(token) == corrected:
                key = (edit_distance(folded, token, len(folded) + len(token)), token)
                best = key if best is None or key < best else best
    return best[1] if best else None


_TOKEN = re.compile(r"[^\W_]+")
