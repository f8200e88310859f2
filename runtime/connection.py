"""One WebSocket client: its reader (the ASGI task) and its outgoing path.

A raw ASGI endpoint rather than Starlette's ``WebSocket`` wrapper, mounted ahead of Starlette so it
receives the server's own ``send``: a frame the hub encoded once is written straight to the socket
(``runtime.wire``), nothing else per delivery. Only when the socket pushes back are frames queued;
if the client does not keep up and the queue passes its message or byte bound, the connection is
closed with 4008 (the client resumes with ``since``), so memory stays bounded.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import uuid
from collections import deque
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import parse_qs

from runtime import metrics, protocol
from runtime.auth import AuthError, Claims, verify
from runtime.hub import PAGE, Subscription
from runtime.protocol import ErrorCode, ProtocolError, Request
from runtime.store import StoreUnavailable
from runtime.uvicornseam import DirectWriter
from runtime.wire import text_frame

if TYPE_CHECKING:
    from runtime.config import Settings
    from runtime.deflate import Deflater
    from runtime.hub import Hub
    from runtime.limits import SubjectLimiter
    from runtime.presence import Presence
    from runtime.store import Store
    from runtime.wire import Coalescer

log = logging.getLogger("runtime.connection")

# Connection ids: unique across workers and hosts (presence members), cheap within a process.
_PROCESS = uuid.uuid4().hex[:8]
_counter = itertools.count(1)


class PongListener(Protocol):
    def pong(self, conn: Any) -> None: ...


class Host(Protocol):
    """What a connection needs of its worker's runtime (``runtime.service.Runtime``)."""

    settings: Settings
    hub: Hub
    store: Store
    presence: Presence
    coalescer: Coalescer
    deflater: Deflater
    limiter: SubjectLimiter
    draining: bool

    @property
    def keepalive(self) -> PongListener: ...

    def register(self, conn: Any) -> None: ...

    def unregister(self, conn: Any) -> None: ...


class Connection:
    """Outgoing path: while the socket keeps up, a delivery is one synchronous ``transport.write`` of
    the frame the hub encoded once; only when the socket pushes back are frames queued (bounded),
    and only then does a writer task exist."""

    __slots__ = (
        "claims",
        "close_code",
        "close_reason",
        "closing",
        "direct",
        "id",
        "pending",
        "ping_sent",
        "queue",
        "queued_bytes",
        "rt",
        "send",
        "subs",
        "wake",
        "writer",
    )

    def __init__(self, rt: Host, send: Any, claims: Claims, direct: DirectWriter | None) -> None:
        self.rt = rt
        self.send = send
        self.claims = claims
        self.direct = direct
        self.id = f"{_PROCESS}-{next(_counter)}"
        self.queue: deque[Any] | None = None
        self.pending: list[bytes] | None = None
        self.queued_bytes = 0
        self.wake: asyncio.Event | None = None
        self.closing = False
        self.close_code = 1000
        self.close_reason = ""
        self.subs: dict[str, Subscription] = {}
        self.writer: asyncio.Task[None] | None = None
        self.ping_sent = 0.0  # monotonic time of the keepalive ping awaiting its pong; 0: none

    def pong(self) -> None:
        self.rt.keepalive.pong(self)

    # -- outgoing (called by the hub on the hot path) --------------------------------------------

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

    # -- incoming ------------------------------------------------------------------------------------

    async def handle(self, text: str) -> None:
        try:
            request = protocol.parse(text)
            if isinstance(request, protocol.Ping):
                self.send_frame(protocol.PONG)
            elif request.type == "publish":
                await self._publish(request)
            elif request.type == "subscribe":
                await self._subscribe(request)
            else:
                self._unsubscribe(request.channel, request.ref)
        except ProtocolError as exc:
            self.error(exc.error, exc.message, exc.ref)

    async def _publish(self, request: Request) -> None:
        channel, ref = request.channel, request.ref
        if not self.claims.may_publish(channel):
            self.error(protocol.FORBIDDEN, f"token may not publish on {channel}", ref)
            return
        protocol.require_data(request)
        if not self.rt.limiter.allow(self.claims.sub):  # shared with REST publishes of the same subject
            self.error(
                protocol.RATE_LIMITED, f"at most {self.rt.settings.publish_rate:g} publishes/s per token", ref
            )
            return
        data = protocol.data_of(request)
        try:
            offset = await self.rt.hub.publish(channel, data)
        except StoreUnavailable:
            self.error(protocol.UNAVAILABLE, "database unavailable; message not stored, retry later", ref)
            return
        metrics.MESSAGES_IN.labels("ws").inc()
        self.send_frame(protocol.ack(ref, channel, offset))

    async def _subscribe(self, request: Request) -> None:
        channel, ref = request.channel, request.ref
        if not self.claims.may_subscribe(channel):
            self.error(protocol.FORBIDDEN, f"token may not subscribe to {channel}", ref)
            return
        since = protocol.since_of(request)
        if channel in self.subs:
            self.error(protocol.ALREADY_SUBSCRIBED, f"already subscribed to {channel}", ref)
            return
        if len(self.subs) >= self.rt.settings.max_subscriptions:
            self.error(protocol.TOO_MANY_SUBSCRIPTIONS, f"at most {self.rt.settings.max_subscriptions}", ref)
            return
        sub = Subscription(self, channel)
        self.subs[channel] = sub
        try:
            latest = await self.rt.hub.join(sub, since)
        except StoreUnavailable:
            del self.subs[channel]
            self.error(protocol.UNAVAILABLE, "database unavailable; retry later", ref)
            return
        if self.closing:
            return
        self.rt.presence.join(channel, self.id, self.claims.sub)
        self.send_frame(protocol.subscribed(channel, latest))
        if since is not None:
            await self._replay(sub)

    async def _replay(self, sub: Subscription) -> None:
        """Database replay from ``sub.last``, paced by the writer, then the live frames buffered meanwhile."""
        store = self.rt.store
        settings = self.rt.settings
        try:
            while not self.closing:
                rows = await store.fetch(sub.channel, sub.last, PAGE)
                for row in rows:
                    while (
                        self.backlog > settings.queue_messages // 2
                        or self.queued_bytes > settings.queue_bytes // 2
                    ) and not self.closing:  # pace the replay by the writer, within the queue bound
                        await asyncio.sleep(0.002)
                    if row.offset > sub.last:
                        sub.last = row.offset
                        self.send_frame(protocol.message(sub.channel, row.offset, row.data))
                if len(rows) < PAGE:
                    break
        except StoreUnavailable:
            self._unsubscribe(sub.channel, None, reply=False)
            self.error(protocol.UNAVAILABLE, f"database unavailable; replay of {sub.channel} stopped")
            return
        self.rt.hub.end_replay(sub)

    def _unsubscribe(self, channel: str, ref: Any, reply: bool = True) -> None:
        sub = self.subs.pop(channel, None)
        if sub is None:
            if reply:
                self.error(protocol.NOT_SUBSCRIBED, f"not subscribed to {channel}", ref)
            return
        self.rt.hub.leave(sub)
        self.rt.presence.leave(channel, self.id)
        if reply:
            self.send_frame(protocol.unsubscribed(channel))

    def teardown(self) -> None:
        for channel in list(self.subs):
            self._unsubscribe(channel, None, reply=False)


BEARER = "bearer"  # offered subprotocols ``bearer, <JWT>``: the token; the server answers ``bearer``


def token_of(scope: Any) -> tuple[str | None, str | None]:
    """The token and the subprotocol to answer with: from ``Sec-WebSocket-Protocol: bearer, <JWT>``
    (kept out of URLs and so out of access logs), else from the URL's ``?token=`` (compatibility)."""
    offered = scope.get("subprotocols") or []
    if len(offered) >= 2 and offered[0] == BEARER:
        return offered[1], BEARER
    return parse_qs(scope.get("query_string", b"").decode("latin-1")).get("token", [None])[0], None


class WebSocketEndpoint:
    """ASGI app for ``/ws``: authenticate at the handshake (token in ``Sec-WebSocket-Protocol`` or the
    URL), then read frames until disconnect."""

    def __init__(self, rt: Host) -> None:
        self.rt = rt

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        rt = self.rt
        message = await receive()
        if message["type"] != "websocket.connect":
            return
        token, subprotocol = token_of(scope)
        settings = rt.settings
        try:
            claims = verify(settings.jwt_secret, token, settings.jwt_issuer, settings.token_max_ttl)
            del token  # not kept for the connection's lifetime (nor is the scope: see trim)
        except AuthError:
            await send(
                {"type": "websocket.close", "code": protocol.UNAUTHORIZED.code}
            )  # HTTP 403 at the handshake
            return
        if rt.draining:  # HTTP 503 at the handshake: the client retries, the load balancer elsewhere
            headers = [(b"content-type", b"text/plain"), (b"retry-after", b"1")]
            await send({"type": "websocket.http.response.start", "status": 503, "headers": headers})
            await send({"type": "websocket.http.response.body", "body": b"draining"})
            return
        await send({"type": "websocket.accept", "subprotocol": subprotocol})
        direct = DirectWriter.attach(send)
        if direct is not None:
            direct.trim(scope)
        message = None
        conn = Connection(rt, send, claims, direct)
        rt.register(conn)
        metrics.CONNECTIONS.inc()
        try:
            while True:
                message = await receive()
                kind = message["type"]
                if kind == "websocket.receive":
                    if conn.closing:
                        continue
                    text = message.get("text")
                    if text is None:
                        conn.error(protocol.BAD_FRAME, "binary frames are not supported; send JSON text")
                        continue
                    message = None  # an idle connection keeps neither its last frame nor its dict
                    try:
                        await conn.handle(text)
                    except Exception:
                        log.exception("error handling a frame")
                        conn.error(protocol.INTERNAL, "internal error")
                    text = None
                elif kind == "websocket.disconnect":
                    break
        finally:
            conn.closing = True
            conn.teardown()
            rt.unregister(conn)
            metrics.CONNECTIONS.dec()
            if conn.writer is not None and not conn.writer.done():
                conn.writer.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await conn.writer
