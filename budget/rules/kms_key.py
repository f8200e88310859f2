"""KMS customer managed key: a flat monthly price (requests are within the free tier at this scale)."""

from __future__ import annotations

from budget.model import CostLine, PlannedResource, line
from budget.rules.base import RuleContext

TYPES = ("aws:kms/key:Key",)


def price(key: PlannedResource, ctx: RuleContext) -> list[CostLine]:
    return [line("Customer managed key", "key-months", 1, ctx.price("kms.key"))]
