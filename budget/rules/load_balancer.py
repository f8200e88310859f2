"""Application load balancer: hours, LCU-hours from usage, its public IPv4 addresses, and internet egress.

LCU (infracost, AWS): the highest of new connections/s / 25, active connections / 3,000, processed GB/h / 1
and rule evaluations/s / 1,000. The line names the dimension that drives it. Data transfer out to the
internet (WebSocket and API responses) is caused by the ALB's targets answering viewers, so it is here.
"""

from __future__ import annotations

from budget.model import CostLine, PlannedResource, line
from budget.rules.base import RuleContext, RuleError, flag
from budget.rules.volume_tiers import INTERNET_TIERS, tiered_lines

TYPES = ("aws:lb/loadBalancer:LoadBalancer", "aws:alb/loadBalancer:LoadBalancer")
#: One LCU per dimension (CONFIRMED-3P in the price reference: internettoolset.com load-balancer calculator).
LCU_DIMENSIONS = (
    ("new connections/s", "alb_new_connections_per_second", 25.0),
    ("active connections", "alb_active_connections", 3000.0),
    ("processed GB/h", "alb_processed_gb_per_hour", 1.0),
    ("rule evaluations/s", "alb_rule_evaluations_per_second", 1000.0),
)


def lcu(usage: object) -> tuple[float, str]:
    """Average LCUs and a description of the driving dimension."""
    best, why = 0.0, "no usage"
    for label, field, per_lcu in LCU_DIMENSIONS:
        value = float(getattr(usage, field))
        units = value / per_lcu
        if units > best:
            best, why = units, f"{label} {value:,.6g} / {per_lcu:,.0f} = {units:,.2f} LCU"
    return best, why


def price(alb: PlannedResource, ctx: RuleContext) -> list[CostLine]:
    inputs = alb.inputs
    kind = inputs.get("loadBalancerType") or "application"
    if kind != "application":
        raise RuleError(f"loadBalancerType '{kind}' has no rule (only application load balancers are priced)")
    lines = [line("Application load balancer", "hours", ctx.hours, ctx.price("elb.alb.hour"))]
    units, why = lcu(ctx.cfg.usage)
    lines.append(
        line(
            f"Load balancer capacity units (driver: {why})",
            "LCU-hours",
            units * ctx.hours,
            ctx.price("elb.alb.lcu_hour"),
            usage_based=True,
        )
    )
    if not flag(inputs, "internal"):
        subnets = inputs.get("subnets") or inputs.get("subnetMappings") or []
        if not isinstance(subnets, list) or not subnets:
            raise RuleError("internet-facing load balancer without subnets: its public addresses are unknown")
        lines.append(
            line(
                f"Public IPv4 addresses (one per subnet, {len(subnets)})",
                "hours",
                len(subnets) * ctx.hours,
                ctx.price("vpc.public_ipv4"),
            )
        )
    if ctx.is_first(alb, *TYPES):
        lines.extend(
            tiered_lines(
                ctx,
                "Data transfer out to internet",
                ctx.cfg.usage.internet_egress_gb,
                "transfer.internet",
                INTERNET_TIERS,
                ctx.price("transfer.internet.free_gb"),
            )
        )
    return lines
