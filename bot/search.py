"""User search text → a safe FTS5 MATCH expression.

Nothing the user types reaches SQLite as syntax: every word is re-emitted as a quoted FTS5 string,
so quotes, ``NEAR(``, ``*``, ``:`` and friends can never raise a SQLite error. A few conveniences
are understood on purpose: "exact phrases", ``-word`` / ``NOT word`` to exclude, ``OR`` between
words, a trailing ``*`` for prefixes, and ``title:`` / ``author:`` / ``abstract:`` / ``keyword:``
to search one field.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from bot.errors import InvalidQuery

MAX_QUERY_CHARS = 1000
# Snippets wrap matched words in these control characters; the renderer escapes the text first,
# then turns them into bold, so nothing from Hugging Face can forge formatting.
MATCH_START = "\x02"
MATCH_END = "\x03"
MAX_TERMS = 24
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

_WORD = re.compile(r"\w+", re.UNICODE)
# A quoted phrase, or a run of non-space characters that are not quotes.
_TOKEN = re.compile(r'"([^"]*)"|([^\s"]+)')


@dataclass(frozen=True, slots=True)
class Term:
    words: tuple[str, ...]
    column: str | None = None
    prefix: bool = False
    excluded: bool = False

    def render(self) -> str:
        text = '"' + " ".join(self.words) + '"'
        if self.prefix:
            text += "*"
        if self.column:
            text = f"{self.column} : {text}"
        return text


@dataclass(frozen=True, slots=True)
class FtsQuery:
    """``strict`` matches every term; ``relaxed`` (when there is more than one) matches any."""

    strict: str
    relaxed: str | None
    words: tuple[str, ...]


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
    """Turn what a user typed into FTS5 expressions, or raise InvalidQuery."""
    items = parse_terms(text)
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
        if len(groups) + len(excluded) >= MAX_TERMS:
            break
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

    def group_sql(group: list[Term]) -> str:
        rendered = [term.render() for term in group]
        return rendered[0] if len(rendered) == 1 else "(" + " OR ".join(rendered) + ")"

    not_part = "".join(f" NOT {term.render()}" for term in excluded)
    strict = " AND ".join(group_sql(group) for group in groups)
    relaxed = None
    if len(groups) > 1:
        relaxed = " OR ".join(term.render() for group in groups for term in group)
        relaxed = f"({relaxed})" if not_part else relaxed
    strict = f"({strict})" if not_part and len(groups) > 1 else strict
    words = tuple(word for group in groups for term in group for word in term.words)
    return FtsQuery(
        strict=strict + not_part,
        relaxed=relaxed + not_part if relaxed else None,
        words=words,
    )
