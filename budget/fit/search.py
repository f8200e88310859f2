"""The search: the cheapest option of each tier, every shape priced with them, then the front.

A tier's cost depends on its own config and on the few shape choices it reads, never on another tier's
choice: a server group on the layout (which groups exist), the egress (public addresses) and the zones
(servers to carry a zone's loss), the database and the cache on nothing else. So the cheapest option of each
tier is found once (the servers once per route), cheapest lower bound first with the options that cannot
win skipped, every shape is priced with those, and the cheapest shape's candidate is the best (a test holds
this against the brute-force minimum of a small space). Every candidate is priced whole by the estimator,
and what is reported is re-planned under mocks and priced by check's path (:func:`budget.fit.pricer.verify`).

How far a phase is from its limit is :mod:`budget.fit.howfar`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import TypeVar

from budget.capacity import CapacityModel
from budget.catalog import Catalog
from budget.fit.pricer import Priced, Pricer
from budget.fit.space import LAYOUTS, CacheChoice, Choice, DatabaseChoice, ServerChoice, Space
from components.config import StackConfig

Option = TypeVar("Option", ServerChoice, DatabaseChoice, CacheChoice)


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

    servers: dict[tuple[str, str, int], tuple[ServerChoice, ...]]
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
    pricer: Pricer,
    space: Space,
    current: Choice,
    options: Sequence[Option],
    swap: Callable[[Choice, Option], Choice],
    tier: Callable[[Option], str],
) -> tuple[Choice, list[str]]:
    """The option of one tier that makes ``current`` cheapest, the others held.

    The other tiers cost the same whichever option this tier takes, so an option whose lower bound
    (:meth:`Space.lower_bound_usd`) reaches the best option's own tier cost cannot win: options are priced
    cheapest bound first and the rest are skipped (a test holds the result against the brute force).
    """
    best: Candidate | None = None
    best_tier = math.inf
    unpriced: list[str] = []
    for option in sorted(options, key=space.lower_bound_usd):
        if space.lower_bound_usd(option) >= best_tier - 1e-9:
            break
        choice = swap(current, option)
        priced = pricer.price(space.config(choice))
        if not priced.priced:
            unpriced.append(priced.why_unpriced())
            continue
        if best is None or priced.total() < best.priced.total() - 1e-9:
            best = Candidate(choice, priced)
            best_tier = priced.by_tier().get(tier(option), 0.0)
    return (best.choice if best else current), unpriced


def _with_server(choice: Choice, option: ServerChoice) -> Choice:
    servers = tuple(option if s.group == option.group else s for s in choice.servers)
    return replace(choice, servers=servers)


def _tier_choices(space: Space, pricer: Pricer, result: SearchResult) -> TierChoices | None:
    zones = sorted({shape.zones for shape in space.shapes()})
    servers = {
        (g, z): space.server_choices(g, z) for layout in LAYOUTS.values() for g in layout for z in zones
    }
    databases, caches = space.database_choices(), space.cache_choices()
    missing = [
        name
        for name, opts in (
            *((g, o) for (g, _), o in servers.items()),
            ("database", databases),
            ("cache", caches),
        )
        if not opts
    ]
    if missing:
        result.unpriced.append(f"no option carries the demand for: {', '.join(dict.fromkeys(missing))}")
        return None
    # the data stores' costs do not depend on the servers: any server choice serves as the reference
    reference = space.reference_shape(zones=zones[0])
    current = Choice(
        reference, tuple(servers[(g, zones[0])][0] for g in reference.groups), databases[0], caches[0]
    )
    current, bad = _argmin(
        pricer, space, current, databases, lambda c, o: replace(c, database=o), lambda _: "database"
    )
    result.unpriced += bad
    current, bad = _argmin(
        pricer, space, current, caches, lambda c, o: replace(c, cache=o), lambda _: "cache"
    )
    result.unpriced += bad
    by_route: dict[tuple[str, str, int], tuple[ServerChoice, ...]] = {}
    for layout, groups in LAYOUTS.items():
        for egress in space.egresses:
            for z in zones:
                shape = space.reference_shape(layout=layout, egress=egress, zones=z)
                choice = Choice(
                    shape, tuple(servers[(g, z)][0] for g in groups), current.database, current.cache
                )
                for group in groups:
                    choice, bad = _argmin(
                        pricer, space, choice, servers[(group, z)], _with_server, lambda o: o.group
                    )
                    result.unpriced += bad
                by_route[shape.route] = choice.servers
    return TierChoices(by_route, current.database, current.cache)


def _database_for_pools(
    space: Space, pricer: Pricer, choice: Choice, result: SearchResult
) -> DatabaseChoice | None:
    """The cheapest database option whose max_connections takes ``choice``'s servers' pools (the
    cheapest overall cannot: budget.fit.dbpool); None, said in ``unpriced``, when no option can."""
    fitting = [d for d in space.database_choices() if space.takes_connections(replace(choice, database=d))]
    best, bad = _argmin(
        pricer, space, choice, fitting, lambda c, o: replace(c, database=o), lambda _: "database"
    )
    result.unpriced += bad
    if best.database in fitting:
        return best.database
    result.unpriced.append(f"{choice.shape.label()}: no database class takes its servers' pools")
    return None


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
    larger: dict[tuple[str, str, int], DatabaseChoice | None] = {}
    for shape in space.shapes():
        choice = Choice(shape, tiers.servers[shape.route], tiers.database, tiers.cache)
        if not space.takes_connections(choice):
            if shape.route not in larger:
                larger[shape.route] = _database_for_pools(space, pricer, choice, result)
            database = larger[shape.route]
            if database is None:
                continue
            choice = replace(choice, database=database)
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
