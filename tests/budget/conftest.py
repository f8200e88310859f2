"""Fixtures for the budget tests (helpers live in budget_helpers.py)."""

from __future__ import annotations

import pytest

from budget.catalog import Catalog, load_catalog


@pytest.fixture(scope="session")
def catalog() -> Catalog:
    return load_catalog()
