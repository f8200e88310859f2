"""Elastic IP: a public IPv4 address, billed per hour whether attached or idle (since 2024-02-01)."""

from __future__ import annotations

from budget.model import CostLine, PlannedResource, line
from budget.rules.base import RuleContext

TYPES = ("aws:ec2/eip:Eip",)


def price(eip: PlannedResource, ctx: RuleContext) -> list[CostLine]:
    return [line("Public IPv4 address (Elastic IP)", "hours", ctx.hours, ctx.price("vpc.public_ipv4"))]
