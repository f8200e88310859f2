"""A Debian 12 machine with systemd as PID 1, for running the servers' exact user data.

The root is made once by ``debootstrap`` and cached outside the repository, keyed by its package list
(``STARS_BOOT_CACHE``, default /var/cache/stars-boot-test); each run boots an overlay of it, so runs never
change the cache. ``systemd-nspawn --private-network`` gives the machine its own loopback only: what it may
reach (the local AWS, PostgreSQL, Redis behind TLS) is bridged in on the ports a server would use, and its
port 8000 is bridged out, by sockets made inside its network namespace (``setns`` in a helper thread).
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import fcntl
import hashlib
import os
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")
SUITE = "bookworm"
#: What the Debian 12 cloud image has that the boot relies on: systemd, python3 and the CA bundle.
PACKAGES = ("systemd", "systemd-sysv", "dbus", "python3", "ca-certificates")
CACHE = Path(os.environ.get("STARS_BOOT_CACHE", "/var/cache/stars-boot-test"))
CLONE_NEWNET = 0x40000000
#: No machine registration (there is no system bus on the host), its own network namespace.
NSPAWN = ("systemd-nspawn", "--quiet", "--boot", "--register=no", "--keep-unit", "--private-network")


def unavailable() -> str | None:
    """Why this machine cannot boot a systemd container, or None."""
    if os.geteuid() != 0:
        return "needs root (systemd-nspawn, debootstrap, overlay mounts)"
    missing = [t for t in ("systemd-nspawn", "debootstrap", "nsenter") if shutil.which(t) is None]
    if missing:
        return (
            f"{', '.join(missing)} not installed (.ci/setup --test installs systemd-container, debootstrap)"
        )
    return None


def cached_root(packages: tuple[str, ...] = PACKAGES) -> Path:
    """The debootstrap root for ``packages``: built once (35-90 s), then reused."""
    key = hashlib.sha256(f"{SUITE} minbase {','.join(sorted(packages))}".encode()).hexdigest()[:16]
    root = CACHE / f"{SUITE}-{key}"
    CACHE.mkdir(parents=True, exist_ok=True)
    with open(CACHE / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another run may be building it
        if not (root / "usr/bin/python3").exists():
            staging = Path(tempfile.mkdtemp(prefix=f".{SUITE}-", dir=CACHE))
            subprocess.run(
                ["debootstrap", "--variant=minbase", f"--include={','.join(packages)}", SUITE, str(staging)],
                check=True,
                capture_output=True,
                timeout=900,
            )
            shutil.rmtree(root, ignore_errors=True)
            staging.rename(root)
    return root


def _in_netns(pid: int, make: Callable[[], socket.socket]) -> socket.socket:
    """A socket created inside the network namespace of ``pid`` (the thread enters it, the process
    stays where it is; the socket keeps the namespace it was made in)."""
    libc = ctypes.CDLL(None, use_errno=True)

    def enter_and_make() -> socket.socket:
        fd = os.open(f"/proc/{pid}/ns/net", os.O_RDONLY)
        try:
            if libc.setns(fd, CLONE_NEWNET) != 0:
                raise OSError(ctypes.get_errno(), "setns")
        finally:
            os.close(fd)
        return make()

    with ThreadPoolExecutor(1) as pool:  # a fresh thread: it never returns to the host's namespace
        return pool.submit(enter_and_make).result()


def _listener(port: int) -> socket.socket:
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    sock.listen(64)
    sock.setblocking(False)
    return sock


class Bridges:
    """TCP relays between the host and the machine, on one asyncio loop in a thread."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True, name="boot-bridges")
        self.thread.start()
        self.servers: dict[str, asyncio.AbstractServer] = {}

    def _call(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout=10)

    async def _pump(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except (ConnectionError, OSError, ssl.SSLError):
            pass
        finally:
            with contextlib.suppress(Exception):
                writer.close()

    def inbound(
        self, name: str, port: int, target: tuple[str, int], tls: ssl.SSLContext | None = None
    ) -> None:
        """The machine's 127.0.0.1:``port`` reaches the host's ``target`` (TLS ends here when given)."""
        listener = _in_netns(self.pid, lambda: _listener(port))

        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            try:
                up_reader, up_writer = await asyncio.open_connection(*target)
            except OSError:
                writer.close()
                return
            await asyncio.gather(self._pump(reader, up_writer), self._pump(up_reader, writer))

        async def start() -> asyncio.AbstractServer:
            return await asyncio.start_server(handle, sock=listener, ssl=tls)

        self.servers[name] = self._call(start())

    def outbound(self, name: str, port: int) -> int:
        """A host port that reaches the machine's 127.0.0.1:``port``; returns the host port."""
        listener = _listener(0)

        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            sock = _in_netns(self.pid, socket.socket)
            sock.setblocking(False)
            try:
                await self.loop.sock_connect(sock, ("127.0.0.1", port))
            except OSError:
                sock.close()
                writer.close()
                return
            up_reader, up_writer = await asyncio.open_connection(sock=sock)
            await asyncio.gather(self._pump(reader, up_writer), self._pump(up_reader, writer))

        async def start() -> asyncio.AbstractServer:
            return await asyncio.start_server(handle, sock=listener)

        self.servers[name] = self._call(start())
        return int(listener.getsockname()[1])

    def close(self, name: str) -> None:
        server = self.servers.pop(name)

        async def stop() -> None:
            server.close()

        self._call(stop())

    def shutdown(self) -> None:
        for name in list(self.servers):
            self.close(name)

        async def cancel_relays() -> None:
            relays = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in relays:
                task.cancel()
            await asyncio.gather(*relays, return_exceptions=True)

        self._call(cancel_relays())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)
        self.loop.close()


def _systemd_child(pid: int) -> int:
    """The child of ``pid`` that runs systemd (the machine's PID 1), or 0 while there is none yet."""
    children = Path(f"/proc/{pid}/task/{pid}/children")
    try:
        pids = children.read_text().split()
    except OSError:
        return 0
    for child in pids:
        try:
            if Path(f"/proc/{child}/comm").read_text().strip() == "systemd":
                return int(child)
        except OSError:
            continue
    return 0


class Machine:
    """One booted overlay of the cached root."""

    def __init__(self, lower: Path, workdir: Path) -> None:
        self.lower, self.workdir = lower, workdir
        self.root = workdir / "root"
        self.process: subprocess.Popen[bytes] | None = None
        self.leader = 0
        self.bridges: Bridges | None = None
        self.boot_seconds = 0.0

    def mount(self) -> None:
        for part in ("upper", "work", "root"):
            (self.workdir / part).mkdir(parents=True)
        options = f"lowerdir={self.lower},upperdir={self.workdir / 'upper'},workdir={self.workdir / 'work'}"
        subprocess.run(["mount", "-t", "overlay", "overlay", "-o", options, str(self.root)], check=True)

    def boot(self, timeout: float = 60) -> float:
        """Start systemd as PID 1 and wait until it is up; returns the seconds it took."""
        started = time.monotonic()
        console = open(self.workdir / "console.log", "wb")  # noqa: SIM115 - closed with the process
        self.process = subprocess.Popen(
            [*NSPAWN, "-D", str(self.root), f"--machine=stars-boot-{os.getpid()}"],
            stdin=subprocess.DEVNULL,
            stdout=console,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        while time.monotonic() - started < timeout:
            if self.process.poll() is not None:
                raise RuntimeError(f"systemd-nspawn exited {self.process.returncode}: see console.log")
            if not self.leader:
                # nspawn's first child is itself for a moment (it forks the inner child that execs
                # systemd): taken then, the "leader" was nspawn's own helper and every nsenter missed
                # the machine (CI: "did not reach multi-user.target" while the console showed it had)
                self.leader = _systemd_child(self.process.pid)
                if self.leader:
                    self.bridges = Bridges(self.leader)
            if self.leader:
                state = self.run("systemctl", "is-system-running", check=False).stdout.strip()
                if state in ("running", "degraded"):
                    return time.monotonic() - started
            time.sleep(0.2)
        raise TimeoutError(f"the machine did not reach multi-user.target in {timeout:.0f} s")

    def run(self, *cmd: str, check: bool = True, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        """A command inside the machine (its mount, PID, IPC, UTS and network namespaces)."""
        return subprocess.run(
            ["nsenter", "-t", str(self.leader), "-m", "-u", "-i", "-n", "-p", "--", *cmd],
            capture_output=True,
            text=True,
            check=check,
            timeout=timeout,
        )

    def unit(self, name: str, prop: str) -> str:
        return self.run("systemctl", "show", "-P", prop, name).stdout.strip()

    def poweroff(self, timeout: float = 30) -> None:
        """SIGRTMIN+4 to the machine's systemd: a clean shutdown, then nspawn exits."""
        if self.bridges is not None:
            self.bridges.shutdown()
        if self.process is None or self.process.poll() is not None:
            return
        if self.leader:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.leader, signal.SIGRTMIN + 4)
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)

    def unmount(self) -> None:
        for _ in range(50):
            if subprocess.run(["umount", str(self.root)], capture_output=True, check=False).returncode == 0:
                return
            if not os.path.ismount(self.root):
                return
            time.sleep(0.1)
        subprocess.run(["umount", "-l", str(self.root)], check=False)


@contextlib.contextmanager
def machine(workdir: Path, prepare: Callable[[Path], None]) -> Iterator[Machine]:
    """A booted machine on an overlay of the cached root; ``prepare`` writes into its root first."""
    box = Machine(cached_root(), workdir)
    box.mount()
    try:
        prepare(box.root)
        box.boot_seconds = box.boot()
        yield box
    finally:
        box.poweroff()
        box.unmount()
