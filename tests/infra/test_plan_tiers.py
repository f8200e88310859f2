"""A tier planned alone (against stand-in links) registers what the whole plan registers, priced the same.

``budget fit`` re-plans one tier at a time; this is what makes that the same as planning the stack. It holds
for the phase stacks and for the options a cheaper plan uses (combined app tier, commitments, ...).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from pydantic import ValidationError

from budget.catalog import load_catalog
from budget.estimator import estimate
from budget.plan import from_record
from components.config import CACHE_NODE_TYPES, EC2_INSTANCE_TYPES, RDS_INSTANCE_CLASSES, StackConfig
from components.planning.mocks import RecordedResource, plan_resources, plan_tiers
from components.stack import BUILDERS, COMMON_READS, TIER_READS, TIERS, tiers_of
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


def _leaves(data: Any, prefix: str = "") -> list[tuple[str, Any]]:
    if isinstance(data, dict) and data:
        return [leaf for key, value in data.items() for leaf in _leaves(value, f"{prefix}{key}.")]
    return [(prefix.rstrip("."), data)]


def _alternatives(value: Any) -> list[Any]:
    """Other values a config leaf might take (those that fail validation are skipped)."""
    if isinstance(value, bool):
        return [not value]
    if isinstance(value, int):
        return [value + 1, value - 1, 2 * value, 60, 7]
    if isinstance(value, float):
        return [value * 1.5 + 1]
    if isinstance(value, str):
        words = ["valkey", "per_az", "endpoints", "PriceClass_200", "production", "basic", "7.2", "15", "gp2"]
        more = ["0 22 * * *", "Europe/London", "other@stars.example", "10.99.0.0/16", "2026-02-01"]
        return [*EC2_INSTANCE_TYPES, *RDS_INSTANCE_CLASSES, *CACHE_NODE_TYPES, *words, *more]
    if value is None:
        return ["ops@stars.example", "arn:aws:acm:af-south-1:123456789012:certificate/x"]
    return []


def _with(cfg: StackConfig, path: str, value: Any) -> StackConfig | None:
    data = cfg.model_dump(mode="json")
    node = data
    *parents, last = path.split(".")
    for key in parents:
        node = node[key]
    if node[last] == value:
        return None
    node[last] = value
    try:
        return StackConfig.model_validate(data)
    except ValidationError:
        return None


#: Derived reads (components.stack.config_reads) and the config key each follows.
DERIVED = {"servers_public": "network.private_egress", "websocket_origin": "load_balancer"}


def _reads(declared: tuple[str, ...], path: str) -> bool:
    keys = (*COMMON_READS, *(DERIVED.get(r, r) for r in declared))
    return any(path == r or path.startswith(f"{r}.") for r in keys)


def _signature(resources: list[RecordedResource]) -> list[tuple[str, str, str]]:
    return [(r.type, r.name, json.dumps(r.inputs, sort_keys=True, default=str)) for r in resources]


def _plan_moves(
    tier: str, declared: tuple[str, ...], cfg: StackConfig | None = None
) -> tuple[bool, list[str]]:
    """Change every config key outside ``declared`` to another valid value and re-plan the tier."""
    cfg = cfg or stack_config("phase3")
    changed = cfg
    moved: list[str] = []
    for path, value in _leaves(cfg.model_dump(mode="json")):
        if _reads(declared, path):
            continue
        for alternative in _alternatives(value):
            candidate = _with(changed, path, alternative)
            if candidate is not None:
                changed, moved = candidate, [*moved, path]
                break
    return _signature(plan_tiers(changed, (tier,))) != _signature(plan_tiers(cfg, (tier,))), moved


READ_CHECKS: dict[str, Callable[[], StackConfig]] = {
    "phase3": lambda: stack_config("phase3"),  # the plan's split layout, Multi-AZ, NAT per AZ
    "lean-phase1": LEAN_VARIANTS["lean-phase1"],  # the combined app tier, public egress, small types
}


@pytest.mark.parametrize(
    ("variant", "tier"),
    [(v, t) for v, make in READ_CHECKS.items() for t in tiers_of(make())],
)
def test_a_tier_reads_nothing_but_what_it_declares(variant: str, tier: str) -> None:
    """A tier's plan does not move when keys outside its TIER_READS change (else the fit's plan cache
    would price a stale tier)."""
    moves, changed = _plan_moves(tier, TIER_READS[tier], READ_CHECKS[variant]())
    assert len(changed) >= 40, changed  # most keys outside the tier's own were changed
    assert not moves


def test_the_declaration_check_catches_an_undeclared_read() -> None:
    """With the API tier's log retention left out of its declaration, the check above fails."""
    declared = tuple(r for r in TIER_READS["api"] if r != "monitoring.log_retention_days")
    moves, changed = _plan_moves("api", declared)
    assert "monitoring.log_retention_days" in changed and moves


@pytest.mark.parametrize("tier", TIERS)
def test_a_tier_alone_registers_the_same_resources(phase: str, tier: str) -> None:
    _alone_equals_whole(stack_config(phase), planned(phase).resources, tier)


@pytest.mark.parametrize("name", sorted(LEAN_VARIANTS))
def test_a_tier_alone_matches_with_the_lean_options(name: str) -> None:
    cfg = LEAN_VARIANTS[name]()
    whole = plan_resources(cfg)
    assert whole, f"{name}: the lean variant planned no resource"
    assert {r.tier for r in whole} == set(tiers_of(cfg))
    for tier in tiers_of(cfg):
        _alone_equals_whole(cfg, whole, tier)
