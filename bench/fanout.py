"""Fan-out benchmark: our runtime and the naive baseline under the same connections and publish load.

Per server: start it (N workers) on 127.0.0.1, let load-client processes open and subscribe the
connections from several 127.0.0.x source addresses, measure idle memory per connection, then run
publish windows at set rates. A window counts every delivery against what was published (losses),
histograms ``receive time - send time`` (latency), and reads the CPU time of every server process
before and after (CPU per delivery). The same clients and windows then run against the baseline.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import os
import secrets
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil

from bench import procs, wsproto
from bench.common import merge_hist, percentiles, ratio
from bench.loadclient import bucket, raise_nofile
from bench.servers import PostgresServer, RedisServer, free_port
from runtime.auth import issue

P99_LIMIT_MS = 100.0
ROOM_SIZE = 10


@dataclass
class FanoutParams:
    workload: str = "rooms"  # broadcast | rooms
    connections: int = 25_000
    workers: int = 2
    rate: float = 1000.0  # messages published per second (deliveries/s = rate * channel size)
    duration: float = 60.0
    room_size: int = ROOM_SIZE
    clients: int = 0  # load-client processes; 0 = enough for the file limit (>= 2)
    source_ips: int = 8
    payload: int = 64  # padding bytes in each message's data
    publishers: int = 64  # publisher connections (at most one per channel, so each channel keeps its order)
    baseline: str = "both"  # none | only | minimal | nodeflate | default | floor | both (servers_for)
    sweep: bool = False
    sweep_start: float = 2500.0  # deliveries/s
    sweep_factor: float = 1.5
    sweep_max: float = 400_000.0
    sweep_duration: float = 8.0
    settle: float = 3.0
    drain: float = 5.0
    profile: str | None = None  # directory: py-spy records every server process during the first window
    #: first an idle window of ``duration`` s: the connections held and subscribed, nothing published, so
    #: the server's CPU is what idle connections cost (keepalive pings, presence, token expiry); then the
    #: publish windows, unless ``rate`` is 0
    idle: bool = False
    #: idle mode: seconds of the server's CPU measured before any client connects (its own timers)
    idle_base: float = 10.0
    #: ours with permessage-deflate (``STARS_WS_DEFLATE``; the load clients offer it, as browsers do)
    deflate: bool = True

    def channels(self) -> dict[str, int]:
        """Channel -> number of subscribed connections."""
        if self.workload == "broadcast":
            return {"room:all": self.connections}
        out: dict[str, int] = {}
        for i in range(self.connections):
            ch = f"room:{i // self.room_size}"
            out[ch] = out.get(ch, 0) + 1
        return out

    def fanout(self) -> float:
        ch = self.channels()
        return sum(ch.values()) / len(ch)

    def client_count(self) -> int:
        return self.clients or max(2, math.ceil(self.connections / 9000))


# -- servers -----------------------------------------------------------------------------------------


@dataclass
class ServerSpec:
    name: str  # ours | baseline | baseline-nodeflate | minimal | floor
    args: list[str]
    env: dict[str, str]


def server_spec(
    name: str,
    port: int,
    workers: int,
    redis_url: str,
    database_url: str | None,
    secret: str,
    deflate: bool = True,
) -> ServerSpec:
    host = ["--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)]
    if name == "ours":
        env = {
            "STARS_REDIS_URL": redis_url,
            "STARS_DATABASE_URL": database_url or "",
            "STARS_JWT_SECRET": secret,
            # The benchmark publishes from a few connections of one subject: lift the publish limit.
            "STARS_PUBLISH_RATE": "1000000",
            "STARS_PUBLISH_BURST": "1000000",
            "STARS_WS_DEFLATE": "1" if deflate else "0",
        }
        return ServerSpec(
            name, [procs.PYTHON, "-m", "runtime", "serve", *host, "--log-level", "warning"], env
        )
    if name == "minimal":  # the floor: uvicorn with our settings and an app that only holds sockets
        args = [procs.PYTHON, "-m", "uvicorn", "bench.minimal_app:app", *host, "--log-level", "warning"]
        args += ["--loop", "uvloop", "--http", "httptools", "--ws", "websockets-sansio"]
        args += ["--ws-per-message-deflate", "false", "--no-access-log", "--lifespan", "off"]
        return ServerSpec(name, args, {})
    if name == "floor":  # the least a relay can do on uvloop + Redis, speaking the baseline's protocol
        return ServerSpec(
            name, [procs.PYTHON, "-m", "bench.floor_server", *host], {"STARS_REDIS_URL": redis_url}
        )
    args = [procs.PYTHON, "-m", "uvicorn", "bench.baseline_app:app", *host, "--log-level", "warning"]
    if name == "baseline-nodeflate":
        args += ["--ws-per-message-deflate", "false"]
    return ServerSpec(name, args, {"STARS_REDIS_URL": redis_url})


class Server:
    def __init__(self, spec: ServerSpec, port: int, workers: int, logdir: Path) -> None:
        self.spec = spec
        self.port = port
        self.workers = workers
        self.log = logdir / f"{spec.name}.log"
        self.proc: Any = None

    def start(self) -> None:
        with self.log.open("wb") as out:
            self.proc = procs.spawn(self.spec.args, env=self.spec.env, stdout=out, stderr=out)
        try:
            procs.wait_http(self.port, "/healthz", timeout=60)
            deadline = time.monotonic() + 30
            want = self.workers + 1 if self.workers > 1 else 1
            while len(self.processes()) < want and time.monotonic() < deadline:
                time.sleep(0.1)
            time.sleep(1.5 if self.workers > 1 else 0.3)  # every worker finished its start-up
        except Exception:
            raise RuntimeError(f"{self.spec.name} did not start:\n{self.tail()}") from None

    def processes(self) -> list[psutil.Process]:
        return procs.tree(self.proc.pid) if self.proc else []

    def tail(self, n: int = 30) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return ""

    def stop(self) -> None:
        procs.stop(self.proc, grace=5.0)


# -- load clients ------------------------------------------------------------------------------------


class ClientProc:
    """One load-client process, driven with JSON lines."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc

    @classmethod
    async def start(cls, cfg: dict[str, Any]) -> ClientProc:
        env = {**os.environ, "PYTHONPATH": str(procs.ROOT)}
        proc = await asyncio.create_subprocess_exec(
            procs.PYTHON,
            "-m",
            "bench.loadclient",
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            cwd=procs.ROOT,
            env=env,
            start_new_session=True,
            limit=1 << 26,
        )
        self = cls(proc)
        await self.send(cfg)
        started = await self.recv(timeout=30)
        assert started["event"] == "started", started
        return self

    async def send(self, obj: dict[str, Any]) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write((json.dumps(obj) + "\n").encode())
        await self.proc.stdin.drain()

    async def recv(self, timeout: float = 120) -> dict[str, Any]:
        assert self.proc.stdout is not None
        line = await asyncio.wait_for(self.proc.stdout.readline(), timeout)
        if not line:
            raise RuntimeError(f"load client {self.proc.pid} exited (code {self.proc.returncode})")
        return json.loads(line)

    async def ask(self, obj: dict[str, Any], timeout: float = 120) -> dict[str, Any]:
        await self.send(obj)
        return await self.recv(timeout)

    def psutil(self) -> list[psutil.Process]:
        return procs.tree(self.proc.pid)

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.ask({"cmd": "close"}), 10)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, 9)
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.proc.wait(), 5)


# -- publisher -----------------------------------------------------------------------------------------


@dataclass
class PublishStats:
    sent: dict[str, int] = field(default_factory=dict)
    errors: int = 0
    error_samples: list[str] = field(default_factory=list)
    acked: int = 0
    behind: int = 0
    ack_hist: dict[int, int] = field(default_factory=dict)


class Publisher:
    """Publishes at a set rate over a few WebSocket connections, each message stamped with its send time.

    Ours: ``publish`` frames with an ``id`` (stored, then acknowledged); baseline: text frames on its
    ``/publish`` socket. With ours, at most ``max_inflight`` unacknowledged messages are outstanding;
    beyond that the publisher skips sends and counts them as ``behind`` (the server cannot keep up).
    """

    def __init__(self, kind: str, port: int, token: str, conns: int = 4, payload: int = 64) -> None:
        self.kind = kind
        self.port = port
        self.token = token
        self.n = conns
        self.pad = "x" * payload
        self.conns: list[wsproto.WSClient] = []
        self.inflight: dict[int, tuple[str, float]] = {}
        self.stats = PublishStats()
        self.max_inflight = 5000

    async def open(self) -> None:
        path = f"/ws?token={self.token}" if self.kind == "ours" else "/publish"
        for i in range(self.n):
            self.conns.append(
                await wsproto.connect(
                    "127.0.0.1", self.port, path, self.on_text, index=i, offer_deflate=False
                )
            )

    def close(self) -> None:
        for c in self.conns:
            c.close()

    def on_text(self, _conn: wsproto.WSClient, payload: bytes) -> None:
        msg = json.loads(payload)
        kind = msg.get("type")
        if kind == "ack":
            item = self.inflight.pop(msg.get("id"), None)
            self.stats.acked += 1
            if item is not None:
                b = bucket((time.time() - item[1]) * 1000)
                self.stats.ack_hist[b] = self.stats.ack_hist.get(b, 0) + 1
        elif kind == "error":
            item = self.inflight.pop(msg.get("id"), None)
            self.stats.errors += 1
            if len(self.stats.error_samples) < 5:
                self.stats.error_samples.append(payload.decode(errors="replace")[:300])
            if item is not None:  # not stored, so never delivered: not expected either
                self.stats.sent[item[0]] -= 1

    async def run(self, w: int, channels: list[str], rate: float, duration: float) -> PublishStats:
        self.stats = PublishStats()
        seq: dict[str, int] = {}
        ours = self.kind == "ours"
        pad = self.pad
        start = time.monotonic()
        sent = 0
        k = 0
        ident = w * 10_000_000
        while True:
            now = time.monotonic()
            elapsed = now - start
            if elapsed >= duration:
                break
            due = int(elapsed * rate) + 1 - sent
            for _ in range(max(0, due)):
                if ours and len(self.inflight) >= self.max_inflight:
                    self.stats.behind += 1
                    sent += 1
                    continue
                c = k % len(channels)
                ch = channels[c]
                k += 1
                s = seq.get(ch, 0) + 1
                seq[ch] = s
                t = time.time()
                data = f'{{"w":{w},"s":{s},"t":{t:.6f},"p":"{pad}"}}'
                if ours:
                    ident += 1
                    self.inflight[ident] = (ch, t)
                    frame = f'{{"type":"publish","channel":"{ch}","id":{ident},"data":{data}}}'
                else:
                    frame = f'{{"type":"message","channel":"{ch}","data":{data}}}'
                conn = self.conns[c % self.n]  # one connection per channel keeps its order
                if conn.closed.done():
                    self.inflight.pop(ident, None)
                    self.stats.errors += 1
                    if len(self.stats.error_samples) < 5:
                        self.stats.error_samples.append(
                            f"publisher connection closed by server: {conn.close_code}"
                        )
                    sent += 1
                    continue
                conn.send_text(frame)
                self.stats.sent[ch] = self.stats.sent.get(ch, 0) + 1
                sent += 1
            await asyncio.sleep(0.002)
        return self.stats

    async def settle(self, timeout: float) -> None:
        """Wait for outstanding acknowledgements (ours)."""
        deadline = time.monotonic() + timeout
        while self.inflight and time.monotonic() < deadline:
            await asyncio.sleep(0.05)


# -- one server under load ---------------------------------------------------------------------------


def _fds(proc: psutil.Process) -> int | None:
    """Open files of a server process: how the kernel spread the connections over the workers."""
    try:
        return proc.num_fds()
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return None


def _memory_per_connection(before: dict[str, int], after: dict[str, int], connections: int) -> dict[str, Any]:
    """Idle memory of the server processes: RSS and USS deltas over the connections opened."""
    n = max(connections, 1)
    return {
        "rss_before_mb": round(before["rss"] / 2**20, 1),
        "rss_idle_mb": round(after["rss"] / 2**20, 1),
        "rss_per_conn_kb": round((after["rss"] - before["rss"]) / n / 1024, 2),
        "uss_per_conn_kb": round((after["uss"] - before["uss"]) / n / 1024, 2),
    }


def _cpu_busy() -> float:
    t = psutil.cpu_times()
    return t.user + t.nice + t.system + t.irq + t.softirq + t.steal


class Bench:
    def __init__(self, params: FanoutParams, redis: Any, postgres: Any, secret: str, logdir: Path) -> None:
        self.p = params
        self.redis = redis
        self.postgres = postgres
        self.secret = secret
        self.logdir = logdir
        self.channels = params.channels()
        self.window_id = 0
        self._first_window = 1

    def _infra_procs(self) -> tuple[list[psutil.Process], list[psutil.Process]]:
        redis = procs.tree(self.redis.process.pid) if self.redis.process else []
        pg: list[psutil.Process] = []
        if self.postgres is not None:
            with contextlib.suppress(OSError, ValueError, IndexError):
                pid = int((self.postgres.data / "postmaster.pid").read_text().splitlines()[0])
                pg = procs.tree(pid)
        return redis, pg

    async def run_server(self, name: str, log: Any) -> dict[str, Any]:
        """One server under the whole sequence: start, connect, idle memory, windows, final counts."""
        p = self.p
        port = free_port()
        db_url = None
        if name == "ours":
            db_url = self.postgres.create_database(f"bench_{int(time.time() * 1000) % 10**9}")
        spec = server_spec(name, port, p.workers, self.redis.url, db_url, self.secret, p.deflate)
        server = Server(spec, port, p.workers, self.logdir)
        token = issue(self.secret, "bench", ["room:*"], ["room:*"], ttl=7200)
        clients: list[ClientProc] = []
        publisher: Publisher | None = None
        result: dict[str, Any] = {"server": name, "windows": []}
        try:
            log(f"[{name}] starting server ({p.workers} workers) on port {port}")
            await asyncio.to_thread(server.start)
            server_procs = server.processes()
            result["server_processes"] = len(server_procs)
            if p.idle:
                result["server_cpu_cores_no_connections"] = await self.idle_cores(server_procs, p.idle_base)
            mem0 = procs.memory(server_procs)
            clients = await self._start_clients(name, port, token)
            ok = await self._connect(name, clients, server_procs, result, log)
            await asyncio.sleep(p.settle)
            result["open_files_by_process"] = [_fds(q) for q in server_procs]
            result["memory"] = _memory_per_connection(mem0, procs.memory(server_procs), ok)
            log(
                f"[{name}] idle memory per connection: {result['memory']['rss_per_conn_kb']} KB RSS, "
                f"{result['memory']['uss_per_conn_kb']} KB USS"
            )
            if name == "minimal":
                return result
            if p.idle:
                await self._idle(name, server, clients, ok, result, log)
                if p.rate <= 0 and not p.sweep:
                    await self._final(server, clients, result, samples=False)
                    return result
            publisher = Publisher(
                name if name == "ours" else "baseline",
                port,
                token,
                conns=min(len(self.channels), p.publishers),
                payload=p.payload,
            )
            await publisher.open()
            await self._publish_windows(name, server, clients, publisher, result, log)
            result["memory"]["rss_after_load_mb"] = round(procs.memory(server_procs)["rss"] / 2**20, 1)
            await self._final(server, clients, result, samples=True)
        finally:
            if publisher is not None:
                publisher.close()
            await asyncio.gather(*(c.close() for c in clients), return_exceptions=True)
            tail = server.tail()
            server.stop()
            if tail:
                result["server_log_tail"] = tail[-2000:]
        return result

    async def _start_clients(self, name: str, port: int, token: str) -> list[ClientProc]:
        """The load-client processes, each with its share of the connections and the source addresses."""
        p = self.p
        n_clients = p.client_count()
        bounds = [round(i * p.connections / n_clients) for i in range(n_clients + 1)]
        ips = [f"127.0.0.{2 + i}" for i in range(p.source_ips)]
        configs = [
            {
                "kind": "runtime" if name == "ours" else "baseline",
                "host": "127.0.0.1",
                "port": port,
                "token": token,
                "workload": p.workload,
                "room_size": p.room_size,
                "start": bounds[i],
                "end": bounds[i + 1],
                "source_ips": ips,
                "concurrency": 100,
                "offer_deflate": True,
            }
            for i in range(n_clients)
        ]
        return list(await asyncio.gather(*(ClientProc.start(cfg) for cfg in configs)))

    async def _connect(
        self,
        name: str,
        clients: list[ClientProc],
        server_procs: list[psutil.Process],
        result: dict[str, Any],
        log: Any,
    ) -> int:
        """Open and subscribe every connection (two phases: each channel's first member, then the rest);
        returns how many opened."""
        t0 = time.monotonic()
        cpu0 = procs.cpu_seconds(server_procs)
        ok = failed = 0
        for phase in (1, 2):
            replies = await asyncio.gather(*(c.ask({"cmd": "connect", "phase": phase}, 600) for c in clients))
            ok += sum(r["ok"] for r in replies)
            failed += sum(r["failed"] for r in replies)
        connect_s = time.monotonic() - t0
        connect_cpu = procs.cpu_seconds(server_procs) - cpu0
        result.update(
            connections_requested=self.p.connections,
            connections_opened=ok,
            connect_failures=failed,
            connect_seconds=round(connect_s, 2),
            connect_rate=round(ok / connect_s, 1) if connect_s else None,
            connect_cpu_us_per_conn=round(connect_cpu / ok * 1e6, 1) if ok else None,
        )
        log(f"[{name}] {ok:,} connections subscribed in {connect_s:.1f}s ({failed} failed)")
        return ok

    async def _idle(
        self, name: str, server: Server, clients: list[ClientProc], ok: int, result: dict[str, Any], log: Any
    ) -> None:
        win = await self.idle_window(server, clients, ok, self.p.duration)
        result["windows"].append(win)
        log(
            f"[{name}] idle: {win['connections_open']:,} connections,"
            f" {win['server_cpu_cores']} cores,"
            f" {win['server_cpu_us_per_connection_s']} us per connection-second"
        )

    async def _publish_windows(
        self,
        name: str,
        server: Server,
        clients: list[ClientProc],
        publisher: Publisher,
        result: dict[str, Any],
        log: Any,
    ) -> None:
        """One window at ``rate``, or the sweep: rates x``sweep_factor`` until p99 >= 100 ms or a loss."""
        p = self.p
        self._first_window = self.window_id + 1
        fan = p.fanout()
        if not p.sweep:
            win = await self.window(server, clients, publisher, p.rate, p.duration, name)
            result["windows"].append(win)
            log(self._line(name, win))
            return
        target = p.sweep_start
        best: dict[str, Any] | None = None
        while target <= p.sweep_max:
            win = await self.window(server, clients, publisher, target / fan, p.sweep_duration, name)
            result["windows"].append(win)
            log(self._line(name, win))
            if not win["pass"] and win["lost"] == 0:  # the machine is shared: one retry of a step
                win = await self.window(server, clients, publisher, target / fan, p.sweep_duration, name)
                win["retry"] = True
                result["windows"].append(win)
                log(self._line(name, win) + " (retry)")
            if not win["pass"]:
                break
            best = win
            target *= p.sweep_factor
        result["max_rate_p99_under_100ms"] = best["deliveries_per_s"] if best else None

    async def _final(
        self, server: Server, clients: list[ClientProc], result: dict[str, Any], samples: bool
    ) -> None:
        """What the clients hold at the end, their errors, and whether the server is still up."""
        final = await asyncio.gather(*(c.ask({"cmd": "report", "w": -1}) for c in clients))
        result["connections_held_at_end"] = sum(r["open"] for r in final)
        result["client_errors"] = sum(r["error_count"] for r in final)
        if samples:
            result["client_error_samples"] = [e for r in final for e in r["errors"]][:5]
        result["server_alive"] = server.proc.poll() is None

    async def idle_cores(self, server_p: list[psutil.Process], seconds: float) -> float:
        """Server CPU cores over ``seconds`` while nothing happens (before any client connects)."""
        t0, cpu0 = time.monotonic(), procs.cpu_seconds(server_p)
        await asyncio.sleep(seconds)
        return round((procs.cpu_seconds(server_p) - cpu0) / (time.monotonic() - t0), 4)

    async def idle_window(
        self, server: Server, clients: list[ClientProc], opened: int, duration: float
    ) -> dict[str, Any]:
        """``duration`` s with every connection held and subscribed and nothing published: the server's CPU
        is the idle connections' (keepalive pings and pongs, presence refreshes, token expiry)."""
        self.window_id += 1
        server_p = server.processes()
        client_p = [q for c in clients for q in c.psutil()]
        before = procs.cpu_seconds(server_p), procs.cpu_seconds(client_p)
        busy0, t0 = _cpu_busy(), time.monotonic()
        await asyncio.sleep(duration)
        wall = time.monotonic() - t0
        server_s = procs.cpu_seconds(server_p) - before[0]
        client_s = procs.cpu_seconds(client_p) - before[1]
        busy = _cpu_busy() - busy0
        reports = await asyncio.gather(*(c.ask({"cmd": "report", "w": -1}) for c in clients))
        held = sum(r["open"] for r in reports)
        errors = sum(r["error_count"] for r in reports)
        return {
            "window": self.window_id,
            "idle": True,
            "duration_s": round(wall, 2),
            "connections_open": held,
            "client_errors": errors,
            "deliveries_per_s": 0.0,
            "server_cpu_s": round(server_s, 3),
            "server_cpu_cores": round(server_s / wall, 4),
            "server_cpu_us_per_connection_s": round(server_s / wall / held * 1e6, 3) if held else None,
            "client_cpu_cores": round(client_s / wall, 3),
            "other_cpu_cores": round(max(0.0, busy - server_s - client_s) / wall, 3),
            # every connection still open and no client error: the figure is of idle connections held
            "pass": held == opened and opened > 0 and errors == 0,
        }

    def _profile(self, name: str, server_p: list[psutil.Process], duration: float) -> list[Any]:
        return procs.spy(server_p, duration, self.p.profile or ".", name)

    @staticmethod
    def _line(name: str, win: dict[str, Any]) -> str:
        return (
            f"[{name}] {win['deliveries_per_s']:,.0f} deliveries/s  p50 {win['p50_ms']} ms"
            f"  p99 {win['p99_ms']} ms  max {win['max_ms']} ms  lost {win['lost']}"
            f"  {win['server_cpu_us_per_delivery']} us CPU/delivery"
            f"  clients {win['client_cpu_cores']} cores  others {win['other_cpu_cores']} cores"
            f"  {'PASS' if win['pass'] else 'FAIL'}"
        )

    async def window(
        self,
        server: Server,
        clients: list[ClientProc],
        publisher: Publisher,
        rate: float,
        duration: float,
        name: str,
    ) -> dict[str, Any]:
        """Publish at ``rate`` for ``duration`` s, wait for late deliveries, then count and time them."""
        self.window_id += 1
        w = self.window_id
        redis_p, pg_p = self._infra_procs()
        server_p = server.processes()
        client_p = [q for c in clients for q in c.psutil()]
        me = [psutil.Process()]
        groups = {"server": server_p, "redis": redis_p, "db": pg_p, "clients": client_p, "publisher": me}
        before = {k: procs.cpu_seconds(v) for k, v in groups.items()}
        per_proc0 = [procs.cpu_seconds([q]) for q in server_p]
        busy0 = _cpu_busy()
        t0 = time.monotonic()
        spies = self._profile(name, server_p, duration) if self.p.profile and w == self._first_window else []
        stats = await publisher.run(w, list(self.channels), rate, duration)
        publish_s = time.monotonic() - t0
        expected = sum(n * self.channels[ch] for ch, n in stats.sent.items())
        await publisher.settle(self.p.drain)
        reports = await self._drain(clients, w, expected)
        wall = time.monotonic() - t0
        for spy in spies:
            await asyncio.to_thread(spy.wait, 30)
        after = {k: procs.cpu_seconds(v) for k, v in groups.items()}
        cpu = {k: after[k] - before[k] for k in groups}
        busy = _cpu_busy() - busy0
        win: dict[str, Any] = {
            "window": w,
            "target_messages_per_s": round(rate, 3),
            "target_deliveries_per_s": round(rate * self.p.fanout(), 1),
            "duration_s": round(publish_s, 2),
            "messages_sent": sum(stats.sent.values()),
            "publisher_behind": stats.behind,
            "publish_errors": stats.errors,
            "publish_error_samples": stats.error_samples,
            "ack_p99_ms": percentiles(stats.ack_hist)["p99_ms"],
            "server_cpu_cores_by_process": [
                round((procs.cpu_seconds([q]) - c0) / wall, 3)
                for q, c0 in zip(server_p, per_proc0, strict=True)
            ],
            **_delivery_figures(reports, expected, publish_s),
        }
        win.update(_cpu_figures(cpu, busy, wall, win["delivered"]))
        win["connections_open"] = sum(r["open"] for r in reports)
        win["pass"] = bool(
            win["delivered"] > 0
            and win["lost"] == 0
            and stats.behind == 0
            and stats.errors == 0
            and win["p99_ms"] is not None
            and win["p99_ms"] < P99_LIMIT_MS
        )
        return win

    async def _drain(self, clients: list[ClientProc], w: int, expected: int) -> list[dict[str, Any]]:
        """The clients' reports once every expected delivery arrived, or once none arrived for ``drain``
        s (late is not lost: it waits while deliveries still progress, up to 90 s)."""
        deadline = time.monotonic() + self.p.drain
        hard = time.monotonic() + 90
        seen = -1
        while True:
            reports = await asyncio.gather(*(c.ask({"cmd": "report", "w": w}) for c in clients))
            unique = sum(sum(r["channels"].values()) for r in reports)
            if unique >= expected or time.monotonic() > min(deadline, hard):
                return list(reports)
            if unique > seen:
                seen = unique
                deadline = time.monotonic() + self.p.drain
            await asyncio.sleep(0.25)


def _delivery_figures(reports: list[dict[str, Any]], expected: int, publish_s: float) -> dict[str, Any]:
    """Counts and latency percentiles of one window from the clients' reports."""
    unique = sum(sum(r["channels"].values()) for r in reports)
    return {
        "deliveries_expected": expected,
        "delivered": unique,
        "received_frames": sum(r["received"] for r in reports),
        "duplicates": sum(r["dups"] for r in reports),
        "gaps": sum(r["gaps"] for r in reports),
        "lost": max(0, expected - unique),
        "deliveries_per_s": round(unique / publish_s, 1),
        **percentiles(merge_hist([r["hist"] for r in reports])),
    }


def _cpu_figures(cpu: dict[str, float], busy: float, wall: float, delivered: int) -> dict[str, Any]:
    """CPU of each process group over one window, per delivery for the server."""
    server = cpu["server"]
    stores = server + cpu["redis"] + cpu["db"]
    return {
        "server_cpu_s": round(server, 3),
        "server_cpu_cores": round(server / wall, 3),
        "server_cpu_us_per_delivery": round(server / delivered * 1e6, 2) if delivered else None,
        "deliveries_per_server_cpu_s": round(delivered / server, 1) if server > 0 else None,
        "redis_cpu_s": round(cpu["redis"], 3),
        "db_cpu_s": round(cpu["db"], 3),
        "server_plus_stores_cpu_us_per_delivery": round(stores / delivered * 1e6, 2) if delivered else None,
        "client_cpu_cores": round(cpu["clients"] / wall, 3),
        "publisher_cpu_cores": round(cpu["publisher"] / wall, 3),
        "other_cpu_cores": round(max(0.0, busy - sum(cpu.values())) / wall, 3),
    }


def servers_for(baseline: str) -> list[str]:
    return {
        "none": ["ours"],
        "only": ["baseline-nodeflate"],
        "minimal": ["ours", "minimal"],
        "nodeflate": ["ours", "baseline-nodeflate"],
        "default": ["ours", "baseline"],
        "floor": ["ours", "baseline-nodeflate", "floor"],
        "both": ["ours", "baseline-nodeflate", "baseline", "minimal", "floor"],
    }[baseline]


def compare(results: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Ratios ours/baseline per figure, against each baseline variant that ran (keyed by the variant's
    name); with the floor server, ours/floor (``floor``) and each baseline/floor (``<name> / floor``)."""
    ours = results.get("ours")
    out: dict[str, Any] = {}
    if ours:
        for name in ("baseline-nodeflate", "baseline", "floor"):
            if name in results:
                _put(out, name, ours, results[name])
    floor = results.get("floor")
    if floor:
        for name in ("baseline-nodeflate", "baseline"):
            if name in results:
                _put(out, f"{name} / floor", results[name], floor)
    return out


def _put(out: dict[str, Any], key: str, num: dict[str, Any], den: dict[str, Any]) -> None:
    """``out[key]``: the ratios of ``num``'s figures over ``den``'s, when both published."""
    if _published(den) and _published(num):
        ow, bw = _main_window(num), _main_window(den)
        out[key] = {
            "deliveries_per_server_cpu_s": _r(
                ow["deliveries_per_server_cpu_s"], bw["deliveries_per_server_cpu_s"]
            ),
            "server_cpu_us_per_delivery": _r(
                ow["server_cpu_us_per_delivery"], bw["server_cpu_us_per_delivery"]
            ),
            "p50_ms": _r(ow["p50_ms"], bw["p50_ms"]),
            "p99_ms": _r(ow["p99_ms"], bw["p99_ms"]),
            "rss_per_conn_kb": _r(num["memory"]["rss_per_conn_kb"], den["memory"]["rss_per_conn_kb"]),
            "connect_rate": _r(num.get("connect_rate"), den.get("connect_rate")),
        }
        if "max_rate_p99_under_100ms" in num:
            out[key]["max_rate_p99_under_100ms"] = _r(
                num.get("max_rate_p99_under_100ms"), den.get("max_rate_p99_under_100ms")
            )


def _r(a: Any, b: Any) -> float | None:
    value = ratio(a, b)
    return round(value, 2) if value is not None else None


def _published(result: dict[str, Any]) -> bool:
    return any(not w.get("idle") for w in result["windows"])


def _main_window(result: dict[str, Any]) -> dict[str, Any]:
    """The window a comparison uses: the single window, or in a sweep the highest passing one both ran."""
    wins = [w for w in result["windows"] if not w.get("idle")]
    passing = [w for w in wins if w["pass"]]
    return (passing or wins)[-1]


async def run_fanout(params: FanoutParams, log: Any = print) -> dict[str, Any]:
    """Start Redis (and PostgreSQL for ours), run every server in turn, stop everything."""
    raise_nofile()
    logdir = Path(tempfile.mkdtemp(prefix="bench-logs-"))
    redis = RedisServer()
    postgres = PostgresServer()
    results: dict[str, dict[str, Any]] = {}
    try:
        redis.start()
        names = servers_for(params.baseline)
        if "ours" in names:
            await asyncio.to_thread(postgres.init)
            await asyncio.to_thread(postgres.start)
        bench = Bench(params, redis, postgres, secrets.token_urlsafe(32), logdir)
        for name in names:
            results[name] = await bench.run_server(name, log)
    finally:
        redis.stop()
        postgres.cleanup()
    return {"servers": results, "ratios": compare(results)}
