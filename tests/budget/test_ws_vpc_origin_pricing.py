"""/ws on an internal NLB behind a CloudFront VPC origin, the API alone on a public NLB with TLS
(``stars:loadBalancer.websocket_origin: vpc_origin``), priced by hand against one public TLS NLB for both.

Phase 2 (af-south-1, 50,000 users, two zones) with a domain, the combined app group and /ws through
CloudFront, its usage routed from its demand (budget/demand.py): a 730-hour month, the month's average =
peak / 1.72. API responses 1,642.32 GB, WebSocket frames 1,083.95 GB out (compressed) and 153.55 GB in.
"""

from __future__ import annotations

from dataclasses import replace
from functools import cache

import pytest

from budget.catalog import load_catalog
from budget.demand import with_routed_usage
from budget.estimator import Estimate, estimate
from budget.plan import from_record
from components.config import StackConfig, load_stack_file
from components.planning.mocks import plan_resources
from tests.budget.budget_helpers import ROOT

HOURS = 730
NLB_HOUR, NLCU_HOUR, IPV4_HOUR = 0.02925, 0.0078, 0.005  # af-south-1 catalog prices, USD


def _phase2(websocket_origin: str, keep_alive_s: float = 5.0) -> StackConfig:
    data = load_stack_file(ROOT / "Pulumi.phase2.yaml").model_dump()
    data["app"], data["api"], data["realtime"] = data["api"], None, None
    data["load_balancer"].update(
        # the API's NLB is public (TLS for the domain); only /ws's sits behind the VPC origin
        origin="public",
        type="network",
        domain="api.example.org",
        websockets_via_cdn=True,
        websocket_origin=websocket_origin,
    )
    data["demand"]["api_keep_alive_s"] = keep_alive_s
    return with_routed_usage(StackConfig.model_validate(data))


@cache
def _priced(websocket_origin: str, keep_alive_s: float = 5.0) -> Estimate:
    cfg = _phase2(websocket_origin, keep_alive_s)
    return estimate([from_record(r) for r in plan_resources(cfg)], cfg, load_catalog())


def _lines(est: Estimate, name: str) -> dict[str, float]:
    found = next(p for p in est.priced if p.resource.name == name)
    return {line.name: line.monthly() for line in found.lines}


def _line(lines: dict[str, float], start: str) -> float:
    (value,) = [v for k, v in lines.items() if k.startswith(start)]
    return value


def test_the_routed_figures_split_by_load_balancer() -> None:
    usage = _phase2("vpc_origin").usage
    # public (API): 50,000 x 0.0005 new/s / 1.72 = 14.53; API connections held 50,000 x (0.01 req/s x 5 s
    # keep-alive) / 1.72 = 1,453.49; API responses 1,642.32 GB / 730 h = 2.25 GB/h
    assert (usage.alb_new_connections_per_second, usage.alb_active_connections) == (14.53, 1453.49)
    assert usage.alb_processed_gb_per_hour == 2.25
    # internal (/ws): one WebSocket per user 50,000 / 1.72 = 29,069.77; (1,083.95 + 153.55) GB / 730 h = 1.70
    assert usage.websocket_lb_active_connections == 29069.77
    assert usage.websocket_lb_processed_gb_per_hour == 1.7
    assert usage.websocket_lb_new_connections_per_second == 14.53  # the demand does not split new ones
    # one load balancer for both: the WebSockets and the API's connections, all the bytes
    single = _phase2("load_balancer").usage
    assert single.alb_active_connections == pytest.approx(29069.77 + 1453.49, abs=0.01)
    assert single.websocket_lb_active_connections == 0


def test_two_load_balancers_by_hand() -> None:
    est = _priced("vpc_origin")
    public, internal = _lines(est, "edge-nlb"), _lines(est, "edge-ws-nlb")
    assert public["Network load balancer"] == pytest.approx(HOURS * NLB_HOUR)  # 21.3525
    # TLS NLCUs: max(new 14.53 / 50 = 0.29, active 1,453.49 / 3,000 = 0.48, 2.25 GB/h / 1 = 2.25) = 2.25
    # x 730 h x 0.0078 = 12.8115
    tls = _line(public, "Network load balancer capacity units")
    assert tls == pytest.approx(2.25 * HOURS * NLCU_HOUR)
    assert "TLS processed GB/h 2.25" in next(k for k in public if k.startswith("Network load balancer cap"))
    assert _line(public, "Public IPv4") == pytest.approx(2 * HOURS * IPV4_HOUR)  # 7.30
    # the API's responses leave the public one: (1,642.32 - 100 free) GB x 0.154 = 237.52
    assert _line(public, "Data transfer out to internet (first 10 TB)") == pytest.approx(1542.32 * 0.154)
    # internal: hours 21.3525; TCP NLCUs max(14.53 / 800, 29,069.77 / 100,000 = 0.29, 1.70 GB/h) = 1.70
    # x 730 x 0.0078 = 9.6798; no public address, no internet egress (its bytes leave through CloudFront)
    assert _line(internal, "Network load balancer (internal") == pytest.approx(HOURS * NLB_HOUR)
    assert _line(internal, "Network load balancer capacity units") == pytest.approx(1.70 * HOURS * NLCU_HOUR)
    assert set(internal) == {k for k in internal if k.startswith("Network load balancer")}
    assert sum(public.values()) + sum(internal.values()) == pytest.approx(310.01, abs=0.005)


def test_the_ws_bytes_are_cloudfronts() -> None:
    cdn = _lines(_priced("vpc_origin"), "cdn-distribution")
    # frames from viewers: 153.55 GB x 0.060 $/GB regional transfer to origin = 9.213
    assert _line(cdn, "WebSocket frames from viewers") == pytest.approx(153.55 * 0.060)
    # upgrades: 50,000 x 0.0005/s x 1,527,907 s = 38,197,674.42 proxy requests x 0.012 $/10,000 = 45.84
    assert _line(cdn, "WebSocket upgrade requests") == pytest.approx(3819.767442 * 0.012)
    # frames to viewers join the assets' transfer: 12,043.68 + 1,083.95 = 13,127.63 GB, 1,024 GB free,
    # 10,240 GB x 0.110 = 1,126.40, the next 1,863.63 GB x 0.105 = 195.68
    assert _line(cdn, "Data transfer out to viewers (south_africa_kenya_nigeria_middle_east) (next") == (
        pytest.approx(1863.63 * 0.105)
    )


def test_the_split_saves_the_tls_active_connections() -> None:
    """One public TLS NLB bills (29,069.77 + 1,453.49) / 3,000 = 10.17 NLCU for the active connections:
    57.92 a month; the split bills 12.81 + 9.68 NLCU-hours and a second NLB's 21.35 hours: 43.84. Every other
    line is the same, so the plan is 14.08 a month cheaper."""
    single = _lines(_priced("load_balancer"), "edge-nlb")
    assert _line(single, "Network load balancer capacity units") == pytest.approx(
        30523.26 / 3000 * HOURS * NLCU_HOUR, abs=0.01
    )
    saving = _priced("load_balancer").total() - _priced("vpc_origin").total()
    assert saving == pytest.approx(30523.26 / 3000 * 5.694 - (2.25 + 1.70) * 5.694 - 21.3525, abs=0.01)
    assert saving == pytest.approx(14.08, abs=0.01)


def test_api_connections_held_bill_on_the_public_nlb_either_way() -> None:
    """At one API connection held per user (keep-alive 100 s x 0.01 requests/s) the public NLB bills the TLS
    active connections: 29,069.77 / 3,000 = 9.69 NLCU. One NLB for both holds them beside the WebSockets,
    58,139.54 / 3,000 = 19.38 NLCU, so the split still saves (19.38 - 9.69 - 1.70) x 5.694 - 21.35 = 24.17:
    what it saves is the WebSockets' TLS connections, whatever the API holds."""
    public = _lines(_priced("vpc_origin", 100.0), "edge-nlb")
    assert _line(public, "Network load balancer capacity units") == pytest.approx(
        29069.77 / 3000 * HOURS * NLCU_HOUR, abs=0.01
    )
    saving = _priced("load_balancer", 100.0).total() - _priced("vpc_origin", 100.0).total()
    assert saving == pytest.approx((58139.54 / 3000 - 29069.77 / 3000 - 1.70) * 5.694 - 21.3525, abs=0.01)


def test_the_ws_load_balancer_fails_closed_without_its_figures() -> None:
    """Its own usage figures at 0 while WebSockets go through CloudFront would price it at its hours alone:
    unpriced instead, named; so is a ``traffic`` tag the rule has no figures for."""
    cfg = _phase2("vpc_origin")
    zero = cfg.model_copy(
        update={
            "usage": cfg.usage.model_copy(
                update=dict.fromkeys(
                    (
                        "websocket_lb_new_connections_per_second",
                        "websocket_lb_active_connections",
                        "websocket_lb_processed_gb_per_hour",
                    ),
                    0.0,
                )
            )
        }
    )
    records = [from_record(r) for r in plan_resources(zero)]
    [unpriced] = estimate(records, zero, load_catalog()).unpriced
    assert unpriced.name == "edge-ws-nlb" and "websocket_lb_" in unpriced.reason
    records = [
        replace(r, inputs={**r.inputs, "tags": {**r.inputs["tags"], "traffic": "assets"}})
        if r.name == "edge-ws-nlb"
        else r
        for r in records
    ]
    # (the public one too: which of them leaves to the internet cannot be told)
    unpriced_ = estimate(records, cfg, load_catalog()).unpriced
    assert {u.name for u in unpriced_} == {"edge-nlb", "edge-ws-nlb"}
    assert all("tag traffic='assets' has no load balancer usage figures" in u.reason for u in unpriced_)
