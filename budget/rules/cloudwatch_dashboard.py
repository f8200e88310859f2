"""CloudWatch dashboard: a flat monthly price (the recalled free tier of 3 dashboards is not applied)."""

from __future__ import annotations

from budget.model import CostLine, PlannedResource, line
from budget.rules.base import RuleContext

TYPES = ("aws:cloudwatch/dashboard:Dashboard",)


def price(dashboard: PlannedResource, ctx: RuleContext) -> list[CostLine]:
    return [line("Dashboard", "dashboard-months", 1, ctx.price("cloudwatch.dashboard"))]
