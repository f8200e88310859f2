"""Fit one stack: price the plan as configured, search, verify, and explain what the limit buys."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from budget.capacity import CapacityModel
from budget.catalog import Catalog
from budget.demand import NO_TRANSFER, demand_of
from budget.estimator import Estimate, estimate
from budget.fit.aurora import AuroraFloor, aurora_floor
from budget.fit.pricer import FitError, Pricer, verify
from budget.fit.report import FitReport, PlanFigures, Proposal, changes
from budget.fit.search import (
    Candidate,
    TierChoices,
    assumptions,
    front,
    max_users,
    search,
    with_demand,
)
from budget.fit.space import Loads
from budget.model import SIZES
from budget.plan import plan_offline
from budget.policy import rate_warning
from components.config import StackConfig

#: Runner-ups reported (each is re-planned whole under mocks, like the best).
ALTERNATIVES = 3
#: "max users within the limit" is searched up to this multiple of the phase's users when it fits.
GROWTH_SEARCHED = 4


def _figures(cfg: StackConfig, est: Estimate, model: CapacityModel) -> PlanFigures:
    rate = cfg.budget.usd_to_tzs
    demand = demand_of(cfg)
    loads = Loads.of(demand)
    capacity = capacity_of(cfg, model, loads)
    needed = {
        "connections": loads.realtime.connections,
        "deliveries_per_s": loads.realtime.deliveries_per_s,
        "api_rps": loads.api.api_rps,
    }
    return PlanFigures(
        config=cfg,
        totals_tzs={size: round(est.total(size) * rate) for size in SIZES},
        users=demand.concurrent_users,
        by_tier_tzs={tier: round(usd * rate) for tier, usd in sorted(est.by_tier("max").items())},
        capacity=capacity,
        carries=all(capacity[k] >= v for k, v in needed.items()),
    )


def capacity_of(cfg: StackConfig, model: CapacityModel, loads: Loads) -> dict[str, float]:
    """What a config's servers carry at their max size and the headroom, in the demand's units: each
    figure with the other loads of the same servers carried too (a combined group shares its cores)."""
    out = {"connections": 0.0, "deliveries_per_s": 0.0, "api_rps": 0.0}
    for group, tier in cfg.server_tiers.items():
        load = loads.of_group(group)
        sizing = model.size_servers(tier.instance_type, load)
        cores = tier.max_size * sizing.cpu_cores_per_server
        carried = model.carried(cores, tier.max_size * sizing.connections_per_server, alongside=load)
        if group in ("realtime", "app"):
            out["connections"] += carried["connections"]
            out["deliveries_per_s"] += carried["deliveries_per_s"]
        if group in ("api", "app"):
            out["api_rps"] += carried["api_rps"]
    return {k: math.floor(v) for k, v in out.items()}


def _summary(candidate: Candidate) -> str:
    c = candidate.choice
    servers = "; ".join(f"{s.group} {s.label()}" for s in c.servers)
    return f"{servers}; {c.database.label()}; {c.cache.label()}; {c.shape.label()}"


def _proposal(plan: StackConfig, candidate: Candidate, model: CapacityModel, catalog: Catalog) -> Proposal:
    full = verify(candidate.priced, catalog)
    return Proposal(
        figures=_figures(candidate.priced.cfg, full, model),
        changes=tuple(changes(plan, candidate.priced.cfg)),
        availability=candidate.availability,
        latency=candidate.latency,
        summary=_summary(candidate),
    )


@dataclass(frozen=True)
class HowFar:
    """How far the limit is from the phase: users it buys, and what the verdict rests on."""

    max_users: int
    deciding: dict[str, Any] | None = None
    tested: tuple[dict[str, Any], ...] = ()
    zero_traffic_tzs: int | None = None
    zero_by_tier: dict[str, int] = field(default_factory=dict)


def _how_far(
    cfg: StackConfig,
    tiers: TierChoices | None,
    catalog: Catalog,
    model: CapacityModel,
    pricer: Pricer,
    fits: bool,
) -> HowFar:
    """The most users the limit buys; when it does not fit, the assumptions tested (each with the value at
    which it would) and, when none is enough, the cheapest plan with no transfer at all, by tier."""
    users = demand_of(cfg).concurrent_users
    limit = cfg.budget.limit_tzs
    if fits:
        grown = with_demand(cfg, concurrent_users=users * GROWTH_SEARCHED)
        return HowFar(max_users(grown, catalog, model, pricer))
    most = max_users(cfg, catalog, model, pricer)
    found = assumptions(cfg, catalog, model, pricer, tiers)
    tested = tuple(
        {"key": a.key, "stated": a.stated, "fits_at": a.fits_at, "unit": a.unit, "why": a.why} for a in found
    )
    deciding: dict[str, Any] | None = None
    reachable = [a for a in found if a.fits_at is not None]
    if reachable:
        a = min(reachable, key=lambda a: a.change)
        deciding = {**next(t for t in tested if t["key"] == a.key), "change": round(a.change, 4)}
    no_transfer = with_demand(cfg, **NO_TRANSFER)
    floor = search(no_transfer, catalog, model, pricer, tiers).best
    if floor is None:
        return HowFar(most, deciding, tested)
    rate = cfg.budget.usd_to_tzs
    zero = round(floor.tzs)
    by_tier = {t: round(usd * rate) for t, usd in floor.priced.by_tier().items() if usd > 0}
    if deciding is None:
        top = sorted(by_tier.items(), key=lambda kv: -kv[1])[:3]
        costliest = ", ".join(f"{tier} TZS {tzs:,}" for tier, tzs in top)
        deciding = {
            "key": "fixed_costs",
            "stated": None,
            "fits_at": None,
            "unit": "TZS per month",
            "why": (
                f"with no data transfer at all the cheapest plan for {users:,} users still costs"
                f" TZS {zero:,} ({costliest}), above the limit of TZS {limit:,}: no usage"
                " assumption alone makes it fit"
            ),
        }
    return HowFar(most, deciding, tested, zero, by_tier)


def _aurora(cfg: StackConfig, best: Proposal, far: HowFar, catalog: Catalog) -> AuroraFloor | None:
    """Aurora Serverless v2's floor in place of the cheapest plan's database (see budget/fit/aurora.py)."""
    db = best.figures.config.database
    return aurora_floor(
        catalog=catalog,
        region=cfg.region,
        usd_to_tzs=cfg.budget.usd_to_tzs,
        limit_tzs=cfg.budget.limit_tzs,
        multi_az=db.multi_az,
        storage_gb=db.allocated_storage_gb,
        best_total_tzs=best.figures.total_tzs,
        database_tzs=best.figures.by_tier_tzs.get("database", 0),
        zero_traffic_tzs=far.zero_traffic_tzs,
        zero_traffic_database_tzs=far.zero_by_tier.get("database"),
    )


def fit_stack(
    cfg: StackConfig, catalog: Catalog, model: CapacityModel, pricer: Pricer | None = None
) -> FitReport:
    """The whole answer for one stack (raises DemandError, CapacityError, FitError on bad input)."""
    pricer = pricer or Pricer(catalog)
    far_rate = rate_warning(cfg.budget, catalog)
    if far_rate and cfg.budget.override is None:  # as check: a rate far from the catalog's judges nothing
        raise FitError(f"{cfg.stack}: {far_rate}")
    demand = demand_of(cfg)
    users = demand.concurrent_users
    limit = cfg.budget.limit_tzs
    plan_est = estimate(plan_offline(cfg), cfg, catalog)
    if plan_est.unpriced:  # as check: a plan it cannot price is bad input, never a cost of 0
        first = plan_est.unpriced[0]
        raise FitError(
            f"{cfg.stack}: check cannot price the plan ({len(plan_est.unpriced)} resource(s), e.g."
            f" {first.type} '{first.name}': {first.reason})"
        )
    plan = _figures(cfg, plan_est, model)
    result = search(cfg, catalog, model, pricer)
    notes = [*dict.fromkeys(result.unpriced)][:10]
    best = _proposal(cfg, result.best, model, catalog) if result.best else None
    candidates = list(result.per_shape)
    if demand.availability == "single_az" and result.best is not None:
        # the availability side of the front: what surviving an AZ's loss would cost this phase
        sturdier = search(with_demand(cfg, availability="multi_az"), catalog, model, pricer).best
        if sturdier is not None:
            candidates.append(sturdier)
    alternatives = (
        tuple(_proposal(cfg, c, model, catalog) for c in front(candidates, result.best, ALTERNATIVES))
        if result.best
        else ()
    )
    fits = best is not None and best.figures.total_tzs <= limit
    far = _how_far(cfg, result.tiers, catalog, model, pricer, fits)
    settings = model.settings
    aurora = _aurora(cfg, best, far, catalog) if best else None
    return FitReport(
        stack=cfg.stack,
        limit_tzs=limit,
        usd_to_tzs=cfg.budget.usd_to_tzs,
        users=users,
        availability=demand.availability,
        plan=plan,
        best=best,
        alternatives=alternatives,
        min_limit_tzs=best.figures.total_tzs if best else None,
        max_users_within_limit=far.max_users,
        deciding_assumption=far.deciding,
        assumptions=far.tested,
        zero_traffic_tzs=far.zero_traffic_tzs,
        zero_traffic_by_tier_tzs=far.zero_by_tier,
        demand=demand.model_dump(mode="json"),
        capacity_model={
            "headroom": settings.headroom,
            "arm64_speed": settings.arm64_speed,
            "cpu_target_percent": settings.cpu_target_percent,
            "runs": list(model.measured.runs),
            "figures": {k: f.to_json() for k, f in model.measured.figures().items()},
        },
        notes=tuple(notes),
        aurora_serverless_v2=aurora,
        verified=best is not None,
        search={
            "shapes": len(result.per_shape),
            "tier_plans": pricer.tier_plans,
            "estimates": pricer.estimates,
            "rejected": [*dict.fromkeys(result.rejected)],
        },
    )
