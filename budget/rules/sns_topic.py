"""SNS topic: free itself; the stack's notifications (alarm and budget e-mails) attach to the first topic.

Priced at the e-mail delivery rate with no free tier (the price is an estimate: not in the price reference).
"""

from __future__ import annotations

from budget.model import CostLine, PlannedResource, line
from budget.rules.base import RuleContext

TYPES = ("aws:sns/topic:Topic",)


def price(topic: PlannedResource, ctx: RuleContext) -> list[CostLine]:
    if not ctx.is_first(topic, *TYPES):
        return [
            line(
                "Notifications (counted on the first topic)",
                "100k notifications",
                0,
                ctx.price("sns.email_notifications"),
            )
        ]
    return [
        line(
            "E-mail notifications",
            "100k notifications",
            ctx.inputs.usage.sns_notifications / 100_000,
            ctx.price("sns.email_notifications"),
            usage_based=True,
        )
    ]
