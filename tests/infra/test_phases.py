"""Phase differences as configured, and the options no phase uses yet (egress modes, HTTPS, spot, ...)."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from components.config import StackConfig
from components.planning.baseline import violations
from components.planning.mocks import RecordedResource, plan_resources
from tests.infra.conftest import planned, stack_config
from tests.infra.helpers import named, of_type

#: TLS on the load balancer for a domain, clients straight to it, and the usage without CloudFront's /ws.
#: A domain needs an internet-facing load balancer (the phase stacks' origin is an internal vpc_origin).
TLS_DIRECT = {"origin": "public", "domain": "api.example.org", "websockets_via_cdn": False}
NO_WEBSOCKET_USAGE = {
    "cloudfront_websocket_egress_gb": 0,
    "cloudfront_websocket_ingress_gb": 0,
    "cloudfront_websocket_connections": 0,
}


def variant(base: StackConfig, **blocks: Any) -> StackConfig:
    """``base`` with some keys of some blocks changed (a block's keys, or a top-level setting's value),
    validated again like a stack file."""
    data = base.model_dump()
    for block, changes in blocks.items():
        if isinstance(data[block], dict):
            data[block] = {**data[block], **changes}
        else:
            data[block] = changes
    return StackConfig.model_validate(data)


def names(resources: list[RecordedResource]) -> set[str]:
    return {r.name for r in resources}


def test_phase_differences() -> None:
    p1, p2, p3 = (planned(p).resources for p in ("phase1", "phase2", "phase3"))
    # database: single-AZ then Multi-AZ; the replica arrives with phase 2
    assert [named(p, "database-primary").inputs["multiAz"] for p in (p1, p2, p3)] == [False, False, True]
    assert ["database-replica" in names(p) for p in (p1, p2, p3)] == [False, True, True]
    # cache failover only at phase 3
    assert [named(p, "cache-redis").inputs["automaticFailoverEnabled"] for p in (p1, p2, p3)] == [
        False,
        False,
        True,
    ]
    # off-peak schedule on the API tier from phase 2; never on the realtime tier (open sockets)
    assert ["api-scale-down" in names(p) for p in (p1, p2, p3)] == [False, True, True]
    assert not any(n.startswith("realtime-scale") for p in (p1, p2, p3) for n in names(p))
    # NAT per AZ at phase 3, detailed monitoring at phase 3, CloudFront edges in Africa at phase 3
    assert [len(of_type(p, "aws:ec2/natGateway:NatGateway")) for p in (p1, p2, p3)] == [1, 1, 2]
    assert [named(p, "api-lt").inputs["monitoring"]["enabled"] for p in (p1, p2, p3)] == [False, False, True]
    assert [named(p, "cdn-distribution").inputs["priceClass"] for p in (p1, p2, p3)] == [
        "PriceClass_200",
        "PriceClass_200",
        "PriceClass_200",
    ]
    # more alarms each phase; log retention longer at phase 3
    counts = [len(of_type(p, "aws:cloudwatch/metricAlarm:MetricAlarm")) for p in (p1, p2, p3)]
    assert counts[0] < counts[1] < counts[2]
    assert named(p3, "api-logs").inputs["retentionInDays"] == 30


def test_schedule_actions() -> None:
    cfg = stack_config("phase2")
    assert cfg.api is not None  # phase 2 has an API tier
    res = planned("phase2").resources
    down = named(res, "api-scale-down").inputs
    up = named(res, "api-scale-up").inputs
    assert down["timeZone"] == up["timeZone"] == "Africa/Dar_es_Salaam"
    assert down["recurrence"] == cfg.api.schedule.scale_down_cron
    assert (down["minSize"], down["maxSize"]) == (
        cfg.api.schedule.off_peak_min_size,
        cfg.api.schedule.off_peak_max_size,
    )
    assert (up["minSize"], up["desiredCapacity"], up["maxSize"]) == (
        cfg.api.min_size,
        cfg.api.desired_capacity,
        cfg.api.max_size,
    )


def test_vpc_endpoints_instead_of_nat() -> None:
    res = plan_resources(variant(stack_config("phase1"), network={"private_egress": "endpoints"}))
    assert of_type(res, "aws:ec2/natGateway:NatGateway") == []
    endpoints = of_type(res, "aws:ec2/vpcEndpoint:VpcEndpoint")
    kinds = sorted(e.inputs["vpcEndpointType"] for e in endpoints)
    assert kinds == ["Gateway"] + ["Interface"] * 6
    assert all(
        e.inputs.get("privateDnsEnabled") for e in endpoints if e.inputs["vpcEndpointType"] == "Interface"
    )
    egress = of_type(res, "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule")
    assert not any(r.inputs.get("cidrIpv4") == "0.0.0.0/0" for r in egress)
    assert violations(res) == []


def test_no_private_egress() -> None:
    res = plan_resources(variant(stack_config("phase1"), network={"private_egress": "none"}))
    assert of_type(res, "aws:ec2/natGateway:NatGateway") == []
    assert of_type(res, "aws:ec2/vpcEndpoint:VpcEndpoint") == []
    assert not any(r.inputs.get("natGatewayId") for r in of_type(res, "aws:ec2/route:Route"))
    assert violations(res) == []


def test_https_with_a_certificate() -> None:
    cert = "arn:aws:acm:af-south-1:123456789012:certificate/0000-mock"
    res = plan_resources(
        variant(stack_config("phase3"), load_balancer={"origin": "public", "certificate_arn": cert})
    )
    http, https = named(res, "edge-http").inputs, named(res, "edge-https").inputs
    assert http["defaultActions"][0]["type"] == "redirect"
    assert http["defaultActions"][0]["redirect"]["protocol"] == "HTTPS"
    assert https["certificateArn"] == cert and https["sslPolicy"].startswith("ELBSecurityPolicy-TLS13")
    https_arn = next(r for r in of_type(res, "aws:lb/listener:Listener") if r.name == "edge-https").state[
        "arn"
    ]
    assert named(res, "edge-ws-rule").inputs["listenerArn"] == https_arn
    assert violations(res) == []


def test_spot_mix() -> None:
    base = stack_config("phase3")
    assert base.api is not None  # phase 3 has an API tier
    spot = {**base.api.model_dump(), "spot": {"enabled": True, "on_demand_base": 2, "spot_percentage": 70}}
    res = plan_resources(variant(base, api=spot))
    asg = named(res, "api-asg").inputs
    assert "launchTemplate" not in asg
    policy = asg["mixedInstancesPolicy"]
    dist = policy["instancesDistribution"]
    assert dist["onDemandBaseCapacity"] == 2 and dist["onDemandPercentageAboveBaseCapacity"] == 30
    assert dist["spotAllocationStrategy"] == "price-capacity-optimized"
    assert policy["launchTemplate"]["overrides"] == [{"instanceType": "t3.medium"}]
    assert asg["capacityRebalance"] is True
    assert violations(res) == []


def test_graviton_uses_an_arm64_image() -> None:
    base = stack_config("phase1")
    assert base.realtime is not None  # phase 1 has a WebSocket tier
    arm = {**base.realtime.model_dump(), "instance_type": "t4g.large"}
    from components.planning.mocks import plan

    result = plan(variant(base, realtime=arm))
    # The pinned image of each architecture; nothing is looked up at deploy time.
    assert not [t for t, _ in result.invokes if t == "aws:ec2/getAmi:getAmi"]
    ids = base.image.ids[base.region]
    assert named(result.resources, "realtime-lt").inputs["imageId"] == ids["arm64"]
    assert named(result.resources, "api-lt").inputs["imageId"] == ids["x86_64"]
    assert named(result.resources, "realtime-lt").inputs["instanceType"] == "t4g.large"


def test_without_cdn_and_with_email() -> None:
    res = plan_resources(
        variant(
            # no release either: it lives in the CDN tier's bucket
            stack_config("phase1").model_copy(update={"release": None}),
            cdn={"enabled": False},
            monitoring={"alarm_email": "ops@example.com"},
            # without CloudFront the load balancer needs its own certificate (TLS)
            load_balancer=TLS_DIRECT,
            usage=NO_WEBSOCKET_USAGE,
        )
    )
    assert not any(r.tier == "cdn" for r in res)
    script = base64.b64decode(named(res, "api-lt").inputs["userData"]).decode()
    assert "aws s3 cp" not in script
    policy = json.loads(named(res, "api-policy").inputs["policy"])
    assert "ReadRelease" not in {s["Sid"] for s in policy["Statement"]}
    sub = named(res, "monitoring-alarms-email").inputs
    assert (sub["protocol"], sub["endpoint"]) == ("email", "ops@example.com")
    budget = named(res, "monitoring-budget").inputs
    assert all(n["subscriberEmailAddresses"] == ["ops@example.com"] for n in budget["notifications"])
    assert violations(res) == []


def test_custom_ttl_versioning_and_valkey() -> None:
    base = stack_config("phase2")
    res = plan_resources(
        variant(
            base,
            cdn={"default_ttl_seconds": 3600, "versioning": True},
            cache={"engine": "valkey", "engine_version": "8.0"},
        )
    )
    policy = named(res, "cdn-cache-policy")
    assert policy.inputs["defaultTtl"] == 3600
    assert named(res, "cdn-distribution").inputs["defaultCacheBehavior"]["cachePolicyId"] == policy.id
    assert named(res, "cdn-versioning").inputs["versioningConfiguration"]["status"] == "Enabled"
    rg = named(res, "cache-redis").inputs
    assert (rg["engine"], rg["parameterGroupName"]) == ("valkey", "default.valkey8")
    assert violations(res) == []


@pytest.mark.parametrize("phase", ["phase1", "phase3"])
def test_resource_counts_are_stable(phase: str) -> None:
    """A guard against accidental additions: update these numbers (and the README) on purpose."""
    custom = [r for r in planned(phase).resources if r.custom]
    # the VPC origin (origin: vpc_origin) has no origin header: one VpcOrigin for the header rule and secret
    assert len(custom) == {"phase1": 91, "phase3": 111}[phase]
