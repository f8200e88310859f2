"""The search: for each shape, the cheapest choice per server group, database and cache; then the front.

Within one shape the tiers price independently (a group's cost depends on its own config and on the
shape's routing, never on another group's type), so choosing the cheapest option of each in turn, the
others held, is the cheapest candidate of the shape; the cheapest shape's candidate is the best. Every
candidate it keeps is priced whole by the estimator, and the best is re-planned under mocks and priced by
check's path before it is reported (:func:`budget.fit.pricer.verify`).

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
from budget.demand import demand_of
from budget.fit.pricer import Priced, Pricer
from budget.fit.space import SERVER_GROUPS, Choice, ServerChoice, Space
from components.config import DemandConfig, StackConfig

#: Whole-user steps of the "most users within the limit" search.
USER_STEP = 100


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
        """Where users are served from (the latency budget is about WebSocket delivery, always direct)."""
        if self.choice.shape.price_class == "PriceClass_100":
            return "WebSockets direct to af-south-1; static assets from European edges (PriceClass_100)"
        return "WebSockets direct to af-south-1; static assets from African edges"


@dataclass
class SearchResult:
    """The cheapest candidate meeting the phase's availability class, and the best of every shape."""

    best: Candidate | None
    per_shape: list[Candidate] = field(default_factory=list)
    unpriced: list[str] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)


def _argmin(
    pricer: Pricer, space: Space, current: Choice, options: list, swap: Callable[[Choice, object], Choice]
) -> tuple[Choice, Candidate | None, list[str]]:
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
    return (best.choice if best else current), best, unpriced


def _with_server(choice: Choice, option: object) -> Choice:
    assert isinstance(option, ServerChoice)
    servers = tuple(option if s.group == option.group else s for s in choice.servers)
    return replace(choice, servers=servers)


def search(base: StackConfig, catalog: Catalog, model: CapacityModel, pricer: Pricer) -> SearchResult:
    """The cheapest deployable candidate for ``base``'s demand (None when nothing can be priced)."""
    space = Space(base, catalog, model)
    servers = {g: space.server_choices(g) for g in SERVER_GROUPS}
    databases, caches = space.database_choices(), space.cache_choices()
    result = SearchResult(best=None, rejected=space.rejected)
    missing = [
        name for name, opts in (*servers.items(), ("database", databases), ("cache", caches)) if not opts
    ]
    if missing:
        result.unpriced.append(f"no option carries the demand for: {', '.join(missing)}")
        return result
    for shape in space.shapes():
        current = Choice(shape, tuple(opts[0] for opts in servers.values()), databases[0], caches[0])
        kept: Candidate | None = None
        for group in SERVER_GROUPS:
            current, kept, bad = _argmin(pricer, space, current, servers[group], _with_server)
            result.unpriced += bad
        current, kept, bad = _argmin(
            pricer,
            space,
            current,
            databases,
            lambda c, o: replace(c, database=o),  # type: ignore[arg-type]
        )
        result.unpriced += bad
        current, kept, bad = _argmin(
            pricer,
            space,
            current,
            caches,
            lambda c, o: replace(c, cache=o),  # type: ignore[arg-type]
        )
        result.unpriced += bad
        if kept is not None:
            result.per_shape.append(kept)
    if result.per_shape:
        result.best = min(result.per_shape, key=lambda c: c.priced.total())
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
            rank[o.availability] >= rank[c.availability]
            and (o.latency == c.latency or "African" in o.latency)
            for o in cheaper
        ):
            continue
        out.append(c)
    return out[:limit]


# ------------------------------------------------------------------------------------ nothing fits


def with_demand(base: StackConfig, **changes: float) -> StackConfig:
    demand = demand_of(base)
    return base.model_copy(update={"demand": DemandConfig.model_validate({**demand.model_dump(), **changes})})


def cheapest_tzs(base: StackConfig, catalog: Catalog, model: CapacityModel, pricer: Pricer) -> float | None:
    found = search(base, catalog, model, pricer).best
    return found.tzs if found else None


def _largest(lo: float, hi: float, fits: Callable[[float], bool], step: float) -> float | None:
    """The largest value in [lo, hi] (to ``step``) for which ``fits`` holds, assuming it holds below."""
    if not fits(lo):
        return None
    if fits(hi):
        return hi
    while hi - lo > step:
        mid = lo + (hi - lo) / 2
        (lo, hi) = (mid, hi) if fits(mid) else (lo, mid)
    return lo


def max_users(base: StackConfig, catalog: Catalog, model: CapacityModel, pricer: Pricer) -> int:
    """The most concurrent users whose cheapest plan fits the limit (0 when even the smallest does not)."""
    limit = base.budget.limit_tzs
    users = demand_of(base).concurrent_users

    def fits(n: float) -> bool:
        total = cheapest_tzs(with_demand(base, concurrent_users=max(1, int(n))), catalog, model, pricer)
        return total is not None and total <= limit

    found = _largest(USER_STEP, users, fits, USER_STEP)
    return 0 if found is None else int(found // USER_STEP * USER_STEP) if found < users else users


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
    base: StackConfig, catalog: Catalog, model: CapacityModel, pricer: Pricer
) -> list[Assumption]:
    """The usage assumptions the verdict rests on, each searched for the value at which the phase fits."""
    limit = base.budget.limit_tzs
    demand = demand_of(base)

    def fits_with(**changes: float) -> bool:
        total = cheapest_tzs(with_demand(base, **changes), catalog, model, pricer)
        return total is not None and total <= limit

    transfer = demand.transfer_gb_per_user_per_month
    floor_ws = demand.websocket_gb_per_user_per_month / max(1e-9, 1 - demand.static_share)

    def at_transfer(v: float) -> bool:
        ws = min(demand.websocket_gb_per_user_per_month, v * (1 - demand.static_share))
        return fits_with(transfer_gb_per_user_per_month=v, websocket_gb_per_user_per_month=ws)

    found_transfer = _largest(0.0, transfer, at_transfer, transfer / 200)
    obj = demand.average_object_kb

    def at_object(v: float) -> bool:
        return fits_with(average_object_kb=v)

    grown = None if not at_object(obj * 100) else _smallest(obj, obj * 100, at_object, obj / 20)
    return [
        Assumption(
            "transfer_gb_per_user_per_month",
            transfer,
            None if found_transfer is None else round(found_transfer, 4),
            "GB per user per month",
            "the plan's 10-50 TB a month at 100,000 users is 0.1-0.5 GB per user"
            + (f"; WebSocket traffic alone is {floor_ws:.3f} at the stated share" if floor_ws else ""),
        ),
        Assumption(
            "average_object_kb",
            obj,
            None if grown is None else round(grown, 1),
            "KB per static object",
            "fewer, larger static objects mean fewer CloudFront requests for the same bytes",
        ),
    ]


def _smallest(lo: float, hi: float, fits: Callable[[float], bool], step: float) -> float | None:
    """The smallest value in [lo, hi] (to ``step``) for which ``fits`` holds, assuming it holds above."""
    if fits(lo):
        return lo
    while hi - lo > step:
        mid = lo + (hi - lo) / 2
        (lo, hi) = (lo, mid) if fits(mid) else (mid, hi)
    return hi
