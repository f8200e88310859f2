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


#: Tests that run the whole fit search or a benchmark (tens of seconds each, most of the suite's CPU):
#: ``make test-fast`` leaves them out; ``make test`` runs them. By node id prefix, in one place.
SLOW = (
    "tests/budget/test_fit_cli.py",
    "tests/budget/test_fit_search.py",
    "tests/budget/test_fit_aurora.py",
    "tests/budget_review/test_review_html.py::test_report_command",
    "tests/budget_review/test_review_workflows.py",
    "tests/test_readme.py::test_readme_fit_table_matches_budget_fit",
    "tests/bench/",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.nodeid.startswith(SLOW):
            item.add_marker(pytest.mark.slow)
