"""In-process tests of the broker backends and the hub: the defects of broadcaster, one by one."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
import pytest_asyncio
from broadcaster import Event
from redis import asyncio as aioredis

from bench.servers import RedisServer
from runtime.hub import Hub, Subscription
from runtime.migrate import upgrade
from runtime.protocol import message as message_frame
from runtime.pubsub import RESYNC, BoundedEvents, MemoryBackend, RedisBackend
from runtime.store import Store, make_engine

pytestmark = pytest.mark.asyncio


class Sink:
    """Collects what the hub delivers, like a connection that always keeps up."""

    def __init__(self) -> None:
        self.frames: list[str] = []
        self.overflowed = False
        self.arrived = asyncio.Event()

    def send_frame(self, frame: str, wire: bytes | None = None) -> None:
        self.frames.append(frame)
        self.arrived.set()

    def overflow(self) -> None:
        self.overflowed = True

    async def wait_for(self, n: int, timeout: float = 10.0) -> list[str]:
        async with asyncio.timeout(timeout):
            while len(self.frames) < n:
                self.arrived.clear()
                await self.arrived.wait()
        return self.frames


@pytest_asyncio.fixture
async def store(tmp_path: Path):
    url = f"sqlite+aiosqlite:///{tmp_path / 'hub.db'}"
    await asyncio.to_thread(upgrade, url)
    s = Store(make_engine(url))
    yield s
    await s.close()


async def test_bounded_events_turn_overflow_into_a_resync_marker() -> None:
    events = BoundedEvents(maxlen=3)
    for i in range(10):
        events.put(Event("a", f"m{i}"))
    got = [await events.get() for _ in range(4)]
    assert [e.message for e in got] == ["m0", "m1", "m2", RESYNC], "bounded; the loss becomes a catch-up"
    assert events.dropped == 7


async def test_hub_fills_gaps_from_the_database_and_drops_duplicates(store: Store) -> None:
    hub = Hub(MemoryBackend(), store)
    await hub.start()
    try:
        sink = Sink()
        assert await hub.join(Subscription(sink, "room:a"), None) == 0
        for i in range(3):  # committed, but their broker messages are lost
            await store.publish("room:a", str(i))
        assert await hub.publish("room:a", '"live"') == 4
        frames = await sink.wait_for(4)
        assert frames == [
            message_frame("room:a", o, d) for o, d in [(1, "0"), (2, "1"), (3, "2"), (4, '"live"')]
        ]
        hub.on_message("room:a", f"2 0 {message_frame('room:a', 2, '1')}")  # a duplicate
        assert await hub.publish("room:a", "5") == 5
        await sink.wait_for(5)
        assert [f.split('"offset":')[1].split(",")[0] for f in sink.frames] == ["1", "2", "3", "4", "5"]
    finally:
        await hub.stop()


async def test_a_broker_message_that_is_not_an_envelope_is_dropped_with_one_line(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    hub = Hub(MemoryBackend(), store)
    await hub.start()
    try:
        sink = Sink()
        await hub.join(Subscription(sink, "room:e"), None)
        for bad in ("1 0 not a frame", "x 0 {}", f"1 nan {message_frame('room:e', 1, '1')}", "1"):
            hub.on_message("room:e", bad)  # would have been delivered as offset 1
        assert sink.frames == []
        assert len([r for r in caplog.records if "not an envelope" in r.getMessage()]) == 4
        assert not any(r.exc_info for r in caplog.records)
        assert await hub.publish("room:e", "1") == 1
        assert await sink.wait_for(1) == [message_frame("room:e", 1, "1")]
    finally:
        await hub.stop()


async def test_since_replay_buffers_live_messages_without_gap_or_duplicate(store: Store) -> None:
    hub = Hub(MemoryBackend(), store)
    await hub.start()
    try:
        for i in range(5):
            await hub.publish("room:b", str(i))
        sink = Sink()
        sub = Subscription(sink, "room:b")
        await hub.join(sub, since=2)
        await hub.publish("room:b", "5")  # arrives while the replay has not run yet
        await asyncio.sleep(0.05)
        assert sink.frames == [] and sub.replay is not None
        for row in await store.fetch("room:b", sub.last, 100):  # what the connection's replay does
            sub.last = row.offset
            sink.send_frame(message_frame("room:b", row.offset, row.data))
        hub.end_replay(sub)
        await hub.publish("room:b", "6")
        frames = await sink.wait_for(5)
        assert [int(f.split('"offset":')[1].split(",")[0]) for f in frames] == [3, 4, 5, 6, 7]
    finally:
        await hub.stop()


async def test_redis_backend_resubscribes_and_resyncs_after_a_restart() -> None:
    redis = RedisServer()
    redis.start()
    backend = RedisBackend(redis.url, prefix="t:")
    try:
        await backend.connect()
        await backend.subscribe("a")
        publisher = aioredis.Redis.from_url(redis.url)
        assert await publisher.publish("t:a", "one") == 1, (
            "SUBSCRIBE was confirmed before subscribe() returned"
        )
        assert await asyncio.wait_for(backend.next_published(), 5) == Event("a", "one")
        await publisher.aclose()

        await asyncio.to_thread(redis.restart)
        event = await asyncio.wait_for(backend.next_published(), 15)
        assert event == Event("a", RESYNC) and backend.reconnects == 1
        publisher = aioredis.Redis.from_url(redis.url)
        async with asyncio.timeout(10):
            while await publisher.publish("t:a", "two") == 0:
                await asyncio.sleep(0.05)
        assert await asyncio.wait_for(backend.next_published(), 5) == Event("a", "two")
        await publisher.aclose()
    finally:
        await backend.disconnect()
        redis.stop()


async def test_concurrent_first_subscribers_share_one_redis_subscription(redis, store: Store) -> None:
    backend = RedisBackend(redis.url, prefix="c:")
    hub = Hub(backend, store)
    await hub.start()
    try:
        sinks = [Sink() for _ in range(100)]
        await asyncio.gather(*(hub.join(Subscription(s, "room:c"), None) for s in sinks))
        client = aioredis.Redis.from_url(redis.url)
        assert await client.pubsub_numsub("c:room:c") == [(b"c:room:c", 1)]
        await client.aclose()
        await hub.publish("room:c", '"hi"')
        for s in sinks:
            assert await s.wait_for(1) == [message_frame("room:c", 1, '"hi"')]
    finally:
        await hub.stop()
