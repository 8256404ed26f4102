"""Small operational facts kept in ``bot_state``: last poll, command-sync hash, outage counters."""

from __future__ import annotations

import json
from typing import Any

from bot.store.db import Database


class StateRepo:
    """A JSON key-value store for the handful of facts that are not worth a table."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def get(self, key: str, default: Any = None) -> Any:
        value = await self.db.fetchval("SELECT value FROM bot_state WHERE key = ?", (key,))
        return default if value is None else json.loads(value)

    async def set(self, key: str, value: Any) -> None:
        async with self.db.transaction() as conn:
            await conn.execute(
                "INSERT INTO bot_state (key, value) VALUES (?, ?)"
                " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (key, json.dumps(value)),
            )
