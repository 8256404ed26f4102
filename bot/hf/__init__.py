"""Hugging Face Daily Papers: HTTP fetching (`client`) and pure parsing (`parse`)."""

from bot.hf.client import HFClient
from bot.hf.parse import (
    is_arxiv_id,
    parse_daily_html,
    parse_daily_json,
    parse_paper_json,
)

__all__ = [
    "HFClient",
    "is_arxiv_id",
    "parse_daily_html",
    "parse_daily_json",
    "parse_paper_json",
]
