"""S3 bucket: storage by class and requests, from the usage block.

The stack's usage figures describe its one asset bucket (static assets and uploads, CloudFront's origin):
they attach to the first bucket the program plans. With Intelligent-Tiering, storage is priced at the
Frequent Access tier (no saving from colder tiers is assumed) plus the per-object monitoring fee.
"""

from __future__ import annotations

from budget.model import CostLine, PlannedResource, line
from budget.rules.base import RuleContext, RuleError

TYPES = ("aws:s3/bucket:Bucket", "aws:s3/bucketV2:BucketV2")


def price(bucket: PlannedResource, ctx: RuleContext) -> list[CostLine]:
    if not ctx.is_first(bucket, *TYPES):
        raise RuleError(
            "a second bucket has no usage assumptions (the usage block describes one asset bucket)"
        )
    usage = ctx.inputs.usage
    lines: list[CostLine] = []
    if ctx.inputs.intelligent_tiering:
        lines.append(
            line(
                "Storage (Intelligent-Tiering, Frequent Access; no tier moves assumed)",
                "GB-months",
                usage.s3_storage_gb,
                ctx.price("s3.it.frequent"),
                usage_based=True,
            )
        )
        lines.append(
            line(
                "Intelligent-Tiering monitoring and automation",
                "1k objects",
                usage.s3_objects / 1000,
                ctx.price("s3.it.monitoring"),
                usage_based=True,
            )
        )
    else:
        lines.append(
            line(
                "Storage (Standard)",
                "GB-months",
                usage.s3_storage_gb,
                ctx.price("s3.standard"),
                usage_based=True,
            )
        )
    lines.append(
        line(
            "PUT, COPY, POST, LIST requests",
            "1k requests",
            usage.s3_put_requests / 1000,
            ctx.price("s3.requests.put"),
            usage_based=True,
        )
    )
    lines.append(
        line(
            "GET and other requests",
            "1k requests",
            usage.s3_get_requests / 1000,
            ctx.price("s3.requests.get"),
            usage_based=True,
        )
    )
    return lines
