"""``budget fit`` for people: a terminal table and Markdown (for the README and pull requests)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from budget.fit.report import FitFailure, FitReport, FitResult, Proposal
from budget.report.formatting import format_tzs, per_thousand
from budget.report.md_escape import md
from budget.textgrid import grid


def shown(value: Any) -> str:
    """A config value as a change table shows it: a whole block (one that goes or comes) by its size."""
    if isinstance(value, Mapping):
        return f"(the block, {len(value)} keys)"
    return "-" if value is None else str(value)


def _verdict(r: FitReport) -> str:
    if r.fits:
        return "FITS"
    if r.best is None:
        return "NOTHING DEPLOYABLE CARRIES THE DEMAND"
    return "DOES NOT FIT"


def _deciding(r: FitReport) -> str:
    d = r.deciding_assumption
    if not d:
        return ""
    if d["key"] == "fixed_costs":
        return str(d["why"])
    return (
        f"{d['key']}: stated {d['stated']:g} {d['unit']}; the cheapest plan fits at {d['fits_at']:g}"
        f" ({100 * d['change']:.0f}% change; {d['why']})"
    )


def _proposal_rows(label: str, p: Proposal, r: FitReport) -> list[str]:
    f = p.figures
    return [
        label,
        format_tzs(f.totals_tzs["min"]),
        format_tzs(f.totals_tzs["desired"]),
        format_tzs(f.total_tzs),
        format_tzs(per_thousand(f.total_tzs, r.users)),
        p.availability,
        "yes" if f.total_tzs <= r.limit_tzs else "no",
    ]


def render_stack(r: FitResult) -> str:
    if isinstance(r, FitFailure):
        return f"== fit {r.stack}: ERROR ==\n{r.error}\n"
    out = [
        f"== fit {r.stack}: {_verdict(r)} (limit TZS {r.limit_tzs:,}, {r.users:,} concurrent users,"
        f" {r.availability}) ==",
        "",
    ]
    header = [
        "configuration",
        "min TZS",
        "desired TZS",
        "max TZS",
        "TZS / 1,000 users",
        "availability",
        "fits",
    ]
    plan = r.plan
    rows = [
        [
            "the plan (stack file)",
            *(format_tzs(plan.totals_tzs[s]) for s in ("min", "desired", "max")),
            format_tzs(per_thousand(plan.total_tzs, r.users)),
            r.availability,
            "yes" if plan.total_tzs <= r.limit_tzs else "no",
        ]
    ]
    if r.best:
        rows.append(_proposal_rows("cheapest that carries the users", r.best, r))
        rows += [_proposal_rows(f"runner-up {i}", a, r) for i, a in enumerate(r.alternatives, 1)]
    out += grid(header, rows, right=(1, 2, 3, 4))
    if r.best:
        out += ["", f"Cheapest: {r.best.summary}", f"  latency: {r.best.latency}"]
        cap = r.best.figures.capacity
        out.append(
            f"  carries {cap['connections']:,} connections, {cap['deliveries_per_s']:,} deliveries/s,"
            f" {cap['api_rps']:,} API requests/s (headroom {r.capacity_model.get('headroom')})"
        )
        out += ["", "What changes (stack file keys):"]
        out += grid(
            ["key", "from", "to"],
            [[c["key"], shown(c["from"]), shown(c["to"])] for c in r.best.changes],
        )
        tiers = r.best.figures.by_tier_tzs
        out += [
            "",
            "Cheapest plan by tier (TZS, max size): " + ", ".join(f"{t} {v:,}" for t, v in tiers.items()),
        ]
        for i, a in enumerate(r.alternatives, 1):
            out.append(f"Runner-up {i}: TZS {a.figures.total_tzs:,}: {a.summary} ({a.latency})")
    if not r.fits:
        out.append("")
        if r.min_limit_tzs is not None:
            out.append(f"Lowest limit that buys this phase: TZS {r.min_limit_tzs:,} a month")
        if r.max_users_within_limit is not None:
            out.append(f"Most concurrent users TZS {r.limit_tzs:,} buys: {r.max_users_within_limit:,}")
        if r.zero_traffic_tzs is not None:
            out.append(f"The cheapest plan with no data transfer at all: TZS {r.zero_traffic_tzs:,}")
        if r.deciding_assumption:
            out.append(f"Deciding assumption: {_deciding(r)}")
        for a in r.assumptions:
            at = "no value fits" if a["fits_at"] is None else f"fits at {a['fits_at']:g}"
            out.append(f"  {a['key']}: stated {a['stated']:g} {a['unit']}, {at}")
    elif r.max_users_within_limit is not None:
        out += [
            "",
            f"The limit carries up to {r.max_users_within_limit:,} concurrent users on the cheapest plans",
        ]
    if r.aurora_serverless_v2 is not None:
        out.append(f"Aurora Serverless v2: {r.aurora_serverless_v2.why()}")
    if r.notes:
        out.append(f"{len(r.notes)} candidates could not be priced (the check refuses them too), e.g.:")
        out += [f"  {note}" for note in r.notes[:3]]
    return "\n".join(out) + "\n"


def render(results: Sequence[FitResult]) -> str:
    return "\n".join(render_stack(r) for r in results)


def render_markdown(results: Sequence[FitResult]) -> str:
    out = [
        "## Budget fit",
        "",
        "| stack | plan TZS | cheapest TZS | TZS per 1,000 users | limit TZS | fits | deciding assumption |",
        "|---|---:|---:|---:|---:|---|---|",
    ]
    for r in results:
        if isinstance(r, FitFailure):
            out.append(f"| {md(r.stack)} | error: {md(r.error, limit=500)} | | | | | |")
            continue
        best = r.best.figures.total_tzs if r.best else None
        out.append(
            f"| {md(r.stack)} | {r.plan.total_tzs:,} | {format_tzs(best) if best is not None else '-'} |"
            f" {format_tzs(per_thousand(best, r.users)) if best is not None else '-'} | {r.limit_tzs:,} |"
            f" {'yes' if r.fits else 'no'} | {_deciding(r) if not r.fits else '-'} |"
        )
    for r in results:
        if isinstance(r, FitReport) and r.best:
            out += ["", f"**{md(r.stack)}**: {md(r.best.summary, limit=500)}", ""]
            out += ["| key | from | to |", "|---|---|---|"]
            out += [
                f"| {md(c['key'])} | {md(shown(c['from']))} | {md(shown(c['to']))} |" for c in r.best.changes
            ]
    return "\n".join(out) + "\n"


@dataclass(frozen=True)
class FitSummary:
    """What the HTML report shows of a stack's fit (read from ``fit --format json``)."""

    stack: str
    fits: bool
    users: int
    plan_tzs: int
    best_tzs: int | None
    best_per_thousand: int | None
    summary: str
    changes: tuple[tuple[str, str, str], ...]
    deciding: str
    min_limit_tzs: int | None
    max_users: int | None
    #: What Aurora Serverless v2's floor would do to the verdict (``aurora_serverless_v2.why``), if priced.
    aurora: str = ""


def summaries(document: Mapping[str, Any]) -> dict[str, FitSummary]:
    """Each stack's fit from a saved ``fit --all --format json`` document (errors are left out)."""
    out = {}
    for doc in document.get("stacks") or [document]:
        if not isinstance(doc, Mapping) or doc.get("status") == "error" or "plan" not in doc:
            continue
        best = doc.get("best") or None
        deciding = doc.get("deciding_assumption") or None
        text = ""
        if deciding and not doc.get("fits"):
            if deciding.get("key") == "fixed_costs":
                text = str(deciding.get("why", ""))
            else:
                stated, at = f"{deciding['stated']:g}", f"{deciding['fits_at']:g}"
                text = (
                    f"{deciding['key']}: stated {stated} {deciding['unit']}, the cheapest plan fits at {at}"
                )
        out[str(doc["stack"])] = FitSummary(
            stack=str(doc["stack"]),
            fits=bool(doc.get("fits")),
            users=int(doc.get("users") or 0),
            plan_tzs=int(doc["plan"]["total_tzs"]),
            best_tzs=int(best["total_tzs"]) if best else None,
            best_per_thousand=int(best["tzs_per_1000_users"]) if best else None,
            summary=str(best.get("summary", "")) if best else "",
            changes=tuple(
                (str(c["key"]), shown(c["from"]), shown(c["to"])) for c in (best or {}).get("changes", ())
            ),
            deciding=text,
            min_limit_tzs=doc.get("min_limit_tzs"),
            max_users=doc.get("max_users_within_limit"),
            aurora=str((doc.get("aurora_serverless_v2") or {}).get("why", "")),
        )
    return out
