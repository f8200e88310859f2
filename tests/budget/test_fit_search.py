"""budget fit's search: on a hand-made catalog the optimum is known by hand, and the search finds it;
on a small space it equals the brute-force minimum; and its fast pricing agrees with check's path."""

from __future__ import annotations

import itertools
import math
from dataclasses import replace

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from budget.capacity import Load, load_model
from budget.catalog import Catalog, load_catalog
from budget.estimator import estimate
from budget.fit import space as space_module
from budget.fit.pricer import Pricer, verify
from budget.fit.search import search
from budget.fit.space import Choice, Shape, Space
from budget.plan import plan_offline
from tests.budget.budget_helpers import stack_cfg

REGION = "af-south-1"


def _priced(catalog: Catalog, changes: dict[str, float]) -> Catalog:
    """The real catalog with some af-south-1 figures replaced by hand-made ones."""
    regional = dict(catalog.regions[REGION])
    glob = dict(catalog.global_prices)
    for key, amount in changes.items():
        target = regional if key in regional else glob
        target[key] = replace(target[key], amount=amount, source="hand-made for a test")
    return replace(catalog, regions={**catalog.regions, REGION: regional}, global_prices=glob)


@pytest.fixture(scope="module")
def hand_made() -> Catalog:
    """Prices that make one choice of every kind plainly cheapest (ties go to the first option)."""
    real = load_catalog()
    regional = real.regions[REGION]
    changes: dict[str, float] = {k: 1.0 for k in regional if k.startswith("ec2.instance.")}
    changes["ec2.instance.t4g.large"] = 0.01  # the one cheap server type
    changes |= {k: 0.0 for k in regional if k.startswith("ec2.spot_discount.")}  # spot saves nothing
    changes |= {k: 0.0 for k in real.global_prices if k.startswith("discount.")}  # nor do reservations
    changes["cloudfront.savings_bundle.discount"] = 0.0  # nor does the CloudFront bundle
    changes |= {k: 1.0 for k in regional if k.startswith("rds.postgres.")}
    changes["rds.postgres.db.t4g.large.single_az"] = 0.02  # the one cheap database
    changes |= {k: 1.0 for k in regional if k.startswith("elasticache.redis.")}
    changes["elasticache.redis.cache.t3.medium"] = 0.01  # the one cheap cache node (Valkey 0.8 x)
    changes["nat.hour"] = 5.0  # a NAT gateway far dearer than a public address per server
    changes["vpc.public_ipv4"] = 1.0
    changes["elb.nlb.hour"] = 10.0  # the ALB beats the NLB
    changes["cloudfront.transfer.europe.first_10tb"] = 1.0  # PriceClass_100 serves Africa from Europe
    changes |= {k: 10.0 for k in real.global_prices if k.startswith("cloudfront.transfer_to_origin.")}
    changes |= {
        k: 10_000.0 for k in real.global_prices if k.startswith("cloudfront.plan.") and k.endswith(".month")
    }
    return _priced(real, changes)


def test_the_search_finds_the_optimum_known_by_hand(hand_made: Catalog) -> None:
    cfg = stack_cfg("phase1")
    model = load_model(hand_made)
    found = search(cfg, hand_made, model, Pricer(hand_made)).best
    assert found is not None
    c = found.choice
    # by hand: 10,000 connections x 26.2 us + 100 req/s x 523 us = 0.31 cores; one t4g.large (2 vCPU x 0.7
    # headroom = 1.4 cores) carries both as one combined group (one server, one log group, fewer alarms
    # than two groups), on demand (spot and reservations save nothing here)
    assert [(s.group, s.instance_type, s.count, s.purchase) for s in c.servers] == [
        ("app", "t4g.large", 1, "on_demand")
    ]
    assert (c.database.instance_class, c.database.commitment) == ("db.t4g.large", "none")
    assert (c.cache.node_type, c.cache.engine, c.cache.commitment) == ("cache.t3.medium", "valkey", "none")
    # one server's public address at $1/h beats a NAT gateway at $5/h plus its own address; the ALB beats
    # an NLB at $10/h; African edges beat Europe at $1/GB (200 before All); WebSocket uploads at $10/GB
    # keep them direct; every flat-rate plan at $10,000 loses to pay-as-you-go
    assert c.shape == Shape("combined", "application", False, "public", "PriceClass_200", "pay_as_you_go")
    # and the figure is check's own for that configuration
    whole = estimate(plan_offline(found.priced.cfg), found.priced.cfg, hand_made)
    assert found.priced.total() == pytest.approx(whole.total(), abs=0.005)


def test_the_search_equals_the_brute_force_minimum(monkeypatch: pytest.MonkeyPatch) -> None:
    catalog = load_catalog()
    small = {
        "EC2_INSTANCE_TYPES": ("t3.small", "m7g.large"),
        "PURCHASES": ("on_demand", "spot", "reserved"),
        # one class each: the data stores' commitments and engines still vary (6,400 candidates, where two
        # classes each made 25,600, 35 CPU-seconds of the suite)
        "RDS_INSTANCE_CLASSES": ("db.t4g.medium",),
        "CACHE_NODE_TYPES": ("cache.t3.micro",),
        "LOAD_BALANCERS": ("application", "network"),
        "EGRESS": ("nat", "public"),
        "PRICE_CLASSES": ("PriceClass_100", "PriceClass_200"),
        "CDN_PLANS": ("pay_as_you_go", "business"),
    }
    for name, value in small.items():
        monkeypatch.setattr(space_module, name, value)
    cfg = stack_cfg("phase2")
    model = load_model(catalog)
    pricer = Pricer(catalog)
    best = search(cfg, catalog, model, pricer).best
    assert best is not None
    space = Space(cfg, catalog, model)
    totals = []
    for shape in space.shapes():
        groups = [space.server_choices(g) for g in shape.groups]
        for servers in itertools.product(*groups):
            for db, cache in itertools.product(space.database_choices(), space.cache_choices()):
                priced = pricer.price(space.config(Choice(shape, servers, db, cache)))
                if priced.priced:
                    totals.append(priced.total())
    assert len(totals) > 1000
    assert best.priced.total() == pytest.approx(min(totals), abs=1e-6)


@st.composite
def choices(draw: st.DrawFn) -> tuple[Space, Choice]:
    phase = draw(st.sampled_from(["phase1", "phase2", "phase3"]))
    catalog = load_catalog()
    space = Space(stack_cfg(phase), catalog, load_model(catalog))
    shape = draw(st.sampled_from([s for s in space.shapes() if s.cdn_plan in ("pay_as_you_go", "premium")]))
    servers = tuple(draw(st.sampled_from(space.server_choices(g))) for g in shape.groups)
    database = draw(st.sampled_from(space.database_choices()))
    cache = draw(st.sampled_from(space.cache_choices()))
    return space, Choice(shape, servers, database, cache)


PRICER = Pricer(load_catalog())


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(choices())
def test_the_fast_planner_agrees_with_checks_path_to_the_cent(drawn: tuple[Space, Choice]) -> None:
    space, choice = drawn
    priced = PRICER.price(space.config(choice))
    if not priced.priced:  # e.g. WebSockets on a flat-rate plan: check refuses it the same way
        full = estimate(plan_offline(priced.cfg), priced.cfg, space.catalog)
        assert [u.reason for u in full.unpriced] == [u.reason for u in priced.estimate.unpriced]
        return
    verify(priced, space.catalog)  # raises unless every size agrees to the cent


def test_servers_are_sized_by_the_capacity_model() -> None:
    catalog = load_catalog()
    model = load_model(catalog)
    m = model.measured
    sizing = model.size_servers("t3.medium", Load(connections=100_000, deliveries_per_s=40_000))
    # 100,000 idle connections and 40,000 deliveries a second, each at its own measured cost
    cores = (100_000 * m.realtime_us_per_connection.value + 40_000 * m.realtime_us_per_delivery.value) / 1e6
    assert sizing.cpu_cores_needed == pytest.approx(cores, abs=1e-4)
    # a t3.medium gives 2 vCPU x 0.7 = 1.4 cores
    assert sizing.count == math.ceil(cores / 1.4) >= 2 and sizing.decided_by == "CPU"
    # each holds its share of the connections at 12,500 per worker with the headroom kept
    share = 100_000 / sizing.count
    assert sizing.workers == max(2, math.ceil(share / (m.connections_per_worker.value * 0.7)))


def test_a_proposal_must_hold_the_security_baseline(monkeypatch: pytest.MonkeyPatch) -> None:
    """verify re-plans the proposal whole and refuses it when the baseline finds a breach."""
    from budget.fit import pricer as pricer_module
    from budget.fit.pricer import FitError

    catalog = load_catalog()
    cfg = stack_cfg("phase1")
    priced = Pricer(catalog).price(cfg)
    verify(priced, catalog)  # the plan's own config holds the baseline
    monkeypatch.setattr(pricer_module, "violations", lambda records: ["cache-redis: not encrypted at rest"])
    with pytest.raises(FitError, match="breaks the security baseline: cache-redis"):
        verify(priced, catalog)


def test_a_plan_check_cannot_price_is_an_error_never_a_cost_of_zero() -> None:
    """Regression: with no prices for the stack's region the fast pricer returned an empty estimate
    (priced, USD 0) and fit called the plan fitting, where check exits 2."""
    from budget.fit.pricer import FitError
    from budget.fit.run import fit_stack

    real = load_catalog()
    no_region = replace(real, regions={k: v for k, v in real.regions.items() if k != REGION})
    cfg = stack_cfg("phase1")
    candidate = Pricer(no_region).price(cfg)
    assert not candidate.priced
    assert len(candidate.estimate.unpriced) == len(estimate(plan_offline(cfg), cfg, no_region).unpriced) > 0
    with pytest.raises(FitError, match=r"phase1: check cannot price the plan \(\d+ resource\(s\)"):
        fit_stack(cfg, no_region, load_model(real))


def test_a_multi_az_phase_is_sized_to_carry_its_peak_with_a_zone_lost(hand_made: Catalog) -> None:
    """Issue 23, error 3. By hand: phase 1's load needs one t4g.large at peak (0.31 of its 1.4 cores); a
    phase that must survive a zone's loss needs that one in each zone: 2 servers over 2 zones (1 left), or
    over 3 zones 2 as well (2 - 1 = 1 left) at the price of a third zone's addresses: 2 zones, 2 servers."""
    from budget.fit.azloss import az_loss
    from budget.fit.howfar import with_demand

    cfg = with_demand(stack_cfg("phase1"), availability="multi_az")
    model = load_model(hand_made)
    found = search(cfg, hand_made, model, Pricer(hand_made)).best
    assert found is not None
    [app] = found.choice.servers
    assert (app.instance_type, app.sizing.count, app.count, found.choice.shape.zones) == (
        "t4g.large",
        1,
        2,
        2,
    )
    verdict = az_loss(found.priced.cfg, model)
    assert verdict.required and verdict.carries
    assert [(t.servers, t.left_with_zone_lost, t.needed_at_peak) for t in verdict.servers] == [(2, 1, 1)]
