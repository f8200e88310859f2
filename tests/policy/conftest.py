"""Fixtures of the policy pack tests (the stacks as the engine reports them live in stacks.py)."""

from __future__ import annotations

import pytest

from tests.infra.conftest import PHASES


@pytest.fixture(params=PHASES)
def phase(request: pytest.FixtureRequest) -> str:
    return request.param


def pytest_configure(config: pytest.Config) -> None:
    """pulumi_aws warns about its own deprecated aliases on import; they are not ours to fix."""
    config.addinivalue_line("filterwarnings", "ignore::DeprecationWarning:pulumi_aws.*")
