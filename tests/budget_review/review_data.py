"""Recorded inputs of the review tests and small helpers (a unique module name: importable from any test)."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

DATA = Path(__file__).parent / "data"


def load(name: str) -> Any:
    return json.loads((DATA / name).read_text(encoding="utf-8"))


def stack_of(report: dict[str, Any], name: str) -> dict[str, Any]:
    return next(s for s in report["stacks"] if s["stack"] == name)


def write(tmp_path: Path, name: str, data: Any) -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def clone(data: Any) -> Any:
    return copy.deepcopy(data)
