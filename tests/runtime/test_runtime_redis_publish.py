"""Redis PUBLISHes issued together leave as one pipeline, in the order they were issued."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest
from redis import asyncio as aioredis
from redis.exceptions import RedisError

from bench.servers import RedisServer
from runtime.pubsub import RedisBackend

pytestmark = pytest.mark.asyncio


async def test_concurrent_publishes_are_pipelined_in_order(redis: RedisServer) -> None:
    backend = RedisBackend(redis.url, prefix="p:")
    listener = aioredis.from_url(redis.url)
    pubsub = listener.pubsub()
    try:
        await pubsub.subscribe("p:room")
        await pubsub.get_message(timeout=1.0)  # the subscribe confirmation
        await backend.publish("room", "first")  # alone: a pipeline of one
        await asyncio.gather(*(backend.publish("room", f"m{i}") for i in range(50)))
        got: list[str] = []
        while len(got) < 51:
            msg = await pubsub.get_message(timeout=2.0)
            assert msg is not None, got
            if msg["type"] == "message":
                got.append(msg["data"].decode())
        assert got == ["first", *(f"m{i}" for i in range(50))]
        assert backend.publishes.items == 51 and backend.publishes.batches < 10
    finally:
        await pubsub.aclose()
        await listener.aclose()
        await backend.disconnect()


@contextlib.asynccontextmanager
async def _listening(url: str, channel: str) -> AsyncIterator[tuple[aioredis.Redis, aioredis.client.PubSub]]:
    """A client subscribed to ``channel`` (the confirmation read), and the same client for commands."""
    admin = aioredis.from_url(url)
    pubsub = admin.pubsub()
    try:
        await pubsub.subscribe(channel)
        await pubsub.get_message(timeout=1.0)
        yield admin, pubsub
    finally:
        await pubsub.aclose()
        await admin.aclose()


async def _received(pubsub: aioredis.client.PubSub, count: int) -> list[str]:
    got: list[str] = []
    while len(got) < count:
        msg = await pubsub.get_message(timeout=2.0)
        assert msg is not None, got
        if msg["type"] == "message":
            got.append(msg["data"].decode())
    return got


async def test_a_publish_after_redis_dropped_the_idle_connection_is_sent_on_a_new_one(
    redis: RedisServer,
) -> None:
    """Redis closing the publisher's connection while it sits idle (its `timeout`, a failover, a
    restart) costs no PUBLISH: the batch is sent once more on a new connection."""
    backend = RedisBackend(redis.url, prefix="k:")
    try:
        async with _listening(redis.url, "k:room") as (admin, pubsub):
            await backend.publish("room", "before")
            killed = await admin.execute_command("CLIENT", "KILL", "TYPE", "normal", "SKIPME", "yes")
            assert killed >= 1  # the publisher's connection (the pub/sub ones are type pubsub)
            await backend.publish("room", "after")
            assert await _received(pubsub, 2) == ["before", "after"]
    finally:
        await backend.disconnect()


async def test_a_publish_while_redis_is_down_fails_and_the_next_one_goes_through(redis: RedisServer) -> None:
    backend = RedisBackend(redis.url, prefix="d:", subscribe_timeout=0.5)
    try:
        await backend.publish("room", "first")
        redis.kill()
        with pytest.raises((OSError, RedisError, TimeoutError)):
            await backend.publish("room", "lost")
        redis.start()
        async with _listening(redis.url, "d:room") as (_admin, pubsub):
            await backend.publish("room", "back")
            assert await _received(pubsub, 1) == ["back"]
    finally:
        await backend.disconnect()
