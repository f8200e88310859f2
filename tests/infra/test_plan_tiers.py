"""A tier planned alone (against stand-in links) registers what the whole plan registers, priced the same.

``budget fit`` re-plans one tier at a time; this is what makes that the same as planning the stack.
"""

from __future__ import annotations

import pytest

from budget.catalog import load_catalog
from budget.estimator import estimate
from budget.plan import from_record
from components.planning.mocks import Plan, plan_tiers
from components.stack import BUILDERS, TIERS
from tests.infra.conftest import stack_config


def test_every_tier_has_a_builder() -> None:
    assert set(BUILDERS) == set(TIERS)


@pytest.mark.parametrize("tier", TIERS)
def test_a_tier_alone_registers_the_same_resources(phase: str, stack_plan: Plan, tier: str) -> None:
    cfg = stack_config(phase)
    alone = plan_tiers(cfg, (tier,))
    whole = [r for r in stack_plan.resources if r.tier == tier]
    assert [(r.urn, r.type) for r in alone] == [(r.urn, r.type) for r in whole]
    catalog = load_catalog()
    # priced inside the whole stack (cross-tier usage such as the split of log ingestion included)
    others = [from_record(r) for r in stack_plan.resources if r.tier != tier]
    full = estimate([from_record(r) for r in stack_plan.resources], cfg, catalog)
    mixed = estimate(sorted([*others, *map(from_record, alone)], key=lambda r: r.urn), cfg, catalog)
    assert not mixed.unpriced
    assert mixed.by_tier("max").get(tier, 0.0) == pytest.approx(full.by_tier("max").get(tier, 0.0), abs=1e-9)
    assert mixed.totals() == pytest.approx(full.totals(), abs=1e-9)
