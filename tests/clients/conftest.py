"""Fixtures for the client tests: one cluster per module (Redis, PostgreSQL, two runtime servers, a
TCP proxy in front of the first), healed between tests, and each client behind one interface."""

from __future__ import annotations

import contextlib
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "clients" / "python"))

from bench.servers import PostgresServer, RedisServer, RuntimeServer
from tests.browser import chromium
from tests.clients.handles import JsHandle, PyHandle
from tests.clients.proxy import TcpProxy
from tests.runtime.conftest import postgres  # noqa: F401  (fixture)
from tests.runtime.helpers import SECRET


@dataclass
class Cluster:
    redis: RedisServer
    a: RuntimeServer
    b: RuntimeServer
    proxy: TcpProxy

    def url(self, server: RuntimeServer | TcpProxy) -> str:
        return f"ws://127.0.0.1:{server.port}/ws"

    def heal(self) -> None:
        """What a fault test left down is brought back before the next test."""
        if self.redis.process is None:
            self.redis.start()
        for server in (self.a, self.b):
            if server.process is None or server.process.poll() is not None:
                server.start()
        self.proxy.refuse = False


@pytest.fixture(scope="module")
def cluster(postgres: PostgresServer) -> Iterator[Cluster]:  # noqa: F811
    redis = RedisServer()
    redis.start()
    env = {
        "STARS_JWT_SECRET": SECRET,
        "STARS_REDIS_URL": redis.url,
        "STARS_DATABASE_URL": postgres.create_database("c" + uuid.uuid4().hex[:12]),
        "STARS_DB_TIMEOUT": "2",
    }
    a, b = RuntimeServer(env), RuntimeServer(env)
    # The JavaScript client's page is served by b and opens sockets to a and the proxy: a cross-site
    # Origin that the servers admit only because it is listed (the default admits a server's own).
    for server in (a, b):
        server.env["STARS_ALLOWED_ORIGINS"] = b.http
    proxy = TcpProxy(a.port)
    try:
        a.start()
        b.start()
        proxy.start()
        yield Cluster(redis, a, b, proxy)
    finally:
        for stop in (proxy.stop, a.stop, b.stop, redis.stop):
            with contextlib.suppress(Exception):
                stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as launched:
        yield launched


@pytest.fixture(params=["python", pytest.param("js", marks=pytest.mark.browser)])
def handle(request: pytest.FixtureRequest, cluster: Cluster) -> Iterator[PyHandle | JsHandle]:
    """Each client in turn; the JavaScript one in headless Chromium (marked ``browser``)."""
    cluster.heal()
    if request.param == "js":
        made: PyHandle | JsHandle = JsHandle(request.getfixturevalue("browser"), cluster.b.http)
    else:
        made = PyHandle()
    try:
        yield made
        assert made.page_errors() == [], "no page error and no unhandled rejection"
    finally:
        with contextlib.suppress(Exception):
            made.close()


def until(handle: Any, condition: Any, timeout: float = 10.0) -> bool:
    """Poll ``condition()`` until true or ``timeout`` (a loaded machine delivers late, not never)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        handle.wait(0.05)
    return True


def channel() -> str:
    return "room:" + uuid.uuid4().hex[:10]
