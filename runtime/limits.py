"""Per-request bounds of the HTTP side: the publish rate per token subject and the request body size.

One ``SubjectLimiter`` per worker serves both publish paths (WebSocket frames and the REST API), so
a subject gets the same budget whichever way it publishes and however many connections it opens.
Buckets live in the worker's memory: across W workers of a host a subject may publish up to W times
the rate (each worker refills its own bucket), and across hosts behind the load balancer likewise.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable


class SubjectLimiter:
    """A token bucket per subject: ``burst`` publishes at once, refilled at ``rate`` per second."""

    MAX_SUBJECTS = 100_000  # a flood of distinct subjects (each a validly signed token) stays bounded

    def __init__(self, rate: float, burst: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = rate
        self.burst = float(burst)
        self.clock = clock
        self._buckets: dict[str, list[float]] = {}  # subject -> [tokens, stamp]

    def allow(self, subject: str) -> bool:
        now = self.clock()
        bucket = self._buckets.get(subject)
        if bucket is None:
            if len(self._buckets) >= self.MAX_SUBJECTS:
                self._prune(now)
            bucket = self._buckets[subject] = [self.burst, now]
        else:
            bucket[0] = min(self.burst, bucket[0] + (now - bucket[1]) * self.rate)
            bucket[1] = now
        if bucket[0] < 1.0:
            return False
        bucket[0] -= 1.0
        return True

    def _prune(self, now: float) -> None:
        """Drop the buckets that have refilled (they are as new ones); if none has, all of them."""
        full = (self.burst - 1.0) / self.rate if self.rate > 0 else float("inf")
        stale = [s for s, (_, stamp) in self._buckets.items() if now - stamp >= full]
        for subject in stale:
            del self._buckets[subject]
        if not stale:
            self._buckets.clear()


class BodyTooLarge(Exception):
    """The request body is (or declares to be) larger than the limit."""


class BadLength(Exception):
    """The Content-Length header is not a non-negative integer."""


async def read_body(content_length: str | None, stream: AsyncIterator[bytes], limit: int) -> bytes:
    """The body, read as it arrives and never more than ``limit`` bytes of it: a declared length over
    the limit is refused before anything is read, a chunked body as soon as it passes the limit."""
    if content_length is not None:
        if not content_length.isdigit():
            raise BadLength("Content-Length must be a non-negative integer")
        if int(content_length) > limit:
            raise BodyTooLarge
    body = bytearray()
    async for chunk in stream:
        body += chunk
        if len(body) > limit:
            raise BodyTooLarge
    return bytes(body)
