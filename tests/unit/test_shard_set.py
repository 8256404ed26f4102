"""ShardSet: which guilds a process serves, by Discord's own formula."""

from __future__ import annotations

import pytest

from bot.shards import ALL_SHARDS, ShardSet, shard_of

# A real 19-digit snowflake and two more made on the same millisecond's neighbours.
GUILD = 1_234_567_890_123_456_789


def test_a_guild_belongs_to_exactly_one_shard_of_each_count() -> None:
    assert shard_of(GUILD, 3) == (GUILD >> 22) % 3
    for count in (1, 2, 3, 7):
        owners = [shard for shard in range(count) if ShardSet.of(count, [shard]).owns(GUILD)]
        assert owners == [shard_of(GUILD, count)]


def test_a_process_with_every_shard_owns_every_guild() -> None:
    assert ALL_SHARDS.everything and ALL_SHARDS.owns(GUILD)
    assert ShardSet.of(4).everything and not ShardSet.of(4, [0, 1]).everything


@pytest.mark.parametrize(("count", "ids"), [(0, [0]), (2, [2]), (2, [])])
def test_impossible_shard_sets_are_refused(count: int, ids: list[int]) -> None:
    with pytest.raises(ValueError, match="shard"):
        ShardSet.of(count, ids)
