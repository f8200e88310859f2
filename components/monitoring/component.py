"""Monitoring tier: SNS topic, CloudWatch alarms by level, a dashboard and the phase's AWS Budgets budget.

The topic is encrypted with a customer-managed KMS key: CloudWatch alarms and AWS Budgets cannot publish
to a topic encrypted with the AWS-managed ``alias/aws/sns`` key (its key policy cannot grant them).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, TypedDict

import pulumi
import pulumi_aws as aws

from components.monitoring.alarms import (
    FREE_STORAGE_PART,
    AlarmSpec,
    alarm_specs,
    alarms_for_level,
    free_storage_threshold,
    in_service_part,
)
from components.monitoring.args import MonitoringArgs
from components.monitoring.dashboard import dashboard_body
from components.tagging import tier_tags

ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"


def value_inputs(
    asg_floor: Mapping[str, int],
    database_allocated_gb: int,
    resource_type: str,
    resource_name: str,
    inputs: Mapping[str, Any],
) -> dict[str, Any] | None:
    """The inputs (as planned) of the alarm named ``resource_name`` with the groups' floors and the
    database's allocated storage given, whatever they were planned at: they set only the thresholds of the
    in-service and free-storage alarms (which alarms exist follows the level and the layout). None for
    every other resource. ``budget fit`` plans the tier once and writes each candidate's values so."""
    if resource_type != ALARM:
        return None
    part = resource_name.partition("-")[2]
    thresholds = {in_service_part(tier): float(floor) for tier, floor in asg_floor.items()}
    thresholds[FREE_STORAGE_PART] = float(free_storage_threshold(database_allocated_gb))
    if part not in thresholds:
        return None
    return {**inputs, "threshold": thresholds[part]}


def budget_limit_usd(limit_tzs: int, usd_to_tzs: float) -> float:
    """The TZS limit in USD, rounded to cents (AWS Budgets works in USD)."""
    return round(limit_tzs / usd_to_tzs, 2)


#: Who may publish to the alarm topic (and use its key): CloudWatch alarms and AWS Budgets.
PUBLISHERS = ["cloudwatch.amazonaws.com", "budgets.amazonaws.com"]


def key_policy(account: str) -> str:
    """The topic key's policy: the account administers it, the publishers may encrypt with it."""
    statements = [
        {
            "Sid": "AccountAdmin",
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::{account}:root"},
            "Action": "kms:*",
            "Resource": "*",
        },
        {
            "Sid": "AlarmPublishers",
            "Effect": "Allow",
            "Principal": {"Service": PUBLISHERS},
            "Action": ["kms:Decrypt", "kms:GenerateDataKey*"],
            "Resource": "*",
        },
    ]
    return json.dumps({"Version": "2012-10-17", "Statement": statements}, sort_keys=True)


def topic_policy(topic_arn: str, account: str) -> str:
    """The topic's policy: the publishers may publish, on behalf of this account only."""
    statement = {
        "Sid": "AlarmPublishers",
        "Effect": "Allow",
        "Principal": {"Service": PUBLISHERS},
        "Action": "SNS:Publish",
        "Resource": topic_arn,
        "Condition": {"StringEquals": {"aws:SourceAccount": account}},
    }
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]}, sort_keys=True)


class _Subscribers(TypedDict, total=False):
    """Who a budget notification reaches (the keys of ``BudgetNotificationArgsDict``)."""

    subscriber_sns_topic_arns: list[pulumi.Output[str]]
    subscriber_email_addresses: list[str]


class Monitoring(pulumi.ComponentResource):
    """Alarm topic (+ e-mail), alarms for the configured level, dashboard, monthly cost budget."""

    def __init__(self, name: str, args: MonitoringArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("stars:index:Monitoring", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        tags = tier_tags(args.tags, name)
        stack = args.tags.get("stack", pulumi.get_stack())
        identity = aws.get_caller_identity_output(opts=pulumi.InvokeOptions(parent=self))

        self.topic = self._alarm_topic(name, stack, identity.account_id, args, tags, child)
        self.alarm_specs = alarms_for_level(alarm_specs(args), args.level)
        self.alarms: dict[str, aws.cloudwatch.MetricAlarm] = {
            spec.part: self._alarm(name, stack, spec, tags, child) for spec in self.alarm_specs
        }
        self.dashboard: aws.cloudwatch.Dashboard | None = None
        if args.dashboard:
            self.dashboard = aws.cloudwatch.Dashboard(
                f"{name}-dashboard",
                dashboard_name=f"stars-{stack}",
                dashboard_body=dashboard_body(args),
                opts=child,
            )
        limit = f"{args.budget_limit_usd:.2f}"
        self.budget = self._cost_budget(name, stack, limit, args, tags)

        self.topic_arn = self.topic.arn
        self.register_outputs(
            {
                "topic_arn": self.topic.arn,
                "alarms": sorted(self.alarms),
                "budget_limit_usd": limit,
            }
        )

    def _alarm_topic(
        self,
        name: str,
        stack: str,
        account: pulumi.Output[str],
        args: MonitoringArgs,
        tags: dict[str, str],
        child: pulumi.ResourceOptions,
    ) -> aws.sns.Topic:
        """The SNS topic alarms and the budget publish to, encrypted with its own key (+ e-mail)."""
        self.key = aws.kms.Key(
            f"{name}-key",
            description="STARS alarm topic encryption (CloudWatch and Budgets may publish)",
            enable_key_rotation=True,
            deletion_window_in_days=30,
            policy=account.apply(key_policy),
            tags=tags,
            opts=child,
        )
        aws.kms.Alias(
            f"{name}-key-alias", name=f"alias/stars-{stack}-alarms", target_key_id=self.key.id, opts=child
        )
        topic = aws.sns.Topic(
            f"{name}-alarms",
            name=f"stars-{stack}-alarms",
            kms_master_key_id=self.key.arn,
            tags=tags,
            opts=child,
        )
        aws.sns.TopicPolicy(
            f"{name}-alarms-policy",
            arn=topic.arn,
            policy=pulumi.Output.all(topic.arn, account).apply(lambda v: topic_policy(v[0], v[1])),
            opts=pulumi.ResourceOptions(parent=topic),
        )
        if args.alarm_email:
            aws.sns.TopicSubscription(
                f"{name}-alarms-email",
                topic=topic.arn,
                protocol="email",
                endpoint=args.alarm_email,
                opts=pulumi.ResourceOptions(parent=topic),
            )
        return topic

    def _alarm(
        self, name: str, stack: str, spec: AlarmSpec, tags: dict[str, str], child: pulumi.ResourceOptions
    ) -> aws.cloudwatch.MetricAlarm:
        return aws.cloudwatch.MetricAlarm(
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

    def _cost_budget(
        self, name: str, stack: str, limit: str, args: MonitoringArgs, tags: dict[str, str]
    ) -> aws.budgets.Budget:
        """The phase's monthly AWS Budgets budget, filtered by the project and phase tags."""
        subscribers: _Subscribers = {"subscriber_sns_topic_arns": [self.topic.arn]}
        if args.alarm_email:
            subscribers["subscriber_email_addresses"] = [args.alarm_email]
        return aws.budgets.Budget(
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
