"""Plan each real stack file once per session: the mocked runs are shared by every infra test."""

from __future__ import annotations

from pathlib import Path

import pytest

from components.config import StackConfig, load_stack_file
from components.planning.mocks import Plan, plan

ROOT = Path(__file__).resolve().parents[2]
PHASES = ("phase1", "phase2", "phase3")
_PLANS: dict[str, Plan] = {}


def stack_config(phase: str) -> StackConfig:
    """The validated config of ``Pulumi.<phase>.yaml``."""
    return load_stack_file(ROOT / f"Pulumi.{phase}.yaml")


def planned(phase: str) -> Plan:
    """The mocked plan of one phase, computed once."""
    if phase not in _PLANS:
        _PLANS[phase] = plan(stack_config(phase))
    return _PLANS[phase]


@pytest.fixture(params=PHASES)
def phase(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def cfg(phase: str) -> StackConfig:
    return stack_config(phase)


@pytest.fixture
def stack_plan(phase: str) -> Plan:
    return planned(phase)


def pytest_configure(config: pytest.Config) -> None:
    """pulumi_aws warns about its own deprecated aliases on import; they are not ours to fix."""
    config.addinivalue_line("filterwarnings", "ignore::DeprecationWarning:pulumi_aws.*")
