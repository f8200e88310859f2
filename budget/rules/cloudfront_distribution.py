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

Several distributions split the assets' traffic (``cloudfront_egress_gb``, ``cloudfront_requests``) by
their ``asset_share`` tags, or equally over the ``assets`` ones without tags: flat-rate plans filled to
their allowance and the rest on one pay-as-you-go distribution (the dynamic one when there is one, billed
with the API and WebSocket figures as one bill, the account's free tier and volume tiers shared).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any

from budget.model import CostLine, PlannedResource, line
from budget.rules.base import RuleContext, RuleError, flag, known, opaque, unreadable_list
from budget.rules.pricing_plan import Plan, plan_covering
from budget.rules.volume_tiers import CLOUDFRONT_TIERS, tiered_lines
from components.config import WEBSOCKET_USAGE_KEYS, UsageConfig
from components.tagging import ASSET_SHARE_TAG, PURCHASE_TAG, SAVINGS_BUNDLE, TRAFFIC_TAG

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


def _load_balancer_origin(origin: dict[str, Any]) -> bool:
    """A custom origin (the load balancer's public name) or a VPC origin (an internal load balancer)."""
    return origin.get("customOriginConfig") is not None or origin.get("vpcOriginConfig") is not None


def carries_websockets(dist: PlannedResource) -> bool:
    """Whether the distribution sends ``/ws`` to the load balancer (a custom or VPC origin), i.e. carries the
    runtime's WebSockets; a behavior or origin list hidden in the preview (unknown or secret) cannot be
    told."""
    behaviors = dist.inputs.get("orderedCacheBehaviors") or []
    origins = dist.inputs.get("origins") or []
    for what, value in (("cache behaviors", behaviors), ("origins", origins)):
        if not isinstance(value, list):
            raise RuleError(f"its {what} are {unreadable_list(value)}: /ws routing cannot be told")
    custom = {o.get("originId") for o in origins if isinstance(o, dict) and _load_balancer_origin(o)}
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


def _tag(dist: PlannedResource, key: str) -> Any:
    tags = dist.inputs.get("tags")
    value = tags.get(key) if isinstance(tags, dict) else None
    if opaque(value):
        raise RuleError(f"tag {key} is unknown until deploy: what the distribution carries cannot be told")
    return value


def traffic_of(dist: PlannedResource) -> str:
    """``assets`` or ``dynamic`` (its ``traffic`` tag); a distribution without the tag is the one
    distribution of a stack that has one (assets, and /ws when it routes it)."""
    value = _tag(dist, TRAFFIC_TAG)
    if value is None:
        return "assets"
    if value not in ("assets", "dynamic"):
        raise RuleError(f"tag {TRAFFIC_TAG}={value!r} has no usage figures (known: assets, dynamic)")
    return str(value)


def bundled(dist: PlannedResource) -> bool:
    """Whether the distribution's ``purchase`` tag records a Security Savings Bundle."""
    value = _tag(dist, PURCHASE_TAG)
    if value is None:
        return False
    if value != SAVINGS_BUNDLE:
        raise RuleError(
            f"tag {PURCHASE_TAG}={value!r} has no price on a distribution (known: {SAVINGS_BUNDLE})"
        )
    return True


def asset_share(dist: PlannedResource, assets: list[PlannedResource]) -> float:
    """The share of the assets' traffic ``dist`` carries: its ``asset_share`` tag, else an equal share of
    the ``assets`` distributions (none on the dynamic one)."""
    value = _tag(dist, ASSET_SHARE_TAG)
    if value is None:
        return 1 / len(assets) if traffic_of(dist) == "assets" else 0.0
    try:
        share = float(value)
    except (TypeError, ValueError):
        share = math.nan
    # 0 is a share: an overflow distribution standing by while Free plans carry the whole rest
    if not 0 <= share <= 1:
        raise RuleError(f"tag {ASSET_SHARE_TAG}={value!r} is not a share of the assets' traffic (0 to 1)")
    return share


def _shares_add_up(everything: list[PlannedResource], assets: list[PlannedResource]) -> None:
    """The assets' traffic is carried once: the distributions' shares add up to 1."""
    total = math.fsum(asset_share(d, assets) for d in everything)
    if not math.isclose(total, 1.0, abs_tol=1e-9):
        raise RuleError(
            f"the distributions' {ASSET_SHARE_TAG} tags add up to {total:.6g} of the assets' traffic, not 1:"
            " the usage block's assets would be priced more or less than once"
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
    everything = ctx.of_type(*TYPES)
    assets = [d for d in everything if traffic_of(d) == "assets"]
    dynamic = [d for d in everything if traffic_of(d) == "dynamic"]
    if len(dynamic) > 1:
        raise RuleError(f"{len(dynamic)} distributions tagged dynamic: the usage block describes one")
    untagged = [d for d in everything if _tag(d, TRAFFIC_TAG) is None]
    if untagged and len(everything) > 1:
        raise RuleError("a second distribution has no usage assumptions (the usage block describes one)")
    _shares_add_up(everything, assets)
    share = asset_share(dist, assets)
    bucket, why = served_bucket(
        known(dist.inputs.get("priceClass"), "input 'priceClass'") or "PriceClass_All",
        ctx.inputs.usage.viewer_region,
    )
    plan = plan_covering(dist, ctx)
    usage = ctx.inputs.usage
    if traffic_of(dist) == "dynamic":
        if plan is not None:
            raise RuleError(
                f"the dynamic distribution on the {plan.title} flat-rate plan: no source says whether a plan"
                " carries WebSocket connections and frames or how they count, so it cannot be priced"
            )
        if any(plan_covering(a, ctx) is None for a in assets):
            raise RuleError(
                "a pay-as-you-go assets distribution beside the dynamic one: the two bill as one (the"
                " account's free tier and volume tiers), which per-distribution usage cannot price"
            )
        kind = f"API and {share:.4g} of the static assets" if share else "API"
        bill = Bill(
            usage.cloudfront_api_egress_gb + usage.cloudfront_egress_gb * share,
            usage.cloudfront_api_requests + usage.cloudfront_requests * share,
            websockets=True,
            kind=kind,
        )
    else:
        if (usage.cloudfront_api_egress_gb or usage.cloudfront_api_requests) and not dynamic:
            raise RuleError("the usage block routes API traffic to a dynamic distribution the stack lacks")
        if plan is not None:
            return _within_plan(dist, ctx, plan, share, websockets_elsewhere=bool(dynamic))
        paying = [a for a in assets if plan_covering(a, ctx) is None]
        if len(paying) > 1:
            raise RuleError(
                f"{len(paying)} pay-as-you-go assets distributions bill as one (the account's free tier"
                " and volume tiers): per-distribution usage cannot price them"
            )
        kind = f"{share:.4g} of the static assets" if share < 1 else "static assets"
        bill = Bill(
            usage.cloudfront_egress_gb * share,
            usage.cloudfront_requests * share,
            websockets=not dynamic,
            kind=kind,
        )
    lines = _pay_as_you_go(ctx, bucket, why, bill)
    return _discounted(lines, ctx) if bundled(dist) else lines


@dataclass(frozen=True)
class Bill:
    """What one pay-as-you-go distribution carries: bytes to viewers, HTTPS requests, and whether the
    stack's WebSocket figures are its own."""

    egress_gb: float
    requests: float
    websockets: bool
    kind: str = "static assets"  # what the egress and requests are


def _discounted(lines: list[CostLine], ctx: RuleContext) -> list[CostLine]:
    """Every charged line at (1 - the Security Savings Bundle's discount): the 1-year commitment is the
    discounted spend (pricing-levers.md section 2; WAF credits not counted)."""
    discount = ctx.price("cloudfront.savings_bundle.discount")
    return [
        replace(
            c,
            name=f"{c.name}, Security Savings Bundle",
            unit_price_usd=c.unit_price_usd * (1 - discount.amount),
            source=f"x (1 - Security Savings Bundle {discount.amount:.0%}: {discount.cite()}); {c.source}",
        )
        if c.unit_price_usd
        else c
        for c in lines
    ]


def _pay_as_you_go(ctx: RuleContext, bucket: str, why: str, bill: Bill) -> list[CostLine]:
    usage = ctx.inputs.usage
    websocket_gb = usage.cloudfront_websocket_egress_gb if bill.websockets else 0.0
    how = why
    if websocket_gb:
        how = (
            f"{why}; {bill.kind} {bill.egress_gb:,.6g} GB + WebSocket frames to viewers"
            f" {websocket_gb:,.6g} GB share the volume tiers and the free allowance"
        )
    lines = tiered_lines(
        ctx,
        f"Data transfer out to viewers ({bucket})",
        bill.egress_gb + websocket_gb,
        f"cloudfront.transfer.{bucket}",
        CLOUDFRONT_TIERS,
        ctx.price("cloudfront.free.transfer_gb"),
        how=how,
    )
    free = ctx.price("cloudfront.free.requests")
    free_requests = min(bill.requests, free.amount)
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
            (bill.requests - free_requests) / 10_000,
            ctx.price(f"cloudfront.requests.https.{bucket}"),
            usage_based=True,
            how=why,
        )
    )
    upgrades = usage.cloudfront_websocket_connections if bill.websockets else 0.0
    if upgrades:
        # The always-free requests are HTTP/HTTPS requests of any kind: what the other requests left over.
        free_upgrades = min(upgrades, free.amount - free_requests)
        if free_upgrades:
            lines.append(
                line(
                    f"WebSocket upgrade requests (free allowance left by the {bill.kind})",
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
    if bill.websockets and usage.cloudfront_websocket_ingress_gb:
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


def _within_plan(
    dist: PlannedResource, ctx: RuleContext, plan: Plan, share: float, websockets_elsewhere: bool
) -> list[CostLine]:
    """$0 lines inside the plan's allowance for ``share`` of the assets' traffic (the site spreads its
    asset links over the distributions by their shares); above it, or with WebSocket traffic, unpriced.

    WebSocket traffic: the distribution routes ``/ws`` (what the stack policy sees), or the usage block
    assumes some and no dynamic distribution carries it, or the stack config says it goes through this
    one (``check``'s view, where all three agree)."""
    usage = ctx.inputs.usage
    ws_here = (websocket_usage(usage) or ctx.inputs.websockets_via_cdn) and not websockets_elsewhere
    if bundled(dist):
        raise RuleError(
            f"a Security Savings Bundle on a distribution on the {plan.title} flat-rate plan: no source says"
            " the bundle applies to a plan's fee"
        )
    if carries_websockets(dist) or ws_here:
        raise RuleError(
            f"WebSocket traffic through a distribution on the {plan.title} flat-rate plan: not found in the"
            " price reference (no source says whether WebSocket connections and frames are allowed on a"
            " plan or how they count against its allowance), so it cannot be priced"
        )
    requests = ctx.price(f"cloudfront.plan.{plan.tier}.requests")
    transfer = ctx.price(f"cloudfront.plan.{plan.tier}.transfer_gb")
    egress_gb, request_count = usage.cloudfront_egress_gb * share, usage.cloudfront_requests * share
    spread = f" ({share:.4g} of the assets' traffic)" if share < 1 else ""
    for used, allowance, unit in (
        (request_count, requests, "requests/month"),
        (egress_gb, transfer, "GB/month of data transfer"),
    ):
        if used > allowance.amount:
            raise RuleError(
                f"{used:,.0f} {unit}{spread} exceeds the {plan.title} plan's {allowance.amount:,.0f} {unit};"
                " AWS may throttle; the allowance is a hard ceiling, not free"
            )
    return [
        line(
            f"Data transfer out to viewers (within the {plan.title} plan allowance, used"
            f" {egress_gb:,.6g} of {transfer.amount:,.0f} GB){spread}",
            "GB",
            egress_gb,
            transfer,
            usage_based=True,
            factor=0.0,
        ),
        line(
            f"HTTPS requests (within the {plan.title} plan allowance, used"
            f" {request_count:,.0f} of {requests.amount:,.0f}){spread}",
            "10k requests",
            request_count / 10_000,
            requests,
            usage_based=True,
            factor=0.0,
        ),
    ]
