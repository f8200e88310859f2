"""Fixtures for the budget tests (helpers live in budget_helpers.py)."""

from __future__ import annotations

import contextlib
import io
from typing import Any

import pytest

from budget.catalog import Catalog, load_catalog
from budget.cli import main
from tests.once_per_run import once_per_run


@pytest.fixture(scope="session")
def catalog() -> Catalog:
    return load_catalog()


@pytest.fixture(scope="session")
def fit_phase1(tmp_path_factory: pytest.TempPathFactory, worker_id: str) -> tuple[int, str]:
    """``fit --stack phase1 --format json``, run in process once per test run (exit code, stdout): the
    fit tests that read this answer are spread over the workers, and none of them runs the search again."""

    def fit() -> list[Any]:
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            code = main(["fit", "--stack", "phase1", "--format", "json"])
        return [code, out.getvalue()]

    code, out = once_per_run(tmp_path_factory, worker_id, "fit --stack phase1 --format json", fit)
    return int(code), str(out)
