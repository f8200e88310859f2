"""The configurations ``budget fit`` may propose: every choice is a config this program deploys.

A candidate is the stack's own config with some blocks replaced:

- the shape: server layout (``api`` + ``realtime``, or one combined ``app`` group), load balancer (ALB or
  NLB; without a domain internal, behind a CloudFront VPC origin), WebSockets direct or through
  CloudFront (with a domain and an NLB, through CloudFront to an internal NLB of their own behind a VPC
  origin, the public one carrying the API alone: ``websocket_origin``), egress (NAT, or servers in the
  public subnets; VPC endpoints reach no PyPI, which the runtime's bootstrap installs from), CloudFront
  price class and pricing plan (pay-as-you-go or a flat-rate plan);
- per server group: instance type, purchase option (on demand; spot above an on-demand base; a 1-year
  reservation for the always-on base, alone or with spot above it), and the count the capacity model
  gives for the group's peak load (the availability class sets the floor);
- the database class (storage = the demand's, Multi-AZ when the class requires it) and the cache node and
  engine (Redis OSS or Valkey; two nodes with failover when Multi-AZ), each on demand or reserved.

Usage follows the routing (``budget.demand``): moving traffic changes where it is billed, never how much
of it there is. The latency budget rules out serving WebSockets from edges outside Africa: WebSockets go
through CloudFront only with a price class that includes the African edges.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any, Literal

from budget.capacity import CapacityError, CapacityModel, Loads, Sizing
from budget.catalog import Catalog
from budget.demand import demand_of, traffic, with_routed_usage
from budget.fit.dbpool import GroupSize, check, with_pool
from budget.model import PlannedResource
from budget.pricing_inputs import PricingInputs
from budget.rules import s3_bucket
from budget.rules.base import RuleContext
from components.config import (
    CACHE_NODE_TYPES,
    EC2_INSTANCE_TYPES,
    FREE_PLANS_PER_ACCOUNT,
    MAX_ASSET_DISTRIBUTIONS,
    RDS_INSTANCE_CLASSES,
    UNAVAILABLE_IN_REGION,
    CacheConfig,
    DatabaseConfig,
    DemandConfig,
    ScheduleConfig,
    ServerTierConfig,
    SpotConfig,
    StackConfig,
)

Purchase = Literal["on_demand", "spot", "reserved", "reserved_spot"]
PURCHASES: tuple[Purchase, ...] = ("on_demand", "spot", "reserved", "reserved_spot")
Commitment = Literal["none", "reserved_1yr"]
COMMITMENTS: tuple[Commitment, ...] = ("none", "reserved_1yr")
LAYOUTS = {"split": ("api", "realtime"), "combined": ("app",)}
LOAD_BALANCERS = ("application", "network")
#: Egress modes searched. The servers boot in every mode now (the release artifact and its wheelhouse come
#: from S3 through the gateway endpoint, tests/boot), but ``endpoints`` and ``none`` are not searched yet:
#: their interface endpoints (Secrets Manager, CloudWatch) are not priced by fit's tiers, and ``public``
#: (no NAT gateway, no endpoint hours; USD 3.65 a month per server address) undercuts them at the server
#: counts these phases need.
EGRESS = ("nat", "public")
PRICE_CLASSES = ("PriceClass_100", "PriceClass_200", "PriceClass_All")
#: Price classes whose edges include Africa's (WebSockets may only be served from those: latency budget).
AFRICAN_EDGES = ("PriceClass_200", "PriceClass_All")
CDN_PLANS = ("pay_as_you_go", "free", "pro", "business", "premium")


def availability_floor(demand: DemandConfig) -> int:
    """Servers a group keeps at all times: one per AZ when the phase must survive an AZ's loss."""
    return 2 if demand.availability == "multi_az" else 1


def servers_for_zone_loss(needed: int, zones: int) -> int:
    """The fewest servers spread evenly over ``zones`` that still number ``needed`` after the fullest
    zone is lost (N+1 per zone): 3 needed over 2 zones is 6, over 3 zones 5 (5 - 2 = 3)."""
    count = needed
    while count - math.ceil(count / zones) < needed:
        count += 1
    return count


#: Availability zones a phase spreads over: two, or three when it must survive a zone's loss (a third zone
#: loses a third of the servers instead of half, so fewer spare servers carry the peak).
ZONES = {"single_az": (2,), "multi_az": (2, 3)}


@dataclass(frozen=True)
class ServerChoice:
    """One server group: instance type, purchase option, and the capacity model's sizing."""

    group: str
    instance_type: str
    purchase: Purchase
    sizing: Sizing
    floor: int
    #: Zones the group spreads over, and whether it must carry its peak with one of them lost.
    zones: int = 2
    zone_loss: bool = False

    @property
    def count(self) -> int:
        needed = servers_for_zone_loss(self.sizing.count, self.zones) if self.zone_loss else self.sizing.count
        return max(needed, self.floor)

    @property
    def min_size(self) -> int:
        """The group's minimum: the zone-loss count when it must survive a zone's loss. Target tracking on
        CPU scales a group in to its minimum whenever CPU is under target, and connections, not CPU, may
        decide the count: a lower minimum would leave too few servers when a zone is lost."""
        return self.count if self.zone_loss else self.floor

    @property
    def on_demand_base(self) -> int:
        """Servers kept on demand under spot: the zone-loss count when the group must survive a zone's
        loss (its guarantee may not rest on spot servers: budget/fit/azloss.py), else the floor."""
        return self.min_size if self.zone_loss else self.floor

    def apply(self, tier: ServerTierConfig | None, cpu_target: int) -> ServerTierConfig:
        spotted = self.purchase in ("spot", "reserved_spot")
        spot = (
            SpotConfig(enabled=True, on_demand_base=self.on_demand_base, spot_percentage=100)
            if spotted
            else SpotConfig()
        )
        values: dict[str, Any] = {
            "instance_type": self.instance_type,
            "min_size": self.min_size,
            "desired_capacity": self.count,
            "max_size": self.count,
            "cpu_target_percent": cpu_target,
            "workers": self.sizing.workers,
            "spot": spot,
            # off-peak schedules only lower the minimum; the policy judges the max-size month
            "schedule": ScheduleConfig(),
            "commitment": "reserved_1yr" if self.purchase.startswith("reserved") else "none",
        }
        if tier is None:
            return ServerTierConfig(root_volume_gb=20, **values)
        return tier.model_copy(update=values)

    def label(self) -> str:
        return f"{self.count} x {self.instance_type} ({self.purchase.replace('_', ' ')})"


@dataclass(frozen=True)
class DatabaseChoice:
    instance_class: str
    commitment: Commitment = "none"

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
                "commitment": self.commitment,
            }
        )

    def label(self) -> str:
        return self.instance_class + (" (reserved)" if self.commitment != "none" else "")


@dataclass(frozen=True)
class CacheChoice:
    node_type: str
    engine: Literal["redis", "valkey"]
    commitment: Commitment = "none"

    def apply(self, cache: CacheConfig, demand: DemandConfig) -> CacheConfig:
        multi = demand.availability == "multi_az"
        return cache.model_copy(
            update={
                "node_type": self.node_type,
                "engine": self.engine,
                "num_cache_clusters": 2 if multi else 1,
                "automatic_failover": multi,
                "commitment": self.commitment,
            }
        )

    def label(self) -> str:
        return f"{self.engine} {self.node_type}" + (" (reserved)" if self.commitment != "none" else "")


@dataclass(frozen=True)
class Shape:
    """The structural choices: server layout, load balancer, routes out, CDN edges and plan."""

    layout: str = "split"
    load_balancer: str = "application"
    websockets_via_cdn: bool = False
    egress: str = "nat"
    price_class: str = "PriceClass_100"
    cdn_plan: str = "pay_as_you_go"
    zones: int = 2
    #: Assets distributions, each on the plan (more than one only on a flat-rate plan).
    asset_distributions: int = 1
    #: /ws (and the API without a certificate) on its own pay-as-you-go distribution.
    dynamic_distribution: bool = False
    #: A CloudFront Security Savings Bundle on the pay-as-you-go distribution's charges.
    savings_bundle: bool = False
    #: ``public`` (internet-facing) or ``vpc_origin`` (internal, CloudFront reaches it through a VPC origin).
    origin: str = "public"
    #: The assets' traffic the plans' allowances do not carry on a pay-as-you-go distribution (the dynamic
    #: one when there is one): the plan distributions filled to their allowance.
    asset_overflow: bool = False
    #: ``load_balancer`` (/ws on the load balancer) or ``vpc_origin`` (an internal NLB of its own behind a
    #: CloudFront VPC origin; the public one, TLS for the domain, carries the API alone).
    websocket_origin: str = "load_balancer"
    #: Assets distributions on the Free plan beside the plan's, filled to their allowance before the
    #: overflow (only with ``asset_overflow``).
    free_distributions: int = 0

    @property
    def groups(self) -> tuple[str, ...]:
        return LAYOUTS[self.layout]

    @property
    def route(self) -> tuple[str, str, int]:
        """What a server group's cost depends on besides its own choice: the layout (which groups exist),
        the egress (public addresses) and the zones (servers to carry a zone's loss)."""
        return (self.layout, self.egress, self.zones)

    def label(self) -> str:
        lb = "ALB" if self.load_balancer == "application" else "NLB"
        if self.origin == "vpc_origin":
            lb = f"internal {lb} behind a CloudFront VPC origin"
        ws = "WebSockets through CloudFront" if self.websockets_via_cdn else "WebSockets direct"
        if self.websocket_origin == "vpc_origin":
            lb = f"public {lb} (TLS) for the API"
            ws += f" to an internal {lb.split()[1]} of their own behind a VPC origin"
        plan = self.cdn_plan.replace("_", "-")
        if self.asset_distributions > 1:
            plan = f"{self.asset_distributions} x {plan}"
        if self.free_distributions:
            plan += f" + {self.free_distributions} x free"
        if self.asset_overflow and self.free_distributions:
            # the Free plans may carry the whole rest (the overflow standing by at share 0)
            plan += " filled to the allowance, the assets' rest on the Free plans, any beyond pay as you go"
        elif self.asset_overflow:
            plan += " filled to the allowance, the rest of the assets pay as you go"
        if self.dynamic_distribution:
            carried = "/ws, the API and the assets' rest" if self.asset_overflow else "/ws and the API"
            plan += f" + a pay-as-you-go distribution for {carried}"
        if self.savings_bundle:
            plan += " (Security Savings Bundle)"
        return (
            f"{self.layout} servers, {lb}, {ws}, egress {self.egress}, CDN {self.price_class} {plan},"
            f" {self.zones} zones"
        )


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
        self.unavailable = UNAVAILABLE_IN_REGION.get(base.region, {})
        self.rejected: list[str] = []
        self.egresses = self.egress_options()
        self.log_class = self.cheaper_log_class()
        self.intelligent_tiering = self.tiering_pays()

    def egress_options(self) -> tuple[str, ...]:
        """The servers' ways out searched: NAT only with a stated NAT volume (``usage.nat_processed_gb``,
        the servers' own outbound bytes, which no demand figure gives). A file on public egress states 0
        (what ``fit --write`` writes), so NAT is left out with its reason instead of refusing the file."""
        if self.base.usage.nat_processed_gb > 0:
            return EGRESS
        self.rejected.append(
            "NAT egress: the stack file states no stars:usage.nat_processed_gb (its servers leave through"
            " public IPv4 addresses), so a NAT gateway's processed bytes cannot be priced; state the"
            " servers' outbound GB a month to have it searched"
        )
        return tuple(e for e in EGRESS if e != "nat")

    def cheaper_log_class(self) -> str:
        """The CloudWatch Logs class that costs less for the stack's stated log volumes: Infrequent Access
        halves ingestion and (by its source) costs more to store; the program uses none of what it lacks
        (Live Tail, metric and subscription filters). Every other line is the same, so the two classes
        are compared on these two figures alone instead of being searched."""
        region, usage = self.base.region, self.base.usage
        ingest = self.catalog.get(region, "cloudwatch.logs.ingest").amount * usage.logs_ingested_gb
        stored = self.catalog.get(region, "cloudwatch.logs.storage").amount * usage.logs_stored_gb
        ia = (
            ingest * self.catalog.get(region, "cloudwatch.logs.ia.ingest_factor").amount
            + stored * self.catalog.get(region, "cloudwatch.logs.ia.storage_factor").amount
        )
        return "infrequent_access" if ia < ingest + stored else "standard"

    def tiering_pays(self) -> bool:
        """Whether S3 Intelligent-Tiering costs less than Standard for the stated storage, priced by the
        bucket rule itself on a stand-in bucket (it bills the share not read for 30 days,
        ``usage.s3_infrequent_share``, at Infrequent Access, plus a monitoring fee per 1,000 objects). With
        no stated cold share it only adds the fee, so Standard is chosen. Nothing else depends on the
        class, so it is chosen here once instead of being searched, like the log class."""
        bucket = PlannedResource(type=s3_bucket.TYPES[0], name="assets", inputs={}, urn="stand-in")
        inputs = PricingInputs.of(self.base, self.model.measured)

        def month(tiering: bool) -> float:
            ctx = RuleContext(
                inputs=replace(inputs, intelligent_tiering=tiering), catalog=self.catalog, resources=(bucket,)
            )
            return sum(item.monthly() for item in s3_bucket.price(bucket, ctx))

        return month(True) < month(False)

    def _offered(self, name: str, price_key: str) -> bool:
        if name in self.unavailable:
            return False
        if not self.catalog.has(self.base.region, price_key):
            self.rejected.append(f"{name}: no {self.base.region} price in the catalog")
            return False
        return True

    def server_choices(self, group: str, zones: int = 2) -> list[ServerChoice]:
        load = self.loads.of_group(group)
        zone_loss = self.demand.availability == "multi_az"
        out = []
        for itype in EC2_INSTANCE_TYPES:
            if not self._offered(itype, f"ec2.instance.{itype}"):
                continue
            try:
                sizing = self.model.size_servers(itype, load)
            except CapacityError as exc:
                self.rejected.append(str(exc))
                continue
            # spot only buys the instances above the on-demand base: with none above it, a spot option is
            # its on-demand twin at the same cost, and is left out
            sized = ServerChoice(group, itype, "on_demand", sizing, self.floor, zones, zone_loss)
            above = sized.count > sized.on_demand_base
            out += [replace(sized, purchase=p) for p in PURCHASES if above or p in ("on_demand", "reserved")]
        return out

    def database_choices(self) -> list[DatabaseChoice]:
        out = []
        deployment = "multi_az" if self.demand.availability == "multi_az" else "single_az"
        for cls in RDS_INSTANCE_CLASSES:
            if not self._offered(cls, f"rds.postgres.{cls}.{deployment}"):
                continue
            try:
                if self.model.database_carries(cls, self.loads.db_statements_per_s):
                    out += [DatabaseChoice(cls, c) for c in COMMITMENTS]
                else:
                    self.rejected.append(f"{cls}: cannot sustain the phase's database statements")
            except CapacityError as exc:
                self.rejected.append(str(exc))
        return out

    def takes_connections(self, choice: Choice) -> bool:
        """Whether ``choice``'s database takes its servers' pools at max size (budget.fit.dbpool); a
        class that does not is named among the rejected, with the arithmetic."""
        groups = {s.group: GroupSize(s.min_size, s.count, s.sizing.workers) for s in choice.servers}
        cls = choice.database.instance_class
        verdict = check(self.model, cls, groups, self.loads.db_statements_per_s)
        if not verdict.fits and verdict.statement not in self.rejected:
            self.rejected.append(verdict.statement)
        return verdict.fits

    def cache_choices(self) -> list[CacheChoice]:
        out = []
        engines: tuple[Literal["redis", "valkey"], ...] = ("redis", "valkey")
        for node in CACHE_NODE_TYPES:
            if not self._offered(node, f"elasticache.redis.{node}"):
                continue
            try:
                if self.model.cache_carries(node, self.loads.cache, self.demand.peak_to_average):
                    out += [CacheChoice(node, e, c) for e in engines for c in COMMITMENTS]
                else:
                    self.rejected.append(f"{node}: cannot carry the phase's cache load")
            except CapacityError as exc:
                self.rejected.append(str(exc))
        return out

    def serves_tls(self, shape: Shape) -> bool:
        """Whether ``shape`` serves clients only HTTPS/WSS with the TLS the stack has: a certificate on the
        load balancer (``domain`` or ``certificate_arn``), or else CloudFront in front of the API and /ws on a
        pay-as-you-go distribution, reaching an internal load balancer through a VPC origin (an ALB, or an
        NLB for the combined group: a VPC origin reaches one port). A public load balancer without a
        certificate (plain HTTP gated by CloudFront's prefix list and the origin header) is still a
        public plain-HTTP endpoint, so fit proposes none."""
        if self.base.load_balancer.tls:
            return shape.origin == "public"
        return (
            shape.origin == "vpc_origin"
            and (shape.load_balancer == "application" or shape.layout == "combined")
            and shape.websockets_via_cdn
            and (shape.cdn_plan == "pay_as_you_go" or shape.dynamic_distribution)
        )

    def _allowance(self, plan: str) -> tuple[float, float]:
        """A ``plan`` distribution's monthly allowance: (requests, GB)."""
        region = self.base.region
        return (
            self.catalog.get(region, f"cloudfront.plan.{plan}.requests").amount,
            self.catalog.get(region, f"cloudfront.plan.{plan}.transfer_gb").amount,
        )

    def _needed(self, plan: str) -> int:
        """The fewest distributions on ``plan`` whose allowances carry the assets (one for pay as you go)."""
        if plan == "pay_as_you_go":
            return 1
        t = traffic(self.demand)
        requests, transfer = self._allowance(plan)
        return max(1, math.ceil(t.static_requests / requests), math.ceil(t.static_gb / transfer))

    def most_on(self, plan: str) -> int:
        """The most distributions a stack may put on ``plan`` (the account allows three Free plans)."""
        return (
            min(MAX_ASSET_DISTRIBUTIONS, FREE_PLANS_PER_ACCOUNT)
            if plan == "free"
            else MAX_ASSET_DISTRIBUTIONS
        )

    def asset_distributions(self, plan: str) -> int | None:
        """The fewest distributions on ``plan`` whose allowances carry the assets (None: more than the
        most a stack may have); one for pay as you go."""
        needed = self._needed(plan)
        return needed if needed <= self.most_on(plan) else None

    def overflow_distributions(self, plan: str) -> int | None:
        """Distributions on ``plan`` filled to their allowance, the rest of the assets pay as you go: one
        fewer than the allowances need (at most the most a stack may have); None when the allowance of one
        carries everything (nothing would overflow) or for pay as you go."""
        if plan == "pay_as_you_go":
            return None
        fewer = min(self._needed(plan) - 1, self.most_on(plan))
        return fewer if fewer >= 1 else None

    @staticmethod
    def filled_share(requests: float, gb: float, allowance: tuple[float, float]) -> float:
        """The share of the assets (``requests``, ``gb`` a month) one distribution carries filled to its
        ``allowance``, a billionth below it so float rounding never takes it over the ceiling the rule
        enforces (1 when the allowance carries everything)."""
        each = min(
            allowance[0] / requests if requests else math.inf,
            allowance[1] / gb if gb else math.inf,
        )
        return min(1.0, each * (1 - 1e-9))

    @staticmethod
    def overflow_share(cfg: StackConfig, plan: str, count: int, allowance: tuple[float, float]) -> float:
        """The share of the assets' traffic left for the overflow distribution when ``count`` distributions
        on ``plan`` carry their allowance of the routed figures check prices (``cloudfront_requests``,
        ``cloudfront_egress_gb``). Each plan distribution's share is kept a billionth below its allowance,
        so float rounding never takes it over the ceiling the rule enforces."""
        usage = cfg.usage
        each = Space.filled_share(usage.cloudfront_requests, usage.cloudfront_egress_gb, allowance)
        return 1 - min(1.0, count * each)

    def free_beside(self, plan: str, count: int) -> list[int]:
        """How many Free-plan distributions fit beside ``count`` distributions on ``plan`` filled to their
        allowance with an overflow: 1 to 3 (the account's Free plans, the stack's distributions), each
        filled to its allowance while something is left for the overflow, and the fewest that carry the
        whole rest (the overflow then carries nothing: N paid plans and M Free ones cost less than N + M
        paid ones; the independent fit review's F1); none on the Free plan itself (more of the same)."""
        if plan in ("pay_as_you_go", "free"):
            return []
        t = traffic(self.demand)
        fill = count * self.filled_share(t.static_requests, t.static_gb, self._allowance(plan))
        free = self.filled_share(t.static_requests, t.static_gb, self._allowance("free"))
        most = min(FREE_PLANS_PER_ACCOUNT, MAX_ASSET_DISTRIBUTIONS - count)
        partly = [m for m in range(1, most + 1) if fill + m * free < 1 - 1e-6]
        whole = [m for m in range(1, most + 1) if m not in partly][:1]
        return partly + whole

    def reference_shape(self, zones: int, layout: str = Shape.layout, egress: str | None = None) -> Shape:
        """A shape that serves TLS with the stack's certificates, for pricing tiers that do not read it
        (on the first way out searched unless ``egress`` is given)."""
        shape = Shape(layout=layout, egress=egress or self.egresses[0], zones=zones)
        if self.base.load_balancer.tls:
            return shape
        return replace(shape, websockets_via_cdn=True, price_class=AFRICAN_EDGES[0], origin="vpc_origin")

    def cdn_options(self, via_cdn: bool) -> Iterator[tuple[str, int, bool, bool, bool, int]]:
        """(plan, assets distributions, dynamic distribution, savings bundle, asset overflow, Free-plan
        distributions) for a shape whose WebSockets go through CloudFront or not: a flat-rate plan on as
        many distributions as its allowance needs, or on one fewer filled to its allowance with the rest
        pay as you go (N plans plus the overflow beside N + 1 plans), with 0 to 3 Free plans filled before
        the overflow (:meth:`free_beside`); a dynamic distribution where anything dynamic goes through
        CloudFront, and the Security Savings Bundle on whatever is pay as you go (a commitment like a
        reservation, searched beside none)."""
        dynamic = via_cdn or not self.base.load_balancer.tls
        for plan in CDN_PLANS:
            options: list[tuple[int, bool]] = []
            count = self.asset_distributions(plan)
            if count is None:
                why = (
                    f"CloudFront {plan} plan: the assets need more than {self.most_on(plan)} of its"
                    " distributions (each more name is one more TLS connection per viewer"
                    + (", and an account has at most three Free plans)" if plan == "free" else ")")
                )
                if why not in self.rejected:
                    self.rejected.append(why)
            else:
                options.append((count, False))
            fewer = self.overflow_distributions(plan)
            if fewer is not None:
                options.append((fewer, True))
            for count, overflow in options:
                apart = dynamic and plan != "pay_as_you_go"
                paying = plan == "pay_as_you_go" or apart or overflow
                frees = [0, *self.free_beside(plan, count)] if overflow else [0]
                for bundle in (False, True) if paying else (False,):
                    for free in frees:
                        yield plan, count, apart, bundle, overflow, free

    def shapes(self) -> Iterator[Shape]:
        tls = self.base.load_balancer.tls
        if not tls:
            self.rejected.append(
                "a public load balancer, WebSockets direct and an NLB for the split layout: without"
                " stars:loadBalancer.domain the load balancer has no certificate, so a public one would"
                " listen in plain HTTP (even if only CloudFront's prefix list and origin header reach it);"
                " only an internal load balancer behind a CloudFront VPC origin serves TLS alone (ALB, or an"
                " NLB for the combined group: a VPC origin reaches one port; flat-rate plans for the assets"
                " with /ws and the API on a pay-as-you-go distribution)"
            )
        origin = "public" if tls else "vpc_origin"
        for layout in LAYOUTS:
            for lb in LOAD_BALANCERS:
                for egress in self.egresses:
                    for price_class in PRICE_CLASSES:
                        for via_cdn in (False, True):
                            if via_cdn and price_class not in AFRICAN_EDGES:
                                continue  # the latency budget: no WebSocket from edges outside Africa
                            for plan, count, apart, bundle, overflow, free in self.cdn_options(via_cdn):
                                for zones in ZONES[self.demand.availability]:
                                    for ws_origin in self.websocket_origins(lb, via_cdn):
                                        shape = Shape(
                                            layout, lb, via_cdn, egress, price_class, plan, zones, count,
                                            apart, bundle, origin, overflow, ws_origin, free,
                                        )  # fmt: skip
                                        if self.serves_tls(shape):
                                            yield shape

    def websocket_origins(self, lb: str, via_cdn: bool) -> tuple[str, ...]:
        """Where /ws goes: the load balancer, and with a certificate, an NLB and /ws through CloudFront also
        an internal NLB of its own behind a VPC origin (the public one's TLS listener then holds no idle
        WebSocket: an NLCU per 3,000 of those, where a TCP listener's is per 100,000)."""
        if not (self.base.load_balancer.tls and via_cdn):
            return ("load_balancer",)
        if lb == "application":
            why = (
                "/ws on an internal ALB of its own behind a VPC origin: an ALB bills an LCU per 3,000 active"
                " connections with or without TLS, so a second ALB only adds its hours (searched with NLBs)"
            )
            if why not in self.rejected:
                self.rejected.append(why)
            return ("load_balancer",)
        return ("load_balancer", "vpc_origin")

    # ------------------------------------------------------------------ lower bounds (search pruning)

    def _amount(self, key: str, default: float = 0.0) -> float:
        return (
            self.catalog.get(self.base.region, key).amount
            if self.catalog.has(self.base.region, key)
            else default
        )

    def lower_bound_usd(self, option: ServerChoice | DatabaseChoice | CacheChoice) -> float:
        """A month of the option's instance or node hours alone, at max size: every other line of its tier
        (volumes, addresses, credits, storage) costs zero or more, so its tier costs at least this much.
        The search prices options cheapest bound first and stops once a bound reaches the best tier cost.
        """
        hours = self.catalog.hours_per_month
        if isinstance(option, ServerChoice):
            price = self._amount(f"ec2.instance.{option.instance_type}")
            committed = option.purchase.startswith("reserved")
            base = 1 - self._amount("discount.ec2.ri_1yr_no_upfront") if committed else 1.0
            spotted = option.purchase in ("spot", "reserved_spot")
            above = (
                1 - self.catalog.spot_discount(self.base.region, option.instance_type).amount
                if spotted
                else 1.0
            )
            # a reservation covers the minimum's on-demand instances: the base under spot, else the minimum
            floor = min(option.on_demand_base if spotted else option.min_size, option.count)
            return hours * price * (floor * base + (option.count - floor) * above)
        if isinstance(option, DatabaseChoice):
            deployment = "multi_az" if self.demand.availability == "multi_az" else "single_az"
            price = self._amount(f"rds.postgres.{option.instance_class}.{deployment}")
            off = self._amount("discount.rds.ri_1yr_no_upfront") if option.commitment != "none" else 0.0
            return hours * price * (1 - off)
        nodes = 2 if self.demand.availability == "multi_az" else 1
        price = self._amount(f"elasticache.redis.{option.node_type}")
        factor = self._amount("elasticache.valkey_factor", 1.0) if option.engine == "valkey" else 1.0
        off = self._amount("discount.elasticache.ri_1yr_no_upfront") if option.commitment != "none" else 0.0
        return hours * nodes * price * factor * (1 - off)

    def _overflow(self, routed: StackConfig, shape: Shape) -> dict[str, object]:
        """The overflow keys of ``shape`` for the routed figures: the plan and Free-plan distributions
        filled to their allowances, the rest the overflow's share."""
        count, plan, free = shape.asset_distributions, shape.cdn_plan, shape.free_distributions
        share = self.overflow_share(routed, plan, count, self._allowance(plan))
        update: dict[str, object] = {"asset_overflow": "pay_as_you_go", "asset_overflow_share": share}
        if free:
            usage = routed.usage
            each = self.filled_share(
                usage.cloudfront_requests, usage.cloudfront_egress_gb, self._allowance("free")
            )
            each = min(each, share / free)  # Free plans that can carry the whole rest carry it
            left = share - free * each
            update |= {
                "free_asset_distributions": free,
                "free_asset_share": each,
                "asset_overflow_share": left if left > 1e-9 else 0.0,
            }
        return update

    def config(self, choice: Choice) -> StackConfig:
        """The stack config of a choice, with its usage routed for its architecture."""
        base, shape = self.base, choice.shape
        target = self.model.settings.cpu_target_percent
        servers: dict[str, ServerTierConfig | None] = {"api": None, "realtime": None, "app": None}
        reference = base.api or base.app
        for s in choice.servers:
            servers[s.group] = s.apply(getattr(base, s.group) or reference, target)
        cdn_update: dict[str, object] = {
            "price_class": shape.price_class,
            "plan": shape.cdn_plan,
            "asset_distributions": shape.asset_distributions,
            "dynamic_distribution": shape.dynamic_distribution,
            "savings_bundle": shape.savings_bundle,
            "intelligent_tiering": self.intelligent_tiering,
            # set below from the routed usage when the shape has it
            "asset_overflow": "none",
            "asset_overflow_share": 0.0,
            "free_asset_distributions": 0,
            "free_asset_share": 0.0,
        }
        if shape.cdn_plan in ("free", "pro") or shape.free_distributions:
            cdn_update["default_ttl_seconds"] = 86400  # those plans allow only AWS-managed cache policies
        cfg = base.model_copy(
            update={
                **servers,
                "network": base.network.model_copy(
                    update={
                        "private_egress": shape.egress,
                        "az_count": shape.zones,
                        "nat_gateways": "per_az" if self.demand.availability == "multi_az" else "single",
                        # a single-AZ plan runs its servers in its data stores' zone: no inter-AZ transfer
                        "placement": "spread" if self.demand.availability == "multi_az" else "single_zone",
                    }
                ),
                "load_balancer": base.load_balancer.model_copy(
                    update={
                        "type": shape.load_balancer,
                        "websockets_via_cdn": shape.websockets_via_cdn,
                        "origin": shape.origin,
                        "websocket_origin": shape.websocket_origin,
                    }
                ),
                "database": choice.database.apply(base.database, self.demand),
                "cache": choice.cache.apply(base.cache, self.demand),
                "cdn": base.cdn.model_copy(update=cdn_update),
                "monitoring": base.monitoring.model_copy(update={"log_class": self.log_class}),
            }
        )
        # every routed usage figure (WebSockets through CloudFront too) re-derived for this shape
        routed = with_routed_usage(cfg, stated=base.usage)
        if shape.asset_overflow:
            routed = routed.model_copy(
                update={"cdn": routed.cdn.model_copy(update=self._overflow(routed, shape))}
            )
        # each process's PostgreSQL pool, sized against the database class's max_connections
        routed = with_pool(routed, self.model)
        # validate the whole config as the stack file would be read (cross-field rules included)
        return StackConfig.model_validate(routed.model_dump())
