"""CloudWatch log group: ingestion and storage from the usage block, split evenly across the log groups.

The recalled free tier (5 GB of logs) is not applied.
"""

from __future__ import annotations

from budget.model import CostLine, PlannedResource, line
from budget.rules.base import RuleContext

TYPES = ("aws:cloudwatch/logGroup:LogGroup",)


def price(group: PlannedResource, ctx: RuleContext) -> list[CostLine]:
    count = len(ctx.of_type(*TYPES))
    usage = ctx.cfg.usage
    return [
        line(
            f"Log ingestion (1/{count} of {usage.logs_ingested_gb:g} GB)",
            "GB",
            usage.logs_ingested_gb / count,
            ctx.price("cloudwatch.logs.ingest"),
            usage_based=True,
        ),
        line(
            f"Log storage (1/{count} of {usage.logs_stored_gb:g} GB)",
            "GB-months",
            usage.logs_stored_gb / count,
            ctx.price("cloudwatch.logs.storage"),
            usage_based=True,
        ),
    ]
