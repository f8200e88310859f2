"""Who is subscribed to a channel, across workers: Redis sorted sets with expiring members.

Joins and leaves are recorded locally at once and written to Redis in batches by one task per
worker (pipelines of ``BATCH`` members, one command per channel), which also refreshes the expiry of
everything local, so a crashed worker's members vanish after ``ttl`` seconds. Without Redis the
local table is the answer.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import time
from collections import Counter, defaultdict
from collections.abc import Iterator

from redis import asyncio as aioredis

log = logging.getLogger("runtime.presence")

BATCH = 500  # members per pipeline
BATCH_PAUSE = 0.04  # seconds between two pipelines of one flush


class Presence:
    def __init__(self, redis: aioredis.Redis | None, prefix: str = "stars:", ttl: int = 60) -> None:
        self.redis = redis
        self.prefix = prefix
        self.ttl = ttl
        self.local: dict[str, dict[str, str]] = defaultdict(dict)  # channel -> {member: user}
        self._added: set[tuple[str, str]] = set()
        self._removed: set[tuple[str, str]] = set()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._last_refresh = 0.0

    def _key(self, channel: str) -> str:
        return f"{self.prefix}presence:{channel}"

    async def start(self) -> None:
        if self.redis is not None:
            self._task = asyncio.create_task(self._flusher())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task

    def join(self, channel: str, member: str, user: str) -> None:
        self.local[channel][member] = user
        self._added.add((channel, f"{user}\x1f{member}"))
        self._wake.set()

    def leave(self, channel: str, member: str) -> None:
        users = self.local.get(channel)
        if users is None or member not in users:
            return
        user = users.pop(member)
        if not users:
            del self.local[channel]
        entry = (channel, f"{user}\x1f{member}")
        self._added.discard(entry)
        self._removed.add(entry)
        self._wake.set()

    async def users(self, channel: str) -> dict[str, int]:
        """User -> number of connections subscribed to ``channel``."""
        if self.redis is None:
            return dict(Counter(self.local.get(channel, {}).values()))
        key = self._key(channel)
        now = time.time()
        async with asyncio.timeout(2.0), self.redis.pipeline(transaction=False) as pipe:
            pipe.zremrangebyscore(key, "-inf", now)
            pipe.zrange(key, 0, -1)
            _, members = await pipe.execute()
        return dict(Counter(m.decode().split("\x1f", 1)[0] for m in members))

    async def _flusher(self) -> None:
        assert self.redis is not None
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self.ttl / 3)
            self._wake.clear()
            try:
                await self._flush()
            except Exception as exc:  # Redis away: keep the local truth, write it when it is back
                log.debug("presence flush failed: %s", exc)
                self._last_refresh = 0.0
                await asyncio.sleep(1.0)
            else:
                await asyncio.sleep(0.2)  # batch bursts of joins

    def _commands(
        self, removed: set[tuple[str, str]], added: set[tuple[str, str]], refresh: bool
    ) -> Iterator[tuple[str, str, str]]:
        for channel, member in removed:
            yield "zrem", channel, member
        if not refresh:
            for channel, member in added:
                yield "zadd", channel, member
            return
        # Every local member (joins since the last flush are among them), read channel by channel as
        # the batches go; one that leaves meanwhile is removed by the next flush.
        for channel in list(self.local):
            users = self.local.get(channel)
            for member, user in list(users.items()) if users else ():
                yield "zadd", channel, f"{user}\x1f{member}"

    def _queue_batch(
        self, pipe: aioredis.client.Pipeline, batch: list[tuple[str, str, str]], expiry: float
    ) -> None:
        """One ZREM and one ZADD per channel of the batch, each with all its members: a refresh of
        12,500 members of one channel is 25 commands, not 12,500 (each command costs the client
        an encoding and a reply to parse). Removals go first, as ``_commands`` yields them."""
        removed: dict[str, list[str]] = defaultdict(list)
        added: dict[str, dict[str, float]] = defaultdict(dict)
        for op, channel, member in batch:
            if op == "zrem":
                removed[channel].append(member)
            else:
                added[channel][member] = expiry
        for channel, members in removed.items():
            pipe.zrem(self._key(channel), *members)
        for channel, scores in added.items():
            key = self._key(channel)
            pipe.zadd(key, scores)
            pipe.expire(key, self.ttl * 2)

    async def _flush(self) -> None:
        assert self.redis is not None
        now = time.time()
        refresh = now - self._last_refresh > self.ttl / 3
        # Take the batches before awaiting, so joins and leaves during the write are kept for the next one.
        added, removed = self._added, self._removed
        self._added, self._removed = set(), set()
        if not (refresh and self.local) and not added and not removed:
            return
        expiry = now + self.ttl
        commands = self._commands(removed, added, refresh)
        try:
            # In pipelines of BATCH members, built as they go: a refresh of every local member (12,500
            # on a busy worker) as one pipeline held the event loop and ~150,000 objects at once.
            first = True
            while batch := list(itertools.islice(commands, BATCH)):
                if not first:
                    await asyncio.sleep(BATCH_PAUSE)  # spread a refresh out: ~1 s for 12,500 members
                first = False
                async with asyncio.timeout(5.0), self.redis.pipeline(transaction=False) as pipe:
                    self._queue_batch(pipe, batch, expiry)
                    await pipe.execute()
        except BaseException:
            self._removed |= removed - self._added
            raise
        if refresh:
            self._last_refresh = now
