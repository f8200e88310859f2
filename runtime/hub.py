"""Per-process fan-out: one broker subscription per channel, ordered gap-free delivery to many sockets.

Why not ``broadcaster.Broadcast``: see ``runtime.pubsub``. The hub keeps, per channel, the last
offset it fanned out (``delivered``). A live message is delivered only if it is exactly the next
offset; an older one is a duplicate and dropped; a newer one means something was missed (a Redis
outage, a dropped pub/sub message, publishes racing across workers), so the hub reads the gap from
the database, where every acknowledged message already is, and then continues with what arrived in
the meantime. Each message is encoded once, to a text frame and to its wire bytes, and handed to
every subscriber's connection: no task, no queue and no encoding per subscriber while sockets keep up.

Broker payloads are ``runtime.envelope.Envelope``s (offset, commit time, client frame): the hub reads
two numbers, never the JSON.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any, Protocol

from broadcaster import BroadcastBackend

from runtime import envelope, metrics, protocol
from runtime.envelope import BadPayload, Envelope
from runtime.pubsub import RESYNC
from runtime.store import Store, Stored, StoreUnavailable
from runtime.wire import text_frame

if TYPE_CHECKING:
    from collections.abc import Iterable

log = logging.getLogger("runtime.hub")

PAGE = 500  # rows per database read when replaying or filling a gap
MAX_PENDING = 10_000  # live messages held per channel while a gap is filled; beyond, re-read instead


class Sink(Protocol):
    """What a subscriber's socket offers the hub (``runtime.outbox.Outbox``, so every connection)."""

    def send_frame(self, frame: str, wire: bytes | None = None) -> None: ...

    def overflow(self) -> None: ...


class Subscription:
    """One socket's interest in one channel. ``replay`` buffers live frames while a ``since`` replay runs."""

    __slots__ = ("channel", "last", "replay", "sink")

    def __init__(self, sink: Sink, channel: str) -> None:
        self.sink = sink
        self.channel = channel
        self.last = 0
        self.replay: list[tuple[int, str]] | None = None


class Channel:
    __slots__ = ("delivered", "fill_task", "filling", "name", "opened", "pending", "refill", "subs")

    def __init__(self, name: str) -> None:
        self.name = name
        self.subs: set[Subscription] = set()
        self.delivered = 0
        self.opened: asyncio.Task[None] | None = None
        self.filling = True  # until opened: live messages wait in ``pending``
        self.pending: list[tuple[int, str]] = []
        self.refill = False
        self.fill_task: asyncio.Task[None] | None = None


class Hub:
    def __init__(self, backend: BroadcastBackend, store: Store, replay_buffer: int = 1000) -> None:
        self.backend = backend
        self.store = store
        self.replay_buffer = replay_buffer
        self.channels: dict[str, Channel] = {}
        self._listener: asyncio.Task[None] | None = None
        self._background: set[asyncio.Task[None]] = set()
        # True while more messages are already waiting: connections then coalesce their writes.
        self.bursting = False

    async def start(self) -> None:
        await self.backend.connect()
        self._listener = asyncio.create_task(self._listen(), name="hub-listener")

    async def stop(self) -> None:
        tasks = [t for t in (self._listener, *self._background) if t is not None]
        tasks += [c.fill_task for c in self.channels.values() if c.fill_task is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await self.backend.disconnect()

    # -- subscribers ---------------------------------------------------------------------------

    async def join(self, sub: Subscription, since: int | None) -> int:
        """Register ``sub``; returns the offset after which it receives live messages.

        Concurrent first joins share one ``_open`` (the channel object is created without awaiting),
        so no first subscriber is lost.
        """
        ch = self.channels.get(sub.channel)
        if ch is None:
            ch = Channel(sub.channel)
            self.channels[sub.channel] = ch
            ch.opened = asyncio.create_task(self._open(ch))
        assert ch.opened is not None
        await asyncio.shield(ch.opened)
        if self.channels.get(sub.channel) is not ch:  # closed while we waited; start over
            return await self.join(sub, since)
        if since is None:
            sub.last = ch.delivered
        else:
            sub.last = since
            sub.replay = []
        ch.subs.add(sub)
        metrics.SUBSCRIPTIONS.inc()
        return ch.delivered

    def leave(self, sub: Subscription) -> None:
        ch = self.channels.get(sub.channel)
        if ch is None or sub not in ch.subs:
            return
        ch.subs.discard(sub)
        metrics.SUBSCRIPTIONS.dec()
        if not ch.subs:
            del self.channels[ch.name]
            if ch.fill_task is not None:
                ch.fill_task.cancel()
            self._spawn(self.backend.unsubscribe(ch.name))

    def end_replay(self, sub: Subscription) -> None:
        """Switch ``sub`` from its database replay to the live frames buffered meanwhile."""
        buffered, sub.replay = sub.replay or [], None
        for offset, frame in buffered:
            if offset > sub.last:
                sub.last = offset
                sub.sink.send_frame(frame)

    async def _open(self, ch: Channel) -> None:
        try:
            await self.backend.subscribe(ch.name)
            ch.delivered = await self.store.latest(ch.name)
        except BaseException:
            if self.channels.get(ch.name) is ch:
                del self.channels[ch.name]
                self._spawn(self.backend.unsubscribe(ch.name))
            raise
        ch.filling = False
        if ch.pending:
            self._request_fill(ch)

    # -- publishing ------------------------------------------------------------------------------

    async def publish(self, channel: str, data: str) -> int:
        """Commit, then broadcast; raises StoreUnavailable (and nothing is broadcast) if the commit fails."""
        offset, _ = await self.store.publish(channel, data)
        sent = Envelope(offset, time.time(), protocol.message(channel, offset, data))
        try:  # the message is durable already: never hold the acknowledgement long for the broker
            async with asyncio.timeout(1.0):
                await self.backend.publish(channel, envelope.encode(sent))
        except Exception as exc:  # broker down: stored anyway; local subscribers get it now,
            log.warning("broker publish failed (%s); delivering locally", exc)  # others on resync
            self.receive(channel, sent)
            return offset
        if not getattr(self.backend, "listening", True):
            # Published, but this worker's own subscription is not back yet (after a broker restart it
            # reconnects with backoff): its subscribers get the message now, not after the backoff.
            # When the subscription is back, the broker's copy is a duplicate and dropped.
            self.receive(channel, sent)
        return offset

    # -- live path ---------------------------------------------------------------------------------

    async def _listen(self) -> None:
        backend = self.backend
        backlog = getattr(backend, "backlog", lambda: 0)
        while True:
            event = await backend.next_published()
            self.bursting = backlog() > 0
            try:
                self.on_message(event.channel, event.message)
            except Exception:
                log.exception("bad broker message on %s", event.channel)

    def on_message(self, channel: str, message: str) -> None:
        """A broker message: a resync marker, or an envelope decoded once (a bad one is logged, dropped)."""
        if message == RESYNC:
            ch = self.channels.get(channel)
            if ch is not None:
                self._request_fill(ch)
            return
        if channel not in self.channels:
            return
        try:
            received = envelope.decode(message)
        except BadPayload as exc:
            log.warning("dropped a broker message on %s that is not an envelope: %s", channel, exc)
            return
        self.receive(channel, received)

    def receive(self, channel: str, received: Envelope) -> None:
        """Deliver the next offset, drop a duplicate, and read a gap from the database."""
        ch = self.channels.get(channel)
        if ch is None:
            return
        offset, frame = received.offset, received.frame
        if ch.filling:
            if len(ch.pending) < MAX_PENDING:
                ch.pending.append((offset, frame))
            else:
                ch.refill = True
            return
        if offset == ch.delivered + 1:
            self._dispatch(ch, offset, frame)
            metrics.LATENCY.observe(max(0.0, time.time() - received.stamp))
        elif offset > ch.delivered:
            ch.pending.append((offset, frame))
            self._request_fill(ch)

    def _dispatch(self, ch: Channel, offset: int, frame: str) -> None:
        ch.delivered = offset
        if not ch.subs:
            return
        wire = text_frame(frame)  # the bytes on the wire, the same for every subscriber
        n = 0
        for sub in ch.subs:
            if sub.replay is not None:
                sub.replay.append((offset, frame))
                if len(sub.replay) > self.replay_buffer:
                    sub.sink.overflow()
            elif offset > sub.last:
                sub.last = offset
                sub.sink.send_frame(frame, wire)
                n += 1
        if n:
            metrics.DELIVERIES.inc(n)

    # -- catching up from the database ------------------------------------------------------------

    def _request_fill(self, ch: Channel) -> None:
        if ch.fill_task is not None:
            ch.refill = True
            return
        ch.filling = True
        ch.fill_task = asyncio.create_task(self._fill(ch))

    async def _fill(self, ch: Channel) -> None:
        metrics.CATCHUPS.inc()
        stuck = 0
        try:
            while True:
                try:
                    ch.refill = False
                    before = ch.delivered
                    rows = await self._fetch_retrying(ch)
                    self._dispatch_rows(ch, rows)
                    if len(rows) == PAGE:
                        continue
                    if ch.delivered == before and ch.pending and min(ch.pending)[0] > ch.delivered + 1:
                        stuck += 1  # a live offset the database does not have (yet): wait, then give up on it
                        if stuck > 20:
                            first = min(ch.pending)[0]
                            log.error(
                                "%s: offsets %d..%d missing from the database", ch.name, before + 1, first - 1
                            )
                            ch.delivered = first - 1
                        else:
                            await asyncio.sleep(0.05 * stuck)
                    pending, ch.pending = sorted(ch.pending), []
                    for i, (offset, frame) in enumerate(pending):
                        if offset <= ch.delivered:
                            continue
                        if offset != ch.delivered + 1:
                            ch.pending = pending[i:]
                            ch.refill = True
                            break
                        self._dispatch(ch, offset, frame)
                    if not ch.refill:
                        return
                except Exception:  # a bug must not leave the channel stalled: log, wait, go on
                    log.exception("catch-up of %s failed; retrying", ch.name)
                    await asyncio.sleep(1.0)
        finally:
            ch.filling = False
            ch.fill_task = None

    async def _fetch_retrying(self, ch: Channel) -> list[Stored]:
        delay = 0.1
        while True:
            try:
                return await self.store.fetch(ch.name, ch.delivered, PAGE)
            except StoreUnavailable as exc:
                log.warning("catch-up of %s waits for the database: %s", ch.name, exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)

    def _dispatch_rows(self, ch: Channel, rows: Iterable[Stored]) -> None:
        self.bursting = True
        try:
            for row in rows:
                if row.offset == ch.delivered + 1:
                    self._dispatch(ch, row.offset, protocol.message(ch.name, row.offset, row.data))
        finally:
            self.bursting = False

    def _spawn(self, coro: Coroutine[Any, Any, Any]) -> None:
        task = asyncio.create_task(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)
