"""Fixtures: real Redis and PostgreSQL for the session, runtime server processes per test."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from bench.servers import PostgresServer, RedisServer, RuntimeServer, postgres_server, redis_server
from tests.runtime.helpers import SECRET


@pytest.fixture(scope="module")
def redis() -> Iterator[RedisServer]:
    """Per module, so it is stopped before other suites of the same session (the bench smoke tests
    check that nothing of theirs is left running, and a redis-server of ours would look like theirs)."""
    with redis_server() as server:
        yield server


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    with postgres_server() as server:
        yield server


@pytest.fixture
def database_url(postgres: PostgresServer) -> str:
    """A fresh database per test, so offsets start at 1 and tests cannot see each other."""
    return postgres.create_database("t" + uuid.uuid4().hex[:12])


@pytest.fixture
def start_runtime() -> Iterator[Callable[..., RuntimeServer]]:
    started: list[RuntimeServer] = []

    def start(
        env: dict[str, str] | None = None,
        workers: int = 1,
        cwd: Path | None = None,
        log_level: str | None = "warning",
    ) -> RuntimeServer:
        server = RuntimeServer(
            {"STARS_JWT_SECRET": SECRET, **(env or {})}, workers=workers, cwd=cwd, log_level=log_level
        )
        started.append(server)
        return server.start()

    yield start
    for server in started:
        with contextlib.suppress(Exception):
            server.stop()


@pytest.fixture
def services_env(redis: RedisServer, database_url: str) -> dict[str, str]:
    return {"STARS_REDIS_URL": redis.url, "STARS_DATABASE_URL": database_url}
