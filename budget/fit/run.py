"""Fit one stack: price the plan as configured, search, verify, and explain what the limit buys."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from budget.capacity import CapacityModel, Loads
from budget.catalog import Catalog
from budget.demand import NO_TRANSFER, demand_of, traffic, usage_drift
from budget.estimator import Estimate, estimate
from budget.exit_codes import ExitCode
from budget.fit import howfar
from budget.fit.aurora import aurora_floor
from budget.fit.azloss import az_loss
from budget.fit.dbpool import db_connections
from budget.fit.lever_use import levers_taken
from budget.fit.levers import owner_levers
from budget.fit.pricer import FitError, Pricer, verify
from budget.fit.report import (
    Assumption,
    AuroraReport,
    Capacity,
    CapacityModelFigures,
    FitReport,
    PlanFigures,
    Proposal,
    SearchStats,
    Sensitivity,
    SizeTzs,
    TrafficFigures,
    UsageDrift,
    Verdict,
    changes,
)
from budget.fit.search import Candidate, SearchResult, TierChoices, front, search
from budget.model import SIZES
from budget.plan import plan_offline
from budget.report.formatting import per_thousand
from budget.verdict import rate_warning
from components.config import StackConfig

#: Runner-ups within this share of the cheapest plan's cost are shown (each re-planned whole, like the best).
RUNNER_UP_SHARE = 0.10
RUNNERS_UP = 2
#: Runner-ups from the cost/availability/latency front (a sturdier or nearer plan), beside those.
FRONT = 2
#: "max users within the limit" is searched up to this multiple of the phase's users when it fits.
GROWTH_SEARCHED = 4


def _figures(cfg: StackConfig, est: Estimate, model: CapacityModel) -> PlanFigures:
    """The fields every costed configuration reports (plan and proposals alike)."""
    rate = cfg.budget.usd_to_tzs
    demand = demand_of(cfg)
    loads = Loads.of(demand)
    capacity = capacity_of(cfg, model, loads)
    needed = {
        "connections": loads.realtime.connections,
        "deliveries_per_s": loads.realtime.deliveries_per_s,
        "api_rps": loads.api.api_rps,
    }
    totals: dict[str, int] = {size: round(est.total(size) * rate) for size in SIZES}
    return PlanFigures(
        total_tzs=totals["max"],
        totals_tzs=SizeTzs(**totals),
        tzs_per_1000_users=per_thousand(totals["max"], demand.concurrent_users),
        by_tier_tzs={tier: round(usd * rate) for tier, usd in sorted(est.by_tier("max").items())},
        capacity=Capacity(**{k: int(v) for k, v in capacity.items()}),
        carries_demand=all(capacity[k] >= v for k, v in needed.items()),
        az_loss=az_loss(cfg, model),
        db_connections=db_connections(cfg, model),
        config=cfg,
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


def _proposal(
    plan: StackConfig, candidate: Candidate, model: CapacityModel, catalog: Catalog, relation: str = ""
) -> Proposal:
    full = verify(candidate.priced, catalog)
    return Proposal(
        # the figures' own field values (dict() of a model is shallow: nothing is dumped and re-read)
        **dict(_figures(candidate.priced.cfg, full, model)),
        summary=_summary(candidate),
        availability=candidate.availability,
        latency=candidate.latency,
        relation=relation,
        levers=levers_taken(candidate.priced.cfg),
        changes=changes(plan, candidate.priced.cfg),
    )


def _runners_up(
    result: SearchResult, sturdier: Candidate | None, availability: str
) -> list[tuple[Candidate, str]]:
    """The cheapest other shapes within 10% of the best, then the front (a plan that survives an AZ's
    loss, or serves users from nearer edges) when it is not among them."""
    best = result.best
    assert best is not None
    limit = best.priced.total() * (1 + RUNNER_UP_SHARE)
    near = [c for c in sorted(result.per_shape, key=lambda c: c.priced.total()) if c is not best]
    near = [c for c in near if c.priced.total() <= limit][:RUNNERS_UP]
    out = [(c, f"within {RUNNER_UP_SHARE:.0%} of the cheapest") for c in near]
    pool = [*result.per_shape, *([sturdier] if sturdier else [])]
    for c in front(pool, best, FRONT):
        if any(c is o for o, _ in out):
            continue
        why = (
            "the cheapest that survives an AZ's loss"
            if c.availability == "multi_az" and availability == "single_az"
            else "serves users from nearer edges"
        )
        out.append((c, why))
    return out


@dataclass
class HowFar:
    """How far the limit is from the phase: users it buys, and what the verdict rests on."""

    max_users: int
    deciding: Assumption | None = None
    tested: list[Assumption] = field(default_factory=list)
    zero_traffic_tzs: int | None = None
    zero_by_tier: dict[str, int] = field(default_factory=dict)


def _how_far(
    cfg: StackConfig,
    tiers: TierChoices | None,
    catalog: Catalog,
    model: CapacityModel,
    pricer: Pricer,
    fits: bool,
    by_headroom: list[Verdict],
) -> HowFar:
    """The most users the limit buys; when it does not fit, the assumptions tested (each with the value at
    which it would) and, when none is enough, the cheapest plan with no transfer at all, by tier."""
    users = demand_of(cfg).concurrent_users
    if fits:
        return HowFar(howfar.max_users(cfg, catalog, model, pricer, users * GROWTH_SEARCHED))
    most = howfar.max_users(cfg, catalog, model, pricer, users)
    headroom = model.settings.headroom
    tested = [
        *howfar.assumptions(cfg, catalog, model, pricer, tiers),
        howfar.headroom_assumption(headroom, by_headroom),
    ]
    deciding = howfar.deciding(tested)
    floor = search(howfar.with_demand(cfg, **NO_TRANSFER), catalog, model, pricer, tiers).best
    if floor is None:
        return HowFar(most, deciding, tested)
    rate = cfg.budget.usd_to_tzs
    zero = round(floor.tzs)
    by_tier = {t: round(usd * rate) for t, usd in floor.priced.by_tier().items() if usd > 0}
    if deciding is None:
        deciding = _fixed_costs(cfg, zero, by_tier, headroom, by_headroom)
    return HowFar(most, deciding, tested, zero, by_tier)


def _fixed_costs(
    cfg: StackConfig, zero: int, by_tier: dict[str, int], headroom: float, by_headroom: list[Verdict]
) -> Assumption:
    """No usage assumption alone makes the phase fit: what its users cost before a byte is served."""
    users, limit = demand_of(cfg).concurrent_users, cfg.budget.limit_tzs
    top = sorted(by_tier.items(), key=lambda kv: -kv[1])[:3]
    costliest = ", ".join(f"{tier} TZS {tzs:,}" for tier, tzs in top)
    others = "; ".join(
        f"at {v.value:.0%} headroom TZS {v.total_tzs:,}" for v in by_headroom if v.total_tzs is not None
    )
    return Assumption(
        key="fixed_costs",
        stated=None,
        fits_at=None,
        unit="TZS per month",
        why=(
            f"with no data transfer at all the cheapest plan for {users:,} users at {headroom:.0%} headroom"
            f" still costs TZS {zero:,} ({costliest}), above the limit of TZS {limit:,}: no usage assumption"
            f" alone makes it fit (with the stated transfer: {others})"
        ),
        headroom=headroom,
    )


def _aurora(cfg: StackConfig, best: Proposal, far: HowFar, catalog: Catalog) -> AuroraReport | None:
    """Aurora Serverless v2's floor in place of the cheapest plan's database (see budget/fit/aurora.py)."""
    db = best.config.database
    floor = aurora_floor(
        catalog=catalog,
        region=cfg.region,
        usd_to_tzs=cfg.budget.usd_to_tzs,
        limit_tzs=cfg.budget.limit_tzs,
        multi_az=db.multi_az,
        storage_gb=db.allocated_storage_gb,
        best_total_tzs=best.total_tzs,
        database_tzs=best.by_tier_tzs.get("database", 0),
        zero_traffic_tzs=far.zero_traffic_tzs,
        zero_traffic_database_tzs=far.zero_by_tier.get("database"),
    )
    return AuroraReport.of(floor) if floor else None


def _plan_figures(cfg: StackConfig, catalog: Catalog, model: CapacityModel) -> PlanFigures:
    plan_est = estimate(plan_offline(cfg), cfg, catalog, measured=model.measured)
    if plan_est.unpriced:  # as check: a plan it cannot price is bad input, never a cost of 0
        first = plan_est.unpriced[0]
        raise FitError(
            f"{cfg.stack}: check cannot price the plan ({len(plan_est.unpriced)} resource(s), e.g."
            f" {first.type} '{first.name}': {first.reason})"
        )
    return _figures(cfg, plan_est, model)


def _with_drift(plan: PlanFigures, stated: StackConfig) -> PlanFigures:
    """``plan`` naming the usage figures the stack file states that its own demand does not give."""
    drift = [
        UsageDrift(key=key, stated=was, derived=round(derived, 6))
        for key, (was, derived) in sorted(usage_drift(stated).items())
    ]
    return plan.model_copy(update={"usage_drift": drift}) if drift else plan


def fit_stack(
    cfg: StackConfig,
    catalog: Catalog,
    model: CapacityModel,
    pricer: Pricer | None = None,
    written_from: StackConfig | None = None,
) -> FitReport:
    """The whole answer for one stack (raises DemandError, CapacityError, FitError on bad input).

    ``written_from``: the stack file's own config when ``cfg`` adds to it (``--domain``), so the proposal's
    changes name what the file must gain."""
    pricer = pricer or Pricer(catalog, model.measured)
    stated = written_from or cfg
    far_rate = rate_warning(cfg.budget, catalog)
    if far_rate and cfg.budget.override is None:  # as check: a rate far from the catalog's judges nothing
        raise FitError(f"{cfg.stack}: {far_rate}")
    demand = demand_of(cfg)
    limit, headroom = cfg.budget.limit_tzs, model.settings.headroom
    plan = _with_drift(_plan_figures(cfg, catalog, model), stated)
    result = search(cfg, catalog, model, pricer)
    best, alternatives = None, []
    if result.best is not None:
        best = _proposal(stated, result.best, model, catalog)
        sturdier = None
        if demand.availability == "single_az":
            # the availability side of the front: what surviving an AZ's loss would cost this phase
            sturdier = search(howfar.with_demand(cfg, availability="multi_az"), catalog, model, pricer).best
        alternatives = [
            _proposal(stated, c, model, catalog, why)
            for c, why in _runners_up(result, sturdier, demand.availability)
        ]
    fits = best is not None and best.total_tzs <= limit
    headrooms = sorted({*howfar.HEADROOMS, headroom})
    by_headroom = howfar.verdicts_by_headroom(
        cfg, catalog, model, pricer, {headroom: result.best.tzs if result.best else None}, headrooms
    )
    far = _how_far(cfg, result.tiers, catalog, model, pricer, fits, by_headroom)
    return FitReport(
        stack=cfg.stack,
        limit_tzs=limit,
        usd_to_tzs=cfg.budget.usd_to_tzs,
        users=demand.concurrent_users,
        availability=demand.availability,
        fits=fits,
        exit_code=int(ExitCode.OK if fits else ExitCode.OVER),
        headroom=headroom,
        plan=plan,
        best=best,
        verified=best is not None,
        alternatives=alternatives,
        min_limit_tzs=best.total_tzs if best else None,
        max_users_within_limit=far.max_users,
        deciding_assumption=far.deciding,
        assumptions=far.tested,
        verdicts_by_headroom=by_headroom,
        levers=owner_levers(cfg, catalog, model, pricer, result, best.total_tzs if best else None),
        sensitivity=Sensitivity(
            transfer_gb_per_user_per_month=howfar.transfer_verdicts(
                cfg, catalog, model, pricer, result.tiers
            ),
            headroom=by_headroom,
        ),
        zero_traffic_tzs=far.zero_traffic_tzs,
        zero_traffic_by_tier_tzs=far.zero_by_tier,
        demand=demand,
        traffic=TrafficFigures.of(traffic(demand)),
        capacity_model=CapacityModelFigures.of(model),
        notes=[*dict.fromkeys(result.unpriced)][:10],
        aurora_serverless_v2=_aurora(cfg, best, far, catalog) if best else None,
        search=SearchStats(
            shapes=len(result.per_shape),
            tier_plans=pricer.tier_plans,
            estimates=pricer.estimates,
            rejected=[*dict.fromkeys(result.rejected)],
        ),
    )
