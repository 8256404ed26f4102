"""BibTeX export: entries a reference manager can read, whatever Hugging Face sends us."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.bibtex import (
    AUTHOR_LIMIT,
    TITLE_LIMIT,
    bibtex_entry,
    citation_key,
    citation_keys,
    export_bibtex,
)
from bot.models import Paper
from tests.conftest import fixture_papers

# -- a tiny BibTeX reader, strict where BibTeX is strict ------------------------------------------


@dataclass
class Entry:
    kind: str
    key: str
    fields: dict[str, str]  # raw values: the text inside the braces, or a bare macro


class BibSyntaxError(AssertionError):
    pass


_HEAD = re.compile(r"@(\w+)\{([A-Za-z0-9_:.\-]+),")
_FIELD = re.compile(r"\s*([A-Za-z]+)\s*=\s*")
_MACRO = re.compile(r"[a-z]+|\d+")


def _braced(text: str, start: int) -> tuple[str, int]:
    """The balanced group opening at ``start``; like BibTeX, every brace counts, escaped or not."""
    assert text[start] == "{"
    depth = 0
    for index in range(start, len(text)):
        if text[index] == "{":
            depth += 1
        elif text[index] == "}":
            depth -= 1
            if depth == 0:
                return text[start + 1 : index], index + 1
    raise BibSyntaxError(f"unbalanced braces from offset {start}")


def read_bibtex(text: str) -> list[Entry]:
    """Every entry of a .bib file; fails on anything but whitespace between entries."""
    entries: list[Entry] = []
    position = 0
    while position < len(text):
        head = _HEAD.match(text, position)
        if head is None:
            if text[position:].strip():
                raise BibSyntaxError(f"junk at offset {position}: {text[position:][:40]!r}")
            break
        fields: dict[str, str] = {}
        position = head.end()
        while True:
            rest = text[position:].lstrip()
            position = len(text) - len(rest)
            if rest.startswith("}"):
                position += 1
                break
            field = _FIELD.match(text, position)
            if field is None:
                raise BibSyntaxError(f"expected a field at offset {position}")
            name, position = field.group(1), field.end()
            if text.startswith("{", position):
                value, position = _braced(text, position)
            else:
                macro = _MACRO.match(text, position)
                if macro is None:
                    raise BibSyntaxError(f"bad value for {name} at offset {position}")
                value, position = macro.group(), macro.end()
            if name in fields:
                raise BibSyntaxError(f"field {name} twice in {head.group(2)}")
            fields[name] = value
            rest = text[position:].lstrip()
            position = len(text) - len(rest)
            if rest.startswith(","):
                position += 1
        entries.append(Entry(head.group(1), head.group(2), fields))
        while position < len(text) and text[position].isspace():
            position += 1
    return entries


_LATEX_TOKEN = re.compile(r"\\text(\w+)\{\}|\\([&%$#_])|[{}]|.", re.DOTALL)
_TEXT_COMMANDS = {
    "backslash": "\\",
    "braceleft": "{",
    "braceright": "}",
    "asciitilde": "~",
    "asciicircum": "^",
    "less": "<",
    "greater": ">",
    "bar": "|",
}


def latex_to_text(value: str) -> str:
    """Undo the escaping (and the case-protecting braces) to get the text a reader sees."""

    def token(match: re.Match[str]) -> str:
        if match.group(1):
            return _TEXT_COMMANDS[match.group(1)]
        if match.group(2):
            return match.group(2)
        return "" if match.group() in "{}" else match.group()

    return _LATEX_TOKEN.sub(token, value)


def raw_specials(value: str) -> list[str]:
    """LaTeX specials left unescaped in a field value (braces are checked by the reader)."""
    stripped = re.sub(r"\\text\w+\{\}|\\[&%$#_]", "", value)
    return re.findall(r"[\\&%$#_~^]", stripped)


def one_entry(paper: Paper, key: str = "key") -> Entry:
    [entry] = read_bibtex(bibtex_entry(paper, key))
    return entry


# -- ordinary papers ----------------------------------------------------------------------------


def test_a_real_paper_exports_as_an_arxiv_misc_entry() -> None:
    llama = next(p for p in fixture_papers("daily_papers_2024-08-01") if p.id == "2407.21783")

    entry = one_entry(llama, citation_key(llama))

    assert entry.kind == "misc"
    assert entry.key == "dubey2024llama"
    assert latex_to_text(entry.fields["title"]) == "The Llama 3 Herd of Models"
    assert entry.fields["eprint"] == "2407.21783"
    assert entry.fields["archivePrefix"] == "arXiv"
    assert entry.fields["url"] == "https://arxiv.org/abs/2407.21783"
    assert entry.fields["year"] == "2024"
    assert entry.fields["month"] == "jul"
    assert entry.fields["author"].startswith("Abhimanyu Dubey and Abhinav Jauhri and ")


def test_every_paper_of_a_recorded_day_exports_and_reads_back() -> None:
    papers = fixture_papers("daily_papers_2026-06-12")

    entries = read_bibtex(export_bibtex(papers))

    assert [entry.fields["eprint"] for entry in entries] == [paper.id for paper in papers]
    assert len({entry.key for entry in entries}) == len(papers)
    for paper, entry in zip(papers, entries, strict=True):
        assert latex_to_text(entry.fields["title"]) == paper.title
        assert raw_specials(entry.fields["title"]) == []


def test_words_with_inner_capitals_keep_their_case() -> None:
    entry = one_entry(Paper("2302.13971", "LLaMA: open models from GPT-4 and Meta", ""))
    assert entry.fields["title"] == "{LLaMA:} open models from {GPT-4} and Meta"


def test_year_and_month_come_from_the_id_when_the_arxiv_date_is_unknown() -> None:
    assert one_entry(Paper("2406.12345", "", "")).fields["year"] == "2024"
    assert one_entry(Paper("2406.12345", "", "")).fields["month"] == "jun"
    old = one_entry(Paper("hep-th/9901001", "", ""))
    assert (old.fields["year"], old.fields["month"]) == ("1999", "jan")


def test_a_paper_without_details_still_cites_its_eprint() -> None:
    entry = one_entry(Paper("2406.12345", "", ""))
    assert "title" not in entry.fields
    assert "author" not in entry.fields
    assert entry.fields["eprint"] == "2406.12345"


def test_the_arxiv_date_wins_over_the_id() -> None:
    paper = Paper("2406.12345", "T", "", published_at=datetime(2024, 7, 2, tzinfo=UTC))
    assert one_entry(paper).fields["month"] == "jul"


# -- authors ------------------------------------------------------------------------------------


def test_names_bibtex_would_split_or_invert_are_kept_whole() -> None:
    authors = ("Ada Lovelace", "Research and Development Team", "Smith, Jr.", "Zoë Ü_ber")
    entry = one_entry(Paper("2406.12345", "T", "", authors=authors))
    assert entry.fields["author"] == (
        "Ada Lovelace and {Research and Development Team} and {Smith, Jr.} and Zoë Ü\\_ber"
    )


def test_huge_collaborations_end_in_and_others() -> None:
    authors = tuple(f"Author Number{i}" for i in range(3000))
    names = one_entry(Paper("2406.12345", "T", "", authors=authors)).fields["author"].split(" and ")
    assert len(names) == AUTHOR_LIMIT + 1
    assert names[-1] == "others"


# -- hostile text -------------------------------------------------------------------------------

HOSTILE_TITLES = [
    "Unbalanced } braces { everywhere }}}{{{",
    r"Back\slashes \\ and \end{document} and \input{/etc/passwd}",
    "100% of $5 & #1 ~ ^ _ on < > | lines",
    "Über-Modelle für 数学 and emoji 🤖🦙 with RTL \u202e text",
    "Control\x00chars\x07and\nnewlines\r\tand a lone surrogate \ud800 end",
    "@misc{injected, title = {pwned}}",
    "",
    "   ",
    "{}" * 500,
]


@pytest.mark.parametrize("title", HOSTILE_TITLES)
def test_hostile_titles_stay_one_valid_entry(title: str) -> None:
    paper = Paper("2406.12345", title, "", authors=(title or "x",))

    text = bibtex_entry(paper, citation_key(paper))

    [entry] = read_bibtex(text)
    text.encode("utf-8")  # lone surrogates were dropped, so the file can be written
    for name in ("title", "author"):
        if name in entry.fields:
            assert raw_specials(entry.fields[name]) == []
    if title.strip() and "\ud800" not in title and "\x00" not in title:
        assert latex_to_text(entry.fields["title"]) == " ".join(title.split())


def test_a_100k_character_title_is_cut_at_a_word_and_stays_valid() -> None:
    title = ("word{with}braces%and\\slashes " * 4000)[:100_000]
    [entry] = read_bibtex(bibtex_entry(Paper("2406.12345", title, ""), "k"))
    shown = latex_to_text(entry.fields["title"])
    assert len(shown) <= TITLE_LIMIT
    assert shown.endswith("…")
    assert title.startswith(shown[:-1].rstrip())


def test_a_100k_character_word_is_cut_too() -> None:
    [entry] = read_bibtex(bibtex_entry(Paper("2406.12345", "{" * 100_000, ""), "k"))
    assert len(latex_to_text(entry.fields["title"])) == TITLE_LIMIT


@settings(max_examples=300, deadline=None)
@given(
    title=st.text(max_size=300),
    authors=st.lists(st.text(max_size=40), max_size=5),
)
def test_any_text_makes_a_readable_entry(title: str, authors: list[str]) -> None:
    paper = Paper("2406.12345", title, "", authors=tuple(authors))
    text = export_bibtex([paper])
    [entry] = read_bibtex(text)
    text.encode("utf-8")
    assert entry.fields["eprint"] == "2406.12345"
    assert all(raw_specials(value) == [] for value in entry.fields.values())


# -- citation keys ------------------------------------------------------------------------------


def test_keys_are_last_name_year_and_first_significant_title_word() -> None:
    paper = Paper(
        "2302.13971",
        "Towards the LLaMA: Open and Efficient Foundation Language Models",
        "",
        authors=("Hugo Touvron", "Thibaut Lavril"),
        published_at=datetime(2023, 2, 27, tzinfo=UTC),
    )
    assert citation_key(paper) == "touvron2023llama"


def test_keys_fold_accents_and_survive_names_without_latin_letters() -> None:
    assert citation_key(Paper("2406.12345", "Über alles", "", authors=("José Müller",))) == (
        "muller2024uber"
    )
    assert citation_key(Paper("2406.12345", "数学", "", authors=("张伟",))) == "anon2024"
    assert citation_key(Paper("2406.12345", "", "", authors=("Touvron, Hugo",))) == "touvron2024"


def test_colliding_keys_get_suffixes_and_every_key_is_unique() -> None:
    papers = [
        Paper(f"2406.{n:05d}", "Scaling laws", "", authors=("Jane Doe",)) for n in (3, 1, 2)
    ] + [Paper("2406.00009", "Scaling", "", authors=("Jane Doe",))]

    keys = citation_keys(papers)

    assert keys == {
        "2406.00001": "doe2024scaling",
        "2406.00002": "doe2024scaling-2",
        "2406.00003": "doe2024scaling-3",
        "2406.00009": "doe2024scaling-4",
    }
    entries = read_bibtex(export_bibtex(papers))
    assert [entry.key for entry in entries] == [keys[paper.id] for paper in papers]


def test_keys_do_not_depend_on_the_order_papers_were_saved_in() -> None:
    papers = fixture_papers("daily_papers_2024-08-01")
    assert citation_keys(papers) == citation_keys(list(reversed(papers)))


@given(st.lists(st.tuples(st.text(max_size=12), st.text(max_size=12)), max_size=40))
def test_keys_are_always_unique_and_bibtex_safe(people: list[tuple[str, str]]) -> None:
    papers = [
        Paper(f"2406.{index:05d}", title, "", authors=(name,))
        for index, (name, title) in enumerate(people)
    ]
    keys = list(citation_keys(papers).values())
    assert len(set(keys)) == len(papers)
    assert all(re.fullmatch(r"[a-z0-9]+(-\d+)?", key) for key in keys)


def test_duplicates_are_exported_once() -> None:
    paper = Paper("2406.12345", "T", "")
    assert len(read_bibtex(export_bibtex([paper, paper]))) == 1


def test_the_reader_used_here_rejects_broken_entries() -> None:
    with pytest.raises(BibSyntaxError):
        read_bibtex("@misc{k,\n  title = {a { b},\n}\n")
    with pytest.raises(BibSyntaxError):
        read_bibtex("@misc{k,\n  title = {a},\n}\njunk")
