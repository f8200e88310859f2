"""CloudWatch log group: ingestion and storage from the usage block, split evenly across the log groups.

The recalled free tier (5 GB of logs) is not applied. The Infrequent Access class (``logGroupClass``) is
priced as the Standard figures x its catalog factors (half the ingestion; storage at the source's higher
figure).
"""

from __future__ import annotations

from budget.model import CostLine, PlannedResource, line
from budget.rules.base import RuleContext, RuleError, known

TYPES = ("aws:cloudwatch/logGroup:LogGroup",)


#: ``logGroupClass`` values with a price: the Standard class, and Infrequent Access (catalog factors).
CLASSES = ("STANDARD", "INFREQUENT_ACCESS")


def price(group: PlannedResource, ctx: RuleContext) -> list[CostLine]:
    count = len(ctx.of_type(*TYPES))
    usage = ctx.inputs.usage
    log_class = known(group.inputs.get("logGroupClass"), "input 'logGroupClass'") or "STANDARD"
    if log_class not in CLASSES:
        raise RuleError(f"log group class {log_class!r} has no price (known: {', '.join(CLASSES)})")
    ingest, storage = ctx.price("cloudwatch.logs.ingest"), ctx.price("cloudwatch.logs.storage")
    if log_class == "STANDARD":
        return [
            line(
                f"Log ingestion (1/{count} of {usage.logs_ingested_gb:g} GB)",
                "GB",
                usage.logs_ingested_gb / count,
                ingest,
                usage_based=True,
            ),
            line(
                f"Log storage (1/{count} of {usage.logs_stored_gb:g} GB)",
                "GB-months",
                usage.logs_stored_gb / count,
                storage,
                usage_based=True,
            ),
        ]
    ia_ingest, ia_storage = (
        ctx.price("cloudwatch.logs.ia.ingest_factor"),
        ctx.price("cloudwatch.logs.ia.storage_factor"),
    )
    return [
        line(
            f"Log ingestion, Infrequent Access (1/{count} of {usage.logs_ingested_gb:g} GB)",
            "GB",
            usage.logs_ingested_gb / count,
            ingest,
            usage_based=True,
            factor=ia_ingest.amount,
            also=[ia_ingest],
            how="Standard ingestion x the Infrequent Access factor",
        ),
        line(
            f"Log storage, Infrequent Access (1/{count} of {usage.logs_stored_gb:g} GB)",
            "GB-months",
            usage.logs_stored_gb / count,
            storage,
            usage_based=True,
            factor=ia_storage.amount,
            also=[ia_storage],
            how="Standard storage x the Infrequent Access factor",
        ),
    ]
