"""Redis PUBLISHes issued together leave as one pipeline, in the order they were issued."""

from __future__ import annotations

import asyncio

import pytest
from redis import asyncio as aioredis

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
