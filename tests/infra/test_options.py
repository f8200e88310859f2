"""The options a cheaper plan needs, on phase-like configs: each registers under mocks, matches the provider
schema and keeps the security baseline; each breakage of it is reported with its own message."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from functools import partial
from typing import Any

import pytest

from budget.catalog import load_catalog
from budget.estimator import estimate
from budget.plan import from_record
from components.config import (
    CACHE_NODE_TYPES,
    EC2_INSTANCE_TYPES,
    RDS_INSTANCE_CLASSES,
    UNAVAILABLE_IN_REGION,
    StackConfig,
)
from components.network import APP_PORT
from components.planning.baseline import Finding, violations
from components.planning.mocks import RecordedResource, plan, plan_resources, plan_tiers
from components.stack import tiers_of
from tests.infra.conftest import stack_config
from tests.infra.helpers import mutated, named, of_type
from tests.infra.schema import schema_errors
from tests.infra.test_phases import NO_WEBSOCKET_USAGE, TLS_DIRECT, variant

RESERVED = {"commitment": "reserved_1yr"}


def sound(res: list[RecordedResource]) -> list[RecordedResource]:
    """The plan, after asserting the baseline holds and every input matches the provider schema."""
    assert violations(res) == []
    assert [f"{r.name}: {e}" for r in res if r.custom for e in schema_errors(r.type, r.inputs)] == []
    return res


def with_tiers(base: StackConfig, **tiers: dict[str, Any]) -> StackConfig:
    """``base`` with some keys of its server tiers (api, realtime, app) changed."""
    return variant(base, **{k: {**getattr(base, k).model_dump(), **v} for k, v in tiers.items()})


# ---------------------------------------------------------------------------------------- commitments


def test_commitments_are_tags_on_the_resources_they_price(phase: str) -> None:
    base = stack_config(phase)
    cfg = variant(with_tiers(base, api=RESERVED, realtime=RESERVED), database=RESERVED, cache=RESERVED)
    res = sound(plan_resources(cfg))
    for tier in ("api", "realtime"):
        tags = {t["key"]: t for t in named(res, f"{tier}-asg").inputs["tags"]}
        # on the group only: instances above the reserved minimum run on demand
        assert tags["purchase"] == {"key": "purchase", "value": "reserved-1yr", "propagateAtLaunch": False}
        lt_tags = named(res, f"{tier}-lt").inputs["tagSpecifications"][0]["tags"]
        assert "purchase" not in lt_tags
    databases = [r for r in res if r.type == "aws:rds/instance:Instance"]
    assert len(databases) == 1 + base.database.read_replica
    assert all(r.inputs["tags"]["purchase"] == "reserved-1yr" for r in databases)
    assert named(res, "cache-redis").inputs["tags"]["purchase"] == "reserved-1yr"
    assert "purchase" not in named(res, "cache-auth").inputs["tags"]  # only what the commitment covers


def test_no_commitment_adds_no_tag(phase: str) -> None:
    res = plan_resources(stack_config(phase))
    assert not any(
        "purchase" in (r.inputs.get("tags") or {}) for r in res if isinstance(r.inputs.get("tags"), dict)
    )
    assert not any(t["key"] == "purchase" for t in named(res, "api-asg").inputs["tags"])


# ------------------------------------------------------------------------ the combined application tier


def combined(base: StackConfig, **changes: Any) -> StackConfig:
    """``base`` with its api and realtime groups replaced by one ``app`` group of the realtime sizes."""
    data = base.model_dump()
    data["app"] = {**data["realtime"], **changes}
    data["api"] = data["realtime"] = None
    return StackConfig.model_validate(data)


def test_combined_app_tier(phase: str) -> None:
    cfg = combined(stack_config(phase))
    assert cfg.app is not None  # combined: one app tier
    result = plan(cfg)
    res = sound(result.resources)
    assert {r.tier for r in res} == set(tiers_of(cfg)) and "app" in tiers_of(cfg)
    assert not [
        r.name for r in res if r.tier in ("api", "realtime") or "-api-" in r.name or "realtime" in r.name
    ]
    app = [r for r in res if r.tier == "app" and r.custom]
    assert all(r.inputs["tags"]["tier"] == "app" for r in app if isinstance(r.inputs.get("tags"), dict))
    asg = named(res, "app-asg").inputs
    assert (asg["minSize"], asg["maxSize"]) == (cfg.app.min_size, cfg.app.max_size)
    # one target group, the listener's default: API and /ws on the same port, no path rule
    (tg,) = of_type(res, "aws:lb/targetGroup:TargetGroup")
    assert tg.name == "edge-app-tg" and tg.inputs["port"] == APP_PORT
    assert asg["targetGroupArns"] == [tg.state["arn"]]
    # internal behind the VPC origin (the phase stacks' origin): the listener forwards everything to app,
    # no path rule and no header rule
    assert cfg.load_balancer.internal
    forward = [{"type": "forward", "targetGroupArn": tg.state["arn"]}]
    assert named(res, "edge-http").inputs["defaultActions"] == forward
    assert not of_type(res, "aws:lb/listenerRule:ListenerRule")
    # the network: an app security group the ALB reaches and the data stores admit
    groups = {r.name: r.id for r in of_type(res, "aws:ec2/securityGroup:SecurityGroup")}
    assert "network-app-sg" in groups and not {"network-api-sg", "network-realtime-sg"} & set(groups)
    app_sg = groups["network-app-sg"]
    assert named(res, "app-lt").inputs["vpcSecurityGroupIds"] == [app_sg]
    for rule, group, peer in (
        ("network-app-from-alb", "network-app-sg", "network-alb-sg"),
        ("network-database-from-app", "network-database-sg", "network-app-sg"),
        ("network-cache-from-app", "network-cache-sg", "network-app-sg"),
    ):
        inputs = named(res, rule).inputs
        assert (inputs["securityGroupId"], inputs["referencedSecurityGroupId"]) == (
            groups[group],
            groups[peer],
        )
    assert named(res, "network-alb-to-app").inputs["referencedSecurityGroupId"] == app_sg
    # the app tier owns the JWT signing key, reads it, and runs with the role "app"
    key = named(res, "app-signing-key")
    statements = json.loads(named(res, "app-policy").inputs["policy"])["Statement"]
    assert key.state["arn"] in next(s for s in statements if s["Sid"] == "ReadOwnSecrets")["Resource"]
    script = base64.b64decode(named(res, "app-lt").inputs["userData"]).decode()
    assert "STARS_ROLE=app" in script.replace("'", "") and key.state["arn"] in script
    # monitoring follows whichever server tiers exist
    alarms = {r.name for r in of_type(res, "aws:cloudwatch/metricAlarm:MetricAlarm")}
    if cfg.monitoring.level != "basic":
        assert {"monitoring-app-in-service", "monitoring-app-unhealthy-targets"} <= alarms
        floor = named(res, "monitoring-app-in-service").inputs["threshold"]
        assert floor == cfg.app.min_size
    assert not [a for a in alarms if "-api-" in a or "realtime" in a]
    assert "app_asg" in result.outputs and "api_asg" not in result.outputs


def test_split_and_combined_layouts_are_exclusive() -> None:
    base = stack_config("phase1").model_dump()
    for drop in (["app", "realtime"], ["app", "api"], ["app", "api", "realtime"]):
        data = {**base, **dict.fromkeys(drop)}
        with pytest.raises(ValueError, match="set either stars:app"):
            StackConfig.model_validate(data)
    with pytest.raises(ValueError, match="found stars:api, stars:realtime, stars:app"):
        StackConfig.model_validate({**base, "app": base["api"]})


# ---------------------------------------------------------------------- egress without NAT: public


PUBLIC = {"private_egress": "public"}


def test_public_egress(phase: str) -> None:
    cfg = variant(stack_config(phase), network=PUBLIC)
    res = sound(plan_resources(cfg))
    for typ in ("aws:ec2/natGateway:NatGateway", "aws:ec2/eip:Eip", "aws:ec2/vpcEndpoint:VpcEndpoint"):
        assert of_type(res, typ) == [], typ
    assert not any(r.inputs.get("natGatewayId") for r in of_type(res, "aws:ec2/route:Route"))
    public = [named(res, f"network-public-{i}").id for i in range(cfg.network.az_count)]
    private = [named(res, f"network-private-{i}").id for i in range(cfg.network.az_count)]
    groups = {r.name: r.id for r in of_type(res, "aws:ec2/securityGroup:SecurityGroup")}
    ingress = of_type(res, "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule")
    egress = of_type(res, "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule")
    for tier in ("api", "realtime"):
        assert named(res, f"{tier}-asg").inputs["vpcZoneIdentifiers"] == public
        lt = named(res, f"{tier}-lt").inputs
        sg = groups[f"network-{tier}-sg"]
        assert "vpcSecurityGroupIds" not in lt  # EC2 takes the groups on the interface instead
        assert lt["networkInterfaces"] == [
            {
                "deviceIndex": 0,
                "associatePublicIpAddress": "true",
                "deleteOnTermination": "true",
                "securityGroups": [sg],
            }
        ]
        # reachable only from the load balancer's security group, on the app port
        (only,) = [r.inputs for r in ingress if r.inputs["securityGroupId"] == sg]
        assert (only["referencedSecurityGroupId"], only["fromPort"]) == (groups["network-alb-sg"], APP_PORT)
        assert "cidrIpv4" not in only
        out = {
            (r.inputs.get("cidrIpv4"), r.inputs["fromPort"])
            for r in egress
            if r.inputs["securityGroupId"] == sg
        }
        assert ("0.0.0.0/0", 443) in out
    # data stores stay in the private subnets
    assert named(res, "database-subnets").inputs["subnetIds"] == private
    assert named(res, "cache-subnets").inputs["subnetIds"] == private


def test_public_egress_with_spot_servers() -> None:
    """A mixed-instances group names its template inside the policy; the baseline still finds it."""
    spot = {"spot": {"enabled": True, "on_demand_base": 1, "spot_percentage": 50}}
    res = sound(plan_resources(with_tiers(variant(stack_config("phase3"), network=PUBLIC), api=spot)))
    asg = named(res, "api-asg").inputs
    assert "mixedInstancesPolicy" in asg and asg["vpcZoneIdentifiers"] == [
        named(res, f"network-public-{i}").id for i in range(2)
    ]
    broken = mutated(res, "api-lt", _interface(lambda i: i.update(associatePublicIpAddress="false")))
    assert [(f.rule, f.resource) for f in violations(broken)] == [("no-public-ingress", "api-asg")]


def _interface(change: Callable[[dict[str, Any]], None]) -> Callable[[RecordedResource], None]:
    return lambda r: change(r.inputs["networkInterfaces"][0])


#: Breakages of the public layout: (resource, change, fragment of the message).
BROKEN_PUBLIC: dict[str, tuple[str, Callable[[RecordedResource], None], str]] = {
    "public server open to the world": (
        "network-app-from-alb",
        lambda r: r.inputs.update(cidrIpv4="0.0.0.0/0", referencedSecurityGroupId=None),
        "which is not the ALB security group",
    ),
    "public server admits an office network": (
        "network-app-from-alb",
        lambda r: r.inputs.update(
            cidrIpv4="198.51.100.0/24", fromPort=22, toPort=22, referencedSecurityGroupId=None
        ),
        "admits 198.51.100.0/24, not the ALB",
    ),
    "public server without a security group": (
        "app-lt",
        _interface(lambda i: i.update(securityGroups=[])),
        "must name their security groups",
    ),
    "servers in public subnets without the public layout": (
        "app-lt",
        _interface(lambda i: i.update(associatePublicIpAddress="false")),
        "servers placed in public subnets",
    ),
    "database in a public subnet": (
        "database-subnets",
        lambda r: r.inputs.update(subnetIds=[*r.inputs["subnetIds"], "PUBLIC"]),
        "includes public subnets",
    ),
    "cache admits the internet": (
        "network-cache-from-app",
        lambda r: r.inputs.update(cidrIpv4="0.0.0.0/0", referencedSecurityGroupId=None),
        "data security group",
    ),
}


@pytest.mark.parametrize("case", sorted(BROKEN_PUBLIC))
def test_each_breakage_of_the_public_layout_is_reported(case: str) -> None:
    res = plan_resources(combined(variant(stack_config("phase1"), network=PUBLIC)))
    public = named(res, "network-public-0").id
    name, change, fragment = BROKEN_PUBLIC[case]

    def apply(r: RecordedResource) -> None:
        change(r)
        if "subnetIds" in r.inputs:
            r.inputs["subnetIds"] = [public if s == "PUBLIC" else s for s in r.inputs["subnetIds"]]

    found = set(violations(mutated(res, name, apply))) - set(violations(res))  # what the breakage caused
    assert any(fragment in f.message for f in found), f"{case}: no new finding saying {fragment!r} in {found}"


def test_a_public_server_in_the_load_balancers_group_is_reported() -> None:
    direct = variant(
        stack_config("phase2"), network=PUBLIC, load_balancer=TLS_DIRECT, usage=NO_WEBSOCKET_USAGE
    )
    res = plan_resources(direct)
    alb = named(res, "network-alb-sg").id
    broken = mutated(res, "realtime-lt", _interface(lambda i: i["securityGroups"].append(alb)))
    message = f"servers with a public IPv4 are in {alb}, which admits the internet"
    assert Finding("no-public-ingress", "realtime-lt", message) in violations(broken)


# ------------------------------------------------------------ every type the config allows, priced


def _offered_somewhere(name: str) -> StackConfig:
    """Phase 1 (combined) in af-south-1, or in eu-west-1 for a type af-south-1 does not offer."""
    region = "eu-west-1" if name in UNAVAILABLE_IN_REGION["af-south-1"] else "af-south-1"
    return combined(variant(stack_config("phase1"), region=region))


@pytest.mark.parametrize(
    ("block", "key", "value"),
    [("app", "instance_type", t) for t in EC2_INSTANCE_TYPES]
    + [("database", "instance_class", c) for c in RDS_INSTANCE_CLASSES]
    + [("cache", "node_type", n) for n in CACHE_NODE_TYPES],
)
def test_every_allowed_type_registers_and_is_priced(block: str, key: str, value: str) -> None:
    cfg = _offered_somewhere(value)
    cfg = variant(cfg, **{block: {key: value}})
    res = plan_tiers(cfg, (block,))
    assert [f"{r.name}: {e}" for r in res if r.custom for e in schema_errors(r.type, r.inputs)] == []
    est = estimate([from_record(r) for r in res], cfg, load_catalog())
    assert not est.unpriced and est.total("min") > 0
    if block == "app":
        lt = named(res, "app-lt").inputs
        arch = "arm64" if value.split(".")[0].endswith("g") else "x86_64"
        assert lt["instanceType"] == value and lt["description"].endswith(f"({value}, {arch})")


# --------------------------------------------------------------- the options together, per phase


def lean(phase: str) -> StackConfig:
    """A phase-like stack with every lean option: one app group of small Graviton servers in the public
    subnets (no NAT), reserved, and the smallest data stores, reserved."""
    base = variant(stack_config(phase), network=PUBLIC)
    return variant(
        combined(base, instance_type="t4g.small", **RESERVED),
        database={
            "instance_class": "db.t4g.micro",
            "allocated_storage_gb": 20,
            "max_allocated_storage_gb": 100,
        }
        | RESERVED,
        cache={"node_type": "cache.t3.micro"} | RESERVED,
    )


def single_zone(phase: str) -> StackConfig:
    """A single-AZ phase with its servers, database and cache node in one zone."""
    return variant(stack_config(phase), network={"placement": "single_zone"})


#: Named configurations for the tests that hold for every configuration (tier alone == tier in the plan).
LEAN_VARIANTS: dict[str, Callable[[], StackConfig]] = {
    "combined-phase1": lambda: combined(stack_config("phase1")),
    "single-zone-phase1": lambda: single_zone("phase1"),
    "public-phase3": lambda: variant(stack_config("phase3"), network=PUBLIC),
    **{f"lean-{p}": partial(lean, p) for p in ("phase1", "phase2", "phase3")},
}


@pytest.mark.parametrize("phase", ["phase1", "phase2", "phase3"])
def test_lean_options_together(phase: str) -> None:
    res = sound(plan_resources(lean(phase)))
    lt = named(res, "app-lt").inputs
    assert lt["instanceType"] == "t4g.small" and "arm64" in lt["description"]
    assert lt["networkInterfaces"][0]["associatePublicIpAddress"] == "true"
    assert named(res, "database-primary").inputs["instanceClass"] == "db.t4g.micro"
    assert named(res, "cache-redis").inputs["nodeType"] == "cache.t3.micro"


# ------------------------------------------------------------------------------------ single zone


def test_single_zone_puts_servers_database_and_cache_in_the_first_zone() -> None:
    """Issue 23, error 5: a single-AZ plan pays no inter-AZ transfer because its servers run in the data
    stores' zone; the placement is real: one subnet for the groups, the zone pinned on the data stores."""
    spread = sound(plan_resources(stack_config("phase1")))
    res = sound(plan_resources(single_zone("phase1")))
    zone = "af-south-1a"  # the mocks' first available zone in the stack's region
    for tier in ("api", "realtime"):
        subnets = named(res, f"{tier}-asg").inputs["vpcZoneIdentifiers"]
        assert len(subnets) == 1 and len(named(spread, f"{tier}-asg").inputs["vpcZoneIdentifiers"]) == 2
        assert subnets[0] == named(spread, f"{tier}-asg").inputs["vpcZoneIdentifiers"][0]
    assert named(res, "database-primary").inputs["availabilityZone"] == zone
    assert named(res, "cache-redis").inputs["preferredCacheClusterAzs"] == [zone]
    assert "availabilityZone" not in named(spread, "database-primary").inputs
    # the load balancer keeps a subnet in every zone (an ALB needs two)
    lb = next(r for r in res if r.type == "aws:lb/loadBalancer:LoadBalancer")
    assert len(lb.inputs["subnets"]) == 2


def test_single_zone_needs_single_zone_data_stores() -> None:
    from components.config import ConfigError

    with pytest.raises((ConfigError, ValueError), match="single_zone: needs a Single-AZ database"):
        variant(stack_config("phase3"), network={"placement": "single_zone"})
