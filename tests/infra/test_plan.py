"""The mocked run itself: it completes, records every tier and can be repeated in one process."""

from __future__ import annotations

from components.config import StackConfig
from components.mocks import Plan, plan_resources
from components.stack import TIERS


def test_every_tier_is_registered(stack_plan: Plan) -> None:
    tiers = {r.tier for r in stack_plan.resources}
    assert tiers == set(TIERS)
    components = {r.name for r in stack_plan.resources if not r.custom}
    assert components == set(TIERS)


def test_records_carry_urn_and_tier(stack_plan: Plan, cfg: StackConfig) -> None:
    for r in stack_plan.resources:
        assert r.urn == f"urn:pulumi:{cfg.stack}::stars::{r.type}::{r.name}"
        assert r.tier == r.name.split("-")[0]
        assert r.id


def test_repeated_runs_give_the_same_plan(stack_plan: Plan, cfg: StackConfig) -> None:
    again = plan_resources(cfg)
    assert [(r.type, r.name, r.inputs) for r in again] == [
        (r.type, r.name, r.inputs) for r in stack_plan.resources
    ]
