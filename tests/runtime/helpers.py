"""Test helpers: WebSocket clients, tokens, metrics (the runtime server process is bench.servers')."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path
from typing import TYPE_CHECKING, Any

from runtime.auth import issue

if TYPE_CHECKING:
    from bench.servers import RuntimeServer

ROOT = Path(__file__).resolve().parents[2]
SECRET = "test-secret-not-for-production-0123456789"


def token(
    sub: str = "alice",
    subscribe: tuple[str, ...] = ("room:*",),
    publish: tuple[str, ...] = ("room:*",),
    ttl: int = 3600,
    secret: str = SECRET,
) -> str:
    return issue(secret, sub, subscribe, publish, ttl)


def metric(server: RuntimeServer, name: str) -> float:
    """Sum of a Prometheus metric's samples (all label sets) from /metrics."""
    return sum(metric_samples(server, name).values())


def metric_samples(server: RuntimeServer, name: str) -> dict[str, float]:
    """A Prometheus metric's samples from /metrics, by their label set (``{pid="123"}``, or "")."""
    with urllib.request.urlopen(server.http + "/metrics", timeout=5) as r:
        text = r.read().decode()
    samples: dict[str, float] = {}
    for line in text.splitlines():
        if line.startswith(name) and not line.startswith("#"):
            head, _, value = line.rpartition(" ")
            if head.split("{")[0] == name:
                samples[head[len(name) :]] = float(value)
    return samples


class Client:
    """A thin JSON-frame WebSocket client with timeouts, so a hung test fails instead of hanging."""

    def __init__(self, ws: Any) -> None:
        self.ws = ws

    @classmethod
    async def connect(cls, url: str, **kwargs: Any) -> Client:
        import websockets

        return cls(await websockets.connect(url, open_timeout=10, **kwargs))

    async def send(self, frame: Any) -> None:
        await self.ws.send(frame if isinstance(frame, str) else json.dumps(frame))

    async def recv(self, timeout: float = 10.0) -> dict[str, Any]:
        import asyncio

        return json.loads(await asyncio.wait_for(self.ws.recv(), timeout))

    async def expect(self, kind: str, timeout: float = 10.0) -> dict[str, Any]:
        """Next frame of type ``kind``; other frames are a failure (except messages, kept)."""
        frame = await self.recv(timeout)
        assert frame["type"] == kind, frame
        return frame

    async def subscribe(self, channel: str, since: int | None = None) -> dict[str, Any]:
        frame: dict[str, Any] = {"type": "subscribe", "channel": channel}
        if since is not None:
            frame["since"] = since
        await self.send(frame)
        return await self.expect("subscribed")

    async def messages(self, channel: str, until: int, timeout: float = 20.0) -> list[int]:
        """Offsets of message frames on ``channel`` until offset ``until`` is seen."""
        import asyncio

        offsets: list[int] = []
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not offsets or offsets[-1] < until:
            remaining = deadline - loop.time()
            assert remaining > 0, f"timed out at {offsets[-3:]} waiting for {until}"
            frame = await self.recv(remaining)
            if frame["type"] == "message" and frame["channel"] == channel:
                offsets.append(frame["offset"])
        return offsets

    async def close(self) -> None:
        await self.ws.close()

    async def __aenter__(self) -> Client:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.ws.close()
