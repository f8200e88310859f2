"""Fault scenarios with real servers on loopback, and the figures that show each guarantee holds.

Every scenario runs two runtime servers (2 workers each, or one server where that is the point)
sharing one Redis and one PostgreSQL, subscribers spread over them that reconnect with ``since``
after any close (to the next server when one is gone), and publishers that publish at a set rate with
one publish in flight per connection. Then the fault:

- ``kill9``: kill -9 every worker of server A (uvicorn's supervisor starts new ones);
- ``redis-down``: Redis killed, back after N s;
- ``postgres-down``: PostgreSQL stopped (immediate), back after N s;
- ``slow-consumers``: a third of the subscribers stop reading until the server closes them (4008);
- ``drain``: SIGTERM to server A (readyz 503, then 1001 to every socket);
- ``storm``: 5,000 clients connect and subscribe at once to one server, get a message each, leave;
  twice (the second burst shows whether the memory kept from the first is reused).

Per scenario: messages acknowledged, stored (REST history, afterwards), deliveries, lost (stored
messages a subscriber never received), duplicated, out of order, false acks (acknowledged but not
stored, or stored with other data), errors by code, time to resume (per subscriber: from the end of the
fault until it has every message acknowledged by then and the first one acknowledged after; p50 and
max), server RSS before and after,
and the servers' log lines per second. ``python -m bench faults`` prints the table and writes JSON.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
import json
import os
import secrets
import signal
import statistics
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import uvloop
import websockets

from bench import procs
from bench.common import table
from bench.loadclient import raise_nofile
from bench.servers import RuntimeServer, http_json, postgres_server, redis_server
from runtime.auth import issue

Log = Callable[[str], None]


@dataclass
class Scale:
    channels: int = 4
    subscribers: int = 24  # spread over the channels and servers
    publishers: int = 4
    rate: float = 100.0  # publishes per second, all publishers together
    before: float = 3.0  # seconds of traffic before the fault
    outage: float = 10.0  # seconds a service stays down
    after: float = 5.0  # seconds of traffic after the fault
    storm: int = 5000


FULL = Scale()
QUICK = Scale(
    channels=2, subscribers=8, publishers=2, rate=50.0, before=1.0, outage=2.0, after=1.5, storm=300
)


# -- clients -----------------------------------------------------------------------------------------------


@dataclass
class Subscriber:
    channel: str
    urls: list[str]  # ws URLs, tried in turn after a close
    stall: asyncio.Event | None = None  # slow consumer: on its next connection, read nothing until set
    stalled: asyncio.Event = field(default_factory=asyncio.Event)  # it has stopped reading
    got: dict[int, float] = field(default_factory=dict)  # offset -> arrival (monotonic)
    last: int = 0
    duplicates: int = 0
    out_of_order: int = 0
    closes: Counter[int] = field(default_factory=Counter)
    connects: int = 0
    reconnect: asyncio.Event = field(default_factory=asyncio.Event)  # drop the connection, come back

    async def run(self, stop: asyncio.Event) -> None:
        for url in itertools.cycle(self.urls):
            if stop.is_set():
                return
            try:
                async with websockets.connect(url, open_timeout=10, max_size=2**22, max_queue=4) as ws:
                    self.connects += 1
                    await ws.send(
                        json.dumps({"type": "subscribe", "channel": self.channel, "since": self.last})
                    )
                    if self.stall is not None:  # a consumer that stops reading for a while (once)
                        release, self.stall = self.stall, None
                        ws.transport.pause_reading()
                        self.stalled.set()
                        await release.wait()
                        ws.transport.resume_reading()
                    while not stop.is_set():
                        if self.reconnect.is_set():
                            self.reconnect.clear()
                            break
                        try:
                            raw = await asyncio.wait_for(ws.recv(), 0.5)
                        except TimeoutError:
                            continue
                        self.on_frame(json.loads(raw))
                    else:
                        return
            except websockets.ConnectionClosed as closed:
                self.closes[closed.rcvd.code if closed.rcvd else 1006] += 1
            except (OSError, TimeoutError, websockets.InvalidStatus, websockets.InvalidHandshake):
                self.closes[0] += 1  # refused (server gone or draining): try the next one
            await asyncio.sleep(0.1)

    def on_frame(self, frame: dict[str, Any]) -> None:
        if frame.get("type") != "message":
            return
        offset = frame["offset"]
        if offset in self.got:
            self.duplicates += 1
        elif offset < self.last:
            self.out_of_order += 1
        self.got.setdefault(offset, time.monotonic())
        self.last = max(self.last, offset)


@dataclass
class Publisher:
    name: str
    channels: list[str]
    urls: list[str]
    rate: float
    pad: int = 0  # bytes of padding in each message
    acked: dict[tuple[str, int], tuple[str, float]] = field(default_factory=dict)  # -> (message id, time)
    failed: dict[str, str] = field(default_factory=dict)  # message id -> error code
    unanswered: set[str] = field(default_factory=set)  # sent, connection lost before the reply
    errors: Counter[str] = field(default_factory=Counter)

    async def run(self, stop: asyncio.Event) -> None:
        n = 0
        for url in itertools.cycle(self.urls):
            if stop.is_set():
                return
            try:
                async with websockets.connect(url, open_timeout=10) as ws:
                    next_at = time.monotonic()
                    while not stop.is_set():
                        next_at += 1.0 / self.rate
                        await asyncio.sleep(max(0.0, next_at - time.monotonic()))
                        n += 1
                        ident = f"{self.name}-{n}"
                        channel = self.channels[n % len(self.channels)]
                        data = {"m": ident, "pad": incompressible(self.pad)} if self.pad else {"m": ident}
                        frame = {"type": "publish", "channel": channel, "id": ident, "data": data}
                        self.unanswered.add(ident)
                        await ws.send(json.dumps(frame))
                        while True:
                            reply = json.loads(await asyncio.wait_for(ws.recv(), 30))
                            if reply.get("id") == ident:
                                break
                        self.unanswered.discard(ident)
                        if reply["type"] == "ack":
                            self.acked[(channel, reply["offset"])] = (ident, time.monotonic())
                        else:
                            self.failed[ident] = reply["code"]
                            self.errors[reply["code"]] += 1
                    return
            except (websockets.ConnectionClosed, OSError, TimeoutError, websockets.InvalidHandshake):
                await asyncio.sleep(0.1)


# -- the servers ------------------------------------------------------------------------------------------


class Cluster:
    """Redis, PostgreSQL and runtime servers on loopback; everything stopped on exit."""

    def __init__(self, servers: int, workers: int, env: dict[str, str] | None = None) -> None:
        self.n, self.workers, self.extra = servers, workers, env or {}
        self.secret = secrets.token_urlsafe(32)
        self.servers: list[RuntimeServer] = []
        self.stack = contextlib.ExitStack()

    def __enter__(self) -> Cluster:

        with self.stack:  # whatever started is stopped if a later server fails to start
            self.redis = self.stack.enter_context(redis_server())
            self.pg = self.stack.enter_context(postgres_server())
            env = {"STARS_JWT_SECRET": self.secret, "STARS_REDIS_URL": self.redis.url,
               "STARS_DATABASE_URL": self.pg.url, "STARS_LOG_LEVEL": "info", "STARS_DRAIN_GRACE": "0.5",
               "STARS_PUBLISH_RATE": "10000", "STARS_PUBLISH_BURST": "10000", "STARS_DB_TIMEOUT": "2",
               **self.extra}  # fmt: skip
            for _ in range(self.n):
                server = RuntimeServer(env, workers=self.workers, log_level=None)
                self.stack.callback(_quietly, server.stop)
                self.servers.append(server.start())
            self.stack = self.stack.pop_all()  # all started: stopped on exit instead
        return self

    def __exit__(self, *exc: object) -> None:
        self.stack.close()  # runtime servers first, then PostgreSQL and Redis

    def token(self) -> str:
        return issue(self.secret, "faults", ["f:*"], ["f:*"], ttl=3600)

    def rss_mb(self) -> float:
        trees = [
            p
            for s in self.servers
            if s.process and s.process.poll() is None
            for p in procs.tree(s.process.pid)
        ]
        return round(procs.memory(trees)["rss"] / 2**20, 1)

    def log_lines(self) -> int:
        return sum(len(s.logs().splitlines()) for s in self.servers)

    def serving(self) -> RuntimeServer:
        """A server that answers HTTP. A drained server's process can outlive its listening socket (it
        closes that first, then its connections), so a live process is not enough: it must answer."""
        for server in self.servers:
            if server.process and server.process.poll() is None:
                try:
                    status, _ = http_json("GET", f"{server.http}/healthz")
                except OSError:
                    continue
                if status == 200:
                    return server
        raise AssertionError("no server of the cluster answers /healthz")

    def history(self, channel: str) -> dict[int, Any]:
        server = self.serving()
        out: dict[int, Any] = {}
        since = 0
        while True:
            url = f"{server.http}/api/channels/{channel}/messages?since={since}&limit=1000"
            status, body = http_json("GET", url, token=self.token())
            assert status == 200, body
            out.update({m["offset"]: m["data"] for m in body["messages"]})
            if len(body["messages"]) < 1000:
                return out
            since = body["messages"][-1]["offset"]


def _quietly(stop: Callable[[], object]) -> None:
    with contextlib.suppress(Exception):
        stop()


# -- one scenario -------------------------------------------------------------------------------------------


Fault = Callable[[Cluster, list[Subscriber], list["Publisher"]], Any]


async def _traffic_scenario(
    name: str, scale: Scale, fault: Fault, log: Log, env: dict[str, str] | None = None
) -> dict[str, Any]:
    with Cluster(servers=2, workers=2, env=env) as cluster:
        urls = [s.ws(cluster.token()) for s in cluster.servers]
        channels = [f"f:{name}:{uuid.uuid4().hex[:6]}:{i}" for i in range(scale.channels)]
        subs = [
            Subscriber(channels[i % len(channels)], urls[i % 2 :] + urls[: i % 2])
            for i in range(scale.subscribers)
        ]
        pubs = [
            Publisher(f"p{i}", channels, urls[i % 2 :] + urls[: i % 2], scale.rate / scale.publishers)
            for i in range(scale.publishers)
        ]
        stop = asyncio.Event()
        tasks = [asyncio.create_task(s.run(stop)) for s in subs]
        await asyncio.sleep(0.5)  # subscribed before the first publish
        pub_stop = asyncio.Event()
        tasks += [asyncio.create_task(p.run(pub_stop)) for p in pubs]
        lines0, t0 = cluster.log_lines(), time.monotonic()
        await asyncio.sleep(scale.before)
        rss_before = cluster.rss_mb()
        log(f"[{name}] fault")
        await fault(cluster, subs, pubs)
        fault_end = time.monotonic()
        log(f"[{name}] fault over; traffic goes on for {scale.after:g} s")
        await asyncio.sleep(scale.after)
        pub_stop.set()
        await asyncio.sleep(0.5)
        acked = {k: v for p in pubs for k, v in p.acked.items()}
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:  # every subscriber caught up with every acknowledged offset
            last = {ch: max([o for (c, o) in acked if c == ch], default=0) for ch in channels}
            if all(s.last >= last[s.channel] for s in subs):
                break
            await asyncio.sleep(0.1)
        await asyncio.sleep(0.5)
        stop.set()
        await asyncio.gather(*tasks, return_exceptions=True)
        elapsed = time.monotonic() - t0
        stored = {ch: await asyncio.to_thread(cluster.history, ch) for ch in channels}
        rss_after = cluster.rss_mb()
        lines = cluster.log_lines() - lines0
    return _figures(name, subs, pubs, stored, fault_end, rss_before, rss_after, lines, elapsed)


def _figures(
    name: str,
    subs: list[Subscriber],
    pubs: list[Publisher],
    stored: dict[str, dict[int, Any]],
    fault_end: float,
    rss_before: float,
    rss_after: float,
    lines: int,
    elapsed: float,
) -> dict[str, Any]:
    acked = {k: v for p in pubs for k, v in p.acked.items()}
    false_acks = sum(
        1 for (ch, off), (ident, _) in acked.items() if (stored[ch].get(off) or {}).get("m") != ident
    )
    stored_ids = {d.get("m") for msgs in stored.values() for d in msgs.values() if isinstance(d, dict)}
    failed_but_stored = sum(1 for p in pubs for ident in p.failed if ident in stored_ids)
    lost = sum(len(set(stored[s.channel]) - set(s.got)) for s in subs)
    resume = []  # until it has all acknowledged before the fault ended, and the first one after
    for s in subs:
        mine = [(off, t) for (ch, off), (_, t) in acked.items() if ch == s.channel]
        due = [max((o for o, t in mine if t <= fault_end), default=0)]
        due += [min((o for o, t in mine if t > fault_end), default=0)]
        arrivals = [s.got.get(o) for o in due if o]
        if arrivals:
            late = [a for a in arrivals if a is not None]
            reached = max(late) if len(late) == len(arrivals) else float("inf")
            resume.append(max(0.0, reached - fault_end))
    finite = [r for r in resume if r != float("inf")]
    return {
        "scenario": name,
        "acknowledged": len(acked),
        "stored": sum(len(m) for m in stored.values()),
        "delivered": sum(len(s.got) for s in subs),
        "lost": lost,
        "duplicated": sum(s.duplicates for s in subs),
        "out_of_order": sum(s.out_of_order for s in subs),
        "false_acks": false_acks,
        "errors": dict(sum((p.errors for p in pubs), Counter())),
        "error_but_stored": failed_but_stored,
        "unanswered": sum(len(p.unanswered) for p in pubs),
        "closes": dict(sum((s.closes for s in subs), Counter())),
        "subscribers": len(subs),
        "subscribers_reconnected": sum(1 for s in subs if s.connects > 1),
        "resume_p50_s": round(statistics.median(finite), 3) if finite else None,
        "resume_max_s": round(max(resume), 3) if resume else None,
        "rss_before_mb": rss_before,
        "rss_after_mb": rss_after,
        "log_lines_per_s": round(lines / elapsed, 2) if elapsed else None,
    }


# -- the faults ----------------------------------------------------------------------------------------------


def _kill9(scale: Scale) -> Fault:
    async def fault(cluster: Cluster, _subs: list[Subscriber], _pubs: list[Publisher]) -> None:
        supervisor = cluster.servers[0].pid
        for worker in procs.tree(supervisor)[1:]:
            with contextlib.suppress(ProcessLookupError):
                os.kill(worker.pid, signal.SIGKILL)

    return fault


def _redis_down(scale: Scale) -> Fault:
    async def fault(cluster: Cluster, _subs: list[Subscriber], _pubs: list[Publisher]) -> None:
        cluster.redis.kill()
        await asyncio.sleep(scale.outage)
        await asyncio.to_thread(cluster.redis.start)

    return fault


def _postgres_down(scale: Scale) -> Fault:
    async def fault(cluster: Cluster, _subs: list[Subscriber], _pubs: list[Publisher]) -> None:
        await asyncio.to_thread(cluster.pg.stop, "immediate")
        await asyncio.sleep(scale.outage)
        await asyncio.to_thread(cluster.pg.start)

    return fault


def _slow_consumers(scale: Scale) -> Fault:
    async def fault(cluster: Cluster, subs: list[Subscriber], pubs: list[Publisher]) -> None:
        # The subscribers of the first channel reconnect, and one in three stops reading; then a burst
        # of 8 KB messages on that channel fills their sockets and queues: the server closes them (4008)
        # and they come back with since. The others must not notice. The burst is measured in bytes, not
        # seconds: on a loaded machine a two-second burst could fit in the kernel's buffers.
        channel = subs[0].channel
        slow = [s for s in subs if s.channel == channel][::3]
        release = asyncio.Event()
        for s in slow:
            s.stall = release
            s.reconnect.set()
        try:
            await asyncio.wait_for(asyncio.gather(*(s.stalled.wait() for s in slow)), STALL_TIMEOUT_S)
            urls = [srv.ws(cluster.token()) for srv in cluster.servers]
            blasts = [Publisher(f"blast{i}", [channel], urls, rate=1000.0, pad=8000) for i in range(2)]
            stop = asyncio.Event()
            tasks = [asyncio.create_task(b.run(stop)) for b in blasts]
            deadline = time.monotonic() + STALL_TIMEOUT_S
            need = blast_bytes()
            sent = 8000 * DEFLATED_SHARE  # bytes on the wire per message, compressed or not
            while sum(len(b.acked) for b in blasts) * sent < need and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
            stop.set()
            await asyncio.gather(*tasks)
            pubs.extend(blasts)
        finally:
            release.set()

    return fault


STALL_TIMEOUT_S = 30.0
#: What per-message deflate leaves of :func:`incompressible` text (random bytes in base64: 6 bits a
#: character, so at least 3/4 of it). A pad of "x" shrank 150x on the wire once the runtime compressed
#: (STARS_WS_DEFLATE), and the blast never filled the stalled sockets.
DEFLATED_SHARE = 0.75


def incompressible(size: int) -> str:
    """``size`` characters that deflate cannot shrink below :data:`DEFLATED_SHARE` of their length."""
    return base64.b64encode(os.urandom(size * 3 // 4 + 3)).decode()[:size]


def blast_bytes() -> int:
    """Enough bytes to overflow a stalled consumer wherever they wait: twice what the kernel can hold
    (the server's largest send buffer and the client's unread receive buffer), plus 1 MiB for the server's
    own queue; read from this machine's TCP settings."""

    def tcp(name: str, index: int, default: int) -> int:
        try:
            return int(Path(f"/proc/sys/net/ipv4/{name}").read_text().split()[index])
        except (OSError, ValueError, IndexError):
            return default

    return 2 * (tcp("tcp_wmem", 2, 4 << 20) + tcp("tcp_rmem", 1, 128 << 10)) + (1 << 20)


def _drain(scale: Scale) -> Fault:
    async def fault(cluster: Cluster, _subs: list[Subscriber], _pubs: list[Publisher]) -> None:
        cluster.servers[0].terminate()

    return fault


@dataclass
class _StormTally:
    """What the storm's bursts counted: deliveries by (channel, offset), acks, duplicates, failed and
    subscribed clients, each client's time to subscribe, and the server's memory at each step."""

    rss: dict[str, float]
    got: Counter[tuple[str, int]] = field(default_factory=Counter)
    acked: dict[str, int] = field(default_factory=dict)
    dups: int = 0
    failed: int = 0
    subscribed: int = 0
    waits: list[float] = field(default_factory=list)

    def report(self, stored: dict[str, dict[int, Any]], log_lines_per_s: float) -> dict[str, Any]:
        """The scenario's row: what was lost or duplicated, subscribe times and memory."""
        delivered = sum(self.got.values())
        rss = self.rss
        return {
            "scenario": "storm",
            "acknowledged": sum(1 for o in self.acked.values() if o),
            "stored": sum(len(m) for m in stored.values()),
            "delivered": delivered,
            "lost": self.subscribed - delivered,
            "duplicated": self.dups,
            "out_of_order": 0,
            "false_acks": sum(
                1
                for key, off in self.acked.items()
                if (stored[key.split("#")[0]].get(off) or {}).get("m") != key.split("#")[0]
            ),
            "errors": {},
            "error_but_stored": 0,
            "unanswered": 0,
            "closes": {"failed to connect": self.failed} if self.failed else {},
            "resume_p50_s": round(statistics.median(self.waits), 3),
            "resume_max_s": round(self.waits[-1], 3),
            "rss_before_mb": rss["before"],
            "rss_peak_mb": rss["peak1"],
            "rss_after_mb": rss["after1"],
            "rss_second_peak_mb": rss["peak2"],
            "rss_second_after_mb": rss["after2"],
            "log_lines_per_s": log_lines_per_s,
        }


async def _storm(scale: Scale, log: Log) -> dict[str, Any]:
    """``scale.storm`` clients connect and subscribe at once (one server, 2 workers), each gets one
    message, all leave; server memory before, at the peak and after they left."""
    raise_nofile()
    with Cluster(servers=1, workers=2) as cluster:
        url = cluster.servers[0].ws(cluster.token())
        channels = [f"f:storm:{i}" for i in range(100)]
        tally = _StormTally(rss={"before": cluster.rss_mb()})
        lines0, t0 = cluster.log_lines(), time.monotonic()
        for burst in (1, 2):  # the second burst shows whether memory kept from the first is reused
            await _storm_burst(cluster, url, channels, scale.storm, burst, tally, log)
        tally.waits.sort()
        elapsed = time.monotonic() - t0
        stored = {ch: await asyncio.to_thread(cluster.history, ch) for ch in channels}
        lines = cluster.log_lines() - lines0
    return tally.report(stored, round(lines / elapsed, 2))


async def _storm_burst(
    cluster: Cluster, url: str, channels: list[str], clients: int, burst: int, tally: _StormTally, log: Log
) -> None:
    """One burst: ``clients`` connect and subscribe at once, one message per channel, all leave."""

    async def one(i: int) -> tuple[Any, float]:
        start = time.monotonic()
        ws = await websockets.connect(url, open_timeout=60, max_size=2**20)
        await ws.send(json.dumps({"type": "subscribe", "channel": channels[i % 100]}))
        reply = json.loads(await asyncio.wait_for(ws.recv(), 60))
        assert reply["type"] == "subscribed", reply
        return ws, time.monotonic() - start

    results = await asyncio.gather(*(one(i) for i in range(clients)), return_exceptions=True)
    conns = [r[0] for r in results if isinstance(r, tuple)]
    tally.waits += [r[1] for r in results if isinstance(r, tuple)]
    tally.failed += len(results) - len(conns)
    tally.subscribed += len(conns)
    log(f"[storm] burst {burst}: {len(conns):,} subscribed, {len(results) - len(conns)} failed")
    tally.rss[f"peak{burst}"] = cluster.rss_mb()
    async with websockets.connect(url) as pub:
        for ch in channels:
            await pub.send(json.dumps({"type": "publish", "channel": ch, "data": {"m": ch}, "id": ch}))
            tally.acked[f"{ch}#{burst}"] = json.loads(await pub.recv()).get("offset")

    async def receive(i: int, ws: Any) -> None:
        try:
            frame = json.loads(await asyncio.wait_for(ws.recv(), 20))
            tally.got[(channels[i % 100], frame["offset"])] += 1
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(ws.recv(), 0.05)
                tally.dups += 1
        except (TimeoutError, websockets.ConnectionClosed):
            pass

    await asyncio.gather(*(receive(i, ws) for i, ws in enumerate(conns)))
    await asyncio.gather(*(ws.close() for ws in conns), return_exceptions=True)
    del conns, results
    await asyncio.sleep(5.0)  # closed connections are reclaimed by the worker (runtime.gctune)
    tally.rss[f"after{burst}"] = cluster.rss_mb()


# A slow consumer is closed once 50 messages or 64 KiB wait for it, and cut 1 s after its 4008. The blast
# must not be held back by the per-subject publish limit (50/s by default, every publisher one subject).
ENV = {
    "slow-consumers": {
        "STARS_QUEUE_MESSAGES": "50",
        "STARS_QUEUE_BYTES": "65536",
        "STARS_SLOW_CLIENT_ABORT": "1",
        "STARS_PUBLISH_RATE": "5000",
        "STARS_PUBLISH_BURST": "5000",
    }
}
SCENARIOS = {
    "kill9": _kill9,
    "redis-down": _redis_down,
    "postgres-down": _postgres_down,
    "slow-consumers": _slow_consumers,
    "drain": _drain,
}

NAMES = (*SCENARIOS, "storm")


def scenario_names(only: str) -> list[str]:
    """``--only``'s comma-separated names, checked before any server starts (empty: every scenario)."""
    names = [n.strip() for n in only.split(",") if n.strip()]
    unknown = sorted(set(names) - set(NAMES))
    if unknown:
        raise ValueError(f"unknown scenario(s) {', '.join(unknown)}; known: {', '.join(NAMES)}")
    return names


def run_faults(quick: bool = False, only: list[str] | None = None, log: Log = print) -> dict[str, Any]:
    scale = QUICK if quick else FULL
    names = only or list(NAMES)
    out: list[dict[str, Any]] = []
    for name in names:
        log(f"== faults: {name}")
        if name == "storm":
            result = uvloop.run(_storm(scale, log))
        else:
            result = uvloop.run(_traffic_scenario(name, scale, SCENARIOS[name](scale), log, ENV.get(name)))
        out.append(result)
        log("   " + ", ".join(f"{k} {v}" for k, v in result.items() if k != "scenario"))
    return {"scale": scale.__dict__, "scenarios": out}


COLUMNS = [
    ("scenario", "scenario"),
    ("acknowledged", "acked"),
    ("stored", "stored"),
    ("delivered", "delivered"),
    ("lost", "lost"),
    ("duplicated", "dup"),
    ("out_of_order", "disorder"),
    ("false_acks", "false acks"),
    ("resume_p50_s", "resume p50 s"),
    ("resume_max_s", "resume max s"),
    ("rss_before_mb", "RSS before MB"),
    ("rss_after_mb", "RSS after MB"),
    ("log_lines_per_s", "log lines/s"),
]


def print_table(scenarios: list[dict[str, Any]]) -> None:
    print()
    print(table([title for _, title in COLUMNS], [[s.get(key) for key, _ in COLUMNS] for s in scenarios]))
