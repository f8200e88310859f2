"""Real Redis, PostgreSQL and runtime servers on loopback ephemeral ports, for benchmarks and tests.

Plain classes and context managers (no pytest import), so that benchmarks and tests share them. Every
server binds 127.0.0.1 only, lives in a temporary directory and is stopped and removed on exit.
"""

from __future__ import annotations

import contextlib
import glob
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    """Ask the kernel for a free loopback TCP port."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for_port(port: int, timeout: float = 15.0, host: str = "127.0.0.1") -> None:
    """Poll until something accepts TCP connections on host:port."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise TimeoutError(f"nothing listens on {host}:{port} after {timeout}s") from None
            time.sleep(0.02)


def _binary(name: str) -> str:
    """Find a server binary on PATH or in Debian's versioned PostgreSQL directory."""
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    if candidates:
        return candidates[-1]
    raise FileNotFoundError(f"{name} not found; run .ci/setup --test")


@dataclass
class RedisServer:
    """A redis-server process that can be killed and restarted on the same port."""

    port: int = field(default_factory=free_port)
    directory: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="redis-")))
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                _binary("redis-server"),
                "--bind",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--dir",
                str(self.directory),
                "--save",
                "",
                "--appendonly",
                "no",
                "--protected-mode",
                "yes",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for_port(self.port)

    def kill(self) -> None:
        """Kill -9, as an outage would, and wait until the port is free."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)
        self.process = None

    def restart(self, down_for: float = 0.0) -> None:
        self.kill()
        if down_for:
            time.sleep(down_for)
        self.start()

    def stop(self) -> None:
        self.kill()
        shutil.rmtree(self.directory, ignore_errors=True)


@contextlib.contextmanager
def redis_server() -> Iterator[RedisServer]:
    server = RedisServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()


def _as_postgres(cmd: list[str]) -> list[str]:
    """PostgreSQL refuses to run as root: drop to the postgres user when we are root."""
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *cmd]
    return cmd


@dataclass
class PostgresServer:
    """A throw-away PostgreSQL cluster (initdb into a temp dir, trust auth on loopback)."""

    port: int = field(default_factory=free_port)
    directory: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="pg-")))
    user: str = "postgres"
    running: bool = False

    @property
    def data(self) -> Path:
        return self.directory / "data"

    @property
    def url(self) -> str:
        return f"postgresql://{self.user}@127.0.0.1:{self.port}/postgres"

    def _chown(self) -> None:
        if os.geteuid() == 0:
            shutil.chown(self.directory, "postgres", "postgres")
        os.chmod(self.directory, 0o700)

    def init(self) -> None:
        self._chown()
        subprocess.run(
            _as_postgres(
                [_binary("initdb"), "-D", str(self.data), "-U", self.user, "-A", "trust", "-E", "UTF8"]
            ),
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            timeout=60,
        )

    def start(self) -> None:
        # fsync=off only matters if the machine crashes; synchronous_commit stays on, because a
        # committed (acknowledged) message must survive a killed server.
        options = (
            f"-p {self.port} -k {self.directory} -c listen_addresses=127.0.0.1 "
            "-c fsync=off -c full_page_writes=off -c max_connections=300"
        )
        subprocess.run(
            _as_postgres(
                [
                    _binary("pg_ctl"),
                    "-D",
                    str(self.data),
                    "-o",
                    options,
                    "-l",
                    str(self.directory / "log"),
                    "-w",
                    "-t",
                    "30",
                    "start",
                ]
            ),
            check=True,
            stdout=subprocess.DEVNULL,
            timeout=60,
        )
        self.running = True
        wait_for_port(self.port)

    def stop(self, mode: str = "fast") -> None:
        if self.running:
            subprocess.run(
                _as_postgres([_binary("pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop"]),
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                timeout=60,
                check=False,
            )
            self.running = False

    def cleanup(self) -> None:
        self.stop("immediate")
        shutil.rmtree(self.directory, ignore_errors=True)

    def create_database(self, name: str) -> str:
        """Create a fresh database and return its URL."""
        subprocess.run(
            _as_postgres(
                [_binary("createdb"), "-h", "127.0.0.1", "-p", str(self.port), "-U", self.user, name]
            ),
            check=True,
            timeout=30,
        )
        return f"postgresql://{self.user}@127.0.0.1:{self.port}/{name}"


@contextlib.contextmanager
def postgres_server() -> Iterator[PostgresServer]:
    server = PostgresServer()
    try:
        server.init()
        server.start()
        yield server
    finally:
        server.cleanup()


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

    @property
    def pid(self) -> int:
        """The server's (supervisor's, with several workers) process id, once started."""
        if self.process is None:
            raise RuntimeError("the runtime server has not been started")
        return self.process.pid

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
