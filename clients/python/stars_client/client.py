"""The asyncio client: one connection at a time, reconnected with backoff, channels resumed by offset.

It follows the client spec in runtime/README.md ("Client behaviour"); the JavaScript client in
clients/js/ follows the same spec with the same option and event names (camelCase there).
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import itertools
import json
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from typing import Any
from urllib.parse import quote

import httpx
import websockets
from websockets.asyncio.client import ClientConnection
from websockets.typing import Subprotocol

from stars_client import errors, policy
from stars_client.errors import StarsError
from stars_client.frames import FrameError, parse_frame
from stars_client.offsets import DELIVER, DUPLICATE, GAP, Channel

log = logging.getLogger("stars_client")

TokenSource = Callable[[], Awaitable[str] | str]
Listener = Callable[[dict[str, Any]], Any]
EVENTS = (
    "state", "connecting", "connected", "disconnected", "resubscribed", "recovered", "message", "error",
)  # fmt: skip


class Client:
    """A STARS runtime client. ``url`` is one ``ws(s)://host/ws`` URL or several servers tried in
    turn; ``token`` returns a JWT (sync or async) and is called again before the token expires and
    whenever the server refuses it."""

    def __init__(
        self,
        url: str | Sequence[str],
        token: TokenSource,
        *,
        backoff_base: float = 0.5,
        backoff_max: float = 15.0,
        ping_interval: float = 10.0,
        pong_timeout: float = 10.0,
        publish_timeout: float = 15.0,
        max_buffer: int = 100,
        max_frame_bytes: int = 65536,
        refresh_margin: float = 30.0,
        open_timeout: float = 10.0,
    ) -> None:
        self.urls = [url] if isinstance(url, str) else list(url)
        if not self.urls:
            raise ValueError("at least one server URL is needed")
        self._token_source = token
        self.backoff_base, self.backoff_max = backoff_base, backoff_max
        self.ping_interval, self.pong_timeout = ping_interval, pong_timeout
        self.publish_timeout, self.max_buffer = publish_timeout, max_buffer
        self.max_frame_bytes, self.refresh_margin = max_frame_bytes, refresh_margin
        self.open_timeout = open_timeout
        self.state = "disconnected"
        self.url: str | None = None
        self.channels: dict[str, Channel] = {}
        self.duplicates_dropped = 0
        self._listeners: dict[str, list[Listener]] = {name: [] for name in EVENTS}
        self._token: str | None = None
        self._token_exp: float | None = None
        self._ws: ClientConnection | None = None
        self._ready = False  # connected, resubscribed and the buffer flushed: publishes go out at once
        self._buffer: deque[tuple[str, str, asyncio.Future[int]]] = deque()
        self._pending: dict[str, asyncio.Future[int]] = {}
        self._sub_refs: dict[str, str] = {}
        self._refs = itertools.count(1)
        self._drop_reason: str | None = None
        self._planned = False
        self._last_rx = 0.0
        self._closed = False
        self._task: asyncio.Task[None] | None = None
        self._up = asyncio.Event()
        self._wake = asyncio.Event()
        self._http: httpx.AsyncClient | None = None

    # -- events ----------------------------------------------------------------------------------

    def on(self, event: str, listener: Listener) -> Callable[[], None]:
        """Call ``listener(payload)`` on ``event``; returns a function that removes it."""
        if event not in self._listeners:
            raise ValueError(f"unknown event {event!r}; one of {', '.join(EVENTS)}")
        self._listeners[event].append(listener)
        return lambda: self._listeners[event].remove(listener)

    def _emit(self, event: str, payload: dict[str, Any]) -> None:
        for listener in list(self._listeners[event]):
            try:
                listener(payload)
            except Exception:  # an application bug must not break the connection's state
                log.exception("stars_client: %s listener failed", event)

    def _set_state(self, state: str, **detail: Any) -> None:
        self.state = state
        self._emit("state", {"state": state, **detail})
        if state in ("connecting", "connected"):
            self._emit(state, detail)

    # -- lifecycle -------------------------------------------------------------------------------

    async def connect(self, timeout: float | None = None) -> None:
        """Start connecting (and reconnecting) in the background; returns once connected."""
        if self._closed:
            raise StarsError(errors.CLOSED, "the client is closed")
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="stars-client")
        up = asyncio.ensure_future(self._up.wait())
        try:
            await asyncio.wait({up, self._task}, timeout=timeout, return_when="FIRST_COMPLETED")
        finally:
            up.cancel()
        if not self._up.is_set():
            raise StarsError(errors.CLOSED if self._closed else errors.TIMEOUT, "not connected")

    async def close(self) -> None:
        """Close for good: pending and buffered publishes fail with ``closed``."""
        self._closed = True
        self._wake.set()
        ws = self._ws
        if ws is not None:
            await ws.close(1000, "client closed")
        elif self._task is not None:
            self._task.cancel()  # between connections: stop the attempt under way
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        self._fail_all(errors.CLOSED, "the client was closed")
        if self.state != "closed":
            self._set_state("closed", reason="client closed")
        if self._http is not None:
            await self._http.aclose()

    async def _run(self) -> None:
        attempt, index, force_token = 0, 0, False
        while not self._closed:
            url = self.urls[index % len(self.urls)]
            self._set_state("connecting", url=url)
            try:
                code, reason, lasted = await self._attempt(url, force_token)
            except Exception as exc:  # a bug here must not end reconnecting
                log.exception("stars_client: connection attempt failed")
                self._emit("error", {"code": "internal", "message": f"client error: {exc!r}"})
                code, reason, lasted = None, "client error", 0.0
            if self._closed:
                break
            force_token = code in (policy.UNAUTHORIZED, 403)
            reconnect = code not in policy.NO_RECONNECT
            planned, self._planned = self._planned, False
            if planned:
                delay = 0.0
            else:
                attempt = 0 if lasted > self.backoff_max else attempt
                delay = policy.full_jitter(attempt, self.backoff_base, self.backoff_max)
                attempt += 1
                index += 1
            info = {"code": code, "reason": reason, "reconnect": reconnect, "delay": round(delay, 3)}
            self._set_state("disconnected", **info)
            self._emit("disconnected", info)
            if not reconnect:
                self._closed = True
                self._fail_all(errors.CLOSED, f"closed by the server ({code}: {reason})")
                self._set_state("closed", code=code, reason=reason)
                break
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), delay)

    async def _attempt(self, url: str, force_token: bool) -> tuple[int | None, str, float]:
        """One connection: (close code or HTTP status or None, reason, seconds it was open)."""
        try:
            token = await self._get_token(force_token)
        except Exception as exc:
            self._emit("error", {"code": "token_error", "message": f"token callback failed: {exc}"})
            return None, "token_error", 0.0
        try:
            ws = await websockets.connect(
                url, subprotocols=[Subprotocol(p) for p in policy.socket_protocols(token)],
                open_timeout=self.open_timeout, ping_interval=None,
                compression=None, proxy=None, max_size=None, close_timeout=2,
            )  # fmt: skip
        except websockets.InvalidStatus as exc:
            status = exc.response.status_code
            return status, f"handshake refused: HTTP {status}", 0.0
        except (OSError, TimeoutError, websockets.InvalidHandshake, websockets.InvalidURI) as exc:
            return None, f"cannot connect: {exc or type(exc).__name__}", 0.0
        self.url = url
        opened = time.monotonic()
        code, reason = await self._session(ws)
        return code, reason, time.monotonic() - opened

    async def _session(self, ws: ClientConnection) -> tuple[int, str]:
        self._ws, self._drop_reason, self._last_rx = ws, None, time.monotonic()
        self._up.set()
        self._set_state("connected", url=self.url)
        side_tasks = [asyncio.create_task(self._keepalive(ws)), asyncio.create_task(self._refresher(ws))]
        try:
            for channel in list(self.channels.values()):  # subscribe() may add one meanwhile
                await self._send_subscribe(ws, channel)
            await self._flush(ws)
            async for raw in ws:
                self._last_rx = time.monotonic()
                self._on_text(raw)
        except websockets.ConnectionClosed:
            pass
        finally:
            for task in side_tasks:
                task.cancel()
            self._ws, self._ready = None, False
            self._up.clear()
            self._sub_refs.clear()
            for channel in self.channels.values():
                channel.disconnected()
            self._fail_pending(errors.CONNECTION_LOST, "connection lost before the ack: stored or not")
        received = ws.protocol.close_rcvd
        code = received.code if received is not None else 1006
        reason = self._drop_reason or (received.reason if received is not None else "connection lost")
        return code, reason

    def _drop(self, reason: str) -> None:
        """End the current connection now (the reconnect loop resumes every channel)."""
        ws = self._ws
        if ws is not None and self._drop_reason is None:
            self._drop_reason = reason
            ws.transport.abort()

    async def _keepalive(self, ws: ClientConnection) -> None:
        """A ping after ``ping_interval`` of silence; nothing received within ``pong_timeout`` of that
        ping means the connection is dead (noticed within ping_interval + pong_timeout + a tick)."""
        tick = max(0.05, min(self.ping_interval, self.pong_timeout) / 4)
        pinged_at = 0.0
        while True:
            await asyncio.sleep(tick)
            now = time.monotonic()
            if pinged_at > self._last_rx:  # a ping is out and nothing came back since
                if now - pinged_at >= self.pong_timeout:
                    self._drop("keepalive timeout")
                    return
            elif now - self._last_rx >= self.ping_interval:
                pinged_at = now
                with contextlib.suppress(websockets.ConnectionClosed):
                    await ws.send('{"type":"ping"}')

    # -- token -----------------------------------------------------------------------------------

    async def _get_token(self, force: bool = False) -> str:
        now = time.time()
        fresh = self._token_exp is None or self._token_exp - now > min(self.refresh_margin, 5.0)
        if self._token is not None and fresh and not force:
            return self._token
        value = self._token_source()
        token = await value if inspect.isawaitable(value) else value
        if not isinstance(token, str) or not token:
            raise StarsError("token_error", "the token callback must return a non-empty string")
        self._token, self._token_exp = token, policy.token_expiry(token)
        return token

    async def _refresher(self, ws: ClientConnection) -> None:
        """Before the token expires: a new token, then a planned reconnect once no publish is in flight."""
        if self._token_exp is None:
            return
        now = time.time()
        await asyncio.sleep(policy.refresh_at(self._token_exp, now, self.refresh_margin) - now)
        try:
            await self._get_token(force=True)
        except Exception as exc:
            self._emit("error", {"code": "token_error", "message": f"token refresh failed: {exc}"})
            return  # the server closes with 4401 at expiry; the reconnect asks again
        self._ready = False  # new publishes wait in the buffer for the next connection
        deadline = time.monotonic() + self.publish_timeout
        while self._pending and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        self._planned, self._drop_reason = True, "token refresh"
        await ws.close(1000, "token refresh")

    # -- frames from the server ------------------------------------------------------------------

    def _on_text(self, raw: str | bytes) -> None:
        try:
            frame = parse_frame(raw)
        except FrameError as exc:
            self._emit("error", {"code": exc.code, "message": str(exc)})
            return
        kind = frame["type"]
        if kind == "message":
            self._on_message(frame)
        elif kind == "subscribed":
            self._on_subscribed(frame)
        elif kind == "ack":
            future = self._pending.pop(str(frame["id"]), None)
            if future is not None and not future.done():
                future.set_result(frame["offset"])
        elif kind == "error":
            self._on_error(frame)

    def _on_message(self, frame: dict[str, Any]) -> None:
        channel = self.channels.get(frame["channel"])
        if channel is None:
            return
        verdict = channel.classify(frame["offset"])
        if verdict == DUPLICATE:
            self.duplicates_dropped += 1
        elif verdict == GAP:
            self._emit("error", {"code": "gap", "message": f"{channel.name}: offset {frame['offset']} "
                                 f"after {channel.last}; resuming from {channel.last}"})  # fmt: skip
            self._drop("gap")
        elif verdict == DELIVER:
            recovered = channel.delivered(frame["offset"])
            message = {"channel": channel.name, "offset": frame["offset"], "data": frame["data"]}
            if channel.on_message is not None:
                try:
                    channel.on_message(message)
                except Exception:
                    log.exception("stars_client: on_message for %s failed", channel.name)
            self._emit("message", message)
            if recovered is not None:
                self._emit("recovered", recovered)

    def _on_subscribed(self, frame: dict[str, Any]) -> None:
        channel = self.channels.get(frame["channel"])
        if channel is None:
            return
        resumed = channel.on_subscribed(frame["offset"])
        for waiter in channel.waiters:
            if not waiter.done():
                waiter.set_result(frame["offset"])
        channel.waiters.clear()
        if resumed is not None:
            self._emit("resubscribed", resumed)

    def _on_error(self, frame: dict[str, Any]) -> None:
        ref = None if frame.get("id") is None else str(frame["id"])
        code, text = frame["code"], frame["message"]
        future = self._pending.pop(ref, None) if ref is not None else None
        if future is not None:
            if not future.done():
                future.set_exception(StarsError(code, text))
            return
        name = self._sub_refs.pop(ref, None) if ref is not None else None
        if name is not None and name in self.channels:
            self._subscribe_failed(self.channels[name], code, text)
            return
        self._emit("error", {"code": code, "message": text})
        if code == "unavailable" and ref is None:  # a replay the server stopped: resume it
            self._drop("replay stopped: database unavailable")

    def _subscribe_failed(self, channel: Channel, code: str, text: str) -> None:
        if code == "unavailable":  # the database is back soon: resume the channel then
            self._emit("error", {"code": code, "message": f"{channel.name}: {text}; retrying"})
            self._drop(f"resubscribe of {channel.name} failed: {code}")
            return
        del self.channels[channel.name]
        error = StarsError(code, text)
        for waiter in channel.waiters:
            if not waiter.done():
                waiter.set_exception(error)
        if not channel.waiters:
            self._emit("error", {"code": code, "message": f"{channel.name}: {text}", "channel": channel.name})
        channel.waiters.clear()

    # -- requests --------------------------------------------------------------------------------

    async def _send_subscribe(self, ws: ClientConnection, channel: Channel) -> None:
        ref = f"s{next(self._refs)}"
        self._sub_refs[ref] = channel.name
        await ws.send(json.dumps(channel.subscribe_frame(ref)))

    async def subscribe(
        self, channel: str, since: int | None = None, on_message: Listener | None = None
    ) -> int:
        """Subscribe (live after the current offset, or replay after ``since`` first); returns the
        server's latest offset once subscribed. The channel is resumed after every reconnect."""
        if channel in self.channels:
            raise StarsError("already_subscribed", f"already subscribed to {channel}")
        if self._closed:
            raise StarsError(errors.CLOSED, "the client is closed")
        entry = Channel(channel, since, on_message)
        waiter: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        entry.waiters.append(waiter)
        self.channels[channel] = entry
        if self._ws is not None:
            with contextlib.suppress(websockets.ConnectionClosed):  # then sent on the next connection
                await self._send_subscribe(self._ws, entry)
        return await waiter

    async def unsubscribe(self, channel: str) -> None:
        """Stop receiving ``channel`` (and stop resuming it)."""
        entry = self.channels.pop(channel, None)
        if entry is None:
            raise StarsError("not_subscribed", f"not subscribed to {channel}")
        for waiter in entry.waiters:
            if not waiter.done():
                waiter.set_exception(StarsError("not_subscribed", f"unsubscribed from {channel}"))
        if self._ws is not None:
            with contextlib.suppress(websockets.ConnectionClosed):
                await self._ws.send(json.dumps({"type": "unsubscribe", "channel": channel}))

    async def publish(self, channel: str, data: Any) -> int:
        """Store and broadcast ``data``; returns its offset once acknowledged. Raises StarsError with
        the server's code (``forbidden``, ``rate_limited``, ``unavailable``, …) or a client-side one."""
        if self._closed:
            raise StarsError(errors.CLOSED, "the client is closed")
        ref = f"p{next(self._refs)}"
        try:
            text = json.dumps(
                {"type": "publish", "channel": channel, "data": data, "id": ref},
                allow_nan=False, ensure_ascii=False, separators=(",", ":"),
            )  # fmt: skip
        except (TypeError, ValueError) as exc:
            raise StarsError(errors.BAD_DATA, f"data is not strict JSON: {exc}") from None
        if len(text.encode()) > self.max_frame_bytes:
            raise StarsError(errors.TOO_LARGE, f"publish frame larger than {self.max_frame_bytes} bytes")
        future: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        if self._ready and self._ws is not None:
            await self._send_publish(self._ws, ref, text, future)
        elif len(self._buffer) >= self.max_buffer:
            raise StarsError(errors.BUFFER_FULL, f"offline and {self.max_buffer} publishes already buffered")
        else:
            self._buffer.append((ref, text, future))
        try:
            return await asyncio.wait_for(future, self.publish_timeout)
        except TimeoutError:
            self._pending.pop(ref, None)
            self._buffer = deque(item for item in self._buffer if item[0] != ref)
            raise StarsError(errors.TIMEOUT, f"no ack within {self.publish_timeout:g} s") from None

    async def _send_publish(self, ws: ClientConnection, ref: str, text: str, future: Any) -> None:
        self._pending[ref] = future
        with contextlib.suppress(websockets.ConnectionClosed):  # failed with connection_lost
            await ws.send(text)

    async def _flush(self, ws: ClientConnection) -> None:
        """Send what was buffered offline, in order, before new publishes go out directly."""
        while self._buffer:
            ref, text, future = self._buffer.popleft()
            if not future.done():
                await self._send_publish(ws, ref, text, future)
        self._ready = True

    def _fail_pending(self, code: str, message: str) -> None:
        pending, self._pending = self._pending, {}
        for future in pending.values():
            if not future.done():
                future.set_exception(StarsError(code, message))

    def _fail_all(self, code: str, message: str) -> None:
        self._fail_pending(code, message)
        buffered, self._buffer = self._buffer, deque()
        for _, _, future in buffered:
            if not future.done():
                future.set_exception(StarsError(code, message))
        for channel in self.channels.values():
            for waiter in channel.waiters:
                if not waiter.done():
                    waiter.set_exception(StarsError(code, message))
            channel.waiters.clear()

    # -- REST ------------------------------------------------------------------------------------

    async def history(self, channel: str, since: int = 0, limit: int = 100) -> list[dict[str, Any]]:
        """Stored messages after ``since`` (``offset``, ``data``, ``published_at``), oldest first."""
        body = await self._rest(f"/api/channels/{quote(channel, safe=':@')}/messages",
                                {"since": since, "limit": limit})  # fmt: skip
        return list(body["messages"])

    async def presence(self, channel: str) -> list[dict[str, Any]]:
        """Who is subscribed to ``channel``: ``[{"sub", "connections"}]``."""
        body = await self._rest(f"/api/channels/{quote(channel, safe=':@')}/presence", {})
        return list(body["users"])

    async def _rest(self, path: str, params: dict[str, Any]) -> dict[str, Any]:
        if self._http is None:
            self._http = httpx.AsyncClient(timeout=self.open_timeout, trust_env=False)
        base = policy.http_base(self.url or self.urls[0])
        for refreshed in (False, True):
            token = await self._get_token(force=refreshed)
            try:
                response = await self._http.get(
                    base + path, params=params, headers={"authorization": f"Bearer {token}"}
                )
            except httpx.HTTPError as exc:
                raise StarsError("unavailable", f"{base}: {exc or type(exc).__name__}") from None
            if response.status_code == 401 and not refreshed:
                continue
            try:
                body = response.json()
            except ValueError:
                body = {}
            if response.status_code >= 400 or not isinstance(body, dict):
                code = body.get("error") if isinstance(body, dict) else None
                message = body.get("message") if isinstance(body, dict) else None
                raise StarsError(str(code or f"http_{response.status_code}"),
                                 str(message or response.reason_phrase), response.status_code)  # fmt: skip
            return body
        raise AssertionError("unreachable")
