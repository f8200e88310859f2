"""Tier plans kept on disk between processes, when ``STARS_PLAN_CACHE`` names a folder (off by default).

Planning a tier under Pulumi mocks is two thirds of a fit, and a tier's plan depends only on the config
values it reads (``components.stack.TIER_READS``) and on the program itself. So several processes that fit
the same stacks (a test run's workers, ``fit --all``'s one process per stack, a CI job that runs check,
fit and the report one after another) can share the plans through one folder. Entries live in a
subfolder named by a digest of the program (every source file of ``components/`` and
``runtime/deploy/``, ``budget/plan.py``, and the Pulumi versions), so a changed program never reads an
older program's plans. Entries are JSON (never pickle: the folder is outside the program's control),
written whole by rename; an unreadable entry is a miss. Fit still re-plans its answers whole and checks
them to the cent (:func:`budget.fit.pricer.verify`).
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import os
import tempfile
from dataclasses import MISSING, asdict, fields
from functools import lru_cache
from pathlib import Path

from budget.model import PlannedResource

ENV = "STARS_PLAN_CACHE"
ROOT = Path(__file__).resolve().parents[2]
#: An entry larger than this is not read (the biggest tier plan written is well under 1 MB): a file put
#: in the folder by something else never costs more than this much memory.
MAX_ENTRY_BYTES = 8 * 1024 * 1024
#: What a tier's plan is made from, besides the config values in its key.
PROGRAM = ("components", "runtime/deploy", "budget/plan.py")


@lru_cache(maxsize=1)
def program_digest(root: Path = ROOT) -> str:
    """A digest of the program that plans: its source files and the Pulumi packages' versions."""
    digest = hashlib.sha256()
    for name in PROGRAM:
        top = root / name
        files = [top] if top.is_file() else sorted(p for p in top.rglob("*") if p.is_file())
        for path in files:
            if "__pycache__" in path.parts:
                continue
            digest.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes() + b"\0")
    for package in ("pulumi", "pulumi_aws"):
        digest.update(f"{package}=={importlib.metadata.version(package)}\0".encode())
    return digest.hexdigest()[:24]


def folder() -> Path | None:
    """This program's folder of the cache, or None when ``STARS_PLAN_CACHE`` is unset or empty."""
    base = os.environ.get(ENV, "").strip()
    return Path(base) / program_digest() if base else None


def _entry(where: Path, tier: str, key: str) -> Path:
    return where / (hashlib.sha256(f"{tier}\0{key}".encode()).hexdigest()[:40] + ".json")


def load(tier: str, key: str) -> tuple[PlannedResource, ...] | None:
    """The kept plan of ``tier`` for ``key``, or None (no cache, no entry, or an unreadable one)."""
    where = folder()
    if where is None:
        return None
    entry = _entry(where, tier, key)
    try:
        if entry.stat().st_size > MAX_ENTRY_BYTES:
            return None
        data = json.loads(entry.read_text(encoding="utf-8"))
    # no entry or an unreadable file, text that is not UTF-8, not JSON, or JSON nested past the parser's
    # recursion limit: what a file in the folder can be. Any other error is the program's and propagates.
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        return None
    return _plan_of(data, tier, key)


#: The fields of a kept resource: all of them may be written, those without a default must be.
_FIELDS = frozenset(f.name for f in fields(PlannedResource))
_REQUIRED = frozenset(
    f.name for f in fields(PlannedResource) if f.default is MISSING and f.default_factory is MISSING
)


def _plan_of(data: object, tier: str, key: str) -> tuple[PlannedResource, ...] | None:
    """The plan in a read entry when it has the shape :func:`store` writes for this tier and key, else None
    (the shape is checked, not guessed from an exception)."""
    if not isinstance(data, dict) or data.get("tier") != tier or data.get("key") != key:
        return None
    resources = data.get("resources")
    if not isinstance(resources, list):
        return None
    if not all(isinstance(r, dict) and _REQUIRED <= r.keys() <= _FIELDS for r in resources):
        return None
    return tuple(PlannedResource(**r) for r in resources)


def store(tier: str, key: str, plan: tuple[PlannedResource, ...]) -> None:
    """Keep a tier's plan for other processes (nothing when the cache is off or cannot be written)."""
    where = folder()
    if where is None:
        return
    document = {"tier": tier, "key": key, "resources": [asdict(r) for r in plan]}
    try:
        where.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile("w", dir=where, suffix=".tmp", delete=False, encoding="utf-8") as f:
            json.dump(document, f)
        os.replace(f.name, _entry(where, tier, key))
    except (OSError, TypeError, ValueError):  # a full disk or an input JSON cannot hold: plan again
        return
