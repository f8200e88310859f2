"""AWS Budgets budget: monitoring budgets (no actions) cost nothing; the line shows the sourced $0."""

from __future__ import annotations

from budget.model import CostLine, PlannedResource, line
from budget.rules.base import RuleContext

TYPES = ("aws:budgets/budget:Budget",)


def price(budget: PlannedResource, ctx: RuleContext) -> list[CostLine]:
    days = ctx.hours / 24
    return [
        line(
            "Monitoring budget (no actions)", "budget-days", days, ctx.price("budgets.monitoring_budget_day")
        )
    ]
