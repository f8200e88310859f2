"""Build the typed report of one stack from its estimate (the only place cost figures are rounded).

Money is monthly USD at the max size unless a field says otherwise; ``totals`` has the three sizes.
"""

from __future__ import annotations

from budget.estimator import Estimate
from budget.model import SIZES, CostLine, PricedResource
from budget.report.formatting import per_thousand
from budget.report.model import (
    Driver,
    LineAtSize,
    LineReport,
    LinesAtSizes,
    OverrideReport,
    ResourceReport,
    SizeFigures,
    StackReport,
    TierReport,
    UnpricedReport,
    WhatIfReport,
)
from budget.verdict import Verdict, judge
from budget.whatif import WhatIf

TOP_DRIVERS = 8


def _usd(value: float) -> float:
    return round(value, 2)


def _by_size(values: dict[str, float]) -> SizeFigures:
    return SizeFigures.model_validate({size: _usd(values[size]) for size in SIZES})


def _line(item: CostLine) -> LineReport:
    return LineReport(
        name=item.name,
        unit=item.unit,
        quantity=round(item.quantity.max, 4),
        unit_price_usd=round(item.unit_price_usd, 6),
        monthly_usd=_usd(item.monthly("max")),
        source=item.source,
        usage_based=item.usage_based,
        estimated=item.estimated,
        by_size=(
            LinesAtSizes.model_validate(
                {
                    size: LineAtSize(
                        quantity=round(item.quantity.at(size), 4), monthly_usd=_usd(item.monthly(size))
                    )
                    for size in SIZES
                }
            )
            if item.quantity.varies
            else None
        ),
        note=item.note or None,
        assumption=item.assumption or None,
    )


def _resource(p: PricedResource, home: str) -> ResourceReport:
    """A resource's report; an AWS resource without a region of its own is billed in ``home``."""
    r = p.resource
    return ResourceReport(
        urn=r.urn,
        type=r.type,
        name=r.name,
        tier=r.tier,
        monthly_usd=_usd(p.monthly("max")),
        monthly_usd_by_size=_by_size({size: p.monthly(size) for size in SIZES}),
        lines=tuple(_line(item) for item in p.lines),
        free_reason=p.free_reason,
        region=(r.region or home) if r.type.startswith("aws:") else "",
    )


def _drivers(est: Estimate, total: float) -> tuple[Driver, ...]:
    lines = [(p, item) for p in est.priced for item in p.lines if item.monthly("max") > 0]
    lines.sort(key=lambda pair: pair[1].monthly("max"), reverse=True)
    return tuple(
        Driver(
            resource=p.resource.name,
            tier=p.resource.tier,
            line=item.name,
            monthly_usd=_usd(item.monthly("max")),
            share=round(item.monthly("max") / total, 4) if total else 0.0,
            usage_based=item.usage_based,
        )
        for p, item in lines[:TOP_DRIVERS]
    )


def _what_if(w: WhatIf, rate: float, limit: float) -> WhatIfReport:
    if w.estimate.unpriced:
        reason = "; ".join(f"{u.name}: {u.reason}" for u in w.estimate.unpriced)
        return WhatIfReport(key=w.key, title=w.title, computable=False, reason=reason)
    total = w.estimate.total("max")
    return WhatIfReport(
        key=w.key,
        title=w.title,
        computable=True,
        total_usd=_usd(total),
        total_tzs=round(total * rate),
        totals=_by_size(w.estimate.totals()),
        fixed_min_usd=_usd(w.estimate.total("min") - w.estimate.usage_total("min")),
        fits=total * rate <= limit,
        estimated_lines=sum(1 for p in w.estimate.priced for item in p.lines if item.estimated),
    )


def _cannot_fit(est: Estimate, verdict: Verdict, whatifs: tuple[WhatIfReport, ...]) -> tuple[str, ...]:
    """Plain statements of what no what-if can fix."""
    budget = est.subject.budget
    rate = budget.usd_to_tzs
    out: list[str] = []
    if verdict.status != "over":
        return ()
    usage_tzs = est.usage_total("max") * rate
    if usage_tzs > budget.limit_tzs:
        out.append(
            f"The usage-based lines alone (data transfer, LCUs, requests, storage, logs, CPU credits) cost"
            f" TZS {usage_tzs:,.0f} a month, above the limit of TZS {budget.limit_tzs:,}: no instance type or"
            " purchase option makes this stack fit; only less usage (or cheaper delivery) or a higher limit."
        )
    computable = [w for w in whatifs if w.computable]
    if computable and not any(w.fits for w in computable):
        best = min(computable, key=lambda w: w.total_tzs)
        out.append(
            f"Even the cheapest what-if ({best.title}) costs TZS {best.total_tzs:,} at max size,"
            f" {best.total_tzs / budget.limit_tzs:.1f} x the limit."
        )
        fixed_tzs = best.fixed_min_usd * rate
        if fixed_tzs > budget.limit_tzs:
            out.append(
                f"Its fixed part at minimum size with no traffic costs TZS {fixed_tzs:,.0f}: the stack"
                " as sized does not fit before a single user arrives; fewer always-on resources are needed."
            )
        else:
            out.append(
                f"Its fixed part at minimum size with no traffic costs TZS {fixed_tzs:,.0f}, leaving"
                f" TZS {budget.limit_tzs - fixed_tzs:,.0f} for usage (transfer, LCUs, requests, logs)."
            )
    return tuple(out)


def stack_report(est: Estimate, whatifs: list[WhatIf] | None = None) -> StackReport:
    """The report of one stack (see the README for the schema)."""
    subject = est.subject
    budget = subject.budget
    rate = budget.usd_to_tzs
    verdict = judge(est)
    totals = est.totals()
    tiers_max = est.by_tier("max")
    by_tier = {size: est.by_tier(size) for size in SIZES}
    tiers = tuple(
        TierReport(
            tier=tier,
            monthly_usd=_usd(tiers_max[tier]),
            monthly_usd_by_size=_by_size({size: by_tier[size].get(tier, 0.0) for size in SIZES}),
        )
        for tier in sorted(tiers_max, key=lambda t: -tiers_max[t])
    )
    all_lines = [item for p in est.priced for item in p.lines]
    what_if_reports = tuple(_what_if(w, rate, budget.limit_tzs) for w in (whatifs or []))
    override = budget.override
    users = subject.users
    return StackReport(
        stack=subject.stack,
        phase=subject.phase,
        region=est.home_region,
        usd_to_tzs=rate,
        usd_to_tzs_date=budget.usd_to_tzs_date.isoformat(),
        usd_to_tzs_source=budget.usd_to_tzs_source,
        limit_tzs=budget.limit_tzs,
        warn_tzs=budget.warn_tzs,
        basis="max",
        status=verdict.status,
        exit_code=verdict.exit_code,
        override=None
        if override is None
        else OverrideReport(reason=override.reason, approved_by=override.approved_by),
        overridden=verdict.overridden,
        total_usd=_usd(verdict.total_usd),
        users=users,
        tzs_per_1000_users=per_thousand(verdict.total_tzs, users) if users else None,
        total_tzs=round(verdict.total_tzs),
        totals=_by_size(totals),
        totals_tzs=SizeFigures.model_validate({size: round(totals[size] * rate) for size in SIZES}),
        usage_based_usd=_usd(est.usage_total("max")),
        lines=len(all_lines),
        estimated_lines=sum(1 for item in all_lines if item.estimated),
        usage_based_lines=sum(1 for item in all_lines if item.usage_based),
        free_resources=sum(1 for p in est.priced if p.free_reason),
        tiers=tiers,
        top_drivers=_drivers(est, totals["max"]),
        what_ifs=what_if_reports,
        cannot_fit=_cannot_fit(est, verdict, what_if_reports),
        unpriced=tuple(
            UnpricedReport(urn=u.urn, type=u.type, name=u.name, reason=u.reason) for u in est.unpriced
        ),
        catalog=est.catalog.path,
        resources=tuple(_resource(p, est.inputs.region) for p in est.priced),
        warnings=(*est.warnings, *filter(None, [verdict.rate_warning])),
        rate_warning=verdict.rate_warning,
        deleted=tuple(_resource(p, est.inputs.region) for p in est.deleted),
    )
