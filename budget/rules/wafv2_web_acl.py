"""AWS WAF web ACL: free only inside a CloudFront flat-rate plan, which bundles AWS WAF with the CDN.

Outside a plan a web ACL costs a monthly fee per ACL and per rule plus a price per million requests, none of
which the price reference gives: such a web ACL is unpriced (the check fails closed), never $0.
"""

from __future__ import annotations

from budget.model import CostLine, PlannedResource, line
from budget.rules.base import RuleContext, RuleError
from budget.rules.pricing_plan import WEB_ACL_TYPES, plan_covering

TYPES = WEB_ACL_TYPES


def price(acl: PlannedResource, ctx: RuleContext) -> list[CostLine]:
    plan = plan_covering(acl, ctx)
    if plan is None:
        raise RuleError(
            "a web ACL outside a CloudFront flat-rate plan has no sourced price (AWS WAF's web ACL, rule"
            " and request charges are not in the price reference)"
        )
    return [
        line(
            f"Web ACL (bundled in the CloudFront {plan.title} plan of {plan.subscription.name})",
            "web ACL-months",
            1,
            ctx.price("cloudfront.plan.web_acl"),
        )
    ]
