"""The demand block and the usage it implies: the stack files' usage is their demand, routed."""

from __future__ import annotations

import pytest

from budget.demand import (
    NO_TRANSFER,
    DemandError,
    demand_of,
    routed_figures,
    routed_usage,
    traffic,
    usage_drift,
    websocket_floor_gb_per_user,
    with_routed_usage,
)
from budget.fit.howfar import with_demand
from tests.budget.budget_helpers import stack_cfg


@pytest.mark.parametrize("phase", ["phase1", "phase2", "phase3"])
def test_each_phase_states_the_usage_its_demand_implies(phase: str) -> None:
    assert usage_drift(stack_cfg(phase)) == {}


def test_phase_three_figures_by_hand() -> None:
    cfg = stack_cfg("phase3")
    figures = routed_figures(cfg)
    # the daily profile: the busiest hour is 1.72 x the average, so a month has 2,628,000 s / 1.72 =
    # 1,527,907 s at the peak rate
    seconds = 730 * 3600 / 1.72
    # real-time frames: 100,000 users x 0.1 deliveries/s x 171 B, plus a 2-byte ping every 20 s each
    pings = 100_000 * seconds / 20 * 2
    frames = (100_000 * 0.1 * 171 * seconds + pings) / 1e9
    assert frames == pytest.approx(2628.0, abs=0.05)
    # on the wire the delivered frames are compressed at the kept deflate run's ratio for frames around
    # 171 B: its short chat message, 159 B -> 131 B (test_budget_deflate.py); pings stay raw
    sent = (100_000 * 0.1 * 171 * seconds * 131 / 159 + pings) / 1e9
    assert sent == pytest.approx(2167.9, abs=0.05)
    # 100,000 users x 0.3 GB = 30,000 GB a month; what the frames leave is 88% static through CloudFront
    static = 0.88 * (30_000 - frames)
    assert figures["cloudfront_egress_gb"] == round(static, 2)
    # the rest leaves the load balancer: the frames and the API responses (12% of what the raw frames leave)
    api = 0.12 * (30_000 - frames)
    assert figures["internet_egress_gb"] == pytest.approx(sent + api, abs=0.01)
    # static GB / 100 KB = requests; 10% of them miss to S3
    assert figures["cloudfront_requests"] == round(static * 1e6 / 100)
    assert figures["s3_get_requests"] == round(static * 1e6 / 100 * 0.1)
    # load-balancer capacity units are billed per hour: the month's average, peak / 1.72
    # active: one WebSocket per user, and (the API direct to the load balancer, TLS for the domain) the API
    # connections users hold open: at most 0.01 requests/s x the servers' 5 s keep-alive = 0.05 each
    assert figures["alb_active_connections"] == round(100_000 * (1 + 0.01 * 5) / 1.72, 2)
    assert figures["alb_rule_evaluations_per_second"] == round(1_000 / 1.72, 2)
    # processed: frames both ways (uploads: 0.01 publishes/s x 171 B + a 6-byte pong every 20 s) + API
    uploads = (100_000 * 0.01 * 171 * seconds + 100_000 * seconds / 20 * 6) / 1e9
    assert figures["alb_processed_gb_per_hour"] == round((sent + uploads + api) / 730, 2)
    assert figures["rds_backup_storage_gb"] == 750  # 1.5 x 500 GB


def test_a_low_usage_demand_is_accepted_and_priced_from_its_own_total() -> None:
    """Issue 23: at 0.1 GB per user (10 TB a month at 100,000 users, the plan's own lower figure) the
    demand was refused because a fixed 0.05 GB of WebSocket bytes per user exceeded 20% of the transfer."""
    cfg = with_demand(stack_cfg("phase1"), transfer_gb_per_user_per_month=0.1)
    t = traffic(demand_of(cfg))
    seconds = 730 * 3600 / 1.72
    frames = (10_000 * 0.1 * 171 * seconds + 10_000 * seconds / 20 * 2) / 1e9  # 262.8 GB
    assert t.total_gb == 1_000 and t.websocket_raw_gb == pytest.approx(frames)
    assert t.static_gb == pytest.approx(0.88 * (1_000 - frames))
    assert t.api_gb == pytest.approx(0.12 * (1_000 - frames))
    figures = routed_figures(cfg)
    # everything the users consume is served, less what permessage-deflate keeps off the wire
    on_the_wire = figures["cloudfront_egress_gb"] + figures["internet_egress_gb"]
    assert on_the_wire == pytest.approx(1_000 - t.deflate_saved_gb, abs=0.01) and t.deflate_saved_gb > 0


def test_a_demand_whose_frames_exceed_its_total_is_refused_in_one_line() -> None:
    cfg = with_demand(stack_cfg("phase1"), transfer_gb_per_user_per_month=0.02)
    with pytest.raises(DemandError) as caught:
        demand_of(cfg)
    message = str(caught.value)
    assert "\n" not in message and message.startswith("inconsistent stars:demand")
    # the least consistent transfer is the frames' own: 262.8 GB / 10,000 users
    assert "at least 0.0263 GB per user" in message
    assert cfg.demand is not None
    assert websocket_floor_gb_per_user(cfg.demand) == pytest.approx(0.02628, abs=1e-5)


def test_no_transfer_moves_no_bytes_and_keeps_the_users() -> None:
    cfg = with_demand(stack_cfg("phase1"), **NO_TRANSFER)
    t = traffic(demand_of(cfg))
    assert t.total_gb == t.websocket_gb == t.websocket_upload_gb == t.static_gb == t.api_gb == 0
    assert cfg.demand is not None and cfg.demand.concurrent_users == 10_000


def test_routing_moves_traffic_but_never_removes_it() -> None:
    cfg = stack_cfg("phase1")
    no_nat = cfg.model_copy(update={"network": cfg.network.model_copy(update={"private_egress": "public"})})
    routed = routed_usage(no_nat)
    assert routed.nat_processed_gb == 0  # nothing goes through a NAT gateway that does not exist
    total = routed.cloudfront_egress_gb + routed.internet_egress_gb
    # every GB the users need is still served (the frames compressed: 3,000 GB less 46.0 GB saved)
    wire = traffic(demand_of(cfg)).wire_gb
    assert total == pytest.approx(wire, abs=0.01) and wire == pytest.approx(3_000 - 46.0, abs=0.05)
    no_cdn = cfg.model_copy(update={"cdn": cfg.cdn.model_copy(update={"enabled": False})})
    routed = routed_usage(no_cdn)
    assert routed.cloudfront_egress_gb == 0 and routed.internet_egress_gb == pytest.approx(wire)
    via_cdn = cfg.model_copy(
        update={"load_balancer": cfg.load_balancer.model_copy(update={"websockets_via_cdn": True})}
    )
    routed = routed_usage(via_cdn)
    moved = routed.cloudfront_egress_gb + routed.cloudfront_websocket_egress_gb + routed.internet_egress_gb
    assert moved == pytest.approx(wire, abs=0.01) and routed.cloudfront_websocket_egress_gb > 0
    assert with_routed_usage(cfg).usage == cfg.usage


def test_a_stack_without_demand_is_a_clear_error() -> None:
    cfg = stack_cfg("phase1").model_copy(update={"demand": None})
    with pytest.raises(DemandError, match="no stars:demand block"):
        routed_usage(cfg)
