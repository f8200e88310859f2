"""CloudFront flat-rate pricing plan (``aws.pricingplanmanager.Subscription``): a flat monthly fee per plan.

A plan covers exactly one distribution and one AWS WAF web ACL (AWS requires both). The fee is this
rule's line; the distribution's transfer and requests become $0 lines within the plan's allowance, and the
web ACL is bundled (their own rules ask :func:`plan_covering` which plan covers them). The allowance is a
hard ceiling, not free traffic: above it AWS may throttle, so the distribution fails closed there.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from budget.model import CostLine, PlannedResource, line
from budget.rules.base import UNKNOWN, RuleContext, RuleError, known, require
from components.config import FREE_PLANS_PER_ACCOUNT

TYPES = ("aws:pricingplanmanager/subscription:Subscription",)
DISTRIBUTION_TYPES = ("aws:cloudfront/distribution:Distribution",)
WEB_ACL_TYPES = ("aws:wafv2/webAcl:WebAcl",)
#: PricingPlanManager plan tiers -> catalog key part (``cloudfront.plan.<tier>.month`` ...).
PLAN_TIERS = {"FREE": "free", "PRO": "pro", "BUSINESS": "business", "PREMIUM": "premium"}
#: Only the base usage level has a sourced allowance (Premium's higher levels are priced by AWS sales).
PRICED_USAGE_LEVEL = "DEFAULT"


@dataclass(frozen=True)
class Plan:
    """A subscription's priced terms: its tier (catalog key part) and display name."""

    subscription: PlannedResource
    tier: str

    @property
    def title(self) -> str:
        return self.tier.capitalize()


def _covers(subscription: PlannedResource, candidate: PlannedResource) -> bool:
    """Whether ``resource_arns`` names ``candidate``: a known ARN ending in its id, or a preview dep."""
    arns = subscription.inputs.get("resourceArns")
    known = candidate.id not in (None, "", UNKNOWN)
    if (
        isinstance(arns, list)
        and known
        and any(isinstance(arn, str) and arn.endswith(f"/{candidate.id}") for arn in arns)
    ):
        return True
    deps = subscription.property_dependencies.get("resourceArns", ())
    return isinstance(deps, list | tuple) and candidate.urn in deps


def covered(subscription: PlannedResource, ctx: RuleContext, types: Sequence[str]) -> list[PlannedResource]:
    """The planned resources of ``types`` that the subscription covers."""
    return [r for r in ctx.of_type(*types) if _covers(subscription, r)]


def plan_of(subscription: PlannedResource) -> Plan:
    """The subscription's family, tier and usage level, checked against what the catalog prices."""
    inputs = subscription.inputs
    family = require(inputs, "planFamily", subscription)
    if family != "CloudFront":
        raise RuleError(f"plan family '{family}' has no rule (only CloudFront flat-rate plans are priced)")
    tier = require(inputs, "planTier", subscription)
    if tier not in PLAN_TIERS:
        raise RuleError(f"plan tier '{tier}' is not one of {', '.join(PLAN_TIERS)}")
    level = known(inputs.get("usageLevel"), "input 'usageLevel'") or PRICED_USAGE_LEVEL
    if level != PRICED_USAGE_LEVEL:
        raise RuleError(
            f"usage level '{level}': only {PRICED_USAGE_LEVEL} has a sourced allowance and price"
            " (higher Premium levels are not in the price reference's terms)"
        )
    return Plan(subscription, PLAN_TIERS[tier])


def plan_covering(resource: PlannedResource, ctx: RuleContext) -> Plan | None:
    """The flat-rate plan that covers ``resource``, None if none does; two plans are an error."""
    plans = [s for s in ctx.of_type(*TYPES) if _covers(s, resource)]
    if len(plans) > 1:
        raise RuleError(f"covered by {len(plans)} flat-rate plans ({', '.join(p.name for p in plans)})")
    return plan_of(plans[0]) if plans else None


def price(subscription: PlannedResource, ctx: RuleContext) -> list[CostLine]:
    plan = plan_of(subscription)
    distributions = covered(subscription, ctx, DISTRIBUTION_TYPES)
    acls = covered(subscription, ctx, WEB_ACL_TYPES)
    if len(distributions) != 1 or len(acls) != 1:
        raise RuleError(
            "a CloudFront plan covers exactly one distribution and one web ACL; resource_arns resolves to"
            f" {len(distributions)} distribution(s) and {len(acls)} web ACL(s) of this stack"
        )
    if plan.tier == "free":
        free = [s for s in ctx.of_type(*TYPES) if s.inputs.get("planTier") == "FREE"]
        if len(free) > FREE_PLANS_PER_ACCOUNT:
            raise RuleError(
                f"{len(free)} Free flat-rate plans: an account holds at most {FREE_PLANS_PER_ACCOUNT}"
            )
    return [
        line(
            f"CloudFront {plan.title} flat-rate plan for {distributions[0].name}",
            "months",
            1,
            ctx.price(f"cloudfront.plan.{plan.tier}.month"),
        )
    ]
