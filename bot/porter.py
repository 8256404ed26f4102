"""The Porter stemmer exactly as SQLite's FTS5 ``porter`` tokenizer applies it.

Highlighting and "did you mean" compare words the way the index does, so this follows FTS5's
C implementation (fts5_tokenize.c: Porter's own C version, with its ``logi``→``log`` and
``bli``→``ble`` rules) rather than the published paper or Snowball's variant, which stem a few
words differently (methodology, flexibly, grokked). tests/unit/test_porter.py checks every word
of the recorded fixtures against SQLite itself.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

# FTS5 leaves tokens shorter than 3 or longer than 64 bytes as they are.
_MIN_BYTES = 3
_MAX_BYTES = 64


def _is_vowel(c: str, y_is_vowel: bool) -> bool:
    return c in "aeiou" or (y_is_vowel and c == "y")


def _gobble_vc(stem: str, start: int, prev_consonant: bool) -> int:
    """Past one vowel run then one consonant: the index after it, or 0 if there is none."""
    consonant = prev_consonant
    i = start
    while i < len(stem):
        consonant = not _is_vowel(stem[i], consonant)
        if not consonant:
            break
        i += 1
    i += 1
    while i < len(stem):
        consonant = not _is_vowel(stem[i], consonant)
        if consonant:
            return i + 1
        i += 1
    return 0


def _m_gt0(stem: str) -> bool:
    return _gobble_vc(stem, 0, False) != 0


def _m_gt1(stem: str) -> bool:
    n = _gobble_vc(stem, 0, False)
    return n != 0 and _gobble_vc(stem, n, True) != 0


def _m_eq1(stem: str) -> bool:
    n = _gobble_vc(stem, 0, False)
    return n != 0 and _gobble_vc(stem, n, True) == 0


def _o_star(stem: str) -> bool:
    """Ends consonant-vowel-consonant, the last not w, x or y."""
    if not stem or stem[-1] in "wxy":
        return False
    mask = 0
    consonant = False
    for c in stem:
        consonant = not _is_vowel(c, consonant)
        mask = (mask << 1) + consonant
    return (mask & 0x7) == 0x5


def _m_gt1_s_or_t(stem: str) -> bool:
    return stem[-1:] in ("s", "t") and _m_gt1(stem)


def _has_vowel(stem: str) -> bool:
    return any(_is_vowel(c, i > 0) for i, c in enumerate(stem))


Rule = tuple[str, Callable[[str], bool] | None, str]

# (suffix, condition on what precedes it, replacement), per step. FTS5 picks the candidates by the
# second-to-last letter and tries them in this order; the first suffix that matches decides,
# whether or not its condition holds.
_STEP2: tuple[Rule, ...] = (
    ("ational", _m_gt0, "ate"),
    ("tional", _m_gt0, "tion"),
    ("enci", _m_gt0, "ence"),
    ("anci", _m_gt0, "ance"),
    ("izer", _m_gt0, "ize"),
    ("logi", _m_gt0, "log"),
    ("bli", _m_gt0, "ble"),
    ("alli", _m_gt0, "al"),
    ("entli", _m_gt0, "ent"),
    ("eli", _m_gt0, "e"),
    ("ousli", _m_gt0, "ous"),
    ("ization", _m_gt0, "ize"),
    ("ation", _m_gt0, "ate"),
    ("ator", _m_gt0, "ate"),
    ("alism", _m_gt0, "al"),
    ("iveness", _m_gt0, "ive"),
    ("fulness", _m_gt0, "ful"),
    ("ousness", _m_gt0, "ous"),
    ("aliti", _m_gt0, "al"),
    ("iviti", _m_gt0, "ive"),
    ("biliti", _m_gt0, "ble"),
)
_STEP3: tuple[Rule, ...] = (
    ("icate", _m_gt0, "ic"),
    ("ative", _m_gt0, ""),
    ("alize", _m_gt0, "al"),
    ("iciti", _m_gt0, "ic"),
    ("ical", _m_gt0, "ic"),
    ("ful", _m_gt0, ""),
    ("ness", _m_gt0, ""),
)
_STEP4: tuple[Rule, ...] = (
    ("al", _m_gt1, ""),
    ("ance", _m_gt1, ""),
    ("ence", _m_gt1, ""),
    ("er", _m_gt1, ""),
    ("ic", _m_gt1, ""),
    ("able", _m_gt1, ""),
    ("ible", _m_gt1, ""),
    ("ant", _m_gt1, ""),
    ("ement", _m_gt1, ""),
    ("ment", _m_gt1, ""),
    ("ent", _m_gt1, ""),
    ("ion", _m_gt1_s_or_t, ""),
    ("ou", _m_gt1, ""),
    ("ism", _m_gt1, ""),
    ("ate", _m_gt1, ""),
    ("iti", _m_gt1, ""),
    ("ous", _m_gt1, ""),
    ("ive", _m_gt1, ""),
    ("ize", _m_gt1, ""),
)
_STEP1B: tuple[Rule, ...] = (("eed", _m_gt0, "ee"), ("ed", _has_vowel, ""), ("ing", _has_vowel, ""))
_STEP1B2: tuple[Rule, ...] = (("at", None, "ate"), ("bl", None, "ble"), ("iz", None, "ize"))


def _by_key(rules: tuple[Rule, ...]) -> dict[str, tuple[Rule, ...]]:
    keyed: dict[str, list[Rule]] = {}
    for rule in rules:
        keyed.setdefault(rule[0][-2], []).append(rule)
    return {key: tuple(group) for key, group in keyed.items()}


_STEPS = {
    name: _by_key(rules)
    for name, rules in (
        ("2", _STEP2),
        ("3", _STEP3),
        ("4", _STEP4),
        ("1b", _STEP1B),
        ("1b2", _STEP1B2),
    )
}


def _apply(word: str, step: str) -> tuple[str, bool]:
    """One generated FTS5 step: (the word after it, whether a rule fired that returns 1)."""
    if len(word) < 2:
        return word, False
    for suffix, condition, replacement in _STEPS[step].get(word[-2], ()):
        if len(word) > len(suffix) and word.endswith(suffix):
            stem = word[: -len(suffix)]
            if condition is None or condition(stem):
                # In FTS5 only step 1b's -ed/-ing and step 1b2 report that they fired.
                fired = step == "1b2" or (step == "1b" and suffix != "eed")
                return stem + replacement, fired
            return word, False
    return word, False


def _step1a(word: str) -> str:
    if word.endswith("s"):
        if word[-2:-1] == "e":
            if (len(word) > 4 and word[-4:-2] == "ss") or (len(word) > 3 and word[-3] == "i"):
                return word[:-2]
            return word[:-1]
        if word[-2:-1] != "s":
            return word[:-1]
    return word


def _porter(word: str) -> str:
    word = _step1a(word)
    word, fired = _apply(word, "1b")
    if fired:
        word, fired2 = _apply(word, "1b2")
        if not fired2:
            last = word[-1]
            if not _is_vowel(last, False) and last not in "lsz" and word[-2:-1] == last:
                word = word[:-1]
            elif _m_eq1(word) and _o_star(word):
                word += "e"
    if word.endswith("y") and _has_vowel(word[:-1]):
        word = word[:-1] + "i"
    word, _ = _apply(word, "2")
    word, _ = _apply(word, "3")
    word, _ = _apply(word, "4")
    if word.endswith("e"):
        stem = word[:-1]
        if _m_gt1(stem) or (_m_eq1(stem) and not _o_star(stem)):
            word = stem
    if len(word) > 1 and word.endswith("ll") and _m_gt1(word[:-1]):
        word = word[:-1]
    return word


@functools.lru_cache(maxsize=1 << 16)
def stem(token: str) -> str:
    """The FTS5 porter stem of one folded (lower-case, accent-free) token."""
    raw = token.encode()
    if not _MIN_BYTES <= len(raw) <= _MAX_BYTES:
        return token
    # FTS5 works on UTF-8 bytes: one character per byte keeps lengths and letters the same.
    return _porter(raw.decode("latin-1")).encode("latin-1").decode()
