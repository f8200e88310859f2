"""Alarm sets by monitoring level (cumulative) and the dashboard."""

from __future__ import annotations

import json

from components.planning.mocks import Plan, plan
from tests.infra.conftest import stack_config
from tests.infra.helpers import of_type

ASG = "aws:autoscaling/group:Group"
SCHEDULE = "aws:autoscaling/schedule:Schedule"

BASIC = {"alb-5xx", "alb-target-5xx", "database-cpu", "database-free-storage"}
ENHANCED = BASIC | {
    "alb-latency",
    "api-unhealthy-targets",
    "realtime-unhealthy-targets",
    "api-in-service",
    "realtime-in-service",
    "cache-memory-001",
}
PRODUCTION = ENHANCED | {
    "cache-memory-002",
    "cache-evictions-001",
    "cache-evictions-002",
    "cache-cpu-001",
    "cache-cpu-002",
    "alb-rejected-connections",
    "database-read-latency",
    "database-connections",
    "database-replica-lag",
}
EXPECTED = {"phase1": BASIC, "phase2": ENHANCED, "phase3": PRODUCTION}


def alarms(stack_plan: Plan) -> dict[str, dict]:
    return {
        r.name.removeprefix("monitoring-"): r.inputs
        for r in of_type(stack_plan.resources, "aws:cloudwatch/metricAlarm:MetricAlarm")
    }


def test_alarm_set_per_level(phase: str, stack_plan: Plan) -> None:
    assert set(alarms(stack_plan)) == EXPECTED[phase]


def test_alarms_notify_the_topic(stack_plan: Plan) -> None:
    topic = next(r for r in stack_plan.resources if r.name == "monitoring-alarms")
    for name, a in alarms(stack_plan).items():
        assert a["alarmActions"] == [topic.state["arn"]], name
        assert a["dimensions"], name


def _in_service_floors(stack_plan: Plan) -> dict[str, tuple[float, int]]:
    """Per server tier: the in-service alarm's threshold, and the fewest instances the group may run."""
    groups = {r.name.removesuffix("-asg"): r.inputs for r in of_type(stack_plan.resources, ASG)}
    nights = {r.name.removesuffix("-scale-down"): r.inputs for r in of_type(stack_plan.resources, SCHEDULE)}
    found = alarms(stack_plan)
    floors = {}
    for tier, group in groups.items():
        fewest = min(group["minSize"], nights[tier]["minSize"]) if tier in nights else group["minSize"]
        floors[tier] = (found[f"{tier}-in-service"]["threshold"], fewest)
    return floors


def test_in_service_floor_follows_the_off_peak_schedule(phase: str, stack_plan: Plan) -> None:
    """The capacity alarm must not fire every night when the schedule lowers the minimum on purpose."""
    if "api-in-service" not in EXPECTED[phase]:  # basic monitoring has no capacity alarm at all
        assert not any(name.endswith("-in-service") for name in alarms(stack_plan))
        return
    floors = _in_service_floors(stack_plan)
    assert set(floors) == {"api", "realtime"}
    for tier, (threshold, fewest) in floors.items():
        assert threshold == fewest, tier


def test_in_service_floor_with_a_schedule_on_a_small_stack() -> None:
    """Phase 1's sizes with enhanced monitoring and a night schedule down to one API server."""
    cfg = stack_config("phase1")
    assert cfg.api is not None  # phase 1 has an API tier
    api = cfg.api.model_copy(
        update={"schedule": cfg.api.schedule.model_copy(update={"enabled": True, "off_peak_min_size": 1})}
    )
    cfg = cfg.model_copy(
        update={"api": api, "monitoring": cfg.monitoring.model_copy(update={"level": "enhanced"})}
    )
    floors = _in_service_floors(plan(cfg))
    assert cfg.api is not None and cfg.realtime is not None  # the copy keeps both tiers
    assert floors["api"] == (1, 1) and cfg.api.min_size == 2  # the night minimum, not the day's
    assert floors["realtime"] == (cfg.realtime.min_size, cfg.realtime.min_size)


def test_topic_encrypted_and_dashboard(stack_plan: Plan) -> None:
    topic = next(r for r in stack_plan.resources if r.name == "monitoring-alarms")
    key = next(r for r in stack_plan.resources if r.name == "monitoring-key")
    assert topic.inputs["kmsMasterKeyId"] == key.state["arn"]
    assert key.inputs["enableKeyRotation"] is True
    (dashboard,) = of_type(stack_plan.resources, "aws:cloudwatch/dashboard:Dashboard")
    widgets = json.loads(dashboard.inputs["dashboardBody"])["widgets"]
    titles = {w["properties"]["title"]: w["properties"] for w in widgets}
    assert {"Requests", "Target response time p95", "Database", "Cache"} <= set(titles)
    cdn = next(r for r in stack_plan.resources if r.name == "cdn-distribution")
    assert titles["CDN requests and 5xx rate"]["region"] == "us-east-1"
    assert titles["CDN requests and 5xx rate"]["metrics"][0][3] == cdn.id


def test_log_groups_per_server_tier(stack_plan: Plan) -> None:
    groups = {r.name: r.inputs for r in of_type(stack_plan.resources, "aws:cloudwatch/logGroup:LogGroup")}
    assert set(groups) == {"api-logs", "realtime-logs"}
