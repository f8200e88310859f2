"""Encode a WebSocket text frame once, and coalesce a burst's writes to one socket.

Server-to-client frames are unmasked, and we run without extensions (per-message deflate off), so the
bytes of a message's frame are the same for every subscriber: encode once, then one
``transport.write`` per delivery (through ``runtime.uvicornseam.DirectWriter``), the approach of
``websockets.broadcast()``.
"""

from __future__ import annotations

import asyncio
import struct
from typing import Any


def text_frame(payload: str) -> bytes:
    """An unfragmented, unmasked text frame (RFC 6455 section 5.2)."""
    data = payload.encode()
    n = len(data)
    if n < 126:
        return bytes((0x81, n)) + data
    if n < 65536:
        return struct.pack("!BBH", 0x81, 126, n) + data
    return struct.pack("!BBQ", 0x81, 127, n) + data


class Coalescer:
    """Collects the sockets written to during one event-loop iteration and flushes each once at its end.

    When several messages reach a subscriber in the same iteration (a burst read from Redis), they
    leave in one ``write`` (one system call) instead of one each; otherwise the cost is one callback
    per iteration. Order is kept: a socket's frames are flushed before anything its writer task sends.
    """

    __slots__ = ("_dirty", "_scheduled")

    def __init__(self) -> None:
        self._dirty: list[Any] = []
        self._scheduled = False

    def add(self, conn: Any) -> None:
        self._dirty.append(conn)
        if not self._scheduled:
            self._scheduled = True
            asyncio.get_running_loop().call_soon(self.flush)

    def flush(self) -> None:
        self._scheduled = False
        dirty, self._dirty = self._dirty, []
        for conn in dirty:
            conn.flush()
