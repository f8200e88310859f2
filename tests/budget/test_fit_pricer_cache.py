"""Tier plans are shared by every search of a process: a second search plans nothing and prices the same."""

from __future__ import annotations

import json

import pytest

from budget.catalog import load_catalog
from budget.fit import plan_cache
from budget.fit import pricer as pricer_module
from budget.fit.pricer import Pricer
from budget.model import PlannedResource
from budget.plan import from_record
from components import cdn
from components.config import StackConfig
from components.planning import mocks
from tests.budget.budget_helpers import stack_cfg


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


def _cdn_variant(base: StackConfig, lb: dict[str, object] | None = None, /, **cdn: object) -> StackConfig:
    data = base.model_dump(mode="json")
    data["cdn"].update(cdn)
    data["load_balancer"].update(lb or {})
    return StackConfig.model_validate(data)


def _signature(resources: tuple[PlannedResource, ...]) -> list[tuple[str, str, str]]:
    return [(r.type, r.urn, json.dumps(r.inputs, sort_keys=True, default=str)) for r in resources]


#: CDN tier structures (what the tier registers: settings, WebSockets through CloudFront or not) and, for
#: each, the value-only settings fit writes into one plan of it (with every price class): with and without
#: the bundle, and two overflow shares.
CDN_STRUCTURES: dict[str, tuple[dict[str, object], bool, tuple[dict[str, object], ...]]] = {
    "pay as you go": ({"plan": "pay_as_you_go"}, False, ({"savings_bundle": True}, {})),
    "pay as you go, /ws on it": ({"plan": "pay_as_you_go"}, True, ({"savings_bundle": True}, {})),
    "2 plans + dynamic": (
        {"plan": "pro", "asset_distributions": 2, "dynamic_distribution": True},
        True,
        ({"savings_bundle": True}, {}),
    ),
    "1 plan + 2 Free + overflow": (
        {
            "plan": "pro",
            "asset_overflow": "pay_as_you_go",
            "free_asset_distributions": 2,
            "free_asset_share": 0.1,
        },
        False,
        ({"asset_overflow_share": 0.25, "savings_bundle": True, "free_asset_share": 0.2}, {}),
    ),
    "2 plans + overflow": (
        {"plan": "business", "asset_distributions": 2, "asset_overflow": "pay_as_you_go"},
        False,
        (
            {"asset_overflow_share": 0.25, "savings_bundle": True},
            {"asset_overflow_share": 0.6},
        ),
    ),
}


@pytest.mark.parametrize("structure", sorted(CDN_STRUCTURES))
def test_the_cdn_plan_written_with_other_values_is_the_plan_made_at_them(structure: str) -> None:
    """Fit plans the CDN tier once per structure and writes the price class, the bundle and the overflow
    share into it (pricer.written_at, components.cdn.VALUE_ONLY): the result is what
    planning the tier at those values registers, input for input."""
    shape, via_cdn, values = CDN_STRUCTURES[structure]
    lb: dict[str, object] = {"websockets_via_cdn": via_cdn}
    share = 0.4 if shape.get("asset_overflow") else 0.0
    base = _cdn_variant(
        stack_cfg("phase1"), lb, price_class="PriceClass_200", asset_overflow_share=share, **shape
    )
    made_at = tuple(from_record(r) for r in mocks.plan_tiers(base, ("cdn",)))
    assert any(r.type == cdn.DISTRIBUTION for r in made_at)
    checked = 0
    for price_class in ("PriceClass_100", "PriceClass_200", "PriceClass_All"):
        for value in values:
            cfg = _cdn_variant(base, price_class=price_class, **value)
            assert pricer_module.plan_key(cfg, "cdn") == pricer_module.plan_key(base, "cdn")
            planned = tuple(from_record(r) for r in mocks.plan_tiers(cfg, ("cdn",)))
            assert _signature(pricer_module.written_at(made_at, cfg)) == _signature(planned)
            checked += 1
    assert checked == 6
    # the check can fail: a plan not rewritten keeps the price class it was made at
    other = _cdn_variant(base, price_class="PriceClass_All")
    planned = tuple(from_record(r) for r in mocks.plan_tiers(other, ("cdn",)))
    assert _signature(made_at) != _signature(planned)
