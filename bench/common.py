"""Shared pieces: machine and version facts, percentiles from histograms, tables and JSON output."""

from __future__ import annotations

import datetime as dt
import glob
import importlib.metadata
import json
import os
import platform
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import psutil

from bench.loadclient import bucket_ms

PACKAGES = (
    "starlette",
    "uvicorn",
    "uvloop",
    "httptools",
    "websockets",
    "broadcaster",
    "redis",
    "SQLAlchemy",
    "asyncpg",
    "psutil",
)


def _cmd_version(args: list[str]) -> str:
    try:
        out = subprocess.run(args, capture_output=True, text=True, timeout=10, check=False)
        return (out.stdout or out.stderr).strip().splitlines()[0]
    except (OSError, IndexError, subprocess.TimeoutExpired):
        return "unknown"


def _pg_ctl() -> str:
    return shutil.which("pg_ctl") or (sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl")) or ["pg_ctl"])[-1]


def machine() -> dict[str, Any]:
    """Where the figures come from: they mean little without the CPU, the core count and the load."""
    model = platform.processor()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpu_model": model,
        "cpus": os.cpu_count(),
        "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "loadavg_at_start": [round(x, 2) for x in os.getloadavg()],
        "time_utc": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }


def versions(extra: dict[str, str] | None = None) -> dict[str, str]:
    out: dict[str, str] = {}
    for name in PACKAGES:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = "missing"
    out["redis-server"] = _cmd_version(["redis-server", "--version"])
    out["postgres"] = _cmd_version([_pg_ctl(), "--version"])
    root = Path(__file__).resolve().parent.parent
    commit = _cmd_version(["git", "-C", str(root), "rev-parse", "--short", "HEAD"])
    dirty = subprocess.run(
        ["git", "-C", str(root), "status", "--porcelain", "--", "runtime", "bench"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    out["git_commit"] = commit + (" (runtime or bench modified)" if dirty else "")
    return {**out, **(extra or {})}


def merge_hist(hists: Sequence[Mapping[str, int] | Mapping[int, int]]) -> dict[int, int]:
    """One histogram from several, keyed by bucket (JSON's string keys or the load's integers)."""
    total: dict[int, int] = {}
    for h in hists:
        for k, v in h.items():
            total[int(k)] = total.get(int(k), 0) + v
    return total


def percentiles(hist: dict[int, int], qs: tuple[float, ...] = (0.5, 0.99)) -> dict[str, float | None]:
    """Percentiles (upper bucket edge, ms) and the max, from a bucketed latency histogram."""
    n = sum(hist.values())
    out: dict[str, float | None] = {f"p{round(q * 100):d}_ms": None for q in qs}
    out["max_ms"] = None
    if not n:
        return out
    keys = sorted(hist)
    for q in qs:
        rank = q * n
        seen = 0
        for k in keys:
            seen += hist[k]
            if seen >= rank:
                out[f"p{round(q * 100):d}_ms"] = bucket_ms(k)
                break
    out["max_ms"] = bucket_ms(keys[-1])
    return out


def fmt(value: Any, digits: int = 1) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        if abs(value) >= 1000:
            return f"{value:,.0f}"
        return f"{value:.{digits}f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def table(headers: list[str], rows: list[list[Any]]) -> str:
    cells = [[fmt(c) for c in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) if cells else len(h) for i, h in enumerate(headers)]
    lines = [
        "  ".join(
            h.rjust(w) if i else h.ljust(w) for i, (h, w) in enumerate(zip(headers, widths, strict=True))
        )
    ]
    lines.append("  ".join("-" * w for w in widths))
    for r in cells:
        lines.append(
            "  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths, strict=True)))
        )
    return "\n".join(lines)


def write_json(path: str | None, result: dict[str, Any]) -> None:
    if path:
        Path(path).write_text(json.dumps(result, indent=2, sort_keys=False) + "\n")


def ratio(a: float | None, b: float | None) -> float | None:
    if a is None or b is None or b == 0:
        return None
    return a / b
