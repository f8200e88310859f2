"""How far a phase is from its limit, and what its verdict rests on.

- the most concurrent users the limit buys: the search run again at fewer users, with what grows with users
  (stored data, logs, uploads, traffic between zones) scaled down with them, so the answer is the largest
  user count whose *own* cheapest plan fits (:func:`max_users`);
- the verdict at other headrooms (10, 20 and 30% of every capacity kept spare), since the servers the
  capacity model asks for, and so the verdict, depend on it (:func:`verdicts_by_headroom`);
- the verdict over the plausible range of transfer per user (:func:`transfer_verdicts`);
- the usage assumptions the verdict rests on, each with the value at which the phase would fit, and the one
  that needs the smallest change named as deciding (:func:`assumptions`, :func:`deciding`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import replace

from pydantic import ValidationError

from budget.capacity import CapacityError, CapacityModel, Settings
from budget.catalog import Catalog
from budget.demand import DemandError, demand_of, websocket_floor_gb_per_user
from budget.fit.pricer import Pricer
from budget.fit.report import Assumption, Verdict
from budget.fit.search import TierChoices, search
from budget.report.formatting import per_thousand
from components.config import DemandConfig, StackConfig

#: The "most users within the limit" search stops at 1% of the phase's users, or 100 users if more.
USER_PRECISION = 0.01
MIN_USER_STEP = 100
#: Headrooms the verdict is shown at (issue: a verdict must not hang on one silent choice of headroom).
HEADROOMS = (0.1, 0.2, 0.3)
#: Transfer per user per month the verdict is shown at: 0.05 GB up to the plan's 0.5 (50 TB at 100,000 users).
TRANSFERS = (0.05, 0.1, 0.2, 0.3, 0.5)
#: ``stars:usage`` figures stated per phase that grow with its users (stored data and what it moves).
PER_USER_USAGE = (
    "cross_az_gb",
    "s3_storage_gb",
    "s3_objects",
    "s3_put_requests",
    "logs_ingested_gb",
    "logs_stored_gb",
)
#: RDS's smallest allocated storage.
MIN_DATABASE_GB = 20


def with_demand(base: StackConfig, **changes: float | str) -> StackConfig:
    demand = demand_of(base)
    return base.model_copy(update={"demand": DemandConfig.model_validate({**demand.model_dump(), **changes})})


def with_transfer(base: StackConfig, gb_per_user: float) -> StackConfig:
    """``base`` with a different transfer per user a month (the real-time frames stay as the deliveries
    make them: below their own bytes the demand is inconsistent and prices as nothing)."""
    return with_demand(base, transfer_gb_per_user_per_month=gb_per_user)


def scaled_to(base: StackConfig, users: float) -> StackConfig:
    """``base`` at ``users`` concurrent users: the per-user demand as stated, and what the phase states as a
    total for its users (the database's data, S3 storage and uploads, logs, traffic between zones) scaled by
    the same factor. Operations volumes that do not follow users (NAT updates, secrets, alerts) stay."""
    demand = demand_of(base)
    scale = users / demand.concurrent_users
    usage = base.usage.model_copy(update={k: getattr(base.usage, k) * scale for k in PER_USER_USAGE})
    storage = max(MIN_DATABASE_GB, demand.database_storage_gb * scale)
    cfg = base.model_copy(update={"usage": usage})
    return with_demand(cfg, concurrent_users=users, database_storage_gb=storage)


def with_headroom(model: CapacityModel, headroom: float) -> CapacityModel:
    return replace(model, settings=Settings(headroom=headroom, arm64_speed=model.settings.arm64_speed))


def cheapest_tzs(
    base: StackConfig,
    catalog: Catalog,
    model: CapacityModel,
    pricer: Pricer,
    tiers: TierChoices | None = None,
) -> float | None:
    """The cheapest plan's TZS a month (None: nothing deployable carries it, or an inconsistent demand)."""
    try:
        found = search(base, catalog, model, pricer, tiers).best
    except (DemandError, CapacityError):
        return None
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


#: Line probes in a row that may fail to halve the bracket before the search halves it instead.
MAX_LINE_MISSES = 3


def max_users(
    base: StackConfig,
    catalog: Catalog,
    model: CapacityModel,
    pricer: Pricer,
    up_to: int,
) -> int:
    """The most concurrent users, on a grid of 1% of the phase's users (at least 100) up to ``up_to``,
    whose own cheapest plan fits the limit (0 when even one step does not).

    Each probe is a whole search, so the next probe is where the cost line through the bracket's ends
    crosses the limit (the cost grows about linearly with users), and its neighbour on the far side, which
    usually closes the bracket at once; after a few probes that do not halve the bracket, the middle. The
    answer is exact on the grid as long as more users never cost less. Probes far above the answer are
    the dearest (more servers to size), so the line is preferred to halving for as long as it gains.
    """
    limit = base.budget.limit_tzs
    users = demand_of(base).concurrent_users
    step = int(max(MIN_USER_STEP, round(users * USER_PRECISION, -2)))  # round(float, -2) is a float
    top = max(1, up_to // step)

    def cost(i: int) -> float:
        n = up_to if i == top else i * step
        total = cheapest_tzs(scaled_to(base, max(1, n)), catalog, model, pricer)
        return math.inf if total is None else total

    lo, hi = 1, top
    lo_cost, hi_cost = cost(lo), cost(hi)
    if lo_cost > limit:
        return 0
    if hi_cost <= limit:
        return up_to
    misses = 0
    while hi - lo > 1:
        guess = (lo + hi) // 2
        if misses < MAX_LINE_MISSES and math.isfinite(hi_cost) and hi_cost > lo_cost:
            guess = lo + int((limit - lo_cost) / (hi_cost - lo_cost) * (hi - lo))
        width = hi - lo
        mid = min(hi - 1, max(lo + 1, guess))
        c = cost(mid)
        if c <= limit:
            lo, lo_cost = mid, c
            beside = mid + 1  # the line lands next to the answer: its neighbour closes the bracket
        else:
            hi, hi_cost = mid, c
            beside = mid - 1
        if lo < beside < hi:
            c = cost(beside)
            lo, lo_cost, hi, hi_cost = (beside, c, hi, hi_cost) if c <= limit else (lo, lo_cost, beside, c)
        # a line that keeps missing falls back to halving (the bracket then shrinks by half each probe)
        misses = misses + 1 if hi - lo > width / 2 else 0
    return lo * step


def _verdict(value: float, total: float | None, limit: int, users: int) -> Verdict:
    tzs = None if total is None else round(total)
    return Verdict(
        value=value,
        total_tzs=tzs,
        tzs_per_1000_users=None if tzs is None else per_thousand(tzs, users),
        fits=tzs is not None and tzs <= limit,
    )


def verdicts_by_headroom(
    base: StackConfig,
    catalog: Catalog,
    model: CapacityModel,
    pricer: Pricer,
    known: dict[float, float | None],
    headrooms: Sequence[float] = HEADROOMS,
    outside_tzs: float = 0.0,
) -> list[Verdict]:
    """The cheapest plan and its verdict at each headroom (``known``: totals already searched;
    ``outside_tzs``: a monthly cost outside the stack the verdict counts, such as a hosted zone)."""
    users = demand_of(base).concurrent_users
    out = []
    for h in headrooms:
        total = known[h] if h in known else cheapest_tzs(base, catalog, model_at(model, h), pricer)
        out.append(_verdict(h, _plus(total, outside_tzs), base.budget.limit_tzs, users))
    return out


def _plus(total: float | None, outside_tzs: float) -> float | None:
    return None if total is None else total + outside_tzs


def model_at(model: CapacityModel, headroom: float) -> CapacityModel:
    return model if math.isclose(model.settings.headroom, headroom) else with_headroom(model, headroom)


def transfer_verdicts(
    base: StackConfig,
    catalog: Catalog,
    model: CapacityModel,
    pricer: Pricer,
    tiers: TierChoices | None,
    values: Sequence[float] = TRANSFERS,
    outside_tzs: float = 0.0,
) -> list[Verdict]:
    """The cheapest plan and its verdict at each transfer per user (the users' servers do not change;
    ``outside_tzs`` as for :func:`verdicts_by_headroom`)."""
    users = demand_of(base).concurrent_users
    out = []
    for v in values:
        try:
            cfg = with_transfer(base, v)
        except (ValidationError, DemandError):
            out.append(_verdict(v, None, base.budget.limit_tzs, users))
            continue
        total = _plus(cheapest_tzs(cfg, catalog, model, pricer, tiers), outside_tzs)
        out.append(_verdict(v, total, base.budget.limit_tzs, users))
    return out


def change_of(stated: float, fits_at: float | None) -> float:
    """How far an assumption must move, as a share of its stated value (inf: no value fits)."""
    if fits_at is None:
        return math.inf
    return abs(fits_at - stated) / stated if stated else math.inf


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
    headroom = model.settings.headroom

    def fits(cfg: StackConfig) -> bool:
        total = cheapest_tzs(cfg, catalog, model, pricer, tiers)
        return total is not None and total <= limit

    transfer = demand.transfer_gb_per_user_per_month
    # below the real-time frames' own bytes a transfer is inconsistent with the deliveries
    found_transfer = _boundary(
        websocket_floor_gb_per_user(demand),
        transfer,
        lambda v: fits(with_transfer(base, v)),
        transfer / 200,
        holds_below=True,
    )
    obj = demand.average_object_kb
    grown = _boundary(
        obj, obj * 100, lambda v: fits(with_demand(base, average_object_kb=v)), obj / 20, holds_below=False
    )
    return [
        Assumption(
            key="transfer_gb_per_user_per_month",
            stated=transfer,
            fits_at=None if found_transfer is None else round(found_transfer, 4),
            unit="GB per user per month",
            why="the plan's 10-50 TB a month at 100,000 users is 0.1-0.5 GB per user",
            headroom=headroom,
        ),
        Assumption(
            key="average_object_kb",
            stated=obj,
            fits_at=None if grown is None else round(grown, 1),
            unit="KB per static object",
            why="fewer, larger static objects mean fewer CloudFront requests for the same bytes",
            headroom=headroom,
        ),
    ]


def headroom_assumption(stated: float, verdicts: Sequence[Verdict]) -> Assumption:
    """The headroom as an assumption: the largest of the shown headrooms at which the phase fits."""
    fitting = [v.value for v in verdicts if v.fits]
    return Assumption(
        key="headroom",
        stated=stated,
        fits_at=max(fitting) if fitting else None,
        unit="share of every capacity kept spare",
        why="spare capacity on every server for bursts and a server's loss; it sets how many servers the"
        f" phase needs (shown at {', '.join(f'{v.value:.0%}' for v in verdicts)})",
        headroom=stated,
    )


def deciding(tested: Sequence[Assumption]) -> Assumption | None:
    """The tested assumption that needs the smallest change to make the phase fit (None: none does)."""
    reachable = [a for a in tested if a.fits_at is not None and a.stated is not None]
    if not reachable:
        return None
    a = min(reachable, key=lambda a: change_of(a.stated or 0.0, a.fits_at))
    return a.model_copy(update={"change": round(change_of(a.stated or 0.0, a.fits_at), 4)})
