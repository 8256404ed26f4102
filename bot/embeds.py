"""Papers → ``discord.Embed``: pure rendering that respects every Discord limit.

Everything that comes from Hugging Face is untrusted: it is escaped (markdown, mentions) before
it is truncated, links are kept only when they are plain http(s) URLs, and a last guard keeps the
whole embed under Discord's 6000-character total. Limits are counted in code points, as Discord's
API counts them.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import Literal
from urllib.parse import urlsplit

import discord
from discord.utils import escape_markdown, format_dt

from bot.alerts import AlertDigest
from bot.feed import (
    ChannelDigest,
    FeedStatus,
    Preview,
    PreviewEntry,
    SubscribeResult,
    feed_filter,
    volume_description,
)
from bot.feed_filters import CLEAR_KEYWORDS
from bot.models import HF_PAPERS_URL, CardStyle, Paper, SearchHit
from bot.search import MATCH_END, MATCH_START
from bot.similar import Neighbour
from bot.store.alerts import Alert
from bot.store.feed import DEFAULT_NAME, Subscription, SubscriptionStats
from bot.summarise import Summary, one_sentence, split_sentences
from bot.timezones import DEFAULT_ZONE

# Discord limits (https://discord.com/developers/docs/resources/message#embed-object-embed-limits).
TITLE_LIMIT = 256
DESCRIPTION_LIMIT = 4096
FIELD_COUNT_LIMIT = 25
FIELD_NAME_LIMIT = 256
FIELD_VALUE_LIMIT = 1024
FOOTER_LIMIT = 2048
AUTHOR_NAME_LIMIT = 256
EMBED_TOTAL_LIMIT = 6000
CHOICE_NAME_LIMIT = 100
URL_LIMIT = 2048  # Discord rejects longer embed URLs ("Must be 2048 or fewer in length").

BRAND_COLOUR = 0xFFD21E  # Hugging Face yellow
WARNING_COLOUR = 0xF5A524
ERROR_COLOUR = 0xE5484D

ELLIPSIS = "…"
ZERO_WIDTH_SPACE = "\u200b"

# Readable sizes, well inside the limits above.
ABSTRACT_CHARS = 700
AI_SUMMARY_CHARS = 400
SUMMARY_CHARS = 3000
LIST_TITLE_CHARS = 120
SNIPPET_CHARS = 260
DIGEST_SENTENCE_CHARS = 260
NAME_CHARS = 80
KEYWORD_CHARS = 60
ORGANIZATION_CHARS = 200
ID_CHARS = 64
MORE_LINE_RESERVE = 120  # room kept for "+N more" when entries are dropped
MAX_AUTHORS = 5
LIST_AUTHORS = 3
MAX_KEYWORDS = 8
# The compact auto-post card: a sentence of summary, the first few authors, one line of links.
COMPACT_SUMMARY_CHARS = 200
COMPACT_AUTHORS = 3
COMPACT_NAME_CHARS = 40

_WHITESPACE = re.compile(r"\s+")
# Control characters and lone surrogates: invisible at best, rejected by Discord at worst.
_CONTROL = re.compile(r"[\x00-\x08\x0e-\x1f\x7f-\x9f\ud800-\udfff]")
# Mentions render (and @everyone looks alarming) even when allowed_mentions stops the ping.
_EVERYONE = re.compile(r"@(?=everyone|here)", re.IGNORECASE)
_ANGLE_MENTION = re.compile(r"<(?=[@#/:]|a:|t:|id:)", re.IGNORECASE)
# Snippets keep the two match markers; every other control character goes.
_SNIPPET_CONTROL = re.compile(f"(?![{MATCH_START}{MATCH_END}]){_CONTROL.pattern}")
_MARKED = re.compile(
    f"{re.escape(MATCH_START)}([^{MATCH_START}{MATCH_END}]*){re.escape(MATCH_END)}"
)
# An escape pair, or a bracket that could open or close a Markdown link.
_LINK_TEXT_HAZARD = re.compile(r"\\.|[\[\]]", re.DOTALL)


def _collapse(text: str) -> str:
    return _WHITESPACE.sub(" ", _CONTROL.sub("", text)).strip()


def plain(text: str, limit: int) -> str:
    """Whitespace-collapsed, control characters dropped, truncated: for footers and author names,
    where Discord shows text verbatim (no markdown to escape)."""
    return truncate(_collapse(text), limit)


def _neutralise_mentions(text: str) -> str:
    text = _EVERYONE.sub("@" + ZERO_WIDTH_SPACE, text)
    return _ANGLE_MENTION.sub("<" + ZERO_WIDTH_SPACE, text)


def clean(text: str, *, links: bool = True) -> str:
    """Untrusted text made inert: whitespace collapsed, markdown escaped, mentions neutralised.

    With ``links=True`` bare URLs are left intact so they stay clickable.
    """
    return _neutralise_mentions(escape_markdown(_collapse(text), ignore_links=links))


def _link_text(text: str, limit: int) -> str:
    """Untrusted text for ``[text](url)``: also escapes brackets, which would end the link."""
    escaped = clean(_precut(text, limit), links=False)
    escaped = _LINK_TEXT_HAZARD.sub(
        lambda m: m.group() if len(m.group()) == 2 else "\\" + m.group(), escaped
    )
    return truncate(escaped, limit)


def truncate(text: str, limit: int) -> str:
    """``text`` cut to at most ``limit`` characters with "…", at a word boundary when one is near,
    and never leaving a dangling backslash that would escape the ellipsis."""
    if len(text) <= limit:
        return text
    if limit <= len(ELLIPSIS):
        return ELLIPSIS[:limit]
    cut = text[: limit - len(ELLIPSIS)]
    space = cut.rfind(" ")
    # Prefer a whole word, unless that would throw away more than a fifth of the room.
    if space > 0 and space >= len(cut) * 4 // 5 and not text[len(cut)].isspace():
        cut = cut[:space]
    cut = cut.rstrip()
    trailing = len(cut) - len(cut.rstrip("\\"))
    if trailing % 2:
        cut = cut[:-1]
    return cut + ELLIPSIS


def _precut(text: str, limit: int) -> str:
    """Collapse, then keep just over ``limit`` characters: escaping only lengthens text, so the
    rest could never show, and huge untrusted inputs stay cheap to escape."""
    return _collapse(text)[: limit + 1]


def _fit(text: str, limit: int) -> str:
    """Untrusted text escaped and truncated to ``limit``."""
    return truncate(clean(_precut(text, limit)), limit)


def safe_url(url: str | None, *, https_only: bool = False) -> str | None:
    """``url`` if it is a plain absolute http(s) URL fit for an embed or a Markdown link."""
    if not url:
        return None
    url = url.strip()
    if len(url) > URL_LIMIT or not url.isascii() or not url.isprintable():
        return None
    if any(ch in url for ch in ' <>"`\\'):
        return None
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError:
        return None
    schemes = {"https"} if https_only else {"http", "https"}
    if parts.scheme.lower() not in schemes or not host:
        return None
    # Parentheses would end a Markdown link target early; percent-encoded they mean the same.
    return url.replace("(", "%28").replace(")", "%29")


def embed_length(embed: discord.Embed) -> int:
    """Characters that count towards Discord's 6000 total (title, description, fields, footer,
    author name)."""
    return len(embed)


def _guard_total(embed: discord.Embed) -> discord.Embed:
    """Shrink the description (whole lines first), then drop trailing fields, until the embed
    fits the 6000-character total."""
    excess = embed_length(embed) - EMBED_TOTAL_LIMIT
    if excess > 0 and embed.description:
        description = embed.description
        room = len(description) - excess
        if room <= len(ELLIPSIS):
            embed.description = None
        else:
            line_end = description.rfind("\n", 0, room - len(ELLIPSIS))
            if line_end > room // 2:
                embed.description = description[:line_end] + "\n" + ELLIPSIS
            else:
                embed.description = truncate(description, room)
    while embed_length(embed) > EMBED_TOTAL_LIMIT and embed.fields:
        embed.remove_field(len(embed.fields) - 1)
    return embed


def _new_embed(title: str, *, url: str | None = None, colour: int = BRAND_COLOUR) -> discord.Embed:
    return discord.Embed(title=truncate(title, TITLE_LIMIT), url=url, colour=colour)


def _add_field(embed: discord.Embed, name: str, value: str, *, inline: bool = False) -> None:
    """Add a field if there is something to show and room for it."""
    value = truncate(value.strip(), FIELD_VALUE_LIMIT)
    if value and len(embed.fields) < FIELD_COUNT_LIMIT:
        embed.add_field(name=truncate(name, FIELD_NAME_LIMIT), value=value, inline=inline)


def _paper_title(paper: Paper, limit: int) -> str:
    title = _fit(paper.title, limit)
    return title or _fit(f"arXiv {paper.id}", limit) or "Untitled paper"


def linked_title(paper: Paper, limit: int = LIST_TITLE_CHARS) -> str:
    """``[Title](hf_url)``, or the bare escaped title when the paper id makes no valid URL."""
    text = _link_text(paper.title, limit) or _link_text(f"arXiv {paper.id}", limit) or "Untitled"
    url = safe_url(paper.hf_url)
    return f"[{text}]({url})" if url else text


def _authors(authors: Sequence[str], shown: int) -> str:
    """ "A, B, C et al. (12 authors)": the first few names, then how many there are."""
    names = [name for name in (_fit(author, NAME_CHARS) for author in authors[:shown]) if name]
    if not names:
        return ""
    text = ", ".join(names)
    if len(authors) > shown:
        text += f" et al. ({len(authors)} authors)"
    return text


def _keywords(keywords: Sequence[str]) -> str:
    parts = [kw for kw in (_fit(keyword, KEYWORD_CHARS) for keyword in keywords) if kw]
    return " · ".join(parts[:MAX_KEYWORDS])


def _paper_links(paper: Paper) -> str:
    """arXiv · PDF · GitHub ★ · Project page: only the links that are safe http(s) URLs."""
    parts: list[str] = []
    for label, raw in (("arXiv", paper.arxiv_url), ("PDF", paper.pdf_url)):
        url = safe_url(raw)
        if url:
            parts.append(f"[{label}]({url})")
    github = safe_url(paper.github_repo)
    if github:
        stars = f" ★ {paper.github_stars:,}" if paper.github_stars is not None else ""
        parts.append(f"[GitHub]({github}){stars}")
    project = safe_url(paper.project_page)
    if project:
        parts.append(f"[Project page]({project})")
    # A link that would overflow the field is dropped whole rather than cut into broken markup.
    value = ""
    for part in parts:
        candidate = f"{value} · {part}" if value else part
        if len(candidate) <= FIELD_VALUE_LIMIT:
            value = candidate
    return value


def _counts(paper: Paper) -> str:
    return f"▲ {paper.upvotes:,} · 💬 {paper.num_comments:,}"


def _footer_id(paper: Paper) -> str:
    return plain(f"arXiv {paper.id}", ID_CHARS)


def _abstract_excerpt(abstract: str, budget: int) -> tuple[str, bool]:
    """Whole sentences of the abstract up to ``budget`` characters, and whether it was cut.

    A first sentence longer than the budget is cut at a word instead.
    """
    sentences = split_sentences(abstract[: budget * 4])
    kept: list[str] = []
    length = 0
    for sentence in sentences:
        if kept and length + 1 + len(sentence) > budget:
            break
        kept.append(sentence)
        length += len(sentence) + (1 if length else 0)
    text = " ".join(kept)
    cut = len(kept) < len(sentences) or len(abstract) > budget * 4
    if len(text) > budget:
        return truncate(text, budget), True
    return text, cut


_WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def format_day(day: date) -> str:
    """A calendar day as the bot shows it everywhere: "Fri 2026-06-12".

    ISO order is unambiguous in every locale, sorts, and is what ``date:`` options take; the
    weekday says at a glance whether it is a weekend (Daily Papers is empty then). English
    abbreviations, not ``%a``, so the server's locale never changes it.
    """
    return f"{_WEEKDAYS[day.weekday()]} {day.isoformat()}"


def _listing_dates(paper: Paper) -> str:
    listed = paper.latest_listing
    published = paper.published_at.date() if paper.published_at else None
    parts = []
    if listed:
        parts.append(format_day(listed))
    if published and published != listed:
        parts.append(f"arXiv {format_day(published)}")
    return " · ".join(parts)


def paper_embed(paper: Paper, *, hint: str | None = None) -> discord.Embed:
    """The full card of one paper: linked title, AI summary and abstract, authors, votes, links."""
    embed = _new_embed(_paper_title(paper, TITLE_LIMIT), url=safe_url(paper.hf_url))
    parts: list[str] = []
    if paper.ai_summary and _collapse(paper.ai_summary):
        parts.append(f"*AI summary:* {_fit(paper.ai_summary, AI_SUMMARY_CHARS)}")
    excerpt, was_cut = _abstract_excerpt(_collapse(paper.abstract), ABSTRACT_CHARS)
    if excerpt:
        # Escaping lengthens text; twice the budget is room enough without cutting mid-sentence.
        parts.append(truncate(clean(excerpt), ABSTRACT_CHARS * 2))
        url = safe_url(paper.hf_url)
        if was_cut and url:
            parts.append(f"[Read the full abstract]({url})")
    embed.description = truncate("\n\n".join(parts), DESCRIPTION_LIMIT) or None

    _add_field(embed, "Authors", _authors(paper.authors, MAX_AUTHORS))
    _add_field(embed, "Upvotes", f"▲ {paper.upvotes:,}", inline=True)
    _add_field(embed, "Comments", f"💬 {paper.num_comments:,}", inline=True)
    _add_field(embed, "Listed", _listing_dates(paper), inline=True)
    if paper.organization:
        _add_field(embed, "Organization", _fit(paper.organization, ORGANIZATION_CHARS))
    _add_field(embed, "Links", _paper_links(paper))
    _add_field(embed, "Keywords", _keywords(paper.ai_keywords))

    thumbnail = safe_url(paper.thumbnail, https_only=True)
    if thumbnail:
        embed.set_thumbnail(url=thumbnail)
    footer = " · ".join(part for part in (plain(hint or "", 200), _footer_id(paper)) if part)
    embed.set_footer(text=truncate(footer, FOOTER_LIMIT))
    return _guard_total(embed)


def _compact_authors(authors: Sequence[str]) -> str:
    """ "A. Author, B. Author, C. Author +12": the first names, then how many more there are."""
    names = [
        name
        for name in (_fit(author, COMPACT_NAME_CHARS) for author in authors[:COMPACT_AUTHORS])
        if name
    ]
    if not names:
        return ""
    hidden = len(authors) - COMPACT_AUTHORS
    return ", ".join(names) + (f" +{hidden:,}" if hidden > 0 else "")


def _summary_line(paper: Paper) -> str:
    """One sentence: Hugging Face's AI summary, else the abstract's key sentence; nothing when
    neither exists (the title would only be repeated)."""
    has_text = (paper.ai_summary and paper.ai_summary.strip()) or paper.abstract.strip()
    return _fit(one_sentence(paper), COMPACT_SUMMARY_CHARS) if has_text else ""


def compact_paper_embed(paper: Paper) -> discord.Embed:
    """The compact auto-post card: linked title, one sentence of summary, the first authors,
    one line of votes and links, and the listing day. No thumbnail: Hugging Face's is a social
    card, unreadable at that size. The Abstract button shows :func:`paper_embed` on demand."""
    embed = _new_embed(_paper_title(paper, TITLE_LIMIT), url=safe_url(paper.hf_url))
    links = _paper_links(paper)
    meta = f"{_counts(paper)} · {links}" if links else _counts(paper)
    lines = [_summary_line(paper), _compact_authors(paper.authors), meta]
    embed.description = truncate("\n".join(line for line in lines if line), DESCRIPTION_LIMIT)
    listed = paper.latest_listing
    if listed:
        embed.set_footer(text=f"Listed {format_day(listed)}")
    return _guard_total(embed)


def card_embed(paper: Paper, style: CardStyle, *, hint: str | None = None) -> discord.Embed:
    """An auto-post in the subscription's ``style``; ``hint`` shows on the full card only."""
    return compact_paper_embed(paper) if style == "compact" else paper_embed(paper, hint=hint)


def _fit_entries(head: str, entries: Sequence[str]) -> tuple[str, int]:
    """``head`` and as many whole ``entries`` as fit in a description, keeping room for a
    "+N more" line while some are left out. Returns the text and how many entries it shows."""
    text = head
    shown = 0
    for index, entry in enumerate(entries):
        reserve = MORE_LINE_RESERVE if index < len(entries) - 1 else 0
        candidate = f"{text}\n\n{entry}" if text else entry
        if len(candidate) + reserve > DESCRIPTION_LIMIT:
            break
        text, shown = candidate, shown + 1
    return text, shown


def _with_more(text: str, hidden: int) -> str:
    return f"{text}\n\n+{hidden} more not shown" if hidden > 0 else text


def paper_list_embed(
    title: str,
    papers: Sequence[Paper],
    *,
    page: int,
    pages: int,
    start_rank: int,
    description: str | None = None,
    total: int | None = None,
) -> discord.Embed:
    """One page of a ranked list of papers (``/papers today``): rank, linked title, votes,
    authors. ``title`` and ``description`` are the bot's own text, not escaped; ``total``
    (all papers in the list) shows in the footer when given."""
    embed = _new_embed(title)
    entries = []
    for rank, paper in enumerate(papers, start=start_rank):
        entry = f"**{rank}.** {linked_title(paper)} — {_counts(paper)}"
        authors = _authors(paper.authors, LIST_AUTHORS)
        if authors:
            entry += f"\n{authors}"
        entries.append(entry)
    text, shown = _fit_entries(truncate(description or "", 1000), entries)
    embed.description = _with_more(text, len(entries) - shown) or "No papers here."
    footer = f"Page {page}/{pages}"
    if total is not None:
        footer += f" · {total:,} paper{'s' if total != 1 else ''}"
    embed.set_footer(text=footer)
    return _guard_total(embed)


def bookmarked_list_embed(
    title: str,
    entries: Sequence[tuple[Paper, int]],
    *,
    page: int,
    pages: int,
    start_rank: int,
    description: str | None = None,
) -> discord.Embed:
    """One page of a server's most bookmarked papers: rank, linked title, how many saved it
    (a count, never who) and its upvotes. ``title`` and ``description`` are the bot's own text."""
    embed = _new_embed(title)
    lines = []
    for rank, (paper, saves) in enumerate(entries, start=start_rank):
        saved = f"🔖 {saves:,} bookmark{'s' if saves != 1 else ''}"
        lines.append(f"**{rank}.** {linked_title(paper)} — {saved} · ▲ {paper.upvotes:,}")
    text, shown = _fit_entries(truncate(description or "", 1000), lines)
    embed.description = _with_more(text, len(lines) - shown) or "No papers here."
    embed.set_footer(text=f"Page {page}/{pages}")
    return _guard_total(embed)


def _snippet(snippet: str, limit: int = SNIPPET_CHARS) -> str:
    """A search snippet with its matched words in bold. The snippet text is escaped first and
    only the search module's marker characters become ``**``, so HF text cannot forge bold."""
    text = _WHITESPACE.sub(" ", _SNIPPET_CONTROL.sub("", snippet)).strip()[: limit * 2]
    # The markers are not markdown, so they survive escaping in place.
    escaped = _neutralise_mentions(escape_markdown(text))
    segments: list[tuple[str, bool]] = []
    position = 0
    for match in _MARKED.finditer(escaped):
        segments.append((escaped[position : match.start()], False))
        segments.append((match.group(1), True))
        position = match.end()
    segments.append((escaped[position:], False))

    out = ""
    for raw, matched in segments:
        raw = raw.replace(MATCH_START, "").replace(MATCH_END, "")  # unpaired markers
        inner = raw.strip()
        lead = " " if matched and raw.startswith(" ") else ""
        trail = " " if matched and raw.endswith(" ") else ""
        piece = f"{lead}**{inner}**{trail}" if matched and inner else raw
        # Keep one character for the ellipsis that a cut adds.
        if len(out) + len(piece) <= limit - len(ELLIPSIS):
            out += piece
            continue
        room = limit - len(out)
        if matched and inner and room >= len(lead) + 4 + 2 * len(ELLIPSIS):
            out += f"{lead}**{truncate(inner, room - len(lead) - 4)}**"
        elif matched and inner:
            out = out.rstrip() + ELLIPSIS
        else:
            out += truncate(piece, room)
        break
    return out.strip()


def search_results_embed(
    query: str,
    hits: Sequence[SearchHit],
    *,
    page: int,
    pages: int,
    start_rank: int,
    total: int,
    note: str | None = None,
) -> discord.Embed:
    """One page of search results: linked titles with the matched words of a snippet in bold.

    ``note`` is the bot's own line shown above the results (e.g. "these match some words").
    """
    embed = _new_embed(f"Search: {_fit(query, 200)}")
    entries = []
    for rank, hit in enumerate(hits, start=start_rank):
        entry = f"**{rank}.** {linked_title(hit.paper)} — ▲ {hit.paper.upvotes:,}"
        snippet = _snippet(hit.snippet)
        if snippet:
            entry += f"\n{snippet}"
        entries.append(entry)
    text, shown = _fit_entries(truncate(note or "", 500), entries)
    embed.description = (
        _with_more(text, len(entries) - shown) or "No stored paper matches that search."
    )
    embed.set_footer(text=f"Page {page}/{pages} · {total:,} result{'s' if total != 1 else ''}")
    return _guard_total(embed)


WHY_CHARS = 220  # the "shares: …" line under a similar paper


def _why_line(why: str) -> str:
    return f"\n{_fit(why, WHY_CHARS)}" if why else ""


def similar_embed(paper: Paper, neighbours: Sequence[Neighbour]) -> discord.Embed:
    """The stored papers most like ``paper``, best first, each with what it shares."""
    embed = _new_embed(
        f"Similar to: {_paper_title(paper, LIST_TITLE_CHARS)}", url=safe_url(paper.hf_url)
    )
    entries = [
        f"**{rank}.** {linked_title(neighbour.paper)} — ▲ {neighbour.paper.upvotes:,}"
        + _why_line(neighbour.why())
        for rank, neighbour in enumerate(neighbours, start=1)
    ]
    text, shown = _fit_entries("", entries)
    embed.description = _with_more(text, len(entries) - shown) or (
        "No stored paper is like this one yet: more arrive with every day the bot stores."
    )
    embed.set_footer(text=f"{_footer_id(paper)} · by shared keywords, title words and authors")
    return _guard_total(embed)


def recommendations_embed(
    entries: Sequence[tuple[Paper, Paper, str]],
    *,
    page: int,
    pages: int,
    total: int,
    start_rank: int = 1,
) -> discord.Embed:
    """One page of recommendations: (paper, the saved paper it is like, what they share)."""
    embed = _new_embed("Recommended from your bookmarks")
    lines = []
    for rank, (paper, because, why) in enumerate(entries, start=start_rank):
        day = paper.latest_listing
        listed = f" — listed {format_day(day)}" if day else ""
        lines.append(
            f"**{rank}.** {linked_title(paper)}{listed}\n"
            f"because you saved {linked_title(because, 80)}" + _why_line(why)
        )
    text, shown = _fit_entries("", lines)
    embed.description = _with_more(text, len(lines) - shown) or "Nothing to recommend yet."
    embed.set_footer(text=f"Page {page}/{pages} · {total:,} papers · newest first")
    return _guard_total(embed)


SUMMARY_LABELS = {
    "huggingface": "Hugging Face's AI summary",
    "extractive": "Extractive summary: key sentences picked from the abstract",
}


def summary_embed(paper: Paper, summary: Summary) -> discord.Embed:
    """A short summary of one paper, labelled with where it came from, and its keywords."""
    embed = _new_embed(_paper_title(paper, TITLE_LIMIT), url=safe_url(paper.hf_url))
    embed.set_author(name=SUMMARY_LABELS[summary.source])
    embed.description = _fit(summary.text, SUMMARY_CHARS) or None
    _add_field(embed, "Keywords", _keywords(summary.keywords))
    _add_field(embed, "Links", _paper_links(paper))
    embed.set_footer(text=_footer_id(paper))
    return _guard_total(embed)


def digest_embed(
    day: date,
    entries: Sequence[tuple[Paper, str]],
    keywords: Sequence[tuple[str, int]],
    *,
    total_papers: int,
    incomplete: str | None = None,
) -> discord.Embed:
    """One message summarising a day: top papers with one sentence each, recurring keywords.

    Entries that do not fit are dropped and counted in a "+N more" line; ``incomplete`` says
    why the day may lack papers (it was not fetched whole), above the list.
    """
    day_url = safe_url(f"{HF_PAPERS_URL}date/{day.isoformat()}")
    embed = _new_embed(f"Daily Papers digest · {format_day(day)}", url=day_url)
    lines = []
    for rank, (paper, sentence) in enumerate(entries, start=1):
        line = f"**{rank}.** {linked_title(paper)} — ▲ {paper.upvotes:,}"
        sentence_text = _fit(sentence, DIGEST_SENTENCE_CHARS)
        if sentence_text:
            line += f"\n{sentence_text}"
        lines.append(line)
    total = max(total_papers, len(entries))
    if entries:
        head = f"{total} paper{'s' if total != 1 else ''} listed. The top ones:"
        if incomplete:
            head = f"⚠️ {truncate(incomplete, 1000)}\n\n{total} stored. The top ones:"
    else:
        head = "No papers are listed for this day yet. Daily Papers is usually quiet at weekends."
    text, shown = _fit_entries(head, lines)
    if entries and total > shown:
        more = f"+{total - shown} more"
        text += f"\n\n[{more} on Hugging Face]({day_url})" if day_url else f"\n\n{more}"
    embed.description = text
    value = ""
    for keyword, count in keywords:
        name = _fit(keyword, KEYWORD_CHARS)
        if not name:
            continue
        candidate = f"{value} · {name} ×{count}" if value else f"{name} ×{count}"
        if len(candidate) > FIELD_VALUE_LIMIT:
            break
        value = candidate
    _add_field(embed, "Recurring keywords", value)
    embed.set_footer(text="One sentence each: HF's AI summary, or a key sentence of the abstract")
    return _guard_total(embed)


# A channel digest's footer names the local day it is for: the engine's look-back reads it to
# find a digest Discord accepted before the bot could record it.
CHANNEL_DIGEST_FOOTER = "papers-bot daily digest for "


def channel_digest_embed(digest: ChannelDigest) -> discord.Embed:
    """A subscribed channel's daily digest: the covered day's top papers (linked title, ▲,
    one sentence each), the filters applied; one line when nothing matched."""
    plan = digest.plan
    day_url = safe_url(f"{HF_PAPERS_URL}date/{plan.covers.isoformat()}")
    embed = _new_embed(f"Daily Papers · {format_day(plan.covers)}", url=day_url)
    lines = []
    for paper, sentence in digest.entries:
        line = f"{linked_title(paper)} — ▲ {paper.upvotes:,}"
        sentence_text = _fit(sentence, DIGEST_SENTENCE_CHARS)
        if sentence_text:
            line += f"\n{sentence_text}"
        lines.append(line)
    if lines:
        head = (
            f"The {len(lines)} most upvoted of {plan.matched} paper"
            f"{'s' if plan.matched != 1 else ''} matching this channel's filters:"
        )
        text, shown = _fit_entries(head, lines)
        if plan.matched > shown:
            more = f"+{plan.matched - shown} more"
            text += f"\n\n[{more} on Hugging Face]({day_url})" if day_url else f"\n\n{more}"
    else:
        text = f"No papers listed on {format_day(plan.covers)} matched this channel's filters."
    embed.description = text
    _add_field(embed, "Filters", truncate(clean(plan.filters), FIELD_VALUE_LIMIT))
    embed.set_footer(text=f"{CHANNEL_DIGEST_FOOTER}{digest.day.isoformat()}")
    return _guard_total(embed)


def digest_day_of(footer: str | None) -> date | None:
    """The local day a channel digest was posted for, read from its footer (None: not one)."""
    if not footer or not footer.startswith(CHANNEL_DIGEST_FOOTER):
        return None
    try:
        return date.fromisoformat(footer.removeprefix(CHANNEL_DIGEST_FOOTER).strip())
    except ValueError:
        return None


def _as_utc(moment: datetime) -> datetime:
    # A naive datetime from SQLite is UTC by the store's convention.
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def bookmark_list_embed(
    entries: Sequence[tuple[Paper, datetime]],
    *,
    page: int,
    pages: int,
    total: int,
    bookmark_emoji: str = "🔖",
) -> discord.Embed:
    """One page of a user's reading list, newest first, with the date each paper was saved."""
    embed = _new_embed(f"{bookmark_emoji} Your reading list")
    lines = []
    for paper, saved_at in entries:
        saved = format_dt(_as_utc(saved_at), "d")
        lines.append(f"• {linked_title(paper)}\narXiv {_fit(paper.id, ID_CHARS)} · saved {saved}")
    text, shown = _fit_entries("", lines)
    embed.description = (
        _with_more(text, len(lines) - shown)
        or f"Nothing saved yet: react with {bookmark_emoji} on a paper the bot posted."
    )
    embed.set_footer(text=f"Page {page}/{pages} · {total:,} saved")
    return _guard_total(embed)


_NOTICE_COLOURS = {"info": BRAND_COLOUR, "warning": WARNING_COLOUR, "error": ERROR_COLOUR}


def notice_embed(
    title: str, text: str, *, kind: Literal["info", "warning", "error"] = "info"
) -> discord.Embed:
    """A short bot notice. ``title`` and ``text`` are the bot's own words (markdown allowed);
    escape anything untrusted in them with :func:`clean` first."""
    embed = _new_embed(title, colour=_NOTICE_COLOURS[kind])
    embed.description = truncate(text, DESCRIPTION_LIMIT) or None
    return _guard_total(embed)


# --- /feed replies --------------------------------------------------------------------------------

# What /feed preview lists of each kind before "+N more".
PREVIEW_LINES = 15
# /feed list: subscriptions on one page at most (fewer when their filters are long).
LIST_PAGE_SIZE = 10
# Room kept on each /feed list page for its footer ("Page 2/3 · 25 subscriptions").
LIST_FOOTER_RESERVE = 100
TITLE_CHARS = 120


def _when(moment: datetime | None) -> str:
    return discord.utils.format_dt(moment, "R") if moment else "never"


def _lines(lines: list[str], limit: int, *, at_most: int | None = None) -> str:
    """Join ``lines`` within ``limit`` characters (and ``at_most`` lines), ending with
    "+N more" when some do not fit."""
    shown: list[str] = []
    used = 0
    for index, line in enumerate(lines):
        more = f"+{len(lines) - index} more"
        too_many = at_most is not None and index >= at_most
        if too_many or used + len(line) + 1 > limit - len(more) - 1:
            shown.append(more)
            break
        shown.append(line)
        used += len(line) + 1
    return "\n".join(shown)


def _filters(description: str) -> str:
    """A filter description (the admin's own keywords): escaped, since it is shown as markdown."""
    return clean(description)


CHANGE_HINT = (
    "To change the filters, subscribe again: options you leave out keep their value; "
    f"`keywords: {CLEAR_KEYWORDS}` clears the keywords and `min_upvotes: 0` the upvote bar."
)

STYLE_TEXT: dict[CardStyle, str] = {
    "compact": "compact cards (a few lines; Abstract shows the full card privately)",
    "full": "full cards (summary, abstract and every detail)",
}


def _style(subscription: Subscription) -> str:
    return f"Style: {STYLE_TEXT[subscription.style]}"


def _mention(subscription: Subscription) -> str:
    role = subscription.mention_role_id
    return "no role pinged" if role is None else f"pings <@&{role}>"


def subscription_label(subscription: Subscription) -> str:
    """``<#channel>``, with the subscription's name unless it is the default one."""
    channel = f"<#{subscription.channel_id}>"
    if subscription.name == DEFAULT_NAME:
        return channel
    return f"{channel} (`{plain(subscription.name, 40)}`)"


def _options(subscription: Subscription) -> str:
    """How the subscription posts, beyond its filters ("" for plain channel messages)."""
    if subscription.forum:
        return " · 🗂️ a forum post for each paper, tagged by its keywords"
    return " · 🧵 a thread on each post" if subscription.thread else ""


def subscribed_embed(channel_id: int, result: SubscribeResult, emoji: str) -> discord.Embed:
    """The answer to /feed subscribe: what it is set to now, and what changed."""
    filters = truncate(_filters(result.filter.describe()), 1500) + _options(result.subscription)
    channel = subscription_label(result.subscription)
    if result.created:
        lines = [f"Subscribed {channel}: {filters}."]
    elif result.resumed:
        previous = result.previous
        reason = result.resumed_from or (previous.paused_reason if previous is not None else None)
        lines = [f"Resumed {channel}: {filters}."]
        if reason:
            lines.append(f"It had been paused: {plain(reason, 300)}.")
    elif result.changed:
        lines = [f"Updated {channel}: {filters}."]
    else:
        lines = [f"{channel} is already subscribed: {filters}. Nothing changed."]
    subscription = result.subscription
    lines.append(f"Volume: {volume_description(subscription)}.")
    if subscription.digest:
        lines.append(
            f"Each day at {subscription.digest_at} (this server's time zone; `/feed timezone` "
            "sets it) one message lists the top papers of the latest listing day fetched whole."
        )
    else:
        lines.append(
            f"It receives papers listed from {format_day(subscription.since_day)} on, "
            "most upvoted first."
        )
        lines.append(f"{_style(subscription)}; `style: compact` or `style: full` changes it.")
    if subscription.mention_role_id is not None:
        lines.append(
            f"Posts that pass these filters ping <@&{subscription.mention_role_id}> "
            "(`clear_mention: True` stops that)."
        )
    if result.waiting:
        lines.append(f"{result.waiting} paper(s) are on their way now.")
    if result.held_back:
        lines.append(
            f"To keep the channel readable, only the {result.first_batch} most upvoted are "
            f"posted at once: {result.held_back} other paper(s) are not posted; "
            "`/papers today` lists them."
        )
    if not result.can_react:
        lines.append(
            f"Tip: give me Add Reactions and Read Message History there so I can add {emoji}, "
            "the reaction readers use to bookmark a paper."
        )
    lines.append(CHANGE_HINT)
    return notice_embed("Paper feed", "\n".join(lines))


def _subscription_name(item: SubscriptionStats) -> str:
    """A /feed list field's name: the subscription's (field names render no mentions)."""
    return truncate(f"📌 {item.subscription.name}", 256)


def _subscription_field(item: SubscriptionStats) -> str:
    subscription = item.subscription
    state = (
        f"⏸️ paused {_when(subscription.paused_at)}: {plain(subscription.paused_reason or '', 300)}"
        if subscription.paused
        else "▶️ active"
    )
    head = (
        f"<#{subscription.channel_id}> · {state}{_options(subscription)} · {_mention(subscription)}"
    )
    tail = (
        f"{_style(subscription)}\nSince {format_day(subscription.since_day)} · channel: "
        f"{item.delivered} delivered (last {_when(item.last_sent_at)}) · {item.pending} waiting"
    )
    # The filters get whatever room the field has left: admins retype them to change them.
    room = FIELD_VALUE_LIMIT - len(head) - len(tail) - len("\nFilters: \n")
    volume = f"Volume: {volume_description(subscription)}"
    room -= len(volume) + 1
    filters = truncate(_filters(feed_filter(subscription).describe()), max(room, 40))
    return truncate(f"{head}\nFilters: {filters}\n{volume}\n{tail}", FIELD_VALUE_LIMIT)


def _list_header(items: list[SubscriptionStats]) -> discord.Embed:
    channels = len({item.subscription.channel_id for item in items})
    more = f", {len(items)} subscriptions" if len(items) != channels else ""
    return notice_embed("Paper feed", f"{channels} subscribed channel(s){more}.")


def subscription_pages(items: list[SubscriptionStats]) -> list[discord.Embed]:
    """The answer to /feed list: every subscription, on as many pages as Discord's limits need
    (at most LIST_PAGE_SIZE a page, and never more than 6000 characters in one embed)."""
    if not items:
        return [
            notice_embed(
                "Paper feed", "No channel here is subscribed yet: try `/feed subscribe #channel`."
            )
        ]
    values = [(_subscription_name(item), _subscription_field(item)) for item in items]
    budget = EMBED_TOTAL_LIMIT - embed_length(_list_header(items)) - LIST_FOOTER_RESERVE
    pages: list[list[tuple[str, str]]] = [[]]
    used = 0
    for name, value in values:
        size = len(value) + len(name)
        if pages[-1] and (used + size > budget or len(pages[-1]) >= LIST_PAGE_SIZE):
            pages.append([])
            used = 0
        pages[-1].append((name, value))
        used += size
    embeds = []
    for number, page in enumerate(pages, start=1):
        embed = _list_header(items)
        for name, value in page:
            embed.add_field(name=name, value=value, inline=False)
        if len(pages) > 1:
            embed.set_footer(
                text=truncate(
                    f"Page {number}/{len(pages)} · {len(items)} subscriptions", FOOTER_LIMIT
                )
            )
        embeds.append(embed)
    return embeds


def unsubscribed_embed(channel_id: int, name: str) -> discord.Embed:
    """The answer to /feed unsubscribe."""
    channel = f"<#{channel_id}>"
    what = channel if name == DEFAULT_NAME else f"`{plain(name, 40)}` from {channel}"
    return notice_embed(
        "Paper feed",
        f"Unsubscribed {what}: its filters no longer post papers there.",
    )


def status_embed(status: FeedStatus, *, timezone: str = DEFAULT_ZONE) -> discord.Embed:
    """The answer to /feed status (``timezone``: the server's, an IANA name)."""
    poll = status.poll
    lines = [
        f"Server time zone: {timezone} (what `/papers today` means here; "
        "change it with `/feed timezone`)",
        f"Last successful poll of Hugging Face: {_when(poll.last_success_at)}",
    ]
    if poll.consecutive_failures:
        lines.append(
            f"⚠️ The last {poll.consecutive_failures} poll(s) failed; "
            f"latest error {_when(poll.last_error_at)}: {plain(poll.last_error or '?', 300)}"
        )
        if status.outage_announced:
            lines.append("Subscribed channels were told; they'll hear when it is back.")
    elif poll.last_error:
        lines.append(f"Last error {_when(poll.last_error_at)}: {plain(poll.last_error, 300)}")
    lines += [
        f"Papers stored: {status.papers_stored:,}",
        f"Subscribed channels: {status.subscriptions} · deliveries waiting: {status.pending:,}",
    ]
    if status.paused:
        lines.append(f"Paused ({len(status.paused)}):")
        lines += [
            f"• <#{sub.channel_id}> {_when(sub.paused_at)}: {sub.paused_reason}"
            for sub in status.paused
        ]
    if status.process:
        lines.append(f"Polling Hugging Face (holds the lease): process `{status.process}`")
    else:
        lines.append("Polling Hugging Face: no process holds the lease; another takes over soon")
    warn = bool(poll.consecutive_failures or status.paused)
    return notice_embed(
        "Paper feed status", _lines(lines, DESCRIPTION_LIMIT), kind="warning" if warn else "info"
    )


def _preview_line(entry: PreviewEntry) -> str:
    """One paper: votes, the escaped linked title, and where it stands for this channel."""
    head = f"▲ {entry.paper.upvotes} {linked_title(entry.paper, TITLE_CHARS)}"
    delivery = entry.delivery
    if delivery is None:
        return f"{head} — {clean(entry.verdict.reason)}"
    if delivery.state == "sent":
        return f"{head} — ✅ already posted"
    if delivery.state == "dropped":
        why = plain(delivery.error or "gave up", 200)
        return f"{head} — ⚠️ dropped: {clean(why)}"
    retrying = ""
    if delivery.error:  # tried and failed: it is retried later
        retrying = f" · last attempt failed: {clean(plain(delivery.error, 200))}"
    if entry.verdict.passed:
        return f"{head} — {clean(entry.verdict.reason)} · ⏳ queued{retrying}"
    # An attempt was made before the filters changed: Discord may hold it, so it stays queued.
    return f"{head} — ⏳ queued (already attempted before the filters changed){retrying}"


def _sections(head: str, sections: list[tuple[str, list[str]]]) -> str:
    """``head`` and each non-empty section (a title and its lines), sharing the description's
    room fairly: a short section leaves what it does not use to the next ones."""
    shown = [(title, lines) for title, lines in sections if lines]
    room = DESCRIPTION_LIMIT - len(head) - sum(len(f"\n\n{title}\n") for title, _ in shown)
    parts = [head]
    for index, (title, lines) in enumerate(shown):
        text = _lines(lines, room // (len(shown) - index), at_most=PREVIEW_LINES)
        parts.append(f"{title}\n{text}")
        room -= len(text)
    return truncate("\n\n".join(parts), DESCRIPTION_LIMIT)


def preview_embed(preview: Preview) -> discord.Embed:
    """The answer to /feed preview: each of the day's papers, in one group: already posted,
    would be posted, dropped (and why), or blocked (and by which filter)."""
    subscription = preview.subscription
    channel = subscription_label(subscription)
    if not preview.entries:
        return notice_embed(
            "Feed preview",
            f"No papers are stored for {format_day(preview.day)} yet, so there is nothing to "
            f"preview for {channel}. Hugging Face fills the day in gradually; weekends are empty.",
        )
    posted = [_preview_line(entry) for entry in preview.posted]
    would = [_preview_line(entry) for entry in preview.would_post]
    dropped = [_preview_line(entry) for entry in preview.dropped]
    blocked = [_preview_line(entry) for entry in preview.blocked]
    lines = [
        f"{channel} · {truncate(_filters(preview.filter.describe()), 400)}"
        f"{_options(subscription)} · papers listed {format_day(preview.day)}:",
        f"Volume: {volume_description(subscription)}.",
        f"{_style(subscription)}.",
    ]
    if subscription.max_per_day and not subscription.digest:
        lines.append(
            f"A paper is posted once it is among the day's {subscription.max_per_day} most "
            "upvoted that pass the filters; once that many were posted for the day, no more "
            "are, whatever the upvotes do later."
        )
    would_title = "**Would post**"
    if preview.paused:
        reason = plain(subscription.paused_reason or "Discord refused to post", 300)
        lines.append(
            f"⏸️ Paused {_when(subscription.paused_at)}: {reason}. Nothing is posted until "
            "an admin fixes that and runs `/feed subscribe` for this channel again."
        )
        counts = f"**{len(would)}** would be posted once resumed"
        would_title = "**Would post once resumed**"
    else:
        counts = f"**{len(would)}** would be posted"
    counts += f", **{len(posted)}** already posted, **{len(blocked)}** blocked by the filters"
    if dropped:
        counts += f", **{len(dropped)}** dropped"
    lines.append(counts + ".")
    text = _sections(
        "\n".join(lines),
        [
            (would_title, would),
            ("**Already posted**", posted),
            ("**Dropped**", dropped),
            ("**Blocked**", blocked),
        ],
    )
    kind: Literal["info", "warning"] = "warning" if preview.paused else "info"
    return notice_embed("Feed preview", text, kind=kind)


# --- /alerts and alert DMs ------------------------------------------------------------------------

ALERT_QUERY_CHARS = 100


def _alert_query(query: str) -> str:
    """A member's alert query in inline code (backticks cannot end it)."""
    return "`" + truncate(_collapse(query).replace("`", "ˋ"), ALERT_QUERY_CHARS) + "`"


def alert_dm_embed(digest: AlertDigest) -> discord.Embed:
    """The one DM a poll sends a member: each new paper (linked title, upvotes) and the alert
    that matched it."""
    count = len(digest.matches)
    embed = _new_embed(f"🔔 {count} new paper{'s' if count != 1 else ''} for your alerts")
    entries = [
        f"{linked_title(match.paper)} — ▲ {match.paper.upvotes:,}\n"
        f"matched {_alert_query(match.query)}"
        for match in digest.matches
    ]
    text, shown = _fit_entries("", entries)
    embed.description = _with_more(text, count - shown)
    embed.set_footer(text="Manage your alerts with /alerts list · each paper is sent once")
    return _guard_total(embed)


def alerts_embed(alerts: Sequence[Alert], *, cap: int) -> discord.Embed:
    """``/alerts list``: each alert, active or paused (and why), and when it last matched."""
    embed = _new_embed(f"Your alerts ({len(alerts)} of {cap})")
    if not alerts:
        embed.description = (
            "You have no alerts yet. Add one with `/alerts add query:…` (the same words you "
            "would give `/papers search`) and I will DM you when a newly listed paper matches."
        )
        return _guard_total(embed)
    entries = []
    for alert in alerts:
        state = f"⏸️ paused: {clean(alert.paused_reason)}" if alert.paused_reason else "active"
        entries.append(
            f"{_alert_query(alert.query)} — {state}\nlast matched {_when(alert.last_matched_at)}"
        )
    text, shown = _fit_entries("", entries)
    if any(alert.paused for alert in alerts):
        text += "\n\nRun `/alerts resume` to turn paused alerts back on."
    embed.description = _with_more(text, len(entries) - shown)
    return _guard_total(embed)
