"""broadcaster backends that survive Redis restarts and never buffer without bound.

We implement ``broadcaster``'s backend interface (connect, disconnect, subscribe, unsubscribe,
publish, next_published) but not its ``Broadcast`` class, whose fan-out we replace in
``runtime.hub``: ``Broadcast`` keeps one unbounded ``asyncio.Queue`` per subscriber (a slow consumer
grows memory without limit), awaits a put per subscriber per message, loses a concurrent first
subscriber (two coroutines both see "no subscribers yet"), and its Redis backend never reconnects
(subscribers go deaf after a Redis restart) and starts listening before redis-py 8.x records the
channel (nothing is delivered; we pin redis 7.x and do not use redis-py's PubSub helper at all).

``RedisBackend`` owns one raw Redis connection in subscribe mode. A listener task reads it; when the
connection breaks it reconnects with capped, jittered backoff, re-SUBSCRIBEs every channel, and then
emits a *resync marker* (an ``Event`` with an empty message) for each channel, so the hub catches up
from the database on what was published while Redis was away. The hand-off queue to the hub is
bounded: when it is full a message is dropped and its channel gets a resync marker instead, which
costs one database read rather than unbounded memory.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, cast

from broadcaster import BroadcastBackend, Event
from redis import asyncio as aioredis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError

from runtime.groupcommit import GroupCommit

log = logging.getLogger("runtime.pubsub")

RESYNC = ""  # message body of a resync marker: "fetch this channel's recent messages from the database"


class BoundedEvents:
    """A bounded hand-off queue of Events that degrades to resync markers instead of growing."""

    def __init__(self, maxlen: int = 10_000) -> None:
        self._items: deque[Event] = deque()
        self._maxlen = maxlen
        self._lost: dict[str, None] = {}
        self._ready = asyncio.Event()
        self.dropped = 0

    def __len__(self) -> int:
        return len(self._items)

    def put(self, event: Event) -> None:
        if len(self._items) >= self._maxlen:
            self._lost[event.channel] = None
            self.dropped += 1
        else:
            self._items.append(event)
        self._ready.set()

    def resync(self, channel: str) -> None:
        self._lost[channel] = None
        self._ready.set()

    async def get(self) -> Event:
        while True:
            if self._items:
                return self._items.popleft()
            if self._lost:
                channel = next(iter(self._lost))
                del self._lost[channel]
                return Event(channel, RESYNC)
            self._ready.clear()
            await self._ready.wait()


class MemoryBackend(BroadcastBackend):
    """In-process broker for the embedded single-process default (no Redis configured)."""

    def __init__(self, url: str = "memory://", queue_size: int = 10_000) -> None:
        self._channels: set[str] = set()
        self._events = BoundedEvents(queue_size)
        self.on_reconnect: Callable[[], None] | None = None

    async def connect(self) -> None:
        return None

    async def disconnect(self) -> None:
        return None

    async def subscribe(self, channel: str) -> None:
        self._channels.add(channel)

    async def unsubscribe(self, channel: str) -> None:
        self._channels.discard(channel)

    async def publish(self, channel: str, message: Any) -> None:
        if channel in self._channels:
            self._events.put(Event(channel, message))

    async def next_published(self) -> Event:
        return await self._events.get()

    def backlog(self) -> int:
        """Events waiting for the hub: more than zero means a burst is being processed."""
        return len(self._events)

    @property
    def listening(self) -> bool:
        return True

    async def ping(self) -> bool:
        return True


async def _publish_batch(conn: Any, items: list[tuple[str, Any]]) -> list[Any]:
    """A batch of PUBLISHes in one write on the publisher's own connection, then their replies."""
    await conn.send_packed_command(conn.pack_commands([("PUBLISH", c, m) for c, m in items]), False)
    return [await conn.read_response() for _ in items]


class Publisher:
    """The connection PUBLISHes take, one batch at a time (``GroupCommit(max_writers=1)``).

    Not redis-py's pooled pipeline: its pool checkout, retry wrapper and pipeline object cost 88 us of
    CPU per lone PUBLISH, a connection of our own 24 us (2026-12-06, one process, a PUBLISH every
    2 ms). The connection comes from the same pool's settings (URL, TLS, password, database). A batch
    that fails on a broken connection is sent once more on a new one: a PUBLISH given twice is
    harmless (the hub drops an offset it has delivered), one never given leaves other workers behind
    until the channel's next message. Any failure, a cancelled batch too, drops the connection, since
    replies may still be on their way on it.
    """

    def __init__(self, pool: aioredis.ConnectionPool) -> None:
        self._pool = pool
        self._conn: Any = None

    @contextlib.asynccontextmanager
    async def batch(self) -> AsyncIterator[Publisher]:
        try:
            yield self
        except BaseException:
            await self.close()
            raise

    async def _connection(self) -> Any:
        if self._conn is None:
            conn = self._pool.make_connection()
            await conn.connect()
            self._conn = conn
        return self._conn

    async def write(self, items: list[tuple[str, Any]]) -> list[Any]:
        try:
            return await _publish_batch(await self._connection(), items)
        except (RedisConnectionError, OSError):
            await self.close()  # a connection Redis closed while it sat idle: once more on a new one
            return await _publish_batch(await self._connection(), items)

    async def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(Exception):
                await conn.disconnect(nowait=True)


class RedisBackend(BroadcastBackend):
    """Redis pub/sub with reconnect, resubscribe, resync markers and a bounded hand-off queue."""

    def __init__(
        self,
        url: str,
        prefix: str = "stars:",
        queue_size: int = 10_000,
        on_reconnect: Callable[[], None] | None = None,
        subscribe_timeout: float = 3.0,
        idle_ping: float = 10.0,
    ) -> None:
        self._url = url
        self._prefix = prefix
        self._pool = aioredis.ConnectionPool.from_url(url, socket_connect_timeout=2.0)
        self._client = aioredis.Redis(connection_pool=self._pool)
        self._events = BoundedEvents(queue_size)
        self._channels: set[str] = set()
        self._pending: dict[str, asyncio.Future[None]] = {}
        self._conn: Any = None
        self._connected = asyncio.Event()
        self._listener: asyncio.Task[None] | None = None
        self._subscribe_timeout = subscribe_timeout
        self._idle_ping = idle_ping
        self._last_rx = time.monotonic()
        self._retry_now = asyncio.Event()  # cuts the reconnect backoff short: Redis answers again
        self.on_reconnect = on_reconnect
        self.reconnects = 0
        # PUBLISHes issued while others are on their way leave together, as one pipeline; one at a
        # time, so messages of a channel reach Redis in the order they were committed.
        self._publisher = Publisher(self._pool)
        self.publishes: GroupCommit[tuple[str, Any], Any] = GroupCommit(
            self._publisher.batch, lambda publisher, items: publisher.write(items), max_writers=1, timeout=2.0
        )

    @property
    def client(self) -> aioredis.Redis:
        """A pooled client for ordinary commands (publish, presence, cache)."""
        return self._client

    async def connect(self) -> None:
        self._listener = asyncio.create_task(self._listen(), name="redis-pubsub-listener")
        try:  # wait briefly for the first connection, but start even if Redis is down: we retry forever
            await asyncio.wait_for(self._connected.wait(), timeout=self._subscribe_timeout)
        except TimeoutError:
            log.warning("redis not reachable yet at start-up; will keep retrying")

    async def disconnect(self) -> None:
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._listener
        if self._conn is not None:
            await self._conn.disconnect()
        await self._publisher.close()
        await self._client.aclose()
        await self._pool.disconnect()

    async def subscribe(self, channel: str) -> None:
        """Returns once Redis confirmed the subscription (or after a timeout while Redis is down)."""
        self._channels.add(channel)
        if not self._connected.is_set():
            return  # the listener subscribes every channel when it reconnects
        fut = self._pending.get(channel)
        if fut is None:
            fut = asyncio.get_running_loop().create_future()
            self._pending[channel] = fut
            try:
                await self._conn.send_command("SUBSCRIBE", self._prefix + channel)
            except (RedisError, OSError):
                self._pending.pop(channel, None)
                return  # the listener notices the broken connection and resubscribes
        try:
            await asyncio.wait_for(asyncio.shield(fut), timeout=self._subscribe_timeout)
        except TimeoutError:
            log.warning("SUBSCRIBE %s not confirmed in time", channel)

    async def unsubscribe(self, channel: str) -> None:
        self._channels.discard(channel)
        if self._connected.is_set():
            with contextlib.suppress(RedisError, OSError):
                await self._conn.send_command("UNSUBSCRIBE", self._prefix + channel)

    async def publish(self, channel: str, message: Any) -> None:
        await self.publishes.submit((self._prefix + channel, message))
        if not self._connected.is_set():  # Redis took a PUBLISH: no reason to wait out the backoff
            self._retry_now.set()

    @property
    def listening(self) -> bool:
        """Whether the pub/sub connection is up: this worker receives what is published."""
        return self._connected.is_set()

    async def next_published(self) -> Event:
        return await self._events.get()

    def backlog(self) -> int:
        """Events waiting for the hub: more than zero means a burst is being processed."""
        return len(self._events)

    async def ping(self) -> bool:
        try:
            # the asyncio client's ping is a coroutine (redis-py types it for the sync client too)
            pong = cast(Awaitable[bool], self._client.ping())
            return bool(await asyncio.wait_for(pong, timeout=2.0))
        except (RedisError, OSError, TimeoutError):
            return False

    async def _listen(self) -> None:
        delay = 0.05
        connected_before = False
        while True:
            conn = self._pool.make_connection()
            keepalive: asyncio.Task[None] | None = None
            try:
                await conn.connect()
                # No await between taking the list and marking the connection usable: a channel
                # subscribed concurrently is either in the list or SUBSCRIBEs by itself.
                self._conn = conn
                channels = list(self._channels)
                self._connected.set()
                if channels:
                    await conn.send_command("SUBSCRIBE", *[self._prefix + c for c in channels])
                self._last_rx = time.monotonic()
                keepalive = asyncio.create_task(self._keepalive(conn))
                if connected_before:
                    self.reconnects += 1
                    log.warning("reconnected to redis; resubscribed %d channels", len(channels))
                    if self.on_reconnect is not None:
                        self.on_reconnect()
                for channel in channels:  # catch up what was published while we were away
                    self._events.resync(channel)
                connected_before = True
                delay = 0.05
                await self._read(conn)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # any failure: drop the connection and start over
                if self._connected.is_set():
                    log.warning("redis pub/sub connection lost: %s", exc)
            finally:
                self._connected.clear()
                self._conn = None
                for fut in self._pending.values():
                    if not fut.done():
                        fut.set_result(None)
                self._pending.clear()
                if keepalive is not None:
                    keepalive.cancel()
                with contextlib.suppress(Exception):
                    await conn.disconnect()
            self._retry_now.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._retry_now.wait(), delay * (0.5 + random.random()))
            delay = min(delay * 2, 2.0)

    async def _read(self, conn: Any) -> None:
        prefix_len = len(self._prefix)
        put = self._events.put
        while True:
            response = await conn.read_response(timeout=None)
            self._last_rx = time.monotonic()
            if not isinstance(response, list) or not response:
                continue
            kind = response[0]
            if kind == b"message":
                put(Event(response[1][prefix_len:].decode(), response[2].decode()))
            elif kind == b"subscribe":
                fut = self._pending.pop(response[1][prefix_len:].decode(), None)
                if fut is not None and not fut.done():
                    fut.set_result(None)

    async def _keepalive(self, conn: Any) -> None:
        """Detect half-open connections: PING when idle; no reply at all means reconnect."""
        while True:
            await asyncio.sleep(self._idle_ping / 2)
            idle = time.monotonic() - self._last_rx
            if idle > 3 * self._idle_ping:
                log.warning("redis pub/sub connection silent for %.0fs; reconnecting", idle)
                await conn.disconnect(nowait=True)
                return
            if idle > self._idle_ping:
                try:
                    await conn.send_command("PING")
                except Exception:
                    return
