"""A plan whose availability class needs two zones carries its peak with one zone lost (issue 23, error 3),
and every plan says what a zone's loss does to it. Arithmetic by hand."""

from __future__ import annotations

import pytest
from budget_helpers import stack_cfg

from budget.capacity import Loads, load_model
from budget.catalog import load_catalog
from budget.fit.azloss import az_loss
from budget.fit.space import servers_for_zone_loss
from components.config import StackConfig


@pytest.mark.parametrize(
    ("needed", "zones", "servers"),
    [
        (1, 2, 2),  # one zone lost leaves 1
        (3, 2, 6),  # 6 over 2 zones: 3 each; one lost leaves 3 (5 would leave 2)
        (3, 3, 5),  # 5 over 3 zones: 2, 2, 1; the fullest lost leaves 3 (4 would leave 2)
        (4, 3, 6),  # 6 over 3 zones: 2 each; one lost leaves 4
    ],
)
def test_servers_for_a_zones_loss(needed: int, zones: int, servers: int) -> None:
    assert servers_for_zone_loss(needed, zones) == servers


def _with_app(cfg: StackConfig, servers: int) -> StackConfig:
    assert cfg.api is not None
    app = cfg.api.model_copy(update={"min_size": 2, "desired_capacity": servers, "max_size": servers})
    return cfg.model_copy(update={"api": None, "realtime": None, "app": app})


def test_a_multi_az_plan_that_loses_half_its_servers_says_it_does_not_carry_the_peak() -> None:
    catalog = load_catalog()
    model = load_model(catalog)
    cfg = stack_cfg("phase3")  # multi_az: 100,000 connections, 10,000 deliveries/s, 1,000 API requests/s
    assert cfg.demand is not None and cfg.api is not None
    needed = model.size_servers(cfg.api.instance_type, Loads.of(cfg.demand).of_group("app")).count
    short = az_loss(_with_app(cfg, needed), model)  # exactly what the peak needs, over 2 zones
    assert short.required and not short.carries
    [app] = short.servers
    assert (app.servers, app.left_with_zone_lost, app.needed_at_peak) == (
        needed,
        needed - -(-needed // 2),
        needed,
    )
    assert short.statement.startswith("DOES NOT carry its peak with one zone lost")
    enough = az_loss(_with_app(cfg, 2 * needed), model)  # N+1 per zone: each zone alone carries the peak
    assert enough.carries and enough.statement.startswith("carries its peak with one zone lost")


def test_a_single_az_plan_says_plainly_what_a_zones_loss_does() -> None:
    catalog = load_catalog()
    verdict = az_loss(stack_cfg("phase1"), load_model(catalog))
    assert not verdict.required and not verdict.carries
    assert "single-AZ by its availability class" in verdict.statement
    assert "are down with their zone" in verdict.statement
