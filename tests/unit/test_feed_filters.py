"""Feed filters: any-of keywords, ``-word`` exclusions, min_upvotes, and why a paper fails."""

from __future__ import annotations

import random
import re

import pytest

from bot.errors import InvalidInput
from bot.feed_filters import (
    MAX_KEYWORDS,
    FeedFilter,
    PaperText,
    parse_keywords,
    parse_new_keywords,
)
from bot.models import Paper
from tests.conftest import fixture_papers


def paper(
    title: str = "A paper",
    abstract: str = "Nothing to see.",
    *,
    keywords: tuple[str, ...] = (),
    upvotes: int = 10,
) -> Paper:
    return Paper(
        id="2606.00001", title=title, abstract=abstract, ai_keywords=keywords, upvotes=upvotes
    )


def test_keywords_are_trimmed_lowercased_and_deduplicated() -> None:
    assert parse_keywords(" Diffusion ,agents,, DIFFUSION, -Survey ,- benchmark ") == (
        ("diffusion", "agents"),
        ("survey", "benchmark"),
    )
    assert parse_keywords(None) == ((), ())
    assert parse_keywords("  ,  ") == ((), ())


def test_bad_keyword_lists_are_refused_with_a_reason() -> None:
    with pytest.raises(InvalidInput, match="followed by the word"):
        parse_keywords("agents, -")
    with pytest.raises(InvalidInput, match="too long"):
        parse_keywords("x" * 61)
    with pytest.raises(InvalidInput, match="too many"):
        parse_keywords(",".join(f"k{i}" for i in range(MAX_KEYWORDS + 1)))
    with pytest.raises(InvalidInput, match="min_upvotes"):
        FeedFilter.parse("", -1)


def test_the_canonical_text_round_trips() -> None:
    wanted = FeedFilter.parse("Agents, -survey, diffusion models", 5)
    assert wanted.keywords_text == "agents, diffusion models, -survey"
    again = FeedFilter.parse(wanted.keywords_text, 5)
    assert again == wanted
    assert wanted.describe() == "≥ 5 upvotes; any of: agents, diffusion models; none of: survey"
    assert FeedFilter().describe() == "every paper"


def test_no_filter_passes_every_paper() -> None:
    assert FeedFilter().explain(paper(upvotes=0)).passed


def test_any_keyword_in_title_abstract_or_hf_keywords_matches_case_insensitively() -> None:
    wanted = FeedFilter.parse("diffusion, robotics")
    assert wanted.explain(paper(title="Fast DIFFUSION sampling")).reason.startswith(
        "mentions “diffusion” in the title"
    )
    assert wanted.explain(paper(abstract="We study Robotics.")).passed
    assert wanted.explain(paper(keywords=("diffusion models",))).passed
    verdict = wanted.explain(paper(title="Language models"))
    assert not verdict.passed
    assert verdict.reason == "mentions none of: diffusion, robotics"


def test_keywords_match_at_the_start_of_words_only() -> None:
    wanted = FeedFilter.parse("agent, rl")
    assert wanted.matches(paper(title="Agentic search"))
    assert wanted.matches(paper(title="LLM agents"))
    assert wanted.matches(paper(title="RL from human feedback"))
    assert not wanted.matches(paper(title="A world model"))  # "rl" inside "world"
    assert not wanted.matches(paper(title="Reagents in chemistry"))


def test_phrases_match_across_spaces_hyphens_and_line_breaks() -> None:
    wanted = FeedFilter.parse("vision language")
    assert wanted.matches(paper(title="Vision-Language Models"))
    assert wanted.matches(paper(abstract="a vision\nlanguage model"))
    assert FeedFilter.parse("c++").matches(paper(title="Fuzzing C++ compilers"))


def test_an_exclusion_wins_over_a_match_and_names_where_it_was_found() -> None:
    wanted = FeedFilter.parse("agents, -survey")
    verdict = wanted.explain(paper(title="LLM agents", abstract="A survey of agents."))
    assert not verdict.passed
    assert verdict.reason == "excluded: mentions “survey” in the abstract"
    assert FeedFilter.parse("-survey").matches(paper(title="LLM agents"))


def test_min_upvotes_blocks_papers_below_it_and_says_by_how_much() -> None:
    wanted = FeedFilter.parse("agents", 20)
    verdict = wanted.explain(paper(title="LLM agents", upvotes=7))
    assert verdict == verdict.__class__(False, "7 upvotes, needs 20")
    assert wanted.explain(paper(title="LLM agents", upvotes=20)).passed


def test_a_phrase_does_not_match_across_two_fields() -> None:
    # The title ends with "vision" and a keyword starts with "language": no field says both.
    wanted = FeedFilter.parse("vision language")
    assert not wanted.matches(paper(title="Robots with vision", keywords=("language",)))
    assert not wanted.explain(paper(title="Robots with vision", keywords=("language",))).passed


def _reference(term: str) -> re.Pattern[str]:
    """The regex the filter used to run for every check (the matcher must agree with it)."""
    words = [re.escape(word) for word in re.split(r"[\s\-]+", term) if word]
    prefix = r"(?<!\w)" if words and re.match(r"\w", words[0]) else ""
    return re.compile(prefix + r"[\s\-]+".join(words))


def test_the_fast_matcher_agrees_with_the_reference_regex_on_real_papers() -> None:
    papers = fixture_papers("daily_papers_2026-06-12") + fixture_papers("daily_papers_2025-10-03")
    rng = random.Random(5)
    vocabulary = sorted(
        {k.lower() for p in papers for k in p.ai_keywords}
        | {w.lower() for p in papers for w in p.title.split()}
    )
    tricky = ["rl", "agent", "c++", "vision language", "-based", "model", "é", "llm-as-a-judge"]
    terms = tricky + rng.sample(vocabulary, 150)
    # Word fragments: many occur inside words, where they must not match.
    terms += [w[1:4] for w in rng.sample(vocabulary, 60) if len(w) > 4]
    checks = []
    for raw in terms:
        (include, _) = parse_keywords(raw.replace(",", " "))
        if include:
            checks.append((FeedFilter.parse(include[0]), _reference(include[0])))
    disagreements = []
    for p in papers:
        text = PaperText.of(p)
        fields = [text.part(name) for name in ("title", "keywords", "abstract")]
        for wanted, reference in checks:
            expected = any(reference.search(value) for value in fields)
            if wanted.matches(text) != expected or wanted.explain(text).passed != expected:
                disagreements.append((p.id, wanted.include))
    assert disagreements == []


def test_star_alone_clears_keywords_and_an_empty_list_is_refused() -> None:
    assert parse_new_keywords(" * ") == ""
    assert parse_new_keywords("Agents, -Survey") == "agents, -survey"
    with pytest.raises(InvalidInput, match="names no keyword"):
        parse_new_keywords(" , ,")
    with pytest.raises(InvalidInput, match="give it alone"):
        parse_new_keywords("agents, *")
