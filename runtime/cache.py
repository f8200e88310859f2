"""API cache for history pages.

A full page (``limit`` messages after ``since``) can never change, because offsets are immutable
and consecutive, so it is cached for long; a short page (the tail) is never cached. No stale reads,
no invalidation. Redis when configured (shared by all API servers), otherwise a small in-process LRU.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict

from redis import asyncio as aioredis

log = logging.getLogger("runtime.cache")


class PageCache:
    def __init__(self, redis: aioredis.Redis | None, prefix: str = "stars:", ttl: int = 300, size: int = 512):
        self.redis = redis
        self.prefix = prefix
        self.ttl = ttl
        self.size = size
        self._local: OrderedDict[str, bytes] = OrderedDict()
        self.hits = 0

    def key(self, channel: str, since: int, limit: int) -> str:
        return f"{self.prefix}history:{channel}:{since}:{limit}"

    async def get(self, key: str) -> bytes | None:
        if self.redis is None:
            value = self._local.get(key)
            if value is not None:
                self._local.move_to_end(key)
        else:
            try:
                async with asyncio.timeout(0.5):
                    value = await self.redis.get(key)
            except Exception as exc:
                log.debug("cache get failed: %s", exc)
                return None
        if value is not None:
            self.hits += 1
        return value

    async def put(self, key: str, body: bytes) -> None:
        if self.redis is None:
            self._local[key] = body
            if len(self._local) > self.size:
                self._local.popitem(last=False)
            return
        try:
            async with asyncio.timeout(0.5):
                await self.redis.set(key, body, ex=self.ttl)
        except Exception as exc:
            log.debug("cache put failed: %s", exc)
