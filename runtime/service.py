"""The per-process runtime: store, broker, hub, presence and cache wired together, plus drain."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Protocol

from runtime import metrics, protocol
from runtime.auth import Claims
from runtime.cache import PageCache
from runtime.config import Settings
from runtime.deflate import Deflater
from runtime.expiry import ExpiryIndex
from runtime.hub import Hub
from runtime.keepalive import Keepalive, Pingable
from runtime.limits import SubjectLimiter
from runtime.presence import Presence
from runtime.pubsub import MemoryBackend, RedisBackend
from runtime.store import Store, make_engine
from runtime.wire import Coalescer


class Client(Protocol):
    """A connection as the runtime sees it (``runtime.connection.Connection``): whose token expires when,
    how to close it, and what keepalive needs of it."""

    claims: Claims

    def close(self, code: int, reason: str) -> None: ...


class PingedClient(Client, Pingable, Protocol):
    """What ``register`` takes: a client that keepalive can ping."""


log = logging.getLogger("runtime")

# The process's runtime, so that the server's signal handling can drain it.
CURRENT: list[Runtime] = []


class Runtime:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.store = Store(
            make_engine(settings.database_url, settings.db_pool_size, settings.db_max_overflow),
            timeout=settings.db_timeout,
        )
        if settings.redis_url:
            self.backend: RedisBackend | MemoryBackend = RedisBackend(
                settings.redis_url, prefix=settings.redis_prefix, on_reconnect=metrics.REDIS_RECONNECTS.inc
            )
            redis = self.backend.client
        else:
            self.backend = MemoryBackend()
            redis = None
        self.hub = Hub(self.backend, self.store, replay_buffer=settings.queue_messages)
        self.presence = Presence(redis, prefix=settings.redis_prefix, ttl=settings.presence_ttl)
        self.cache = PageCache(redis, prefix=settings.redis_prefix)
        self.connections: set[PingedClient] = set()
        self.expiring: ExpiryIndex[PingedClient] = ExpiryIndex()
        self.keepalive = Keepalive(settings.ws_ping_interval, settings.ws_ping_timeout)
        self.closed_connections = 0
        self.coalescer = Coalescer()
        self.deflater = Deflater(settings.ws_deflate_min_bytes)
        self.limiter = SubjectLimiter(settings.publish_rate, settings.publish_burst)  # WebSocket and REST
        self.draining = False
        self._expiry: asyncio.Task[None] | None = None

    def register(self, conn: PingedClient) -> None:
        self.connections.add(conn)
        self.expiring.add(conn, conn.claims.exp)
        self.keepalive.add(conn)

    def unregister(self, conn: PingedClient) -> None:
        self.connections.discard(conn)
        self.expiring.discard(conn)
        self.keepalive.discard(conn)
        self.closed_connections += 1

    def connection_count(self) -> int:
        return len(self.connections)

    def closed_count(self) -> int:
        return self.closed_connections

    async def start(self) -> None:
        await self.hub.start()
        await self.presence.start()
        self._expiry = asyncio.create_task(self._expire_tokens())
        self.keepalive.start()
        CURRENT.append(self)

    async def _expire_tokens(self) -> None:
        """Close sockets whose token expired (4401): one sweep a second over those due, instead of a
        timer per socket or a walk over every socket."""
        while True:
            await asyncio.sleep(1.0)
            for conn in self.expiring.pop_due(time.time()):
                conn.close(protocol.UNAUTHORIZED.code, "token expired")

    async def stop(self) -> None:
        if self in CURRENT:
            CURRENT.remove(self)
        if self._expiry is not None:
            self._expiry.cancel()
        await self.keepalive.stop()
        await self.presence.stop()
        await self.hub.stop()
        await self.store.close()

    async def ready(self) -> dict[str, bool]:
        database, broker = await asyncio.gather(self.store.ping(), self.backend.ping())
        return {"database": database, "broker": broker}

    async def drain(self) -> None:
        """Report not ready, refuse new sockets, wait ``drain_grace`` for the load balancer to notice,
        close every socket with 1001 (clients reconnect elsewhere and resume with ``since``), and wait
        at most ``drain_timeout`` for them to go."""
        self.draining = True
        log.info("draining: %d connections", len(self.connections))
        await asyncio.sleep(self.settings.drain_grace)
        for conn in list(self.connections):
            conn.close(protocol.GOING_AWAY.code, "server draining")
        deadline = time.monotonic() + self.settings.drain_timeout
        while self.connections and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        log.info("drained; %d connections left", len(self.connections))
