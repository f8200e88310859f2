"""Durable message log: per-channel consecutive offsets, committed before anyone is told.

A publish is ONE transaction: bump ``channels.last_offset`` (upsert, so concurrent first publishes
are race-free in PostgreSQL and SQLite alike) and insert the message. The row lock on the channel
row makes commit order equal offset order, so committed offsets are always a gap-free prefix.
Message data is stored as its compact JSON text, so a replayed frame is spliced, never re-encoded.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from dataclasses import dataclass

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
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

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


class StoreUnavailable(Exception):
    """The database could not be reached or did not answer in time."""


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
        def _pragmas(dbapi_conn, _record) -> None:  # type: ignore[no-untyped-def]
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()

        return engine
    return create_async_engine(
        url, pool_size=pool_size, max_overflow=max_overflow, pool_pre_ping=True, pool_recycle=1800
    )


class Store:
    """The async API the hub, the WebSocket handler and the REST API use."""

    def __init__(self, engine: AsyncEngine, timeout: float = 5.0) -> None:
        self.engine = engine
        self.timeout = timeout
        self._sqlite = engine.dialect.name == "sqlite"
        # SQLite has one writer: serialise in-process so writers queue here, not on the file lock.
        self._write_lock = asyncio.Lock() if self._sqlite else None
        self._insert = sqlite.insert if self._sqlite else postgresql.insert

    async def publish(self, channel: str, data: str) -> tuple[int, dt.datetime]:
        """Store one message and return its offset; raises StoreUnavailable, never half-commits."""
        now = dt.datetime.now(dt.UTC)
        upsert = (
            self._insert(channels)
            .values(name=channel, last_offset=1)
            .on_conflict_do_update(
                index_elements=[channels.c.name], set_={"last_offset": channels.c.last_offset + 1}
            )
            .returning(channels.c.last_offset)
        )
        try:
            async with asyncio.timeout(self.timeout):
                if self._write_lock is not None:
                    async with self._write_lock:
                        return await self._publish(upsert, channel, data, now)
                return await self._publish(upsert, channel, data, now)
        except StoreUnavailable:
            raise
        except (TimeoutError, OSError, Exception) as exc:
            raise StoreUnavailable(f"{type(exc).__name__}: {exc}") from exc

    async def _publish(self, upsert, channel: str, data: str, now: dt.datetime) -> tuple[int, dt.datetime]:  # type: ignore[no-untyped-def]
        async with self.engine.begin() as conn:
            offset = (await conn.execute(upsert)).scalar_one()
            await conn.execute(
                messages.insert().values(channel=channel, offset=offset, data=data, published_at=now)
            )
        return int(offset), now

    async def latest(self, channel: str) -> int:
        try:
            async with asyncio.timeout(self.timeout), self.engine.connect() as conn:
                value = await conn.scalar(select(channels.c.last_offset).where(channels.c.name == channel))
        except Exception as exc:
            raise StoreUnavailable(f"{type(exc).__name__}: {exc}") from exc
        return int(value or 0)

    async def fetch(self, channel: str, since: int, limit: int) -> list[Stored]:
        """Messages with offset > since, in offset order."""
        query = (
            select(messages.c.offset, messages.c.data, messages.c.published_at)
            .where(messages.c.channel == channel, messages.c.offset > since)
            .order_by(messages.c.offset)
            .limit(limit)
        )
        try:
            async with asyncio.timeout(self.timeout), self.engine.connect() as conn:
                rows = (await conn.execute(query)).all()
        except Exception as exc:
            raise StoreUnavailable(f"{type(exc).__name__}: {exc}") from exc
        return [Stored(int(r[0]), r[1], r[2]) for r in rows]

    async def ping(self) -> bool:
        try:
            async with asyncio.timeout(min(self.timeout, 2.0)), self.engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
            return True
        except Exception:
            return False

    async def close(self) -> None:
        await self.engine.dispose()
