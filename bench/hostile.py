"""Hostile HTTP clients against a running server, and what a well-behaved client sees meanwhile.

One runtime server (one worker, Redis and PostgreSQL on loopback) and a well-behaved WebSocket client
(its own token subject) that publishes at a steady rate to a channel it is subscribed to and times each
round trip (publish sent to its own message received). Phases, one after the other:

- ``baseline``: nothing else;
- ``body-declared``: an authenticated publish declaring a 300 MB Content-Length, then sending it;
- ``body-chunked``: the same 300 MB as a chunked body (no length to refuse up front);
- ``slow-headers``: 1,000 sockets that send part of their headers and then one byte every 5 s;
  counted 30 s later (open, or answered 408 and closed);
- ``rest-flood``: 400 REST publishes from one subject within 1 s.

Per phase: the server's RSS before and at its peak (sampled every 20 ms), the attack's outcome, and
the well-behaved client's round trips (p50, p99, max, errors). ``python -m bench hostile`` prints the
table and writes JSON; ``--quick`` runs tiny sizes (as the smoke test does).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from typing import Any, cast

import websockets
from websockets.typing import Subprotocol

from bench import procs
from bench.api import HttpConn, _request
from bench.common import percentiles, table
from bench.loadclient import bucket
from bench.servers import RuntimeServer, postgres_server, redis_server
from runtime.auth import issue

Log = Callable[[str], None]


@dataclass(frozen=True)
class HostileParams:
    body_mb: int = 300
    slow_sockets: int = 1000
    slow_wait: float = 30.0  # seconds after the slow sockets opened that they are counted
    rest_publishes: int = 400
    rest_window: float = 1.0  # seconds the REST publishes are spread over
    probe_rate: float = 10.0  # the well-behaved client's publishes per second
    baseline: float = 3.0  # seconds of the baseline phase
    header_timeout: float | None = None  # STARS_HEADER_TIMEOUT for the server (None: its default)


QUICK = HostileParams(
    body_mb=8,
    slow_sockets=20,
    slow_wait=3.0,
    rest_publishes=150,
    rest_window=0.5,
    baseline=1.0,
    header_timeout=1.0,
)


class RssSampler:
    """Peak RSS of a process tree, sampled in a thread (the event loop is busy with the attack)."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.peak = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def now_mb(self) -> float:
        return round(procs.memory(procs.tree(self.pid))["rss"] / 2**20, 1)

    @contextlib.contextmanager
    def watch(self) -> Iterator[None]:
        self._stop = threading.Event()
        self.peak = procs.memory(procs.tree(self.pid))["rss"]

        def run() -> None:
            while not self._stop.wait(0.02):
                self.peak = max(self.peak, procs.memory(procs.tree(self.pid))["rss"])
            self.peak = max(self.peak, procs.memory(procs.tree(self.pid))["rss"])

        self._thread = threading.Thread(target=run, daemon=True)
        self._thread.start()
        try:
            yield
        finally:
            self._stop.set()
            self._thread.join()

    @property
    def peak_mb(self) -> float:
        return round(self.peak / 2**20, 1)


class Probe:
    """The well-behaved client: publish, wait for its own message, record the round trip."""

    def __init__(self, url: str, token: str, channel: str, rate: float) -> None:
        self.url, self.token, self.channel, self.rate = url, token, channel, rate
        self.rtts: list[float] = []
        self.errors: Counter[str] = Counter()
        self.stop = asyncio.Event()

    def take(self) -> dict[str, Any]:
        """Round trips and errors since the last take (one phase)."""
        hist: dict[int, int] = {}
        for ms in self.rtts:
            hist[bucket(ms)] = hist.get(bucket(ms), 0) + 1
        out = {"round_trips": len(self.rtts), **percentiles(hist), "errors": dict(self.errors)}
        self.rtts, self.errors = [], Counter()
        return out

    async def run(self) -> None:
        while not self.stop.is_set():
            try:
                async with websockets.connect(
                    self.url, subprotocols=[Subprotocol("bearer"), Subprotocol(self.token)], open_timeout=10
                ) as ws:
                    await ws.send(json.dumps({"type": "subscribe", "channel": self.channel}))
                    await asyncio.wait_for(ws.recv(), 10)
                    await self._loop(ws)
            except Exception as exc:  # counted: the point is what the client sees
                self.errors[type(exc).__name__] += 1
                await asyncio.sleep(0.2)

    async def _loop(self, ws: Any) -> None:
        n = 0
        while not self.stop.is_set():
            n += 1
            sent = time.monotonic()
            await ws.send(json.dumps({"type": "publish", "channel": self.channel, "data": n, "id": n}))
            while True:
                frame = json.loads(await asyncio.wait_for(ws.recv(), 10))
                if frame["type"] == "error":
                    self.errors[frame["code"]] += 1
                    break
                if frame["type"] == "message" and frame["data"] == n:
                    self.rtts.append((time.monotonic() - sent) * 1000)
                    break
            await asyncio.sleep(max(0.0, 1.0 / self.rate - (time.monotonic() - sent)))


# -- attacks -------------------------------------------------------------------------------------------


def _publish_head(port: int, token: str, framing: str) -> bytes:
    return (
        f"POST /api/channels/hostile:body/messages HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        f"Authorization: Bearer {token}\r\nContent-Type: application/json\r\n{framing}\r\n"
    ).encode()


def big_body(port: int, token: str, size: int, chunked: bool) -> dict[str, Any]:
    """Send a ``size``-byte publish as fast as the server takes it; stop when it answers or closes."""
    block = b"x" * 65536
    framing = "Transfer-Encoding: chunked\r\n" if chunked else f"Content-Length: {size}\r\n"
    piece = b"%x\r\n%s\r\n" % (len(block), block) if chunked else block
    sent, answer = 0, b""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(_publish_head(port, token, framing))
        s.setblocking(False)
        try:
            while sent < size and not answer:
                with contextlib.suppress(BlockingIOError):
                    answer = s.recv(4096)
                    if not answer:
                        break
                s.setblocking(True)
                s.settimeout(10)
                s.sendall(piece)
                s.setblocking(False)
                sent += len(block)
        except (BrokenPipeError, ConnectionResetError, TimeoutError):
            pass
        if not answer:
            s.setblocking(True)
            s.settimeout(5)
            with contextlib.suppress(OSError):
                answer = s.recv(4096)
    status = int(answer[9:12]) if answer.startswith(b"HTTP/1.1 ") else None
    return {"status": status, "body_mb_sent": round(sent / 2**20, 2), "body_mb": round(size / 2**20)}


class SlowSocket(asyncio.Protocol):
    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.closed_at: float | None = None
        self.answer = b""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # a TCP connection's transport
        self.transport.write(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")

    def data_received(self, data: bytes) -> None:
        self.answer += data[:64]

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed_at = time.monotonic()


async def slow_headers(port: int, count: int, wait: float) -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    start = time.monotonic()
    socks: list[SlowSocket] = []
    refused = 0
    for _ in range(count):
        try:
            _, proto = await loop.create_connection(SlowSocket, "127.0.0.1", port)
            socks.append(proto)
        except OSError:
            refused += 1
    while time.monotonic() - start < wait:
        await asyncio.sleep(min(5.0, wait - (time.monotonic() - start)))
        for s in socks:  # one more byte now and then, as a slowloris client does
            if s.closed_at is None and s.transport is not None:
                s.transport.write(b"a")
    still_open = [s for s in socks if s.closed_at is None]
    closed = [s.closed_at - start for s in socks if s.closed_at is not None]
    for s in still_open:
        if s.transport is not None:
            s.transport.abort()
    return {
        "sockets": count,
        "refused_at_connect": refused,
        "still_open": len(still_open),
        "answered_408": sum(s.answer.startswith(b"HTTP/1.1 408") for s in socks),
        "closed_max_s": round(max(closed), 2) if closed else None,
        "counted_after_s": round(time.monotonic() - start, 1),
    }


async def rest_flood(port: int, token: str, count: int, window: float) -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    conns: list[HttpConn] = []
    for _ in range(20):
        _, conn = await loop.create_connection(HttpConn, "127.0.0.1", port)
        conns.append(conn)
    statuses: Counter[str] = Counter()
    start = time.monotonic()

    async def one(i: int) -> None:
        await asyncio.sleep(max(0.0, start + i * window / count - time.monotonic()))
        conn = conns[i % len(conns)]
        while conn.waiter is not None and not conn.waiter.done():  # one request at a time per connection
            await asyncio.sleep(0.001)
        raw = _request(
            "POST", "/api/channels/hostile:flood/messages", token, json.dumps({"data": i}).encode()
        )
        try:
            status, _, _ = await conn.request(raw, 10)
            statuses[str(status)] += 1
        except (OSError, TimeoutError) as exc:
            statuses[type(exc).__name__] += 1

    await asyncio.gather(*(one(i) for i in range(count)))
    elapsed = time.monotonic() - start
    for conn in conns:
        if conn.transport is not None:
            conn.transport.close()
    return {
        "sent": count,
        "accepted": statuses.get("201", 0),
        "statuses": dict(statuses),
        "seconds": round(elapsed, 2),
    }


# -- the run -------------------------------------------------------------------------------------------------


async def run_hostile(params: HostileParams, log: Log = print) -> dict[str, Any]:
    secret = secrets.token_urlsafe(32)
    with redis_server() as redis, postgres_server() as pg:
        env = {"STARS_JWT_SECRET": secret, "STARS_REDIS_URL": redis.url, "STARS_DATABASE_URL": pg.url}
        if params.header_timeout is not None:
            env["STARS_HEADER_TIMEOUT"] = str(params.header_timeout)
        server = RuntimeServer(env).start()
        try:
            rss = RssSampler(server.pid)
            url = f"ws://127.0.0.1:{server.port}/ws"
            probe = Probe(
                url, issue(secret, "probe", ["hostile:*"], ["hostile:*"]), "hostile:probe", params.probe_rate
            )
            attacker = issue(secret, "attacker", ["hostile:*"], ["hostile:*"])
            task = asyncio.create_task(probe.run())
            await asyncio.sleep(1.0)
            probe.take()  # connecting is not part of any phase
            size = params.body_mb * 2**20
            attacks: list[tuple[str, Callable[[], Any]]] = [
                ("baseline", lambda: asyncio.sleep(params.baseline, {})),
                ("body-declared", lambda: asyncio.to_thread(big_body, server.port, attacker, size, False)),
                ("body-chunked", lambda: asyncio.to_thread(big_body, server.port, attacker, size, True)),
                ("slow-headers", lambda: slow_headers(server.port, params.slow_sockets, params.slow_wait)),
                (
                    "rest-flood",
                    lambda: rest_flood(server.port, attacker, params.rest_publishes, params.rest_window),
                ),
            ]
            phases = []
            for name, attack in attacks:
                log(f"== hostile: {name}")
                before = rss.now_mb()
                with rss.watch():
                    outcome = await attack()
                phase = {"phase": name, "rss_before_mb": before, "rss_peak_mb": rss.peak_mb, **outcome}
                phase["probe"] = probe.take()
                log("   " + json.dumps(phase))
                phases.append(phase)
                await asyncio.sleep(1.0)  # the rate bucket refills, sockets settle
            probe.stop.set()
            await asyncio.wait_for(task, 15)
        finally:
            server.stop()
    return {"params": asdict(params), "phases": phases}


def print_table(phases: list[dict[str, Any]]) -> None:
    rows = []
    for p in phases:
        if p["phase"].startswith("body"):
            outcome = f"HTTP {p['status']} after {p['body_mb_sent']} of {p['body_mb']} MB"
        elif p["phase"] == "slow-headers":
            outcome = f"{p['still_open']} of {p['sockets']} open after {p['counted_after_s']} s"
        elif p["phase"] == "rest-flood":
            outcome = f"{p['accepted']} of {p['sent']} accepted in {p['seconds']} s"
        else:
            outcome = "-"
        pr = p["probe"]
        rows.append(
            [
                p["phase"],
                outcome,
                p["rss_before_mb"],
                p["rss_peak_mb"],
                pr["round_trips"],
                pr["p50_ms"],
                pr["p99_ms"],
                pr["max_ms"],
                sum(pr["errors"].values()),
            ]
        )
    headers = [
        "phase",
        "attack",
        "RSS before MB",
        "RSS peak MB",
        "probe trips",
        "p50 ms",
        "p99 ms",
        "max ms",
        "probe errors",
    ]
    print()
    print(table(headers, rows))
