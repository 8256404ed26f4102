"""Where SQLite and PostgreSQL disagree: each difference is chosen here, by ``db.dialect``.

Everything else the repositories send is SQL both accept: ``?`` placeholders (translated for
asyncpg), ``INSERT … ON CONFLICT``, ``RETURNING``, ``coalesce``, ISO text for moments.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from bot.store.db import Dialect


def in_values(dialect: Dialect, column: str) -> str:
    """``column`` is one of a list given as ONE parameter (see :func:`values_param`): a list's
    length never changes the statement, so it is prepared once."""
    if dialect == "postgresql":
        return f"{column} = ANY(?)"
    return f"{column} IN (SELECT value FROM json_each(?))"


def values_param(dialect: Dialect, values: Iterable[Any]) -> Any:
    """The parameter :func:`in_values` expects: an array for asyncpg, JSON text for SQLite."""
    return list(values) if dialect == "postgresql" else json.dumps(list(values))


def contains_text(dialect: Dialect, haystack: str, needle: str) -> str:
    """``needle`` occurs in ``haystack`` (SQL expressions): a plain substring test, so the
    needle needs no escaping as a LIKE pattern would."""
    if dialect == "postgresql":
        return f"strpos({haystack}, {needle}) > 0"
    return f"instr({haystack}, {needle}) > 0"
