"""Card size: the compact auto-post card next to the full card, on recorded fixture papers.

For each paper, both styles: ``chars`` (what Discord counts towards an embed's 6000: title,
description, fields, footer) and ``lines``, an estimate of the rendered height in text lines.

The estimate assumes a desktop embed about 520 px wide: text wraps at 60 visible characters a
line (markdown link targets and escapes do not show), the bold title at 50, a blank line between
paragraphs counts as a line, each field is its name's line plus its value's wrapped lines, three
inline fields share a row (20 characters each), and Hugging Face's thumbnail (80 px, top right)
narrows the description beside it to 48 characters. Buttons are one row under either card and
are left out. Real heights vary with the client and the font; the ratio is what matters.

    python bench/card_size.py

Ends with ``card_size: papers=N compact_lines_mean=… full_lines_mean=… compact_chars_mean=…
full_chars_mean=…``.
"""

from __future__ import annotations

import math
import re
import statistics
import sys
from pathlib import Path

import discord

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.embeds import compact_paper_embed, embed_length, paper_embed
from bot.models import Paper
from tests.conftest import fixture_papers

TEXT_COLUMNS = 60
TITLE_COLUMNS = 50
BESIDE_THUMBNAIL_COLUMNS = 48
INLINE_PER_ROW = 3
HINT = "React with 🔖 to save"

_LINK = re.compile(r"\[((?:\\.|[^\]\\])*)\]\([^)]*\)")
_ESCAPE = re.compile(r"\\(.)")
_EMPHASIS = re.compile(r"\*\*|(?<!\\)\*")


def visible(text: str) -> str:
    """What a reader sees of Discord markdown: link labels, no escapes or emphasis marks."""
    text = _LINK.sub(lambda m: m.group(1), text)
    text = _EMPHASIS.sub("", text)
    return _ESCAPE.sub(r"\1", text)


def wrapped(text: str, columns: int) -> int:
    """Lines ``text`` takes when wrapped at ``columns`` (an empty line counts as one)."""
    return sum(max(1, math.ceil(len(line) / columns)) for line in visible(text).split("\n"))


def lines(embed: discord.Embed) -> int:
    """The estimated height of ``embed`` in text lines (see the module's assumptions)."""
    total = wrapped(embed.title or "", TITLE_COLUMNS)
    columns = BESIDE_THUMBNAIL_COLUMNS if embed.thumbnail.url else TEXT_COLUMNS
    if embed.description:
        total += wrapped(embed.description, columns)
    row: list[int] = []
    for field in embed.fields:
        if field.inline:
            row.append(1 + wrapped(field.value or "", TEXT_COLUMNS // INLINE_PER_ROW))
            if len(row) == INLINE_PER_ROW:
                total += max(row)
                row = []
            continue
        if row:
            total += max(row)
            row = []
        total += 1 + wrapped(field.value or "", TEXT_COLUMNS)
    if row:
        total += max(row)
    if embed.footer.text:
        total += wrapped(embed.footer.text, TEXT_COLUMNS)
    return total


def sample() -> list[tuple[str, Paper]]:
    """A few real papers: with an AI summary (and links or not), without one, a huge author
    list."""
    today = fixture_papers("daily_papers_2026-06-12")
    no_ai = fixture_papers("daily_papers_2026-07-21_no_ai_summary")
    old = fixture_papers("daily_papers_2024-08-01")
    return [
        ("AI summary, all links", next(p for p in today if p.github_repo and p.project_page)),
        ("AI summary, no GitHub", next(p for p in today if not p.github_repo)),
        ("no AI summary", next(p for p in no_ai if not p.ai_summary)),
        ("533 authors (2024)", max(old, key=lambda p: len(p.authors))),
    ]


def main() -> None:
    compact_lines, full_lines, compact_chars, full_chars = [], [], [], []
    print(f"{'paper':<24} {'id':<12} {'compact':>16} {'full':>16}")
    for label, paper in sample():
        compact, full = compact_paper_embed(paper), paper_embed(paper, hint=HINT)
        figures = (lines(compact), embed_length(compact), lines(full), embed_length(full))
        compact_lines.append(figures[0])
        compact_chars.append(figures[1])
        full_lines.append(figures[2])
        full_chars.append(figures[3])
        print(
            f"{label:<24} {paper.id:<12} {figures[0]:>4} lines {figures[1]:>4} ch"
            f" {figures[2]:>4} lines {figures[3]:>4} ch"
        )
    everything = fixture_papers("daily_papers_2026-06-12")
    day_compact = [lines(compact_paper_embed(p)) for p in everything]
    day_full = [lines(paper_embed(p, hint=HINT)) for p in everything]
    print(
        f"all {len(everything)} papers of 2026-06-12: compact {sum(day_compact)} lines, "
        f"full {sum(day_full)} lines"
    )
    print(
        f"card_size: papers={len(compact_lines)}"
        f" compact_lines_mean={statistics.mean(compact_lines):.1f}"
        f" full_lines_mean={statistics.mean(full_lines):.1f}"
        f" compact_chars_mean={statistics.mean(compact_chars):.0f}"
        f" full_chars_mean={statistics.mean(full_chars):.0f}"
    )


if __name__ == "__main__":
    main()
