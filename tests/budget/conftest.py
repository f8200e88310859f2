"""Fixtures for the budget tests (helpers live in budget_helpers.py)."""

from __future__ import annotations

import pytest

from budget.catalog import Catalog, load_catalog


@pytest.fixture(scope="session")
def catalog() -> Catalog:
    return load_catalog()


@pytest.fixture(scope="session")
def fit_phase1() -> tuple[int, str]:
    """``fit --stack phase1 --format json``, run once per session (exit code, stdout): several fit tests
    read the same answer."""
    import contextlib
    import io

    from budget.cli import main

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main(["fit", "--stack", "phase1", "--format", "json"])
    return code, out.getvalue()
