"""The report document: one JSON-ready mapping per stack, the single source for every output format.

Money is monthly USD at the max size unless a key says otherwise; ``totals`` has the three sizes. See the
README for the schema. Table and Markdown render this mapping, so they never disagree with the JSON.
"""

from __future__ import annotations

from typing import Any

from budget.estimator import Estimate
from budget.model import SIZES, CostLine, PricedResource
from budget.policy import Verdict, judge
from budget.whatif import WhatIf

SCHEMA = "stars-budget/1"
TOP_DRIVERS = 8


def _usd(value: float) -> float:
    return round(value, 2)


def _line(item: CostLine) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "name": item.name,
        "unit": item.unit,
        "quantity": round(item.quantity.max, 4),
        "unit_price_usd": round(item.unit_price_usd, 6),
        "monthly_usd": _usd(item.monthly("max")),
        "source": item.source,
        "usage_based": item.usage_based,
        "estimated": item.estimated,
    }
    if item.quantity.varies:
        doc["by_size"] = {
            size: {"quantity": round(item.quantity.at(size), 4), "monthly_usd": _usd(item.monthly(size))}
            for size in SIZES
        }
    if item.note:
        doc["note"] = item.note
    return doc


def _resource(p: PricedResource) -> dict[str, Any]:
    r = p.resource
    doc: dict[str, Any] = {
        "urn": r.urn,
        "type": r.type,
        "name": r.name,
        "tier": r.tier,
        "monthly_usd": _usd(p.monthly("max")),
        "monthly_usd_by_size": {size: _usd(p.monthly(size)) for size in SIZES},
        "lines": [_line(item) for item in p.lines],
    }
    if p.free_reason:
        doc["free_reason"] = p.free_reason
    return doc


def _drivers(est: Estimate, total: float) -> list[dict[str, Any]]:
    lines = [(p, item) for p in est.priced for item in p.lines if item.monthly("max") > 0]
    lines.sort(key=lambda pair: pair[1].monthly("max"), reverse=True)
    return [
        {
            "resource": p.resource.name,
            "tier": p.resource.tier,
            "line": item.name,
            "monthly_usd": _usd(item.monthly("max")),
            "share": round(item.monthly("max") / total, 4) if total else 0.0,
            "usage_based": item.usage_based,
        }
        for p, item in lines[:TOP_DRIVERS]
    ]


def _what_if(w: WhatIf, rate: float, limit: float) -> dict[str, Any]:
    if w.estimate.unpriced:
        return {
            "key": w.key,
            "title": w.title,
            "computable": False,
            "reason": "; ".join(f"{u.name}: {u.reason}" for u in w.estimate.unpriced),
        }
    total = w.estimate.total("max")
    return {
        "key": w.key,
        "title": w.title,
        "computable": True,
        "total_usd": _usd(total),
        "total_tzs": round(total * rate),
        "totals": {size: _usd(w.estimate.total(size)) for size in SIZES},
        "fixed_min_usd": _usd(w.estimate.total("min") - w.estimate.usage_total("min")),
        "fits": total * rate <= limit,
        "estimated_lines": sum(1 for p in w.estimate.priced for item in p.lines if item.estimated),
    }


def _cannot_fit(est: Estimate, verdict: Verdict, whatifs: list[dict[str, Any]]) -> list[str]:
    """Plain statements of what no what-if can fix."""
    budget = est.cfg.budget
    rate = budget.usd_to_tzs
    out: list[str] = []
    if verdict.status != "over":
        return out
    usage_tzs = est.usage_total("max") * rate
    if usage_tzs > budget.limit_tzs:
        out.append(
            f"The usage-based lines alone (data transfer, LCUs, requests, storage, logs, CPU credits) cost"
            f" TZS {usage_tzs:,.0f} a month, above the limit of TZS {budget.limit_tzs:,}: no instance type or"
            " purchase option makes this stack fit; only less usage (or cheaper delivery) or a higher limit."
        )
    computable = [w for w in whatifs if w.get("computable")]
    if computable and not any(w["fits"] for w in computable):
        best = min(computable, key=lambda w: w["total_tzs"])
        out.append(
            f"Even the cheapest what-if ({best['title']}) costs TZS {best['total_tzs']:,} at max size,"
            f" {best['total_tzs'] / budget.limit_tzs:.1f} x the limit."
        )
        fixed_tzs = best["fixed_min_usd"] * rate
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
    return out


def stack_report(est: Estimate, whatifs: list[WhatIf] | None = None) -> dict[str, Any]:
    """The report of one stack (see the README for the schema)."""
    cfg = est.cfg
    budget = cfg.budget
    rate = budget.usd_to_tzs
    verdict = judge(est)
    totals = est.totals()
    tiers_max = est.by_tier("max")
    tiers = [
        {
            "tier": tier,
            "monthly_usd": _usd(tiers_max[tier]),
            "monthly_usd_by_size": {size: _usd(est.by_tier(size).get(tier, 0.0)) for size in SIZES},
        }
        for tier in sorted(tiers_max, key=lambda t: -tiers_max[t])
    ]
    all_lines = [item for p in est.priced for item in p.lines]
    whatif_docs = [_what_if(w, rate, budget.limit_tzs) for w in (whatifs or [])]
    override = budget.override
    return {
        "schema": SCHEMA,
        "stack": cfg.stack,
        "phase": cfg.phase,
        "region": cfg.region,
        "usd_to_tzs": rate,
        "usd_to_tzs_date": budget.usd_to_tzs_date.isoformat(),
        "usd_to_tzs_source": budget.usd_to_tzs_source,
        "limit_tzs": budget.limit_tzs,
        "warn_tzs": budget.warn_tzs,
        "basis": "max",
        "status": verdict.status,
        "exit_code": verdict.exit_code,
        "override": None
        if override is None
        else {"reason": override.reason, "approved_by": override.approved_by},
        "overridden": verdict.overridden,
        "total_usd": _usd(verdict.total_usd),
        "total_tzs": round(verdict.total_tzs),
        "totals": {size: _usd(value) for size, value in totals.items()},
        "totals_tzs": {size: round(value * rate) for size, value in totals.items()},
        "usage_based_usd": _usd(est.usage_total("max")),
        "lines": len(all_lines),
        "estimated_lines": sum(1 for item in all_lines if item.estimated),
        "usage_based_lines": sum(1 for item in all_lines if item.usage_based),
        "free_resources": sum(1 for p in est.priced if p.free_reason),
        "tiers": tiers,
        "top_drivers": _drivers(est, totals["max"]),
        "what_ifs": whatif_docs,
        "cannot_fit": _cannot_fit(est, verdict, whatif_docs),
        "unpriced": [
            {"urn": u.urn, "type": u.type, "name": u.name, "reason": u.reason} for u in est.unpriced
        ],
        "catalog": est.catalog.path,
        "resources": [_resource(p) for p in est.priced],
    }


def error_report(stack: str, message: str) -> dict[str, Any]:
    """A report for a stack that could not be checked at all (bad config, bad preview file)."""
    return {"schema": SCHEMA, "stack": stack, "status": "error", "exit_code": 2, "error": message}
