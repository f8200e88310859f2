"""Durable message log: per-channel consecutive offsets, committed before anyone is told.

A publish is ONE atomic statement or transaction: bump ``channels.last_offset`` (upsert, so
concurrent first publishes are race-free in PostgreSQL and SQLite alike) and insert the message. The
row lock on the channel row makes commit order equal offset order, so committed offsets are always a
gap-free prefix. Message data is stored as its compact JSON text, so a replayed frame is spliced,
never re-encoded.

On PostgreSQL the hot statements run on a plain asyncpg pool, not through SQLAlchemy: a publish is
one prepared CTE in autocommit (one round trip, its own transaction), a history page and the latest
offset one prepared SELECT each. No ping on checkout and no reset query on release: a connection
the pool knows to be closed is replaced when it is next acquired, and a statement that fails on a
dead connection fails the call with StoreUnavailable. It is never retried, because a statement that
was sent may have committed. SQLite (the embedded default) keeps the SQLAlchemy path. Alembic owns
the schema in both cases; the tables below only describe it.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import asyncpg
import asyncpg.exceptions as pg
from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    MetaData,
    String,
    Table,
    Text,
    event,
    select,
    text,
)
from sqlalchemy.dialects import sqlite
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool, QueuePool

from runtime import metrics
from runtime.groupcommit import GroupCommit

log = logging.getLogger("runtime.store")

metadata = MetaData()

channels = Table(
    "channels",
    metadata,
    Column("name", String(128), primary_key=True),
    Column("last_offset", BigInteger, nullable=False),
)

messages = Table(
    "messages",
    metadata,
    Column("channel", String(128), primary_key=True),
    Column("offset", BigInteger, primary_key=True, autoincrement=False),
    Column("data", Text, nullable=False),
    Column("published_at", DateTime(timezone=True), nullable=False),
)

# PostgreSQL: the upsert and the insert in one statement, i.e. one implicit transaction. The
# upsert's row lock on the channel is held until that transaction commits, so a concurrent publish
# to the same channel waits for it and commit order is offset order.
PG_PUBLISH = """
WITH c AS (
  INSERT INTO channels (name, last_offset) VALUES ($1, 1)
  ON CONFLICT (name) DO UPDATE SET last_offset = channels.last_offset + 1
  RETURNING last_offset
)
INSERT INTO messages (channel, "offset", data, published_at)
SELECT $1, c.last_offset, $2, $3 FROM c
RETURNING "offset"
"""
# Several publishes in one statement (group commit, runtime.groupcommit): each channel's row is
# bumped once by its number of messages, and the messages take its offsets in submission order.
PG_PUBLISH_MANY = """
WITH input AS (
  SELECT t.channel, t.data, t.published_at, t.ord
  FROM unnest($1::varchar[], $2::text[], $3::timestamptz[])
       WITH ORDINALITY AS t(channel, data, published_at, ord)
), counts AS (
  SELECT channel, count(*) AS n FROM input GROUP BY channel
), c AS (
  INSERT INTO channels AS ch (name, last_offset) SELECT channel, n FROM counts
  ON CONFLICT (name) DO UPDATE SET last_offset = ch.last_offset + EXCLUDED.last_offset
  RETURNING ch.name, ch.last_offset
), numbered AS (
  SELECT i.ord, i.channel, i.data, i.published_at,
         c.last_offset - count(*) OVER w + row_number() OVER (w ORDER BY i.ord) AS "offset"
  FROM input i JOIN c ON c.name = i.channel
  WINDOW w AS (PARTITION BY i.channel)
), ins AS (
  INSERT INTO messages (channel, "offset", data, published_at)
  SELECT channel, "offset", data, published_at FROM numbered
)
SELECT "offset" FROM numbered ORDER BY ord
"""
PG_FETCH = (
    'SELECT "offset", data, published_at FROM messages'
    ' WHERE channel = $1 AND "offset" > $2 ORDER BY "offset" LIMIT $3'
)
PG_LATEST = "SELECT last_offset FROM channels WHERE name = $1"


# What "the database is unavailable" means, and nothing else: a refused or dropped connection
# (OSError, asyncpg's class 08 errors), no answer within the timeout, a server shutting down or
# cancelling statements (class 57), out of connections, memory or disk (class 53), and SQLite's
# OperationalError (locked, unreadable or full file). Any other exception is a bug (in a query, a
# schema or this code): it is not caught here, so it is logged with its traceback and the client
# gets a plain ``internal`` error instead of "retry later".
UNAVAILABLE_ERRORS: tuple[type[Exception], ...] = (
    TimeoutError,
    OSError,
    pg.PostgresConnectionError,
    pg.OperatorInterventionError,
    pg.InsufficientResourcesError,
    OperationalError,
)


class StoreUnavailable(Exception):
    """The database could not be reached, refused the work for lack of resources or did not answer
    in time (one of ``UNAVAILABLE_ERRORS``): nothing was stored, and a retry may succeed."""


def _unavailable(exc: BaseException) -> StoreUnavailable:
    """The error callers get, and a warning for operators (repeats are rate-limited by runtime.logs)."""
    log.warning("database unavailable: %s", f"{type(exc).__name__}: {exc}")
    return StoreUnavailable(f"{type(exc).__name__}: {exc}")


@dataclass(frozen=True, slots=True)
class Stored:
    offset: int
    data: str  # compact JSON text
    published_at: dt.datetime

    @property
    def published_iso(self) -> str:
        ts = self.published_at
        if ts.tzinfo is None:
            ts = ts.replace(tzinfo=dt.UTC)
        return ts.isoformat().replace("+00:00", "Z")


def make_engine(url: str, pool_size: int = 10, max_overflow: int = 10) -> AsyncEngine:
    if url.startswith("sqlite"):
        # One writer at a time is SQLite's model: WAL + a busy timeout, no pooled connections to share.
        engine = create_async_engine(url, poolclass=NullPool, connect_args={"timeout": 30})

        @event.listens_for(engine.sync_engine, "connect")
        def _pragmas(dbapi_conn: Any, _record: Any) -> None:  # SQLAlchemy's DBAPI connection: untyped
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()

        return engine
    # On PostgreSQL the Store runs its statements on its own asyncpg pool of pool_size + max_overflow
    # connections; this engine only carries the URL and the sizes (and connects only if used directly).
    return create_async_engine(url, pool_size=pool_size, max_overflow=max_overflow, pool_recycle=1800)


async def _no_reset(_conn: Any) -> None:
    """Nothing to reset on release: the Store sets no session state, locks or listeners (an open
    transaction, which it never leaves, is still rolled back by asyncpg)."""


async def _write_publishes(conn: Any, items: list[tuple[str, str, dt.datetime]]) -> list[int]:
    """One statement for a batch of publishes; their offsets, in the same order. A lone publish keeps
    the one-message statement: the batch statement for one item took 35-50% longer (193-229 against
    143-167 us a call, measured in one process on one connection, 2026-11-27)."""
    if len(items) == 1:
        offsets = [int(await conn.fetchval(PG_PUBLISH, *items[0]))]
    else:
        channels_, data, times = zip(*items, strict=True)
        rows = await conn.fetch(PG_PUBLISH_MANY, list(channels_), list(data), list(times))
        offsets = [int(r[0]) for r in rows]
    metrics.PUBLISH_STATEMENTS.inc()
    metrics.PUBLISHES_STORED.inc(len(items))
    return offsets


def _closed(conn: Any) -> bool:
    """Whether a kept connection is closed: asyncpg detaches a pooled connection that closes (the
    database went away) and gives it back to the pool itself, after which the proxy only raises."""
    try:
        return bool(conn.is_closed())
    except asyncpg.InterfaceError:
        return True


class WriterConnections:
    """Pool connections the group commit's writers keep from one batch to the next.

    Taking a connection from asyncpg's pool and giving it back costs 42 us of CPU per lone publish,
    as much as the statement itself (84 against 42 us, 2026-12-06, one process, a publish every
    2 ms). A writer's connection stays out of the pool between batches, so it still counts towards
    the pool's size; at most ``max_writers`` (half the pool) are kept, and never the pool's last one,
    so history reads always find a connection. A connection whose statement failed or was cancelled
    goes back to the pool, which closes or replaces it, and so does one found closed (the database
    restarted): the next batch then takes a fresh one, as a pooled checkout would.
    """

    def __init__(self, pool: Callable[[], Any], keep: int) -> None:
        self._pool = pool
        self._keep = keep  # at most this many kept: fewer than the pool holds, so reads find one
        self._kept: list[Any] = []

    @contextlib.asynccontextmanager
    async def acquire(self) -> AsyncIterator[Any]:
        pool = self._pool()
        conn = None
        while self._kept and conn is None:
            conn = self._kept.pop()
            if _closed(conn):
                await pool.release(conn)  # a no-op when asyncpg handed it back itself
                conn = None
        if conn is None:
            conn = await pool.acquire()
        try:
            yield conn
        except BaseException:
            await pool.release(conn)
            raise
        if len(self._kept) < self._keep:
            self._kept.append(conn)
        else:
            await pool.release(conn)

    @property
    def kept(self) -> int:
        """Connections held between batches (for tests and metrics)."""
        return len(self._kept)

    async def release_all(self) -> None:
        """Give every kept connection back (before the pool closes: it waits for checked-out ones)."""
        kept, self._kept = self._kept, []
        pool = self._pool()
        for conn in kept:
            with contextlib.suppress(Exception):
                await pool.release(conn)


class Store:
    """The async API the hub, the WebSocket handler and the REST API use."""

    def __init__(self, engine: AsyncEngine, timeout: float = 5.0) -> None:
        self.engine = engine
        self.timeout = timeout
        self._sqlite = engine.dialect.name == "sqlite"
        # SQLite has one writer: serialise in-process so writers queue here, not on the file lock.
        self._write_lock = asyncio.Lock() if self._sqlite else None
        self._pool: Any = None  # asyncpg.Pool, created on first use (PostgreSQL only)
        self._pool_lock = asyncio.Lock()
        # Publishes that arrive while others are being written share a statement (PostgreSQL only);
        # at most half the pool writes, so history reads always find connections.
        pool_max = 1 if self._sqlite else self._pool_max()
        max_writers = max(1, pool_max // 2)
        # A pool of one keeps nothing for the writer: its connection is also the reads' only one.
        self.writers = WriterConnections(lambda: self._pool, keep=min(max_writers, pool_max - 1))
        self.group: GroupCommit[tuple[str, str, dt.datetime], int] = GroupCommit(
            self.writers.acquire, _write_publishes, max_writers=max_writers, timeout=timeout
        )

    def _pool_max(self) -> int:
        """pool_size + max_overflow of make_engine's pool (SQLAlchemy keeps the second private)."""
        pool = self.engine.pool
        if not isinstance(pool, QueuePool):
            raise TypeError(f"a PostgreSQL Store needs make_engine's sized pool, not {type(pool).__name__}")
        return pool.size() + pool._max_overflow

    async def _pg(self) -> Any:
        pool = self._pool
        if pool is not None:
            return pool
        async with self._pool_lock:
            if self._pool is None:
                url = self.engine.url.set(drivername="postgresql")
                size = self._pool_max()
                self._pool = await asyncpg.create_pool(
                    url.render_as_string(hide_password=False),
                    min_size=0,
                    max_size=max(1, size),
                    max_inactive_connection_lifetime=300.0,
                    reset=_no_reset,
                )
            return self._pool

    async def publish(self, channel: str, data: str) -> tuple[int, dt.datetime]:
        """Store one message and return its offset; raises StoreUnavailable, never half-commits."""
        now = dt.datetime.now(dt.UTC)
        try:
            async with asyncio.timeout(self.timeout):
                if self._write_lock is None:
                    if self._pool is None:
                        await self._pg()
                    return await self.group.submit((channel, data, now)), now
                async with self._write_lock:
                    return await self._publish_sqlite(channel, data, now)
        except UNAVAILABLE_ERRORS as exc:
            raise _unavailable(exc) from exc

    async def _publish_sqlite(self, channel: str, data: str, now: dt.datetime) -> tuple[int, dt.datetime]:
        upsert = (
            sqlite.insert(channels)
            .values(name=channel, last_offset=1)
            .on_conflict_do_update(
                index_elements=[channels.c.name], set_={"last_offset": channels.c.last_offset + 1}
            )
            .returning(channels.c.last_offset)
        )
        async with self.engine.begin() as conn:
            offset = (await conn.execute(upsert)).scalar_one()
            await conn.execute(
                messages.insert().values(channel=channel, offset=offset, data=data, published_at=now)
            )
        return int(offset), now

    async def latest(self, channel: str) -> int:
        try:
            async with asyncio.timeout(self.timeout):
                if not self._sqlite:
                    pool = self._pool or await self._pg()
                    value = await pool.fetchval(PG_LATEST, channel)
                else:
                    async with self.engine.connect() as conn:
                        value = await conn.scalar(
                            select(channels.c.last_offset).where(channels.c.name == channel)
                        )
        except UNAVAILABLE_ERRORS as exc:
            raise _unavailable(exc) from exc
        return int(value or 0)

    async def fetch(self, channel: str, since: int, limit: int) -> list[Stored]:
        """Messages with offset > since, in offset order."""
        try:
            async with asyncio.timeout(self.timeout):
                if not self._sqlite:
                    pool = self._pool or await self._pg()
                    rows = await pool.fetch(PG_FETCH, channel, since, limit)
                else:
                    query = (
                        select(messages.c.offset, messages.c.data, messages.c.published_at)
                        .where(messages.c.channel == channel, messages.c.offset > since)
                        .order_by(messages.c.offset)
                        .limit(limit)
                    )
                    async with self.engine.connect() as conn:
                        rows = (await conn.execute(query)).all()
        except UNAVAILABLE_ERRORS as exc:
            raise _unavailable(exc) from exc
        return [Stored(int(r[0]), r[1], r[2]) for r in rows]

    async def ping(self) -> bool:
        try:
            async with asyncio.timeout(min(self.timeout, 2.0)):
                if not self._sqlite:
                    pool = self._pool or await self._pg()
                    await pool.fetchval("SELECT 1")
                else:
                    async with self.engine.connect() as conn:
                        await conn.execute(text("SELECT 1"))
            return True
        except UNAVAILABLE_ERRORS:
            return False
        except Exception:  # a bug, not an outage: not ready, and say why
            log.exception("database readiness check failed")
            return False

    async def close(self) -> None:
        if self._pool is not None:
            await self.writers.release_all()
        pool, self._pool = self._pool, None
        if pool is not None:
            try:
                await asyncio.wait_for(pool.close(), 5.0)
            except Exception:
                pool.terminate()
        await self.engine.dispose()
