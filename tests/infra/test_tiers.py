"""Every tier is present with the phase's sizes (the numbers come from the plan, via the stack files)."""

from __future__ import annotations

import pytest

from components.config import StackConfig
from components.planning.mocks import Plan
from tests.infra.conftest import planned, stack_config
from tests.infra.helpers import named, of_type

#: The plan's sizes per phase: (min, desired, max, instance type).
EXPECTED_SERVERS = {
    "phase1": {"api": (2, 2, 4, "t3.medium"), "realtime": (1, 1, 2, "t3.large")},
    "phase2": {"api": (2, 3, 6, "t3.medium"), "realtime": (2, 2, 3, "t3.large")},
    "phase3": {"api": (4, 4, 8, "t3.medium"), "realtime": (2, 4, 4, "t3.large")},
}
#: (class, allocated GB, max GB, multi-AZ, replica, performance insights, backup days)
EXPECTED_DB = {
    "phase1": ("db.t3.medium", 100, 200, False, False, False, 7),
    "phase2": ("db.t3.medium", 250, 500, False, True, True, 7),
    "phase3": ("db.t3.medium", 500, 1000, True, True, True, 14),
}
#: (node type, nodes, failover)
EXPECTED_CACHE = {
    "phase1": ("cache.t3.small", 1, False),
    "phase2": ("cache.t3.small", 1, False),
    "phase3": ("cache.t3.small", 2, True),
}
# African edges in every phase: the API and WebSockets go through CloudFront (TLS without a domain)
EXPECTED_PRICE_CLASS = {"phase1": "PriceClass_200", "phase2": "PriceClass_200", "phase3": "PriceClass_200"}
EXPECTED_NAT = {"phase1": 1, "phase2": 1, "phase3": 2}


@pytest.mark.parametrize("tier", ["api", "realtime"])
def test_server_tier_sizes(phase: str, stack_plan: Plan, tier: str) -> None:
    low, desired, high, instance_type = EXPECTED_SERVERS[phase][tier]
    asg = named(stack_plan.resources, f"{tier}-asg").inputs
    assert (asg["minSize"], asg["desiredCapacity"], asg["maxSize"]) == (low, desired, high)
    assert named(stack_plan.resources, f"{tier}-lt").inputs["instanceType"] == instance_type
    assert asg["healthCheckType"] == "ELB" and asg["healthCheckGracePeriod"] > 0
    assert asg["instanceRefresh"]["strategy"] == "Rolling"
    assert asg["instanceRefresh"]["preferences"]["minHealthyPercentage"] == 100  # launch before terminate
    assert len(asg["vpcZoneIdentifiers"]) == 2


@pytest.mark.parametrize("tier", ["api", "realtime"])
def test_server_tier_wiring(stack_plan: Plan, cfg: StackConfig, tier: str) -> None:
    res = stack_plan.resources
    asg = named(res, f"{tier}-asg").inputs
    tg = named(res, f"edge-{tier}-tg")
    assert asg["targetGroupArns"] == [tg.state["arn"]]
    policy = named(res, f"{tier}-cpu-target").inputs
    tracking = policy["targetTrackingConfiguration"]
    assert tracking["predefinedMetricSpecification"]["predefinedMetricType"] == "ASGAverageCPUUtilization"
    assert tracking["targetValue"] == getattr(cfg, tier).cpu_target_percent
    assert 50 <= tracking["targetValue"] <= 80
    lt = named(res, f"{tier}-lt").inputs
    assert lt["blockDeviceMappings"][0]["ebs"]["volumeType"] == "gp3"
    assert lt["blockDeviceMappings"][0]["ebs"]["volumeSize"] == getattr(cfg, tier).root_volume_gb
    assert lt["monitoring"]["enabled"] is cfg.monitoring.detailed_instance_monitoring
    assert lt["imageId"].startswith("ami-")


def test_database(phase: str, stack_plan: Plan) -> None:
    cls, gb, max_gb, multi_az, replica, insights, backups = EXPECTED_DB[phase]
    db = named(stack_plan.resources, "database-primary").inputs
    assert db["engine"] == "postgres" and db["instanceClass"] == cls
    assert (db["allocatedStorage"], db["maxAllocatedStorage"], db["storageType"]) == (gb, max_gb, "gp3")
    assert db["multiAz"] is multi_az
    assert db["performanceInsightsEnabled"] is insights
    assert db["backupRetentionPeriod"] == backups and db["backupWindow"]
    replicas = [
        r for r in of_type(stack_plan.resources, "aws:rds/instance:Instance") if r.name != "database-primary"
    ]
    assert len(replicas) == int(replica)
    for r in replicas:
        assert r.inputs["replicateSourceDb"] == db["identifier"]
        assert r.inputs["instanceClass"] == cls


def test_cache(phase: str, stack_plan: Plan) -> None:
    node, count, failover = EXPECTED_CACHE[phase]
    rg = named(stack_plan.resources, "cache-redis").inputs
    assert (rg["nodeType"], rg["numCacheClusters"]) == (node, count)
    assert rg["automaticFailoverEnabled"] is failover and rg["multiAzEnabled"] is failover
    assert rg["engine"] == "redis"


def test_cdn(phase: str, stack_plan: Plan) -> None:
    dist = named(stack_plan.resources, "cdn-distribution").inputs
    assert dist["priceClass"] == EXPECTED_PRICE_CLASS[phase]
    assert dist["defaultCacheBehavior"]["compress"] is True
    lifecycle = named(stack_plan.resources, "cdn-lifecycle").inputs
    assert any(
        t["storageClass"] == "INTELLIGENT_TIERING"
        for rule in lifecycle["rules"]
        for t in rule.get("transitions", [])
    )


def test_network(phase: str, stack_plan: Plan, cfg: StackConfig) -> None:
    res = stack_plan.resources
    assert named(res, "network-vpc").inputs["cidrBlock"] == cfg.network.cidr
    subnets = of_type(res, "aws:ec2/subnet:Subnet")
    assert len(subnets) == 2 * cfg.network.az_count
    assert len({s.inputs["availabilityZone"] for s in subnets}) == cfg.network.az_count
    assert len(of_type(res, "aws:ec2/natGateway:NatGateway")) == EXPECTED_NAT[phase]
    routes = [r for r in of_type(res, "aws:ec2/route:Route") if r.inputs.get("natGatewayId")]
    assert len(routes) == cfg.network.az_count  # every private subnet reaches a NAT gateway


def test_edge(stack_plan: Plan, cfg: StackConfig) -> None:
    res = stack_plan.resources
    alb = named(res, "edge-alb").inputs
    assert alb["idleTimeout"] == cfg.load_balancer.idle_timeout_seconds
    # no certificate (no domain): internal, in the private subnets, reached only through the VPC origin
    private = [r.id for r in of_type(res, "aws:ec2/subnet:Subnet") if r.name.startswith("network-private-")]
    assert alb["internal"] is True and alb["loadBalancerType"] == "application"
    assert alb["subnets"] == private
    for tier in ("api", "realtime"):
        tg = named(res, f"edge-{tier}-tg").inputs
        assert tg["healthCheck"]["path"] == "/healthz"
        assert tg["deregistrationDelay"] == cfg.load_balancer.deregistration_delay_seconds
    # one HTTP listener (the VPC origin's port): the API by default, /ws by path; no origin header gate
    (listener,) = of_type(res, "aws:lb/listener:Listener")
    assert (listener.inputs["port"], listener.inputs["protocol"]) == (80, "HTTP")
    assert listener.inputs["defaultActions"] == [
        {"type": "forward", "targetGroupArn": named(res, "edge-api-tg").state["arn"]}
    ]
    (rule,) = of_type(res, "aws:lb/listenerRule:ListenerRule")
    assert rule.name == "edge-ws-rule" and rule.inputs["listenerArn"] == listener.state["arn"]
    assert rule.inputs["conditions"] == [{"pathPattern": {"values": ["/ws", "/ws/*"]}}]
    assert rule.inputs["actions"][0]["targetGroupArn"] == named(res, "edge-realtime-tg").state["arn"]
    assert not [r for r in res if r.name == "edge-origin-secret"]


def test_budget(stack_plan: Plan, cfg: StackConfig) -> None:
    budget = named(stack_plan.resources, "monitoring-budget").inputs
    assert budget["budgetType"] == "COST" and budget["timeUnit"] == "MONTHLY"
    assert budget["limitAmount"] == f"{cfg.budget.limit_tzs / cfg.budget.usd_to_tzs:.2f}"
    kinds = {(n["notificationType"], n["threshold"]) for n in budget["notifications"]}
    assert kinds == {("ACTUAL", 80), ("ACTUAL", 100), ("FORECASTED", 100)}
    assert budget["metrics"] == "UnblendedCost"  # required with a filter expression
    tags = {(f["tags"]["key"], tuple(f["tags"]["values"])) for f in budget["filterExpression"]["ands"]}
    assert tags == {("project", ("stars",)), ("phase", (cfg.phase,))}
    topic = named(stack_plan.resources, "monitoring-alarms").state["arn"]
    assert all(n["subscriberSnsTopicArns"] == [topic] for n in budget["notifications"])


def test_limits_in_usd() -> None:
    """TZS 400,000 at 2,500 TZS/USD is USD 160.00; the budget uses the configured rate."""
    assert named(planned("phase1").resources, "monitoring-budget").inputs["limitAmount"] == "160.00"
    assert stack_config("phase3").budget.limit_tzs == 1_000_000


def test_stack_outputs(stack_plan: Plan, cfg: StackConfig) -> None:
    out = stack_plan.outputs
    assert out["phase"] == cfg.phase
    assert out["alb_dns_name"].endswith(".elb.amazonaws.com")
    assert out["database_secret_arn"].startswith("arn:aws:secretsmanager:")
    assert ("database_replica_address" in out) is cfg.database.read_replica
    assert out["cdn_domain"].endswith(".cloudfront.net")
