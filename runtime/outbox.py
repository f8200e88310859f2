"""One socket's outgoing path: frames written straight to it while it keeps up, a bounded queue when not.

While the socket keeps up, a delivery is one synchronous ``transport.write`` of the frame the hub
encoded once (``runtime.wire``, through ``runtime.uvicornseam.DirectWriter``); only when the socket
pushes back are frames queued, and only then does a writer task exist. If the client does not keep up
and the queue passes its message or byte bound, the socket is closed with 4008 (the client resumes
with ``since``), so memory stays bounded. The hub's ``Sink``; ``runtime.connection.Connection`` is one.
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import TYPE_CHECKING, Any, Protocol

from runtime import metrics, protocol
from runtime.protocol import ErrorCode
from runtime.uvicornseam import DirectWriter
from runtime.wire import text_frame

if TYPE_CHECKING:
    from runtime.config import Settings
    from runtime.deflate import Deflater
    from runtime.hub import Hub
    from runtime.wire import Coalescer


class OutboxHost(Protocol):
    """What the outgoing path needs of its worker's runtime (``runtime.service.Runtime``)."""

    settings: Settings
    hub: Hub
    coalescer: Coalescer
    deflater: Deflater


class Outbox:
    """Outgoing path: while the socket keeps up, a delivery is one synchronous ``transport.write`` of
    the frame the hub encoded once; only when the socket pushes back are frames queued (bounded),
    and only then does a writer task exist."""

    __slots__ = (
        "close_code",
        "close_reason",
        "closing",
        "direct",
        "pending",
        "queue",
        "queued_bytes",
        "rt",
        "send",
        "wake",
        "writer",
    )

    def __init__(self, rt: OutboxHost, send: Any, direct: DirectWriter | None) -> None:
        self.rt = rt
        self.send = send
        self.direct = direct
        self.queue: deque[Any] | None = None
        self.pending: list[bytes] | None = None
        self.queued_bytes = 0
        self.wake: asyncio.Event | None = None
        self.closing = False
        self.close_code = 1000
        self.close_reason = ""
        self.writer: asyncio.Task[None] | None = None

    def send_frame(self, frame: str, wire: bytes | None = None) -> None:
        if self.closing:
            return
        direct = self.direct
        if direct is not None:
            data = wire if wire is not None else text_frame(frame)
            if direct.deflate:  # the same compressed frame for every such subscriber of a broadcast
                data = self.rt.deflater.frame(data)
            if self.queue is None and direct.ready():
                pending = self.pending
                if pending is None:
                    if not self.rt.hub.bursting:
                        direct.write(data)  # the common case: one write, no bookkeeping
                        return
                    # A burst: this socket's frames of this loop iteration leave in one write.
                    self.pending = [data]
                    self.rt.coalescer.add(self)
                else:
                    pending.append(data)
                self.queued_bytes += len(data)
                if self.queued_bytes > self.rt.settings.queue_bytes:
                    self.overflow()
                return
            item: Any = data
        else:
            item = frame
        self._enqueue(item)

    def _enqueue(self, item: str | bytes) -> None:
        queue = self.queue
        if queue is None:
            queue = self.queue = deque()
        queue.append(item)
        self.queued_bytes += len(item)
        settings = self.rt.settings
        if len(queue) > settings.queue_messages or self.queued_bytes > settings.queue_bytes:
            self.overflow()
            return
        self._start_writer()

    def flush(self) -> None:
        """Write the frames coalesced in this loop iteration (called by the Coalescer)."""
        pending, self.pending = self.pending, None
        if not pending:
            return
        size = sum(map(len, pending)) if len(pending) > 1 else len(pending[0])
        self.queued_bytes -= size
        direct = self.direct
        if direct is not None and direct.open():
            direct.write(pending[0] if len(pending) == 1 else b"".join(pending))

    def _start_writer(self) -> None:
        if self.writer is None:
            self.writer = asyncio.get_running_loop().create_task(self._write())
        elif self.wake is not None:
            self.wake.set()

    @property
    def backlog(self) -> int:
        return len(self.queue) if self.queue else 0

    def overflow(self) -> None:
        """Slow consumer: drop what is queued and close with 4008; the client resumes with since."""
        if self.closing:
            return
        metrics.SLOW_DISCONNECTS.inc()
        if self.queue is not None:
            self.queue.clear()
        self.pending = None
        self.queued_bytes = 0
        self.close(protocol.SLOW_CONSUMER.code, "slow consumer")
        if self.direct is not None:  # a client that never reads again must not keep its socket
            asyncio.get_running_loop().call_later(self.rt.settings.slow_abort, self.direct.abort)

    def close(self, code: int, reason: str) -> None:
        """Flush what is queued, then close with ``code``."""
        if self.closing:
            return
        self.closing = True
        self.close_code = code
        self.close_reason = reason
        self._start_writer()

    def error(self, code: ErrorCode, message: str, ref: Any = None) -> None:
        metrics.REJECTED.labels(code.code).inc()
        self.send_frame(protocol.error(code, message, ref))

    async def _write(self) -> None:
        """Drain the backlog as the socket allows, then exit (direct mode) or wait for more."""
        send = self.send
        direct = self.direct
        try:
            while True:
                queue = self.queue
                while queue:
                    item = queue.popleft()
                    self.queued_bytes -= len(item)
                    if direct is not None:
                        await direct.writable.wait()
                        if not direct.open():
                            raise ConnectionError("closed")
                        direct.write(item)
                    else:
                        await send({"type": "websocket.send", "text": item})
                if self.closing:
                    close = {"type": "websocket.close", "code": self.close_code, "reason": self.close_reason}
                    await send(close)
                    return
                if direct is not None:
                    self.queue = None  # caught up: back to synchronous writes
                    self.writer = None
                    return
                if self.wake is None:
                    self.wake = asyncio.Event()
                await self.wake.wait()
                self.wake.clear()
        except Exception:  # the peer went away; the reader sees the disconnect
            self.closing = True
