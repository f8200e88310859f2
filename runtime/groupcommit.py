"""Group commit: publishes that arrive while others are being written go to the database together.

Each writer takes a connection first and only then the items queued so far (up to ``max_batch``),
writes them with one statement and hands every submitter its own result. With the database idle a
publish is written alone, at once; under load the batches grow by themselves, so the database sees
fewer, larger statements (one round trip, one transaction, one WAL flush for many messages) and no
one waits for a timer. If the statement fails, every item of its batch fails: nothing of it was
committed. The Redis backend uses the same for PUBLISH pipelines.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from typing import Any, Generic, TypeVar

I = TypeVar("I")  # noqa: E741 - an item
R = TypeVar("R")


class GroupCommit(Generic[I, R]):
    """``submit(item)`` returns ``write``'s result for that item; ``write(conn, items)`` gets a batch
    on a connection from ``acquire()`` and returns one result per item, in order."""

    def __init__(
        self,
        acquire: Callable[[], AbstractAsyncContextManager[Any]],
        write: Callable[[Any, list[I]], Awaitable[list[R]]],
        max_batch: int = 256,
        max_writers: int = 4,
        timeout: float = 5.0,
    ) -> None:
        self._acquire = acquire
        self._write = write
        self.max_batch = max_batch
        self.max_writers = max_writers
        self.timeout = timeout
        self._queue: list[tuple[I, asyncio.Future[R]]] = []
        self._writers = 0
        self._starting = 0  # writers still waiting for a connection (they take the queue once they have one)
        self._tasks: set[asyncio.Task[None]] = set()
        self.batches = 0  # statements written (for metrics and tests)
        self.items = 0

    @property
    def writers(self) -> int:
        """Writers holding or waiting for a connection."""
        return self._writers

    @property
    def queued(self) -> int:
        """Items waiting for a writer to take them."""
        return len(self._queue)

    def _start_writer(self) -> None:
        self._writers += 1
        self._starting += 1
        task = asyncio.get_running_loop().create_task(self._writer())
        self._tasks.add(task)  # the loop keeps only a weak reference to a task
        task.add_done_callback(self._tasks.discard)

    async def submit(self, item: I) -> R:
        fut: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        self._queue.append((item, fut))
        if self._starting == 0 and self._writers < self.max_writers:
            self._start_writer()
        return await fut

    async def _writer(self) -> None:
        """Take a connection, then one batch of what is queued by then; write it; let the next go."""
        batch: list[tuple[I, asyncio.Future[R]]] = []
        took = False
        try:
            async with asyncio.timeout(self.timeout), self._acquire() as conn:
                self._starting -= 1
                took = True
                batch = self._take()
                if batch:
                    await self._write_batch(conn, batch)
        except BaseException as exc:
            if not took:  # no connection: what is queued now fails (nothing of it was written)
                self._starting -= 1
                batch, self._queue = self._queue, []
            error = exc if isinstance(exc, Exception) else ConnectionError("store closed")
            for _, fut in batch:
                if not fut.done():
                    fut.set_exception(error)
            if not isinstance(exc, Exception):
                raise  # cancelled: shutting down
        finally:
            self._writers -= 1
            if self._queue and self._starting == 0 and self._writers < self.max_writers:
                self._start_writer()  # for what was queued during this batch

    def _take(self) -> list[tuple[I, asyncio.Future[R]]]:
        """Up to ``max_batch`` queued items whose submitters still wait: one that gave up (timed out,
        was cancelled, and may have been told the write failed) is dropped, never written later."""
        batch: list[tuple[I, asyncio.Future[R]]] = []
        queue = self._queue
        taken = 0
        for taken, entry in enumerate(queue, 1):  # noqa: B007 - the count is used after the loop
            if not entry[1].done():
                batch.append(entry)
                if len(batch) == self.max_batch:
                    break
        del queue[:taken]
        return batch

    async def _write_batch(self, conn: Any, batch: list[tuple[I, asyncio.Future[R]]]) -> None:
        results = await self._write(conn, [item for item, _ in batch])
        self.batches += 1
        self.items += len(batch)
        for (_, fut), result in zip(batch, results, strict=True):
            if not fut.done():
                fut.set_result(result)
