"""Embeds: what a Discord user sees, safe against hostile Hugging Face text, within every limit."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import discord
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.embeds import (
    AUTHOR_NAME_LIMIT,
    BRAND_COLOUR,
    DESCRIPTION_LIMIT,
    EMBED_TOTAL_LIMIT,
    ERROR_COLOUR,
    FIELD_COUNT_LIMIT,
    FIELD_NAME_LIMIT,
    FIELD_VALUE_LIMIT,
    FOOTER_LIMIT,
    TITLE_LIMIT,
    URL_LIMIT,
    WARNING_COLOUR,
    bookmark_list_embed,
    clean,
    digest_embed,
    embed_length,
    notice_embed,
    paper_embed,
    paper_list_embed,
    search_results_embed,
    summary_embed,
    truncate,
)
from bot.models import Paper, SearchHit
from bot.search import MATCH_END, MATCH_START
from bot.summarise import Summary, one_sentence, recurring_keywords, summarise_paper

HF_API = Path(__file__).parents[1] / "fixtures" / "hf" / "api"
HOSTILE_TITLE = "**bold** _x_ @everyone <@123> ||spoiler|| `code` [click](https://evil.example)"


def collapse(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def paper_from_item(item: dict[str, Any]) -> Paper:
    """A Paper from one ``/api/daily_papers`` item (the real parser lives elsewhere)."""
    raw = item["paper"]
    organization = raw.get("organization") or item.get("organization")
    listed = raw.get("submittedOnDailyAt") or item.get("publishedAt")
    return Paper(
        id=raw["id"],
        title=collapse(raw["title"]),
        abstract=collapse(raw["summary"]),
        authors=tuple(author["name"] for author in raw.get("authors", [])),
        published_at=datetime.fromisoformat(raw["publishedAt"].replace("Z", "+00:00")),
        listed_on=(date.fromisoformat(listed[:10]),) if listed else (),
        upvotes=raw.get("upvotes", 0),
        num_comments=item.get("numComments", 0),
        thumbnail=item.get("thumbnail"),
        github_repo=raw.get("githubRepo"),
        github_stars=raw.get("githubStars"),
        project_page=raw.get("projectPage"),
        organization=organization["fullname"] if organization else None,
        ai_summary=raw.get("ai_summary"),
        ai_keywords=tuple(raw.get("ai_keywords", ())),
    )


def day_papers(day: str) -> list[Paper]:
    items = json.loads((HF_API / f"daily_papers_{day}.json").read_text(encoding="utf-8"))
    return [paper_from_item(item) for item in items]


def assert_embed_within_limits(embed: discord.Embed) -> None:
    """Every Discord embed limit, checked on what would be sent."""
    data = embed.to_dict()
    assert data.get("title") or data.get("description"), "an embed needs some text"
    assert len(data.get("title", "")) <= TITLE_LIMIT
    assert len(data.get("description", "")) <= DESCRIPTION_LIMIT
    fields = data.get("fields", [])
    assert len(fields) <= FIELD_COUNT_LIMIT
    for field in fields:
        # Discord strips fields and rejects blank ones.
        assert field["name"].strip()
        assert len(field["name"]) <= FIELD_NAME_LIMIT
        assert field["value"].strip()
        assert len(field["value"]) <= FIELD_VALUE_LIMIT
    assert len(data.get("footer", {}).get("text", "")) <= FOOTER_LIMIT
    assert len(data.get("author", {}).get("name", "")) <= AUTHOR_NAME_LIMIT
    assert embed_length(embed) <= EMBED_TOTAL_LIMIT
    urls = [data.get("url"), data.get("thumbnail", {}).get("url"), data.get("image", {}).get("url")]
    for url in filter(None, urls):
        assert url.startswith(("https://", "http://"))
        assert len(url) <= URL_LIMIT
    for image in (data.get("thumbnail"), data.get("image")):
        if image:
            assert image["url"].startswith("https://")
    json.dumps(data)  # serialisable as sent


def assert_no_lone_trailing_backslash(text: str) -> None:
    body = text.removesuffix("…")
    assert (len(body) - len(body.rstrip("\\"))) % 2 == 0, text[-20:]


def all_text(embed: discord.Embed) -> str:
    return json.dumps(embed.to_dict(), ensure_ascii=False)


SELF_FORCING = day_papers("2025-10-03")[0]  # 2510.02283: ai_summary, GitHub, project page, org


# --- paper_embed on a real paper ---------------------------------------------------------------


def test_paper_embed_of_a_real_paper() -> None:
    embed = paper_embed(SELF_FORCING, hint="React with 🔖 to save")
    data = embed.to_dict()
    assert data["title"] == "Self-Forcing++: Towards Minute-Scale High-Quality Video Generation"
    assert data["url"] == "https://huggingface.co/papers/2510.02283"
    assert data["color"] == BRAND_COLOUR
    assert data["thumbnail"]["url"].startswith("https://cdn-thumbnails.huggingface.co/")
    assert data["footer"]["text"] == "React with 🔖 to save · arXiv 2510.02283"
    assert "timestamp" not in data

    description = data["description"]
    assert description.startswith("*AI summary:* A method is proposed to enhance long-horizon")
    assert "Diffusion models have revolutionized image and video generation" in description
    assert "[Read the full abstract](https://huggingface.co/papers/2510.02283)" in description

    fields = {field["name"]: field["value"] for field in data["fields"]}
    assert list(fields) == [
        "Authors",
        "Upvotes",
        "Comments",
        "Listed",
        "Organization",
        "Links",
        "Keywords",
    ]
    assert fields["Authors"] == (
        "Justin Cui, Jie Wu, Ming Li, Tao Yang, Xiaojie Li et al. (9 authors)"
    )
    assert fields["Upvotes"] == "▲ 43"
    assert fields["Comments"] == "💬 2"
    assert fields["Listed"] == "Fri 2025-10-03 · arXiv Thu 2025-10-02"
    assert fields["Organization"] == "ByteDance Seed"
    assert fields["Links"] == (
        "[arXiv](https://arxiv.org/abs/2510.02283) · [PDF](https://arxiv.org/pdf/2510.02283)"
        " · [GitHub](https://github.com/justincui03/Self-Forcing-Plus-Plus) ★ 1"
        " · [Project page](https://self-forcing-plus-plus.github.io/)"
    )
    assert fields["Keywords"].startswith("diffusion models · transformer architectures")
    assert fields["Keywords"].count(" · ") == 7  # eight keywords
    assert_embed_within_limits(embed)


def test_abstract_is_trimmed_at_a_sentence_boundary() -> None:
    embed = paper_embed(replace(SELF_FORCING, ai_summary=None))
    description = embed.description or ""
    abstract_part = description.split("\n\n")[0]
    assert 300 < len(abstract_part) <= 700
    assert abstract_part.endswith(".")
    assert SELF_FORCING.abstract.startswith(abstract_part)


def test_a_short_abstract_is_shown_whole_without_a_read_more_link() -> None:
    paper = replace(SELF_FORCING, abstract="Short and sweet. Two sentences.", ai_summary=None)
    assert paper_embed(paper).description == "Short and sweet. Two sentences."


def test_an_abstract_of_one_endless_sentence_is_cut_between_words() -> None:
    words = " ".join(f"word{i}" for i in range(500))
    embed = paper_embed(replace(SELF_FORCING, abstract=words, ai_summary=None))
    excerpt = (embed.description or "").split("\n\n")[0]
    assert excerpt.endswith("…")
    assert len(excerpt) <= 700
    assert f"{excerpt.removesuffix('…')} " in words


def test_every_real_fixture_paper_gives_a_valid_embed() -> None:
    for day in ("2024-05-27", "2024-08-01", "2025-03-17", "2025-10-03", "2026-06-12"):
        for paper in day_papers(day):
            embed = paper_embed(paper, hint="React with 🔖 to save")
            assert_embed_within_limits(embed)
            assert embed.url == paper.hf_url


# --- untrusted text ------------------------------------------------------------------------------


def test_markdown_and_mentions_in_a_title_are_neutralised() -> None:
    embed = paper_embed(replace(SELF_FORCING, title=HOSTILE_TITLE))
    title = embed.title or ""
    assert "\\*\\*bold\\*\\*" in title
    assert "\\_x\\_" in title
    assert "\\|\\|spoiler\\|\\|" in title
    assert "\\`code\\`" in title
    assert "@everyone" not in title
    assert "@\u200beveryone" in title
    assert "<@123>" not in title
    assert "<\u200b@123>" in title
    assert "\\[click](" in title


def test_hostile_title_inside_a_list_link_cannot_break_out_of_the_link() -> None:
    paper = replace(SELF_FORCING, title="x] (https://evil.example) [y")
    embed = paper_list_embed("Today", [paper], page=1, pages=1, start_rank=1)
    description = embed.description or ""
    assert description.startswith(
        "**1.** [x\\] (https://evil.example) \\[y](https://huggingface.co/papers/2510.02283)"
    )


def test_mentions_never_survive_anywhere() -> None:
    hostile = replace(
        SELF_FORCING,
        title="@everyone",
        abstract="Hi @here and <@&123456789012345678>.",
        authors=("@everyone",),
        organization="<@123456789012345678>",
        ai_summary="@everyone read this.",
        ai_keywords=("@here",),
    )
    embeds = [
        paper_embed(hostile),
        summary_embed(hostile, summarise_paper(hostile)),
        paper_list_embed("Today", [hostile], page=1, pages=1, start_rank=1),
        digest_embed(date(2025, 10, 3), [(hostile, one_sentence(hostile))], [], total_papers=1),
    ]
    for embed in embeds:
        text = all_text(embed)
        assert "@everyone" not in text
        assert "@here" not in text
        assert "<@" not in text


def test_truncation_never_leaves_a_dangling_backslash() -> None:
    for count in range(1, 12):
        text = clean("a" * count + "*" * 600)
        for limit in range(5, 40):
            cut = truncate(text, limit)
            assert len(cut) <= limit
            assert cut.endswith("…")
            assert_no_lone_trailing_backslash(cut)
    embed = paper_embed(replace(SELF_FORCING, title="*" * 1000))
    assert_no_lone_trailing_backslash(embed.title or "")


def test_truncation_prefers_a_word_boundary() -> None:
    assert truncate("alpha beta gamma delta", 14) == "alpha beta…"
    assert truncate("short", 10) == "short"


def test_enormous_paper_still_gives_a_valid_embed() -> None:
    huge = replace(
        SELF_FORCING,
        id="2510.02283" + "9" * 5000,
        title="Title " * 20_000,
        abstract="Word " * 100_000,
        authors=tuple(f"Author Number {i} " * 30 for i in range(500)),
        ai_summary="Summary " * 20_000,
        ai_keywords=tuple(f"keyword {i} " * 40 for i in range(200)),
        organization="Org " * 50_000,
        github_repo="https://github.com/" + "a" * 5000,
        project_page="https://example.org/" + "p" * 900,
        thumbnail="https://example.org/" + "t" * 5000,
    )
    embed = paper_embed(huge, hint="React with 🔖 to save")
    assert_embed_within_limits(embed)
    fields = {field.name: field.value for field in embed.fields}
    assert (fields["Authors"] or "").endswith("et al. (500 authors)")
    assert (fields["Keywords"] or "").count(" · ") == 7
    assert "github.com/aaa" not in all_text(embed)  # too long for a URL: dropped, not cut
    assert embed.thumbnail.url is None
    summary = summary_embed(huge, Summary(huge.abstract, "extractive", huge.ai_keywords))
    assert_embed_within_limits(summary)


def test_links_that_are_not_http_are_dropped() -> None:
    paper = replace(
        SELF_FORCING,
        github_repo="javascript:alert(1)",
        project_page="ftp://files.example.org/paper",
        thumbnail="http://insecure.example.org/thumb.png",
    )
    embed = paper_embed(paper)
    links = next(field.value for field in embed.fields if field.name == "Links") or ""
    assert "GitHub" not in links
    assert "Project page" not in links
    assert "javascript" not in all_text(embed)
    assert "ftp://" not in all_text(embed)
    assert embed.thumbnail.url is None


def test_parentheses_in_a_url_cannot_end_the_markdown_link() -> None:
    paper = replace(SELF_FORCING, project_page="https://example.org/a_(b)")
    links = next(field.value for field in paper_embed(paper).fields if field.name == "Links")
    assert "[Project page](https://example.org/a_%28b%29)" in (links or "")


# --- lists, search, summaries, digests, bookmarks, notices ------------------------------------


def test_paper_list_page_shows_ranks_votes_authors_and_page() -> None:
    papers = day_papers("2025-10-03")
    page = papers[10:20]
    embed = paper_list_embed(
        "Daily Papers · 2025-10-03", page, page=2, pages=4, start_rank=11, total=len(papers)
    )
    lines = (embed.description or "").split("\n")
    first = page[0]
    assert lines[0] == (
        f"**11.** [{clean(first.title, links=False)}]({first.hf_url})"
        f" — ▲ {first.upvotes} · 💬 {first.num_comments}"
    )
    assert lines[1].startswith(", ".join(first.authors[:3]))
    assert "**20.**" in (embed.description or "")
    assert embed.footer.text == "Page 2/4 · 39 papers"
    assert_embed_within_limits(embed)


def test_search_snippet_markers_become_bold_and_injected_markdown_is_escaped() -> None:
    snippet = (
        f"we study {MATCH_START}diffusion{MATCH_END} **models** with {MATCH_START}_x_{MATCH_END}"
    )
    hit = SearchHit(paper=SELF_FORCING, snippet=snippet, score=1.0)
    embed = search_results_embed("diffusion **x**", [hit], page=1, pages=1, start_rank=1, total=1)
    description = embed.description or ""
    assert "we study **diffusion** \\*\\*models\\*\\* with **\\_x\\_**" in description
    assert MATCH_START not in description
    assert MATCH_END not in description
    assert embed.title == "Search: diffusion \\*\\*x\\*\\*"
    assert embed.footer.text == "Page 1/1 · 1 result"
    assert_embed_within_limits(embed)


def test_a_search_note_sits_above_the_results() -> None:
    hit = SearchHit(paper=SELF_FORCING, snippet="x", score=1.0)
    embed = search_results_embed(
        "a b", [hit], page=1, pages=1, start_rank=1, total=1, note="These match some words."
    )
    assert (embed.description or "").startswith("These match some words.\n\n**1.** [Self-Forcing")


def test_a_long_snippet_is_cut_without_breaking_the_bold() -> None:
    words = " ".join(f"{MATCH_START}match{MATCH_END} filler" for _ in range(200))
    hit = SearchHit(paper=SELF_FORCING, snippet=words, score=1.0)
    description = (
        search_results_embed("match", [hit], page=1, pages=1, start_rank=1, total=1).description
        or ""
    )
    snippet = description.split("\n")[1]
    assert len(snippet) <= 260
    assert snippet.endswith("…")
    assert snippet.count("**") % 2 == 0


def test_summary_embed_labels_where_the_summary_came_from() -> None:
    hf = summary_embed(SELF_FORCING, summarise_paper(SELF_FORCING))
    assert hf.author.name == "Hugging Face's AI summary"
    assert (hf.description or "").startswith("A method is proposed")
    assert hf.url == SELF_FORCING.hf_url
    keywords = next(field.value for field in hf.fields if field.name == "Keywords")
    assert (keywords or "").startswith("diffusion models")

    plain = replace(SELF_FORCING, ai_summary=None, ai_keywords=())
    extractive = summary_embed(plain, summarise_paper(plain))
    assert extractive.author.name == ("Extractive summary: key sentences picked from the abstract")
    assert_embed_within_limits(hf)
    assert_embed_within_limits(extractive)


def test_digest_of_fifty_papers_fits_and_says_how_many_more() -> None:
    papers = (day_papers("2025-10-03") + day_papers("2026-06-12"))[:50]
    papers = [replace(p, title=p.title * 3) for p in papers]  # longer than life
    entries = [(paper, one_sentence(paper)) for paper in papers]
    keywords = recurring_keywords(papers)
    embed = digest_embed(date(2025, 10, 3), entries, keywords, total_papers=50)
    assert_embed_within_limits(embed)
    description = embed.description or ""
    assert description.startswith("50 papers listed")
    assert "**1.** [" in description
    shown = description.count("**") // 2
    assert 0 < shown < 50
    assert (
        f"[+{50 - shown} more on Hugging Face](https://huggingface.co/papers/date/2025-10-03)"
        in (description)
    )
    field = next(field for field in embed.fields if field.name == "Recurring keywords")
    top_keyword, top_count = keywords[0]
    assert (field.value or "").startswith(f"{top_keyword} ×{top_count} · ")


def test_digest_of_a_quiet_day_is_polite() -> None:
    embed = digest_embed(date(2025, 10, 4), [], [], total_papers=0)
    assert "usually quiet at weekends" in (embed.description or "")
    assert_embed_within_limits(embed)


def test_bookmark_list_shows_when_each_paper_was_saved() -> None:
    saved = datetime(2025, 10, 3, 12, 0, tzinfo=UTC)
    naive = datetime(2025, 10, 2, 12, 0)  # naive values are UTC by convention
    embed = bookmark_list_embed(
        [(SELF_FORCING, saved), (day_papers("2025-10-03")[1], naive)], page=1, pages=1, total=2
    )
    description = embed.description or ""
    assert f"saved <t:{int(saved.timestamp())}:d>" in description
    assert f"saved <t:{int(naive.replace(tzinfo=UTC).timestamp())}:d>" in description
    assert "arXiv 2510.02283" in description
    assert embed.footer.text == "Page 1/1 · 2 saved"
    assert_embed_within_limits(embed)


def test_an_empty_reading_list_says_how_to_save_papers() -> None:
    embed = bookmark_list_embed([], page=1, pages=1, total=0, bookmark_emoji="📌")
    assert embed.title == "📌 Your reading list"
    assert embed.description == "Nothing saved yet: react with 📌 on a paper the bot posted."


def test_notice_colours_follow_the_kind() -> None:
    assert notice_embed("Done", "Subscribed.").colour == discord.Colour(BRAND_COLOUR)
    assert notice_embed("Hmm", "Slow.", kind="warning").colour == discord.Colour(WARNING_COLOUR)
    error = notice_embed("No", "x" * 10_000, kind="error")
    assert error.colour == discord.Colour(ERROR_COLOUR)
    assert_embed_within_limits(error)


# --- any text in any field -----------------------------------------------------------------------

any_text = st.text(max_size=400)
maybe_text = st.none() | any_text
maybe_url = st.none() | any_text | st.builds(lambda s: "https://example.org/" + s, any_text)

papers = st.builds(
    Paper,
    id=any_text,
    title=any_text,
    abstract=st.text(max_size=3000),
    authors=st.lists(any_text, max_size=30).map(tuple),
    upvotes=st.integers(min_value=0, max_value=10**9),
    num_comments=st.integers(min_value=0, max_value=10**9),
    thumbnail=maybe_url,
    github_repo=maybe_url,
    github_stars=st.none() | st.integers(min_value=0, max_value=10**9),
    project_page=maybe_url,
    organization=maybe_text,
    ai_summary=maybe_text,
    ai_keywords=st.lists(any_text, max_size=30).map(tuple),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(paper=papers, hint=maybe_text, snippet=st.text(max_size=600))
def test_any_text_in_any_field_gives_valid_embeds(
    paper: Paper, hint: str | None, snippet: str
) -> None:
    assert_embed_within_limits(paper_embed(paper, hint=hint))
    assert_embed_within_limits(summary_embed(paper, summarise_paper(paper)))
    assert_embed_within_limits(
        paper_list_embed("Today", [paper] * 10, page=1, pages=1, start_rank=1, total=10)
    )
    hits = [SearchHit(paper=paper, snippet=snippet, score=0.0)] * 10
    assert_embed_within_limits(
        search_results_embed(snippet, hits, page=1, pages=1, start_rank=1, total=10)
    )
    assert_embed_within_limits(
        digest_embed(date(2025, 10, 3), [(paper, snippet)] * 50, [(snippet, 2)], total_papers=50)
    )
    assert_embed_within_limits(
        bookmark_list_embed(
            [(paper, datetime(2025, 1, 1, tzinfo=UTC))] * 10, page=1, pages=1, total=10
        )
    )
