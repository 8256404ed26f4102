"""The compact auto-post card: a few lines a busy channel can live with, on real papers, safe
against hostile Hugging Face text and inside every Discord limit."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import discord
import pytest

from bot.embeds import (
    DESCRIPTION_LIMIT,
    EMBED_TOTAL_LIMIT,
    FOOTER_LIMIT,
    TITLE_LIMIT,
    card_embed,
    clean,
    compact_paper_embed,
    embed_length,
    format_day,
    paper_embed,
)
from bot.models import Paper
from bot.summarise import split_sentences
from cogs.bookmarks import paper_post_view
from tests.conftest import fixture_papers

TODAY = fixture_papers("daily_papers_2026-06-12")
NO_AI = fixture_papers("daily_papers_2026-07-21_no_ai_summary")
OLD = fixture_papers("daily_papers_2024-08-01")
EVOARENA = next(p for p in TODAY if p.id == "2606.13681")  # AI summary, GitHub, project page


def lines_of(embed: discord.Embed) -> list[str]:
    return (embed.description or "").split("\n")


def test_a_paper_with_an_ai_summary_shows_its_first_sentence_authors_and_one_line_of_links() -> (
    None
):
    embed = compact_paper_embed(EVOARENA)
    assert embed.title == EVOARENA.title
    assert embed.url == "https://huggingface.co/papers/2606.13681"
    summary, authors, meta = lines_of(embed)
    assert EVOARENA.ai_summary is not None
    first_sentence = split_sentences(EVOARENA.ai_summary)[0]
    assert summary.rstrip("…") in clean(first_sentence)
    assert authors == "Jundong Xu, Qingchuan Li, Jiaying Wu +11"
    assert len(EVOARENA.authors) == 14
    assert meta == (
        "▲ 90 · 💬 1 · [arXiv](https://arxiv.org/abs/2606.13681)"
        " · [PDF](https://arxiv.org/pdf/2606.13681)"
        " · [GitHub](https://github.com/Aiden0526/EvoArena) ★ 4"
        " · [Project page](https://aiden0526.github.io/EvoArena/)"
    )
    assert embed.footer.text == "Listed Fri 2026-06-12"  # the listing day, once
    assert embed.fields == []
    assert embed.thumbnail.url is None  # HF's social card is not shown
    assert EVOARENA.thumbnail  # although the paper has one


def test_without_an_ai_summary_the_line_is_the_abstracts_key_sentence() -> None:
    paper = next(p for p in NO_AI if not p.ai_summary)
    summary = lines_of(compact_paper_embed(paper))[0]
    assert summary.rstrip("…")
    assert summary.rstrip("…") in clean(" ".join(split_sentences(paper.abstract)))
    # One sentence of the abstract, not the opening of the whole thing.
    assert len(summary) <= 200


def test_a_paper_without_summary_or_abstract_shows_no_summary_line() -> None:
    bare = replace(EVOARENA, ai_summary=None, abstract="")
    summary, *_ = lines_of(compact_paper_embed(bare))
    assert summary.startswith("Jundong Xu")  # the title is not repeated as a summary


def test_no_github_means_no_github_link_and_no_stars() -> None:
    paper = next(p for p in TODAY if not p.github_repo and not p.project_page)
    meta = lines_of(compact_paper_embed(paper))[-1]
    assert "GitHub" not in meta and "★" not in meta and "Project page" not in meta
    assert meta == (
        f"▲ {paper.upvotes} · 💬 {paper.num_comments} · [arXiv](https://arxiv.org/abs/{paper.id})"
        f" · [PDF](https://arxiv.org/pdf/{paper.id})"
    )


def test_a_huge_author_list_shows_three_names_and_the_count() -> None:
    llama = max(OLD, key=lambda p: len(p.authors))
    assert len(llama.authors) == 533
    authors = lines_of(compact_paper_embed(llama))[1]
    names = ", ".join(llama.authors[:3])
    assert authors == f"{names} +530"


def test_hostile_markdown_in_title_summary_authors_and_links_is_inert() -> None:
    hostile = replace(
        EVOARENA,
        title="**bold** _x_ @everyone <@123> ||spoiler|| `code` [click](https://evil.example)",
        ai_summary="@here read **this** [now](https://evil.example). Second sentence.",
        authors=("<@&42> Mallory", "*Eve*", "Bob"),
        github_repo="javascript:alert(1)",
        project_page="https://example.org/a_(b)",
    )
    embed = compact_paper_embed(hostile)
    assert embed.title is not None
    assert "@everyone" not in embed.title and "<@123>" not in embed.title
    assert "\\*\\*bold\\*\\*" in embed.title and "\\|\\|spoiler\\|\\|" in embed.title
    summary, authors, meta = lines_of(embed)
    assert "@here" not in summary and "\\*\\*this\\*\\*" in summary
    assert "<@&42>" not in authors and "\\*Eve\\*" in authors
    assert "GitHub" not in meta  # not an http(s) URL
    assert "[Project page](https://example.org/a_%28b%29)" in meta


def test_the_card_stays_inside_every_limit_whatever_hugging_face_sends() -> None:
    huge = replace(
        EVOARENA,
        id="2606.13681",
        title="T" * 10_000,
        ai_summary="word " * 5_000,
        abstract="sentence. " * 5_000,
        authors=tuple("N" * 500 for _ in range(5_000)),
        github_stars=10**12,
        num_comments=10**9,
        upvotes=10**9,
    )
    embed = compact_paper_embed(huge)
    assert len(embed.title or "") <= TITLE_LIMIT
    assert len(embed.description or "") <= DESCRIPTION_LIMIT
    assert len(embed.footer.text or "") <= FOOTER_LIMIT
    assert embed_length(embed) <= EMBED_TOTAL_LIMIT
    assert len(lines_of(embed)) == 3
    assert lines_of(embed)[1].endswith("+4,997")


@pytest.mark.parametrize("paper", TODAY + NO_AI + OLD, ids=lambda p: p.id)
def test_on_every_fixture_paper_the_compact_card_is_a_fraction_of_the_full_one(
    paper: Paper,
) -> None:
    compact, full = compact_paper_embed(paper), paper_embed(paper, hint="React with 🔖 to save")
    assert len(lines_of(compact)) <= 3  # summary, authors, votes and links
    assert embed_length(compact) <= 650
    # Characters include the links' targets, which take no room on screen.
    assert embed_length(compact) < embed_length(full)
    assert compact.fields == [] and compact.thumbnail.url is None


def test_the_day_format_is_iso_with_a_weekday() -> None:
    assert format_day(date(2026, 6, 12)) == "Fri 2026-06-12"
    assert format_day(date(2026, 12, 1)) == "Tue 2026-12-01"
    assert format_day(date(2026, 12, 6)) == "Sun 2026-12-06"


def test_full_card_listing_dates_use_the_same_day_format() -> None:
    fields = {field.name: field.value for field in paper_embed(EVOARENA).fields}
    assert fields["Listed"].startswith("Fri 2026-06-12")


def test_card_embed_renders_the_style_asked_for() -> None:
    assert card_embed(EVOARENA, "compact").to_dict() == compact_paper_embed(EVOARENA).to_dict()
    full = card_embed(EVOARENA, "full", hint="hint")
    assert full.to_dict() == paper_embed(EVOARENA, hint="hint").to_dict()


def _custom_ids(view: discord.ui.View) -> list[str]:
    return [str(getattr(item, "custom_id", "")) for item in view.children]


def test_compact_posts_carry_bookmark_similar_and_abstract_buttons_within_100_chars() -> None:
    longest = "a" * 64  # the longest paper id the buttons accept
    compact = _custom_ids(paper_post_view(longest, "compact"))
    assert [cid.rsplit(":", 1)[0] for cid in compact] == [
        "papers-bot:bookmark",
        "papers-bot:similar",
        "papers-bot:abstract",
    ]
    assert all(len(cid) <= 100 for cid in compact)
    assert _custom_ids(paper_post_view("2606.13681")) == [
        "papers-bot:bookmark:2606.13681",
        "papers-bot:similar:2606.13681",
    ]  # the full card shows the abstract already
