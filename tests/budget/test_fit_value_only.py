"""Fit plans the server tiers, the database tier and the monitoring tier once per structure and writes each
candidate's values into that plan (components.stack.VALUE_ONLY, pricer.written_at): the result must be
what planning the tier at those values registers, input for input, or the search would price a plan that
``pulumi up`` never makes (its answers are re-planned whole and checked to the cent, but a wrong cheapest
plan could still be chosen)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from budget.catalog import load_catalog
from budget.fit import pricer as pricer_module
from budget.fit.pricer import Pricer
from budget.model import PlannedResource
from budget.plan import from_record
from components import server_tier
from components.config import StackConfig
from components.planning.mocks import plan_tiers
from components.stack import TIER_READS, VALUE_ONLY, tiers_of
from tests.infra.conftest import stack_config

WRITTEN = ("api", "realtime", "app", "database", "monitoring")


def _changed(base: StackConfig, groups: dict[str, Any] | None = None, **parts: dict[str, Any]) -> StackConfig:
    """``base`` with some keys of every server group (``groups``) and of other sections changed."""
    data = base.model_dump(mode="json")
    for key in ("api", "realtime", "app"):
        if data[key] is not None:
            for field, value in (groups or {}).items():
                if isinstance(value, dict):
                    data[key][field] = {**data[key][field], **value}
                else:
                    data[key][field] = value
    for section, values in parts.items():
        data[section] = {**data[section], **values}
    return StackConfig.model_validate(data)


def _combined(base: StackConfig) -> StackConfig:
    """``base`` with one ``app`` group in place of ``api`` and ``realtime``."""
    data = base.model_dump(mode="json")
    data["app"], data["api"], data["realtime"] = data["realtime"], None, None
    return StackConfig.model_validate(data)


SPOT = {"spot": {"enabled": True, "on_demand_base": 2, "spot_percentage": 50}}
PUBLIC = {"private_egress": "public"}

#: Structures of the tiers (what they register): the split layout and the combined one, with and without
#: a spot mix, in private or public subnets, over two or three zones or in a single one, with and
#: without an off-peak schedule (phase 3's API group has one) and a read replica (phase 3's database).
STRUCTURES: dict[str, Callable[[], StackConfig]] = {
    "split, private, 2 zones, schedule, replica": lambda: stack_config("phase3"),
    "split, spot": lambda: _changed(stack_config("phase3"), SPOT),
    "split, public, 3 zones": lambda: _changed(stack_config("phase2"), network={**PUBLIC, "az_count": 3}),
    "app, single zone": lambda: _combined(
        _changed(stack_config("phase1"), network={"placement": "single_zone"})
    ),
    "app, public, spot": lambda: _combined(_changed(stack_config("phase1"), SPOT, network=PUBLIC)),
}

#: The values the plans are made at (the pool set, so one written value unsets it) ...
AT = {
    "instance_type": "t3.medium",
    "min_size": 2,
    "desired_capacity": 3,
    "max_size": 5,
    "cpu_target_percent": 60,
    "workers": 2,
    "db_pool_size": 5,
    "commitment": "none",
}
DB_AT = {"instance_class": "db.t3.medium", "allocated_storage_gb": 50, "max_allocated_storage_gb": 100}
#: ... and those written into them: the other architecture, a reservation, other sizes (a maximum under
#: the off-peak maximum), processes, pools (none, more digits), scaling targets and spot mixes.
WRITTEN_VALUES: tuple[tuple[dict[str, Any], dict[str, Any]], ...] = (
    (
        {
            "instance_type": "t4g.large",
            "min_size": 3,
            "desired_capacity": 4,
            "max_size": 9,
            "cpu_target_percent": 70,
            "workers": 4,
            "db_pool_size": None,
            "commitment": "reserved_1yr",
            "spot": {"on_demand_base": 3, "spot_percentage": 100},
        },
        {
            "instance_class": "db.m7g.large",
            "allocated_storage_gb": 120,
            "max_allocated_storage_gb": 240,
            "commitment": "reserved_1yr",
        },
    ),
    (
        {
            "instance_type": "c6g.large",
            "min_size": 1,
            "desired_capacity": 1,
            "max_size": 2,
            "cpu_target_percent": 50,
            "workers": 16,
            "db_pool_size": 100,
            "spot": {"on_demand_base": 1, "spot_percentage": 20},
        },
        {"instance_class": "db.t4g.micro", "allocated_storage_gb": 20, "max_allocated_storage_gb": 20},
    ),
    (
        {
            "instance_type": "t3.xlarge",
            "min_size": 12,
            "desired_capacity": 20,
            "max_size": 40,
            "db_pool_size": 9,
        },
        {"allocated_storage_gb": 1000, "max_allocated_storage_gb": 4000},
    ),
)


def _signature(resources: tuple[PlannedResource, ...]) -> list[tuple[str, str, str]]:
    return [(r.type, r.urn, json.dumps(r.inputs, sort_keys=True, default=str)) for r in resources]


def _plan(cfg: StackConfig, tiers: tuple[str, ...]) -> dict[str, tuple[PlannedResource, ...]]:
    records = plan_tiers(cfg, tiers)
    return {t: tuple(from_record(r) for r in records if r.tier == t) for t in tiers}


@pytest.mark.parametrize("structure", sorted(STRUCTURES))
def test_a_plan_written_with_other_values_is_the_plan_made_at_them(structure: str) -> None:
    base = _changed(STRUCTURES[structure](), AT, database=DB_AT)
    tiers = tuple(t for t in tiers_of(base) if t in WRITTEN)
    made_at = _plan(base, tiers)
    for groups, database in WRITTEN_VALUES:
        cfg = _changed(base, groups, database=database)
        planned = _plan(cfg, tiers)
        for tier in tiers:
            # one plan serves both: the values are out of the key ...
            assert pricer_module.plan_key(cfg, tier) == pricer_module.plan_key(base, tier), tier
            # ... and written into it, every input as planning at them gives it
            written = pricer_module.written_at(made_at[tier], cfg)
            assert _signature(written) == _signature(planned[tier]), tier
            # the check can fail: the plan as made keeps the values it was made at
            assert _signature(made_at[tier]) != _signature(planned[tier]), tier


def test_the_check_sees_the_user_data_alone() -> None:
    """Only the processes differ: only the launch template's user data moves, and the check sees it."""
    base = _changed(stack_config("phase1"), AT)
    cfg = _changed(base, {"workers": 3})
    made_at, planned = _plan(base, ("api",))["api"], _plan(cfg, ("api",))["api"]
    moved = [a.name for a, b in zip(made_at, planned, strict=True) if a.inputs != b.inputs]
    assert moved == ["api-lt"]
    assert _signature(pricer_module.written_at(made_at, cfg)) == _signature(planned)


def test_what_changes_the_structure_stays_in_the_key() -> None:
    """A spot mix, a schedule, the zones and the subnets change which resources (or which inputs) a group
    has: configs that differ in them never share a plan."""
    base = _changed(stack_config("phase3"), AT)
    for other in (
        _changed(base, SPOT),
        _changed(base, {"schedule": {"enabled": False}}),
        _changed(base, network={"az_count": 3}),
        _changed(base, network=PUBLIC),
        _changed(base, {"root_volume_gb": 40}),
    ):
        assert pricer_module.plan_key(other, "api") != pricer_module.plan_key(base, "api")
    assert pricer_module.plan_key(_changed(base, database={"multi_az": False}), "database") != (
        pricer_module.plan_key(base, "database")
    )


def _written_by_others(value_only: dict[str, tuple[str, ...]]) -> list[tuple[str, str]]:
    """(tier, path): a path some tier writes that ``tier`` reads but does not write (its key would lose a
    value its plan depends on)."""
    paths = {p for ps in value_only.values() for p in ps}
    return [
        (tier, p)
        for tier, reads in TIER_READS.items()
        for p in sorted(paths)
        if any(p == r or p.startswith(f"{r}.") for r in reads) and p not in value_only.get(tier, ())
    ]


def test_a_value_left_out_of_the_key_is_written_by_every_tier_that_reads_it() -> None:
    assert _written_by_others(VALUE_ONLY) == []
    # every value a tier writes is one it reads (else writing it would be no use)
    for tier, paths in VALUE_ONLY.items():
        assert all(any(p == r or p.startswith(f"{r}.") for r in TIER_READS[tier]) for p in paths), tier
    # the check can fail: without the monitoring tier writing the groups' minimum, its key would lose it
    without = {**VALUE_ONLY, "monitoring": ("database.allocated_storage_gb",)}
    assert ("monitoring", "api.min_size") in _written_by_others(without)


def test_server_tier_value_only_are_config_fields() -> None:
    """Each name is a field of the group's config (a misspelt one would silently stay in the key)."""
    data = stack_config("phase3").api.model_dump()  # type: ignore[union-attr]  # phase 3 has an API tier
    for path in server_tier.VALUE_ONLY:
        node: Any = data
        for key in path.split("."):
            assert isinstance(node, dict) and key in node, path
            node = node[key]


def test_a_price_is_never_reused_at_other_values() -> None:
    """One plan serves both configs, so the price cache keys on the values written too: pricing B after A
    gives B's own price, tier by tier (and A's differ, so a price reused at the wrong values would show)."""
    catalog = load_catalog()
    base = _changed(stack_config("phase3"), AT, database=DB_AT)
    groups, database = WRITTEN_VALUES[0]
    other = _changed(base, groups, database=database)
    shared = Pricer(catalog)
    shared.price(base)
    again = shared.price(other)
    fresh = Pricer(catalog).price(other)
    assert again.by_tier() == fresh.by_tier()
    before = shared.price(base).by_tier()
    for tier in ("api", "realtime", "database"):
        assert before[tier] != fresh.by_tier()[tier], tier
