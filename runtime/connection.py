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
import json
import logging
import time
import uuid
from collections import deque
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

from runtime import metrics
from runtime.auth import AuthError, Claims, valid_channel, verify
from runtime.hub import PAGE, Subscription, encode_data, message_frame
from runtime.store import StoreUnavailable
from runtime.wire import DirectWriter, text_frame

if TYPE_CHECKING:
    from runtime.service import Runtime

log = logging.getLogger("runtime.connection")

# Close codes (documented in runtime/README.md).
CLOSE_GOING_AWAY = 1001  # server draining: reconnect elsewhere and resume with since
CLOSE_TOO_BIG = 1009  # frame larger than STARS_MAX_FRAME_BYTES (sent by the protocol layer)
CLOSE_SLOW = 4008  # outgoing queue bound exceeded: resume with since
CLOSE_UNAUTHORIZED = 4401  # token missing, invalid or expired

_dumps = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode
# Connection ids: unique across workers and hosts (presence members), cheap within a process.
_PROCESS = uuid.uuid4().hex[:8]
_counter = itertools.count(1)


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
        "stamp",
        "subs",
        "tokens",
        "wake",
        "writer",
    )

    def __init__(self, rt: Runtime, send: Any, claims: Claims, direct: DirectWriter | None) -> None:
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
        self.tokens = float(rt.settings.publish_burst)
        self.stamp = time.monotonic()
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
        self.close(CLOSE_SLOW, "slow consumer")
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

    def reply(self, obj: dict[str, Any]) -> None:
        self.send_frame(_dumps(obj))

    def error(self, code: str, message: str, ref: Any = None) -> None:
        metrics.REJECTED.labels(code).inc()
        frame: dict[str, Any] = {"type": "error", "code": code, "message": message}
        if ref is not None:
            frame["id"] = ref
        self.reply(frame)

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
            frame = json.loads(text)
        except ValueError:
            self.error("bad_json", "frame is not valid JSON")
            return
        if not isinstance(frame, dict):
            self.error("bad_frame", "frame must be a JSON object")
            return
        ref = frame.get("id")
        if ref is not None and not (isinstance(ref, str | int) and len(str(ref)) <= 64):
            self.error("bad_frame", "id must be a string or integer of at most 64 characters")
            return
        kind = frame.get("type")
        if kind == "ping":
            self.reply({"type": "pong"})
            return
        if kind not in ("publish", "subscribe", "unsubscribe"):
            self.error("unknown_type", f"unknown frame type {kind!r}", ref)
            return
        channel = frame.get("channel")
        if not valid_channel(channel):
            self.error("bad_channel", "channel must match [A-Za-z0-9_-:.@/]{1,128}", ref)
            return
        if kind == "publish":
            await self._publish(channel, frame, ref)
        elif kind == "subscribe":
            await self._subscribe(channel, frame.get("since"), ref)
        else:
            self._unsubscribe(channel, ref)

    def _rate_ok(self) -> bool:
        settings = self.rt.settings
        now = time.monotonic()
        self.tokens = min(
            float(settings.publish_burst), self.tokens + (now - self.stamp) * settings.publish_rate
        )
        self.stamp = now
        if self.tokens < 1.0:
            return False
        self.tokens -= 1.0
        return True

    async def _publish(self, channel: str, frame: dict[str, Any], ref: Any) -> None:
        if not self.claims.may_publish(channel):
            self.error("forbidden", f"token may not publish on {channel}", ref)
            return
        if "data" not in frame:
            self.error("bad_frame", "publish needs data", ref)
            return
        if not self._rate_ok():
            self.error("rate_limited", f"at most {self.rt.settings.publish_rate:g} publishes/s", ref)
            return
        try:
            data = encode_data(frame["data"])
        except ValueError as exc:
            self.error("bad_frame", str(exc), ref)
            return
        try:
            offset = await self.rt.hub.publish(channel, data)
        except StoreUnavailable:
            self.error("unavailable", "database unavailable; message not stored, retry later", ref)
            return
        metrics.MESSAGES_IN.labels("ws").inc()
        ack: dict[str, Any] = {"type": "ack", "id": ref, "channel": channel, "offset": offset}
        self.reply(ack)

    async def _subscribe(self, channel: str, since: Any, ref: Any) -> None:
        if not self.claims.may_subscribe(channel):
            self.error("forbidden", f"token may not subscribe to {channel}", ref)
            return
        if since is not None and (not isinstance(since, int) or isinstance(since, bool) or since < 0):
            self.error("bad_frame", "since must be a non-negative integer", ref)
            return
        if channel in self.subs:
            self.error("already_subscribed", f"already subscribed to {channel}", ref)
            return
        if len(self.subs) >= self.rt.settings.max_subscriptions:
            self.error("too_many_subscriptions", f"at most {self.rt.settings.max_subscriptions}", ref)
            return
        sub = Subscription(self, channel)
        self.subs[channel] = sub
        try:
            latest = await self.rt.hub.join(sub, since)
        except StoreUnavailable:
            del self.subs[channel]
            self.error("unavailable", "database unavailable; retry later", ref)
            return
        if self.closing:
            return
        self.rt.presence.join(channel, self.id, self.claims.sub)
        self.reply({"type": "subscribed", "channel": channel, "offset": latest})
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
                        self.send_frame(message_frame(sub.channel, row.offset, row.data))
                if len(rows) < PAGE:
                    break
        except StoreUnavailable:
            self._unsubscribe(sub.channel, None, reply=False)
            self.error("unavailable", f"database unavailable; replay of {sub.channel} stopped")
            return
        self.rt.hub.end_replay(sub)

    def _unsubscribe(self, channel: str, ref: Any, reply: bool = True) -> None:
        sub = self.subs.pop(channel, None)
        if sub is None:
            if reply:
                self.error("not_subscribed", f"not subscribed to {channel}", ref)
            return
        self.rt.hub.leave(sub)
        self.rt.presence.leave(channel, self.id)
        if reply:
            self.reply({"type": "unsubscribed", "channel": channel})

    def teardown(self) -> None:
        for channel in list(self.subs):
            self._unsubscribe(channel, None, reply=False)


class WebSocketEndpoint:
    """ASGI app for ``/ws?token=…``: authenticate at the handshake, then read frames until disconnect."""

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        rt = self.rt
        message = await receive()
        if message["type"] != "websocket.connect":
            return
        token = parse_qs(scope.get("query_string", b"").decode()).get("token", [None])[0]
        try:
            claims = verify(rt.settings.jwt_secret, token)
            del token  # not kept for the connection's lifetime (nor is the scope: see trim)
        except AuthError:
            await send({"type": "websocket.close", "code": CLOSE_UNAUTHORIZED})  # HTTP 403 at the handshake
            return
        if rt.draining:  # HTTP 503 at the handshake: the client retries, the load balancer elsewhere
            headers = [(b"content-type", b"text/plain"), (b"retry-after", b"1")]
            await send({"type": "websocket.http.response.start", "status": 503, "headers": headers})
            await send({"type": "websocket.http.response.body", "body": b"draining"})
            return
        await send({"type": "websocket.accept"})
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
                        conn.error("bad_frame", "binary frames are not supported; send JSON text")
                        continue
                    message = None  # an idle connection keeps neither its last frame nor its dict
                    try:
                        await conn.handle(text)
                    except Exception:
                        log.exception("error handling a frame")
                        conn.error("internal", "internal error")
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
