"""Tier plans are shared by every search of a process: a second search plans nothing and prices the same."""

from __future__ import annotations

import pytest
from budget_helpers import stack_cfg

from budget.catalog import load_catalog
from budget.fit import plan_cache
from budget.fit import pricer as pricer_module
from budget.fit.pricer import Pricer
from components.planning import mocks


def test_a_second_search_reuses_the_tier_plans_and_prices_to_the_cent(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(pricer_module, "_TIER_PLANS", {})  # this test's own process-wide cache
    monkeypatch.delenv(plan_cache.ENV, raising=False)  # and none shared between processes
    planned: list[tuple[str, ...]] = []

    def counting(cfg: object, tiers: tuple[str, ...]) -> list[mocks.RecordedResource]:
        planned.append(tiers)
        return mocks.plan_tiers(cfg, tiers)  # type: ignore[arg-type]  # the real planner, counted

    monkeypatch.setattr(pricer_module, "plan_tiers", counting)
    catalog, cfg = load_catalog(), stack_cfg("phase1")
    first, second = Pricer(catalog), Pricer(catalog)
    a = first.price(cfg)
    assert planned and first.tier_plans == sum(len(t) for t in planned)
    planned.clear()
    b = second.price(cfg)
    assert planned == []  # nothing planned again
    # the search's size is reported the same however the process came by its plans
    assert second.tier_plans == first.tier_plans
    assert (
        b.priced
        and a.total() == b.total()
        and [r.resource.urn for r in a.estimate.priced] == [r.resource.urn for r in b.estimate.priced]
    )


def test_the_shared_plans_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    """Past the bound the cache is emptied before the new plans go in (a search keeps its own)."""
    monkeypatch.setattr(pricer_module, "_TIER_PLANS", {})
    monkeypatch.setattr(pricer_module, "_TIER_PLANS_MAX", 12)
    monkeypatch.delenv(plan_cache.ENV, raising=False)
    catalog = load_catalog()
    one = Pricer(catalog)
    one.price(stack_cfg("phase1"))
    phase1 = set(pricer_module._TIER_PLANS)
    assert len(phase1) == one.tier_plans > 6  # one plan per tier, under the bound
    other = Pricer(catalog)
    other.price(stack_cfg("phase2"))
    # phase 2's tiers would pass the bound: phase 1's plans went, phase 2's are all there
    assert set(pricer_module._TIER_PLANS).isdisjoint(phase1)
    assert len(pricer_module._TIER_PLANS) == other.tier_plans
    assert one.price(stack_cfg("phase1")).priced  # the first search still prices from its own plans
