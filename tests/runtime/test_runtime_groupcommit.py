"""GroupCommit on its own, with a fake database: batching, order, and failures that fail exactly the
items of the statement (or, without a connection, what was queued) and nothing else."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest

from runtime.groupcommit import GroupCommit

pytestmark = pytest.mark.asyncio


class FakeDb:
    def __init__(self, delay: float = 0.01) -> None:
        self.delay = delay
        self.statements: list[list[int]] = []
        self.fail_next = False
        self.refuse_connections = False

    @contextlib.asynccontextmanager
    async def acquire(self) -> AsyncIterator[str]:
        if self.refuse_connections:
            raise ConnectionRefusedError("no database")
        yield "conn"

    async def write(self, _conn: str, items: list[int]) -> list[int]:
        await asyncio.sleep(self.delay)
        if self.fail_next:
            self.fail_next = False
            raise RuntimeError("statement failed")
        self.statements.append(items)
        return [i * 10 for i in items]


async def test_alone_at_once_then_batches_grow_under_load() -> None:
    db = FakeDb()
    group: GroupCommit[int, int] = GroupCommit(db.acquire, db.write, max_writers=2)
    assert await group.submit(1) == 10
    assert db.statements == [[1]]
    results = await asyncio.gather(*(group.submit(i) for i in range(2, 102)))
    assert results == [i * 10 for i in range(2, 102)]
    assert sorted(i for batch in db.statements for i in batch) == list(range(1, 102))
    assert len(db.statements) < 20  # 100 items through at most two writers at a time
    assert group.items == 101 and group.batches == len(db.statements)
    assert group.queued == 0 and group.writers == 0


async def test_max_batch_splits_and_order_is_kept_within_a_batch() -> None:
    db = FakeDb()
    group: GroupCommit[int, int] = GroupCommit(db.acquire, db.write, max_batch=7, max_writers=1)
    await asyncio.gather(*(group.submit(i) for i in range(30)))
    assert all(len(b) <= 7 for b in db.statements)
    assert [i for batch in db.statements for i in batch] == list(range(30))  # one writer: FIFO


async def test_a_failed_statement_fails_its_items_only() -> None:
    db = FakeDb(delay=0.05)
    group: GroupCommit[int, int] = GroupCommit(db.acquire, db.write, max_writers=1)
    db.fail_next = True
    first = [asyncio.ensure_future(group.submit(i)) for i in range(3)]
    await asyncio.sleep(0.01)  # the first statement is under way with items 0..2
    later = [asyncio.ensure_future(group.submit(i)) for i in range(3, 6)]
    done = await asyncio.gather(*first, *later, return_exceptions=True)
    assert all(isinstance(r, RuntimeError) for r in done[:3])
    assert done[3:] == [30, 40, 50]
    assert db.statements == [[3, 4, 5]]


async def test_no_connection_fails_what_is_queued_and_recovers() -> None:
    db = FakeDb()
    group: GroupCommit[int, int] = GroupCommit(db.acquire, db.write)
    db.refuse_connections = True
    results = await asyncio.gather(*(group.submit(i) for i in range(4)), return_exceptions=True)
    assert all(isinstance(r, ConnectionRefusedError) for r in results)
    assert group.queued == 0 and group.writers == 0
    db.refuse_connections = False
    assert await group.submit(7) == 70


async def test_a_slow_database_times_out_the_batch() -> None:
    db = FakeDb(delay=1.0)
    group: GroupCommit[int, int] = GroupCommit(db.acquire, db.write, timeout=0.05)
    with pytest.raises(TimeoutError):
        await group.submit(1)
    assert group.writers == 0


async def test_an_item_whose_submitter_gave_up_is_never_written() -> None:
    db = FakeDb(delay=0.2)
    group: GroupCommit[int, int] = GroupCommit(db.acquire, db.write, max_writers=1)
    first = asyncio.ensure_future(group.submit(1))  # the only writer is busy with it for 0.2 s
    await asyncio.sleep(0.01)
    with pytest.raises(TimeoutError):  # e.g. the publisher's own timeout: it is told "not stored"
        await asyncio.wait_for(group.submit(2), 0.05)
    third = asyncio.ensure_future(group.submit(3))
    assert await first == 10 and await third == 30
    assert db.statements == [[1], [3]], "item 2 was given up before a writer took it"
