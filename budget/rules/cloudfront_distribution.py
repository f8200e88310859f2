"""CloudFront distribution: data transfer out by edge region bucket and volume tier, and HTTPS requests.

A price class that excludes the viewers' region serves them from the nearest included edges and bills at
those edges' rates: PriceClass_100 (North America, Europe) serves African viewers from Europe. The always-free
tier (1 TB and 10 million requests a month) comes off first. Origin fetches from AWS origins are free.
"""

from __future__ import annotations

from budget.model import CostLine, PlannedResource, line
from budget.rules.base import RuleContext, RuleError
from budget.rules.volume_tiers import CLOUDFRONT_TIERS, tiered_lines

TYPES = ("aws:cloudfront/distribution:Distribution",)
#: Edge region buckets each price class includes (AWS CloudFront price classes; only the buckets the
#: catalog prices). Viewers outside the class are served from the nearest included bucket.
PRICE_CLASS_BUCKETS = {
    "PriceClass_100": ("north_america", "europe"),
    "PriceClass_200": ("north_america", "europe", "south_africa_kenya_nigeria_middle_east", "india"),
    "PriceClass_All": ("north_america", "europe", "south_africa_kenya_nigeria_middle_east", "india"),
}
#: Nearest included bucket for viewers whose bucket the price class excludes.
NEAREST = {"south_africa_kenya_nigeria_middle_east": "europe", "india": "europe"}


def served_bucket(price_class: str, viewer: str) -> tuple[str, str]:
    """The bucket that serves (and bills) viewers in ``viewer`` under ``price_class``, and why."""
    included = PRICE_CLASS_BUCKETS.get(price_class)
    if included is None:
        raise RuleError(f"unknown priceClass '{price_class}'")
    if viewer in included:
        return viewer, f"viewers in {viewer}, included in {price_class}"
    nearest = NEAREST.get(viewer)
    if nearest is None or nearest not in included:
        raise RuleError(f"{price_class} excludes viewer region {viewer} and no nearer bucket is known")
    return nearest, f"{price_class} excludes {viewer}: viewers served and billed at {nearest} edges"


def price(dist: PlannedResource, ctx: RuleContext) -> list[CostLine]:
    if not ctx.is_first(dist, *TYPES):
        raise RuleError("a second distribution has no usage assumptions (the usage block describes one)")
    usage = ctx.cfg.usage
    bucket, why = served_bucket(dist.inputs.get("priceClass") or "PriceClass_All", usage.viewer_region)
    lines = tiered_lines(
        ctx,
        f"Data transfer out to viewers ({bucket})",
        usage.cloudfront_egress_gb,
        f"cloudfront.transfer.{bucket}",
        CLOUDFRONT_TIERS,
        ctx.price("cloudfront.free.transfer_gb"),
        how=why,
    )
    free = ctx.price("cloudfront.free.requests")
    free_requests = min(usage.cloudfront_requests, free.amount)
    if free_requests:
        lines.append(
            line(
                "HTTPS requests (free allowance)",
                "10k requests",
                free_requests / 10_000,
                free,
                usage_based=True,
                factor=0.0,
            )
        )
    lines.append(
        line(
            f"HTTPS requests ({bucket})",
            "10k requests",
            (usage.cloudfront_requests - free_requests) / 10_000,
            ctx.price(f"cloudfront.requests.https.{bucket}"),
            usage_based=True,
            how=why,
        )
    )
    return lines
