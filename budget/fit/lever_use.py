"""Which cost levers a configuration takes, read off the configuration itself.

A proposal's ``levers`` field lists them (``best.levers`` in fit's JSON), so an owner or a script sees what
the cheapest plan rests on without parsing its summary. Each lever is read from the stack file's own keys,
the same ones ``--write`` writes, so the list cannot disagree with the configuration that was priced.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from components.config import StackConfig

_BURSTABLE = ("t3.", "t3a.", "t4g.")


@dataclass(frozen=True)
class LeverUse:
    """One lever: its key in fit's JSON, and the test that says a configuration takes it."""

    key: str
    title: str
    taken: Callable[[StackConfig], bool]


def _servers(cfg: StackConfig) -> list[str]:
    return [tier.instance_type for tier in cfg.server_tiers.values()]


def _commitments(cfg: StackConfig) -> list[str]:
    tiers = [tier.commitment for tier in cfg.server_tiers.values()]
    return [*tiers, cfg.database.commitment, cfg.cache.commitment]


def _burstable(cfg: StackConfig) -> bool:
    classes = [*_servers(cfg), cfg.database.instance_class.removeprefix("db.")]
    return any(name.startswith(_BURSTABLE) for name in classes)


LEVERS: tuple[LeverUse, ...] = (
    LeverUse("domain", "a domain of your own on the load balancer", lambda c: c.load_balancer.tls),
    LeverUse(
        "combined_app_group",
        "one server group for the API and /ws",
        lambda c: c.app is not None,
    ),
    LeverUse(
        "graviton",
        "Graviton (arm64) servers",
        lambda c: any(t.architecture == "arm64" for t in c.server_tiers.values()),
    ),
    LeverUse("burstable_credits", "T-family servers on their CPU credits", _burstable),
    LeverUse(
        "spot",
        "spot instances above an on-demand base",
        lambda c: any(t.spot.enabled for t in c.server_tiers.values()),
    ),
    LeverUse(
        "off_peak_schedule",
        "a smaller group off peak",
        lambda c: any(t.schedule.enabled for t in c.server_tiers.values()),
    ),
    LeverUse(
        "reserved_1yr",
        "1-year reservations for what runs all month",
        lambda c: "reserved_1yr" in _commitments(c),
    ),
    LeverUse("valkey", "Valkey instead of Redis OSS", lambda c: c.cache.engine == "valkey"),
    LeverUse(
        "network_load_balancer",
        "a Network Load Balancer",
        lambda c: c.load_balancer.type == "network",
    ),
    LeverUse(
        "cloudfront_vpc_origin",
        "an internal load balancer behind a CloudFront VPC origin",
        lambda c: c.load_balancer.origin == "vpc_origin",
    ),
    LeverUse(
        "websocket_vpc_origin",
        "/ws on an internal NLB of its own behind a CloudFront VPC origin, the API alone on the public one",
        lambda c: c.load_balancer.websocket_internal,
    ),
    LeverUse(
        "websockets_via_cloudfront",
        "WebSockets through CloudFront",
        lambda c: c.load_balancer.websockets_via_cdn,
    ),
    LeverUse(
        "cloudfront_flat_rate",
        "CloudFront flat-rate plans for the assets",
        lambda c: c.cdn.enabled and c.cdn.plan != "pay_as_you_go",
    ),
    LeverUse(
        "cloudfront_asset_overflow",
        "the assets beyond the plans' allowance pay as you go",
        lambda c: c.cdn.asset_overflow == "pay_as_you_go",
    ),
    LeverUse(
        "cloudfront_free_plans",
        "Free flat-rate plans beside the plans, filled before the overflow",
        lambda c: c.cdn.enabled and c.cdn.free_asset_distributions > 0,
    ),
    LeverUse(
        "cloudfront_savings_bundle",
        "the CloudFront Security Savings Bundle",
        lambda c: c.cdn.enabled and c.cdn.savings_bundle,
    ),
    LeverUse(
        "public_egress",
        "servers in public subnets (no NAT gateway)",
        lambda c: c.network.private_egress == "public",
    ),
    LeverUse(
        "single_zone_placement",
        "servers in the data stores' zone (no inter-AZ transfer)",
        lambda c: c.network.placement == "single_zone",
    ),
    LeverUse(
        "logs_infrequent_access",
        "CloudWatch Logs Infrequent Access",
        lambda c: c.monitoring.log_class == "infrequent_access",
    ),
    LeverUse(
        "s3_intelligent_tiering",
        "S3 Intelligent-Tiering",
        lambda c: c.cdn.enabled and c.cdn.intelligent_tiering,
    ),
)

TITLES: dict[str, str] = {lever.key: lever.title for lever in LEVERS}


def levers_taken(cfg: StackConfig) -> list[str]:
    """The keys of the levers ``cfg`` takes, in the order of :data:`LEVERS`."""
    return [lever.key for lever in LEVERS if lever.taken(cfg)]
