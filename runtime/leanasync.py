"""asyncio's Queue and Event as one socket's protocol uses them, without their per-object deques.

``asyncio.Queue()`` creates four ``collections.deque``s (items, getters, putters, and its ``Event``'s
waiters) and ``asyncio.Event()`` one; an empty deque allocates a 64-slot block, ~760 bytes. uvicorn's
WebSocket protocol keeps one of each per connection (its received events and its ``writable`` flag):
~4.5 KB of an idle connection's memory for containers that are empty nearly all the time
(bench/README.md, "Where an idle connection's memory goes"). ``Inbox`` and ``Flag`` offer the methods
that protocol calls, and allocate a container only while something waits in it.
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import Any

#: The methods ``runtime.uvicornseam`` may rely on (it checks uvicorn's protocol calls no other).
INBOX_METHODS = frozenset({"put_nowait", "get", "empty"})
FLAG_METHODS = frozenset({"set", "clear", "is_set", "wait"})


class Inbox:
    """An unbounded FIFO with ``asyncio.Queue``'s ``put_nowait``, ``get`` and ``empty``, for one reader.

    A second ``get`` while one is waiting raises ``RuntimeError`` (an ASGI app reads its ``receive``
    from one task). As with ``asyncio.Queue``, an item is taken only by a ``get`` that returns it: a
    reader cancelled while it waits leaves the items where they are."""

    __slots__ = ("_items", "_waiter")

    def __init__(self) -> None:
        self._items: deque[Any] | None = None
        self._waiter: asyncio.Future[None] | None = None

    def empty(self) -> bool:
        return not self._items

    def put_nowait(self, item: Any) -> None:
        items = self._items
        if items is None:
            items = self._items = deque()
        items.append(item)
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def get(self) -> Any:
        while not self._items:
            if self._waiter is not None:
                raise RuntimeError("Inbox.get() is already awaited by another task")
            waiter = self._waiter = asyncio.get_running_loop().create_future()
            try:
                await waiter
            finally:
                self._waiter = None
        items = self._items
        item = items.popleft()
        if not items:
            self._items = None  # an idle connection keeps no deque
        return item


class Flag:
    """``asyncio.Event``'s ``set``, ``clear``, ``is_set`` and ``wait``, with the waiters' list created
    only while a task waits. Every waiter is woken by ``set`` and returns True, as with ``Event``."""

    __slots__ = ("_value", "_waiters")

    def __init__(self) -> None:
        self._value = False
        self._waiters: list[asyncio.Future[bool]] | None = None

    def is_set(self) -> bool:
        return self._value

    def set(self) -> None:
        if self._value:
            return
        self._value = True
        waiters, self._waiters = self._waiters, None
        for waiter in waiters or ():
            if not waiter.done():
                waiter.set_result(True)

    def clear(self) -> None:
        self._value = False

    async def wait(self) -> bool:
        if self._value:
            return True
        waiter: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        waiters = self._waiters
        if waiters is None:
            waiters = self._waiters = []
        waiters.append(waiter)
        try:
            return await waiter
        finally:
            waiters = self._waiters
            if waiters is not None and waiter in waiters:
                waiters.remove(waiter)
                if not waiters:
                    self._waiters = None
