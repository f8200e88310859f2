"""Load-balancing and CDN options: an NLB, TLS with a domain, WebSockets (and without a certificate the API)
through CloudFront, flat-rate plans.

Each registers under mocks (whole plan and one tier alone) with the security baseline, the provider schema
and the cost allocation tags intact; each new baseline check fails on a deliberately broken copy; bad
combinations are config errors that name the key.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Callable
from functools import cache
from typing import Any

import pulumi_aws
import pytest

from budget.catalog import load_catalog
from budget.estimator import estimate
from budget.plan import from_record
from components.cdn import ALL_VIEWER_ORIGIN_REQUEST_POLICY_ID, API_PATHS, CACHING_DISABLED_POLICY_ID
from components.config import ConfigError, StackConfig, parse_stack_config, read_stack_file
from components.edge import ORIGIN_HEADER, nlb_listener_ports, public_ports, websocket_port
from components.planning.baseline import UNTAGGABLE_TYPES, tag_violations, violations
from components.planning.mocks import Plan, RecordedResource, plan, plan_tiers
from tests.infra.conftest import PHASES, ROOT, planned, stack_config
from tests.infra.helpers import mutated, named, of_type
from tests.infra.schema import schema_errors
from tests.infra.test_phases import variant
from tests.infra.test_tags import _has_tags_input

CERT = "arn:aws:acm:af-south-1:123456789012:certificate/0000-edge-test"
WEBSOCKET_USAGE = {
    "cloudfront_websocket_egress_gb": 500,
    "cloudfront_websocket_ingress_gb": 50,
    "cloudfront_websocket_connections": 3_000_000,
}
DOMAIN = "api.example.org"
ZONE = "Z0123456789ABCDEFGHIJ"
NO_WEBSOCKET_USAGE = dict.fromkeys(WEBSOCKET_USAGE, 0)
#: An internet-facing load balancer (the phase stacks' origin is vpc_origin: internal, no public endpoint).
PUBLIC = {"origin": "public"}
#: TLS on the load balancer for a domain, clients straight to it (no CloudFront for the API or /ws).
DIRECT = {**PUBLIC, "domain": DOMAIN, "websockets_via_cdn": False}
#: Phase 1's usage routed for DIRECT (budget/demand.py): static only through CloudFront, the API and
#: WebSockets out of the load balancer.
PHASE1_DIRECT_USAGE = {
    **NO_WEBSOCKET_USAGE,
    "cloudfront_egress_gb": 2400,
    "cloudfront_requests": 24_000_000,
    "internet_egress_gb": 600,
}
#: No certificate, the load balancer internal behind a CloudFront VPC origin.
VPC_ORIGIN = {"origin": "vpc_origin"}
#: TLS on a public NLB for the API, /ws through CloudFront to an internal NLB of its own (a VPC origin).
WS_VPC_ORIGIN = {**PUBLIC, "type": "network", "websockets_via_cdn": True, "websocket_origin": "vpc_origin"}
WEBSOCKET_LB_USAGE = {
    "websocket_lb_new_connections_per_second": 2.9,
    "websocket_lb_active_connections": 29_000,
    "websocket_lb_processed_gb_per_hour": 1.7,
}
#: name -> (base phase, changed blocks; ``"api"`` copies the api block there, None drops a block)
VARIANTS: dict[str, tuple[str, dict[str, Any]]] = {
    # phase 1 as committed: no certificate, an internal ALB behind a VPC origin
    "vpc-origin": ("phase1", {"load_balancer": VPC_ORIGIN}),
    # the combined group: an internal NLB serves the API and /ws on one port, the one a VPC origin reaches
    "vpc-origin-nlb": (
        "phase2",
        {"app": "api", "api": None, "realtime": None, "load_balancer": {**VPC_ORIGIN, "type": "network"}},
    ),
    "nlb": ("phase1", {"load_balancer": {**PUBLIC, "type": "network", "domain": DOMAIN}}),
    # a public NLB with TLS for the API alone, /ws on an internal NLB behind a CloudFront VPC origin
    "ws-vpc-origin-nlb": (
        "phase2",
        {
            "app": "api",
            "api": None,
            "realtime": None,
            "load_balancer": {**WS_VPC_ORIGIN, "domain": DOMAIN, "zone_id": ZONE},
            "usage": {**WEBSOCKET_USAGE, **WEBSOCKET_LB_USAGE},
        },
    ),
    # the split layout: api behind the public NLB (443), realtime behind the internal one (8080)
    "ws-vpc-origin-split": (
        "phase3",
        {
            "load_balancer": {**WS_VPC_ORIGIN, "certificate_arn": CERT},
            "usage": {**WEBSOCKET_USAGE, **WEBSOCKET_LB_USAGE},
        },
    ),
    "nlb-tls": (
        "phase3",
        {
            "load_balancer": {
                **PUBLIC,
                "type": "network",
                "certificate_arn": CERT,
                "websockets_via_cdn": False,
            },
            "usage": NO_WEBSOCKET_USAGE,
        },
    ),
    # no certificate, CloudFront carries the API and /ws to a public load balancer gated by the origin header
    "ws-cdn": ("phase2", {"load_balancer": PUBLIC, "usage": WEBSOCKET_USAGE}),
    "tls-direct": (
        "phase2",
        {"load_balancer": {**DIRECT, "zone_id": ZONE}, "usage": NO_WEBSOCKET_USAGE},
    ),
    "ws-cdn-nlb-tls": (
        "phase3",
        {
            "load_balancer": {
                **PUBLIC,
                "type": "network",
                "certificate_arn": CERT,
                "websockets_via_cdn": True,
            },
            "usage": WEBSOCKET_USAGE,
        },
    ),
    "plan-business": (
        "phase1",
        {"cdn": {"plan": "business"}, "load_balancer": DIRECT, "usage": PHASE1_DIRECT_USAGE},
    ),
    "plan-pro-nlb": (
        "phase2",
        {
            "cdn": {"plan": "pro"},
            "load_balancer": {**DIRECT, "type": "network"},
            "usage": NO_WEBSOCKET_USAGE,
        },
    ),
}
#: Tiers an option changes (the others are covered by test_plan_tiers on the phases).
TOUCHED_TIERS = ("network", "edge", "cdn", "monitoring")
LB = "aws:lb/loadBalancer:LoadBalancer"
LISTENER = "aws:lb/listener:Listener"
INGRESS = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
#: The load balancer's one ingress rule without a certificate: CloudFront's origin-facing prefix list.
ORIGIN_INGRESS = "network-alb-http-from-cloudfront"
DISTRIBUTION = "aws:cloudfront/distribution:Distribution"
WAF = "aws:wafv2/webAcl:WebAcl"
SUBSCRIPTION = "aws:pricingplanmanager/subscription:Subscription"
PROVIDER = "pulumi:providers:aws"


def config_of(name: str) -> StackConfig:
    phase, blocks = VARIANTS[name]
    data = stack_config(phase).model_dump()
    for block, changes in blocks.items():
        if changes == "api" or changes is None:
            data[block] = data["api"] if changes else None
        else:
            data[block] = {**data[block], **changes}
    return StackConfig.model_validate(data)


@cache
def planned_variant(name: str) -> Plan:
    return plan(config_of(name))


def resources(name: str) -> list[RecordedResource]:
    return planned_variant(name).resources


# ------------------------------------------------------------------------------------ every option


@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_option_registers_with_the_baseline_intact(name: str) -> None:
    res = resources(name)
    assert violations(res) == []
    assert tag_violations(res) == []
    # Provider inputs reach the engine as strings (``"true"``), so they are not checked against the SDK.
    errors = [
        f"{r.name}: {e}"
        for r in res
        if r.custom and not r.type.startswith("pulumi:providers:")
        for e in schema_errors(r.type, r.inputs)
    ]
    assert errors == []


@pytest.mark.parametrize("tier", TOUCHED_TIERS)
@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_a_tier_alone_equals_the_tier_in_the_whole_plan(name: str, tier: str) -> None:
    cfg = config_of(name)
    whole = resources(name)
    alone = plan_tiers(cfg, (tier,))
    assert [(r.urn, r.type) for r in alone] == [(r.urn, r.type) for r in whole if r.tier == tier]
    catalog = load_catalog()
    others = [from_record(r) for r in whole if r.tier != tier]
    full = estimate([from_record(r) for r in whole], cfg, catalog)
    mixed = estimate(sorted([*others, *map(from_record, alone)], key=lambda r: r.urn), cfg, catalog)
    assert [u.name for u in mixed.unpriced] == [u.name for u in full.unpriced]
    assert mixed.totals() == pytest.approx(full.totals(), abs=1e-9)


def test_untaggable_list_matches_the_provider_for_the_new_types() -> None:
    used = {r.type for name in VARIANTS for r in resources(name) if r.custom}
    assert {WAF, SUBSCRIPTION, PROVIDER} <= used
    for token in sorted(used):
        if token == PROVIDER:
            params = inspect.signature(pulumi_aws.Provider._internal_init).parameters
            assert "tags" not in params and token in UNTAGGABLE_TYPES
            continue
        assert _has_tags_input(token) is (token not in UNTAGGABLE_TYPES), token


# ---------------------------------------------------------------------------------------------- NLB


def test_listener_ports_are_keyed_by_server_tier() -> None:
    assert nlb_listener_ports(("api", "realtime"), https=False) == {"api": 80, "realtime": 8080}
    assert nlb_listener_ports(("api", "realtime"), https=True) == {"api": 443, "realtime": 8443}
    assert nlb_listener_ports(("app",), https=True) == {"app": 443}  # one combined tier: one listener
    with pytest.raises(ValueError, match="share NLB port 80"):
        nlb_listener_ports(("api", "app"), https=False)
    assert public_ports("application", https=False) == (80,)  # CloudFront only (network.py)
    assert public_ports("application", https=True) == (80, 443)
    assert public_ports("network", https=False) == (80, 8080)
    assert public_ports("network", https=True, tiers=("app",)) == (443,)
    assert websocket_port("network", https=True) == 8443
    assert websocket_port("network", https=False, tiers=("app",)) == 80
    assert websocket_port("application", https=True) == 443


@pytest.mark.parametrize(
    ("name", "protocol", "ports"), [("nlb", "TLS", (443, 8443)), ("nlb-tls", "TLS", (443, 8443))]
)
def test_nlb(name: str, protocol: str, ports: tuple[int, int]) -> None:
    res = resources(name)
    cfg = config_of(name)
    nlb = named(res, "edge-nlb")
    assert nlb.inputs["loadBalancerType"] == "network" and nlb.inputs["internal"] is False
    assert nlb.inputs["enableCrossZoneLoadBalancing"] is True
    assert "dropInvalidHeaderFields" not in nlb.inputs and "idleTimeout" not in nlb.inputs
    lb_sg = named(res, "network-alb-sg").id
    assert nlb.inputs["securityGroups"] == [lb_sg]
    assert not of_type(res, "aws:lb/listenerRule:ListenerRule")  # an NLB cannot route by path
    listeners = {r.name: r.inputs for r in of_type(res, LISTENER)}
    assert set(listeners) == {"edge-api-listener", "edge-realtime-listener"}
    for tier, port in zip(("api", "realtime"), ports, strict=True):
        listener = listeners[f"edge-{tier}-listener"]
        tg = named(res, f"edge-{tier}-tg")
        assert (listener["port"], listener["protocol"]) == (port, protocol)
        assert listener["loadBalancerArn"] == nlb.state["arn"]
        assert listener["defaultActions"] == [{"type": "forward", "targetGroupArn": tg.state["arn"]}]
        assert tg.inputs["protocol"] == "TCP" and tg.inputs["port"] == 8000
        check = tg.inputs["healthCheck"]
        assert (check["protocol"], check["path"], check["matcher"]) == ("HTTP", "/healthz", "200")
        # a given certificate, or the one issued for the domain (through its validation)
        certificate = (
            CERT if cfg.load_balancer.certificate_arn else named(res, "edge-certificate").state["arn"]
        )
        assert listener["certificateArn"] == certificate and "tcpIdleTimeoutSeconds" not in listener
    world = sorted(
        r.inputs["fromPort"] for r in of_type(res, INGRESS) if r.inputs.get("cidrIpv4") == "0.0.0.0/0"
    )
    assert tuple(world) == ports
    assert planned_variant(name).outputs["load_balancer_ports"] == dict(
        zip(("api", "realtime"), ports, strict=True)
    )


def test_nlb_alarms_and_dashboard_read_the_network_namespace() -> None:
    res = resources("nlb")  # phase 1: basic monitoring
    alarms = {
        r.name.removeprefix("monitoring-"): r.inputs
        for r in of_type(res, "aws:cloudwatch/metricAlarm:MetricAlarm")
    }
    assert set(alarms) == {
        "api-no-healthy-targets",
        "realtime-no-healthy-targets",
        "database-cpu",
        "database-free-storage",
    }
    nlb_suffix = named(res, "edge-nlb").state["arnSuffix"]
    assert nlb_suffix.startswith("net/")
    for tier in ("api", "realtime"):
        alarm = alarms[f"{tier}-no-healthy-targets"]
        assert (alarm["namespace"], alarm["metricName"]) == ("AWS/NetworkELB", "HealthyHostCount")
        assert alarm["dimensions"] == {
            "LoadBalancer": nlb_suffix,
            "TargetGroup": named(res, f"edge-{tier}-tg").state["arnSuffix"],
        }
    body = json.loads(named(res, "monitoring-dashboard").inputs["dashboardBody"])
    namespaces = {m[0] for w in body["widgets"] for m in w["properties"]["metrics"]}
    assert "AWS/NetworkELB" in namespaces and "AWS/ApplicationELB" not in namespaces
    # production monitoring behind an NLB: unhealthy targets in the NLB namespace, no ALB metric anywhere
    prod = {r.name: r.inputs for r in of_type(resources("nlb-tls"), "aws:cloudwatch/metricAlarm:MetricAlarm")}
    assert prod["monitoring-realtime-unhealthy-targets"]["namespace"] == "AWS/NetworkELB"
    assert not any(a["namespace"] == "AWS/ApplicationELB" for a in prod.values())


# ---------------------------------------------------------------------------- WebSockets via the CDN


@pytest.mark.parametrize(
    ("name", "policy", "port"), [("ws-cdn", "http-only", 80), ("ws-cdn-nlb-tls", "https-only", 8443)]
)
def test_websockets_through_cloudfront(name: str, policy: str, port: int) -> None:
    res = resources(name)
    dist = named(res, "cdn-distribution").inputs
    lb = next(r for r in of_type(res, LB))
    origins = {o["originId"]: o for o in dist["origins"]}
    assert set(origins) == {"s3-assets", "load-balancer-ws"}
    origin = origins["load-balancer-ws"]
    assert origin["domainName"] == lb.state["dnsName"]
    custom = origin["customOriginConfig"]
    assert custom["originProtocolPolicy"] == policy
    assert (custom["httpsPort"] if policy == "https-only" else custom["httpPort"]) == port
    behaviors = dist["orderedCacheBehaviors"]
    # without a certificate CloudFront carries the API too, sending the header the listener requires
    api = [] if policy == "https-only" else list(API_PATHS)
    assert [b["pathPattern"] for b in behaviors] == ["/ws", "/ws/*", *api]
    secret = named(res, "edge-origin-secret").state["result"] if api else None
    assert origin.get("customHeaders", []) == ([{"name": ORIGIN_HEADER, "value": secret}] if api else [])
    for b in behaviors:
        assert b["targetOriginId"] == "load-balancer-ws" and b["viewerProtocolPolicy"] == "https-only"
        assert b["cachePolicyId"] == CACHING_DISABLED_POLICY_ID
        assert b["originRequestPolicyId"] == ALL_VIEWER_ORIGIN_REQUEST_POLICY_ID
        assert "forwardedValues" not in b
    assert (
        planned_variant(name).outputs["websocket_url"]
        == f"wss://{named(res, 'cdn-distribution').state['domainName']}/ws"
    )


def test_pay_as_you_go_without_websockets_is_unchanged() -> None:
    dist = named(resources("tls-direct"), "cdn-distribution").inputs
    assert [o["originId"] for o in dist["origins"]] == ["s3-assets"]
    assert "orderedCacheBehaviors" not in dist and "webAclId" not in dist


# -------------------------------------------------------------------------------- flat-rate plans


@pytest.mark.parametrize(("name", "tier"), [("plan-business", "BUSINESS"), ("plan-pro-nlb", "PRO")])
def test_flat_rate_plan(name: str, tier: str) -> None:
    res = resources(name)
    provider = named(res, "cdn-us-east-1")
    assert provider.type == PROVIDER and provider.inputs["region"] == "us-east-1"
    assert provider.tier == "cdn" and provider.region == "us-east-1"
    waf = named(res, "cdn-waf")
    assert waf.region == "us-east-1" and waf.inputs["scope"] == "CLOUDFRONT"
    assert waf.state["arn"].startswith("arn:aws:wafv2:us-east-1:")
    assert waf.inputs["defaultAction"] == {"allow": {}}
    groups = [r["statement"]["managedRuleGroupStatement"] for r in waf.inputs["rules"]]
    assert all(g["vendorName"] == "AWS" for g in groups) and len(groups) == 3
    assert waf.inputs["tags"]["tier"] == "cdn"
    dist = named(res, "cdn-distribution")
    assert dist.inputs["webAclId"] == waf.state["arn"]
    assert dist.region != "us-east-1"  # the distribution itself stays with the stack's provider
    sub = named(res, "cdn-plan")
    assert sub.region == "us-east-1"
    assert sub.inputs["planFamily"] == "CloudFront" and sub.inputs["planTier"] == tier
    assert sub.inputs["usageLevel"] == "DEFAULT" and sub.inputs["approvalMode"] == "IMMEDIATE"
    assert sub.inputs["resourceArns"] == [dist.state["arn"], waf.state["arn"]]


# ---------------------------------------------------------------------- new checks can each fail


def _world_ingress(port: int) -> Callable[[RecordedResource], None]:
    def change(r: RecordedResource) -> None:
        r.inputs.update(fromPort=port, toPort=port)

    return change


def _behavior(key: str, value: str) -> Callable[[RecordedResource], None]:
    def change(r: RecordedResource) -> None:
        r.inputs["orderedCacheBehaviors"][0][key] = value

    return change


def _origin_policy(value: str) -> Callable[[RecordedResource], None]:
    def change(r: RecordedResource) -> None:
        ws = next(o for o in r.inputs["origins"] if o["originId"] == "load-balancer-ws")
        ws["customOriginConfig"]["originProtocolPolicy"] = value

    return change


def _region(value: str) -> Callable[[RecordedResource], None]:
    def change(r: RecordedResource) -> None:
        r.region = value

    return change


BROKEN: dict[str, tuple[str, str, Callable[[RecordedResource], None], str]] = {
    # case: (variant, resource, change, expected fragment)
    "realtime port open on an ALB": (
        "tls-direct",
        "network-alb-http-in",
        _world_ingress(8080),
        "tcp 80 or 443 only",
    ),
    "ssh open on an NLB": ("nlb", "network-alb-8443-in", _world_ingress(22), "tcp 80 or 443 only"),
    "plain port an NLB does not listen on": (
        "nlb",
        "network-alb-8443-in",
        _world_ingress(8080),
        "(got 8080-8080)",
    ),
    "app group open to the world behind an NLB": (
        "nlb",
        "network-realtime-from-alb",
        lambda r: r.inputs.update(cidrIpv4="0.0.0.0/0", referencedSecurityGroupId=None),
        "not the ALB security group",
    ),
    "plain TCP beside TLS on an NLB": (
        "nlb-tls",
        "edge-realtime-listener",
        lambda r: r.inputs.update(protocol="TCP", certificateArn=None),
        "plain TCP on port 8443 is open to the internet",
    ),
    "WebSocket behavior allows HTTP": (
        "ws-cdn",
        "cdn-distribution",
        _behavior("viewerProtocolPolicy", "allow-all"),
        "must be https-only",
    ),
    "WebSocket behavior redirects": (
        "ws-cdn",
        "cdn-distribution",
        _behavior("viewerProtocolPolicy", "redirect-to-https"),
        "must be https-only",
    ),
    "plain HTTP to a TLS load balancer": (
        "ws-cdn-nlb-tls",
        "cdn-distribution",
        _origin_policy("match-viewer"),
        "it must be https-only",
    ),
    "WebSocket behavior to a VPC origin allows HTTP": (
        "vpc-origin",
        "cdn-distribution",
        _behavior("viewerProtocolPolicy", "allow-all"),
        "must be https-only",
    ),
    "the VPC origin's load balancer made internet-facing": (
        "vpc-origin",
        "edge-alb",
        lambda r: r.inputs.update(internal=False),
        "must refuse by default",
    ),
    # the public origin without a certificate: an origin only CloudFront reaches, never a public endpoint
    "plain HTTP open to the world": (
        "ws-cdn",
        ORIGIN_INGRESS,
        lambda r: r.inputs.update(cidrIpv4="0.0.0.0/0", prefixListId=None),
        "open to the internet and serves",
    ),
    "origin admits a CIDR besides CloudFront": (
        "ws-cdn",
        ORIGIN_INGRESS,
        lambda r: r.inputs.update(cidrIpv4="10.0.0.0/8", prefixListId=None),
        "more than CloudFront",
    ),
    "origin forwards by default": (
        "ws-cdn",
        "edge-http",
        lambda r: r.inputs.update(defaultActions=[{"type": "forward", "targetGroupArn": "arn:tg"}]),
        "refuse by default",
    ),
    "origin rule without the header": (
        "ws-cdn",
        "edge-origin-rule",
        lambda r: r.inputs.update(conditions=[{"pathPattern": {"values": ["/*"]}}]),
        "without the origin header",
    ),
    "CloudFront origin without the header": (
        "ws-cdn",
        "cdn-distribution",
        lambda r: r.inputs["origins"][1].pop("customHeaders"),
        "without the origin header",
    ),
    "web ACL outside us-east-1": (
        "plan-business",
        "cdn-waf",
        _region("af-south-1"),
        "must be created in us-east-1",
    ),
    "distribution without the plan's web ACL": (
        "plan-pro-nlb",
        "cdn-distribution",
        lambda r: r.inputs.pop("webAclId"),
        "not the web ACL its flat-rate plan",
    ),
    "web ACL untagged": (
        "plan-business",
        "cdn-waf",
        lambda r: r.inputs["tags"].pop("cost-center"),
        "missing tags",
    ),
}


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_each_new_check_can_fail(case: str) -> None:
    name, resource, change, fragment = BROKEN[case]
    broken = mutated(resources(name), resource, change)
    found = set(violations(broken)) - set(violations(resources(name)))  # what the breakage caused
    assert any(fragment in f.message for f in found), f"{case}: no new finding saying {fragment!r} in {found}"


def test_an_nlb_is_not_asked_for_http_header_settings() -> None:
    """The ALB-only check stays on ALBs: a broken ALB is reported, an NLB without the setting is not."""
    assert violations(resources("nlb")) == []
    broken = mutated(resources("ws-cdn"), "edge-alb", lambda r: r.inputs.pop("dropInvalidHeaderFields"))
    found = [(f.rule, f.resource, f.message) for f in violations(broken)]
    assert found == [("no-public-ingress", "edge-alb", "drop_invalid_header_fields must be true")]


# ------------------------------------------------------------------------------------ config errors


def _error(phase: str, **blocks: dict[str, Any]) -> str:
    values = read_stack_file(ROOT / f"Pulumi.{phase}.yaml")
    for block, changes in blocks.items():
        key = f"stars:{block}"
        values[key] = {**values[key], **changes}
    with pytest.raises(ConfigError) as info:
        parse_stack_config(phase, values)
    return str(info.value)


def test_config_errors_name_the_key_and_what_is_allowed() -> None:
    assert "stars:loadBalancer.type = 'gateway': Input should be 'application' or 'network'" in _error(
        "phase1", loadBalancer={"type": "gateway"}
    )
    assert "stars:cdn.plan = 'enterprise'" in _error("phase1", cdn={"plan": "enterprise"})
    message = _error(
        "phase1",
        loadBalancer=DIRECT,
        usage={"cloudfront_websocket_egress_gb": 10},
    )
    assert message.endswith(
        "stars:usage.cloudfront_websocket_egress_gb = 10.0: must be 0 unless"
        " stars:loadBalancer.websockets_via_cdn is true (no WebSocket traffic goes through CloudFront)"
    )
    assert "stars:usage.cloudfront_websocket_connections = -1" in _error(
        "phase1", loadBalancer={"websockets_via_cdn": True}, usage={"cloudfront_websocket_connections": -1}
    )
    assert "stars:loadBalancer.websockets_via_cdn = True: needs stars:cdn.enabled" in _error(
        "phase1", loadBalancer={"websockets_via_cdn": True}, cdn={"enabled": False}
    )
    assert "plan pro allows only AWS-managed cache policies: default_ttl_seconds must be 86400" in _error(
        "phase1", cdn={"plan": "pro", "default_ttl_seconds": 3600}
    )
    # TLS: without a certificate, CloudFront must carry every client connection
    direct = _error("phase1", loadBalancer={"websockets_via_cdn": False}, usage=NO_WEBSOCKET_USAGE)
    assert "without stars:loadBalancer.domain (or certificate_arn)" in direct
    assert "stars:loadBalancer.websockets_via_cdn = False" in direct
    assert "stars:loadBalancer.type = 'network'" in _error("phase1", loadBalancer={"type": "network"})
    assert "stars:cdn.plan = 'business'" in _error("phase1", cdn={"plan": "business"})
    assert "stars:loadBalancer.domain = 'Not A Domain': must be a fully qualified" in _error(
        "phase1", loadBalancer={"domain": "Not A Domain"}
    )
    assert "zone_id is set without domain" in _error("phase1", loadBalancer={"zone_id": ZONE})
    assert "stars:loadBalancer.zone_id = 'zone'" in _error(
        "phase1", loadBalancer={"domain": DOMAIN, "zone_id": "zone"}
    )


def test_the_phase_stacks_serve_tls_through_cloudfront() -> None:
    for phase in ("phase1", "phase2", "phase3"):
        cfg = stack_config(phase)
        lb = cfg.load_balancer
        assert lb.type == "application" and lb.websockets_via_cdn and not lb.tls and lb.domain is None
        assert lb.origin == "vpc_origin" and lb.internal  # no public endpoint: CloudFront's VPC origin only
        assert cfg.cdn.plan == "pay_as_you_go"
        assert cfg.usage.internet_egress_gb == 0 < cfg.usage.cloudfront_websocket_connections
    # a business plan may keep a custom TTL (custom cache policies are allowed from Business up)
    business = variant(
        stack_config("phase1"),
        cdn={"plan": "business", "default_ttl_seconds": 3600},
        load_balancer=DIRECT,
        usage=NO_WEBSOCKET_USAGE,
    )
    assert business.cdn.default_ttl_seconds == 3600


@pytest.mark.parametrize("phase", PHASES)
def test_no_phase_without_a_domain_serves_plain_http_to_the_internet(phase: str) -> None:
    """A committed phase stack without a domain has no public endpoint of its own: every load balancer is
    internal in the private subnets (so none of its plaintext listeners is public), nothing admits the
    internet, CloudFront reaches it through a VPC origin, and the budget bills it no public IPv4 address.
    Read from the session's mocked plan of the stack file itself."""
    cfg = stack_config(phase)
    assert not cfg.load_balancer.tls  # with a domain TLS ends on the load balancer (test_phases, above)
    res = planned(phase).resources
    private = {r.id for r in of_type(res, "aws:ec2/subnet:Subnet") if r.name.startswith("network-private-")}
    lbs = of_type(res, LB)
    assert lbs
    facing = [lb.name for lb in lbs if lb.inputs.get("internal") is not True]
    assert facing == [], f"{phase}: internet-facing load balancers {facing}"
    assert all(set(lb.inputs["subnets"]) <= private for lb in lbs)
    arns = {lb.state["arn"] for lb in lbs}
    listeners = of_type(res, LISTENER)
    assert listeners and {li.inputs["loadBalancerArn"] for li in listeners} <= arns
    world = [r.name for r in of_type(res, INGRESS) if r.inputs.get("cidrIpv4") or r.inputs.get("cidrIpv6")]
    assert world == [], f"{phase}: ingress from addresses, not only CloudFront's prefix list: {world}"
    # CloudFront's load balancer origin is the VPC origin, never the load balancer's (public) name
    (vpc_origin,) = of_type(res, "aws:cloudfront/vpcOrigin:VpcOrigin")
    assert vpc_origin.inputs["vpcOriginEndpointConfig"]["arn"] in arns
    origins = [
        o for d in of_type(res, DISTRIBUTION) for o in d.inputs["origins"] if o["originId"] != "s3-assets"
    ]
    assert origins and all(o["vpcOriginConfig"]["vpcOriginId"] == vpc_origin.id for o in origins)
    assert not any("customOriginConfig" in o for o in origins)
    assert violations(res) == []
    # the pricer derives the addresses from the plan: an internal load balancer has none to bill
    priced = estimate([from_record(r) for r in res], cfg, load_catalog()).priced
    lines = [line.name for p in priced if p.resource.type == LB for line in p.lines]
    assert lines and not [name for name in lines if "Public IPv4" in name]


# -------------------------------------------------------------------------------------- TLS with a domain


def test_a_domain_gets_an_acm_certificate_validated_by_dns() -> None:
    res = resources("tls-direct")
    cert = named(res, "edge-certificate")
    assert cert.inputs["domainName"] == DOMAIN and cert.inputs["validationMethod"] == "DNS"
    option = cert.state["domainValidationOptions"][0]
    record = named(res, "edge-certificate-validation")
    assert record.inputs["zoneId"] == ZONE and record.inputs["type"] == "CNAME"
    assert (record.inputs["name"], record.inputs["records"]) == (
        option["resourceRecordName"],
        [option["resourceRecordValue"]],
    )
    issued = named(res, "edge-certificate-issued")
    assert issued.inputs["certificateArn"] == cert.state["arn"]
    assert issued.inputs["validationRecordFqdns"] == [record.state["fqdn"]]
    alias = named(res, "edge-alias")
    lb = named(res, "edge-alb")
    assert alias.inputs["name"] == DOMAIN and alias.inputs["aliases"][0]["name"] == lb.state["dnsName"]
    listeners = {r.name: r.inputs for r in of_type(res, LISTENER)}
    assert listeners["edge-https"]["certificateArn"] == cert.state["arn"]
    assert listeners["edge-https"]["protocol"] == "HTTPS" and listeners["edge-https"]["port"] == 443
    assert [a["type"] for a in listeners["edge-http"]["defaultActions"]] == ["redirect"]
    assert planned_variant("tls-direct").outputs["api_url"] == f"https://{DOMAIN}"
    world = {r.inputs["fromPort"] for r in of_type(res, INGRESS) if r.inputs.get("cidrIpv4") == "0.0.0.0/0"}
    assert world == {80, 443}


def test_a_domain_without_a_zone_waits_for_the_operators_record() -> None:
    cfg = variant(stack_config("phase1"), load_balancer=DIRECT, usage=NO_WEBSOCKET_USAGE)
    result = plan(cfg)
    assert not of_type(result.resources, "aws:route53/record:Record")
    issued = named(result.resources, "edge-certificate-issued")
    assert not issued.inputs.get("validationRecordFqdns")
    assert result.outputs["certificate_validation"][0]["resource_record_type"] == "CNAME"
    assert violations(result.resources) == []


def test_without_a_certificate_only_cloudfront_reaches_the_load_balancer() -> None:
    res = resources("ws-cdn")
    ingress = [
        r.inputs
        for r in of_type(res, INGRESS)
        if r.inputs["securityGroupId"] == named(res, "network-alb-sg").id
    ]
    assert len(ingress) == 1 and ingress[0]["fromPort"] == 80 and ingress[0]["prefixListId"].startswith("pl-")
    assert not ingress[0].get("cidrIpv4")
    listeners = of_type(res, LISTENER)
    assert [li.inputs["protocol"] for li in listeners] == ["HTTP"]
    assert listeners[0].inputs["defaultActions"][0]["fixedResponse"]["statusCode"] == "403"
    secret = named(res, "edge-origin-secret").state["result"]
    header = {"httpHeader": {"httpHeaderName": ORIGIN_HEADER, "values": [secret]}}
    rules = {r.name: r.inputs for r in of_type(res, "aws:lb/listenerRule:ListenerRule")}
    assert rules["edge-ws-rule"]["conditions"] == [{"pathPattern": {"values": ["/ws", "/ws/*"]}}, header]
    assert rules["edge-origin-rule"]["conditions"] == [header]
    for rule, tier in (("edge-ws-rule", "realtime"), ("edge-origin-rule", "api")):
        assert rules[rule]["actions"][0]["targetGroupArn"] == named(res, f"edge-{tier}-tg").state["arn"]
    assert set(rules) == {"edge-ws-rule", "edge-origin-rule"}
    outputs = planned_variant("ws-cdn").outputs
    assert outputs["api_url"] == f"https://{named(res, 'cdn-distribution').state['domainName']}"


# -------------------------------------------------------------------------------------- VPC origin


@pytest.mark.parametrize(
    ("name", "kind", "ports"), [("vpc-origin", "alb", {80}), ("vpc-origin-nlb", "nlb", {80})]
)
def test_a_vpc_origin_keeps_the_load_balancer_off_the_internet(name: str, kind: str, ports: set[int]) -> None:
    """Internal, in the private subnets, no listener public, admitted only from CloudFront's origin-facing
    prefix list; the distribution's /ws and API reach it through the VPC origin, viewers by HTTPS only."""
    res = resources(name)
    lb = named(res, f"edge-{kind}")
    private = {r.id for r in of_type(res, "aws:ec2/subnet:Subnet") if r.name.startswith("network-private-")}
    assert lb.inputs["internal"] is True and set(lb.inputs["subnets"]) == private and len(private) >= 2
    listeners = of_type(res, LISTENER)
    assert listeners and {li.inputs["loadBalancerArn"] for li in listeners} == {lb.state["arn"]}
    assert {li.inputs["port"] for li in listeners} == ports
    # nothing admits the internet: the load balancer's group only the origin-facing prefix list
    assert not [r for r in of_type(res, INGRESS) if r.inputs.get("cidrIpv4") or r.inputs.get("cidrIpv6")]
    lb_sg = named(res, "network-alb-sg").id
    lb_rules = [r.inputs for r in of_type(res, INGRESS) if r.inputs["securityGroupId"] == lb_sg]
    assert lb_rules and all(r["prefixListId"].startswith("pl-") for r in lb_rules)
    assert not [r for r in res if r.name == "edge-origin-secret"]  # no header gate: no public endpoint
    vpc_origin = named(res, "cdn-vpc-origin")
    endpoint = vpc_origin.inputs["vpcOriginEndpointConfig"]
    assert endpoint["arn"] == lb.state["arn"] and endpoint["httpPort"] == 80
    assert endpoint["originProtocolPolicy"] == "http-only"
    distribution = named(res, "cdn-distribution")
    origin = next(o for o in distribution.inputs["origins"] if o["originId"] == "load-balancer-ws")
    assert origin["vpcOriginConfig"]["vpcOriginId"] == vpc_origin.id
    assert "customOriginConfig" not in origin and "customHeaders" not in origin
    behaviors = {b["pathPattern"]: b for b in distribution.inputs["orderedCacheBehaviors"]}
    assert set(behaviors) == {"/ws", "/ws/*", *API_PATHS}
    assert {(b["targetOriginId"], b["viewerProtocolPolicy"]) for b in behaviors.values()} == {
        ("load-balancer-ws", "https-only")
    }
    outputs = planned_variant(name).outputs
    assert outputs["api_url"] == f"https://{distribution.state['domainName']}"
    assert outputs["websocket_url"] == f"wss://{distribution.state['domainName']}/ws"


def test_vpc_origin_config_errors_name_the_key() -> None:
    assert "origin vpc_origin is for a load balancer without a certificate" in _error(
        "phase1", loadBalancer={**VPC_ORIGIN, "domain": DOMAIN}
    )
    # a split layout on an NLB would need a VPC origin per port
    assert "stars:loadBalancer.type = 'network'" in _error(
        "phase1", loadBalancer={**VPC_ORIGIN, "type": "network"}
    )
    assert "stars:loadBalancer.origin = 'private'" in _error("phase1", loadBalancer={"origin": "private"})


@pytest.mark.parametrize(
    ("name", "public_tier", "ws_tier", "ws_port"),
    [("ws-vpc-origin-nlb", "app", "app", 80), ("ws-vpc-origin-split", "api", "realtime", 8080)],
)
def test_websocket_vpc_origin_splits_the_api_and_ws_over_two_load_balancers(
    name: str, public_tier: str, ws_tier: str, ws_port: int
) -> None:
    """websocket_origin vpc_origin: a public NLB with one TLS:443 listener (the ACM certificate) for the API
    alone, no plaintext listener on it; an internal NLB in the private subnets with one TCP listener for
    /ws, admitted only from CloudFront's prefix list; the VPC origin points at the internal one, and the
    distribution sends /ws there (the API is not CloudFront's)."""
    res = resources(name)
    lbs = {r.name: r for r in of_type(res, "aws:lb/loadBalancer:LoadBalancer")}
    assert set(lbs) == {"edge-nlb", "edge-ws-nlb"}
    public, internal = lbs["edge-nlb"], lbs["edge-ws-nlb"]
    assert public.inputs["internal"] is False and internal.inputs["internal"] is True
    private = {r.id for r in of_type(res, "aws:ec2/subnet:Subnet") if r.name.startswith("network-private-")}
    assert set(internal.inputs["subnets"]) == private
    assert internal.inputs["tags"]["traffic"] == "websocket" and internal.inputs["tags"]["tier"] == "edge"
    by_lb: dict[str, list[dict[str, Any]]] = {}
    for li in of_type(res, LISTENER):
        by_lb.setdefault(li.inputs["loadBalancerArn"], []).append(li.inputs)
    (api,) = by_lb[public.state["arn"]]
    certificate = named(res, "edge-certificate-issued").state["certificateArn"] if "nlb" in name else CERT
    assert (api["protocol"], api["port"], api["certificateArn"]) == ("TLS", 443, certificate)
    assert api["sslPolicy"] == "ELBSecurityPolicy-TLS13-1-2-2021-06"
    (ws,) = by_lb[internal.state["arn"]]
    assert (ws["protocol"], ws["port"]) == ("TCP", ws_port) and "certificateArn" not in ws
    tgs = {r.state["arn"]: r.name for r in of_type(res, "aws:lb/targetGroup:TargetGroup")}
    assert tgs[api["defaultActions"][0]["targetGroupArn"]] == f"edge-{public_tier}-tg"
    assert tgs[ws["defaultActions"][0]["targetGroupArn"]] == f"edge-ws-{ws_tier}-tg"
    # the internet reaches 443 alone; the /ws port only from CloudFront's origin-facing prefix list
    lb_sg = named(res, "network-alb-sg").id
    rules = [r.inputs for r in of_type(res, INGRESS) if r.inputs["securityGroupId"] == lb_sg]
    assert {r["fromPort"] for r in rules if r.get("cidrIpv4") == "0.0.0.0/0"} == {443}
    assert {r["fromPort"] for r in rules if r.get("prefixListId")} == {ws_port}
    assert len(rules) == 2
    vpc_origin = named(res, "cdn-vpc-origin").inputs["vpcOriginEndpointConfig"]
    assert (vpc_origin["arn"], vpc_origin["httpPort"]) == (internal.state["arn"], ws_port)
    assert vpc_origin["originProtocolPolicy"] == "http-only"
    distribution = named(res, "cdn-distribution")
    origin = next(o for o in distribution.inputs["origins"] if o["originId"] == "load-balancer-ws")
    assert origin["vpcOriginConfig"]["vpcOriginId"] == named(res, "cdn-vpc-origin").id
    assert origin["domainName"] == internal.state["dnsName"]
    behaviors = {b["pathPattern"]: b for b in distribution.inputs["orderedCacheBehaviors"]}
    assert set(behaviors) == {"/ws", "/ws/*"}  # the API goes to the public load balancer, not CloudFront
    assert {b["viewerProtocolPolicy"] for b in behaviors.values()} == {"https-only"}
    # the servers behind /ws join the internal load balancer's target group (the combined group both)
    groups = {r.name: set(r.inputs["targetGroupArns"]) for r in of_type(res, "aws:autoscaling/group:Group")}
    joined = {tgs[arn] for arns in groups.values() for arn in arns}
    assert joined == {f"edge-{public_tier}-tg", f"edge-ws-{ws_tier}-tg"}
    outputs = planned_variant(name).outputs
    assert outputs["websocket_url"] == f"wss://{distribution.state['domainName']}/ws"
    if "nlb" in name:
        assert outputs["api_url"] == f"https://{DOMAIN}"


def test_websocket_vpc_origin_config_errors_name_what_it_needs() -> None:
    message = _error("phase1", loadBalancer={"websocket_origin": "vpc_origin"})
    assert "websocket_origin vpc_origin" in message and "a certificate (domain or certificate_arn)" in message
    message = _error("phase1", loadBalancer={**DIRECT, "websocket_origin": "vpc_origin"})
    assert "websockets_via_cdn true" in message
    assert "stars:usage.websocket_lb_active_connections = 5.0: must be 0 unless" in _error(
        "phase1", usage={"websocket_lb_active_connections": 5}
    )
