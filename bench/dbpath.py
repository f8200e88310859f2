"""What one durable publish costs in the application process: the runtime's Store against one statement.

Both variants run in this process against the same PostgreSQL, with the same concurrency, for the
same time; CPU is this process's own (``time.process_time``), the database's is read from its
processes. ``store`` is ``runtime.store.Store.publish`` as the server runs it: on PostgreSQL one
prepared statement in autocommit on a plain asyncpg pool (the upsert of the channel's
``last_offset`` and the insert as one CTE), shared by the publishes that arrive while others are
being written (group commit). ``one-statement`` is kept as a reference: the Store's own one-message
statement (``PG_PUBLISH``) once per call, on an asyncpg pool with its default reset query on every
release. (Earlier on 2026-11-27 ``store`` measured SQLAlchemy Core with pool pre-ping and
BEGIN + upsert + insert + COMMIT, then one statement per publish; see bench/README.md.)

``queries`` is the database tier's capacity on the runtime's own data path: the Store serving the
API's mix (half durable publishes, half history pages of 50 from a random offset, over 100 channels
prefilled with 100 messages each) from 64 tasks, counted by PostgreSQL itself
(``pg_stat_statements``), with the latency of each call. Publishes that arrive together share one
statement (group commit, ``runtime/groupcommit.py``), so there are fewer statements than calls.

``python -m bench db --seconds 5 --concurrency 32``
"""

from __future__ import annotations

import asyncio
import datetime as dt
import random
import time
from typing import Any

import asyncpg
import psutil

from bench import procs
from bench.common import percentiles
from bench.loadclient import bucket
from bench.pgstat import create_extension, enable_pg_stat_statements, pg_counters
from bench.servers import PostgresServer
from runtime.config import async_database_url
from runtime.migrate import upgrade
from runtime.store import PG_PUBLISH, Store, make_engine


async def _drive(publish: Any, seconds: float, concurrency: int, channels: int) -> tuple[int, float, float]:
    """Run ``publish(channel, data)`` from ``concurrency`` tasks; returns (count, wall, own CPU)."""
    count = 0
    stop = time.monotonic() + seconds
    data = '{"text":"' + "x" * 64 + '"}'

    async def worker(k: int) -> None:
        nonlocal count
        i = k
        while time.monotonic() < stop:
            await publish(f"room:db-{i % channels}", data)
            count += 1
            i += concurrency

    c0, t0 = time.process_time(), time.monotonic()
    await asyncio.gather(*(worker(k) for k in range(concurrency)))
    return count, time.monotonic() - t0, time.process_time() - c0


async def _drive_queries(
    store: Any, seconds: float, concurrency: int, channels: int, prefill: int, read_ratio: float = 0.5
) -> tuple[dict[str, int], float, float, dict[int, int]]:
    """The API's mix on the Store: returns (calls by kind, wall, own CPU, latency histogram)."""
    calls = {"publish": 0, "history": 0}
    hist: dict[int, int] = {}
    stop = time.monotonic() + seconds
    data = '{"text":"' + "x" * 64 + '"}'

    async def worker(k: int) -> None:
        rng = random.Random(k)
        while time.monotonic() < stop:
            channel = f"room:q-{rng.randrange(channels)}"
            t0 = time.perf_counter()
            if rng.random() < read_ratio:
                await store.fetch(channel, rng.randrange(prefill), 50)
                kind = "history"
            else:
                await store.publish(channel, data)
                kind = "publish"
            b = bucket((time.perf_counter() - t0) * 1000)
            hist[b] = hist.get(b, 0) + 1
            calls[kind] += 1

    c0, t0 = time.process_time(), time.monotonic()
    await asyncio.gather(*(worker(k) for k in range(concurrency)))
    return calls, time.monotonic() - t0, time.process_time() - c0, hist


async def _measure_queries(
    store: Any,
    url: str,
    pg_pid: int,
    seconds: float,
    concurrency: int,
    channels: int = 100,
    prefill: int = 100,
) -> dict[str, Any]:
    for c in range(channels):  # the API benchmark's prefill: 100 channels of 100 messages
        await asyncio.gather(*(store.publish(f"room:q-{c}", '{"text":"prefill"}') for _ in range(prefill)))
    await _drive_queries(store, 0.5, concurrency, channels, prefill)  # warm up
    pg = procs.tree(pg_pid)
    pg0 = procs.cpu_seconds(pg)
    q0, _ = await pg_counters(url)
    b0 = store.group.batches
    calls, wall, cpu, hist = await _drive_queries(store, seconds, concurrency, channels, prefill)
    batches = store.group.batches - b0
    q1, _ = await pg_counters(url)
    pg_cpu = procs.cpu_seconds(pg) - pg0
    n = sum(calls.values())
    statements = q1 - q0  # PostgreSQL's count (the counter's own query is left out of it)
    return {
        "concurrency": concurrency,
        "calls": calls,
        "statements": statements,
        "queries_per_s": round(statements / wall, 1),
        "store_calls_per_s": round(n / wall, 1),
        "statements_per_call": round(statements / n, 3) if n else None,
        # group commit: publishes arriving together share one statement
        "publish_statements": batches,
        "publishes_per_statement": round(calls["publish"] / batches, 2) if batches else None,
        **percentiles(hist),
        "app_cpu_us_per_query": round(cpu / n * 1e6, 1) if n else None,
        "db_cpu_us_per_query": round(pg_cpu / n * 1e6, 1) if n else None,
        "app_cpu_cores": round(cpu / wall, 3),
        "db_cpu_cores": round(pg_cpu / wall, 3),
    }


async def run_db(
    seconds: float = 5.0, concurrency: int = 32, channels: int = 100, queries_concurrency: int = 64
) -> dict[str, Any]:

    postgres = PostgresServer()
    out: dict[str, Any] = {"seconds": seconds, "concurrency": concurrency, "channels": channels}
    try:
        await asyncio.to_thread(postgres.init)
        enable_pg_stat_statements(postgres)
        await asyncio.to_thread(postgres.start)
        url = postgres.create_database("bench_db")
        await create_extension(url)
        await asyncio.to_thread(upgrade, async_database_url(url))
        pg_pid = int((postgres.data / "postmaster.pid").read_text().splitlines()[0])

        async def measure(name: str, publish: Any) -> None:
            await _drive(publish, 0.5, concurrency, channels)  # warm up: connections, prepared statements
            pg = procs.tree(pg_pid)
            pg0 = procs.cpu_seconds(pg)
            n, wall, cpu = await _drive(publish, seconds, concurrency, channels)
            pg_cpu = procs.cpu_seconds(pg) - pg0
            out[name] = {
                "publishes_per_s": round(n / wall, 1),
                "app_cpu_us_per_publish": round(cpu / n * 1e6, 1),
                "db_cpu_us_per_publish": round(pg_cpu / n * 1e6, 1),
                "app_cpu_cores": round(cpu / wall, 3),
            }

        store = Store(make_engine(async_database_url(url), pool_size=concurrency, max_overflow=0))
        try:
            await measure("store", store.publish)
        finally:
            await store.close()
        store = Store(make_engine(async_database_url(url), pool_size=queries_concurrency, max_overflow=0))
        try:
            out["queries"] = await _measure_queries(store, url, pg_pid, seconds, queries_concurrency)
        finally:
            await store.close()
        pool = await asyncpg.create_pool(url, min_size=concurrency, max_size=concurrency)
        try:

            async def one(channel: str, data: str) -> int:
                return int(await pool.fetchval(PG_PUBLISH, channel, data, dt.datetime.now(dt.UTC)))

            await measure("one-statement", one)
        finally:
            await pool.close()
        out["machine_busy_cores"] = round(
            psutil.cpu_percent(interval=0.2) / 100 * (psutil.cpu_count() or 1), 2
        )
    finally:
        postgres.cleanup()
    return out
