"""Shared inputs of the review tests: recorded check reports (base branch and head of a pull request)."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

DATA = Path(__file__).parent / "data"


def load(name: str) -> Any:
    return json.loads((DATA / name).read_text(encoding="utf-8"))


@pytest.fixture
def base_report() -> dict[str, Any]:
    """Three phase stacks as the base branch prices them."""
    return load("base_all.json")


@pytest.fixture
def head_report() -> dict[str, Any]:
    """The same stacks after a pull request that adds a WebSocket server to phase 2."""
    return load("head_all.json")


def stack_of(report: dict[str, Any], name: str) -> dict[str, Any]:
    return next(s for s in report["stacks"] if s["stack"] == name)


def write(tmp_path: Path, name: str, data: Any) -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def clone(data: Any) -> Any:
    return copy.deepcopy(data)
