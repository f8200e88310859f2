"""The /ws load balancer of its own in fit's search (``websocket_origin: vpc_origin``): offered only where a
certificate, an NLB and /ws through CloudFront make it deployable, and reported as a lever, used or
rejected with the figures and the assumption it rests on (the API connections users hold open)."""

from __future__ import annotations

from dataclasses import replace
from functools import cache

import pytest

from budget.capacity import load_model
from budget.catalog import load_catalog
from budget.fit.lever_use import levers_taken
from budget.fit.levers import WEBSOCKET_KEY, websocket_lever
from budget.fit.pricer import Pricer
from budget.fit.render import lever_line
from budget.fit.search import Candidate, SearchResult
from budget.fit.space import CacheChoice, Choice, DatabaseChoice, Shape, Space
from components.config import StackConfig, load_stack_file
from tests.budget.budget_helpers import ROOT, assert_serves_only_tls, stack_cfg

CATALOG = load_catalog()
PRICER = Pricer(CATALOG)


def _space(cfg: StackConfig) -> Space:
    return Space(cfg, CATALOG, load_model(CATALOG))


def test_the_space_offers_it_only_where_it_deploys() -> None:
    space = _space(stack_cfg("phase2"))
    shapes = list(space.shapes())
    split = [s for s in shapes if s.websocket_origin == "vpc_origin"]
    assert split and len(split) < len(shapes)
    assert {(s.load_balancer, s.websockets_via_cdn, s.origin) for s in split} == {("network", True, "public")}
    # every split shape has its twin with /ws on the public load balancer
    assert all(replace(s, websocket_origin="load_balancer") in shapes for s in split)
    assert any("internal ALB of its own" in why for why in space.rejected)
    # each is a valid stack config: the proposal could be written and deployed
    shape = split[0]
    choice = Choice(
        shape,
        tuple(space.server_choices(g, shape.zones)[0] for g in shape.groups),
        space.database_choices()[0],
        space.cache_choices()[0],
    )
    cfg = space.config(choice)
    assert (
        cfg.load_balancer.websocket_origin == "vpc_origin" and cfg.usage.websocket_lb_active_connections > 0
    )
    assert {"websocket_vpc_origin", "network_load_balancer", "domain"} <= set(levers_taken(cfg))
    assert_serves_only_tls(cfg)  # HTTPS/WSS only: TLS 443 on the public NLB, the internal one CloudFront's
    # without a certificate the load balancer is already internal for both: nothing to split
    plain = _space(load_stack_file(ROOT / "Pulumi.phase2.yaml"))
    assert {s.websocket_origin for s in plain.shapes()} == {"load_balancer"}


@cache
def _result(phase: str) -> SearchResult:
    """The phase with a domain: one shape with /ws on the public NLB and its twin with /ws apart, on the
    same servers, database and cache (what differs is the load balancers alone)."""
    space = _space(stack_cfg(phase))
    shape = Shape(
        "combined", "network", True, "public", "PriceClass_200", "pay_as_you_go", 2, 1, False, False, "public"
    )
    servers = tuple(
        next(
            c
            for c in space.server_choices(g, 2)
            if c.instance_type == "t4g.small" and c.purchase == "reserved"
        )
        for g in shape.groups
    )
    db, cache_node = DatabaseChoice("db.t4g.micro", "reserved_1yr"), CacheChoice("cache.t3.micro", "valkey")
    candidates = [
        Candidate(choice, PRICER.price(space.config(choice)))
        for choice in (
            Choice(shape, servers, db, cache_node),
            Choice(replace(shape, websocket_origin="vpc_origin"), servers, db, cache_node),
        )
    ]
    assert all(c.priced.priced for c in candidates)
    return SearchResult(best=min(candidates, key=lambda c: c.tzs), per_shape=candidates)


def test_phase2_uses_it_and_names_the_assumption() -> None:
    cfg = stack_cfg("phase2")
    lever = websocket_lever(cfg, CATALOG, _result("phase2"))
    assert (lever.key, lever.status) == (WEBSOCKET_KEY, "used")
    # the load balancers alone differ (tests/budget/test_ws_vpc_origin_pricing.py): one TLS NLB bills
    # (29,069.77 + 1,453.49) / 3,000 = 10.17 NLCU; the split 2.25 + 1.70 NLCU and a second NLB's 730 hours:
    # (10.17 - 3.95) x 730 x 0.0078 - 21.3525 = 14.08 USD = TZS 35,200 at 2,500 TZS/USD
    assert lever.saves_tzs == pytest.approx((30523.26 / 3000 - 3.95) * 5.694 * 2500 - 21.3525 * 2500, abs=30)
    assumption = lever.deciding_assumption or ""
    assert "stars:demand.api_keep_alive_s = 5 s" in assumption and "timeout_keep_alive" in assumption
    assert "0.05 API connections each, 1,453 on the public NLB's TLS listener (0.48 NLCU" in assumption
    assert "29,070 (9.69 NLCU)" in assumption
    assert "deciding assumption: stars:demand.api_keep_alive_s" in lever_line(lever)
    # a stack without a domain: the same figures wait on one
    waiting = websocket_lever(cfg, CATALOG, _result("phase2"), needs_domain=True)
    assert waiting.status == "needs_input" and waiting.saves_tzs == lever.saves_tzs


def test_phase1_rejects_it_with_what_it_would_cost() -> None:
    """Phase 1's 5,814 WebSockets are 1.94 TLS NLCU: a second NLB's 730 hours (21.35 USD) cost more."""
    result = _result("phase1")
    lever = websocket_lever(stack_cfg("phase1"), CATALOG, result)
    assert lever.status == "rejected" and lever.saves_tzs is not None and lever.saves_tzs < 0
    single, split = sorted(result.per_shape, key=lambda c: c.choice.shape.websocket_origin)
    assert lever.saves_tzs == round(single.tzs - split.tzs)
    assert f"TZS {split.tzs:,.0f}" in lever.why and f"TZS {single.tzs:,.0f}" in lever.why
