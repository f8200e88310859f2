"""Fixtures shared by every test folder."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

BudgetCli = Callable[..., "subprocess.CompletedProcess[str]"]


@pytest.fixture(scope="session")
def budget_cli() -> BudgetCli:
    """``python -m budget <args>`` from the project root, exactly as a user runs it.

    The commands only read the committed stack files and catalog, so each distinct one runs once per
    session however many tests read its output (``check --all`` alone took about 4 s each time).
    """
    done: dict[tuple[str, ...], subprocess.CompletedProcess[str]] = {}

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        if args not in done:
            done[args] = subprocess.run(
                [sys.executable, "-m", "budget", *args],
                cwd=ROOT,
                capture_output=True,
                text=True,
                check=False,
                timeout=300,
            )
        return done[args]

    return run
