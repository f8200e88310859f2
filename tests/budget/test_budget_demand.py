"""The demand block and the usage it implies: the stack files' usage is their demand, routed."""

from __future__ import annotations

import pytest
from budget_helpers import stack_cfg

from budget.demand import DemandError, routed_figures, routed_usage, usage_drift, with_routed_usage


@pytest.mark.parametrize("phase", ["phase1", "phase2", "phase3"])
def test_each_phase_states_the_usage_its_demand_implies(phase: str) -> None:
    assert usage_drift(stack_cfg(phase)) == {}


def test_phase_three_figures_by_hand() -> None:
    cfg = stack_cfg("phase3")
    figures = routed_figures(cfg)
    # 100,000 users x 0.3 GB = 30,000 GB a month; 80% static through CloudFront
    assert figures["cloudfront_egress_gb"] == 24_000 and figures["internet_egress_gb"] == 6_000
    # 24,000 GB / 100 KB = 240 million requests; 10% of them miss to S3
    assert figures["cloudfront_requests"] == 240_000_000 and figures["s3_get_requests"] == 24_000_000
    assert figures["alb_active_connections"] == 100_000 and figures["alb_rule_evaluations_per_second"] == 1000
    assert figures["alb_processed_gb_per_hour"] == 8.22  # 6,000 GB / 730 h
    assert figures["rds_backup_storage_gb"] == 750  # 1.5 x 500 GB


def test_routing_moves_traffic_but_never_removes_it() -> None:
    cfg = stack_cfg("phase1")
    no_nat = cfg.model_copy(update={"network": cfg.network.model_copy(update={"private_egress": "public"})})
    routed = routed_usage(no_nat)
    assert routed.nat_processed_gb == 0  # nothing goes through a NAT gateway that does not exist
    total = routed.cloudfront_egress_gb + routed.internet_egress_gb
    assert total == pytest.approx(10_000 * 0.3)  # every GB the users need is still served
    no_cdn = cfg.model_copy(update={"cdn": cfg.cdn.model_copy(update={"enabled": False})})
    routed = routed_usage(no_cdn)
    assert routed.cloudfront_egress_gb == 0 and routed.internet_egress_gb == pytest.approx(3000)
    assert with_routed_usage(cfg).usage == cfg.usage


def test_a_stack_without_demand_is_a_clear_error() -> None:
    cfg = stack_cfg("phase1").model_copy(update={"demand": None})
    with pytest.raises(DemandError, match="no stars:demand block"):
        routed_usage(cfg)


def test_websocket_bytes_cannot_exceed_the_dynamic_transfer() -> None:
    from pydantic import ValidationError

    demand = stack_cfg("phase1").demand
    assert demand is not None
    with pytest.raises(ValidationError, match="exceeds the dynamic part"):
        demand.model_validate({**demand.model_dump(), "websocket_gb_per_user_per_month": 0.5})
