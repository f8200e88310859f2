"""The cyclic garbage collector in a worker: keep long-lived objects out of its full collections.

A worker holding ~12,500 WebSocket connections tracks over a million container objects (uvicorn's
protocol objects, tasks, coroutine frames, our connections and subscriptions). CPython's full (gen-2)
collection walks all of them, stopping the event loop for 0.3–1.2 s at that size, and it runs again
whenever the objects promoted to gen 2 since the last one exceed a quarter of gen 2, a count that only
grows (objects freed by reference counting are not subtracted), so it keeps recurring under a
steady load with no growth at all.

``GcFreezer`` moves what survives into CPython's permanent generation (``gc.freeze()``, O(1)): once
after start-up and again after every full collection, so a full collection walks only what was
promoted since the previous one. Frozen objects are still freed by reference counting; only
reference cycles that become garbage after being frozen (those of a connection that closes) wait for
a reclaim: unfreeze, one full collection over everything, freeze again. It runs once the connections
closed since the previous reclaim exceed half of those open (and at least ``min_closes``), which bounds
that garbage to about half a connection's cycles per open connection, at the price of one full pause
per such churn; a server that only gains connections never pays one.

After a reclaim the free pages of the C heap go back to the operating system (glibc's
``malloc_trim``). Without it a server kept all the memory of a burst of connections after they
closed (``bench faults``, 5,000 connections on 2 workers: 209 MB before, 323 MB at the peak, 321 MB
after they left); with it 301 MB after. The rest (Python's own arenas, partly used) is reused by the
next burst: a second burst of 5,000 peaked 11-12 MB higher, with or without the trim.

``STARS_GC_FREEZE=0`` turns it off; ``STARS_GC_TRACE=FILE`` appends one line per collection (pid,
time, generation, milliseconds, objects collected), for measuring pauses.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import ctypes.util
import gc
import logging
import os
import time
from collections.abc import Callable
from typing import Any

from runtime import metrics

log = logging.getLogger("runtime.gc")


def _load_malloc_trim() -> Callable[[int], int] | None:
    """glibc's ``malloc_trim`` (returns free heap pages to the system), or None on another libc."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        trim = libc.malloc_trim
    except (OSError, AttributeError):
        return None
    trim.argtypes, trim.restype = [ctypes.c_size_t], ctypes.c_int
    return trim


MALLOC_TRIM = _load_malloc_trim()


class GcFreezer:
    def __init__(
        self,
        open_connections: Callable[[], int],
        closed_connections: Callable[[], int],
        interval: float = 1.0,
        churn: float = 0.5,
        min_closes: int = 1000,
    ) -> None:
        self.open_connections = open_connections
        self.closed_connections = closed_connections
        self.interval = interval
        self.churn = churn
        self.min_closes = min_closes
        self.closed_at_reclaim = 0
        self.reclaims = 0
        self.freezes = 0
        self._full = 0  # full collections seen (gc.get_stats()[2]["collections"])
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self.reclaim()
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        gc.unfreeze()

    def reclaim(self) -> None:
        """Collect everything once (frozen objects included), then freeze what survives."""
        started = time.perf_counter()
        gc.unfreeze()
        gc.collect()
        gc.freeze()
        if MALLOC_TRIM is not None:
            MALLOC_TRIM(0)
        self.closed_at_reclaim = self.closed_connections()
        self._full = gc.get_stats()[2]["collections"]
        self.reclaims += 1
        metrics.GC_RECLAIMS.inc()
        log.debug("gc reclaim: %.1f ms", (time.perf_counter() - started) * 1000)

    def tick(self) -> None:
        closed = self.closed_connections() - self.closed_at_reclaim
        if closed > max(self.min_closes, self.churn * self.open_connections()):
            self.reclaim()
            return
        full = gc.get_stats()[2]["collections"]
        if full != self._full:  # a full collection ran: freeze what it left, so the next walks less
            self._full = full
            gc.freeze()
            self.freezes += 1

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            try:
                self.tick()
            except Exception:  # never let the collector's bookkeeping take the worker down
                log.exception("gc freezer")


def install_trace(path: str, min_ms: float = 0.0) -> None:
    """Append one line per collection that took at least ``min_ms``: pid, time, generation,
    milliseconds, objects collected. For measuring; adds a few µs per collection."""
    started = [0.0]
    out = open(path, "a", buffering=1)  # noqa: SIM115 (lives as long as the process)

    def callback(phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            started[0] = time.perf_counter()
            return
        ms = (time.perf_counter() - started[0]) * 1000
        if ms >= min_ms:
            out.write(
                f"{os.getpid()} {time.time():.3f} gen={info['generation']} ms={ms:.2f} "
                f"collected={info['collected']}\n"
            )

    gc.callbacks.append(callback)
