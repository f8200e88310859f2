"""From what the users need (``stars:demand``) to the usage figures an architecture implies.

The same users cost differently depending on where their traffic goes: static assets through CloudFront,
WebSocket and API responses out of the load balancer, software updates through a NAT gateway or not at
all. ``routed_usage`` recomputes exactly those ``stars:usage`` figures from the demand for the stack's
architecture and keeps every other figure as the stack states it. Nothing here lowers demand: a
configuration the fit proposes moves the same bytes and requests elsewhere, it never removes them.

The plan's own architecture is one point of this: a test holds that each phase's stated usage block
equals ``routed_usage`` of its own config, so the stack files and the demand cannot drift apart.
"""

from __future__ import annotations

from typing import Any

from components.config import DemandConfig, StackConfig, UsageConfig

HOURS_PER_MONTH = 730.0
#: CloudFront misses that reach S3: 10% of viewer requests (the stack files' stated assumption).
S3_MISS_RATIO = 0.10
#: Database backup storage over the retention window: 1.5 x the data (the stack files' assumption).
BACKUP_FACTOR = 1.5
#: Seconds in a 730-hour month.
SECONDS_PER_MONTH = HOURS_PER_MONTH * 3600


class DemandError(ValueError):
    """The stack has no demand block, or its demand cannot be routed through its architecture."""


def demand_of(cfg: StackConfig) -> DemandConfig:
    if cfg.demand is None:
        raise DemandError(
            f"stack {cfg.stack} has no stars:demand block: the users, traffic and availability class the"
            " phase must carry (see the phase stack files for the keys and their derivation)"
        )
    return cfg.demand


def _clean(value: float) -> float | int:
    """Whole numbers as ints, others to 2 decimals, as the stack files write them."""
    rounded = round(value, 2)
    return int(rounded) if rounded == int(rounded) else rounded


def routed_figures(cfg: StackConfig, stated: UsageConfig | None = None) -> dict[str, Any]:
    """The routed usage figures of ``cfg``'s architecture (``stated`` supplies the NAT volume)."""
    d = demand_of(cfg)
    stated = stated or cfg.usage
    users = d.concurrent_users
    transfer = users * d.transfer_gb_per_user_per_month
    static_gb = transfer * d.static_share
    dynamic_gb = transfer - static_gb
    static_requests = static_gb * 1e6 / d.average_object_kb
    # WebSockets through CloudFront: their frames leave at CloudFront's rates, the rest of the dynamic
    # traffic (API responses) still leaves through the load balancer
    via_cdn = cfg.cdn.enabled and cfg.load_balancer.websockets_via_cdn
    websocket_gb = users * d.websocket_gb_per_user_per_month if via_cdn else 0.0
    # Without a certificate on the load balancer CloudFront carries the API as well (the only TLS the
    # clients get): its responses and requests bill at CloudFront's rates, nothing leaves the load
    # balancer directly (origin fetches to CloudFront are free).
    api_via_cdn = via_cdn and not cfg.load_balancer.tls
    api_gb = dynamic_gb - websocket_gb if cfg.cdn.enabled else 0.0
    api_requests = users * d.api_requests_per_user_per_second * SECONDS_PER_MONTH
    figures: dict[str, Any] = {
        "cloudfront_egress_gb": (static_gb + (api_gb if api_via_cdn else 0.0)) if cfg.cdn.enabled else 0.0,
        "cloudfront_requests": (
            (static_requests + (api_requests if api_via_cdn else 0.0)) if cfg.cdn.enabled else 0.0
        ),
        "internet_egress_gb": (0.0 if api_via_cdn else api_gb) if cfg.cdn.enabled else transfer,
        "cloudfront_websocket_egress_gb": websocket_gb,
        "cloudfront_websocket_ingress_gb": (
            users * d.websocket_upload_gb_per_user_per_month if via_cdn else 0.0
        ),
        # every new connection counted as a WebSocket upgrade (API connections too: the larger figure)
        "cloudfront_websocket_connections": (
            users * d.new_connections_per_user_per_second * SECONDS_PER_MONTH if via_cdn else 0.0
        ),
        # NAT carries releases, OS updates and AWS API calls, which grow with servers, not users: the
        # stack states the volume; without NAT nothing goes through one.
        "nat_processed_gb": stated.nat_processed_gb if cfg.network.private_egress == "nat" else 0.0,
        "alb_new_connections_per_second": users * d.new_connections_per_user_per_second,
        "alb_active_connections": users * d.connections_per_user,
        "alb_processed_gb_per_hour": dynamic_gb / HOURS_PER_MONTH,
        "alb_rule_evaluations_per_second": users * d.api_requests_per_user_per_second,
        "s3_get_requests": static_requests * S3_MISS_RATIO if cfg.cdn.enabled else 0.0,
        "rds_backup_storage_gb": d.database_storage_gb * BACKUP_FACTOR,
    }
    return {key: _clean(value) for key, value in figures.items()}


def routed_usage(cfg: StackConfig, stated: UsageConfig | None = None) -> UsageConfig:
    """``cfg``'s usage block with the routed figures recomputed from its demand and architecture."""
    if cfg.network.private_egress == "nat" and (stated or cfg.usage).nat_processed_gb <= 0:
        raise DemandError(f"stack {cfg.stack}: NAT egress needs a stated nat_processed_gb above 0")
    return (stated or cfg.usage).model_copy(update=routed_figures(cfg, stated))


def with_routed_usage(cfg: StackConfig, stated: UsageConfig | None = None) -> StackConfig:
    """``cfg`` with its usage re-derived for its own architecture (what ``budget fit`` prices)."""
    return cfg.model_copy(update={"usage": routed_usage(cfg, stated)})


def usage_drift(cfg: StackConfig) -> dict[str, tuple[float, float]]:
    """Routed figures whose stated value differs from the derivation: {key: (stated, derived)}."""
    derived = routed_figures(cfg)
    return {
        key: (getattr(cfg.usage, key), value)
        for key, value in derived.items()
        if abs(getattr(cfg.usage, key) - value) > 1e-9
    }
