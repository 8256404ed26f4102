"""Summaries and keywords: short, faithful to the abstract, deterministic, on real fixture days."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.models import Paper
from bot.summarise import (
    extract_keywords,
    extractive_summary,
    one_sentence,
    recurring_keywords,
    split_sentences,
    summarise_paper,
)

HF_API = Path(__file__).parents[1] / "fixtures" / "hf" / "api"
DAYS = (
    "2024-05-27",
    "2024-08-01",
    "2025-03-17",
    "2025-10-03",
    "2026-06-12",
    "2026-07-21_no_ai_summary",
)


def collapse(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def paper_from_item(item: dict[str, Any]) -> Paper:
    """A Paper from one ``/api/daily_papers`` item (the real parser lives elsewhere)."""
    raw = item["paper"]
    return Paper(
        id=raw["id"],
        title=collapse(raw["title"]),
        abstract=collapse(raw["summary"]),
        authors=tuple(author["name"] for author in raw.get("authors", [])),
        upvotes=raw.get("upvotes", 0),
        num_comments=item.get("numComments", 0),
        ai_summary=raw.get("ai_summary"),
        ai_keywords=tuple(raw.get("ai_keywords", ())),
    )


def day_papers(day: str) -> list[Paper]:
    items = json.loads((HF_API / f"daily_papers_{day}.json").read_text(encoding="utf-8"))
    return [paper_from_item(item) for item in items]


ALL_PAPERS = [paper for day in DAYS for paper in day_papers(day)]


# --- sentences -------------------------------------------------------------------------------


def test_abbreviations_and_decimals_do_not_end_sentences() -> None:
    text = (
        "We study priors, e.g. sparsity, i.e. few active units. Smith et al. (2023) reported "
        "39.6% accuracy vs. 41.2% for GPT-4 (Sec. 3). As Fig. 2 shows, gains hold. Does it scale? "
        "Yes."
    )
    assert split_sentences(text) == [
        "We study priors, e.g. sparsity, i.e. few active units.",
        "Smith et al. (2023) reported 39.6% accuracy vs. 41.2% for GPT-4 (Sec. 3).",
        "As Fig. 2 shows, gains hold.",
        "Does it scale?",
        "Yes.",
    ]


def test_et_al_before_a_new_sentence_still_ends_it() -> None:
    text = "This extends the method of Smith et al. We go further."
    assert split_sentences(text) == ["This extends the method of Smith et al.", "We go further."]


def test_hard_line_breaks_of_older_abstracts_are_collapsed() -> None:
    raw = json.loads((HF_API / "daily_papers_2024-08-01.json").read_text())[0]["paper"]["summary"]
    assert "\n" in raw
    sentences = split_sentences(raw)
    assert len(sentences) > 3
    assert all("\n" not in sentence and "  " not in sentence for sentence in sentences)
    assert " ".join(sentences) == collapse(raw)


def test_splitting_keeps_every_word_of_every_fixture_abstract() -> None:
    for paper in ALL_PAPERS:
        assert " ".join(split_sentences(paper.abstract)) == paper.abstract


# --- extractive summaries ----------------------------------------------------------------------


def test_summary_is_deterministic() -> None:
    for paper in ALL_PAPERS:
        assert extractive_summary(paper.abstract) == extractive_summary(paper.abstract)


def test_long_abstract_gives_two_or_three_of_its_own_sentences_in_order() -> None:
    long_ones = [p for p in ALL_PAPERS if len(split_sentences(p.abstract)) >= 6]
    assert len(long_ones) > 20
    for paper in long_ones:
        original = split_sentences(paper.abstract)
        summary = split_sentences(extractive_summary(paper.abstract))
        assert 2 <= len(summary) <= 3
        positions = [original.index(sentence) for sentence in summary]
        assert positions == sorted(positions)
        assert len(extractive_summary(paper.abstract)) < len(paper.abstract)


def test_short_abstract_comes_back_as_is() -> None:
    assert extractive_summary("One sentence only.") == "One sentence only."
    two = "We propose X.  It works\nwell."
    assert extractive_summary(two) == "We propose X. It works well."
    assert extractive_summary("") == ""


def test_summary_skips_the_code_link_sentence() -> None:
    paper = day_papers("2025-10-03")[
        0
    ]  # Self-Forcing++: ends with "demo can be found at https://…"
    assert "https://" in paper.abstract
    assert "https://" not in extractive_summary(paper.abstract)


@given(st.text(max_size=3000))
def test_summary_of_any_text_is_never_empty_nor_longer(text: str) -> None:
    summary = extractive_summary(text)
    assert len(summary) <= len(text)
    assert bool(summary) == bool(text.strip())


# --- one sentence and summarise_paper ----------------------------------------------------------


def test_one_sentence_prefers_the_first_sentence_of_hf_ai_summary() -> None:
    paper = day_papers("2025-10-03")[0]
    assert paper.ai_summary
    sentence = one_sentence(paper)
    assert sentence == split_sentences(paper.ai_summary)[0]
    assert len(split_sentences(sentence)) == 1


def test_one_sentence_falls_back_to_a_sentence_of_the_abstract_then_the_title() -> None:
    paper = day_papers("2026-07-21_no_ai_summary")[0]
    assert paper.ai_summary is None
    assert one_sentence(paper) in split_sentences(paper.abstract)
    assert one_sentence(replace(paper, abstract="")) == paper.title


def test_hf_ai_summary_is_preferred_and_labelled() -> None:
    paper = day_papers("2025-10-03")[0]
    summary = summarise_paper(paper)
    assert summary.source == "huggingface"
    assert summary.text == collapse(paper.ai_summary or "")
    assert summary.keywords == paper.ai_keywords


def test_without_ai_fields_the_summary_is_extractive_with_extracted_keywords() -> None:
    paper = day_papers("2026-07-21_no_ai_summary")[0]
    summary = summarise_paper(paper)
    assert summary.source == "extractive"
    assert summary.text == extractive_summary(paper.abstract)
    assert len(summary.keywords) == 5
    source_text = f"{paper.title} {paper.abstract}".lower()
    for keyword in summary.keywords:
        for word in keyword.lower().split():
            assert word.rstrip("s") in source_text


def test_extracted_keywords_are_deterministic_and_skip_stopwords() -> None:
    for paper in day_papers("2024-05-27"):
        keywords = extract_keywords(paper.abstract, title=paper.title)
        assert keywords == extract_keywords(paper.abstract, title=paper.title)
        assert len(set(keywords)) == len(keywords)
        assert not {"the", "and", "we", "paper", "propose", "results"} & set(keywords)


def test_a_repeated_phrase_becomes_a_keyword() -> None:
    paper = day_papers("2024-05-27")[0]  # ConvLLaVA: "visual tokens" recurs in the abstract
    assert any("visual tokens" in keyword for keyword in summarise_paper(paper).keywords)


# --- recurring keywords ------------------------------------------------------------------------


def test_recurring_keywords_of_a_real_day_appear_in_at_least_two_papers() -> None:
    papers = day_papers("2025-10-03")
    recurring = recurring_keywords(papers)
    assert 0 < len(recurring) <= 8
    for keyword, count in recurring:
        # "large language model" and "large language models" are one keyword.
        holders = [
            p
            for p in papers
            if keyword.rstrip("s") in {k.lower().rstrip("s") for k in p.ai_keywords}
        ]
        assert count == len(holders) >= 2
    assert recurring[:2] == [("large language models", 5), ("reinforcement learning", 5)]
    assert recurring == sorted(recurring, key=lambda item: (-item[1], item[0]))


def test_recurring_keywords_ignore_case_and_plurals() -> None:
    a = Paper(id="1", title="A", abstract="", ai_keywords=("Flow Matching", "GRPO", "LLMs"))
    b = Paper(id="2", title="B", abstract="", ai_keywords=("flow matching", "LLM"))
    c = Paper(id="3", title="C", abstract="", ai_keywords=("grpo", "Flow matching", "LLMs"))
    assert recurring_keywords([a, b, c]) == [("flow matching", 3), ("llms", 3), ("grpo", 2)]


def test_recurring_keywords_fall_back_to_extracted_ones() -> None:
    papers = day_papers("2026-07-21_no_ai_summary")
    recurring = recurring_keywords(papers, top=5)
    assert recurring
    assert all(count >= 2 for _, count in recurring)


@pytest.mark.parametrize("top", [0, 1, 3])
def test_recurring_keywords_respect_top(top: int) -> None:
    assert len(recurring_keywords(day_papers("2025-10-03"), top=top)) == top
