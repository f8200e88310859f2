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

from components.alarms import Level, alarm_specs, alarms_for_level
from components.dashboard import dashboard_body
from components.tagging import tier_tags


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
    #: ``network``: the load balancer is an NLB (``alb_arn_suffix`` is then its ``net/...`` suffix).
    load_balancer_type: Literal["application", "network"] = "application"
    tags: dict[str, str] = field(default_factory=dict)


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
                dashboard_body=dashboard_body(args),
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
