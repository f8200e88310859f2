"""The whole STARS stack for one phase: every tier wired together from one validated config.

Each tier is built by one function from the config and the :class:`Links` the earlier tiers produced
(ids, ARNs, endpoints). ``build_stack`` builds them in order, filling the links as it goes; ``build_tier``
builds a single tier against stand-in links, so a planner can re-plan one tier without the others
(``budget fit`` prices thousands of configurations this way: a tier's resources depend on its own config,
never on the value of another tier's id).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_aws as aws

from components import cdn as cdn_tier
from components import database as database_tier
from components import monitoring as monitoring_tier
from components import server_tier
from components.cache import Cache, CacheArgs, member_cluster_ids
from components.cdn import Cdn, CdnArgs, WebSocketOrigin
from components.config import ServerTierConfig, StackConfig
from components.database import DB_NAME, Database, DatabaseArgs
from components.edge import Edge, EdgeArgs, public_ports, websocket_port
from components.monitoring import Monitoring, MonitoringArgs, budget_limit_usd
from components.network import REDIS_PORT, Network, NetworkArgs
from components.release import ReleaseRef, find_release
from components.server_tier import ServerTier, ServerTierArgs
from components.tagging import tier_tags

#: Component names; the first part of every resource name, so ``tier = name.split("-")[0]``. A stack has
#: either the ``api`` and ``realtime`` server tiers or the combined ``app`` tier (``tiers_of``).
TIERS = ("network", "edge", "api", "realtime", "app", "database", "cache", "cdn", "monitoring")
#: Security groups the network may create, one per role (server groups: those of the stack's tiers).
SECURITY_GROUPS = ("alb", "api", "realtime", "app", "database", "cache", "endpoints")
#: The tiers that create the JWT signing key (a stack has one of them); the realtime tier reads it.
KEY_OWNERS = ("api", "app")


def tiers_of(cfg: StackConfig) -> tuple[str, ...]:
    """The components ``cfg`` registers, in ``TIERS`` order (no ``app`` in a split stack, no CDN if off)."""
    absent = {"api", "realtime", "app"} - set(cfg.server_tiers)
    if not cfg.cdn.enabled:
        absent.add("cdn")
    return tuple(t for t in TIERS if t not in absent)


def lb_server_tiers(cfg: StackConfig) -> tuple[str, ...]:
    """The server tiers behind the load balancer, first the default target (what target groups, listeners,
    public ports and the WebSocket port are keyed by)."""
    return tuple(cfg.server_tiers)


def websocket_lb_tiers(cfg: StackConfig) -> tuple[str, ...]:
    """The server tiers behind the internal /ws load balancer (``websocket_origin: vpc_origin``): the
    combined ``app`` group, or ``realtime``; empty when /ws is on the load balancer itself."""
    if not (
        cfg.cdn.enabled and cfg.load_balancer.websockets_via_cdn and cfg.load_balancer.websocket_internal
    ):
        return ()
    return ("app",) if "app" in cfg.server_tiers else ("realtime",)


def api_lb_tiers(cfg: StackConfig) -> tuple[str, ...]:
    """The server tiers behind the (public) load balancer: all of them, or the API's alone when /ws has
    its own internal load balancer."""
    ws = websocket_lb_tiers(cfg)
    return tuple(t for t in lb_server_tiers(cfg) if t == "app" or t not in ws)


@dataclass
class Links:
    """What the tiers take from each other; every value is a Pulumi input (an Output once deployed)."""

    vpc_id: pulumi.Input[str]
    public_subnet_ids: list[pulumi.Input[str]]
    private_subnet_ids: list[pulumi.Input[str]]
    security_group_ids: dict[str, pulumi.Input[str]]
    zones: list[str] = field(default_factory=list)
    target_group_arns: dict[str, pulumi.Input[str]] = field(default_factory=dict)
    target_group_arn_suffixes: dict[str, pulumi.Input[str]] = field(default_factory=dict)
    alb_arn_suffix: pulumi.Input[str] = ""
    load_balancer_dns_name: pulumi.Input[str] = ""
    load_balancer_arn: pulumi.Input[str] = ""
    #: The header value CloudFront sends a certificate-less load balancer (``Edge.origin_secret``).
    origin_secret: pulumi.Input[str] | None = None
    #: The internal /ws load balancer (``websocket_origin: vpc_origin``): its target groups, name and ARN.
    websocket_target_group_arns: dict[str, pulumi.Input[str]] = field(default_factory=dict)
    websocket_load_balancer_dns_name: pulumi.Input[str] = ""
    websocket_load_balancer_arn: pulumi.Input[str] = ""
    database_address: pulumi.Input[str] = ""
    database_secret_arn: pulumi.Input[str] = ""
    database_id: pulumi.Input[str] = ""
    replica_id: pulumi.Input[str] | None = None
    cache_endpoint: pulumi.Input[str] = ""
    cache_secret_arn: pulumi.Input[str] = ""
    cache_member_ids: list[str] = field(default_factory=list)
    signing_key_secret_arn: pulumi.Input[str] | None = None
    release_bucket: pulumi.Input[str] | None = None
    distribution_id: pulumi.Input[str] | None = None
    asg_names: dict[str, pulumi.Input[str]] = field(default_factory=dict)

    @classmethod
    def stand_in(cls, cfg: StackConfig) -> Links:
        """Plausible placeholders shaped like the real links of ``cfg`` (same counts, same optional parts)."""
        azs = range(cfg.network.az_count)
        stack = cfg.stack
        arn = f"arn:aws:elasticloadbalancing:{cfg.region}:000000000000"
        kind = "app" if cfg.load_balancer.type == "application" else "net"
        return cls(
            vpc_id="vpc-stand-in",
            public_subnet_ids=[f"subnet-public-{i}" for i in azs],
            private_subnet_ids=[f"subnet-private-{i}" for i in azs],
            zones=[f"{cfg.region}{'abc'[i]}" for i in azs],
            security_group_ids={key: f"sg-{key}" for key in SECURITY_GROUPS},
            target_group_arns={k: f"{arn}:targetgroup/{k}/0" for k in api_lb_tiers(cfg)},
            websocket_target_group_arns={k: f"{arn}:targetgroup/{k}-ws/0" for k in websocket_lb_tiers(cfg)},
            websocket_load_balancer_dns_name=f"internal-stand-in-ws-0.{cfg.region}.elb.amazonaws.com",
            websocket_load_balancer_arn=f"{arn}:loadbalancer/{kind}/stand-in-ws/0",
            target_group_arn_suffixes={k: f"targetgroup/{k}/0" for k in api_lb_tiers(cfg)},
            alb_arn_suffix=f"{kind}/stand-in/0",
            load_balancer_dns_name=f"stand-in-0.{cfg.region}.elb.amazonaws.com",
            load_balancer_arn=f"{arn}:loadbalancer/{kind}/stand-in/0",
            origin_secret=(
                None if cfg.load_balancer.tls or cfg.load_balancer.internal else "stand-in-origin-secret"
            ),
            database_address=f"primary.{cfg.region}.rds.amazonaws.com",
            database_secret_arn=f"arn:aws:secretsmanager:{cfg.region}:000000000000:secret:rds-stand-in",
            database_id=f"stars-{stack}-primary",
            replica_id=f"stars-{stack}-replica" if cfg.database.read_replica else None,
            cache_endpoint=f"master.cache.{cfg.region}.cache.amazonaws.com",
            cache_secret_arn=f"arn:aws:secretsmanager:{cfg.region}:000000000000:secret:cache-stand-in",
            cache_member_ids=member_cluster_ids(f"stars-{stack}-cache", cfg.cache.num_cache_clusters),
            signing_key_secret_arn=f"arn:aws:secretsmanager:{cfg.region}:000000000000:secret:jwt-stand-in",
            release_bucket="stand-in-bucket" if cfg.cdn.enabled else None,
            distribution_id="ESTANDIN" if cfg.cdn.enabled else None,
            asg_names={k: f"stars-{stack}-{k}" for k in cfg.server_tiers},
        )


# -------------------------------------------------------------------------------------------- tiers


def build_network(cfg: StackConfig, links: Links | None = None) -> Network:
    return Network(
        "network",
        NetworkArgs(
            cidr=cfg.network.cidr,
            az_count=cfg.network.az_count,
            private_egress=cfg.network.private_egress,
            nat_gateways=cfg.network.nat_gateways,
            region=cfg.region,
            public_ports=public_ports(cfg.load_balancer.type, cfg.load_balancer.tls, api_lb_tiers(cfg)),
            cloudfront_only=not cfg.load_balancer.tls,
            cloudfront_ports=(
                (websocket_port(cfg.load_balancer.type, False, websocket_lb_tiers(cfg)),)
                if websocket_lb_tiers(cfg)
                else ()
            ),
            load_balancer_type=cfg.load_balancer.type,
            server_tiers=lb_server_tiers(cfg),
            tags=cfg.tags,
        ),
    )


def build_edge(cfg: StackConfig, links: Links) -> Edge:
    return Edge(
        "edge",
        EdgeArgs(
            vpc_id=links.vpc_id,
            public_subnet_ids=links.public_subnet_ids,
            security_group_id=links.security_group_ids["alb"],
            idle_timeout_seconds=cfg.load_balancer.idle_timeout_seconds,
            deregistration_delay_seconds=cfg.load_balancer.deregistration_delay_seconds,
            certificate_arn=cfg.load_balancer.certificate_arn,
            domain=cfg.load_balancer.domain,
            zone_id=cfg.load_balancer.zone_id,
            load_balancer_type=cfg.load_balancer.type,
            server_tiers=api_lb_tiers(cfg),
            internal=cfg.load_balancer.internal,
            private_subnet_ids=links.private_subnet_ids,
            tags=cfg.tags,
            websocket_tiers=websocket_lb_tiers(cfg),
        ),
    )


def data_zone(cfg: StackConfig, links: Links) -> str | None:
    """The zone a single-zone plan puts its servers, database and cache node in (the first); else None."""
    return links.zones[0] if cfg.network.placement == "single_zone" else None


def server_subnets(cfg: StackConfig, links: Links) -> list[pulumi.Input[str]]:
    """The subnets the server groups launch in: every zone's, or only the data stores' zone's."""
    subnets = links.public_subnet_ids if cfg.network.servers_public else links.private_subnet_ids
    return subnets[:1] if cfg.network.placement == "single_zone" else subnets


def build_database(cfg: StackConfig, links: Links) -> Database:
    return Database(
        "database",
        DatabaseArgs(
            config=cfg.database,
            availability_zone=data_zone(cfg, links),
            subnet_ids=links.private_subnet_ids,
            security_group_id=links.security_group_ids["database"],
            tags=cfg.tags,
        ),
    )


def build_cache(cfg: StackConfig, links: Links) -> Cache:
    return Cache(
        "cache",
        CacheArgs(
            config=cfg.cache,
            availability_zone=data_zone(cfg, links),
            subnet_ids=links.private_subnet_ids,
            security_group_id=links.security_group_ids["cache"],
            tags=cfg.tags,
        ),
    )


def build_cdn(cfg: StackConfig, links: Links) -> Cdn | None:
    if not cfg.cdn.enabled:
        return None
    origin = None
    if cfg.load_balancer.websockets_via_cdn:
        lb = cfg.load_balancer
        ws_tiers = websocket_lb_tiers(cfg)
        if ws_tiers:
            return _cdn(
                cfg,
                WebSocketOrigin(
                    # the internal /ws load balancer through a VPC origin; the API stays on the public one
                    domain_name=links.websocket_load_balancer_dns_name,
                    port=websocket_port(lb.type, False, ws_tiers),
                    https=False,
                    vpc_origin_arn=links.websocket_load_balancer_arn,
                    api=False,
                ),
            )
        origin = WebSocketOrigin(
            # With a domain CloudFront checks the load balancer's certificate against that name.
            domain_name=lb.domain if lb.domain is not None else links.load_balancer_dns_name,
            port=websocket_port(lb.type, lb.tls, lb_server_tiers(cfg)),
            https=lb.tls,
            origin_secret=None if lb.tls or lb.internal else links.origin_secret,
            vpc_origin_arn=links.load_balancer_arn if lb.internal else None,
        )
    return _cdn(cfg, origin)


def _cdn(cfg: StackConfig, origin: WebSocketOrigin | None) -> Cdn:
    cdn = Cdn("cdn", CdnArgs(config=cfg.cdn, websocket_origin=origin, tags=cfg.tags))
    upload_release(cfg, cdn)
    return cdn


_WARNED: set[str] = set()


def _warn_once(key: str) -> bool:
    """True the first time ``key`` is seen in this process (``budget fit`` plans a stack many times)."""
    seen = key in _WARNED
    _WARNED.add(key)
    return not seen


def release_of(cfg: StackConfig) -> ReleaseRef | None:
    """The artifact the stack file names (its ``sha256`` None until ``make release`` built it)."""
    return find_release(cfg.release.artifact) if cfg.release is not None else None


def upload_release(cfg: StackConfig, cdn: Cdn) -> aws.s3.BucketObjectv2 | None:
    """The artifact into the private bucket under its content-addressed key (outside what CloudFront
    serves). A new digest is a new object and new user data; the same digest changes nothing."""
    if cfg.release is None:
        return None
    release = find_release(cfg.release.artifact)
    if release.sha256 is None and _warn_once(str(release.path)):
        pulumi.log.warn(
            f"no release artifact at {cfg.release.artifact}: the servers would refuse to boot;"
            " build it with `make release` (pulumi up refuses until then)"
        )
    return aws.s3.BucketObjectv2(
        "cdn-release",
        bucket=cdn.bucket.id,
        key=release.key,
        source=pulumi.FileAsset(str(release.path)),
        content_type="application/x-tar",
        checksum_algorithm="SHA256",
        server_side_encryption="AES256",
        tags={**tier_tags(cfg.tags, "cdn"), "release": release.version},
        opts=pulumi.ResourceOptions(parent=cdn),
    )


def server_image(cfg: StackConfig, tier: ServerTierConfig) -> str:
    """The pinned image a server group boots: the stack's for the region and the group's architecture."""
    return cfg.image.ami(cfg.region, tier.architecture)


def asg_floors(cfg: StackConfig) -> dict[str, int]:
    """Each server group's fewest instances at any hour (what its in-service alarm watches for)."""
    return {key: tier.capacity_floor for key, tier in cfg.server_tiers.items()}


def _server_tier(cfg: StackConfig, links: Links, key: str, tier: ServerTierConfig) -> ServerTier:
    # the public load balancer's target group and, behind /ws's own internal one, that one's too
    groups = [g for g in (links.target_group_arns.get(key), links.websocket_target_group_arns.get(key)) if g]
    return ServerTier(
        key,
        ServerTierArgs(
            tier=tier,
            region=cfg.region,
            image_id=server_image(cfg, tier),
            image_os=cfg.image.os,
            subnet_ids=server_subnets(cfg, links),
            public_ip=cfg.network.servers_public,
            security_group_id=links.security_group_ids[key],
            target_group_arn=groups[0],
            extra_target_group_arns=groups[1:],
            log_retention_days=cfg.monitoring.log_retention_days,
            log_group_class=cfg.monitoring.log_class.upper(),
            detailed_monitoring=cfg.monitoring.detailed_instance_monitoring,
            database_host=links.database_address,
            database_name=DB_NAME,
            database_secret_arn=links.database_secret_arn,
            redis_host=links.cache_endpoint,
            redis_port=REDIS_PORT,
            redis_secret_arn=links.cache_secret_arn,
            # The API (or combined app) tier creates the JWT signing key; the realtime tier reads it.
            signing_key_secret_arn=None if key in KEY_OWNERS else links.signing_key_secret_arn,
            release_bucket=links.release_bucket,
            release=release_of(cfg),
            drain_seconds=cfg.load_balancer.deregistration_delay_seconds,
            tags=cfg.tags,
        ),
    )


def build_api(cfg: StackConfig, links: Links) -> ServerTier | None:
    return _server_tier(cfg, links, "api", cfg.api) if cfg.api is not None else None


def build_realtime(cfg: StackConfig, links: Links) -> ServerTier | None:
    return _server_tier(cfg, links, "realtime", cfg.realtime) if cfg.realtime is not None else None


def build_app(cfg: StackConfig, links: Links) -> ServerTier | None:
    """The combined group: API and ``/ws`` on one port, for stacks small enough not to split them."""
    return _server_tier(cfg, links, "app", cfg.app) if cfg.app is not None else None


def build_monitoring(cfg: StackConfig, links: Links) -> Monitoring:
    return Monitoring(
        "monitoring",
        MonitoringArgs(
            level=cfg.monitoring.level,
            region=cfg.region,
            phase=cfg.phase,
            alarm_email=cfg.monitoring.alarm_email,
            dashboard=cfg.monitoring.dashboard,
            budget_limit_usd=budget_limit_usd(cfg.budget.limit_tzs, cfg.budget.usd_to_tzs),
            alb_arn_suffix=links.alb_arn_suffix,
            load_balancer_type=cfg.load_balancer.type,
            target_group_arn_suffixes=links.target_group_arn_suffixes,
            asg_names=links.asg_names,
            asg_floor=asg_floors(cfg),
            database_id=links.database_id,
            database_allocated_gb=cfg.database.allocated_storage_gb,
            replica_id=links.replica_id,
            cache_member_ids=links.cache_member_ids,
            distribution_id=links.distribution_id,
            tags=cfg.tags,
        ),
    )


#: Config every tier reads: its tags (stack, phase, cost center) and the region of its ARNs and zones.
COMMON_READS = ("stack", "phase", "cost_center", "region")
_SERVER_READS = (
    "network.az_count",
    "network.placement",
    "servers_public",
    "monitoring.log_retention_days",
    "monitoring.log_class",
    "monitoring.detailed_instance_monitoring",
    "load_balancer.deregistration_delay_seconds",
    "load_balancer.websocket_origin",
    "load_balancer.websockets_via_cdn",
    "cdn.enabled",
    "image",
    "release",
)
#: What else each tier's builder reads from the config, directly or through its links (a subnet list
#: follows ``network.az_count``); two are derived: ``layout``, which server groups the stack has (``api``
#: and ``realtime``, or ``app``), ``servers_public``, whether they run in the public subnets, and
#: ``websocket_origin``, what the CloudFront ``/ws`` origin follows (None without one). A
#: planner may reuse a tier's plan for any config that agrees on these; tests/infra/test_plan_tiers.py
#: changes every other key and checks that the tier's plan does not move.
TIER_READS: dict[str, tuple[str, ...]] = {
    "network": (
        "network",
        "layout",
        "load_balancer.type",
        "load_balancer.certificate_arn",
        "load_balancer.domain",
        "load_balancer.websocket_origin",
        "load_balancer.websockets_via_cdn",
        "cdn.enabled",
    ),
    "edge": ("network.az_count", "layout", "load_balancer"),
    "database": ("network.az_count", "network.placement", "database"),
    "cache": ("network.az_count", "network.placement", "cache"),
    "cdn": ("cdn", "websocket_origin", "release"),
    "api": ("api", *_SERVER_READS),
    "realtime": ("realtime", *_SERVER_READS),
    "app": ("app", *_SERVER_READS),
    "monitoring": (
        "monitoring",
        "layout",
        "load_balancer.type",
        "load_balancer.websocket_origin",
        "load_balancer.websockets_via_cdn",
        "budget.limit_tzs",
        "budget.usd_to_tzs",
        "api.min_size",
        "api.schedule",
        "realtime.min_size",
        "realtime.schedule",
        "app.min_size",
        "app.schedule",
        "database.read_replica",
        "database.allocated_storage_gb",
        "cache.num_cache_clusters",
        "cdn.enabled",
    ),
}


#: The config paths (of TIER_READS) whose values set only values of a tier's inputs, never which resources
#: it registers or their names: a planner may plan the tier once without them and write each config's into
#: that plan (:func:`value_inputs`; ``budget fit`` does). Each component says which of its values these
#: are; a path one tier writes is never read by a tier that does not (tests/budget/test_fit_value_only.py
#: holds both, planning at each value).
VALUE_ONLY: dict[str, tuple[str, ...]] = {
    "cdn": tuple(f"cdn.{k}" for k in cdn_tier.VALUE_ONLY),
    **{key: tuple(f"{key}.{k}" for k in server_tier.VALUE_ONLY) for key in ("api", "realtime", "app")},
    "database": tuple(f"database.{k}" for k in database_tier.VALUE_ONLY),
    # the in-service alarms' thresholds (the floors follow the minimum; the schedules stay in the plan's
    # key) and the free-storage alarm's
    "monitoring": ("api.min_size", "realtime.min_size", "app.min_size", "database.allocated_storage_gb"),
}


def value_inputs(
    cfg: StackConfig, resource_type: str, resource_name: str, inputs: Mapping[str, Any]
) -> dict[str, Any] | None:
    """The inputs of the resource named ``resource_name`` with ``cfg``'s VALUE_ONLY values of its tier,
    from a plan of that tier made at other values (None: no input of it follows them). The plan must be
    of the tier as ``cfg`` has it but for those values."""
    tier = resource_name.split("-")[0]
    if tier == "cdn":
        return cdn_tier.value_inputs(cfg.cdn, resource_type, resource_name, inputs)
    if tier == "database":
        return database_tier.value_inputs(cfg.database, resource_type, resource_name, inputs)
    if tier == "monitoring":
        return monitoring_tier.value_inputs(
            asg_floors(cfg), cfg.database.allocated_storage_gb, resource_type, resource_name, inputs
        )
    group = cfg.server_tiers.get(tier)
    if group is not None:
        return server_tier.value_inputs(group, server_image(cfg, group), resource_type, resource_name, inputs)
    return None


def config_reads(cfg: StackConfig) -> dict[str, Any]:
    """The config as TIER_READS names it: the stack file's fields plus the derived ``layout``."""
    return {
        **cfg.model_dump(mode="json"),
        "layout": list(cfg.server_tiers),
        "servers_public": cfg.network.servers_public,
        "websocket_origin": (
            [
                cfg.load_balancer.type,
                cfg.load_balancer.tls,
                cfg.load_balancer.domain,
                cfg.load_balancer.origin,
                *lb_server_tiers(cfg),
                *(["websocket_origin", *websocket_lb_tiers(cfg)] if websocket_lb_tiers(cfg) else []),
            ]
            if cfg.cdn.enabled and cfg.load_balancer.websockets_via_cdn
            else None
        ),
    }


TierBuilder = Callable[[StackConfig, Links], Any]
#: How each tier is built, in the order ``build_stack`` builds them.
BUILDERS: dict[str, TierBuilder] = {
    "network": build_network,
    "edge": build_edge,
    "database": build_database,
    "cache": build_cache,
    "cdn": build_cdn,
    "api": build_api,
    "realtime": build_realtime,
    "app": build_app,
    "monitoring": build_monitoring,
}


def build_tier(cfg: StackConfig, tier: str) -> Any:
    """Build one tier alone, against stand-in links (for planning it under mocks)."""
    return BUILDERS[tier](cfg, Links.stand_in(cfg))


def build_stack(cfg: StackConfig) -> dict[str, pulumi.Output[Any] | Any]:
    """Create every tier for ``cfg`` and return the stack outputs (the caller exports them)."""
    network = build_network(cfg)
    links = Links(
        vpc_id=network.vpc_id,
        public_subnet_ids=network.public_subnet_ids,
        private_subnet_ids=network.private_subnet_ids,
        security_group_ids={key: sg.id for key, sg in network.security_groups.items()},
        zones=network.azs,
    )
    edge = build_edge(cfg, links)
    links.target_group_arns = {k: tg.arn for k, tg in edge.target_groups.items()}
    links.target_group_arn_suffixes = {k: tg.arn_suffix for k, tg in edge.target_groups.items()}
    links.alb_arn_suffix = edge.load_balancer.arn_suffix
    links.load_balancer_dns_name = edge.dns_name
    links.load_balancer_arn = edge.load_balancer.arn
    links.origin_secret = edge.origin_secret
    if edge.websocket_edge is not None:
        links.websocket_target_group_arns = {k: tg.arn for k, tg in edge.websocket_edge.target_groups.items()}
        links.websocket_load_balancer_dns_name = edge.websocket_edge.dns_name
        links.websocket_load_balancer_arn = edge.websocket_edge.load_balancer.arn
    database = build_database(cfg, links)
    links.database_address = database.address
    links.database_secret_arn = database.master_secret_arn
    links.database_id = database.primary.identifier
    links.replica_id = database.replica.identifier if database.replica else None
    cache = build_cache(cfg, links)
    links.cache_endpoint = cache.primary_endpoint
    links.cache_secret_arn = cache.auth_secret_arn
    links.cache_member_ids = cache.member_cluster_ids
    cdn = build_cdn(cfg, links)
    if cdn is not None:
        links.release_bucket = cdn.bucket_name
        links.distribution_id = cdn.distribution.id
    servers: dict[str, ServerTier] = {}
    for key in cfg.server_tiers:  # api before realtime: the realtime tier reads the API tier's key
        servers[key] = BUILDERS[key](cfg, links)
        if key in KEY_OWNERS:
            links.signing_key_secret_arn = servers[key].signing_key_secret_arn
    links.asg_names = {key: tier.asg_name for key, tier in servers.items()}
    monitoring = build_monitoring(cfg, links)

    outputs: dict[str, pulumi.Output[Any] | Any] = {
        "phase": cfg.phase,
        "region": cfg.region,
        "vpc_id": network.vpc_id,
        "alb_dns_name": edge.dns_name,
        **{f"{key}_asg": tier.asg_name for key, tier in servers.items()},
        "database_address": database.address,
        "database_secret_arn": database.master_secret_arn,
        "cache_endpoint": cache.primary_endpoint,
        "alarm_topic_arn": monitoring.topic_arn,
        "budget_limit_usd": budget_limit_usd(cfg.budget.limit_tzs, cfg.budget.usd_to_tzs),
    }
    if database.replica_address is not None:
        outputs["database_replica_address"] = database.replica_address
    if cdn is not None:
        outputs["cdn_domain"] = cdn.domain_name
        if len(cdn.asset_domain_names) > 1:  # the site spreads its asset links over these names
            outputs["cdn_domains"] = cdn.asset_domain_names
            # ... by these shares (components/cdn.py): equal, or the plans filled and the rest overflowing
            outputs["cdn_domain_shares"] = cdn.asset_link_shares
        outputs["assets_bucket"] = cdn.bucket_name
        release = release_of(cfg)
        if release is not None and release.sha256 is not None:  # what the servers install and check
            outputs["release_key"] = release.key
            outputs["release_sha256"] = release.sha256
    if cfg.load_balancer.type == "network":
        # Clients of a split layout reach the realtime tier on its own port.
        outputs["load_balancer_ports"] = {tier: port for tier, port in edge.ports.items()}
    if cdn is not None and cfg.load_balancer.websockets_via_cdn:
        outputs["websocket_url"] = cdn.dynamic_domain_name.apply(lambda domain: f"wss://{domain}/ws")
    # Where clients call the API: the domain (TLS on the load balancer) or CloudFront's default name.
    if cfg.load_balancer.domain is not None:
        outputs["api_url"] = f"https://{cfg.load_balancer.domain}"
    elif cdn is not None and not cfg.load_balancer.tls:
        outputs["api_url"] = cdn.dynamic_domain_name.apply(lambda domain: f"https://{domain}")
    if edge.validation_records is not None:
        outputs["certificate_validation"] = edge.validation_records
    return outputs
