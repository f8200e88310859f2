"""The whole STARS stack for one phase: every tier wired together from one validated config."""

from __future__ import annotations

from typing import Any

import pulumi

from components.cache import Cache, CacheArgs
from components.cdn import Cdn, CdnArgs
from components.config import ServerTierConfig, StackConfig
from components.database import DB_NAME, Database, DatabaseArgs
from components.edge import Edge, EdgeArgs
from components.monitoring import Monitoring, MonitoringArgs, budget_limit_usd
from components.network import REDIS_PORT, Network, NetworkArgs
from components.server_tier import ServerTier, ServerTierArgs

#: Component names; the first part of every resource name, so ``tier = name.split("-")[0]``.
TIERS = ("network", "edge", "api", "realtime", "database", "cache", "cdn", "monitoring")


def capacity_floor(tier: ServerTierConfig) -> int:
    """The fewest instances the group is meant to run at any hour (off-peak schedules lower the minimum)."""
    if tier.schedule.enabled:
        return min(tier.min_size, tier.schedule.off_peak_min_size)
    return tier.min_size


def build_stack(cfg: StackConfig) -> dict[str, pulumi.Output[Any] | Any]:
    """Create every tier for ``cfg`` and return the stack outputs (the caller exports them)."""
    tags = cfg.tags
    network = Network(
        "network",
        NetworkArgs(
            cidr=cfg.network.cidr,
            az_count=cfg.network.az_count,
            private_egress=cfg.network.private_egress,
            nat_gateways=cfg.network.nat_gateways,
            region=cfg.region,
            tags=tags,
        ),
    )
    sgs = network.security_groups
    edge = Edge(
        "edge",
        EdgeArgs(
            vpc_id=network.vpc_id,
            public_subnet_ids=network.public_subnet_ids,
            security_group_id=sgs["alb"].id,
            idle_timeout_seconds=cfg.load_balancer.idle_timeout_seconds,
            deregistration_delay_seconds=cfg.load_balancer.deregistration_delay_seconds,
            certificate_arn=cfg.load_balancer.certificate_arn,
            tags=tags,
        ),
    )
    database = Database(
        "database",
        DatabaseArgs(
            config=cfg.database,
            subnet_ids=network.private_subnet_ids,
            security_group_id=sgs["database"].id,
            tags=tags,
        ),
    )
    cache = Cache(
        "cache",
        CacheArgs(
            config=cfg.cache,
            subnet_ids=network.private_subnet_ids,
            security_group_id=sgs["cache"].id,
            tags=tags,
        ),
    )
    cdn = Cdn("cdn", CdnArgs(config=cfg.cdn, tags=tags)) if cfg.cdn.enabled else None

    def tier_args(
        tier: ServerTierConfig, key: str, signing_key_arn: pulumi.Input[str] | None
    ) -> ServerTierArgs:
        return ServerTierArgs(
            tier=tier,
            region=cfg.region,
            subnet_ids=network.private_subnet_ids,
            security_group_id=sgs[key].id,
            target_group_arn=edge.target_groups[key].arn,
            log_retention_days=cfg.monitoring.log_retention_days,
            detailed_monitoring=cfg.monitoring.detailed_instance_monitoring,
            database_host=database.address,
            database_name=DB_NAME,
            database_secret_arn=database.master_secret_arn,
            redis_host=cache.primary_endpoint,
            redis_port=REDIS_PORT,
            redis_secret_arn=cache.auth_secret_arn,
            signing_key_secret_arn=signing_key_arn,
            release_bucket=cdn.bucket_name if cdn else None,
            drain_seconds=cfg.load_balancer.deregistration_delay_seconds,
            tags=tags,
        )

    api = ServerTier("api", tier_args(cfg.api, "api", None))
    realtime = ServerTier("realtime", tier_args(cfg.realtime, "realtime", api.signing_key_secret_arn))

    monitoring = Monitoring(
        "monitoring",
        MonitoringArgs(
            level=cfg.monitoring.level,
            region=cfg.region,
            phase=cfg.phase,
            alarm_email=cfg.monitoring.alarm_email,
            dashboard=cfg.monitoring.dashboard,
            budget_limit_usd=budget_limit_usd(cfg.budget.limit_tzs, cfg.budget.usd_to_tzs),
            alb_arn_suffix=edge.alb.arn_suffix,
            target_group_arn_suffixes={k: tg.arn_suffix for k, tg in edge.target_groups.items()},
            asg_names={"api": api.asg_name, "realtime": realtime.asg_name},
            asg_floor={"api": capacity_floor(cfg.api), "realtime": capacity_floor(cfg.realtime)},
            database_id=database.primary.identifier,
            database_allocated_gb=cfg.database.allocated_storage_gb,
            replica_id=database.replica.identifier if database.replica else None,
            cache_member_ids=cache.member_cluster_ids,
            distribution_id=cdn.distribution.id if cdn else None,
            tags=tags,
        ),
    )

    outputs: dict[str, pulumi.Output[Any] | Any] = {
        "phase": cfg.phase,
        "region": cfg.region,
        "vpc_id": network.vpc_id,
        "alb_dns_name": edge.dns_name,
        "api_asg": api.asg_name,
        "realtime_asg": realtime.asg_name,
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
        outputs["assets_bucket"] = cdn.bucket_name
    return outputs
