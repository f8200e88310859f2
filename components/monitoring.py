"""Monitoring tier: SNS topic, CloudWatch alarms by level, a dashboard and the phase's AWS Budgets budget.

The topic is encrypted with a customer-managed KMS key: CloudWatch alarms and AWS Budgets cannot publish
to a topic encrypted with the AWS-managed ``alias/aws/sns`` key (its key policy cannot grant them).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

import pulumi
import pulumi_aws as aws

from components.tagging import tier_tags

Level = Literal["basic", "enhanced", "production"]
LEVELS: tuple[Level, ...] = ("basic", "enhanced", "production")
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


@dataclass
class MonitoringArgs:
    """Inputs of :class:`Monitoring`: what to watch (from the other tiers) and how closely (config)."""

    level: Level
    region: str
    phase: str
    alarm_email: str | None
    dashboard: bool
    budget_limit_usd: float
    alb_arn_suffix: pulumi.Input[str]
    target_group_arn_suffixes: Mapping[str, pulumi.Input[str]]
    asg_names: Mapping[str, pulumi.Input[str]]
    asg_floor: Mapping[str, int]
    database_id: pulumi.Input[str]
    database_allocated_gb: int
    replica_id: pulumi.Input[str] | None
    cache_member_ids: list[str]
    distribution_id: pulumi.Input[str] | None = None
    tags: dict[str, str] = field(default_factory=dict)


def alarm_specs(args: MonitoringArgs) -> list[AlarmSpec]:
    """Every alarm the configuration defines at every level (filtered by :func:`alarms_for_level`)."""
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
            "database-free-storage",
            "basic",
            "AWS/RDS",
            "FreeStorageSpace",
            {"DBInstanceIdentifier": args.database_id},
            "LessThanThreshold",
            args.database_allocated_gb * 1024**3 * 0.1,
            statistic="Minimum",
            description="less than 10% of the allocated storage free",
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
    for tier, asg in args.asg_names.items():
        specs.append(
            AlarmSpec(
                f"{tier}-in-service",
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
    specs += [
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
        ),
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


def alarms_for_level(specs: list[AlarmSpec], level: Level) -> list[AlarmSpec]:
    """Levels are cumulative: enhanced has every basic alarm, production every enhanced one."""
    rank = LEVELS.index(level)
    return [s for s in specs if LEVELS.index(s.level) <= rank]


def budget_limit_usd(limit_tzs: int, usd_to_tzs: float) -> float:
    """The TZS limit in USD, rounded to cents (AWS Budgets works in USD)."""
    return round(limit_tzs / usd_to_tzs, 2)


class Monitoring(pulumi.ComponentResource):
    """Alarm topic (+ e-mail), alarms for the configured level, dashboard, monthly cost budget."""

    def __init__(self, name: str, args: MonitoringArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("stars:index:Monitoring", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        tags = tier_tags(args.tags, name)
        stack = args.tags.get("stack", pulumi.get_stack())
        identity = aws.get_caller_identity_output(opts=pulumi.InvokeOptions(parent=self))
        account = identity.account_id

        self.key = aws.kms.Key(
            f"{name}-key",
            description="STARS alarm topic encryption (CloudWatch and Budgets may publish)",
            enable_key_rotation=True,
            deletion_window_in_days=30,
            policy=account.apply(
                lambda acct: json.dumps(
                    {
                        "Version": "2012-10-17",
                        "Statement": [
                            {
                                "Sid": "AccountAdmin",
                                "Effect": "Allow",
                                "Principal": {"AWS": f"arn:aws:iam::{acct}:root"},
                                "Action": "kms:*",
                                "Resource": "*",
                            },
                            {
                                "Sid": "AlarmPublishers",
                                "Effect": "Allow",
                                "Principal": {
                                    "Service": ["cloudwatch.amazonaws.com", "budgets.amazonaws.com"]
                                },
                                "Action": ["kms:Decrypt", "kms:GenerateDataKey*"],
                                "Resource": "*",
                            },
                        ],
                    },
                    sort_keys=True,
                )
            ),
            tags=tags,
            opts=child,
        )
        aws.kms.Alias(
            f"{name}-key-alias", name=f"alias/stars-{stack}-alarms", target_key_id=self.key.id, opts=child
        )
        self.topic = aws.sns.Topic(
            f"{name}-alarms",
            name=f"stars-{stack}-alarms",
            kms_master_key_id=self.key.arn,
            tags=tags,
            opts=child,
        )
        aws.sns.TopicPolicy(
            f"{name}-alarms-policy",
            arn=self.topic.arn,
            policy=pulumi.Output.all(self.topic.arn, account).apply(
                lambda v: json.dumps(
                    {
                        "Version": "2012-10-17",
                        "Statement": [
                            {
                                "Sid": "AlarmPublishers",
                                "Effect": "Allow",
                                "Principal": {
                                    "Service": ["cloudwatch.amazonaws.com", "budgets.amazonaws.com"]
                                },
                                "Action": "SNS:Publish",
                                "Resource": v[0],
                                "Condition": {"StringEquals": {"aws:SourceAccount": v[1]}},
                            }
                        ],
                    },
                    sort_keys=True,
                )
            ),
            opts=pulumi.ResourceOptions(parent=self.topic),
        )
        if args.alarm_email:
            aws.sns.TopicSubscription(
                f"{name}-alarms-email",
                topic=self.topic.arn,
                protocol="email",
                endpoint=args.alarm_email,
                opts=pulumi.ResourceOptions(parent=self.topic),
            )

        self.alarm_specs = alarms_for_level(alarm_specs(args), args.level)
        self.alarms: dict[str, aws.cloudwatch.MetricAlarm] = {}
        for spec in self.alarm_specs:
            self.alarms[spec.part] = aws.cloudwatch.MetricAlarm(
                f"{name}-{spec.part}",
                name=f"stars-{stack}-{spec.part}",
                alarm_description=f"{spec.description} [{spec.level}]",
                namespace=spec.namespace,
                metric_name=spec.metric,
                dimensions=dict(spec.dimensions),
                statistic=spec.statistic,
                extended_statistic=spec.extended_statistic,
                period=spec.period,
                evaluation_periods=spec.evaluation_periods,
                comparison_operator=spec.comparison,
                threshold=spec.threshold,
                treat_missing_data=spec.treat_missing_data,
                alarm_actions=[self.topic.arn],
                ok_actions=[self.topic.arn],
                tags=tags,
                opts=child,
            )

        self.dashboard: aws.cloudwatch.Dashboard | None = None
        if args.dashboard:
            self.dashboard = aws.cloudwatch.Dashboard(
                f"{name}-dashboard",
                dashboard_name=f"stars-{stack}",
                dashboard_body=self._dashboard_body(args),
                opts=child,
            )

        limit = f"{args.budget_limit_usd:.2f}"
        subscribers: dict[str, object] = {"subscriber_sns_topic_arns": [self.topic.arn]}
        if args.alarm_email:
            subscribers["subscriber_email_addresses"] = [args.alarm_email]
        self.budget = aws.budgets.Budget(
            f"{name}-budget",
            name=f"stars-{stack}-monthly",
            budget_type="COST",
            time_unit="MONTHLY",
            limit_amount=limit,
            limit_unit="USD",
            # Needs the project and phase tags activated as cost allocation tags in Billing.
            metrics="UnblendedCost",
            filter_expression={
                "ands": [
                    {"tags": {"key": "project", "values": [args.tags.get("project", "stars")]}},
                    {"tags": {"key": "phase", "values": [args.phase]}},
                ]
            },
            notifications=[
                {
                    "comparison_operator": "GREATER_THAN",
                    "threshold": threshold,
                    "threshold_type": "PERCENTAGE",
                    "notification_type": kind,
                    **subscribers,
                }
                for kind, threshold in (("ACTUAL", 80.0), ("ACTUAL", 100.0), ("FORECASTED", 100.0))
            ],
            tags=tags,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.topic]),
        )

        self.topic_arn = self.topic.arn
        self.register_outputs(
            {
                "topic_arn": self.topic.arn,
                "alarms": sorted(self.alarms),
                "budget_limit_usd": limit,
            }
        )

    @staticmethod
    def _dashboard_body(args: MonitoringArgs) -> pulumi.Output[str]:
        """Traffic, latency, errors, capacity, database, cache and CDN on one page."""

        def build(v: dict[str, object]) -> str:
            alb = v["alb"]
            region = args.region

            def widget(
                title: str,
                metrics: list[list[object]],
                x: int,
                y: int,
                stat: str = "Average",
                where: str | None = None,
            ) -> dict[str, object]:
                return {
                    "type": "metric",
                    "x": x,
                    "y": y,
                    "width": 12,
                    "height": 6,
                    "properties": {
                        "title": title,
                        "region": where or region,
                        "stat": stat,
                        "period": 60,
                        "metrics": metrics,
                    },
                }

            asgs: dict = v["asgs"]  # type: ignore[assignment]
            widgets = [
                widget(
                    "Requests", [["AWS/ApplicationELB", "RequestCount", "LoadBalancer", alb]], 0, 0, "Sum"
                ),
                widget(
                    "Target response time p95",
                    [["AWS/ApplicationELB", "TargetResponseTime", "LoadBalancer", alb, {"stat": "p95"}]],
                    12,
                    0,
                ),
                widget(
                    "5xx",
                    [
                        ["AWS/ApplicationELB", "HTTPCode_ELB_5XX_Count", "LoadBalancer", alb],
                        ["AWS/ApplicationELB", "HTTPCode_Target_5XX_Count", "LoadBalancer", alb],
                    ],
                    0,
                    6,
                    "Sum",
                ),
                widget(
                    "Active connections",
                    [["AWS/ApplicationELB", "ActiveConnectionCount", "LoadBalancer", alb]],
                    12,
                    6,
                    "Sum",
                ),
                widget(
                    "Server CPU",
                    [["AWS/EC2", "CPUUtilization", "AutoScalingGroupName", n] for n in asgs.values()],
                    0,
                    12,
                ),
                widget(
                    "In service",
                    [
                        ["AWS/AutoScaling", "GroupInServiceInstances", "AutoScalingGroupName", n]
                        for n in asgs.values()
                    ],
                    12,
                    12,
                ),
                widget(
                    "Database",
                    [
                        ["AWS/RDS", "CPUUtilization", "DBInstanceIdentifier", v["db"]],
                        ["AWS/RDS", "DatabaseConnections", "DBInstanceIdentifier", v["db"]],
                    ],
                    0,
                    18,
                ),
                widget(
                    "Cache",
                    [
                        ["AWS/ElastiCache", "DatabaseMemoryUsagePercentage", "CacheClusterId", c]
                        for c in args.cache_member_ids
                    ],
                    12,
                    18,
                ),
            ]
            if v.get("cdn"):
                # CloudFront publishes its metrics in us-east-1 only, with Region=Global.
                cdn = ["DistributionId", v["cdn"], "Region", "Global"]
                widgets.append(
                    widget(
                        "CDN requests and 5xx rate",
                        [["AWS/CloudFront", "Requests", *cdn], ["AWS/CloudFront", "5xxErrorRate", *cdn]],
                        0,
                        24,
                        "Sum",
                        where="us-east-1",
                    )
                )
            return json.dumps({"widgets": widgets}, sort_keys=True)

        return pulumi.Output.all(
            alb=args.alb_arn_suffix, asgs=dict(args.asg_names), db=args.database_id, cdn=args.distribution_id
        ).apply(build)
