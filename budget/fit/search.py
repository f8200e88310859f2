"""The search: the cheapest option of each tier, every shape priced with them, then the front.

A tier's cost depends on its own config and on the few shape choices it reads, never on another tier's
choice: a server group on the layout (which groups exist) and the egress (public addresses), the database
and the cache on nothing else. So the cheapest option of each tier is found once (the servers once per
layout and egress), every shape is priced with those, and the cheapest shape's candidate is the best (a
test holds this against the brute-force minimum of a small space). Every candidate is priced whole by the
estimator, and what is reported is re-planned under mocks and priced by check's path
(:func:`budget.fit.pricer.verify`).

When nothing fits, three more figures answer "how far": the lowest limit that buys the phase (the best
plan's cost), the most concurrent users the limit buys (the same search at fewer users), and the usage
assumption at which the best plan would fit (the same search at a lower transfer per user, or larger
static objects), with the one that needs the smallest change named as deciding.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from budget.capacity import CapacityModel
from budget.catalog import Catalog
from budget.demand import demand_of, websocket_floor_gb_per_user
from budget.fit.pricer import Priced, Pricer
from budget.fit.space import EGRESS, LAYOUTS, CacheChoice, Choice, DatabaseChoice, ServerChoice, Space
from components.config import DemandConfig, StackConfig

#: The "most users within the limit" search stops at 1% of the phase's users, or 100 users if more.
USER_PRECISION = 0.01
MIN_USER_STEP = 100


@dataclass(frozen=True)
class Candidate:
    """A priced choice."""

    choice: Choice
    priced: Priced

    @property
    def tzs(self) -> float:
        return self.priced.tzs("max")

    @property
    def availability(self) -> str:
        return "multi_az" if self.priced.cfg.database.multi_az else "single_az"

    @property
    def latency(self) -> str:
        """Where users are served from (the latency budget is about WebSocket delivery)."""
        shape = self.choice.shape
        ws = (
            "WebSockets through CloudFront's African edges"
            if shape.websockets_via_cdn
            else "WebSockets direct"
        )
        edges = (
            "European edges (PriceClass_100)" if shape.price_class == "PriceClass_100" else "African edges"
        )
        return f"{ws} to af-south-1; static assets from {edges}"

    @property
    def latency_rank(self) -> int:
        """0: everything from Africa; 1: static assets from Europe (slower for users in Tanzania)."""
        return 1 if self.choice.shape.price_class == "PriceClass_100" else 0


@dataclass
class TierChoices:
    """The cheapest option of each tier: per (layout, egress) for the servers (their cost depends on the
    layout's groups and on public addresses), once for the database and the cache."""

    servers: dict[tuple[str, str], tuple[ServerChoice, ...]]
    database: DatabaseChoice
    cache: CacheChoice


@dataclass
class SearchResult:
    """The cheapest candidate, and the cheapest candidate of every shape."""

    best: Candidate | None
    per_shape: list[Candidate] = field(default_factory=list)
    unpriced: list[str] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)
    tiers: TierChoices | None = None


def _argmin(
    pricer: Pricer, space: Space, current: Choice, options: list, swap: Callable[[Choice, object], Choice]
) -> tuple[Choice, list[str]]:
    """The option of one tier that makes ``current`` cheapest, the others held."""
    best: Candidate | None = None
    unpriced: list[str] = []
    for option in options:
        choice = swap(current, option)
        priced = pricer.price(space.config(choice))
        if not priced.priced:
            unpriced.append(priced.why_unpriced())
            continue
        if best is None or priced.total() < best.priced.total() - 1e-9:
            best = Candidate(choice, priced)
    return (best.choice if best else current), unpriced


def _with_server(choice: Choice, option: object) -> Choice:
    assert isinstance(option, ServerChoice)
    servers = tuple(option if s.group == option.group else s for s in choice.servers)
    return replace(choice, servers=servers)


def _tier_choices(space: Space, pricer: Pricer, result: SearchResult) -> TierChoices | None:
    servers = {g: space.server_choices(g) for layout in LAYOUTS.values() for g in layout}
    databases, caches = space.database_choices(), space.cache_choices()
    missing = [
        name for name, opts in (*servers.items(), ("database", databases), ("cache", caches)) if not opts
    ]
    if missing:
        result.unpriced.append(f"no option carries the demand for: {', '.join(missing)}")
        return None
    # the data stores' costs do not depend on the servers: any server choice serves as the reference
    reference = space.reference_shape()
    current = Choice(reference, tuple(servers[g][0] for g in reference.groups), databases[0], caches[0])
    current, bad = _argmin(pricer, space, current, databases, lambda c, o: replace(c, database=o))  # type: ignore[arg-type]
    result.unpriced += bad
    current, bad = _argmin(pricer, space, current, caches, lambda c, o: replace(c, cache=o))  # type: ignore[arg-type]
    result.unpriced += bad
    by_route: dict[tuple[str, str], tuple[ServerChoice, ...]] = {}
    for layout, groups in LAYOUTS.items():
        for egress in EGRESS:
            shape = space.reference_shape(layout=layout, egress=egress)
            choice = Choice(shape, tuple(servers[g][0] for g in groups), current.database, current.cache)
            for group in groups:
                choice, bad = _argmin(pricer, space, choice, servers[group], _with_server)
                result.unpriced += bad
            by_route[(layout, egress)] = choice.servers
    return TierChoices(by_route, current.database, current.cache)


def search(
    base: StackConfig,
    catalog: Catalog,
    model: CapacityModel,
    pricer: Pricer,
    tiers: TierChoices | None = None,
) -> SearchResult:
    """The cheapest deployable candidate for ``base``'s demand (None when nothing can be priced).

    ``tiers`` reuses the tier choices of a search at the same users (only usage changed), which the
    capacity model and the tiers' own prices do not depend on.
    """
    space = Space(base, catalog, model)
    result = SearchResult(best=None, rejected=space.rejected)
    tiers = tiers or _tier_choices(space, pricer, result)
    if tiers is None:
        return result
    result.tiers = tiers
    for shape in space.shapes():
        choice = Choice(shape, tiers.servers[(shape.layout, shape.egress)], tiers.database, tiers.cache)
        priced = pricer.price(space.config(choice))
        if priced.priced:
            result.per_shape.append(Candidate(choice, priced))
        else:
            result.unpriced.append(priced.why_unpriced())
    if result.per_shape:
        # equal cost: the one that serves users from nearer edges
        result.best = min(result.per_shape, key=lambda c: (round(c.priced.total(), 6), c.latency_rank))
    return result


def front(candidates: list[Candidate], best: Candidate, limit: int = 5) -> list[Candidate]:
    """Runner-ups not dominated in cost, availability and latency by a cheaper one, cheapest first."""
    rank = {"single_az": 0, "multi_az": 1}
    out: list[Candidate] = []
    for c in sorted(candidates, key=lambda c: c.priced.total()):
        if c is best:
            continue
        cheaper = [best, *out]
        if any(
            rank[o.availability] >= rank[c.availability] and o.latency_rank <= c.latency_rank for o in cheaper
        ):
            continue
        out.append(c)
    return out[:limit]


# ------------------------------------------------------------------------------------ nothing fits


def with_demand(base: StackConfig, **changes: float) -> StackConfig:
    demand = demand_of(base)
    return base.model_copy(update={"demand": DemandConfig.model_validate({**demand.model_dump(), **changes})})


def cheapest_tzs(
    base: StackConfig,
    catalog: Catalog,
    model: CapacityModel,
    pricer: Pricer,
    tiers: TierChoices | None = None,
) -> float | None:
    found = search(base, catalog, model, pricer, tiers).best
    return found.tzs if found else None


def _boundary(
    lo: float, hi: float, fits: Callable[[float], bool], step: float, *, holds_below: bool
) -> float | None:
    """Where ``fits`` stops holding in [lo, hi], to ``step``, from its side: the largest value that fits
    when it holds below the boundary, the smallest when it holds above; None when it holds at neither end."""
    good, bad = (lo, hi) if holds_below else (hi, lo)
    if not fits(good):
        return None
    if fits(bad):
        return bad
    while abs(bad - good) > step:
        mid = min(good, bad) + abs(bad - good) / 2
        good, bad = (mid, bad) if fits(mid) else (good, mid)
    return good


def max_users(base: StackConfig, catalog: Catalog, model: CapacityModel, pricer: Pricer) -> int:
    """The most concurrent users whose cheapest plan fits the limit (0 when even the smallest does not)."""
    limit = base.budget.limit_tzs
    users = demand_of(base).concurrent_users

    def fits(n: float) -> bool:
        total = cheapest_tzs(with_demand(base, concurrent_users=max(1, int(n))), catalog, model, pricer)
        return total is not None and total <= limit

    step = max(MIN_USER_STEP, round(users * USER_PRECISION, -2))
    found = _boundary(step, users, fits, step, holds_below=True)
    return 0 if found is None else int(found // step * step) if found < users else users


@dataclass(frozen=True)
class Assumption:
    """A usage assumption and the value at which the cheapest plan would fit."""

    key: str
    stated: float
    fits_at: float | None
    unit: str
    why: str

    @property
    def change(self) -> float:
        """How far the assumption must move, as a fraction of its stated value (inf: no value fits)."""
        if self.fits_at is None:
            return math.inf
        return abs(self.fits_at - self.stated) / self.stated if self.stated else math.inf


def assumptions(
    base: StackConfig,
    catalog: Catalog,
    model: CapacityModel,
    pricer: Pricer,
    tiers: TierChoices | None = None,
) -> list[Assumption]:
    """The usage assumptions the verdict rests on, each searched for the value at which the phase fits.

    ``tiers``: the tier choices at the phase's users (usage does not change what carries the users).
    """
    limit = base.budget.limit_tzs
    demand = demand_of(base)

    def fits_with(**changes: float) -> bool:
        total = cheapest_tzs(with_demand(base, **changes), catalog, model, pricer, tiers)
        return total is not None and total <= limit

    transfer = demand.transfer_gb_per_user_per_month

    def at_transfer(v: float) -> bool:
        return fits_with(transfer_gb_per_user_per_month=v)

    # below the real-time frames' own bytes a transfer is inconsistent with the deliveries
    floor = websocket_floor_gb_per_user(demand)
    found_transfer = _boundary(floor, transfer, at_transfer, transfer / 200, holds_below=True)
    obj = demand.average_object_kb

    def at_object(v: float) -> bool:
        return fits_with(average_object_kb=v)

    grown = _boundary(obj, obj * 100, at_object, obj / 20, holds_below=False)
    return [
        Assumption(
            "transfer_gb_per_user_per_month",
            transfer,
            None if found_transfer is None else round(found_transfer, 4),
            "GB per user per month",
            "the plan's 10-50 TB a month at 100,000 users is 0.1-0.5 GB per user",
        ),
        Assumption(
            "average_object_kb",
            obj,
            None if grown is None else round(grown, 1),
            "KB per static object",
            "fewer, larger static objects mean fewer CloudFront requests for the same bytes",
        ),
    ]
