"""CloudFront distribution: data transfer out by edge region bucket and volume tier, and HTTPS requests.

A price class that excludes the viewers' region serves them from the nearest included edges and bills at
those edges' rates: PriceClass_100 (North America, Europe) serves African viewers from Europe. The always-free
tier (1 TB and 10 million requests a month) comes off first. Origin fetches from AWS origins are free.

WebSockets through the distribution (``stars:loadBalancer.websockets_via_cdn``, pricing-levers.md "WebSocket
billing"), which the distribution itself shows: a ``/ws`` cache behavior to a custom origin (the load
balancer; :func:`carries_websockets`), so a stack policy that sees only the resources prices it as ``check``
does. The upgrade is a proxy request; server-to-client bytes are data transfer out (the same volume
tiers, the free tier shared with the static assets); client-to-server bytes are regional data transfer to
origin.

On a flat-rate plan (a PricingPlanManager subscription covers the distribution) transfer and requests are
$0 lines within the plan's allowance; above it the distribution is unpriced (the allowance is a hard ceiling:
AWS may throttle), and so is WebSocket traffic, which no source says how a plan counts.
"""

from __future__ import annotations

from typing import Any

from budget.model import CostLine, PlannedResource, line
from budget.rules.base import RuleContext, RuleError, flag, known, opaque
from budget.rules.pricing_plan import Plan, plan_covering
from budget.rules.volume_tiers import CLOUDFRONT_TIERS, tiered_lines
from components.config import WEBSOCKET_USAGE_KEYS, UsageConfig

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
#: The path the runtime serves WebSockets on (components/cdn.py routes ``/ws`` and ``/ws/*``).
WEBSOCKET_PATH = "/ws"


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


def websocket_usage(usage: UsageConfig) -> bool:
    """Whether the stack sends any WebSocket traffic through CloudFront."""
    return any(getattr(usage, key) for key in WEBSOCKET_USAGE_KEYS)


def _is_websocket_path(pattern: Any) -> bool:
    """``/ws`` itself, or a pattern under or around it (``/ws/*``, ``/ws*``); a hidden one may be."""
    if opaque(pattern):
        return True
    return isinstance(pattern, str) and pattern.lstrip("/").startswith(WEBSOCKET_PATH.lstrip("/"))


def carries_websockets(dist: PlannedResource) -> bool:
    """Whether the distribution sends ``/ws`` to a custom origin (the load balancer), i.e. carries the
    runtime's WebSockets; a behavior or origin list unknown until deploy cannot be told apart."""
    behaviors = dist.inputs.get("orderedCacheBehaviors") or []
    origins = dist.inputs.get("origins") or []
    if not isinstance(behaviors, list) or not isinstance(origins, list):
        raise RuleError("its cache behaviors or origins are unknown until deploy: /ws routing cannot be told")
    custom = {
        o.get("originId") for o in origins if isinstance(o, dict) and o.get("customOriginConfig") is not None
    }
    return any(
        isinstance(b, dict)
        and _is_websocket_path(b.get("pathPattern"))
        and (b.get("targetOriginId") in custom or opaque(b.get("targetOriginId")))
        for b in behaviors
    )


def _no_unpriced_features(dist: PlannedResource) -> None:
    """Features billed per request at prices the catalog lacks, on a share of requests no usage figure
    gives: Origin Shield (requests through the shield region) and field-level encryption."""
    origins = known(dist.inputs.get("origins"), "input 'origins'") or []
    for origin in origins if isinstance(origins, list) else []:
        shield = origin.get("originShield") if isinstance(origin, dict) else None
        if isinstance(shield, dict) and flag(shield, "enabled"):
            raise RuleError(
                f"Origin Shield on origin {origin.get('originId')!r}: its request charges have no catalog"
                " price and no usage figure"
            )
    ordered = known(dist.inputs.get("orderedCacheBehaviors"), "input 'orderedCacheBehaviors'") or []
    behaviors = [dist.inputs.get("defaultCacheBehavior"), *(ordered if isinstance(ordered, list) else [])]
    if any(isinstance(b, dict) and b.get("fieldLevelEncryptionId") for b in behaviors):
        raise RuleError(
            "field-level encryption: its per-request charge has no catalog price and no usage figure"
        )


def price(dist: PlannedResource, ctx: RuleContext) -> list[CostLine]:
    certificate = known(dist.inputs.get("viewerCertificate"), "input 'viewerCertificate'") or {}
    method = known(certificate.get("sslSupportMethod"), "viewerCertificate.sslSupportMethod")
    if method == "vip":
        raise RuleError(
            "dedicated-IP custom SSL (viewerCertificate.sslSupportMethod 'vip') has a monthly charge the"
            " catalog lacks"
        )
    _no_unpriced_features(dist)
    if not ctx.is_first(dist, *TYPES):
        raise RuleError("a second distribution has no usage assumptions (the usage block describes one)")
    bucket, why = served_bucket(
        known(dist.inputs.get("priceClass"), "input 'priceClass'") or "PriceClass_All",
        ctx.cfg.usage.viewer_region,
    )
    plan = plan_covering(dist, ctx)
    if plan is not None:
        return _within_plan(dist, ctx, plan)
    return _pay_as_you_go(ctx, bucket, why)


def _pay_as_you_go(ctx: RuleContext, bucket: str, why: str) -> list[CostLine]:
    usage = ctx.cfg.usage
    websocket_gb = usage.cloudfront_websocket_egress_gb
    how = why
    if websocket_gb:
        how = (
            f"{why}; static assets {usage.cloudfront_egress_gb:,.6g} GB + WebSocket frames to viewers"
            f" {websocket_gb:,.6g} GB share the volume tiers and the free allowance"
        )
    lines = tiered_lines(
        ctx,
        f"Data transfer out to viewers ({bucket})",
        usage.cloudfront_egress_gb + websocket_gb,
        f"cloudfront.transfer.{bucket}",
        CLOUDFRONT_TIERS,
        ctx.price("cloudfront.free.transfer_gb"),
        how=how,
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
    upgrades = usage.cloudfront_websocket_connections
    if upgrades:
        # The always-free requests are HTTP/HTTPS requests of any kind: what the static assets left over.
        free_upgrades = min(upgrades, free.amount - free_requests)
        if free_upgrades:
            lines.append(
                line(
                    "WebSocket upgrade requests (free allowance left by the static assets)",
                    "10k requests",
                    free_upgrades / 10_000,
                    free,
                    usage_based=True,
                    factor=0.0,
                )
            )
        lines.append(
            line(
                f"WebSocket upgrade requests, billed as proxy requests ({bucket})",
                "10k requests",
                (upgrades - free_upgrades) / 10_000,
                ctx.price(f"cloudfront.requests.proxy.{bucket}"),
                usage_based=True,
                how=why,
            )
        )
    if usage.cloudfront_websocket_ingress_gb:
        lines.append(
            line(
                f"WebSocket frames from viewers: regional data transfer to origin ({bucket})",
                "GB",
                usage.cloudfront_websocket_ingress_gb,
                ctx.price(f"cloudfront.transfer_to_origin.{bucket}"),
                usage_based=True,
                how=why,
            )
        )
    return lines


def _within_plan(dist: PlannedResource, ctx: RuleContext, plan: Plan) -> list[CostLine]:
    """$0 lines inside the plan's allowance; above it, or with WebSocket traffic, unpriced.

    WebSocket traffic: the distribution routes ``/ws`` (what the stack policy sees), the usage block
    assumes some, or the stack config says so (``check``'s view, where all three agree)."""
    usage = ctx.cfg.usage
    if carries_websockets(dist) or websocket_usage(usage) or ctx.cfg.load_balancer.websockets_via_cdn:
        raise RuleError(
            f"WebSocket traffic through a distribution on the {plan.title} flat-rate plan: not found in the"
            " price reference (no source says whether WebSocket connections and frames are allowed on a"
            " plan or how they count against its allowance), so it cannot be priced"
        )
    requests = ctx.price(f"cloudfront.plan.{plan.tier}.requests")
    transfer = ctx.price(f"cloudfront.plan.{plan.tier}.transfer_gb")
    for used, allowance, unit in (
        (usage.cloudfront_requests, requests, "requests/month"),
        (usage.cloudfront_egress_gb, transfer, "GB/month of data transfer"),
    ):
        if used > allowance.amount:
            raise RuleError(
                f"{used:,.0f} {unit} exceeds the {plan.title} plan's {allowance.amount:,.0f} {unit};"
                " AWS may throttle; the allowance is a hard ceiling, not free"
            )
    return [
        line(
            f"Data transfer out to viewers (within the {plan.title} plan allowance, used"
            f" {usage.cloudfront_egress_gb:,.6g} of {transfer.amount:,.0f} GB)",
            "GB",
            usage.cloudfront_egress_gb,
            transfer,
            usage_based=True,
            factor=0.0,
        ),
        line(
            f"HTTPS requests (within the {plan.title} plan allowance, used"
            f" {usage.cloudfront_requests:,.0f} of {requests.amount:,.0f})",
            "10k requests",
            usage.cloudfront_requests / 10_000,
            requests,
            usage_based=True,
            factor=0.0,
        ),
    ]
