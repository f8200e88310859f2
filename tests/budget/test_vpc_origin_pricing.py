"""An internal load balancer behind a CloudFront VPC origin (``stars:loadBalancer.origin: vpc_origin``),
priced by hand against the public one it replaces.

Phase 1 (af-south-1), its stack file's usage: 2.91 new connections/s, 5,813.95 active connections, 0.79 GB/h
processed, 58.14 rule evaluations/s; a month of 730 h; two zones, so two subnets.
"""

from __future__ import annotations

from functools import cache

import pytest

from budget.catalog import load_catalog
from budget.estimator import Estimate, estimate
from budget.plan import from_record
from budget.rules import FREE
from components.config import StackConfig, load_stack_file
from components.planning.mocks import plan_resources
from tests.budget.budget_helpers import ROOT

VPC_ORIGIN = "aws:cloudfront/vpcOrigin:VpcOrigin"


def _phase1(**load_balancer: str) -> StackConfig:
    data = load_stack_file(ROOT / "Pulumi.phase1.yaml").model_dump()
    data["load_balancer"].update(load_balancer)
    if load_balancer.get("type") == "network":  # an internal NLB serves the combined group on one port
        data["app"], data["api"], data["realtime"] = data["api"], None, None
    return StackConfig.model_validate(data)


@cache
def _priced(origin: str, kind: str = "application") -> Estimate:
    cfg = _phase1(origin=origin, type=kind)
    return estimate([from_record(r) for r in plan_resources(cfg)], cfg, load_catalog())


def _lines(est: Estimate, name: str) -> dict[str, float]:
    found = next(p for p in est.priced if p.resource.name == name)
    return {line.name.split(" (")[0]: line.monthly() for line in found.lines}


def test_the_vpc_origin_is_free_with_its_source() -> None:
    reason = FREE[VPC_ORIGIN]
    assert "'VPC origins: price'" in reason and "standard rates" in reason
    vpc_origin = next(p for p in _priced("vpc_origin").priced if p.resource.type == VPC_ORIGIN)
    assert vpc_origin.free_reason == reason and vpc_origin.monthly() == 0


def test_an_internal_alb_pays_no_public_ipv4_by_hand() -> None:
    public, internal = _lines(_priced("public"), "edge-alb"), _lines(_priced("vpc_origin"), "edge-alb")
    # ALB hours: 730 h x 0.029 $/h (af-south-1) = 21.17
    assert (
        public["Application load balancer"] == internal["Application load balancer"] == pytest.approx(21.17)
    )
    # LCUs: the largest dimension is active connections, 5,813.95 / 3,000 = 1.93798 LCU;
    # x 730 h x 0.0102 $/LCU-hour = 14.4303
    lcu = "Load balancer capacity units"
    assert public[lcu] == internal[lcu] == pytest.approx(5813.95 / 3000 * 730 * 0.0102)
    # public: one address per subnet, 2 x 730 h x 0.005 $/h = 7.30; internal: none
    assert public["Public IPv4 addresses"] == pytest.approx(7.30)
    assert "Public IPv4 addresses" not in internal
    assert sum(public.values()) == pytest.approx(42.90, abs=0.005)
    assert sum(internal.values()) == pytest.approx(35.60, abs=0.005)
    # the rest of the stack is priced the same: the whole plan is 7.30 cheaper
    assert _priced("public").total() - _priced("vpc_origin").total() == pytest.approx(7.30)


def test_an_internal_nlb_by_hand() -> None:
    nlb = _lines(_priced("vpc_origin", "network"), "edge-nlb")
    # NLB hours: 730 h x 0.02925 $/h = 21.3525
    assert nlb["Network load balancer"] == pytest.approx(21.3525)
    # TCP NLCUs: the largest dimension is processed bytes, 0.79 GB/h / 1 = 0.79 NLCU (active connections
    # 5,813.95 / 100,000 = 0.058, new connections 2.91 / 800 = 0.004); x 730 h x 0.0078 $/NLCU-hour = 4.49826
    assert nlb["Network load balancer capacity units"] == pytest.approx(0.79 * 730 * 0.0078)
    assert "Public IPv4 addresses" not in nlb
    assert sum(nlb.values()) == pytest.approx(25.85, abs=0.005)
