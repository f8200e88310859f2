"""Fixtures for the client tests: one cluster per module (Redis, PostgreSQL, two runtime servers, a
TCP proxy in front of the first), healed between tests, and each client behind one interface."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from typing import Any

import pytest

from bench.clients import cluster as clusters
from bench.clients.cluster import Cluster, channel
from bench.clients.handles import JsHandle, PyHandle
from bench.servers import PostgresServer
from tests.browser import chromium
from tests.runtime.conftest import postgres  # noqa: F401  (fixture)
from tests.runtime.helpers import SECRET

__all__ = ["Cluster", "channel", "until"]


@pytest.fixture(scope="module")
def cluster(postgres: PostgresServer) -> Iterator[Cluster]:  # noqa: F811
    with clusters.cluster(postgres, SECRET) as started:
        yield started


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as launched:
        yield launched


@pytest.fixture(params=["python", pytest.param("js", marks=pytest.mark.browser)])
def handle(request: pytest.FixtureRequest, cluster: Cluster) -> Iterator[PyHandle | JsHandle]:
    """Each client in turn; the JavaScript one in headless Chromium (marked ``browser``)."""
    cluster.heal()
    if request.param == "js":
        made: PyHandle | JsHandle = JsHandle(request.getfixturevalue("browser"), cluster.b.http, SECRET)
    else:
        made = PyHandle(SECRET)
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
