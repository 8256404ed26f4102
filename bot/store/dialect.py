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


def skip_locked(dialect: Dialect) -> str:
    """The end of a ``SELECT`` that picks rows to claim: PostgreSQL locks them and skips rows
    another transaction is claiming; SQLite's one writer at a time needs nothing."""
    return " FOR UPDATE SKIP LOCKED" if dialect == "postgresql" else ""


def greatest(dialect: Dialect, first: str, second: str) -> str:
    """The larger of two values (SQLite's two-argument ``max``; PostgreSQL's ``greatest``)."""
    name = "greatest" if dialect == "postgresql" else "max"
    return f"{name}({first}, {second})"


def string_agg(dialect: Dialect, expression: str, separator: str) -> str:
    """An aggregate joining the group's non-NULL ``expression`` values with ``separator`` (an
    SQL string literal)."""
    name = "string_agg" if dialect == "postgresql" else "group_concat"
    return f"{name}({expression}, {separator})"


def offset_only(dialect: Dialect) -> str:
    """Every row after the first ``?`` ones (SQLite takes OFFSET only after a LIMIT)."""
    return "OFFSET ?" if dialect == "postgresql" else "LIMIT -1 OFFSET ?"
