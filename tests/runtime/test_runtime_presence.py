"""Presence against a real Redis: a refresh sends one ZADD per channel and batch, not one per member,
and joins, leaves and expiries end up in Redis as they are locally."""

from __future__ import annotations

import pytest
from redis import asyncio as aioredis

from bench.servers import RedisServer
from runtime import presence as presence_module
from runtime.presence import Presence

pytestmark = pytest.mark.asyncio


async def _calls(client: aioredis.Redis, command: str) -> int:
    stats = await client.info("commandstats")
    return int(stats.get(f"cmdstat_{command}", {}).get("calls", 0))


async def test_refresh_is_one_command_per_channel_and_batch(redis: RedisServer) -> None:
    client = aioredis.from_url(redis.url)
    try:
        await client.flushall()
        presence = Presence(client, prefix="t:", ttl=60)
        for i in range(1200):
            presence.join("room:big", f"m{i}", f"user{i % 7}")
        for i in range(5):
            presence.join("room:small", f"s{i}", "solo")
        await client.config_resetstat()
        await presence._flush()  # the first flush is a refresh of every local member
        # 1,205 members in batches of 500: [500 big], [500 big], [200 big + 5 small] -> 4 ZADDs
        assert await _calls(client, "zadd") == 4
        assert await client.zcard("t:presence:room:big") == 1200
        assert await client.zcard("t:presence:room:small") == 5
        ttl = await client.ttl("t:presence:room:big")
        assert 60 < ttl <= 120
        users = await presence.users("room:big")
        assert sum(users.values()) == 1200 and len(users) == 7

        for i in range(0, 1200, 2):
            presence.leave("room:big", f"m{i}")
        presence.leave("room:small", "s0")
        presence.join("room:small", "s0", "solo")  # left and back before the flush: still there
        await client.config_resetstat()
        await presence._flush()
        # 601 removals in 2 batches, in set order: one ZREM per channel present in each batch
        assert 2 <= await _calls(client, "zrem") <= 4
        assert await client.zcard("t:presence:room:big") == 600
        assert await client.zcard("t:presence:room:small") == 5
    finally:
        await client.aclose()


async def test_small_batches_still_group_by_channel(redis: RedisServer, monkeypatch) -> None:
    monkeypatch.setattr(presence_module, "BATCH", 3)
    monkeypatch.setattr(presence_module, "BATCH_PAUSE", 0.0)
    client = aioredis.from_url(redis.url)
    try:
        await client.flushall()
        presence = Presence(client, prefix="u:", ttl=30)
        for channel in ("a", "b"):
            for i in range(4):
                presence.join(channel, f"{channel}{i}", "x")
        await client.config_resetstat()
        await presence._flush()
        # 8 members in batches of 3: [a a a], [a b b], [b b] -> 4 ZADDs
        assert await _calls(client, "zadd") == 4
        assert await client.zcard("u:presence:a") == 4 and await client.zcard("u:presence:b") == 4
    finally:
        await client.aclose()
