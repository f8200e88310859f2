"""Every recorded input matches the provider SDK's schema (mocks alone would accept anything)."""

from __future__ import annotations

from components.planning.mocks import Plan
from tests.infra.conftest import planned
from tests.infra.helpers import named
from tests.infra.schema import schema_errors


def test_inputs_match_the_provider_schema(stack_plan: Plan) -> None:
    errors = [
        f"{r.name}: {e}" for r in stack_plan.resources if r.custom for e in schema_errors(r.type, r.inputs)
    ]
    assert errors == []


def test_schema_check_can_fail() -> None:
    asg = named(planned("phase1").resources, "api-asg")
    bad = {**asg.inputs, "instanceRefresh": {"strategy": "Rolling", "preferences": {"instanceWarmup": 120.5}}}
    bad["healthCheckTyp"] = "ELB"
    bad["launchTemplate"] = {"id": "lt-1", "versoin": "1"}
    errors = schema_errors(asg.type, bad)
    assert any("instanceWarmup: float 120.5 where the provider expects str" in e for e in errors), errors
    assert any("healthCheckTyp: not an input" in e for e in errors), errors
    assert any("launchTemplate.versoin: not a property of GroupLaunchTemplateArgs" in e for e in errors), (
        errors
    )
