"""A local cluster for the client scenarios: Redis, two runtime servers on one PostgreSQL database and a
TCP proxy in front of the first, healed between scenarios."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

from bench.clients.proxy import TcpProxy
from bench.servers import PostgresServer, RedisServer, RuntimeServer


@dataclass
class Cluster:
    redis: RedisServer
    a: RuntimeServer
    b: RuntimeServer
    proxy: TcpProxy
    secret: str  # the servers' STARS_JWT_SECRET

    def url(self, server: RuntimeServer | TcpProxy) -> str:
        return f"ws://127.0.0.1:{server.port}/ws"

    def heal(self) -> None:
        """What a fault left down is brought back before the next scenario."""
        if self.redis.process is None:
            self.redis.start()
        for server in (self.a, self.b):
            if server.process is None or server.process.poll() is not None:
                server.start()
        self.proxy.refuse = False


@contextlib.contextmanager
def cluster(postgres: PostgresServer, secret: str) -> Iterator[Cluster]:
    """Started on a fresh database of ``postgres``; everything stopped on exit."""
    redis = RedisServer()
    redis.start()
    env = {
        "STARS_JWT_SECRET": secret,
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
        yield Cluster(redis, a, b, proxy, secret)
    finally:
        for stop in (proxy.stop, a.stop, b.stop, redis.stop):
            with contextlib.suppress(Exception):
                stop()


def channel() -> str:
    """A channel no earlier scenario used."""
    return "room:" + uuid.uuid4().hex[:10]
