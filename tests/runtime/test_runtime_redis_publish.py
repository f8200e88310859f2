"""Redis PUBLISHes issued together leave as one pipeline, in the order they were issued."""

from __future__ import annotations

import asyncio

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
    admin = aioredis.from_url(redis.url)
    pubsub = admin.pubsub()
    try:
        await pubsub.subscribe("k:room")
        await pubsub.get_message(timeout=1.0)
        await backend.publish("room", "before")
        killed = await admin.execute_command("CLIENT", "KILL", "TYPE", "normal", "SKIPME", "yes")
        assert killed >= 1  # the publisher's connection (the pub/sub ones are type pubsub)
        await backend.publish("room", "after")
        assert await _received(pubsub, 2) == ["before", "after"]
    finally:
        await pubsub.aclose()
        await admin.aclose()
        await backend.disconnect()


async def test_a_publish_while_redis_is_down_fails_and_the_next_one_goes_through(redis: RedisServer) -> None:
    backend = RedisBackend(redis.url, prefix="d:", subscribe_timeout=0.5)
    try:
        await backend.publish("room", "first")
        redis.kill()
        with pytest.raises((OSError, RedisError, TimeoutError)):
            await backend.publish("room", "lost")
        redis.start()
        admin = aioredis.from_url(redis.url)
        pubsub = admin.pubsub()
        try:
            await pubsub.subscribe("d:room")
            await pubsub.get_message(timeout=1.0)
            await backend.publish("room", "back")
            assert await _received(pubsub, 1) == ["back"]
        finally:
            await pubsub.aclose()
            await admin.aclose()
    finally:
        await backend.disconnect()
