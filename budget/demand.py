"""From what the users need (``stars:demand``) to the usage figures an architecture implies.

As an AWS cost expert models it: **bytes come from the month's total** the plan states (10-50 TB a month
at 100,000 users: ``transfer_gb_per_user_per_month`` x users), **capacity from the peak** (users and their
per-second rates). The real-time frames are counted, not assumed: deliveries a second x the frame's bytes
x the seconds a month at the peak rate, plus the keepalive pings; the daily profile (``peak_to_average``,
the busiest hour over the average hour) says how many hours a day run at the peak rate. What is left of
the total after the frames is split between static assets (``static_share``, through CloudFront) and API
responses (through the load balancer). A demand whose frames alone exceed its total is inconsistent and
refused; any other is accepted, however low.

The total is what the users consume; the wire carries less of it. The runtime sends its frames compressed
with permessage-deflate (``stars:demand.websocket_deflate``, the runtime's ``STARS_WS_DEFLATE``, on by
default): the delivered frames' bytes on the wire are their raw bytes x the ratio the kept deflate run
measured for frames of their size (``budget/deflate.py``: 131 / 159 B = 0.824 for the 171-byte frame, the
short chat message, the least saving of the two measured frames around it). Pings, pongs and the clients'
publishes stay raw. The consistency check (frames within the total) and the split of the rest between
static and API are on the raw frames; the bytes compression saves leave the wire total
(``Traffic.wire_gb``), they are not served as static assets or API responses instead. No readable deflate
run with the setting on is a one-line :class:`DemandError`.

The same users cost differently depending on where their traffic goes: static assets through CloudFront,
WebSocket and API responses out of the load balancer, software updates through a NAT gateway or not at
all. ``routed_usage`` recomputes exactly those ``stars:usage`` figures from the demand for the stack's
architecture and keeps every other figure as the stack states it. Nothing here lowers demand: a
configuration the fit proposes moves the same bytes and requests elsewhere, it never removes them.
Load-balancer capacity units are billed per hour on the highest of their dimensions: they are taken on
the month's average of each (peak / ``peak_to_average``), exact while one dimension leads every hour.

The plan's own architecture is one point of this: a test holds that each phase's stated usage block
equals ``routed_usage`` of its own config, so the stack files and the demand cannot drift apart.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from budget.deflate import DeflateRunError, WireRatio, wire_ratio
from components.config import DemandConfig, StackConfig, UsageConfig

HOURS_PER_MONTH = 730.0
#: CloudFront misses that reach S3: 10% of viewer requests (the stack files' stated assumption).
S3_MISS_RATIO = 0.10
#: Database backup storage over the retention window: 1.5 x the data (the stack files' assumption).
BACKUP_FACTOR = 1.5
#: Seconds in a 730-hour month.
SECONDS_PER_MONTH = HOURS_PER_MONTH * 3600
#: The runtime's keepalive ping: a 2-byte frame with no payload (runtime/keepalive.py, RFC 6455 5.5.2),
#: and the client's pong: 2 bytes of header and the 4-byte mask every client frame carries (RFC 6455 5.3).
PING_BYTES = 2.0
PONG_BYTES = 6.0
BYTES_PER_GB = 1e9


#: The demand keys that make a demand move no bytes at all (its users, rates and capacity unchanged):
#: what ``budget fit`` prices as "with no data transfer at all".
NO_TRANSFER = {
    "transfer_gb_per_user_per_month": 0.0,
    "websocket_frame_bytes": 0.0,
    "keepalive_interval_s": 0.0,
}


class DemandError(ValueError):
    """The stack has no demand block, or its demand is inconsistent or cannot be routed."""


@dataclass(frozen=True)
class Traffic:
    """A month of the phase's traffic, in GB and requests, by kind.

    ``total_gb`` is what the users consume (the plan's total); ``websocket_gb`` the delivered frames and
    pings on the wire (compressed where ``deflate`` says), ``websocket_raw_gb`` the same uncompressed."""

    total_gb: float
    websocket_gb: float
    websocket_upload_gb: float
    static_gb: float
    api_gb: float
    static_requests: float
    peak_seconds: float
    websocket_raw_gb: float
    deflate: WireRatio

    @property
    def load_balancer_gb(self) -> float:
        """Bytes through the load balancer (both directions) when WebSockets and the API go through it."""
        return self.websocket_gb + self.websocket_upload_gb + self.api_gb

    @property
    def deflate_saved_gb(self) -> float:
        """What permessage-deflate keeps off the wire: it is not served, so it is billed nowhere."""
        return self.websocket_raw_gb - self.websocket_gb

    @property
    def wire_gb(self) -> float:
        """The bytes that leave for the users: the total less what compression saves."""
        return self.total_gb - self.deflate_saved_gb


def peak_seconds(d: DemandConfig) -> float:
    """Seconds a month at the peak rate: the month over the daily profile's peak-to-average ratio."""
    return SECONDS_PER_MONTH / d.peak_to_average


def websocket_gb(d: DemandConfig, ratio: float = 1.0) -> tuple[float, float]:
    """WebSocket GB a month to the users and from them: frames delivered (published) x the frame's bytes,
    plus the keepalive pings (pongs), over the seconds at the peak rate. ``ratio``: the delivered frames'
    bytes on the wire over their own (permessage-deflate); control frames and uploads stay raw."""
    seconds = peak_seconds(d)
    users = d.concurrent_users
    pings = users * d.connections_per_user * seconds / d.keepalive_interval_s if d.keepalive_interval_s else 0
    frames = users * d.deliveries_per_user_per_second * d.websocket_frame_bytes * seconds
    down = frames * ratio + pings * PING_BYTES
    up = users * d.publishes_per_user_per_second * d.websocket_frame_bytes * seconds + pings * PONG_BYTES
    return down / BYTES_PER_GB, up / BYTES_PER_GB


def deflate_of(d: DemandConfig) -> WireRatio:
    """The delivered frames' ratio on the wire; no readable kept run with the setting on: DemandError."""
    try:
        return wire_ratio(d.websocket_deflate, d.websocket_frame_bytes)
    except DeflateRunError as exc:
        raise DemandError(f"stars:demand.websocket_deflate is true but {exc}") from None


def websocket_floor_gb_per_user(d: DemandConfig) -> float:
    """The least ``transfer_gb_per_user_per_month`` consistent with the deliveries: their raw frames."""
    return websocket_gb(d)[0] / d.concurrent_users


def traffic(d: DemandConfig) -> Traffic:
    """The month's bytes and requests; a total below what the real-time frames alone need is refused."""
    total = d.concurrent_users * d.transfer_gb_per_user_per_month
    raw, up = websocket_gb(d)
    if raw > total + 1e-9:
        raise DemandError(
            f"inconsistent stars:demand: the real-time frames alone are {raw:,.1f} GB a month"
            f" ({d.deliveries_per_user_per_second:g} deliveries/s x {d.websocket_frame_bytes:g} B x"
            f" {peak_seconds(d):,.0f} s at the peak rate, x {d.concurrent_users:,} users, plus pings),"
            f" more than transfer_gb_per_user_per_month x users = {total:,.1f} GB; transfer must be at"
            f" least {websocket_floor_gb_per_user(d):.4f} GB per user"
        )
    deflate = deflate_of(d)
    rest = total - raw
    static = rest * d.static_share
    return Traffic(
        total_gb=total,
        websocket_gb=websocket_gb(d, deflate.ratio)[0],
        websocket_upload_gb=up,
        static_gb=static,
        api_gb=rest - static,
        static_requests=static * 1e6 / d.average_object_kb,
        peak_seconds=peak_seconds(d),
        websocket_raw_gb=raw,
        deflate=deflate,
    )


def demand_of(cfg: StackConfig) -> DemandConfig:
    """The stack's demand, checked for consistency (its frames fit in its monthly total)."""
    if cfg.demand is None:
        raise DemandError(
            f"stack {cfg.stack} has no stars:demand block: the users, traffic and availability class the"
            " phase must carry (see the phase stack files for the keys and their derivation)"
        )
    traffic(cfg.demand)
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
    t = traffic(d)
    cdn = cfg.cdn.enabled
    # WebSockets through CloudFront: their frames leave at CloudFront's rates, the API responses still
    # leave through the load balancer; without CloudFront everything does
    via_cdn = cdn and cfg.load_balancer.websockets_via_cdn
    # Without a certificate on the load balancer CloudFront carries the API as well (the only TLS the
    # clients get): its responses and requests bill at CloudFront's rates, nothing leaves the load
    # balancer directly (origin fetches to CloudFront are free).
    api_via_cdn = via_cdn and not cfg.load_balancer.tls
    # ... on the dynamic distribution when there is one (its own figures), else with the assets.
    api_apart = api_via_cdn and cfg.cdn.dynamic_distribution
    api_with_assets = api_via_cdn and not api_apart
    api_requests = users * d.api_requests_per_user_per_second * t.peak_seconds
    average = 1 / d.peak_to_average
    # /ws on an internal load balancer of its own (a CloudFront VPC origin): the public one carries the API
    ws_apart = via_cdn and cfg.load_balancer.websocket_internal
    # a load balancer the API's clients reach directly (TLS on it) holds their API connections open too:
    # at most each request's keep-alive (``DemandConfig.api_connections_per_user``)
    api_connections = 0.0 if api_via_cdn else users * d.api_connections_per_user
    held = 0.0 if ws_apart else users * d.connections_per_user
    new_connections = users * d.new_connections_per_user_per_second * average
    figures: dict[str, Any] = {
        "cloudfront_egress_gb": (t.static_gb + (t.api_gb if api_with_assets else 0.0)) if cdn else 0.0,
        "cloudfront_requests": (
            (t.static_requests + (api_requests if api_with_assets else 0.0)) if cdn else 0.0
        ),
        "cloudfront_api_egress_gb": t.api_gb if api_apart else 0.0,
        "cloudfront_api_requests": api_requests if api_apart else 0.0,
        "internet_egress_gb": (
            (0.0 if api_via_cdn else t.api_gb) + (0.0 if via_cdn else t.websocket_gb) if cdn else t.wire_gb
        ),
        "cloudfront_websocket_egress_gb": t.websocket_gb if via_cdn else 0.0,
        "cloudfront_websocket_ingress_gb": t.websocket_upload_gb if via_cdn else 0.0,
        # every new connection counted as a WebSocket upgrade (API connections too: the larger figure)
        "cloudfront_websocket_connections": (
            users * d.new_connections_per_user_per_second * t.peak_seconds if via_cdn else 0.0
        ),
        # NAT carries releases, OS updates and AWS API calls, which grow with servers, not users: the
        # stack states the volume; without NAT nothing goes through one.
        "nat_processed_gb": stated.nat_processed_gb if cfg.network.private_egress == "nat" else 0.0,
        # the demand does not split new connections between /ws and the API: each load balancer takes
        # the whole figure (an upper bound when there are two)
        "alb_new_connections_per_second": new_connections,
        "alb_active_connections": (held + api_connections) * average,
        "alb_processed_gb_per_hour": (
            (t.api_gb if ws_apart else t.load_balancer_gb + (0.0 if cdn else t.static_gb)) / HOURS_PER_MONTH
        ),
        "websocket_lb_new_connections_per_second": new_connections if ws_apart else 0.0,
        "websocket_lb_active_connections": users * d.connections_per_user * average if ws_apart else 0.0,
        "websocket_lb_processed_gb_per_hour": (
            (t.websocket_gb + t.websocket_upload_gb) / HOURS_PER_MONTH if ws_apart else 0.0
        ),
        "alb_rule_evaluations_per_second": users * d.api_requests_per_user_per_second * average,
        "s3_get_requests": t.static_requests * S3_MISS_RATIO if cdn else 0.0,
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
