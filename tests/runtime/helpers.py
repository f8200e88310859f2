"""Test helpers: runtime server processes, HTTP and WebSocket clients, tokens, metrics."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from runtime.auth import issue
from tests.servers import free_port

ROOT = Path(__file__).resolve().parents[2]
SECRET = "test-secret-not-for-production-0123456789"


class RuntimeServer:
    """``python -m runtime serve`` in a subprocess on a free loopback port, always stopped."""

    def __init__(
        self,
        env: dict[str, str],
        workers: int = 1,
        cwd: Path | None = None,
        log_level: str | None = "warning",
    ) -> None:
        self.port = free_port()
        self.log_level = log_level  # None: STARS_LOG_LEVEL decides
        self.workers = workers
        self.own_cwd = cwd is None
        self.cwd = cwd or Path(tempfile.mkdtemp(prefix="stars-rt-"))
        self.log_path = self.cwd / f"server-{self.port}.log"
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("STARS_")},
            "PYTHONPATH": str(ROOT),
            "STARS_DRAIN_GRACE": "0.2",
            "STARS_DRAIN_TIMEOUT": "5",
            **env,
        }
        self.env.pop("PROMETHEUS_MULTIPROC_DIR", None)
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def http(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def ws(self, token: str) -> str:
        return f"ws://127.0.0.1:{self.port}/ws?token={token}"

    def start(self, timeout: float = 30.0) -> RuntimeServer:
        log = open(self.log_path, "ab")  # noqa: SIM115 - closed with the process
        level = ["--log-level", self.log_level] if self.log_level else []
        self.process = subprocess.Popen(
            [sys.executable, "-m", "runtime", "serve", "--host", "127.0.0.1", "--port", str(self.port),
             "--workers", str(self.workers), *level],
            cwd=self.cwd, env=self.env, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        log.close()
        deadline = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"runtime exited with {self.process.returncode}:\n{self.logs()}")
            try:
                with urllib.request.urlopen(self.http + "/healthz", timeout=1) as r:
                    if r.status == 200:
                        return self
            except (OSError, urllib.error.URLError):
                pass
            if time.monotonic() > deadline:
                logs = self.logs()
                self.stop()
                raise TimeoutError(f"runtime not healthy in {timeout}s:\n{logs}")
            time.sleep(0.05)

    def logs(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def terminate(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)

    def stop(self, timeout: float = 15.0) -> int | None:
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        if self.own_cwd:
            shutil.rmtree(self.cwd, ignore_errors=True)
        return self.process.returncode

    def get(self, path: str, token: str | None = None) -> tuple[int, Any]:
        return http_json("GET", self.http + path, token=token)

    def post(self, path: str, body: Any, token: str | None = None) -> tuple[int, Any]:
        return http_json("POST", self.http + path, body, token=token)


def http_json(method: str, url: str, body: Any = None, token: str | None = None) -> tuple[int, Any]:
    data = None if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
    req = urllib.request.Request(url, data=data, method=method)
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            raw = r.read()
            status = r.status
    except urllib.error.HTTPError as e:
        raw, status = e.read(), e.code
    try:
        return status, json.loads(raw)
    except ValueError:
        return status, raw.decode(errors="replace")


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
    with urllib.request.urlopen(server.http + "/metrics", timeout=5) as r:
        text = r.read().decode()
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name) and not line.startswith("#"):
            head, _, value = line.rpartition(" ")
            if head.split("{")[0] == name:
                total += float(value)
    return total


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
