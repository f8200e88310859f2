"""Fixtures shared by every test folder."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from budget.fit import plan_cache
from tests.once_per_run import once_per_run
from tests.scheduling import WHOLE_SEARCHES, FilesTogether, first_rank

ROOT = Path(__file__).resolve().parents[1]

BudgetCli = Callable[..., "subprocess.CompletedProcess[str]"]


@pytest.fixture(scope="session", autouse=True)
def shared_tier_plans(tmp_path_factory: pytest.TempPathFactory, worker_id: str) -> None:
    """Every process of the run (workers and the commands they start) shares fit's tier plans through
    one folder (``STARS_PLAN_CACHE``, budget/fit/plan_cache.py): planning is two thirds of a fit, and the
    suite fits the phase stacks in many tests. Fit still re-plans each answer whole and checks it."""
    base = tmp_path_factory.getbasetemp()
    shared = base if worker_id == "master" else base.parent  # the run's folder, common to its workers
    os.environ[plan_cache.ENV] = str(shared / "tier-plans")


@pytest.fixture(scope="session")
def budget_cli(tmp_path_factory: pytest.TempPathFactory, worker_id: str) -> BudgetCli:
    """``python -m budget <args>`` from the project root, exactly as a user runs it.

    The commands only read the committed stack files and catalog, so each distinct one runs once per
    test run however many tests, in however many workers, read its output (``fit --all`` is a whole
    search of every phase; ``check --all`` alone took about 4 s each time).
    """
    done: dict[tuple[str, ...], subprocess.CompletedProcess[str]] = {}

    def command(args: tuple[str, ...]) -> dict[str, Any]:
        ran = subprocess.run(
            [sys.executable, "-m", "budget", *args],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=False,
            timeout=300,
        )
        return {"returncode": ran.returncode, "stdout": ran.stdout, "stderr": ran.stderr}

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        if args not in done:
            key = "python -m budget " + " ".join(args)
            ran = once_per_run(tmp_path_factory, worker_id, key, lambda: command(args))
            done[args] = subprocess.CompletedProcess(
                [sys.executable, "-m", "budget", *args], ran["returncode"], ran["stdout"], ran["stderr"]
            )
        return done[args]

    return run


#: Tests that run a whole fit search, a benchmark, the Pulumi program's guard or a command over every
#: stack in a process of its own, and the 1,500-frame parser fuzz (5 s to tens of seconds each, most of
#: the suite's CPU): ``make test-fast`` leaves them out; ``make test`` runs them. By node id prefix.
SLOW = (
    *WHOLE_SEARCHES,
    "tests/budget/test_cdn_split.py::test_fit_puts_the_assets_on_plans_beside_a_pay_as_you_go_distribution",
    "tests/budget/test_budget_guard.py",
    "tests/budget/test_budget_cli.py::test_all_stacks_real_command_json",
    "tests/budget/test_budget_deflate.py::test_fit_shows_the_derivation_with_the_ratio_and_its_run",
    "tests/budget_review/test_review_real.py",
    "tests/runtime/test_runtime_fuzz.py::test_the_parser_accepts_or_refuses_with_a_documented_code",
    "tests/budget_review/test_review_html.py::test_report_command",
    "tests/budget_review/test_review_html.py::test_report_fits_in_process_without_a_saved_fit",
    "tests/budget_review/test_review_workflows.py",
    "tests/test_readme.py::test_readme_fit_table_matches_budget_fit",
    "tests/budget/test_golden.py::test_fit_json",
    "tests/budget/test_fit_dbpool.py::test_the_search_takes_a_larger_class_when_the_cheapest_cannot_take_the_pools",
    "tests/budget/test_asset_overflow.py::test_fit_picks_two_pro_plans_and_the_overflow_for_phase1",
    "tests/budget/test_asset_overflow.py::test_free_plans_that_carry_the_whole_rest_are_searched",
    "tests/infra/test_edge_options.py::test_untaggable_list_matches_the_provider_for_the_new_types",
    "tests/bench/",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Marks the slow tests, and puts the longest files first (tests/scheduling.py hands them out)."""
    for item in items:
        if item.nodeid.startswith(SLOW):
            item.add_marker(pytest.mark.slow)
    items.sort(key=lambda item: first_rank(item.nodeid))  # stable: each file's order is kept


def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> FilesTogether | None:
    """``--dist loadgroup`` (``make test``): each file on one worker, the whole searches spread."""
    return FilesTogether(config, log) if config.getvalue("dist") == "loadgroup" else None


@pytest.fixture(scope="session")
def fit_phase1(budget_cli: BudgetCli) -> tuple[int, str]:
    """``fit --stack phase1 --format json`` (exit code, stdout), taken from this run's one ``fit --all``:
    each stack's entry there is the same search and the same JSON as ``fit --stack`` alone (the entry is
    ``to_json()`` of the same report, test_fit_report holds the format's part; the two were identical byte
    for byte when this was written), so the run searches phase 1 once."""
    ran = budget_cli("fit", "--all", "--format", "json")
    [entry] = [s for s in json.loads(ran.stdout)["stacks"] if s["stack"] == "phase1"]
    return int(entry["exit_code"]), json.dumps(entry, indent=1, ensure_ascii=False) + "\n"
