"""User search text → one safe search expression, rendered for SQLite's FTS5 and PostgreSQL.

Nothing the user types reaches the database as syntax: every word is re-emitted as a quoted FTS5
string, and as quoted, already stemmed tsquery lexemes, so quotes, ``NEAR(``, ``*``, ``:``, ``&``
and friends can never raise a database error. A few conveniences are understood on purpose:
"exact phrases", ``-word`` / ``NOT word`` to exclude, ``OR`` between words, a trailing ``*`` for
prefixes, and ``title:`` / ``author:`` / ``abstract:`` / ``keyword:`` to search one field.

The two renderings match the same papers: PostgreSQL's ``search`` tsvector holds the words as
FTS5's ``porter unicode61`` tokenizer stores them (:func:`search_vector`, made here with the same
folding and :mod:`bot.porter`), each field under its own weight label.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass

from bot.errors import InvalidQuery
from bot.porter import stem

MAX_QUERY_CHARS = 1000
# Snippets wrap matched words in these control characters; the renderer escapes the text first,
# then turns them into bold, so nothing from Hugging Face can forge formatting.
MATCH_START = "\x02"
MATCH_END = "\x03"
# Every word, phrase, OR alternative and exclusion is one term, each a doclist FTS5 reads (a
# prefix, every word it expands to). A research query has a handful; 24 is far above that.
MAX_TERMS = 24
SNIPPET_WORDS = 24  # words shown around the first match
SNIPPET_LEAD = 5  # of which before it
MIN_PREFIX_CHARS = 2

# FTS5 column names, by the field prefixes users may type.
FIELD_COLUMNS = {
    "title": "title",
    "author": "authors",
    "authors": "authors",
    "abstract": "abstract",
    "keyword": "ai_keywords",
    "keywords": "ai_keywords",
}

# The PostgreSQL tsvector's weight label of each FTS5 column (title > keywords > authors >
# abstract, as the bm25 weights rank them).
WEIGHT_LABELS = {"title": "A", "ai_keywords": "B", "authors": "C", "abstract": "D"}
# A tsvector keeps at most 256 positions of one lexeme and none past 16383 (PostgreSQL's limits).
_MAX_POSITIONS = 256
_MAX_POSITION = 16383
# Positions left between two fields of a tsvector, so no phrase matches across them (FTS5
# phrases stay within one column).
_FIELD_GAP = 2
# A lexeme no tsvector holds (stored lexemes are letters and digits): what a phrase with no
# words in it asks for, as FTS5 matches nothing for "".
_NOTHING = "'_'"

_WORD = re.compile(r"\w+", re.UNICODE)
_TOKEN_CHARS = re.compile(r"[^\W_]+")  # a token as unicode61 splits text
_NON_SPACE = re.compile(r"\S+")
# A quoted phrase, or a run of non-space characters that are not quotes.
_TOKEN = re.compile(r'"([^"]*)"|([^\s"]+)')


# Endings that complete a typed prefix into words whose stems FTS5 stored.
_ENDINGS = (
    *("e", "s", "ed", "ing", "ation", "al", "er", "ic", "ive", "ity", "ment"),
    *("ence", "ance", "ness", "ous", "ize", "ism", "able", "ible", "ly"),
)
# A prefix may also stop inside an ending ("diffusi" of "diffusion", "generatin", "grokke").
_COMPLETIONS = ("", *_ENDINGS, "ion", "tion", "on", "n", "ng", "g", "d", "r", "rs")


@functools.lru_cache(maxsize=256)
def prefix_forms(prefix: str) -> tuple[tuple[str, str], ...]:
    """(word, stem) pairs a prefix search asks for: the shortest stems that completions of
    ``prefix`` have ("generat" → "generate", stem "gener"), each with a word FTS5 stems to it."""
    by_stem: dict[str, str] = {}
    for ending in _COMPLETIONS:
        by_stem.setdefault(stem(fold(prefix + ending)), prefix + ending)
    return tuple(
        (word, stemmed)
        for stemmed, word in by_stem.items()
        if len(stemmed) >= MIN_PREFIX_CHARS
        and not any(other != stemmed and stemmed.startswith(other) for other in by_stem)
    ) or ((prefix, stem(fold(prefix))),)


@dataclass(frozen=True, slots=True)
class Match:
    """One compiled search expression in both databases' syntax (see bot/store/dialect.py)."""

    fts5: str  # an FTS5 MATCH expression over papers_fts
    tsquery: str  # tsquery input text over papers.search, its lexemes already stemmed


def lexemes(text: str) -> list[str]:
    """The words of ``text`` as the ``porter unicode61`` index stores them, in order."""
    return [stem(token) for token in _TOKEN_CHARS.findall(fold(text))]


def _quoted(word: str) -> str:
    return "'" + word.replace("\\", "\\\\").replace("'", "''") + "'"


def _lexeme(word: str, label: str, *, prefix: bool = False) -> str:
    marks = ("*" if prefix else "") + label
    return _quoted(word) + (":" + marks if marks else "")


def _tsphrase(words: tuple[str, ...], column: str | None, *, prefix: bool = False) -> str:
    """``words`` as consecutive lexemes (the last one a prefix), within ``column`` if given."""
    stems = [stemmed for word in words for stemmed in lexemes(word)]
    if not stems:
        return _NOTHING
    label = WEIGHT_LABELS[column] if column else ""
    parts = [_lexeme(word, label) for word in stems[:-1]]
    parts.append(_lexeme(stems[-1], label, prefix=prefix))
    return parts[0] if len(parts) == 1 else "(" + " <-> ".join(parts) + ")"


def _any(parts: list[str], separator: str) -> str:
    return parts[0] if len(parts) == 1 else "(" + separator.join(parts) + ")"


def phrase(words: tuple[str, ...], column: str | None = None, *, prefix: bool = False) -> Match:
    """Papers with ``words`` in a row (the last one a prefix), in ``column`` if given."""
    term = Term(words, column=column, prefix=prefix)
    return Match(term.render(), term.tsquery())


def any_of(matches: list[Match]) -> Match:
    """Papers matching at least one of ``matches``."""
    return Match(
        _any([match.fts5 for match in matches], " OR "),
        _any([match.tsquery for match in matches], " | "),
    )


def all_of(matches: list[Match]) -> Match:
    """Papers matching every one of ``matches``."""
    return Match(
        _any([match.fts5 for match in matches], " AND "),
        _any([match.tsquery for match in matches], " & "),
    )


def search_vector(fields: list[tuple[str, str]]) -> str:
    """tsvector input text for (FTS5 column, text) pairs: each word as FTS5 stores it, at its
    position, labelled with its column's weight; a gap between fields keeps phrases within one."""
    positions: dict[str, list[str]] = {}
    position = 0
    for column, text in fields:
        label = WEIGHT_LABELS[column]
        for word in lexemes(text):
            position = min(position + 1, _MAX_POSITION)
            places = positions.setdefault(word, [])
            if len(places) < _MAX_POSITIONS:
                places.append(f"{position}{label}")
        position += _FIELD_GAP
    return " ".join(_quoted(word) + ":" + ",".join(places) for word, places in positions.items())


@dataclass(frozen=True, slots=True)
class Term:
    words: tuple[str, ...]
    column: str | None = None
    prefix: bool = False
    excluded: bool = False

    def tsquery(self) -> str:
        """The PostgreSQL rendering of :meth:`render`: the same words, stems and prefixes."""
        if not self.prefix:
            return _tsphrase(self.words, self.column)
        head = self.words[:-1]
        return _any(
            [
                _tsphrase((*head, form), self.column, prefix=True)
                for form, _ in prefix_forms(self.words[-1])
            ],
            " | ",
        )

    def render(self) -> str:
        text = '"' + " ".join(self.words) + '"'
        if self.prefix:
            # FTS5 stems a prefix before matching stored stems: "generat*" alone would miss
            # "generation" (stored "gener"), so each shortest stem a completion has is asked for.
            head = " ".join(self.words[:-1])
            forms = [
                f'"{head} {form}"*' if head else f'"{form}"*'
                for form, _ in prefix_forms(self.words[-1])
            ]
            text = forms[0] if len(forms) == 1 else "(" + " OR ".join(forms) + ")"
        if self.column:
            text = f"{self.column} : {text}"
        return text


@dataclass(frozen=True, slots=True)
class FtsQuery:
    """``strict`` matches every term; ``relaxed`` (when there is more than one) matches any."""

    strict: Match
    relaxed: Match | None
    words: tuple[str, ...]
    prefixes: tuple[str, ...] = ()  # words typed with a trailing * (matched as prefixes)


def _words(text: str) -> tuple[str, ...]:
    return tuple(word.lower() for word in _WORD.findall(text))


def parse_terms(text: str) -> list[Term | str]:
    """Split user text into terms and the bare operator ``"OR"``."""
    text = unicodedata.normalize("NFKC", text)[:MAX_QUERY_CHARS]
    # An unbalanced quote is dropped rather than swallowing the rest of the query.
    if text.count('"') % 2:
        index = text.rfind('"')
        text = text[:index] + " " + text[index + 1 :]
    items: list[Term | str] = []
    exclude_next = False
    for match in _TOKEN.finditer(text):
        phrase, raw = match.group(1), match.group(2)
        if phrase is not None:
            words = _words(phrase)
            if words:
                items.append(Term(words, excluded=exclude_next))
            exclude_next = False
            continue
        if raw in ("OR", "|"):
            items.append("OR")
            continue
        if raw in ("AND", "&", "+"):
            continue
        if raw in ("NOT", "-"):
            exclude_next = True
            continue
        excluded = exclude_next or (raw.startswith("-") and len(raw) > 1)
        exclude_next = False
        raw = raw.lstrip("-+")
        column = None
        field, sep, rest = raw.partition(":")
        if sep and field.lower() in FIELD_COLUMNS and rest:
            column, raw = FIELD_COLUMNS[field.lower()], rest
        words = _words(raw)
        if not words:
            continue
        prefix = raw.endswith("*") and len(words[-1]) >= MIN_PREFIX_CHARS
        items.append(Term(words, column=column, prefix=prefix, excluded=excluded))
    return items


def build_fts_query(text: str) -> FtsQuery:
    """Turn what a user typed into search expressions (FTS5 and tsquery), or raise InvalidQuery."""
    items = parse_terms(text)
    terms = sum(isinstance(item, Term) for item in items)
    if terms > MAX_TERMS:
        # The strict and the relaxed (any-word) expression both hold every term: one cap for both.
        raise InvalidQuery(
            f"That search has {terms} terms, and I look for at most {MAX_TERMS} at once "
            '(every word, "phrase", OR alternative and -exclusion counts as one): '
            "keep the few most telling words, or put words that belong together in quotes."
        )
    groups: list[list[Term]] = []  # OR-groups of positive terms, ANDed together
    excluded: list[Term] = []
    pending_or = False
    for item in items:
        if item == "OR":
            pending_or = bool(groups)
            continue
        assert isinstance(item, Term)
        if item.excluded:
            excluded.append(item)
            continue
        if pending_or:
            groups[-1].append(item)
        else:
            groups.append([item])
        pending_or = False
    if not groups:
        if excluded:
            raise InvalidQuery("Tell me what to look for, not only what to leave out.")
        raise InvalidQuery(
            "There is nothing to search for: try a few words from a title or abstract."
        )

    words = tuple(word for group in groups for term in group for word in term.words)
    prefixes = tuple(term.words[-1] for group in groups for term in group if term.prefix)
    return FtsQuery(
        strict=Match(_fts5_all(groups, excluded), _tsquery_all(groups, excluded)),
        relaxed=(
            Match(_fts5_any(groups, excluded), _tsquery_any(groups, excluded))
            if len(groups) > 1
            else None
        ),
        words=words,
        prefixes=prefixes,
    )


def _fts5_all(groups: list[list[Term]], excluded: list[Term]) -> str:
    strict = " AND ".join(_any([term.render() for term in group], " OR ") for group in groups)
    not_part = "".join(f" NOT {term.render()}" for term in excluded)
    return (f"({strict})" if not_part and len(groups) > 1 else strict) + not_part


def _fts5_any(groups: list[list[Term]], excluded: list[Term]) -> str:
    relaxed = " OR ".join(term.render() for group in groups for term in group)
    not_part = "".join(f" NOT {term.render()}" for term in excluded)
    return (f"({relaxed})" if not_part else relaxed) + not_part


# tsquery's ! binds tighter than <->, & and |, and & tighter than |: the parentheses _any and
# _tsphrase add keep each part whole.
def _tsquery_all(groups: list[list[Term]], excluded: list[Term]) -> str:
    parts = [_any([term.tsquery() for term in group], " | ") for group in groups]
    return " & ".join(parts + [f"!{term.tsquery()}" for term in excluded])


def _tsquery_any(groups: list[list[Term]], excluded: list[Term]) -> str:
    relaxed = _any([term.tsquery() for group in groups for term in group], " | ")
    return " & ".join([relaxed] + [f"!{term.tsquery()}" for term in excluded])


class _FoldTable(dict[int, str]):
    """str.translate table folding each character to one lower-case, accent-free character.

    One character in, one out, so offsets in the folded text are offsets in the original.
    """

    def __missing__(self, code: int) -> str:
        base = unicodedata.normalize("NFKD", chr(code))[:1] or chr(code)
        folded = base.lower()[:1] or base
        self[code] = folded
        return folded


_FOLD = _FoldTable()


def fold(text: str) -> str:
    """Lower case without diacritics, as the FTS5 tokenizer compares words; same length."""
    return text.translate(_FOLD)


@functools.lru_cache(maxsize=64)  # a page of hits is highlighted with the same query
def _matcher(query: FtsQuery) -> Callable[[str], bool]:
    """Whether a folded token matched: by stem, as the porter index compares words."""
    stems = frozenset(stem(fold(word)) for word in query.words)
    # FTS5 stems a prefix too, then matches every stored stem that starts with it.
    prefixes = tuple(stemmed for word in query.prefixes for _, stemmed in prefix_forms(word))

    def matches(token: str) -> bool:
        stemmed = stem(token)
        return stemmed in stems or (bool(prefixes) and stemmed.startswith(prefixes))

    return matches


def highlight(text: str, query: FtsQuery, *, tokens: int = SNIPPET_WORDS) -> str:
    """A window of ``text`` around the first matched word, matches wrapped in MATCH_START/END.

    A word matches when its Porter stem is a query word's stem ("Transformers" for
    "transformer"), or starts with a prefix's stem, as in the index. Done in Python rather than
    with FTS5's snippet(): a prefix query re-expands its prefix for every row snippet() reads,
    which costs milliseconds per result on a large index. Only the words up to the first match
    and the words shown are walked.
    """
    matches = _matcher(query)
    folded = fold(text)
    first = next((m for m in _TOKEN_CHARS.finditer(folded) if matches(m.group())), None)
    start = first.start() if first else 0
    # Back to the start of the matched word, then SNIPPET_LEAD words further back.
    while start > 0 and not text[start - 1].isspace():
        start -= 1
    lead = list(_NON_SPACE.finditer(text, max(0, start - 40 * SNIPPET_LEAD), start))
    if lead:
        start = lead[-SNIPPET_LEAD:][0].start()
    end = start
    shown = 0
    for match in _NON_SPACE.finditer(text, start):
        end = match.end()
        shown += 1
        if shown == tokens:
            break
    if shown == 0:
        return ""
    pieces: list[str] = []
    cursor = start
    for match in _TOKEN_CHARS.finditer(folded, start, end):
        if not matches(match.group()):
            continue
        pieces += [text[cursor : match.start()], MATCH_START, text[match.start() : match.end()]]
        pieces.append(MATCH_END)
        cursor = match.end()
    pieces.append(text[cursor:end])
    snippet = " ".join("".join(pieces).split())
    before = _NON_SPACE.search(text, 0, start) is not None
    after = _NON_SPACE.search(text, end) is not None
    return ("…" if before else "") + snippet + ("…" if after else "")
