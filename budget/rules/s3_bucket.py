"""S3 bucket: storage by class and requests, from the usage block.

The stack's usage figures describe its one asset bucket (static assets and uploads, CloudFront's origin):
they attach to the first bucket the program plans. With Intelligent-Tiering, storage is priced at the
Frequent Access tier except the stated share not read for 30 days (``s3_infrequent_share``, default 0: not
measured), which is priced at the Infrequent Access tier, plus the per-object monitoring fee. The 90-day
Archive Instant Access tier is not assumed (a colder share would only make the saving larger).
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
        cold = usage.s3_infrequent_share
        lines.append(
            line(
                f"Storage (Intelligent-Tiering, Frequent Access: {1 - cold:.0%} of the GB)"
                if cold
                else "Storage (Intelligent-Tiering, Frequent Access; no tier moves assumed)",
                "GB-months",
                usage.s3_storage_gb * (1 - cold),
                ctx.price("s3.it.frequent"),
                usage_based=True,
            )
        )
        if cold:
            lines.append(
                line(
                    f"Storage (Intelligent-Tiering, Infrequent Access: {cold:.0%} not read for 30 days)",
                    "GB-months",
                    usage.s3_storage_gb * cold,
                    ctx.price("s3.it.infrequent"),
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
