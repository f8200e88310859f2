"""Fixtures of the review tests: recorded check reports (base branch and head of a pull request)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.budget_review.review_data import load


@pytest.fixture
def base_report() -> dict[str, Any]:
    """Three phase stacks as the base branch prices them."""
    return load("base_all.json")


@pytest.fixture
def head_report() -> dict[str, Any]:
    """The same stacks after a pull request that adds a WebSocket server to phase 2."""
    return load("head_all.json")
