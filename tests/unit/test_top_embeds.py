"""The server top list's embed: counts and upvotes per line, hostile titles made inert."""

from __future__ import annotations

from bot.embeds import DESCRIPTION_LIMIT, EMBED_TOTAL_LIMIT, bookmarked_list_embed, embed_length
from bot.models import Paper


def test_each_line_shows_rank_linked_title_bookmarks_and_upvotes() -> None:
    entries = [
        (Paper(id="2510.02283", title="Self-Forcing++", abstract="", upvotes=43), 2),
        (Paper(id="2510.00446", title="LongCodeZip", abstract="", upvotes=31), 1),
    ]
    embed = bookmarked_list_embed(
        "Most bookmarked in this server", entries, page=1, pages=1, start_rank=1
    )
    assert embed.description == (
        "**1.** [Self-Forcing++](https://huggingface.co/papers/2510.02283) — 🔖 2 bookmarks · ▲ 43"
        "\n\n**2.** [LongCodeZip](https://huggingface.co/papers/2510.00446) — 🔖 1 bookmark · ▲ 31"
    )
    assert embed.footer.text == "Page 1/1"


def test_hostile_titles_cannot_ping_or_break_the_link_and_a_page_fits() -> None:
    hostile = "@everyone <@123> x] (https://evil.example) [y " + "w" * 400
    entries = [
        (Paper(id=f"2510.{n:05d}", title=hostile, abstract="", upvotes=n), 10 - n)
        for n in range(10)
    ]
    embed = bookmarked_list_embed("Top", entries, page=1, pages=1, start_rank=1)
    text = embed.description or ""
    assert "@everyone" not in text and "<@123>" not in text
    assert "x\\] (https://evil.example) \\[y" in text
    assert text.count("🔖") == 10
    assert len(text) <= DESCRIPTION_LIMIT and embed_length(embed) <= EMBED_TOTAL_LIMIT
