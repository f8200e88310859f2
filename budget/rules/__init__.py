"""The pricing rules: one module per AWS resource type, and the explicit list of free types."""

from __future__ import annotations

from types import ModuleType

from budget.rules import (
    autoscaling_group,
    budgets_budget,
    cloudfront_distribution,
    cloudwatch_dashboard,
    cloudwatch_log_group,
    cloudwatch_metric_alarm,
    ec2_instance,
    eip,
    elasticache_replication_group,
    kms_key,
    load_balancer,
    nat_gateway,
    pricing_plan,
    rds_instance,
    s3_bucket,
    secretsmanager_secret,
    sns_topic,
    vpc_endpoint,
    wafv2_web_acl,
)
from budget.rules.base import PricingOptions, Rule, RuleContext, RuleError
from budget.rules.free import FREE, free_reason

_MODULES: tuple[ModuleType, ...] = (
    autoscaling_group,
    ec2_instance,
    load_balancer,
    rds_instance,
    elasticache_replication_group,
    s3_bucket,
    cloudfront_distribution,
    nat_gateway,
    eip,
    cloudwatch_metric_alarm,
    cloudwatch_dashboard,
    cloudwatch_log_group,
    secretsmanager_secret,
    sns_topic,
    budgets_budget,
    vpc_endpoint,
    kms_key,
    pricing_plan,
    wafv2_web_acl,
)
#: Pulumi type token -> pricing rule.
RULES: dict[str, Rule] = {token: module.price for module in _MODULES for token in module.TYPES}

__all__ = ["FREE", "RULES", "PricingOptions", "RuleContext", "RuleError", "free_reason"]
