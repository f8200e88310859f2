"""Load-balancing and CDN options priced by hand: NLB (NLCUs), WebSockets through CloudFront, flat-rate plans.

Every expected figure is computed in the comments from the catalog's sourced prices; what the catalog cannot
price (traffic above a plan's allowance, WebSockets on a plan, a web ACL outside a plan) must be unpriced,
with its reason, and make ``budget check`` exit 2.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from budget.cli import main
from budget.rules.base import UNKNOWN
from components.config import StackConfig
from tests.budget.budget_helpers import DOMAIN, ROOT, line_named, price, res, unpriced
from tests.budget.budget_helpers import stack_cfg as routed_stack_cfg

NLB = "aws:lb/loadBalancer:LoadBalancer"
LISTENER = "aws:lb/listener:Listener"
DISTRIBUTION = "aws:cloudfront/distribution:Distribution"
WAF = "aws:wafv2/webAcl:WebAcl"
SUBSCRIPTION = "aws:pricingplanmanager/subscription:Subscription"
DIST_ID = "EDISTRIBUTION1"
WAF_ID = "0000aaaa-1111-4222-8333-444455556666"
DIST_ARN = f"arn:aws:cloudfront::123456789012:distribution/{DIST_ID}"
WAF_ARN = f"arn:aws:wafv2:us-east-1:123456789012:global/webacl/cdn-waf/{WAF_ID}"


#: The usage the hand arithmetic below is written for: each phase's routed usage with a domain on the load
#: balancer under the plan-era split (80% static, WebSockets at 0.05 GB per user, 730 h at the peak rate).
#: The rules are tested on fixed figures; what the demand model derives is tested in test_budget_demand.py.
EDGE_USAGE: dict[str, dict[str, float]] = {
    "phase1": {
        "cloudfront_egress_gb": 2400,
        "cloudfront_requests": 24_000_000,
        "internet_egress_gb": 600,
        "alb_new_connections_per_second": 5,
        "alb_active_connections": 10_000,
        "alb_processed_gb_per_hour": 0.82,
        "alb_rule_evaluations_per_second": 100,
        "s3_get_requests": 2_400_000,
    },
    "phase3": {
        "cloudfront_egress_gb": 24_000,
        "cloudfront_requests": 240_000_000,
        "internet_egress_gb": 6000,
        "alb_new_connections_per_second": 50,
        "alb_active_connections": 100_000,
        "alb_processed_gb_per_hour": 8.22,
        "alb_rule_evaluations_per_second": 1000,
        "s3_get_requests": 24_000_000,
    },
}


def stack_cfg(phase: str = "phase1", region: str | None = None, **usage: float | str) -> StackConfig:
    """The phase's config (a domain on the load balancer) with the usage the arithmetic is written for."""
    return routed_stack_cfg(phase, region, **{**EDGE_USAGE.get(phase, {}), **usage})


def cfg_with(phase: str = "phase3", region: str | None = None, **blocks: dict[str, Any]) -> StackConfig:
    """A phase's config with some blocks changed, validated again (the WebSocket usage rules apply)."""
    data = stack_cfg(phase, region).model_dump()
    for block, changes in blocks.items():
        data[block] = {**data[block], **changes}
    return StackConfig.model_validate(data)


def exact(priced: Any, name: str) -> Any:
    """The one line called exactly ``name``."""
    (found,) = [item for item in priced.lines if item.name == name]
    return found


# ---------------------------------------------------------------------------------------------- NLB


def _nlb(protocol: str | None = "TCP") -> tuple[Any, Any]:
    nlb = res(
        NLB,
        "edge-nlb",
        {"loadBalancerType": "network", "internal": False, "subnets": ["a", "b"]},
        id_="nlb-arn",
    )
    inputs = {"loadBalancerArn": "nlb-arn", "port": 80}
    if protocol:
        inputs["protocol"] = protocol
    return nlb, res(LISTENER, "edge-api-listener", inputs)


def test_nlb_tcp_hours_nlcu_public_ips_and_egress(catalog):
    cfg = stack_cfg("phase3")  # af-south-1: 50 new conn/s, 100,000 active, 8.22 GB/h, 6,000 GB egress
    nlb, listener = _nlb("TCP")
    priced = price(nlb, cfg, catalog, [listener])
    hours = exact(priced, "Network load balancer")
    assert hours.monthly() == pytest.approx(21.3525)  # 730 h x 0.02925 (0.0225 x 1.30, ESTIMATE)
    nlcu = line_named(priced, "Network load balancer capacity units")
    # TCP: max(50/800 = 0.0625, 100,000/100,000 = 1.0, 8.22/1 = 8.22) = 8.22 NLCU, driven by processed GB/h;
    # 8.22 x 730 = 6,000.6 NLCU-h x 0.0078 (0.006 x 1.30, ESTIMATE) = 46.80468
    assert nlcu.monthly() == pytest.approx(46.80468)
    assert "TCP processed GB/h 8.22 / 1 = 8.22 NLCU" in nlcu.name
    assert nlcu.usage_based and nlcu.estimated and "RECALLED" in nlcu.source
    assert line_named(priced, "Public IPv4 addresses").monthly() == pytest.approx(7.30)  # 2 x 730 x 0.005
    # the stack's internet egress, as on an ALB: 100 GB free, 5,900 x 0.154 = 908.60
    assert line_named(priced, "Data transfer out to internet (first 10 TB)").monthly() == pytest.approx(
        908.60
    )
    assert priced.monthly() == pytest.approx(984.05718)  # 21.3525 + 46.80468 + 7.30 + 908.60


def test_nlb_tls_dimensions_and_us_east_1(catalog):
    cfg = stack_cfg("phase3", region="us-east-1")
    nlb, listener = _nlb("TLS")
    priced = price(nlb, cfg, catalog, [listener])
    hours = exact(priced, "Network load balancer")
    assert hours.monthly() == pytest.approx(16.425) and not hours.estimated  # 730 x 0.0225, CONFIRMED
    nlcu = line_named(priced, "Network load balancer capacity units")
    # TLS: max(50/50 = 1, 100,000/3,000 = 33.33, 8.22/1 = 8.22) = 33.333 NLCU, driven by active connections;
    # 33.333 x 730 = 24,333.33 NLCU-h x 0.006 (CONFIRMED) = 146.00
    assert nlcu.monthly() == pytest.approx(146.00)
    assert "TLS active connections 100,000 / 3,000 = 33.33 NLCU" in nlcu.name
    assert nlcu.estimated  # the TLS dimension is RECALLED


def test_nlb_phase1_is_driven_by_processed_bytes_not_sockets(catalog):
    cfg = stack_cfg("phase1")  # 5 new conn/s, 10,000 active, 0.82 GB/h
    nlb, listener = _nlb("TCP")
    nlcu = line_named(price(nlb, cfg, catalog, [listener]), "Network load balancer capacity units")
    # max(5/800 = 0.00625, 10,000/100,000 = 0.1, 0.82) = 0.82 NLCU x 730 h x 0.0078 = 4.66908
    # (the ALB: 10,000/3,000 = 3.33 LCU x 730 x 0.0102 = 24.82)
    assert nlcu.monthly() == pytest.approx(4.66908)


def test_nlb_listener_found_through_preview_dependencies(catalog):
    nlb, _ = _nlb()
    nlb = res(NLB, "edge-nlb", dict(nlb.inputs), id_=UNKNOWN)
    listener = res(
        LISTENER,
        "edge-api-listener",
        {"loadBalancerArn": UNKNOWN, "protocol": "TLS", "port": 443},
        deps={"loadBalancerArn": [nlb.urn]},
    )
    nlcu = line_named(price(nlb, stack_cfg("phase3"), catalog, [listener]), "Network load balancer capacity")
    assert "TLS active connections" in nlcu.name


@pytest.mark.parametrize(
    ("listeners", "reason"),
    [
        ([], "no listener of this network load balancer found"),
        ([None], "only all-TCP or all-TLS are priced"),  # a listener without a protocol is not guessed
        (["TCP", "TLS"], "only all-TCP or all-TLS are priced"),
        (["UDP"], "only all-TCP or all-TLS are priced"),
    ],
)
def test_nlb_fails_closed_when_its_protocol_is_unclear(catalog, listeners, reason):
    nlb, _ = _nlb()
    others = []
    for i, protocol in enumerate(listeners):
        inputs = {"loadBalancerArn": "nlb-arn", "port": 80 + i}
        if protocol:
            inputs["protocol"] = protocol
        others.append(res(LISTENER, f"edge-l{i}", inputs))
    assert reason in unpriced(nlb, stack_cfg(), catalog, others).reason


def test_unknown_load_balancer_type_is_unpriced(catalog):
    gwlb = res(NLB, "edge-gwlb", {"loadBalancerType": "gateway", "internal": True})
    assert "'gateway' has no rule" in unpriced(gwlb, stack_cfg(), catalog).reason


# --------------------------------------------------------------------- WebSockets via CloudFront


def _distribution(price_class: str = "PriceClass_200") -> Any:
    return res(DISTRIBUTION, "cdn-distribution", {"priceClass": price_class}, id_=DIST_ID)


def test_websocket_traffic_on_pay_as_you_go(catalog):
    cfg = cfg_with(
        "phase3",  # PriceClass_200: viewers at South Africa/Kenya/Nigeria/Middle East edges
        load_balancer={"websockets_via_cdn": True},
        usage={
            "cloudfront_websocket_egress_gb": 6000,
            "cloudfront_websocket_ingress_gb": 600,
            "cloudfront_websocket_connections": 30_000_000,
        },
    )
    priced = price(_distribution(), cfg, catalog)
    bucket = "south_africa_kenya_nigeria_middle_east"
    # 24,000 GB static + 6,000 GB WebSocket = 30,000 GB through one set of tiers: 1,024 free,
    # 10,240 x 0.110 = 1,126.40, then 30,000 - 1,024 - 10,240 = 18,736 x 0.105 = 1,967.28
    first = line_named(priced, f"Data transfer out to viewers ({bucket}) (first 10 TB)")
    assert first.monthly() == pytest.approx(1126.40)
    nxt = line_named(priced, f"Data transfer out to viewers ({bucket}) (next 40 TB)")
    assert nxt.quantity.max == pytest.approx(18_736) and nxt.monthly() == pytest.approx(1967.28)
    assert "WebSocket frames to viewers 6,000 GB share the volume tiers" in nxt.source
    # static requests use the 10 M free requests: 230 M x 0.012 / 10k = 276.00; the 30 M upgrades get
    # none of it and are proxy requests at the HTTPS price (ESTIMATE): 3,000 x 0.012 = 36.00
    assert line_named(priced, f"HTTPS requests ({bucket})").monthly() == pytest.approx(276.00)
    upgrades = line_named(priced, "WebSocket upgrade requests, billed as proxy requests")
    assert upgrades.monthly() == pytest.approx(36.00) and upgrades.estimated
    assert not [li for li in priced.lines if li.name.startswith("WebSocket upgrade requests (free")]
    # client-to-server frames: 600 GB of regional data transfer to origin x 0.060 (DERIVED) = 36.00
    origin = line_named(priced, "WebSocket frames from viewers: regional data transfer to origin")
    assert origin.monthly() == pytest.approx(36.00) and not origin.estimated
    # 1,126.40 + 1,967.28 + 276.00 + 36.00 + 36.00; the WebSocket share: 6,000 x 0.105 + 36 + 36 = 702.00
    assert priced.monthly() == pytest.approx(3441.68)


def test_websocket_upgrades_share_the_free_requests_left_by_the_assets(catalog):
    cfg = cfg_with(
        "phase1",  # PriceClass_100: African viewers billed at Europe's edges
        load_balancer={"websockets_via_cdn": True},
        usage={"cloudfront_requests": 4_000_000, "cloudfront_websocket_connections": 10_000_000},
    )
    priced = price(_distribution("PriceClass_100"), cfg, catalog)
    free = line_named(priced, "WebSocket upgrade requests (free allowance left by the static assets)")
    assert free.quantity.max == 600 and free.monthly() == 0  # 10 M - 4 M static = 6 M free = 600 x 10k
    billed = line_named(priced, "WebSocket upgrade requests, billed as proxy requests (europe)")
    assert billed.monthly() == pytest.approx(4.80)  # 4 M = 400 x 10k x 0.012


def test_websocket_ingress_at_india_edges_has_no_price(catalog):
    cfg = cfg_with(
        "phase3",
        load_balancer={"websockets_via_cdn": True},
        usage={"viewer_region": "india", "cloudfront_websocket_ingress_gb": 10},
    )
    reason = unpriced(_distribution(), cfg, catalog).reason
    assert "cloudfront.transfer_to_origin.india" in reason


# ------------------------------------------------------------------------------ flat-rate plans


def _plan(tier: str = "BUSINESS", **extra: Any) -> Any:
    inputs = {
        "planFamily": "CloudFront",
        "planTier": tier,
        "usageLevel": "DEFAULT",
        "resourceArns": [DIST_ARN, WAF_ARN],
        **extra,
    }
    return res(SUBSCRIPTION, "cdn-plan", inputs, id_="sub-1")


def _waf() -> Any:
    return res(WAF, "cdn-waf", {"scope": "CLOUDFRONT"}, id_=WAF_ID)


def test_business_plan_is_a_flat_fee_with_transfer_and_requests_inside_the_allowance(catalog):
    cfg = stack_cfg("phase1")  # 2,400 GB and 24,000,000 requests a month
    dist, plan, waf = _distribution("PriceClass_100"), _plan("BUSINESS"), _waf()
    priced = price(dist, cfg, catalog, [plan, waf])
    transfer = line_named(priced, "Data transfer out to viewers (within the Business plan allowance")
    assert "used 2,400 of 50,000 GB" in transfer.name and transfer.monthly() == 0
    requests = line_named(priced, "HTTPS requests (within the Business plan allowance")
    assert "used 24,000,000 of 125,000,000" in requests.name and requests.monthly() == 0
    assert priced.monthly() == 0
    fee = price(plan, cfg, catalog, [dist, waf])
    assert fee.monthly() == pytest.approx(200.00)  # Business: $200 a month (CONFIRMED-3P)
    assert "CONFIRMED-3P" in fee.lines[0].source
    bundled = price(waf, cfg, catalog, [dist, plan])
    assert bundled.monthly() == 0 and "bundled in the CloudFront Business plan" in bundled.lines[0].name
    # pay-as-you-go for the same month: (2,400 - 1,024) x 0.085 = 116.96 + (24 M - 10 M) x 0.012 / 10k
    # = 16.80, i.e. 133.76 < 200: the plan only pays off at larger volumes
    payg = price(dist, cfg, catalog)
    assert payg.monthly() == pytest.approx(133.76)


def test_premium_plan_undercuts_phase_3_pay_as_you_go(catalog):
    cfg = stack_cfg("phase3")  # 24,000 GB, 240 M requests: inside Premium's 50 TB / 500 M
    dist, plan, waf = _distribution(), _plan("PREMIUM"), _waf()
    assert price(dist, cfg, catalog, [plan, waf]).monthly() == 0
    assert price(plan, cfg, catalog, [dist, waf]).monthly() == pytest.approx(1000.00)
    # pay-as-you-go: 10,240 x 0.110 + 12,736 x 0.105 + 230 M x 0.012 / 10k = 1,126.40 + 1,337.28 + 276.00
    assert price(dist, cfg, catalog).monthly() == pytest.approx(2739.68)


@pytest.mark.parametrize(
    ("tier", "usage", "reason"),
    [
        (
            "PRO",
            {},
            "24,000,000 requests/month exceeds the Pro plan's 10,000,000 requests/month; AWS may throttle;"
            " the allowance is a hard ceiling, not free",
        ),
        (
            "BUSINESS",
            {"cloudfront_requests": 200_000_000},
            "exceeds the Business plan's 125,000,000 requests/month; AWS may throttle",
        ),
        (
            "FREE",
            {"cloudfront_requests": 500_000, "cloudfront_egress_gb": 150},
            "150 GB/month of data transfer exceeds the Free plan's 100 GB/month of data transfer",
        ),
        (
            "PREMIUM",
            {"cloudfront_egress_gb": 60_000},
            "exceeds the Premium plan's 50,000 GB/month of data transfer; AWS may throttle",
        ),
    ],
)
def test_usage_above_the_allowance_is_unpriced(catalog, tier, usage, reason):
    cfg = stack_cfg("phase1", **usage)
    assert reason in unpriced(_distribution("PriceClass_100"), cfg, catalog, [_plan(tier), _waf()]).reason


def test_websockets_on_a_flat_plan_are_unpriced(catalog):
    cfg = cfg_with("phase1", load_balancer={"websockets_via_cdn": True}, cdn={"plan": "business"})
    reason = unpriced(_distribution("PriceClass_100"), cfg, catalog, [_plan(), _waf()]).reason
    assert "WebSocket traffic through a distribution on the Business flat-rate plan: not found" in reason


def test_web_acl_outside_a_plan_is_unpriced(catalog):
    reason = unpriced(_waf(), stack_cfg(), catalog, [_distribution()]).reason
    assert "outside a CloudFront flat-rate plan has no sourced price" in reason


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"planTier": "ENTERPRISE"}, "plan tier 'ENTERPRISE' is not one of FREE, PRO, BUSINESS, PREMIUM"),
        ({"planFamily": "Route53"}, "plan family 'Route53' has no rule"),
        ({"usageLevel": "L2"}, "usage level 'L2': only DEFAULT"),
        ({"resourceArns": [DIST_ARN]}, "resolves to 1 distribution(s) and 0 web ACL(s)"),
        ({"planTier": UNKNOWN}, "input 'planTier' is unknown until deploy"),
    ],
)
def test_subscription_fails_closed_on_terms_it_cannot_price(catalog, changes, reason):
    assert reason in unpriced(_plan(**changes), stack_cfg(), catalog, [_distribution(), _waf()]).reason


def test_two_plans_on_one_distribution_are_unpriced(catalog):
    second = res(SUBSCRIPTION, "cdn-plan-2", dict(_plan().inputs), id_="sub-2")
    reason = unpriced(_distribution(), stack_cfg(), catalog, [_plan(), second, _waf()]).reason
    assert "covered by 2 flat-rate plans" in reason


def test_plan_coverage_through_preview_dependencies(catalog):
    dist = res(DISTRIBUTION, "cdn-distribution", {"priceClass": "PriceClass_100"}, id_=UNKNOWN)
    waf = res(WAF, "cdn-waf", {"scope": "CLOUDFRONT"}, id_=UNKNOWN)
    plan = res(
        SUBSCRIPTION,
        "cdn-plan",
        {"planFamily": "CloudFront", "planTier": "BUSINESS", "resourceArns": [UNKNOWN, UNKNOWN]},
        id_=UNKNOWN,
        deps={"resourceArns": [dist.urn, waf.urn]},
    )
    cfg = stack_cfg("phase1")
    assert price(plan, cfg, catalog, [dist, waf]).monthly() == pytest.approx(200.00)
    assert price(dist, cfg, catalog, [plan, waf]).monthly() == 0
    assert price(waf, cfg, catalog, [plan, dist]).monthly() == 0


# ------------------------------------------------------------------ budget check on stack files


def _stack_file(tmp_path: Path, name: str, phase: str = "phase1", **blocks: dict[str, Any]) -> Path:
    document = yaml.safe_load((ROOT / f"Pulumi.{phase}.yaml").read_text(encoding="utf-8"))
    # the rule tests' fixed stack (budget_helpers.stack_cfg): TLS on the load balancer for a domain
    direct = stack_cfg(phase)
    document["config"]["stars:loadBalancer"].update(origin="public", domain=DOMAIN, websockets_via_cdn=False)
    document["config"]["stars:cdn"]["price_class"] = direct.cdn.price_class
    document["config"]["stars:usage"] = direct.usage.model_dump()
    for block, changes in blocks.items():
        document["config"][f"stars:{block}"].update(changes)
    path = tmp_path / f"Pulumi.{name}.yaml"
    path.write_text(yaml.safe_dump(document), encoding="utf-8")
    return path


def _check(capsys: Any, path: Path, name: str) -> tuple[int, dict[str, Any]]:
    code = main(["check", "--stack", name, "--stack-file", str(path), "--format", "json", "--no-what-ifs"])
    return code, json.loads(capsys.readouterr().out)


def _lines(doc: dict[str, Any], resource: str) -> dict[str, float]:
    found = next(r for r in doc["resources"] if r["name"] == resource)
    return {line["name"]: line["monthly_usd"] for line in found["lines"]}


def test_check_prices_a_stack_with_an_nlb(tmp_path, capsys):
    path = _stack_file(tmp_path, "nlb", loadBalancer={"type": "network"})
    code, doc = _check(capsys, path, "nlb")
    assert code == 1 and doc["status"] == "over" and doc["unpriced"] == []  # priced, still over budget
    lines = _lines(doc, "edge-nlb")
    assert lines["Network load balancer"] == pytest.approx(21.35)  # 730 x 0.02925
    # phase 1, TLS (an NLB listens in TLS only): 10,000 active / 3,000 = 3.33 NLCU x 730 x 0.0078 = 18.98
    # (in TCP it was 0.82 NLCU, 4.67; the ALB it replaces: 3.33 LCU, 24.82)
    assert lines[
        "Network load balancer capacity units (driver: TLS active connections 10,000 / 3,000 = 3.33 NLCU)"
    ] == (pytest.approx(18.98))
    assert not any(r["name"] == "edge-alb" for r in doc["resources"])


def test_check_prices_websockets_through_the_cdn(tmp_path, capsys):
    path = _stack_file(
        tmp_path,
        "wscdn",
        loadBalancer={"websockets_via_cdn": True},
        usage={
            "internet_egress_gb": 100,  # the API only: WebSocket frames now leave through CloudFront
            "cloudfront_websocket_egress_gb": 500,
            "cloudfront_websocket_ingress_gb": 50,
            "cloudfront_websocket_connections": 3_000_000,
        },
    )
    code, doc = _check(capsys, path, "wscdn")
    assert code == 1 and doc["unpriced"] == []
    lines = _lines(doc, "cdn-distribution")
    # PriceClass_100: Europe edges. 2,400 + 500 GB - 1,024 free = 1,876 x 0.085 = 159.46;
    # upgrades 3 M (no free requests left: static 24 M) = 300 x 0.012 = 3.60; 50 GB to origin x 0.020 = 1.00
    assert lines["Data transfer out to viewers (europe) (first 10 TB)"] == pytest.approx(159.46)
    assert lines["WebSocket upgrade requests, billed as proxy requests (europe)"] == pytest.approx(3.60)
    assert lines["WebSocket frames from viewers: regional data transfer to origin (europe)"] == pytest.approx(
        1.00
    )
    # the ALB keeps only the API's 100 GB, inside the (RECALLED) free 100 GB
    assert "Data transfer out to internet (first 10 TB)" not in _lines(doc, "edge-alb")


def test_check_prices_a_flat_rate_plan_and_fails_closed_above_it(tmp_path, capsys):
    path = _stack_file(tmp_path, "business", cdn={"plan": "business"})
    code, doc = _check(capsys, path, "business")
    assert code == 1 and doc["unpriced"] == []
    assert sum(_lines(doc, "cdn-plan").values()) == pytest.approx(200.00)
    assert sum(_lines(doc, "cdn-distribution").values()) == 0 and sum(_lines(doc, "cdn-waf").values()) == 0
    free_reasons = {r["name"]: r.get("free_reason") for r in doc["resources"]}
    assert "provider" in free_reasons["cdn-us-east-1"]

    path = _stack_file(tmp_path, "pro", cdn={"plan": "pro"})
    code, doc = _check(capsys, path, "pro")
    assert code == 2
    assert [(u["name"], u["reason"]) for u in doc["unpriced"]] == [
        (
            "cdn-distribution",
            "24,000,000 requests/month exceeds the Pro plan's 10,000,000 requests/month; AWS may throttle;"
            " the allowance is a hard ceiling, not free",
        )
    ]

    path = _stack_file(
        tmp_path, "wsplan", cdn={"plan": "business"}, loadBalancer={"websockets_via_cdn": True}
    )
    code, doc = _check(capsys, path, "wsplan")
    assert code == 2 and "WebSocket traffic" in doc["unpriced"][0]["reason"]
