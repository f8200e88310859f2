"""A tier planned alone (against stand-in links) registers what the whole plan registers, priced the same.

``budget fit`` re-plans one tier at a time; this is what makes that the same as planning the stack. It holds
for the phase stacks and for the options a cheaper plan uses (combined app tier, commitments, ...).
"""

from __future__ import annotations

import pytest

from budget.catalog import load_catalog
from budget.estimator import estimate
from budget.plan import from_record
from components.config import StackConfig
from components.planning.mocks import RecordedResource, plan_resources, plan_tiers
from components.stack import BUILDERS, TIERS, tiers_of
from tests.infra.conftest import planned, stack_config
from tests.infra.test_options import LEAN_VARIANTS


def test_every_tier_has_a_builder() -> None:
    assert set(BUILDERS) == set(TIERS)


def _alone_equals_whole(cfg: StackConfig, whole_plan: list[RecordedResource], tier: str) -> None:
    alone = plan_tiers(cfg, (tier,))
    whole = [r for r in whole_plan if r.tier == tier]
    assert [(r.urn, r.type) for r in alone] == [(r.urn, r.type) for r in whole]
    catalog = load_catalog()
    # priced inside the whole stack (cross-tier usage such as the split of log ingestion included)
    others = [from_record(r) for r in whole_plan if r.tier != tier]
    full = estimate([from_record(r) for r in whole_plan], cfg, catalog)
    mixed = estimate(sorted([*others, *map(from_record, alone)], key=lambda r: r.urn), cfg, catalog)
    assert not mixed.unpriced
    assert mixed.by_tier("max").get(tier, 0.0) == pytest.approx(full.by_tier("max").get(tier, 0.0), abs=1e-9)
    assert mixed.totals() == pytest.approx(full.totals(), abs=1e-9)


@pytest.mark.parametrize("tier", TIERS)
def test_a_tier_alone_registers_the_same_resources(phase: str, tier: str) -> None:
    _alone_equals_whole(stack_config(phase), planned(phase).resources, tier)


@pytest.mark.parametrize("name", sorted(LEAN_VARIANTS))
def test_a_tier_alone_matches_with_the_lean_options(name: str) -> None:
    cfg = LEAN_VARIANTS[name]()
    whole = plan_resources(cfg)
    assert not whole or {r.tier for r in whole} == set(tiers_of(cfg))
    for tier in tiers_of(cfg):
        _alone_equals_whole(cfg, whole, tier)
