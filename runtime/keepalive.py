"""Keepalive pings for every socket of a worker, from one task.

uvicorn's own keepalive costs two event-loop timers, a ping frame built by websockets and a random
payload per socket and interval; at 25,000 sockets that was ~0.1 cores of two workers doing nothing
else (bench/README.md). Here one task wakes every ``resolution`` seconds, takes the sockets that are
due from an ``ExpiryIndex`` and writes them the same two-byte ping frame. A pong reschedules the
socket; a socket that has not answered within ``timeout`` is failed with 1011, as uvicorn does.

It needs the direct writer (uvicorn's websockets-sansio protocol, which ``runtime serve`` runs, with
its own keepalive off); a connection without one is not pinged.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from typing import Any, Protocol

from runtime import metrics, protocol
from runtime.expiry import ExpiryIndex

log = logging.getLogger("runtime.keepalive")

PING_FRAME = b"\x89\x00"  # FIN + ping, unmasked, empty payload (RFC 6455 5.5.2)


class PingSocket(Protocol):
    """The socket side keepalive needs (``runtime.uvicornseam.DirectWriter``)."""

    def on_pong(self, callback: Callable[[Any], None]) -> bool: ...

    def open(self) -> bool: ...

    def write(self, frame: bytes) -> None: ...

    def fail(self, code: int, reason: str) -> None: ...


class Pingable(Protocol):
    """A connection as keepalive sees it (``runtime.connection.Connection``): its socket, whether it is
    closing, when its unanswered ping was sent (0: none), and its pong callback."""

    closing: bool
    ping_sent: float

    @property
    def direct(self) -> PingSocket | None: ...  # read only: a connection's own writer type fits

    def pong(self, frame: object = None) -> None: ...

    def __hash__(self) -> int: ...


class Keepalive:
    def __init__(self, interval: float, timeout: float) -> None:
        self.interval = interval
        self.timeout = timeout
        self.enabled = interval > 0
        steps = [1.0, interval / 4] + ([timeout / 4] if timeout > 0 else [])
        self.due: ExpiryIndex[Pingable] = ExpiryIndex(time.monotonic(), resolution=max(0.01, min(steps)))
        self._task: asyncio.Task[None] | None = None
        self._warned = False

    def start(self) -> None:
        if self.enabled:
            self._task = asyncio.create_task(self._run(), name="keepalive")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def add(self, conn: Pingable) -> None:
        if not self.enabled:
            return
        if conn.direct is not None and conn.direct.on_pong(conn.pong):
            self.due.add(conn, time.monotonic() + self.interval)
        elif not self._warned:  # e.g. another server or protocol: say so once, do not fail the socket
            self._warned = True
            log.warning("keepalive pings unavailable with this server's WebSocket protocol: none are sent")

    def discard(self, conn: Pingable) -> None:
        self.due.discard(conn)

    def pong(self, conn: Pingable) -> None:
        """The peer answered: next ping one interval from now (an unsolicited pong changes nothing)."""
        if conn.ping_sent:
            conn.ping_sent = 0.0
            self.due.add(conn, time.monotonic() + self.interval)

    def sweep(self, now: float) -> None:
        for conn in self.due.pop_due(now):
            try:
                self._visit(conn, now)
            except Exception:  # one socket's failure must not cost the others their pings
                log.exception("keepalive failed for one connection")

    def _visit(self, conn: Pingable, now: float) -> None:
        direct = conn.direct
        if conn.closing or direct is None or not direct.open():
            return
        if conn.ping_sent:  # the last ping went unanswered for `timeout` seconds
            metrics.KEEPALIVE_TIMEOUTS.inc()
            direct.fail(protocol.KEEPALIVE_TIMEOUT.code, "keepalive ping timeout")
            return
        direct.write(PING_FRAME)
        if self.timeout > 0:
            conn.ping_sent = now
            self.due.add(conn, now + self.timeout)
        else:
            self.due.add(conn, now + self.interval)

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.due.resolution)
            self.sweep(time.monotonic())
