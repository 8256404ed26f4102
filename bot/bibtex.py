"""Papers → BibTeX. Pure functions: no I/O, no Discord.

Every entry is an arXiv ``@misc`` (what arXiv itself exports) with ``eprint``/``archivePrefix``, so
BibTeX, biber and reference managers all link it back to arXiv. Text from Hugging Face is
untrusted: LaTeX specials are escaped and the only braces in the output are the ones written here,
so every entry stays balanced whatever the title holds. Non-ASCII text is kept as UTF-8 (biber and
``inputenc`` read it; spelling it as TeX accents would lose scripts TeX has no macro for).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from bot.models import Paper

# Hostile input must not make huge entries: real titles are under 300 characters, and classic
# BibTeX has a fixed line buffer. Longer titles are cut at a word and marked with an ellipsis.
TITLE_LIMIT = 1000
NAME_LIMIT = 200
AUTHOR_LIMIT = 100  # collaborations list thousands; the rest become BibTeX's "and others"
KEY_PART_LIMIT = 24

MONTH_MACROS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")

# Words that make poor citation keys ("a", "the", "towards"...).
# fmt: off
_KEY_STOPWORDS = frozenset({
    "a", "an", "and", "are", "as", "at", "by", "do", "does", "for", "from", "how", "in", "into",
    "is", "it", "of", "on", "or", "the", "to", "toward", "towards", "via", "what", "when", "where",
    "which", "why", "with",
})
# fmt: on

_LATEX_ESCAPES = {
    "\\": r"\textbackslash{}",
    # BibTeX counts braces even after a backslash, so "\{" would unbalance an entry.
    "{": r"\textbraceleft{}",
    "}": r"\textbraceright{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
    # In the default OT1 font encoding these print as other glyphs.
    "<": r"\textless{}",
    ">": r"\textgreater{}",
    "|": r"\textbar{}",
}
_LATEX_SPECIAL = re.compile("[" + re.escape("".join(_LATEX_ESCAPES)) + "]")

# New-style ids carry the month: 2406.12345 is June 2024; old style: hep-th/9901001 is Jan 1999.
_NEW_ID = re.compile(r"^(\d{2})(\d{2})\.\d{4,5}")
_OLD_ID = re.compile(r"/(\d{2})(\d{2})\d{3}")
_ID_SAFE = re.compile(r"[^A-Za-z0-9./-]")
_AND_WORD = re.compile(r"\band\b", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class ArxivDate:
    year: int
    month: int | None


def clean(text: str) -> str:
    """NFC text without control characters or lone surrogates, whitespace collapsed."""
    text = unicodedata.normalize("NFC", text)
    # Lone surrogates (possible in JSON) cannot be written as UTF-8; controls break the file.
    kept = "".join(
        " " if unicodedata.category(char) in ("Cc", "Cs", "Zl", "Zp") else char for char in text
    )
    return " ".join(kept.split())


def escape_latex(text: str) -> str:
    """``text`` with every LaTeX special escaped (no raw braces survive)."""
    return _LATEX_SPECIAL.sub(lambda match: _LATEX_ESCAPES[match.group()], text)


def shorten(text: str, limit: int) -> str:
    """``text`` cut to at most ``limit`` characters, at a word when there is one, with "…"."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    if " " in cut[limit // 2 :]:
        cut = cut.rsplit(" ", 1)[0]
    return cut.rstrip() + "…"


def protect_title(title: str) -> str:
    """Escape ``title`` and brace words with inner capitals, so styles keep "LLaMA" and "GPT"."""
    words = []
    for word in clean(title).split(" "):
        escaped = escape_latex(word)
        if any(char.isupper() for char in word[1:]):
            escaped = "{" + escaped + "}"
        words.append(escaped)
    return " ".join(words)


def format_name(name: str) -> str:
    """One author for the ``author`` field; names BibTeX would split or invert are braced."""
    name = shorten(clean(name), NAME_LIMIT)
    escaped = escape_latex(name)
    # "Google and DeepMind" would become two authors, "Smith, Jr" would be read as "Last, First".
    if "," in name or _AND_WORD.search(name):
        return "{" + escaped + "}"
    return escaped


def format_authors(authors: Sequence[str]) -> str:
    names = [format_name(name) for name in authors if clean(name)]
    if len(names) > AUTHOR_LIMIT:
        names = [*names[:AUTHOR_LIMIT], "others"]
    return " and ".join(names)


def arxiv_date(paper: Paper) -> ArxivDate | None:
    """When the paper appeared on arXiv: its date, else what its id says, else None."""
    if paper.published_at is not None:
        return ArxivDate(paper.published_at.year, paper.published_at.month)
    if match := _NEW_ID.match(paper.id):
        year, month = int(match.group(1)), int(match.group(2))
        return ArxivDate(2000 + year, month if 1 <= month <= 12 else None)
    if match := _OLD_ID.search(paper.id):
        year, month = int(match.group(1)), int(match.group(2))
        return ArxivDate((1900 if year >= 91 else 2000) + year, month if 1 <= month <= 12 else None)
    return None


def _ascii_word(text: str) -> str:
    """Lower-case ASCII letters and digits of ``text`` (accents folded: "Müller" → "muller")."""
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return "".join(char for char in folded.lower() if char.isalnum())[:KEY_PART_LIMIT]


def _last_name(author: str) -> str:
    author = clean(author)
    if "," in author:  # "Touvron, Hugo"
        return _ascii_word(author.split(",", 1)[0].split(" ")[-1])
    return _ascii_word(author.split(" ")[-1]) if author else ""


def citation_key(paper: Paper) -> str:
    """The natural key: first author's last name, year, first significant title word.

    "touvron2023llama" for "LLaMA: Open and Efficient..." by Hugo Touvron et al., 2023.
    """
    name = (_last_name(paper.authors[0]) if paper.authors else "") or "anon"
    when = arxiv_date(paper)
    year = str(when.year) if when else ""
    words = (_ascii_word(word) for word in clean(paper.title).split(" "))
    # A word with a letter: "muller2024scaling" says more than "muller2024100".
    word = next((w for w in words if w and not w.isdigit() and w not in _KEY_STOPWORDS), "")
    return f"{name}{year}{word}"


def citation_keys(papers: Iterable[Paper]) -> dict[str, str]:
    """A unique key per paper id; collisions get "-2", "-3"… in arXiv-id order.

    Base keys hold only letters and digits, so a suffixed key can never equal a base key, and the
    same set of papers always gets the same keys whatever order they were bookmarked in.
    """
    by_id = {paper.id: paper for paper in papers}
    taken: dict[str, int] = {}
    keys: dict[str, str] = {}
    for paper_id in sorted(by_id):
        base = citation_key(by_id[paper_id])
        seen = taken.get(base, 0) + 1
        taken[base] = seen
        keys[paper_id] = base if seen == 1 else f"{base}-{seen}"
    return keys


def bibtex_entry(paper: Paper, key: str) -> str:
    """One ``@misc`` entry for ``paper`` under ``key``."""
    fields: list[tuple[str, str]] = []
    title = shorten(clean(paper.title), TITLE_LIMIT)
    if title:
        fields.append(("title", "{" + protect_title(title) + "}"))
    authors = format_authors(paper.authors)
    if authors:
        fields.append(("author", "{" + authors + "}"))
    when = arxiv_date(paper)
    if when is not None:
        fields.append(("year", "{" + str(when.year) + "}"))
        if when.month is not None:
            fields.append(("month", MONTH_MACROS[when.month - 1]))  # a macro: styles localise it
    # Ids come from our own store, but a stray character must not break the entry or the URL.
    eprint = _ID_SAFE.sub("", paper.id)
    fields.append(("eprint", "{" + eprint + "}"))
    fields.append(("archivePrefix", "{arXiv}"))
    fields.append(("url", "{https://arxiv.org/abs/" + eprint + "}"))
    body = "".join(f"  {name} = {value},\n" for name, value in fields)
    return f"@misc{{{key},\n{body}}}\n"


def export_bibtex(papers: Sequence[Paper]) -> str:
    """A ``.bib`` file: one entry per paper (duplicates dropped), in the given order."""
    keys = citation_keys(papers)
    seen: set[str] = set()
    entries = []
    for paper in papers:
        if paper.id in seen:
            continue
        seen.add(paper.id)
        entries.append(bibtex_entry(paper, keys[paper.id]))
    return "\n".join(entries)
