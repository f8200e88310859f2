"""Encode a WebSocket text frame once and write it to many sockets directly.

Server-to-client frames are unmasked, and we run without extensions (per-message deflate off), so the
bytes of a message's frame are the same for every subscriber: encode once, then one
``transport.write`` per delivery, the approach of ``websockets.broadcast()``. This needs uvicorn's
``websockets-sansio`` protocol object, found as the owner of the ASGI ``send`` callable; under any
other server ``DirectWriter.attach`` returns None and the connection uses ASGI ``send`` instead.
Whole frames are written synchronously, so they never interleave with the protocol's own control
frames (pings, close), and writing stops as soon as the protocol has sent or received a close.
"""

from __future__ import annotations

import asyncio
import struct
from collections.abc import Callable
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


class DirectWriter:
    __slots__ = ("proto", "transport", "writable")

    def __init__(self, proto: Any) -> None:
        self.proto = proto
        self.transport: asyncio.Transport = proto.transport
        self.writable: asyncio.Event = proto.writable

    @classmethod
    def attach(cls, send: Any) -> DirectWriter | None:
        proto = getattr(send, "__self__", None)
        if proto is None or type(proto).__name__ != "WebSocketsSansIOProtocol":
            return None
        if not all(hasattr(proto, a) for a in ("transport", "writable", "close_sent", "conn")):
            return None
        if getattr(proto.config, "ws_per_message_deflate", True):
            return None  # frames would have to be compressed per connection
        return cls(proto)

    def trim(self, scope: dict[str, Any] | None = None) -> None:
        """Drop what the protocol keeps of the handshake once accepted: the request and response
        (~2 KB) and the ASGI scope's contents (headers, the query string with the token, a copy of
        the lifespan state). uvicorn reads them only before the handshake completes (the
        scope for its log lines), and the endpoint has taken what it needs from the scope."""
        proto = self.proto
        if proto.handshake_complete:
            proto.request = None
            proto.response = None
            if scope is not None and getattr(proto, "scope", None) is scope:
                scope.clear()

    def open(self) -> bool:
        proto = self.proto
        return not (proto.close_sent or proto.disconnected or self.transport.is_closing())

    def ready(self) -> bool:
        """Can take a frame now without growing past the transport's high-water mark."""
        return self.writable.is_set() and self.open()

    def abort(self) -> None:
        """Cut the TCP connection now, dropping what is buffered (a peer that stopped reading)."""
        if not self.proto.disconnected:
            self.transport.abort()

    def write(self, frame: bytes) -> None:
        self.transport.write(frame)

    def on_pong(self, callback: Callable[[], None]) -> bool:
        """Call ``callback`` for every pong the protocol receives, instead of uvicorn's own pong handler
        (which only serves its keepalive, turned off by ``runtime serve``). False if not possible."""
        proto = self.proto
        if not callable(getattr(proto, "handle_pong", None)) or not hasattr(proto, "__dict__"):
            return False
        proto.handle_pong = lambda _event: callback()
        return True

    def fail(self, code: int, reason: str) -> None:
        """Fail the connection now, as uvicorn does on a keepalive timeout: a close frame, then the TCP
        close, without waiting for the peer's close (it has stopped answering)."""
        proto = self.proto
        if proto.close_sent or self.transport.is_closing():
            return
        proto.conn.fail(code, reason)
        self.transport.write(b"".join(proto.conn.data_to_send()))
        proto.close_sent = True
        self.transport.close()


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
