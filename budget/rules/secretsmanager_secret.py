"""Secrets Manager secret: per secret a month; the stack's API calls attach to the first secret."""

from __future__ import annotations

from budget.model import CostLine, PlannedResource, line
from budget.rules.base import RuleContext

TYPES = ("aws:secretsmanager/secret:Secret",)


def price(secret: PlannedResource, ctx: RuleContext) -> list[CostLine]:
    lines = [line("Secret", "secrets", 1, ctx.price("secretsmanager.secret"))]
    if ctx.is_first(secret, *TYPES):
        lines.append(
            line(
                "API calls",
                "10k requests",
                ctx.inputs.usage.secrets_api_calls / 10_000,
                ctx.price("secretsmanager.api_calls"),
                usage_based=True,
            )
        )
    return lines
