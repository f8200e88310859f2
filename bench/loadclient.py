"""A load-client process: opens its share of the connections, subscribes, and counts what arrives.

Driven by the orchestrator over stdin/stdout, one JSON object per line. The config comes first; then
commands ``connect`` (phase 1: the first member of each channel, phase 2: the rest, so that the
baseline's racy first subscribe is not what we measure), ``report`` (stats of one window) and
``close``. Each message carries its window ``w``, per-channel sequence ``s`` and send time ``t``
(``time.time()`` on the same machine), so latency is receive time minus ``t`` and gaps are visible.
"""

from __future__ import annotations

import asyncio
import json
import resource
import sys
import time
from dataclasses import dataclass, field
from typing import Any

import uvloop

from bench import wsproto


def raise_nofile() -> int:
    """Raise the soft open-files limit to the hard limit; returns the new limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


def bucket(latency_ms: float) -> int:
    """Histogram bucket: 0.1 ms wide below 1 s, 10 ms wide above (keeps JSON small, p99 exact enough)."""
    if latency_ms < 1000.0:
        return int(latency_ms * 10) if latency_ms > 0 else 0
    return 10000 + int((latency_ms - 1000.0) / 10)


def bucket_ms(b: int) -> float:
    """Upper edge of a bucket in milliseconds (percentiles are reported conservatively)."""
    if b < 10000:
        return (b + 1) / 10
    return 1000.0 + (b - 10000 + 1) * 10


@dataclass
class Window:
    received: int = 0
    dups: int = 0
    gaps: int = 0
    hist: dict[int, int] = field(default_factory=dict)
    channels: dict[str, int] = field(default_factory=dict)


class Loader:
    def __init__(self, cfg: dict[str, Any]) -> None:
        self.cfg = cfg
        self.conns: list[wsproto.WSClient] = []
        self.windows: dict[int, Window] = {}
        self.last_w: dict[int, int] = {}
        self.last_s: dict[int, int] = {}
        self.channel_of: dict[int, str] = {}
        self.subscribed: dict[int, asyncio.Future[None]] = {}
        self.errors: list[str] = []
        self.error_count = 0
        self.other_frames = 0

    def channel(self, i: int) -> str:
        if self.cfg["workload"] == "broadcast":
            return "room:all"
        return f"room:{i // self.cfg['room_size']}"

    def on_text(self, conn: wsproto.WSClient, payload: bytes) -> None:
        now = time.time()
        try:
            msg = json.loads(payload)
        except ValueError:
            self.other_frames += 1
            return
        kind = msg.get("type")
        if kind == "message":
            data = msg.get("data")
            if not isinstance(data, dict) or "w" not in data:
                self.other_frames += 1
                return
            w = data["w"]
            s = data["s"]
            win = self.windows.get(w)
            if win is None:
                win = self.windows[w] = Window()
            win.received += 1
            i = conn.index
            if self.last_w.get(i) != w:
                self.last_w[i] = w
                gap = s - 1
            else:
                gap = s - self.last_s[i] - 1
            if gap < 0:
                win.dups += 1
            else:
                win.gaps += gap
                self.last_s[i] = s
                ch = self.channel_of[i]
                win.channels[ch] = win.channels.get(ch, 0) + 1
            b = bucket((now - data["t"]) * 1000.0)
            win.hist[b] = win.hist.get(b, 0) + 1
        elif kind == "subscribed":
            fut = self.subscribed.pop(conn.index, None)
            if fut is not None and not fut.done():
                fut.set_result(None)
        elif kind == "error":
            self.error_count += 1
            if len(self.errors) < 5:
                self.errors.append(payload.decode(errors="replace")[:300])
        else:
            self.other_frames += 1

    async def open_one(self, i: int, sem: asyncio.Semaphore) -> bool:
        cfg = self.cfg
        ch = self.channel(i)
        self.channel_of[i] = ch
        ips = cfg["source_ips"]
        async with sem:
            for attempt in range(3):
                fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
                self.subscribed[i] = fut
                try:
                    path = f"/ws?token={cfg['token']}" if cfg["kind"] == "runtime" else f"/ws?channel={ch}"
                    conn = await wsproto.connect(
                        cfg["host"],
                        cfg["port"],
                        path,
                        self.on_text,
                        index=i,
                        local_ip=ips[i % len(ips)] if ips else None,
                        offer_deflate=cfg.get("offer_deflate", True),
                    )
                    if cfg["kind"] == "runtime":
                        conn.send_text(json.dumps({"type": "subscribe", "channel": ch}))
                    await asyncio.wait_for(fut, timeout=30)
                    self.conns.append(conn)
                    return True
                except (OSError, TimeoutError, ConnectionError) as exc:
                    if attempt == 2:
                        self.error_count += 1
                        if len(self.errors) < 5:
                            self.errors.append(f"connect {i}: {type(exc).__name__}: {exc}")
                    await asyncio.sleep(0.2 * (attempt + 1))
        return False

    async def connect(self, phase: int) -> dict[str, Any]:
        cfg = self.cfg
        size = 1 << 62 if cfg["workload"] == "broadcast" else cfg["room_size"]
        indices = [i for i in range(cfg["start"], cfg["end"]) if (i % size == 0) == (phase == 1)]
        sem = asyncio.Semaphore(cfg.get("concurrency", 200))
        t0 = time.monotonic()
        results = await asyncio.gather(*(self.open_one(i, sem) for i in indices))
        return {
            "event": "connected",
            "phase": phase,
            "ok": sum(results),
            "failed": len(results) - sum(results),
            "seconds": time.monotonic() - t0,
        }

    def report(self, w: int) -> dict[str, Any]:
        win = self.windows.get(w, Window())
        return {
            "event": "report",
            "w": w,
            "received": win.received,
            "dups": win.dups,
            "gaps": win.gaps,
            "hist": {str(k): v for k, v in win.hist.items()},
            "channels": win.channels,
            "open": sum(1 for c in self.conns if not c.closed.done()),
            "errors": self.errors,
            "error_count": self.error_count,
            "other_frames": self.other_frames,
        }


def _emit(obj: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


async def main() -> None:
    raise_nofile()
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=1 << 24)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    cfg = json.loads(await reader.readline())
    loader = Loader(cfg)
    _emit({"event": "started"})
    while True:
        line = await reader.readline()
        if not line:
            break
        cmd = json.loads(line)
        if cmd["cmd"] == "connect":
            _emit(await loader.connect(cmd["phase"]))
        elif cmd["cmd"] == "report":
            _emit(loader.report(cmd["w"]))
        elif cmd["cmd"] == "close":
            for c in loader.conns:
                c.close()
            await asyncio.sleep(0.2)
            _emit({"event": "closed"})
            break


if __name__ == "__main__":
    uvloop.run(main())
