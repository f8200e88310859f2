"""NAT gateway: gateway hours, plus the stack's NAT-processed GB split evenly across its gateways.

The gateway's public address is an Elastic IP, priced by the EIP rule.
"""

from __future__ import annotations

from budget.model import CostLine, PlannedResource, line
from budget.rules.base import RuleContext

TYPES = ("aws:ec2/natGateway:NatGateway",)


def price(nat: PlannedResource, ctx: RuleContext) -> list[CostLine]:
    gateways = len(ctx.of_type(*TYPES))
    share = ctx.inputs.usage.nat_processed_gb / gateways
    return [
        line("NAT gateway", "hours", ctx.hours, ctx.price("nat.hour")),
        line(
            f"Data processed (1/{gateways} of {ctx.inputs.usage.nat_processed_gb:g} GB)",
            "GB",
            share,
            ctx.price("nat.gb"),
            usage_based=True,
        ),
    ]
