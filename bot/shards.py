"""Which Discord shards, and so which guilds, this process serves."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


def shard_of(guild_id: int, count: int) -> int:
    """The shard a guild's events and channels belong to (Discord's own formula)."""
    return (guild_id >> 22) % count


@dataclass(frozen=True, slots=True)
class ShardSet:
    """``count`` shards in all, of which this process runs ``ids``.

    The delivery engine claims outbox rows only for guilds it ``owns``: each channel is then sent
    to by exactly one process, so discord.py's per-route rate buckets stay correct.
    """

    count: int
    ids: frozenset[int]

    def __post_init__(self) -> None:
        if self.count < 1:
            raise ValueError("a shard count is at least 1")
        if not self.ids or any(not 0 <= shard < self.count for shard in self.ids):
            raise ValueError(f"shard ids must be 0 to {self.count - 1}, got {sorted(self.ids)}")

    @classmethod
    def of(cls, count: int, ids: Iterable[int] | None = None) -> ShardSet:
        """``ids`` of ``count`` shards; None: all of them (one process runs every shard)."""
        return cls(count, frozenset(range(count) if ids is None else ids))

    @property
    def everything(self) -> bool:
        """Whether this process runs every shard (no other process sends for any guild)."""
        return len(self.ids) == self.count

    def owns(self, guild_id: int) -> bool:
        """Whether the guild's shard is one of this process's."""
        return shard_of(guild_id, self.count) in self.ids

    def __str__(self) -> str:
        return f"shards {','.join(map(str, sorted(self.ids)))} of {self.count}"


# One process, one shard: a plain (unsharded) bot serves every guild.
ALL_SHARDS = ShardSet.of(1)
