"""The typed, validated configuration of one phase stack.

The stack file (``Pulumi.<stack>.yaml``) is read once into :class:`StackConfig`. Every tier and the
budget check read this model, never the raw Pulumi config, so a typo or an impossible value is
caught in one place with a message that names the key, the value and what is allowed.

Structured blocks live under the ``stars:`` namespace (``stars:api``, ``stars:database`` ...) because
the ``Pulumi.yaml`` schema has no object type; the region is Pulumi's own ``aws:region``.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal, Self

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    ValidationError,
    field_validator,
    model_validator,
)

from components.bounded_input import (
    CONFIG_VALUE_BYTES,
    MESSAGE_CHARS,
    STACK_FILE_BYTES,
    InputError,
    load_json,
    read_yaml,
    short,
    shown,
)

NAMESPACE = "stars"

#: Regions whose prices the budget catalog carries.
SUPPORTED_REGIONS = ("us-east-1", "eu-west-1", "af-south-1")

#: Instance types the program may deploy: exactly those the budget catalog prices in every region that
#: offers them (see ``UNAVAILABLE_IN_REGION``).
EC2_INSTANCE_TYPES = (
    "t3.small",
    "t3.medium",
    "t3.large",
    "t4g.medium",
    "t4g.large",
    "c6g.large",
    "c7g.large",
    "t3.micro",
    "t3.xlarge",
    "t4g.micro",
    "t4g.small",
    "t4g.xlarge",
    "m7g.large",
    "m7g.xlarge",
    "m6g.large",
    "c6g.xlarge",
)
RDS_INSTANCE_CLASSES = (
    "db.t3.medium",
    "db.t3.large",
    "db.t4g.medium",
    "db.t4g.large",
    "db.t3.micro",
    "db.t3.small",
    "db.t4g.micro",
    "db.t4g.small",
    "db.t4g.xlarge",
    "db.m7g.large",
    "db.m6g.large",
)
CACHE_NODE_TYPES = (
    "cache.t3.small",
    "cache.t4g.small",
    "cache.t3.medium",
    "cache.t4g.medium",
    "cache.t3.micro",
    "cache.t4g.micro",
)

#: Types a region does not offer (a fact about the region, not a price), with the source that says so.
#: Config validation refuses them there; the budget catalog need not price them there.
UNAVAILABLE_IN_REGION: dict[str, dict[str, str]] = {
    "af-south-1": {
        **{
            node: "ElastiCache offers no cache.t4g nodes in af-south-1: only cache.t3 (micro/small/medium),"
            " cache.m5 and cache.r5 have af-south-1 prices (LeanerCloud/ec2-instances-info"
            " data/elasticache-instances.json, 2025-04-24; reference/pricing-levers.md section 9)"
            for node in ("cache.t4g.micro", "cache.t4g.small", "cache.t4g.medium")
        },
        "c7g.large": "c7g is not listed for af-south-1 while t4g, m6g, m7g and c6g are (AWS Spot Instance"
        " Advisor data in alexei-led/spotinfo, 2025-06-28; reference/pricing-levers.md section 4;"
        " inferred, not confirmed by an on-demand price list)",
    },
}

#: Retention values CloudWatch Logs accepts.
LOG_RETENTION_DAYS = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1827, 3653)

#: CloudFront edge-location pricing buckets the budget catalog knows.
EDGE_REGIONS = ("north_america", "europe", "south_africa_kenya_nigeria_middle_east", "india")

PHASES = ("phase1", "phase2", "phase3")

#: CloudFront flat-rate plans that allow only AWS-managed cache policies, and the TTL of the managed
#: CachingOptimized policy the assets use then.
CDN_MANAGED_POLICY_PLANS = ("free", "pro")
MANAGED_CACHE_POLICY_TTL = 86400
#: Most distributions ``stars:cdn.asset_distributions`` may ask for (each with its own plan and web ACL):
#: every further name is one more TLS connection per viewer (browsers do not share a connection between
#: two cloudfront.net names), which a phone on a Tanzanian mobile network pays for in latency.
MAX_ASSET_DISTRIBUTIONS = 4
#: Free flat-rate plans an AWS account may hold (pricing-levers.md section 1, "Account limits").
FREE_PLANS_PER_ACCOUNT = 3
#: Usage that only exists when WebSockets go through CloudFront.
WEBSOCKET_USAGE_KEYS = (
    "cloudfront_websocket_egress_gb",
    "cloudfront_websocket_ingress_gb",
    "cloudfront_websocket_connections",
)
#: Usage of the internal /ws load balancer (``stars:loadBalancer.websocket_origin: vpc_origin``); the
#: ``alb_*`` figures are then the public load balancer's (the API's) alone.
WEBSOCKET_LB_USAGE_KEYS = (
    "websocket_lb_new_connections_per_second",
    "websocket_lb_active_connections",
    "websocket_lb_processed_gb_per_hour",
)


class ConfigError(ValueError):
    """An invalid stack configuration; the message names each bad key, its value and what is allowed."""


class _Strict(BaseModel):
    """Base for every block: unknown keys are errors (a typo must not silently fall back to a default)."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


def _one_of(value: Any, allowed: tuple[Any, ...]) -> Any:
    if value not in allowed:
        raise ValueError(f"must be one of {', '.join(map(str, allowed))}")
    return value


class NetworkConfig(_Strict):
    """VPC layout. ``private_egress`` decides how the servers reach AWS APIs and package mirrors."""

    cidr: str = Field(description="VPC IPv4 CIDR, /16 to /24")
    az_count: int = Field(ge=2, le=3, description="availability zones to spread subnets over")
    private_egress: Literal["nat", "endpoints", "none", "public"] = Field(
        description="nat: NAT gateway(s); endpoints: VPC endpoints for AWS services only; none: no egress;"
        " public: servers in the public subnets with a public IPv4 each, reachable only from the load"
        " balancer (no NAT, no endpoints; data stores stay private)"
    )
    nat_gateways: Literal["single", "per_az"] = "single"
    placement: Literal["spread", "single_zone"] = Field(
        default="spread",
        description="spread: the servers in every zone's subnet; single_zone: the servers, the database and"
        " the cache node in the first zone, so their traffic never crosses zones (no inter-AZ transfer);"
        " a single-AZ plan (Single-AZ database, one cache node); the load balancer keeps every zone",
    )

    @field_validator("cidr")
    @classmethod
    def _cidr(cls, value: str) -> str:
        try:
            net = ipaddress.IPv4Network(value)
        except ValueError as exc:
            raise ValueError(f"must be an IPv4 CIDR such as 10.20.0.0/16 ({exc})") from None
        if not 16 <= net.prefixlen <= 24:
            raise ValueError("prefix length must be between /16 and /24")
        return value

    @property
    def servers_public(self) -> bool:
        """Whether the servers run in the public subnets with their own public IPv4 (``public`` egress)."""
        return self.private_egress == "public"


class LoadBalancerConfig(_Strict):
    """The load balancer. A long idle timeout keeps quiet WebSocket connections open.

    ``type`` network: an NLB (TCP, or TLS with a certificate), priced by NLCUs instead of LCUs; it cannot
    route by path, so each server tier gets its own listener port. ``websockets_via_cdn``: viewers reach
    ``/ws`` through CloudFront, which bills their bytes at CloudFront's rates instead of the region's.
    """

    type: Literal["application", "network"] = Field(
        default="application",
        description="application (ALB, path routing) or network (NLB, one port per tier)",
    )
    idle_timeout_seconds: int = Field(ge=60, le=4000)
    deregistration_delay_seconds: int = Field(ge=0, le=3600)
    certificate_arn: str | None = Field(default=None, description="ACM certificate; enables HTTPS")
    domain: str | None = Field(
        default=None,
        description="the name clients use for the API and WebSockets: an ACM certificate for it (DNS"
        " validation) puts TLS on the load balancer",
    )
    zone_id: str | None = Field(
        default=None, description="Route 53 hosted zone of domain: validation and alias records"
    )
    websockets_via_cdn: bool = Field(
        default=False, description="route /ws through the CloudFront distribution (needs stars:cdn.enabled)"
    )
    origin: Literal["public", "vpc_origin"] = Field(
        default="public",
        description="public: an internet-facing load balancer (without a certificate it admits only"
        " CloudFront's origin-facing prefix list and requests with the secret origin header);"
        " vpc_origin: an internal load balancer (no public endpoint, no public IPv4) that CloudFront"
        " reaches through a VPC origin; needs no certificate, cdn.enabled and websockets_via_cdn,"
        " and with type network the combined app layout (a VPC origin reaches one port)",
    )
    websocket_origin: Literal["load_balancer", "vpc_origin"] = Field(
        default="load_balancer",
        description="where CloudFront sends /ws (with websockets_via_cdn): load_balancer, the one above;"
        " vpc_origin, a second, internal load balancer of the same type (no public endpoint, plain TCP or"
        " HTTP inside the VPC) that CloudFront reaches through a VPC origin, so the public one (TLS for"
        " domain) carries the API alone; needs a certificate (domain or certificate_arn), origin public"
        " and websockets_via_cdn",
    )

    @field_validator("certificate_arn")
    @classmethod
    def _arn(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith("arn:aws:acm:"):
            raise ValueError("must be an ACM certificate ARN (arn:aws:acm:...)")
        return value

    @field_validator("domain")
    @classmethod
    def _domain(cls, value: str | None) -> str | None:
        if value is not None and not re.match(DOMAIN_NAME, value):
            raise ValueError("must be a fully qualified lower-case DNS name such as api.example.org or null")
        return value

    @field_validator("zone_id")
    @classmethod
    def _zone(cls, value: str | None) -> str | None:
        if value is not None and not re.match(r"^Z[A-Z0-9]{1,31}$", value):
            raise ValueError("must be a Route 53 hosted zone id (Z and capitals/digits) or null")
        return value

    @model_validator(mode="after")
    def _zone_needs_domain(self) -> Self:
        if self.zone_id is not None and self.domain is None:
            raise ValueError("zone_id is set without domain: the zone holds the records of domain")
        return self

    @model_validator(mode="after")
    def _vpc_origin_without_certificate(self) -> Self:
        if self.origin == "vpc_origin" and self.tls:
            raise ValueError(
                "origin vpc_origin is for a load balancer without a certificate (clients cannot reach an"
                " internal one at its domain): unset domain and certificate_arn, or use origin public"
            )
        return self

    @model_validator(mode="after")
    def _websocket_vpc_origin(self) -> Self:
        if self.websocket_origin == "vpc_origin":
            wrong = [
                what
                for what, ok in (
                    ("a certificate (domain or certificate_arn)", self.tls),
                    ("origin public", self.origin == "public"),
                    ("websockets_via_cdn true", self.websockets_via_cdn),
                )
                if not ok
            ]
            if wrong:
                raise ValueError(
                    "websocket_origin vpc_origin puts /ws on a second, internal load balancer behind a"
                    " CloudFront VPC origin and the API alone on the public one: it needs " + ", ".join(wrong)
                )
        return self

    @property
    def websocket_internal(self) -> bool:
        """Whether /ws has an internal load balancer of its own (a VPC origin's), the API the public one."""
        return self.websocket_origin == "vpc_origin"

    @property
    def internal(self) -> bool:
        """Whether the load balancer has no public endpoint (CloudFront reaches it through a VPC origin)."""
        return self.origin == "vpc_origin"

    @property
    def tls(self) -> bool:
        """Whether the load balancer terminates TLS itself (a certificate for ``domain``, or a given one)."""
        return self.domain is not None or self.certificate_arn is not None


#: A fully qualified DNS name (lower case, at least two labels).
DOMAIN_NAME = r"^(?=.{4,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$"
ARCHITECTURES = ("x86_64", "arm64")
#: An AMI id: ``ami-`` and 8 or 17 hex digits.
AMI_ID = r"^ami-([0-9a-f]{8}|[0-9a-f]{17})$"


class ImageConfig(_Strict):
    """The servers' image, pinned per region and architecture, so every server of a group boots the same.

    ``python -m components.ami --stack <stack> --write`` looks up the newest image of ``os`` and writes
    its ids and ``looked_up``: updating the image is a reviewed change of the stack file. ``looked_up``
    null marks ids that were never looked up (placeholders): ``pulumi up`` refuses them.
    """

    os: Literal["al2023", "debian-12"] = Field(description="image family: al2023 or debian-12")
    ids: dict[str, dict[Literal["x86_64", "arm64"], str]] = Field(
        description="AMI id per region and architecture (x86_64, arm64)"
    )
    looked_up: dt.date | None = Field(default=None, description="when the ids were looked up; null: never")

    @field_validator("ids")
    @classmethod
    def _ids(cls, value: dict[str, dict[str, str]]) -> dict[str, dict[str, str]]:
        bad = [
            f"{region}.{arch} = {ami!r}"
            for region, by_arch in value.items()
            for arch, ami in by_arch.items()
            if not isinstance(ami, str) or not re.match(AMI_ID, ami)
        ]
        if bad:
            raise ValueError(f"{', '.join(bad)}: an AMI id is ami- and 8 or 17 hex digits")
        unknown = sorted(set(value) - set(SUPPORTED_REGIONS))
        if unknown:
            raise ValueError(f"unknown region {', '.join(unknown)}: allowed {', '.join(SUPPORTED_REGIONS)}")
        return value

    def ami(self, region: str, architecture: Literal["x86_64", "arm64"]) -> str:
        """The pinned id for ``region`` and ``architecture`` (present: StackConfig checks it)."""
        return self.ids[region][architecture]


class SpotConfig(_Strict):
    """Mixed-instances policy: ``on_demand_base`` instances on demand, then ``spot_percentage`` on spot."""

    enabled: bool = False
    on_demand_base: int = Field(default=0, ge=0)
    spot_percentage: int = Field(default=0, ge=0, le=100)


class ScheduleConfig(_Strict):
    """Scheduled off-peak scale-down (cron in ``timezone``)."""

    enabled: bool = False
    timezone: str = "Africa/Dar_es_Salaam"
    scale_down_cron: str = "0 23 * * *"
    scale_up_cron: str = "0 6 * * *"
    off_peak_min_size: int = Field(default=1, ge=0)
    off_peak_max_size: int = Field(default=1, ge=0)
    off_peak_hours_per_day: float = Field(default=7.0, ge=0, le=24, description="for the cost estimate")


#: Purchase options a stack records for its always-on capacity. Buying the reservation (or a Savings Plan)
#: is a billing action the owner takes; the stack records the intent as a ``purchase`` tag so the budget
#: check prices it.
Commitment = Literal["none", "reserved_1yr"]
COMMITMENT_HELP = "none: on demand; reserved_1yr: 1-year no-upfront reservation for the always-on part"


def _on_demand_share(count: float, spot: SpotConfig) -> float:
    """On-demand instances among ``count``: the base, then the policy's on-demand share of the rest."""
    if not spot.enabled:
        return float(count)
    base = spot.on_demand_base
    return min(count, base) + max(0, count - base) * (100 - spot.spot_percentage) / 100


class ServerTierConfig(_Strict):
    """An auto-scaling group of identical servers (the API tier, the realtime tier, or both as ``app``)."""

    instance_type: str
    min_size: int = Field(ge=0, le=100)
    desired_capacity: int = Field(ge=0, le=100)
    max_size: int = Field(ge=1, le=100)
    cpu_target_percent: int = Field(ge=50, le=80, description="target tracking, inside the plan's 50-80%")
    root_volume_gb: int = Field(ge=8, le=1000)
    workers: int = Field(default=2, ge=1, le=16, description="runtime processes per instance")
    db_pool_size: int | None = Field(
        default=None,
        ge=1,
        le=100,
        description="PostgreSQL connections each runtime process may open (STARS_DB_POOL_SIZE, overflow 0);"
        " budget fit sizes it so every process at max size fits the database's max_connections;"
        " unset: the runtime's default of 10 + 10 overflow",
    )
    spot: SpotConfig = SpotConfig()
    schedule: ScheduleConfig = ScheduleConfig()
    commitment: Commitment = Field(default="none", description=COMMITMENT_HELP + " (the group's minimum)")

    @field_validator("instance_type")
    @classmethod
    def _type(cls, value: str) -> str:
        return _one_of(value, EC2_INSTANCE_TYPES)

    @model_validator(mode="after")
    def _sizes(self) -> Self:
        if self.min_size > self.max_size:
            raise ValueError(f"min_size ({self.min_size}) must not exceed max_size ({self.max_size})")
        if not self.min_size <= self.desired_capacity <= self.max_size:
            raise ValueError(
                f"desired_capacity ({self.desired_capacity}) must lie between min_size ({self.min_size})"
                f" and max_size ({self.max_size})"
            )
        if self.spot.on_demand_base > self.max_size:
            raise ValueError(
                f"spot.on_demand_base ({self.spot.on_demand_base}) must not exceed max_size ({self.max_size})"
            )
        if self.schedule.enabled and self.schedule.off_peak_min_size > self.schedule.off_peak_max_size:
            raise ValueError("schedule.off_peak_min_size must not exceed schedule.off_peak_max_size")
        if self.commitment != "none" and self.always_on_demand == 0:
            raise ValueError(
                f"commitment {self.commitment} covers the instances that run on demand all month; with"
                " min_size 0, an off-peak minimum of 0 or the whole minimum on spot there are none"
            )
        return self

    @property
    def capacity_floor(self) -> int:
        """The fewest instances the group runs at any hour (an off-peak schedule may lower the minimum)."""
        if self.schedule.enabled:
            return min(self.min_size, self.schedule.off_peak_min_size)
        return self.min_size

    @property
    def always_on_demand(self) -> float:
        """Instances on demand at every hour (the capacity floor, minus spot): what a reservation covers.
        The budget rule for auto-scaling groups computes the same from the plan."""
        return _on_demand_share(self.capacity_floor, self.spot)

    @property
    def architecture(self) -> Literal["x86_64", "arm64"]:
        """Graviton families (t4g, m6g, m7g, c6g, c7g: a "g" after the generation) need arm64 images."""
        family = self.instance_type.split(".")[0]
        return "arm64" if family.endswith("g") else "x86_64"


class DatabaseConfig(_Strict):
    """RDS PostgreSQL."""

    instance_class: str
    engine_version: str = "16"
    storage_type: Literal["gp3", "gp2"] = "gp3"
    allocated_storage_gb: int = Field(ge=20, le=65536)
    max_allocated_storage_gb: int = Field(ge=20, le=65536, description="storage autoscaling ceiling")
    multi_az: bool
    read_replica: bool
    backup_retention_days: int = Field(ge=1, le=35)
    performance_insights: bool = False
    deletion_protection: bool = True
    commitment: Commitment = Field(default="none", description=COMMITMENT_HELP + " (every instance)")

    @field_validator("instance_class")
    @classmethod
    def _class(cls, value: str) -> str:
        return _one_of(value, RDS_INSTANCE_CLASSES)

    @model_validator(mode="after")
    def _storage(self) -> Self:
        if self.max_allocated_storage_gb < self.allocated_storage_gb:
            raise ValueError(
                f"max_allocated_storage_gb ({self.max_allocated_storage_gb}) must be at least"
                f" allocated_storage_gb ({self.allocated_storage_gb})"
            )
        return self


class CacheConfig(_Strict):
    """ElastiCache Redis replication group (sessions, presence, API cache, pub/sub)."""

    node_type: str
    engine: Literal["redis", "valkey"] = "redis"
    engine_version: str = "7.1"
    num_cache_clusters: int = Field(ge=1, le=6, description="primary plus replicas")
    automatic_failover: bool
    snapshot_retention_days: int = Field(default=1, ge=0, le=35)
    commitment: Commitment = Field(default="none", description=COMMITMENT_HELP + " (every node)")

    @field_validator("node_type")
    @classmethod
    def _node(cls, value: str) -> str:
        return _one_of(value, CACHE_NODE_TYPES)

    @model_validator(mode="after")
    def _failover(self) -> Self:
        if self.automatic_failover and self.num_cache_clusters < 2:
            raise ValueError("automatic_failover needs num_cache_clusters of at least 2")
        return self


class CdnConfig(_Strict):
    """S3 bucket for static assets and uploads, served through CloudFront."""

    enabled: bool = True
    price_class: Literal["PriceClass_100", "PriceClass_200", "PriceClass_All"]
    default_ttl_seconds: int = Field(default=86400, ge=0)
    intelligent_tiering: bool = True
    versioning: bool = Field(default=False, description="keep old object versions (30 days)")
    plan: Literal["pay_as_you_go", "free", "pro", "business", "premium"] = Field(
        default="pay_as_you_go",
        description="CloudFront pricing of the assets distribution(s): pay as you go, or a flat-rate plan"
        " (one per distribution, each with its WAF web ACL)",
    )
    asset_distributions: int = Field(
        default=1,
        ge=1,
        le=MAX_ASSET_DISTRIBUTIONS,
        description="distributions serving the same assets, each on its own flat-rate plan (the site spreads"
        " its asset links over their names): N plans' allowances for N fees",
    )
    dynamic_distribution: bool = Field(
        default=False,
        description="a second, pay-as-you-go distribution for /ws (and the API without a certificate on the"
        " load balancer), so the assets distribution can be on a flat-rate plan",
    )
    savings_bundle: bool = Field(
        default=False,
        description="a CloudFront Security Savings Bundle (1-year monthly commitment, bought in Billing):"
        " 30% off the pay-as-you-go distribution's charges",
    )
    asset_overflow: Literal["none", "pay_as_you_go"] = Field(
        default="none",
        description="pay_as_you_go: the assets' traffic the plans' allowances do not carry goes to a"
        " pay-as-you-go distribution (the dynamic one when there is one, else one more of the bucket)",
    )
    asset_overflow_share: float = Field(
        default=0.0,
        ge=0,
        lt=1,
        description="the share of the assets' traffic (requests and bytes) on the overflow distribution;"
        " each plan distribution carries (1 - share) / asset_distributions of it",
    )
    free_asset_distributions: int = Field(
        default=0,
        ge=0,
        le=FREE_PLANS_PER_ACCOUNT,
        description="distributions of the assets on the Free flat-rate plan beside the asset_distributions"
        " of plan, each filled to its allowance before the overflow (needs asset_overflow)",
    )
    free_asset_share: float = Field(
        default=0.0,
        ge=0,
        lt=1,
        description="the share of the assets' traffic (requests and bytes) each Free-plan distribution"
        " carries; each plan distribution then carries (1 - asset_overflow_share - free_asset_distributions"
        " x free_asset_share) / asset_distributions",
    )

    @model_validator(mode="after")
    def _plan(self) -> Self:
        # Free and Pro distributions may use only AWS-managed cache policies (pricing-levers.md section 1).
        if self.plan in CDN_MANAGED_POLICY_PLANS and self.default_ttl_seconds != MANAGED_CACHE_POLICY_TTL:
            raise ValueError(
                f"plan {self.plan} allows only AWS-managed cache policies: default_ttl_seconds must be"
                f" {MANAGED_CACHE_POLICY_TTL} (CachingOptimized), not {self.default_ttl_seconds}"
            )
        # Two pay-as-you-go distributions would only split one account's free tier and volume tiers.
        if self.plan == "pay_as_you_go" and (self.asset_distributions > 1 or self.dynamic_distribution):
            raise ValueError(
                "asset_distributions above 1 and dynamic_distribution need a flat-rate plan for the assets:"
                " two pay-as-you-go distributions bill as one (the account's free tier and volume tiers)"
            )
        overflow = self.asset_overflow != "none"
        # an overflow distribution with nothing on it is allowed only where Free plans take the whole rest
        standing_by = overflow and self.asset_overflow_share == 0 and self.free_asset_distributions > 0
        if overflow != (self.asset_overflow_share > 0) and not standing_by:
            raise ValueError(
                f"asset_overflow {self.asset_overflow} with asset_overflow_share {self.asset_overflow_share}:"
                " a share above 0 needs an overflow distribution, and an overflow distribution needs one"
                " (or Free-plan distributions that carry the whole rest)"
            )
        if overflow and self.plan == "pay_as_you_go":
            raise ValueError(
                "asset_overflow needs a flat-rate plan for the assets: it carries what the plans' allowances"
                " do not"
            )
        self._free_plans(overflow)
        if (
            self.savings_bundle
            and self.plan != "pay_as_you_go"
            and not (self.dynamic_distribution or overflow)
        ):
            raise ValueError(
                "savings_bundle discounts pay-as-you-go CloudFront charges: with every distribution on a"
                " flat-rate plan there are none (no source says the bundle applies to a plan's fee)"
            )
        return self

    def _free_plans(self, overflow: bool) -> None:
        """Free-plan distributions beside the plan's: filled to their allowance with the rest on the
        overflow, within the account's three Free plans and the stack's distributions, on managed cache
        policies, and with a share for the plan's distributions left."""
        free = self.free_asset_distributions
        if (free > 0) != (self.free_asset_share > 0):
            raise ValueError(
                f"free_asset_distributions {free} with free_asset_share {self.free_asset_share}: a share"
                " above 0 needs Free-plan distributions, and Free-plan distributions need one"
            )
        if not free:
            return
        if not overflow:
            raise ValueError(
                "free_asset_distributions needs asset_overflow: pay_as_you_go (each Free plan carries its"
                " allowance, the overflow what the plans do not)"
            )
        plans = free + (self.asset_distributions if self.plan == "free" else 0)
        if plans > FREE_PLANS_PER_ACCOUNT:
            raise ValueError(
                f"{plans} Free plans (free_asset_distributions {free}"
                + (
                    f" + asset_distributions {self.asset_distributions} on plan free"
                    if self.plan == "free"
                    else ""
                )
                + f"): an account holds at most {FREE_PLANS_PER_ACCOUNT}"
            )
        if self.asset_distributions + free > MAX_ASSET_DISTRIBUTIONS:
            raise ValueError(
                f"asset_distributions {self.asset_distributions} + free_asset_distributions {free}: at most"
                f" {MAX_ASSET_DISTRIBUTIONS} asset distributions (each more name is one more TLS connection"
                " per viewer)"
            )
        if self.default_ttl_seconds != MANAGED_CACHE_POLICY_TTL:
            raise ValueError(
                f"free_asset_distributions: the Free plan allows only AWS-managed cache policies:"
                f" default_ttl_seconds must be {MANAGED_CACHE_POLICY_TTL} (CachingOptimized), not"
                f" {self.default_ttl_seconds}"
            )
        if self.asset_overflow_share + free * self.free_asset_share >= 1:
            raise ValueError(
                f"asset_overflow_share {self.asset_overflow_share} + {free} x free_asset_share"
                f" {self.free_asset_share} leaves no share for the {self.plan} distributions"
            )


class ReleaseConfig(_Strict):
    """The runtime release the servers install: the artifact ``make release`` writes (its digest is read
    from the file when the program runs, and keys the upload and the user data)."""

    artifact: str = Field(
        description="path of the artifact relative to the project directory: dist/stars-runtime-<version>.tar"
    )

    @field_validator("artifact")
    @classmethod
    def _artifact(cls, value: str) -> str:
        # Local: the policy pack's bundle carries components/ without runtime/, which components.release
        # imports (tests/policy/test_pack_process.py::test_a_publish_bundle_is_self_contained).
        from components.release import artifact_version

        if value.startswith("/") or ".." in value.split("/"):
            raise ValueError(
                "must be a path inside the project directory, such as dist/stars-runtime-0.1.0.tar"
            )
        artifact_version(value.rsplit("/", 1)[-1])
        return value


class MonitoringConfig(_Strict):
    """CloudWatch alarms and dashboard; ``level`` picks the alarm set (basic < enhanced < production)."""

    level: Literal["basic", "enhanced", "production"]
    alarm_email: str | None = None
    dashboard: bool = True
    detailed_instance_monitoring: bool = False
    log_retention_days: int = 14
    log_class: Literal["standard", "infrequent_access"] = Field(
        default="standard",
        description="CloudWatch Logs class of the servers' log groups: infrequent_access halves ingestion"
        " but has no Live Tail, metric filters or subscription filters (this program uses none); fixed at"
        " creation (changing it replaces the log groups)",
    )

    @field_validator("log_retention_days")
    @classmethod
    def _retention(cls, value: int) -> int:
        return _one_of(value, LOG_RETENTION_DAYS)

    @field_validator("alarm_email")
    @classmethod
    def _email(cls, value: str | None) -> str | None:
        if value is not None and ("@" not in value or value.startswith("@") or value.endswith("@")):
            raise ValueError("must be an e-mail address")
        return value


class UsageConfig(_Strict):
    """Monthly usage assumptions behind every usage-based cost line. No defaults: each stack states its own.

    Derivation in each stack file's comments; the plan's target is 10-50 TB/month of transfer at phase 3.
    """

    cloudfront_egress_gb: float = Field(ge=0, description="GB/month served by CloudFront to viewers")
    cloudfront_requests: float = Field(ge=0, description="HTTPS requests/month at CloudFront")
    viewer_region: str = Field(description="where viewers are, for CloudFront's regional price buckets")
    internet_egress_gb: float = Field(ge=0, description="GB/month from the ALB (WebSocket, API) to viewers")
    cross_az_gb: float = Field(ge=0, description="GB/month between availability zones (each direction)")
    nat_processed_gb: float = Field(ge=0, description="GB/month through NAT gateways")
    alb_new_connections_per_second: float = Field(ge=0)
    alb_active_connections: float = Field(ge=0, description="concurrent connections (per minute, for LCU)")
    alb_processed_gb_per_hour: float = Field(ge=0)
    alb_rule_evaluations_per_second: float = Field(ge=0)
    s3_storage_gb: float = Field(ge=0)
    s3_objects: float = Field(ge=0, description="objects monitored by Intelligent-Tiering")
    s3_infrequent_share: float = Field(
        default=0.0,
        ge=0,
        le=1,
        description="share of the stored GB not read for 30 days, which Intelligent-Tiering bills at its"
        " Infrequent Access tier (not measured: 0 assumes every object is read monthly)",
    )
    s3_put_requests: float = Field(ge=0)
    s3_get_requests: float = Field(ge=0)
    rds_backup_storage_gb: float = Field(ge=0, description="total backup storage; up to allocated is free")
    logs_ingested_gb: float = Field(ge=0)
    logs_stored_gb: float = Field(ge=0)
    secrets_api_calls: float = Field(ge=0)
    sns_notifications: float = Field(ge=0)
    # WebSockets through CloudFront (``stars:loadBalancer.websockets_via_cdn``); 0 unless it is on.
    cloudfront_websocket_egress_gb: float = Field(
        default=0, ge=0, description="GB/month of WebSocket frames CloudFront sends to viewers"
    )
    cloudfront_websocket_ingress_gb: float = Field(
        default=0, ge=0, description="GB/month of WebSocket frames viewers send through CloudFront"
    )
    cloudfront_websocket_connections: float = Field(
        default=0, ge=0, description="WebSocket upgrade requests/month at CloudFront"
    )
    # The API through its own pay-as-you-go distribution (``stars:cdn.dynamic_distribution`` without a
    # certificate on the load balancer); otherwise the API's CloudFront share is in the two figures above.
    cloudfront_api_egress_gb: float = Field(
        default=0, ge=0, description="GB/month of API responses the dynamic distribution sends to viewers"
    )
    cloudfront_api_requests: float = Field(
        default=0, ge=0, description="API requests/month at the dynamic distribution"
    )
    # The internal /ws load balancer (``stars:loadBalancer.websocket_origin: vpc_origin``); 0 otherwise.
    websocket_lb_new_connections_per_second: float = Field(
        default=0, ge=0, description="new /ws connections/s CloudFront opens to the internal load balancer"
    )
    websocket_lb_active_connections: float = Field(
        default=0, ge=0, description="concurrent /ws connections on the internal load balancer"
    )
    websocket_lb_processed_gb_per_hour: float = Field(
        default=0, ge=0, description="GB/h of /ws frames (both ways) through the internal load balancer"
    )
    # Defaults AWS applies that a program may leave unset, priced as stated assumptions (budget/README.md).
    ami_root_volume_gb: int = Field(
        default=8,
        ge=1,
        le=16384,
        description="the AMI's root volume (GB) where a launch template maps no root device;"
        " Amazon Linux 2023's is 8 GB",
    )
    ami_root_volume_type: Literal["gp3", "gp2", "io1", "io2", "standard"] = Field(
        default="gp3", description="the AMI's root volume type (Amazon Linux 2023: gp3)"
    )

    @field_validator("viewer_region")
    @classmethod
    def _viewer(cls, value: str) -> str:
        return _one_of(value, EDGE_REGIONS)

    @field_validator("*")
    @classmethod
    def _bounded(cls, value: Any) -> Any:
        if isinstance(value, float) and value > MAX_USAGE:
            raise ValueError(f"must be at most {MAX_USAGE:.0e} (a trillion a month)")
        return value


class DemandConfig(_Strict):
    """What the phase's users need, from the plan: the input of ``budget fit`` and of the usage derivation.

    Every figure is per concurrent user (the plan's peak) unless its name says otherwise; each stack file
    states the derivation beside it. ``budget/demand.py`` turns these into the ``stars:usage`` figures an
    architecture implies, and ``budget/capacity.py`` into the servers that carry them.
    """

    concurrent_users: int = Field(gt=0, description="the phase's target (plan: 10k, 50k, 100k)")
    connections_per_user: float = Field(gt=0, description="persistent WebSocket connections per user")
    deliveries_per_user_per_second: float = Field(ge=0, description="real-time frames delivered per user")
    publishes_per_user_per_second: float = Field(ge=0, description="messages published (and stored)")
    api_requests_per_user_per_second: float = Field(ge=0)
    api_keep_alive_s: float = Field(
        default=5.0,
        ge=0,
        le=3600,
        description="seconds a server keeps an idle API connection open: uvicorn's timeout_keep_alive"
        " default (5 s), which runtime/server.py leaves; each API request holds its connection at most"
        " this long after it, so a user holds api_requests_per_user_per_second x this API connections"
        " open at most (what a public load balancer carrying the API alone bills as active connections)",
    )
    db_statements_per_user_per_second: float = Field(ge=0)
    new_connections_per_user_per_second: float = Field(ge=0, description="reconnects and API connections")
    database_storage_gb: float = Field(ge=20, description="data the database holds (RDS minimum 20 GB)")
    transfer_gb_per_user_per_month: float = Field(
        ge=0, description="all data served to users in a month, per concurrent user (the plan's total)"
    )
    static_share: float = Field(
        ge=0, le=1, description="share of the bytes other than WebSocket frames that are static assets"
    )
    average_object_kb: float = Field(gt=0, description="average static object (CloudFront requests)")
    websocket_frame_bytes: float = Field(
        ge=0, description="bytes of one real-time frame, delivered or published (the benchmark's frame)"
    )
    peak_to_average: float = Field(
        default=1.72,
        ge=1,
        description="the daily profile: the busiest hour's traffic over the average hour's (Cisco VNI Usage"
        " 2010: 1.72); users, frames and requests run at the peak rate for 24 / this hours a day",
    )
    keepalive_interval_s: float = Field(
        default=20.0, ge=0, description="the runtime's ping interval (STARS_WS_PING_INTERVAL; 0: none)"
    )
    websocket_deflate: StrictBool = Field(
        default=True,
        description="the runtime's STARS_WS_DEFLATE (on by default; browsers offer it): the frames the"
        " servers send leave compressed at the ratio the kept deflate run measured (budget/deflate.py)",
    )
    availability: Literal["single_az", "multi_az"] = Field(
        description="single_az: data stores may live in one AZ; multi_az: survives the loss of one AZ"
    )
    latency_budget_ms: float = Field(gt=0, description="WebSocket delivery at the user (plan: < 100 ms)")

    @property
    def api_connections_per_user(self) -> float:
        """API connections a user holds open, at most: every second one is open lies within the keep-alive
        after one of the user's requests (requests closer together share it)."""
        return self.api_requests_per_user_per_second * self.api_keep_alive_s


class BudgetOverride(_Strict):
    """An owner's explicit decision to deploy over the limit (or at an exchange rate far from the
    catalog's). The reason is printed and exported."""

    reason: str = Field(min_length=10, max_length=500, description="why spending over the limit is accepted")
    approved_by: str = Field(min_length=1, max_length=200)


#: Bounds on the money figures of ``stars:budget`` (budget/README.md, "Config reference: money"): a limit
#: above TZS 10 billion a month (4,000 x the plan's largest) is no limit, and a rate outside 100-100,000
#: TZS per USD is none the shilling has had. Within them, a rate more than 50% from the catalog's dated
#: rate needs an override (``budget.verdict``).
MAX_TZS = 10_000_000_000
MIN_USD_TO_TZS = 100.0
MAX_USD_TO_TZS = 100_000.0
#: No usage figure (GB, requests, objects a month) may exceed this: a trillion keeps every total finite.
MAX_USAGE = 1e12


class BudgetConfig(_Strict):
    """The phase's monthly limit in TZS (the plan's upper bound) and warning level (its lower bound)."""

    limit_tzs: int = Field(gt=0, le=MAX_TZS)
    warn_tzs: int = Field(gt=0, le=MAX_TZS)
    usd_to_tzs: float = Field(default=2500.0, ge=MIN_USD_TO_TZS, le=MAX_USD_TO_TZS)
    usd_to_tzs_date: dt.date = dt.date(2026, 1, 16)
    usd_to_tzs_source: str = Field(
        default="planning rate; BoT range 2,450-2,650 over 2025 to Jan 2026 (aws-prices.md)", max_length=500
    )
    override: BudgetOverride | None = None

    @model_validator(mode="after")
    def _levels(self) -> Self:
        if self.warn_tzs > self.limit_tzs:
            raise ValueError(f"warn_tzs ({self.warn_tzs}) must not exceed limit_tzs ({self.limit_tzs})")
        return self


def _zero_unless(usage: UsageConfig, keys: Sequence[str], condition: str) -> None:
    """Usage that only a setting routes must be 0 without it: no stack pays for traffic it never routes."""
    for key in keys:
        value = getattr(usage, key)
        if value:
            raise ValueError(f"{NAMESPACE}:usage.{key} = {value!r}: must be 0 unless {condition}")


class StackConfig(_Strict):
    """Everything one phase stack deploys and is allowed to cost."""

    stack: str
    phase: Literal["phase1", "phase2", "phase3"]
    region: str
    cost_center: str = Field(min_length=1)
    network: NetworkConfig
    load_balancer: LoadBalancerConfig
    api: ServerTierConfig | None = Field(default=None, description="REST API servers (with realtime)")
    realtime: ServerTierConfig | None = Field(default=None, description="WebSocket servers (with api)")
    app: ServerTierConfig | None = Field(
        default=None, description="one group serving the API and /ws on the same port, instead of both"
    )
    database: DatabaseConfig
    cache: CacheConfig
    cdn: CdnConfig
    release: ReleaseConfig | None = Field(default=None, description="the runtime release the servers boot")
    monitoring: MonitoringConfig
    usage: UsageConfig
    budget: BudgetConfig
    image: ImageConfig
    demand: DemandConfig | None = None

    @field_validator("region")
    @classmethod
    def _region(cls, value: str) -> str:
        return _one_of(value, SUPPORTED_REGIONS)

    @model_validator(mode="after")
    def _single_zone(self) -> Self:
        """One zone for servers and data stores only where the data stores live in one zone."""
        if self.network.placement == "single_zone" and (
            self.database.multi_az or self.cache.num_cache_clusters > 1
        ):
            raise ValueError(
                f"{NAMESPACE}:network.placement = single_zone: needs a Single-AZ database and one cache node"
                " (Multi-AZ data stores span zones; spread the servers instead)"
            )
        return self

    @model_validator(mode="after")
    def _websockets_via_cdn(self) -> Self:
        """WebSocket usage only with CloudFront in front of /ws: no stack pays for traffic it never routes."""
        if self.load_balancer.websockets_via_cdn and not self.cdn.enabled:
            raise ValueError(
                f"{NAMESPACE}:loadBalancer.websockets_via_cdn = True: needs {NAMESPACE}:cdn.enabled"
                " (the distribution carries /ws)"
            )
        if not self.load_balancer.websockets_via_cdn:
            _zero_unless(
                self.usage,
                WEBSOCKET_USAGE_KEYS,
                f"{NAMESPACE}:loadBalancer.websockets_via_cdn is true (no WebSocket traffic goes through"
                " CloudFront)",
            )
        if not self.load_balancer.websocket_internal:
            _zero_unless(
                self.usage,
                WEBSOCKET_LB_USAGE_KEYS,
                f"{NAMESPACE}:loadBalancer.websocket_origin is vpc_origin (no internal /ws load balancer)",
            )
        return self

    @model_validator(mode="after")
    def _dynamic_distribution(self) -> Self:
        """A dynamic distribution carries /ws or the API; the API figures only go through one."""
        lb = self.load_balancer
        carries = lb.websockets_via_cdn or not lb.tls
        if self.cdn.dynamic_distribution and not carries:
            raise ValueError(
                f"{NAMESPACE}:cdn.dynamic_distribution = True: nothing would go through it (it carries /ws"
                f" with {NAMESPACE}:loadBalancer.websockets_via_cdn, and the API without a certificate on"
                " the load balancer)"
            )
        if not (self.cdn.dynamic_distribution and not lb.tls):
            _zero_unless(
                self.usage,
                ("cloudfront_api_egress_gb", "cloudfront_api_requests"),
                f"the API goes through a dynamic distribution ({NAMESPACE}:cdn.dynamic_distribution without a"
                " certificate on the load balancer)",
            )
        return self

    @model_validator(mode="after")
    def _tls_everywhere(self) -> Self:
        """Clients speak only HTTPS/WSS: TLS on the load balancer, or CloudFront in front of all of it."""
        lb = self.load_balancer
        if lb.tls:
            return self
        key = f"{NAMESPACE}:loadBalancer"
        needs = {
            # an internal NLB behind a VPC origin serves one port: the combined app group's
            f"{key}.type = {lb.type!r}": lb.type == "application" or (lb.internal and self.app is not None),
            f"{NAMESPACE}:cdn.enabled = {self.cdn.enabled!r}": self.cdn.enabled,
            f"{key}.websockets_via_cdn = {lb.websockets_via_cdn!r}": lb.websockets_via_cdn,
            f"{NAMESPACE}:cdn.plan = {self.cdn.plan!r} without dynamic_distribution": (
                self.cdn.plan == "pay_as_you_go" or self.cdn.dynamic_distribution
            ),
        }
        wrong = [what for what, ok in needs.items() if not ok]
        if wrong:
            raise ValueError(
                f"without {key}.domain (or certificate_arn) the load balancer has no certificate, so"
                " CloudFront's must carry every client connection: it needs type 'application' (an"
                " origin only CloudFront can reach, by header or through a VPC origin; type 'network' only"
                " with origin 'vpc_origin' and the combined app group), cdn.enabled true, websockets_via_cdn"
                " true, and a pay-as-you-go distribution for the API and /ws: cdn.plan 'pay_as_you_go',"
                " or cdn.dynamic_distribution true (flat-rate plans do not carry WebSockets); got "
                + ", ".join(wrong)
            )
        return self

    @model_validator(mode="after")
    def _image_for_region(self) -> Self:
        """The pinned image must cover the stack's region in both architectures (fit may switch them)."""
        by_arch = self.image.ids.get(self.region, {})
        missing = [arch for arch in ARCHITECTURES if arch not in by_arch]
        if missing:
            raise ValueError(
                f"{NAMESPACE}:image.ids.{self.region}: no {' or '.join(missing)} AMI id (allowed"
                f" architectures: {', '.join(ARCHITECTURES)}); run python -m components.ami --stack"
                f" {self.stack} --write"
            )
        return self

    @model_validator(mode="after")
    def _release_bucket(self) -> Self:
        """The release is uploaded to the stack's private bucket, which only the CDN tier creates."""
        if self.release is not None and not self.cdn.enabled:
            raise ValueError(
                f"{NAMESPACE}:release needs {NAMESPACE}:cdn.enabled (the release lives in its private bucket)"
            )
        return self

    @model_validator(mode="after")
    def _server_layout(self) -> Self:
        """Either one combined ``app`` group, or separate ``api`` and ``realtime`` groups (the plan's)."""
        given = [f"{NAMESPACE}:{k}" for k in ("api", "realtime", "app") if getattr(self, k) is not None]
        split = self.api is not None and self.realtime is not None
        if (self.app is None and not split) or (self.app is not None and len(given) > 1):
            raise ValueError(
                f"set either {NAMESPACE}:app (API and WebSocket servers in one group), or both"
                f" {NAMESPACE}:api and {NAMESPACE}:realtime; found {', '.join(given) or 'none of them'}"
            )
        return self

    @model_validator(mode="after")
    def _offered_in_region(self) -> Self:
        """Every instance type, DB class and cache node must be one the stack's region offers."""
        unavailable = UNAVAILABLE_IN_REGION.get(self.region, {})
        chosen = [
            *((f"{tier}.instance_type", group.instance_type) for tier, group in self.server_tiers.items()),
            ("database.instance_class", self.database.instance_class),
            ("cache.node_type", self.cache.node_type),
        ]
        problems = [
            f"{NAMESPACE}:{key} = {value!r}: not offered in {self.region} ({unavailable[value]})"
            for key, value in chosen
            if value in unavailable
        ]
        if problems:
            raise ValueError("\n  ".join(problems))
        return self

    @property
    def server_tiers(self) -> dict[str, ServerTierConfig]:
        """The server groups this stack deploys, by tier name: ``api`` and ``realtime``, or ``app``."""
        if self.app is not None:
            return {"app": self.app}
        return {k: v for k, v in (("api", self.api), ("realtime", self.realtime)) if v is not None}

    @property
    def tags(self) -> dict[str, str]:
        """Cost allocation tags shared by every taggable resource (each tier adds ``tier``)."""
        return {"project": "stars", "phase": self.phase, "cost-center": self.cost_center, "stack": self.stack}


#: Stack config key (without namespace) -> StackConfig field.
CONFIG_KEYS = {
    "phase": "phase",
    "costCenter": "cost_center",
    "network": "network",
    "loadBalancer": "load_balancer",
    "api": "api",
    "realtime": "realtime",
    "app": "app",
    "database": "database",
    "cache": "cache",
    "cdn": "cdn",
    "release": "release",
    "monitoring": "monitoring",
    "usage": "usage",
    "budget": "budget",
    "demand": "demand",
    "image": "image",
}
_FIELD_TO_KEY = {field: key for key, field in CONFIG_KEYS.items()}


def describe_errors(errors: list[Any], values: Mapping[str, Any]) -> str:
    """Pydantic's errors as one line per key, each value quoted short (never a huge input rendered)."""
    lines = []
    for err in errors:
        loc = [str(part) for part in err["loc"]]
        if loc and loc[0] == "region":
            key = "aws:region"
        elif loc:
            key = f"{NAMESPACE}:{_FIELD_TO_KEY.get(loc[0], loc[0])}" + "".join(f".{p}" for p in loc[1:])
        else:
            # A check across blocks (StackConfig's own validators): its message names the keys itself.
            lines.append(err["msg"].removeprefix("Value error, "))
            continue
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "missing":
            lines.append(f"{key}: missing (required)")
        elif err["type"] == "extra_forbidden":
            lines.append(f"{key}: unknown key (check the spelling; see the README's config reference)")
        else:
            lines.append(f"{key} = {shown(err.get('input'))}: {short(msg, MESSAGE_CHARS)}")
    return "invalid stack configuration:\n  " + "\n  ".join(lines)


def parse_stack_config(stack: str, values: Mapping[str, Any]) -> StackConfig:
    """Build the model from flat Pulumi config values (``stars:api`` as mapping or JSON, ``aws:region``)."""
    raw: dict[str, Any] = {"stack": stack}
    unknown = []
    for full_key, value in values.items():
        namespace, _, key = full_key.partition(":")
        if full_key == "aws:region":
            raw["region"] = value
        elif namespace == NAMESPACE:
            if key not in CONFIG_KEYS:
                unknown.append(full_key)
                continue
            if isinstance(value, str) and value[:1] in "{[":
                try:
                    value = load_json(value, CONFIG_VALUE_BYTES)
                except InputError as exc:
                    raise ConfigError(f"invalid stack configuration:\n  {full_key}: {exc}") from None
            raw[CONFIG_KEYS[key]] = value
    if unknown:
        allowed = ", ".join(f"{NAMESPACE}:{k}" for k in CONFIG_KEYS)
        raise ConfigError(
            "invalid stack configuration:\n  "
            + "\n  ".join(f"{k}: unknown key (allowed: {allowed})" for k in sorted(unknown))
        )
    try:
        return StackConfig.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(describe_errors(exc.errors(), values)) from None


def read_stack_file(path: Path) -> dict[str, Any]:
    """The ``config:`` mapping of a ``Pulumi.<stack>.yaml`` file, with clear errors for a broken file."""
    if not Path(path).exists():
        raise ConfigError(f"stack file not found: {path}")
    try:
        document = read_yaml(path, STACK_FILE_BYTES)
    except InputError as exc:
        raise ConfigError(f"{path}: {exc}") from None
    if not isinstance(document, dict) or not isinstance(document.get("config"), dict):
        raise ConfigError(f"{path}: expected a mapping with a 'config:' section")
    return dict(document["config"])


def stack_name_of(path: Path) -> str:
    """``Pulumi.phase1.yaml`` -> ``phase1``."""
    name = path.name
    if not (name.startswith("Pulumi.") and name.endswith(".yaml")) or name == "Pulumi.yaml":
        raise ConfigError(f"{path}: not a stack file (expected Pulumi.<stack>.yaml)")
    return name.removeprefix("Pulumi.").removesuffix(".yaml")


def load_stack_file(path: Path) -> StackConfig:
    """Read and validate one stack file."""
    return parse_stack_config(stack_name_of(path), read_stack_file(path))


def load_from_pulumi() -> StackConfig:
    """Read the current stack's config through the Pulumi SDK (inside ``pulumi up``/``preview`` or mocks)."""
    import pulumi  # local: the budget CLI and the policy pack read stack files without it (0.25 s, measured)

    config = pulumi.Config(NAMESPACE)
    values: dict[str, Any] = {}
    for key in CONFIG_KEYS:
        value = config.get(key)
        if value is not None:
            values[f"{NAMESPACE}:{key}"] = value
    region = pulumi.Config("aws").get("region")
    if region is not None:
        values["aws:region"] = region
    return parse_stack_config(pulumi.get_stack(), values)
