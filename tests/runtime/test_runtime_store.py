"""The Store on PostgreSQL: one statement per publish, consecutive offsets under concurrency, and a
dead connection or a stopped database fails the call without acknowledging or storing anything."""

from __future__ import annotations

import asyncio
import random

import asyncpg
import pytest
import pytest_asyncio

from bench.servers import PostgresServer
from runtime.config import async_database_url
from runtime.migrate import upgrade
from runtime.store import Store, StoreUnavailable, make_engine

pytestmark = [pytest.mark.services, pytest.mark.asyncio]


@pytest_asyncio.fixture
async def pg_store(database_url: str):
    url = async_database_url(database_url)
    await asyncio.to_thread(upgrade, url)
    store = Store(make_engine(url, pool_size=8, max_overflow=4), timeout=5.0)
    yield store, database_url
    await store.close()


async def test_concurrent_publishes_give_consecutive_offsets_in_commit_order(pg_store) -> None:
    store, _ = pg_store
    names = [f"room:c{i}" for i in range(5)]
    got: dict[str, list[int]] = {n: [] for n in names}

    async def worker(k: int) -> None:
        rnd = random.Random(k)
        for i in range(40):
            ch = rnd.choice(names)
            offset, _ = await store.publish(ch, f'"{k}-{i}"')
            got[ch].append(offset)

    await asyncio.gather(*(worker(k) for k in range(32)))  # more tasks than pooled connections
    total = 0
    for ch in names:
        offsets = sorted(got[ch])
        assert offsets == list(range(1, len(offsets) + 1)), f"{ch}: no gaps, no duplicates"
        assert await store.latest(ch) == len(offsets)
        rows = await store.fetch(ch, 0, 10_000)
        assert [r.offset for r in rows] == offsets
        assert all(r.published_at.tzinfo is not None for r in rows)
        total += len(offsets)
    assert total == 32 * 40
    # more publishers than writers: publishes shared statements (group commit)
    assert store.group.items == total and store.group.batches < total


async def test_one_statement_for_publishes_submitted_together_keeps_their_order(pg_store) -> None:
    store, _ = pg_store
    await store.publish("room:a", '"a0"')
    submitted = [
        ("room:a", '"a1"'),
        ("room:b", '"b1"'),
        ("room:a", '"a2"'),
        ("room:a", '"a3"'),
        ("room:b", '"b2"'),
    ]
    batches = store.group.batches
    results = await asyncio.gather(*(store.publish(ch, data) for ch, data in submitted))
    assert store.group.batches == batches + 1, "submitted in one iteration: one statement"
    assert [offset for offset, _ in results] == [2, 1, 3, 4, 2]
    assert [r.data for r in await store.fetch("room:a", 0, 10)] == ['"a0"', '"a1"', '"a2"', '"a3"']
    assert [r.data for r in await store.fetch("room:b", 0, 10)] == ['"b1"', '"b2"']
    assert await store.latest("room:a") == 4 and await store.latest("room:b") == 2


async def test_a_writer_keeps_its_connection_between_publishes_and_gives_it_back_on_close(pg_store) -> None:
    """Lone publishes reuse one connection held out of the pool (a checkout and return cost as much
    CPU as the statement), and closing the Store returns it (the pool's close waits for it)."""
    store, _ = pg_store
    for i in range(5):
        await store.publish("room:kept", f'"{i}"')
    pool = await store._pg()
    assert store.writers.kept == 1
    assert pool.get_idle_size() == 0, "the writer's connection stays checked out between batches"
    started = asyncio.get_running_loop().time()
    await store.close()
    assert asyncio.get_running_loop().time() - started < 2.0, "close waited for a kept connection"
    assert store.writers.kept == 0


async def test_a_pool_of_one_keeps_nothing_for_the_writer_so_reads_still_get_it(database_url: str) -> None:
    """STARS_DB_POOL_SIZE=1 with no overflow: a kept writer connection would leave history reads and the
    readiness check waiting for the pool's only connection until they time out."""
    url = async_database_url(database_url)
    await asyncio.to_thread(upgrade, url)
    store = Store(make_engine(url, pool_size=1, max_overflow=0), timeout=2.0)
    try:
        assert (await store.publish("room:one", '"a"'))[0] >= 1
        assert store.writers.kept == 0
        async with asyncio.timeout(1.0):
            assert [r.data for r in await store.fetch("room:one", 0, 10)][-1] == '"a"'
            assert await store.ping()
    finally:
        await store.close()


async def test_a_kept_connection_the_database_closed_while_idle_is_replaced(pg_store) -> None:
    store, url = pg_store
    assert (await store.publish("room:idle", "1"))[0] == 1
    admin = await asyncpg.connect(url)
    try:
        killed = await admin.fetchval(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        assert killed >= 1
        await asyncio.sleep(0.2)  # the worker's loop sees the connection close
        assert (await store.publish("room:idle", "2"))[0] == 2, "a fresh connection, not a failure"
    finally:
        await admin.close()


async def test_connections_killed_mid_publish_fail_clearly_and_nothing_is_stored(pg_store) -> None:
    store, url = pg_store
    ch = "room:killed"
    assert (await store.publish(ch, "1"))[0] == 1
    locker, admin = await asyncpg.connect(url), await asyncpg.connect(url)
    try:
        tx = locker.transaction()
        await tx.start()
        await locker.execute("SELECT * FROM channels WHERE name = $1 FOR UPDATE", ch)
        # ten publishes are in flight (in one or more group-commit statements), waiting for the
        # channel's row lock; their connections die
        pending = [asyncio.create_task(store.publish(ch, f'"lost-{i}"')) for i in range(10)]
        for _ in range(100):
            waiting = await admin.fetchval(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                " AND wait_event_type = 'Lock'"
            )
            if waiting >= 1 and store.group.queued == 0 and waiting == store.group.writers:
                break
            await asyncio.sleep(0.05)
        assert waiting >= 1 and store.group.queued == 0
        await admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        results = await asyncio.gather(*pending, return_exceptions=True)
        assert all(isinstance(r, StoreUnavailable) for r in results), results
        await tx.rollback()
        # the pool replaces the dead connections; offsets continue without a gap
        offsets = sorted([(await store.publish(ch, f'"{i}"'))[0] for i in range(3)])
        assert offsets == [2, 3, 4]
        stored = await store.fetch(ch, 0, 100)
        assert [r.offset for r in stored] == [1, 2, 3, 4]
        assert not any("lost" in r.data for r in stored), "a failed publish was not stored"
    finally:
        await locker.close()
        await admin.close()


async def test_stopped_database_fails_publish_and_reads_and_recovers() -> None:
    pg = PostgresServer()
    await asyncio.to_thread(pg.init)
    await asyncio.to_thread(pg.start)
    try:
        url = async_database_url(pg.url)
        await asyncio.to_thread(upgrade, url)
        store = Store(make_engine(url), timeout=2.0)
        try:
            assert (await store.publish("room:x", "1"))[0] == 1
            assert await store.ping()
            await asyncio.to_thread(pg.stop, "immediate")
            with pytest.raises(StoreUnavailable):
                await store.publish("room:x", "2")
            with pytest.raises(StoreUnavailable):
                await store.fetch("room:x", 0, 10)
            with pytest.raises(StoreUnavailable):
                await store.latest("room:x")
            assert not await store.ping()
            await asyncio.to_thread(pg.start)
            for _ in range(50):
                try:
                    offset, _ = await store.publish("room:x", "3")
                    break
                except StoreUnavailable:
                    await asyncio.sleep(0.1)
            assert offset == 2, "nothing was stored while the database was down"
            assert [r.data for r in await store.fetch("room:x", 0, 10)] == ["1", "3"]
        finally:
            await store.close()
    finally:
        await asyncio.to_thread(pg.cleanup)
