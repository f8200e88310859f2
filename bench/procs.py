"""Start and always stop what a benchmark runs: servers in their own process groups, killed on exit.

Every child gets its own session (process group), is registered here, and is killed with its whole
group from a ``finally`` block, from ``atexit`` and on SIGTERM/SIGALRM, so that neither a failed run
nor a global timeout leaves a server or a load client behind.
"""

from __future__ import annotations

import atexit
import contextlib
import http.client
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import psutil

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable

_children: list[subprocess.Popen[bytes]] = []


def _kill_group(proc: subprocess.Popen[bytes], grace: float = 3.0) -> None:
    if proc.poll() is not None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)  # leftovers of an exited leader
        return
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=grace)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=grace)


def stop(proc: subprocess.Popen[bytes] | None, grace: float = 3.0) -> None:
    if proc is None:
        return
    _kill_group(proc, grace)
    if proc in _children:
        _children.remove(proc)


#: What Popen takes for a standard stream: a file, a descriptor, subprocess.PIPE/DEVNULL, or inherit (None).
Stream = int | IO[Any] | None


def stop_all() -> None:
    for proc in list(_children):
        stop(proc, grace=1.0)


def spawn(
    args: list[str],
    env: dict[str, str] | None = None,
    stdin: Stream = None,
    stdout: Stream = None,
    stderr: Stream = None,
) -> subprocess.Popen[bytes]:
    """Popen in a new session, registered for cleanup; cwd is the repository root."""
    full_env = {**os.environ, **(env or {})}
    full_env["PYTHONPATH"] = str(ROOT) + os.pathsep + full_env.get("PYTHONPATH", "")
    proc = subprocess.Popen(
        args, env=full_env, cwd=ROOT, start_new_session=True, stdin=stdin, stdout=stdout, stderr=stderr
    )
    _children.append(proc)
    return proc


atexit.register(stop_all)


def _on_signal(signum: int, _frame: object) -> None:
    stop_all()
    raise SystemExit(f"benchmark stopped by signal {signal.Signals(signum).name}")


@contextlib.contextmanager
def global_timeout(seconds: float) -> Iterator[None]:
    """Hard stop for the whole run: SIGALRM kills every child and exits."""
    old_alarm = signal.signal(signal.SIGALRM, _on_signal)
    old_term = signal.signal(signal.SIGTERM, _on_signal)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old_alarm)
        signal.signal(signal.SIGTERM, old_term)
        stop_all()


def tree(pid: int) -> list[psutil.Process]:
    """A process and all its descendants (uvicorn's workers are children of its supervisor)."""
    try:
        root = psutil.Process(pid)
        return [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def cpu_seconds(procs: list[psutil.Process]) -> float:
    """User+system CPU seconds of the given processes (only those still alive)."""
    total = 0.0
    for p in procs:
        with contextlib.suppress(psutil.NoSuchProcess, psutil.AccessDenied):
            t = p.cpu_times()
            total += t.user + t.system
    return total


def memory(procs: list[psutil.Process]) -> dict[str, int]:
    """Summed RSS and USS (private) bytes."""
    rss = uss = 0
    for p in procs:
        with contextlib.suppress(psutil.NoSuchProcess, psutil.AccessDenied):
            info = p.memory_full_info()
            rss += info.rss
            uss += info.uss
    return {"rss": rss, "uss": uss}


def wait_http(port: int, path: str = "/healthz", timeout: float = 30.0) -> None:
    """Poll a local HTTP endpoint until it answers 200 (the server finished its start-up)."""
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", path)
            if conn.getresponse().status == 200:
                conn.close()
                return
            conn.close()
        except OSError as exc:
            last = exc
        time.sleep(0.1)
    raise TimeoutError(f"server on port {port} not healthy after {timeout}s: {last}")


def spy(
    processes: list[psutil.Process], duration: float, outdir: str, name: str
) -> list[subprocess.Popen[bytes]]:
    """py-spy (if installed) samples each process; collapsed stacks go to ``outdir/name-PID.txt``."""
    exe = shutil.which("py-spy") or str(Path(PYTHON).with_name("py-spy"))
    if not Path(exe).exists():
        return []
    out = Path(outdir)
    out.mkdir(parents=True, exist_ok=True)
    return [
        spawn(
            [
                exe,
                "record",
                "--pid",
                str(p.pid),
                "--duration",
                str(max(1, int(duration))),
                "--rate",
                "200",
                "--format",
                "raw",
                "--nonblocking",
                "--output",
                str(out / f"{name}-{p.pid}.txt"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for p in processes
    ]
