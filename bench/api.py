"""API benchmark: REST publish and history at a set request rate, against PostgreSQL and Redis.

Open loop: requests are scheduled at fixed times, whatever the server's pace, and latency runs from
the scheduled time (so a slow server cannot hide its queueing, the "coordinated omission" trap). The
client is a small keep-alive HTTP/1.1 pool on asyncio protocols, cheap enough not to be what limits.
Database queries/s come from PostgreSQL itself (``pg_stat_statements``), not from our own counting.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import secrets
import tempfile
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import psutil

from bench import procs
from bench.common import merge_hist, percentiles
from bench.fanout import Server, ServerSpec, server_spec
from bench.loadclient import bucket, raise_nofile
from bench.pgstat import create_extension, enable_pg_stat_statements, pg_counters, pg_top
from bench.servers import PostgresServer, RedisServer, free_port
from runtime.auth import issue

P99_LIMIT_MS = 50.0


@dataclass
class ApiParams:
    rate: float = 1000.0  # requests/s
    duration: float = 30.0
    workers: int = 2
    read_ratio: float = 0.5  # share of history GETs; the rest are publishes
    channels: int = 100
    prefill: int = 100  # messages per channel before the measured window
    limit: int = 50  # history page size
    pool: int = 64  # keep-alive connections
    extra_rates: tuple[float, ...] = ()  # further windows (capacity), after the main one
    timeout: float = 10.0
    profile: str | None = None  # directory: py-spy records the server processes in the first window


# The columns every report of an API window starts with (terminal table and Markdown).
WINDOW_HEADERS = ["target req/s", "done req/s", "p50 ms", "p99 ms", "publish p99", "history p99", "errors"]


def window_row(w: dict[str, Any]) -> list[Any]:
    return [
        w["target_rps"],
        w["throughput_rps"],
        w["p50_ms"],
        w["p99_ms"],
        w["publish"]["p99_ms"],
        w["history"]["p99_ms"],
        w["errors"],
    ]


class HttpConn(asyncio.Protocol):
    """One keep-alive HTTP/1.1 connection, one request at a time."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buf = bytearray()
        self.waiter: asyncio.Future[tuple[int, bytes, bytes]] | None = None
        self.lost = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # a TCP connection's transport

    def connection_lost(self, exc: Exception | None) -> None:
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(ConnectionError(f"connection lost: {exc}"))
        if not self.lost.done():
            self.lost.set_result(None)

    def data_received(self, data: bytes) -> None:
        self.buf += data
        end = self.buf.find(b"\r\n\r\n")
        if end < 0:
            return
        head = bytes(self.buf[:end])
        length = 0
        for line in head.split(b"\r\n")[1:]:
            if line[:15].lower() == b"content-length:":
                length = int(line[15:])
        if len(self.buf) < end + 4 + length:
            return
        body = bytes(self.buf[end + 4 : end + 4 + length])
        del self.buf[: end + 4 + length]
        status = int(head[9:12])
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result((status, head, body))

    async def request(self, raw: bytes, timeout: float) -> tuple[int, bytes, bytes]:
        if self.transport is None or self.transport.is_closing():
            raise ConnectionResetError("keep-alive connection closed by the server")
        self.waiter = asyncio.get_running_loop().create_future()
        self.transport.write(raw)
        return await asyncio.wait_for(self.waiter, timeout)


def _request(method: str, path: str, token: str, body: bytes = b"") -> bytes:
    head = (
        f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


class Load:
    """Schedules requests at a fixed rate over a pool of connections and records what came back."""

    def __init__(self, port: int, token: str, params: ApiParams) -> None:
        self.port = port
        self.token = token
        self.p = params
        self.idle: list[HttpConn] = []
        self.waiting: deque[tuple[float, str, bytes]] = deque()
        self.latest: dict[str, int] = {}
        self.reset()

    def reset(self) -> None:
        self.hist: dict[str, dict[int, int]] = {"publish": {}, "history": {}}
        self.status: dict[str, int] = {}
        self.errors: list[str] = []
        self.cache_hits = 0
        self.reconnects = 0
        self.done = 0
        self.inflight = 0

    async def open(self) -> None:
        loop = asyncio.get_running_loop()
        for _ in range(self.p.pool):
            _, conn = await loop.create_connection(HttpConn, "127.0.0.1", self.port)
            self.idle.append(conn)

    def close(self) -> None:
        for c in self.idle:
            if c.transport is not None:
                c.transport.close()

    def make(self, rng: random.Random) -> tuple[str, bytes]:
        ch = f"room:api-{rng.randrange(self.p.channels)}"
        if rng.random() < self.p.read_ratio:
            top = max(0, self.latest.get(ch, 0) - self.p.limit)
            since = rng.randint(0, top)
            return "history", _request(
                "GET", f"/api/channels/{ch}/messages?since={since}&limit={self.p.limit}", self.token
            )
        body = json.dumps({"data": {"t": time.time(), "text": "x" * 64}}).encode()
        return "publish", _request("POST", f"/api/channels/{ch}/messages", self.token, body)

    async def _serve(self, conn: HttpConn, scheduled: float, kind: str, raw: bytes) -> None:
        self.inflight += 1
        loop = asyncio.get_running_loop()
        while True:
            try:
                try:
                    status, head, body = await conn.request(raw, self.p.timeout)
                except ConnectionResetError:  # idle keep-alive closed by the server: reconnect, as clients do
                    _, conn = await loop.create_connection(HttpConn, "127.0.0.1", self.port)
                    self.reconnects += 1
                    status, head, body = await conn.request(raw, self.p.timeout)
                key = str(status)
                if kind == "publish" and status == 201:
                    doc = json.loads(body)
                    self.latest[doc["channel"]] = max(self.latest.get(doc["channel"], 0), doc["offset"])
                elif kind == "history" and b"x-cache: hit" in head.lower():
                    self.cache_hits += 1
            except (TimeoutError, ConnectionError, ValueError, RuntimeError) as exc:
                key = type(exc).__name__
                if len(self.errors) < 5:
                    self.errors.append(f"{kind}: {key}: {exc}")
                with contextlib.suppress(Exception):
                    if conn.transport is not None:
                        conn.transport.close()
                try:
                    _, conn = await loop.create_connection(HttpConn, "127.0.0.1", self.port)
                except OSError as exc2:
                    key = f"reconnect {type(exc2).__name__}"
                    conn = HttpConn()  # closed placeholder: the next request on it reconnects
            self.status[key] = self.status.get(key, 0) + 1
            h = self.hist[kind]
            b = bucket((time.monotonic() - scheduled) * 1000)
            h[b] = h.get(b, 0) + 1
            self.done += 1
            if not self.waiting:
                break
            scheduled, kind, raw = self.waiting.popleft()
        self.inflight -= 1
        self.idle.append(conn)

    async def fill(self, count: int) -> int:
        """Publish ``count`` messages round-robin over the channels, one request per idle connection."""
        conns, self.idle = self.idle, []
        todo = iter(range(count))

        async def worker(conn: HttpConn) -> None:
            for i in todo:
                ch = f"room:api-{i % self.p.channels}"
                body = json.dumps({"data": {"t": time.time(), "text": "x" * 64}}).encode()
                status, _, raw = await conn.request(
                    _request("POST", f"/api/channels/{ch}/messages", self.token, body), 60
                )
                if status == 201:
                    self.latest[ch] = max(self.latest.get(ch, 0), json.loads(raw)["offset"])
            self.idle.append(conn)

        await asyncio.gather(*(worker(c) for c in conns))
        return count

    async def run(self, rate: float, duration: float, seed: int = 1) -> float:
        rng = random.Random(seed)
        start = time.monotonic()
        sent = 0
        tasks: set[asyncio.Task[None]] = set()
        while True:
            elapsed = time.monotonic() - start
            if elapsed >= duration:
                break
            due = int(elapsed * rate) + 1 - sent
            for _ in range(max(0, due)):
                scheduled = start + sent / rate
                kind, raw = self.make(rng)
                sent += 1
                if self.idle:
                    t = asyncio.create_task(self._serve(self.idle.pop(), scheduled, kind, raw))
                    tasks.add(t)
                    t.add_done_callback(tasks.discard)
                else:
                    self.waiting.append((scheduled, kind, raw))
            await asyncio.sleep(0.001)
        publish_s = time.monotonic() - start
        deadline = time.monotonic() + self.p.timeout + 5
        while (tasks or self.waiting) and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        unfinished = len(self.waiting) + len(tasks)
        if unfinished:  # still queued or in flight at the deadline: count them as failed
            self.status["unfinished"] = self.status.get("unfinished", 0) + unfinished
            self.done += unfinished
            self.waiting.clear()
            for t in list(tasks):
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        return publish_s


async def run_api(params: ApiParams, log: Any = print) -> dict[str, Any]:
    """Start Redis, PostgreSQL and the runtime; prefill; run the windows; stop everything."""
    raise_nofile()
    logdir = Path(tempfile.mkdtemp(prefix="bench-logs-"))
    redis = RedisServer()
    postgres = PostgresServer()
    server: Server | None = None
    result: dict[str, Any] = {"params": params.__dict__ | {"extra_rates": list(params.extra_rates)}}
    load: Load | None = None
    try:
        redis.start()
        await asyncio.to_thread(postgres.init)
        enable_pg_stat_statements(postgres)
        await asyncio.to_thread(postgres.start)
        db_url = postgres.create_database("bench_api")
        await create_extension(db_url)
        secret = secrets.token_urlsafe(32)
        port = free_port()
        spec: ServerSpec = server_spec("ours", port, params.workers, redis.url, db_url, secret)
        server = Server(spec, port, params.workers, logdir)
        log(f"[api] starting runtime ({params.workers} workers) on port {port}")
        await asyncio.to_thread(server.start)
        token = issue(secret, "bench-api", ["room:*"], ["room:*"], ttl=7200)
        load = Load(port, token, params)
        await load.open()
        # Prefill, closed loop (as fast as the server answers): every channel gets history to page through.
        prefill_requests = await load.fill(params.channels * params.prefill)
        log(f"[api] prefilled {sum(load.latest.values()):,} messages over {len(load.latest)} channels")
        windows = []
        for rate in (params.rate, *params.extra_rates):
            load.reset()
            windows.append(await _window(load, server, redis, postgres, db_url, rate, params.duration))
            log(_line(windows[-1]))
        result["windows"] = windows
        result["db_top_statements"] = await pg_top(db_url)
        result["requests_total"] = sum(w["requests"] for w in windows) + prefill_requests
        result["server_alive"] = server.proc.poll() is None
    finally:
        if load is not None:
            load.close()
        if server is not None:
            result["server_log_tail"] = server.tail()[-2000:]
            server.stop()
        redis.stop()
        postgres.cleanup()
    return result


def _line(w: dict[str, Any]) -> str:
    return (
        f"[api] {w['target_rps']:,.0f} req/s target: {w['throughput_rps']:,.0f} req/s done  "
        f"p50 {w['p50_ms']} ms  p99 {w['p99_ms']} ms  errors {w['errors']}  "
        f"db {w['db_queries_per_s']:,.0f} queries/s  {'PASS' if w['pass'] else 'FAIL'}"
    )


async def _window(
    load: Load, server: Server, redis: Any, postgres: Any, db_url: str, rate: float, duration: float
) -> dict[str, Any]:
    pg_pid = int((postgres.data / "postmaster.pid").read_text().splitlines()[0])
    groups = {
        "server": server.processes(),
        "redis": procs.tree(redis.process.pid),
        "db": procs.tree(pg_pid),
        "client": [psutil.Process()],
    }
    before = {k: procs.cpu_seconds(v) for k, v in groups.items()}
    per_proc0 = [procs.cpu_seconds([q]) for q in groups["server"]]
    q0, x0 = await pg_counters(db_url)
    t0 = time.monotonic()
    spies = procs.spy(groups["server"], duration, load.p.profile, "api") if load.p.profile else []
    publish_s = await load.run(rate, duration, seed=int(rate))
    wall = time.monotonic() - t0
    for spy in spies:
        await asyncio.to_thread(spy.wait, 30)
    q1, x1 = await pg_counters(db_url)
    groups["db"] = procs.tree(pg_pid)  # backends come and go; count those alive now as well
    cpu = {k: procs.cpu_seconds(v) - before[k] for k, v in groups.items()}
    overall = merge_hist([load.hist["publish"], load.hist["history"]])
    pct = percentiles(overall)
    ok = sum(v for k, v in load.status.items() if k in ("200", "201"))
    errors = load.done - ok
    reads = sum(load.hist["history"].values())
    win: dict[str, Any] = {
        "target_rps": rate,
        "duration_s": round(publish_s, 2),
        "requests": load.done,
        "throughput_rps": round(load.done / publish_s, 1),
        "ok": ok,
        "errors": errors,
        "status": load.status,
        "error_samples": load.errors,
        **pct,
        "publish": percentiles(load.hist["publish"]),
        "history": percentiles(load.hist["history"]),
        "keepalive_reconnects": load.reconnects,
        "history_cache_hit_ratio": round(load.cache_hits / reads, 3) if reads else None,
        "db_queries": q1 - q0,
        "db_queries_per_s": round((q1 - q0) / wall, 1),
        "db_data_queries_per_s": round((x1 - x0) / wall, 1),
        "db_queries_per_request": round((q1 - q0) / max(load.done, 1), 2),
        "server_cpu_cores": round(cpu["server"] / wall, 3),
        "server_cpu_cores_by_process": [
            round((procs.cpu_seconds([q]) - c0) / wall, 3)
            for q, c0 in zip(groups["server"], per_proc0, strict=True)
        ],
        "server_cpu_us_per_request": round(cpu["server"] / max(load.done, 1) * 1e6, 1),
        "db_cpu_cores": round(cpu["db"] / wall, 3),
        "redis_cpu_cores": round(cpu["redis"] / wall, 3),
        "client_cpu_cores": round(cpu["client"] / wall, 3),
    }
    win["pass"] = bool(
        errors == 0
        and load.done >= 0.98 * rate * publish_s
        and pct["p99_ms"] is not None
        and pct["p99_ms"] < P99_LIMIT_MS
    )
    return win
