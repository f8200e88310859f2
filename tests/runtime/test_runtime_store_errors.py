"""Only an outage is "unavailable": a refused, dropped, silent or overloaded database becomes
StoreUnavailable (retry later), while a bug (a wrong query, a missing table, a TypeError) reaches
the caller as itself, is logged with its traceback and is answered ``internal`` with no detail."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import asyncpg
import httpx
import pytest
import pytest_asyncio
from redis.exceptions import ConnectionError as RedisConnectionError
from sqlalchemy.exc import OperationalError
from starlette.applications import Starlette

from runtime.auth import Claims
from runtime.config import Settings, async_database_url
from runtime.migrate import upgrade
from runtime.outbox import Outbox
from runtime.protocol import ProtocolError, Subscribe
from runtime.rest import RestApi
from runtime.service import Runtime
from runtime.store import Store, StoreUnavailable, make_engine
from runtime.subscriptions import Subscriptions
from tests.runtime.helpers import SECRET, token

pytestmark = pytest.mark.asyncio

OUTAGES = [
    ConnectionRefusedError(111, "Connect call failed"),
    TimeoutError(),
    asyncpg.ConnectionDoesNotExistError("connection was closed in the middle of operation"),
    asyncpg.CannotConnectNowError("the database system is starting up"),
    asyncpg.AdminShutdownError("terminating connection due to administrator command"),
    asyncpg.TooManyConnectionsError("sorry, too many clients already"),
    OperationalError("INSERT ...", {}, Exception("database is locked")),
]
BUGS = [
    TypeError("an argument of the wrong type"),
    KeyError("a missing key"),
    asyncpg.UndefinedColumnError('column "ofset" does not exist'),
    asyncpg.DataError("invalid input for query argument $2"),
]


class RaisingPool:
    """An asyncpg pool whose every statement raises ``exc``."""

    def __init__(self, exc: Exception) -> None:
        self.exc = exc

    async def fetchval(self, *_args: Any) -> Any:
        raise self.exc

    async def fetch(self, *_args: Any) -> Any:
        raise self.exc

    async def acquire(self) -> RaisingPool:
        return self

    async def release(self, _conn: RaisingPool) -> None:
        return None

    def is_closed(self) -> bool:
        return False

    async def close(self) -> None:
        return None


def _store_raising(exc: Exception) -> Store:
    store = Store(make_engine("postgresql+asyncpg://stars@127.0.0.1:9/none", 2, 0), timeout=2.0)
    store._pool = RaisingPool(exc)
    return store


def _kind(exc: BaseException) -> str:
    return type(exc).__name__


@pytest.mark.parametrize("exc", OUTAGES, ids=_kind)
async def test_an_outage_is_store_unavailable_for_every_call(exc: Exception) -> None:
    store = _store_raising(exc)
    for call in (store.publish("room:a", "1"), store.latest("room:a"), store.fetch("room:a", 0, 10)):
        with pytest.raises(StoreUnavailable) as caught:
            await call
        assert caught.value.__cause__ is exc
    assert await store.ping() is False


@pytest.mark.parametrize("exc", BUGS, ids=_kind)
async def test_a_bug_is_not_reported_as_an_outage(exc: Exception, caplog: pytest.LogCaptureFixture) -> None:
    store = _store_raising(exc)
    for call in (store.publish("room:a", "1"), store.latest("room:a"), store.fetch("room:a", 0, 10)):
        with pytest.raises(type(exc)) as caught:
            await call
        assert caught.value is exc
    with caplog.at_level(logging.ERROR, logger="runtime.store"):
        assert await store.ping() is False
    assert "database readiness check failed" in caplog.text and type(exc).__name__ in caplog.text
    assert "database unavailable" not in caplog.text


@pytest.mark.services
async def test_a_missing_table_on_real_postgresql_surfaces_as_itself(database_url: str) -> None:
    url = async_database_url(database_url)
    await asyncio.to_thread(upgrade, url)
    store = Store(make_engine(url, pool_size=2, max_overflow=0), timeout=5.0)
    try:
        assert (await store.publish("room:a", '"x"'))[0] == 1
        conn = await asyncpg.connect(database_url)
        try:
            await conn.execute("DROP TABLE messages")
        finally:
            await conn.close()
        with pytest.raises(asyncpg.UndefinedTableError):
            await store.fetch("room:a", 0, 10)
        with pytest.raises(asyncpg.UndefinedTableError):
            await store.publish("room:a", '"y"')
        assert await store.latest("room:a") == 1  # the channels table is still there
    finally:
        await store.close()


@pytest_asyncio.fixture
async def rest(tmp_path: Path) -> AsyncIterator[tuple[Runtime, httpx.AsyncClient]]:
    """The REST routes of an unstarted embedded runtime, driven in process."""
    rt = Runtime(Settings(jwt_secret=SECRET, database_url=f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}"))
    app = Starlette(routes=RestApi(rt).routes())
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    headers = {"authorization": f"Bearer {token()}"}
    async with httpx.AsyncClient(transport=transport, base_url="http://test", headers=headers) as client:
        yield rt, client
    await rt.store.close()


def _raises(exc: Exception) -> Any:
    async def call(*_args: Any) -> Any:
        raise exc

    return call


async def test_rest_answers_a_bug_with_internal_and_logs_the_traceback(
    rest: tuple[Runtime, httpx.AsyncClient], caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    rt, client = rest
    monkeypatch.setattr(rt.store, "fetch", _raises(TypeError("secret detail of the bug")))
    monkeypatch.setattr(rt.presence, "users", _raises(KeyError("secret detail of the bug")))
    with caplog.at_level(logging.ERROR, logger="runtime.rest"):
        for path in ("/api/channels/room:a/messages", "/api/channels/room:a/presence"):
            response = await client.get(path)
            assert response.status_code == 500
            assert response.json() == {"error": "internal", "message": "internal error"}
    assert caplog.text.count("Traceback") == 2 and "secret detail of the bug" in caplog.text


async def test_rest_answers_an_outage_with_unavailable(
    rest: tuple[Runtime, httpx.AsyncClient], monkeypatch: pytest.MonkeyPatch
) -> None:
    rt, client = rest
    monkeypatch.setattr(rt.store, "fetch", _raises(StoreUnavailable("ConnectionRefusedError")))
    monkeypatch.setattr(rt.presence, "users", _raises(RedisConnectionError("Connection refused")))
    history = await client.get("/api/channels/room:a/messages")
    assert (history.status_code, history.json()["error"]) == (503, "unavailable")
    presence = await client.get("/api/channels/room:a/presence")
    assert presence.status_code == 503
    assert presence.json() == {"error": "unavailable", "message": "presence store unavailable"}


class _Hub:
    def __init__(self, exc: Exception) -> None:
        self.exc = exc

    async def join(self, sub: Any, since: int | None) -> int:
        raise self.exc


@pytest.mark.parametrize("exc", [StoreUnavailable("ConnectionRefusedError"), TypeError("a bug")], ids=_kind)
async def test_a_failed_subscribe_leaves_no_half_subscription(exc: Exception) -> None:
    """An outage is refused as ``unavailable``; a bug propagates (the endpoint answers ``internal``);
    either way the channel can be subscribed again, not refused as already subscribed."""
    host = SimpleNamespace(settings=Settings(), hub=_Hub(exc), store=None, presence=None)
    claims = Claims("alice", 0.0, ("room:*",), ("room:*",))
    out = cast(Outbox, SimpleNamespace(closing=False))  # a stand-in: only its closing flag is read
    subs = Subscriptions(out, host, "m1", claims)
    for _ in range(2):
        if isinstance(exc, StoreUnavailable):
            with pytest.raises(ProtocolError) as refused:
                await subs.subscribe(Subscribe("room:a", "r1", None))
            assert refused.value.error.code == "unavailable"
        else:
            with pytest.raises(TypeError):
                await subs.subscribe(Subscribe("room:a", "r1", None))
        assert len(subs) == 0
