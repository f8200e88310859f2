"""The configurations ``budget fit`` may propose: every choice is a config this program deploys.

A candidate is the stack's own config with some blocks replaced: the server groups (type, count from the
capacity model, purchase option), the database and the cache (class, engine, availability), the egress
and the CDN. Server counts are never chosen freely: the capacity model sizes each group for the phase's
peak demand with its headroom, and the availability class sets the floor (two servers, Multi-AZ data
stores and a NAT gateway per AZ when a phase must survive the loss of an AZ). Usage follows the routing
(``budget.demand``): moving traffic changes where it is billed, never how much of it there is.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

from budget.capacity import CapacityError, CapacityModel, Load, Sizing
from budget.catalog import Catalog
from budget.demand import demand_of, with_routed_usage
from components.config import (
    CACHE_NODE_TYPES,
    EC2_INSTANCE_TYPES,
    RDS_INSTANCE_CLASSES,
    CacheConfig,
    DatabaseConfig,
    DemandConfig,
    ScheduleConfig,
    ServerTierConfig,
    SpotConfig,
    StackConfig,
)

Purchase = Literal["on_demand", "spot"]
PURCHASES: tuple[Purchase, ...] = ("on_demand", "spot")
PRICE_CLASSES = ("PriceClass_100", "PriceClass_200", "PriceClass_All")
#: Egress modes that let the servers fetch the runtime release and reach AWS APIs (``none`` does not).
EGRESS = ("nat", "endpoints")
SERVER_GROUPS = ("api", "realtime")


@dataclass(frozen=True)
class Loads:
    """The peak each server group carries, from the phase's demand."""

    realtime: Load
    api: Load
    db_statements_per_s: float
    cache: Load

    @classmethod
    def of(cls, demand: DemandConfig) -> Loads:
        users = demand.concurrent_users
        realtime = Load(
            connections=users * demand.connections_per_user,
            deliveries_per_s=users * demand.deliveries_per_user_per_second,
        )
        api = Load(api_rps=users * demand.api_requests_per_user_per_second)
        return cls(
            realtime=realtime,
            api=api,
            db_statements_per_s=users * demand.db_statements_per_user_per_second,
            cache=realtime + api,
        )


def availability_floor(demand: DemandConfig) -> int:
    """Servers a group keeps at all times: one per AZ when the phase must survive an AZ's loss."""
    return 2 if demand.availability == "multi_az" else 1


@dataclass(frozen=True)
class ServerChoice:
    """One server group: instance type, purchase option, and the capacity model's sizing."""

    group: str
    instance_type: str
    purchase: Purchase
    sizing: Sizing
    floor: int

    @property
    def count(self) -> int:
        return max(self.sizing.count, self.floor)

    def apply(self, tier: ServerTierConfig, cpu_target: int) -> ServerTierConfig:
        spot = (
            SpotConfig(enabled=True, on_demand_base=self.floor, spot_percentage=100)
            if self.purchase == "spot"
            else SpotConfig()
        )
        return tier.model_copy(
            update={
                "instance_type": self.instance_type,
                "min_size": self.floor,
                "desired_capacity": self.count,
                "max_size": self.count,
                "cpu_target_percent": cpu_target,
                "workers": self.sizing.workers,
                "spot": spot,
                # off-peak schedules only lower the minimum; the policy judges the max-size month
                "schedule": ScheduleConfig(),
            }
        )

    def label(self) -> str:
        return f"{self.count} x {self.instance_type} ({self.purchase.replace('_', '-')})"


@dataclass(frozen=True)
class DatabaseChoice:
    instance_class: str

    def apply(self, db: DatabaseConfig, demand: DemandConfig) -> DatabaseConfig:
        storage = max(20, math.ceil(demand.database_storage_gb))
        return db.model_copy(
            update={
                "instance_class": self.instance_class,
                "allocated_storage_gb": storage,
                "max_allocated_storage_gb": max(db.max_allocated_storage_gb, 2 * storage),
                "multi_az": demand.availability == "multi_az",
                # the capacity model sizes the primary for every statement: no replica is needed to carry
                # the load, and Multi-AZ (not a replica) is what survives an AZ's loss
                "read_replica": False,
            }
        )


@dataclass(frozen=True)
class CacheChoice:
    node_type: str
    engine: Literal["redis", "valkey"]

    def apply(self, cache: CacheConfig, demand: DemandConfig) -> CacheConfig:
        multi = demand.availability == "multi_az"
        return cache.model_copy(
            update={
                "node_type": self.node_type,
                "engine": self.engine,
                "num_cache_clusters": 2 if multi else 1,
                "automatic_failover": multi,
            }
        )


@dataclass(frozen=True)
class Shape:
    """The structural choices: how traffic leaves the VPC and which CloudFront edges serve it."""

    egress: str
    price_class: str

    def label(self) -> str:
        return f"egress {self.egress}, CDN {self.price_class}"


@dataclass(frozen=True)
class Choice:
    """A whole candidate: its shape and one choice per server group, database and cache."""

    shape: Shape
    servers: tuple[ServerChoice, ...]
    database: DatabaseChoice
    cache: CacheChoice


class Space:
    """Every choice available to one stack, with the servers sized by the capacity model."""

    def __init__(self, base: StackConfig, catalog: Catalog, model: CapacityModel) -> None:
        self.base = base
        self.catalog = catalog
        self.model = model
        self.demand = demand_of(base)
        self.loads = Loads.of(self.demand)
        self.floor = availability_floor(self.demand)
        self.rejected: list[str] = []

    def _priced(self, key: str) -> bool:
        return self.catalog.has(self.base.region, key)

    def server_choices(self, group: str) -> list[ServerChoice]:
        load = self.loads.realtime if group == "realtime" else self.loads.api
        out = []
        for itype in EC2_INSTANCE_TYPES:
            if not self._priced(f"ec2.instance.{itype}"):
                self.rejected.append(f"{itype}: no {self.base.region} price in the catalog")
                continue
            try:
                sizing = self.model.size_servers(itype, load)
            except CapacityError as exc:
                self.rejected.append(str(exc))
                continue
            out += [ServerChoice(group, itype, p, sizing, self.floor) for p in PURCHASES]
        return out

    def database_choices(self) -> list[DatabaseChoice]:
        out = []
        deployment = "multi_az" if self.demand.availability == "multi_az" else "single_az"
        for cls in RDS_INSTANCE_CLASSES:
            if not self._priced(f"rds.postgres.{cls}.{deployment}"):
                continue
            try:
                if self.model.database_carries(cls, self.loads.db_statements_per_s):
                    out.append(DatabaseChoice(cls))
                else:
                    self.rejected.append(f"{cls}: cannot sustain the phase's database statements")
            except CapacityError as exc:
                self.rejected.append(str(exc))
        return out

    def cache_choices(self) -> list[CacheChoice]:
        out = []
        for node in CACHE_NODE_TYPES:
            if not self._priced(f"elasticache.redis.{node}"):
                continue
            try:
                if self.model.cache_carries(node, self.loads.cache):
                    out += [CacheChoice(node, engine) for engine in ("redis", "valkey")]
                else:
                    self.rejected.append(f"{node}: cannot carry the phase's cache load")
            except CapacityError as exc:
                self.rejected.append(str(exc))
        return out

    def shapes(self) -> Iterator[Shape]:
        for egress in EGRESS:
            for price_class in PRICE_CLASSES:
                yield Shape(egress, price_class)

    def config(self, choice: Choice) -> StackConfig:
        """The stack config of a choice, with its usage routed for its architecture."""
        base = self.base
        target = self.model.settings.cpu_target_percent
        servers = {s.group: s.apply(getattr(base, s.group), target) for s in choice.servers}
        network = base.network.model_copy(
            update={
                "private_egress": choice.shape.egress,
                "nat_gateways": "per_az" if self.demand.availability == "multi_az" else "single",
            }
        )
        cfg = base.model_copy(
            update={
                **servers,
                "network": network,
                "database": choice.database.apply(base.database, self.demand),
                "cache": choice.cache.apply(base.cache, self.demand),
                "cdn": base.cdn.model_copy(update={"price_class": choice.shape.price_class}),
            }
        )
        # validate the whole config as the stack file would be read (cross-field rules included)
        cfg = StackConfig.model_validate(cfg.model_dump())
        return with_routed_usage(cfg, stated=base.usage)
