"""The alarms of each monitoring level, as data: what to watch, the threshold, and when it starts to matter.

The monitoring component turns these specs into CloudWatch alarms; keeping them as data lets the tests
check the levels (cumulative: enhanced has every basic alarm, production every enhanced one) and the
thresholds without the Pulumi engine.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import pulumi

from components.monitoring.args import LEVELS, Level, MonitoringArgs

#: The plan's API latency target (seconds, p95 at the ALB).
LATENCY_TARGET_SECONDS = 0.2


@dataclass(frozen=True)
class AlarmSpec:
    """One CloudWatch alarm: ``part`` names it (``{name}-{part}``); ``level`` is the lowest level with it."""

    part: str
    level: Level
    namespace: str
    metric: str
    dimensions: Mapping[str, pulumi.Input[str]]
    comparison: str
    threshold: float
    statistic: str | None = "Average"
    extended_statistic: str | None = None
    period: int = 300
    evaluation_periods: int = 2
    treat_missing_data: str = "notBreaching"
    description: str = ""


def _nlb_specs(args: MonitoringArgs) -> list[AlarmSpec]:
    """Behind an NLB: no HTTP codes, response times or rejected connections exist (TCP), so the ALB's four
    load-balancer alarms are replaced by one per target group that fires when it has no healthy target
    (the cause of an ALB's own 5xx). The unhealthy-target alarms use the NLB namespace."""
    specs = []
    for tier, suffix in args.target_group_arn_suffixes.items():
        dims = {"LoadBalancer": args.alb_arn_suffix, "TargetGroup": suffix}
        specs += [
            AlarmSpec(
                f"{tier}-no-healthy-targets",
                "basic",
                "AWS/NetworkELB",
                "HealthyHostCount",
                dims,
                "LessThanThreshold",
                1,
                statistic="Minimum",
                period=60,
                evaluation_periods=3,
                treat_missing_data="breaching",
                description=f"no healthy {tier} target: the NLB has nowhere to send connections",
            ),
            AlarmSpec(
                f"{tier}-unhealthy-targets",
                "enhanced",
                "AWS/NetworkELB",
                "UnHealthyHostCount",
                dims,
                "GreaterThanThreshold",
                0,
                statistic="Maximum",
                period=60,
                evaluation_periods=3,
                description=f"{tier} targets failing /healthz",
            ),
        ]
    return specs


def _lb_specs(args: MonitoringArgs) -> list[AlarmSpec]:
    """The load balancer's own alarms (ALB: 5xx, latency, unhealthy targets, rejected connections)."""
    if args.load_balancer_type == "network":
        return _nlb_specs(args)
    alb = {"LoadBalancer": args.alb_arn_suffix}
    specs = [
        AlarmSpec(
            "alb-5xx",
            "basic",
            "AWS/ApplicationELB",
            "HTTPCode_ELB_5XX_Count",
            alb,
            "GreaterThanThreshold",
            50,
            statistic="Sum",
            description="ALB returned 5xx (no healthy target?)",
        ),
        AlarmSpec(
            "alb-target-5xx",
            "basic",
            "AWS/ApplicationELB",
            "HTTPCode_Target_5XX_Count",
            alb,
            "GreaterThanThreshold",
            50,
            statistic="Sum",
            description="servers returned 5xx",
        ),
        AlarmSpec(
            "alb-latency",
            "enhanced",
            "AWS/ApplicationELB",
            "TargetResponseTime",
            alb,
            "GreaterThanThreshold",
            LATENCY_TARGET_SECONDS,
            statistic=None,
            extended_statistic="p95",
            evaluation_periods=3,
            description="p95 API response time above the plan's 200 ms",
        ),
    ]
    for tier, suffix in args.target_group_arn_suffixes.items():
        specs.append(
            AlarmSpec(
                f"{tier}-unhealthy-targets",
                "enhanced",
                "AWS/ApplicationELB",
                "UnHealthyHostCount",
                {"LoadBalancer": args.alb_arn_suffix, "TargetGroup": suffix},
                "GreaterThanThreshold",
                0,
                statistic="Maximum",
                period=60,
                evaluation_periods=3,
                description=f"{tier} targets failing /healthz",
            )
        )
    specs.append(
        AlarmSpec(
            "alb-rejected-connections",
            "production",
            "AWS/ApplicationELB",
            "RejectedConnectionCount",
            alb,
            "GreaterThanThreshold",
            0,
            statistic="Sum",
            description="ALB at its connection limit",
        )
    )
    return specs


#: The part of the name of the database's free-storage alarm (its threshold: :func:`free_storage_threshold`).
FREE_STORAGE_PART = "database-free-storage"


def free_storage_threshold(allocated_gb: int) -> float:
    """Bytes of free storage below which the database's alarm fires: a tenth of the allocated storage."""
    return allocated_gb * 1024**3 * 0.1


def in_service_part(tier: str) -> str:
    """The part of the name of the alarm on ``tier``'s in-service instances (its threshold: the floor)."""
    return f"{tier}-in-service"


def _database_specs(args: MonitoringArgs) -> list[AlarmSpec]:
    """The database's basic alarms: CPU and free storage."""
    return [
        AlarmSpec(
            "database-cpu",
            "basic",
            "AWS/RDS",
            "CPUUtilization",
            {"DBInstanceIdentifier": args.database_id},
            "GreaterThanThreshold",
            80,
            evaluation_periods=3,
            description="database CPU above 80%",
        ),
        AlarmSpec(
            FREE_STORAGE_PART,
            "basic",
            "AWS/RDS",
            "FreeStorageSpace",
            {"DBInstanceIdentifier": args.database_id},
            "LessThanThreshold",
            free_storage_threshold(args.database_allocated_gb),
            statistic="Minimum",
            description="less than 10% of the allocated storage free",
        ),
    ]


def _group_specs(args: MonitoringArgs) -> list[AlarmSpec]:
    """Each auto-scaling group below its floor of in-service instances."""
    specs: list[AlarmSpec] = []
    for tier, asg in args.asg_names.items():
        specs.append(
            AlarmSpec(
                in_service_part(tier),
                "enhanced",
                "AWS/AutoScaling",
                "GroupInServiceInstances",
                {"AutoScalingGroupName": asg},
                "LessThanThreshold",
                args.asg_floor[tier],
                statistic="Minimum",
                period=60,
                evaluation_periods=5,
                treat_missing_data="breaching",
                description=f"{tier} has fewer in-service instances than its minimum",
            )
        )
    return specs


def _cache_specs(args: MonitoringArgs) -> list[AlarmSpec]:
    """Per cache node: memory, evictions and the Redis engine thread's CPU."""
    specs: list[AlarmSpec] = []
    for node in args.cache_member_ids:
        short = node.rsplit("-", 1)[-1]
        dims = {"CacheClusterId": node}
        specs += [
            AlarmSpec(
                f"cache-memory-{short}",
                "enhanced",
                "AWS/ElastiCache",
                "DatabaseMemoryUsagePercentage",
                dims,
                "GreaterThanThreshold",
                80,
                description="cache memory above 80% (evictions next)",
            ),
            AlarmSpec(
                f"cache-evictions-{short}",
                "production",
                "AWS/ElastiCache",
                "Evictions",
                dims,
                "GreaterThanThreshold",
                1000,
                statistic="Sum",
                description="cache evicting keys",
            ),
            AlarmSpec(
                f"cache-cpu-{short}",
                "production",
                "AWS/ElastiCache",
                "EngineCPUUtilization",
                dims,
                "GreaterThanThreshold",
                80,
                description="Redis engine thread above 80%",
            ),
        ]
    return specs


def _database_production_specs(args: MonitoringArgs) -> list[AlarmSpec]:
    """The database's production alarms: read latency, connections and the replica's lag."""
    specs: list[AlarmSpec] = []
    specs += [
        AlarmSpec(
            "database-read-latency",
            "production",
            "AWS/RDS",
            "ReadLatency",
            {"DBInstanceIdentifier": args.database_id},
            "GreaterThanThreshold",
            0.05,
            evaluation_periods=3,
            description="read latency above the plan's 50 ms",
        ),
        AlarmSpec(
            "database-connections",
            "production",
            "AWS/RDS",
            "DatabaseConnections",
            {"DBInstanceIdentifier": args.database_id},
            "GreaterThanThreshold",
            300,
            description="connection count near the instance limit (pooling broken?)",
        ),
    ]
    if args.replica_id is not None:
        specs.append(
            AlarmSpec(
                "database-replica-lag",
                "production",
                "AWS/RDS",
                "ReplicaLag",
                {"DBInstanceIdentifier": args.replica_id},
                "GreaterThanThreshold",
                30,
                statistic="Maximum",
                description="read replica more than 30 s behind",
            )
        )
    return specs


def alarm_specs(args: MonitoringArgs) -> list[AlarmSpec]:
    """Every alarm the configuration defines at every level (filtered by :func:`alarms_for_level`)."""
    return [
        *_lb_specs(args),
        *_database_specs(args),
        *_group_specs(args),
        *_cache_specs(args),
        *_database_production_specs(args),
    ]


def alarms_for_level(specs: list[AlarmSpec], level: Level) -> list[AlarmSpec]:
    """Levels are cumulative: enhanced has every basic alarm, production every enhanced one."""
    rank = LEVELS.index(level)
    return [s for s in specs if LEVELS.index(s.level) <= rank]
