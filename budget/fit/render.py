"""``budget fit`` for people: a terminal table and Markdown (for the README and pull requests).

Both read the typed report (:mod:`budget.fit.report`), as the HTML page does; the few sentences all three
show (the verdict, the AZ-loss check, a lever's line, a sensitivity row) are made here once.
"""

from __future__ import annotations

from collections.abc import Sequence

from budget.fit.lever_use import TITLES
from budget.fit.report import (
    FitFailure,
    FitReport,
    FitResult,
    Lever,
    Proposal,
    TrafficFigures,
    UsageDrift,
    Verdict,
)
from budget.report.formatting import format_config_value, format_tzs, per_thousand
from budget.report.md_escape import md
from budget.textgrid import grid


def verdict(r: FitReport) -> str:
    if r.fits:
        return "FITS"
    domain = r.domain_lever
    if domain is not None and domain.fits and domain.total_tzs is not None:
        return (
            f"FITS WITH A DOMAIN OF YOUR OWN (TZS {domain.total_tzs:,} with its hosted zone; name it with"
            " --domain NAME); as written, DOES NOT FIT"
        )
    if r.best is None:
        return "NOTHING DEPLOYABLE CARRIES THE DEMAND"
    return "DOES NOT FIT"


def levers_taken_line(keys: Sequence[str]) -> str:
    """A proposal's levers by their titles (``best.levers`` holds the keys)."""
    return "; ".join(TITLES.get(key, key) for key in keys) or "none"


def lever_line(lever: Lever) -> str:
    """``used: 3-year reservations (saves TZS 12,000): why``."""
    saving = ""
    if lever.saves_tzs is not None:
        word = "saves" if lever.saves_tzs >= 0 else "costs"
        saving = f" ({word} TZS {abs(lever.saves_tzs):,} a month)"
    assumption = f"; deciding assumption: {lever.deciding_assumption}" if lever.deciding_assumption else ""
    return f"{lever.status.replace('_', ' ')}: {lever.title}{saving}: {lever.why}{assumption}"


def verdicts_line(label: str, verdicts: Sequence[Verdict], unit: str) -> str:
    """``at 10% headroom TZS 900,000 (fits), ...`` for one assumption's range."""
    parts = []
    for v in verdicts:
        value = f"{v.value:.0%}" if unit == "%" else f"{v.value:g} {unit}"
        cost = "nothing priced" if v.total_tzs is None else f"TZS {v.total_tzs:,}"
        parts.append(f"{value}: {cost} ({'fits' if v.fits else 'over'})")
    return f"{label}: " + "; ".join(parts)


def _row(label: str, p: Proposal, r: FitReport) -> list[str]:
    return [
        label,
        format_tzs(p.totals_tzs.min),
        format_tzs(p.totals_tzs.desired),
        format_tzs(p.total_tzs),
        format_tzs(p.tzs_per_1000_users),
        p.availability,
        "yes" if p.total_tzs <= r.limit_tzs else "no",
    ]


def _table(r: FitReport) -> list[str]:
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
            *(format_tzs(getattr(plan.totals_tzs, s)) for s in ("min", "desired", "max")),
            format_tzs(plan.tzs_per_1000_users),
            r.availability,
            "yes" if plan.total_tzs <= r.limit_tzs else "no",
        ]
    ]
    if r.best:
        rows.append(_row("cheapest that carries the users", r.best, r))
        rows += [_row(f"runner-up {i}", a, r) for i, a in enumerate(r.alternatives, 1)]
    for lever in r.levers:  # what the owner could take: priced at max size, beside the plans
        if lever.status == "needs_input" and lever.total_tzs is not None:
            rows.append(
                [
                    f"with {lever.key} (needs you)",
                    "-",
                    "-",
                    format_tzs(lever.total_tzs),
                    format_tzs(per_thousand(lever.total_tzs, r.users)),
                    r.availability,
                    "yes" if lever.fits else "no",
                ]
            )
    return grid(header, rows, right=(1, 2, 3, 4))


def _best(r: FitReport) -> list[str]:
    assert r.best is not None
    cap = r.best.capacity
    headroom = r.capacity_model.headroom if r.capacity_model is not None else None
    out = [
        "",
        f"Cheapest: {r.best.summary}",
        f"  latency: {r.best.latency}",
        f"  carries {cap.connections:,} connections, {cap.deliveries_per_s:,} deliveries/s,"
        f" {cap.api_rps:,} API requests/s (headroom {headroom})",
        f"  levers taken: {levers_taken_line(r.best.levers)}",
    ]
    if r.best.az_loss is not None:
        out.append(f"  AZ loss: {r.best.az_loss.statement}")
    if r.best.db_connections is not None:
        out.append(f"  database connections: {r.best.db_connections.statement}")
    out += ["", "What changes (stack file keys):"]
    rows = [[c.key, format_config_value(c.from_), format_config_value(c.to)] for c in r.best.changes]
    out += grid(["key", "from", "to"], rows)
    tiers = r.best.by_tier_tzs
    out += ["", "Cheapest plan by tier (TZS, max size): " + ", ".join(f"{t} {v:,}" for t, v in tiers.items())]
    for i, a in enumerate(r.alternatives, 1):
        out.append(f"Runner-up {i} ({a.relation}): TZS {a.total_tzs:,}: {a.summary} ({a.latency})")
    return out


def traffic_line(traffic: TrafficFigures) -> str:
    """The month's bytes: what the users consume, the frames raw and on the wire, and the deflate ratio."""
    d = traffic.deflate
    where = f": {d.frame!r} in {d.source}" if d.source else ""
    return (
        f"Traffic a month: {traffic.total_gb:,.1f} GB used, {traffic.wire_gb:,.1f} GB on the wire;"
        f" real-time frames {traffic.websocket_raw_gb:,.1f} GB raw, {traffic.websocket_gb:,.1f} GB"
        f" sent (permessage-deflate ratio {d.ratio:g}{where}; {d.why})"
    )


def _how_far(r: FitReport) -> list[str]:
    out = [""]
    if not r.fits:
        if r.min_limit_tzs is not None:
            out.append(f"Lowest limit that buys this phase: TZS {r.min_limit_tzs:,} a month")
        if r.max_users_within_limit is not None:
            out.append(f"Most concurrent users TZS {r.limit_tzs:,} buys: {r.max_users_within_limit:,}")
        if r.zero_traffic_tzs is not None:
            out.append(f"The cheapest plan with no data transfer at all: TZS {r.zero_traffic_tzs:,}")
        if r.deciding_assumption:
            out.append(f"Deciding assumption: {r.deciding_text}")
        for a in r.assumptions:
            at = "no value fits" if a.fits_at is None else f"fits at {a.fits_at:g}"
            out.append(f"  {a.key}: stated {a.stated:g} {a.unit}, {at}")
    elif r.max_users_within_limit is not None:
        out.append(
            f"The limit carries up to {r.max_users_within_limit:,} concurrent users on the cheapest plans"
        )
    out += [
        verdicts_line("Verdict by headroom", r.verdicts_by_headroom, "%"),
        verdicts_line(
            "Verdict by transfer", r.sensitivity.transfer_gb_per_user_per_month, "GB per user per month"
        ),
    ]
    lever = r.domain_lever
    if lever is not None and lever.sensitivity is not None:
        out += [
            verdicts_line("With a domain, by headroom", lever.sensitivity.headroom, "%"),
            verdicts_line(
                "With a domain, by transfer",
                lever.sensitivity.transfer_gb_per_user_per_month,
                "GB per user per month",
            ),
        ]
    return out


def drift_line(drift: Sequence[UsageDrift]) -> str:
    """The plan row's note when the file's usage contradicts its demand (the independent review's F3: a
    100 GB egress where the demand gives 2,737.2 priced the plan TZS 530,747 low, with no word)."""
    shown = ", ".join(f"{d.key} {d.stated:g} where the demand gives {d.derived:g}" for d in drift[:3])
    more = f" and {len(drift) - 3} more" if len(drift) > 3 else ""
    return (
        f"Note: the stack file's stars:usage disagrees with its stars:demand ({shown}{more}): the plan's row"
        " prices the file as written, the search prices the demand (--write writes the derived figures)."
    )


def render_stack(r: FitResult) -> str:
    if isinstance(r, FitFailure):
        return f"== fit {r.stack}: ERROR ==\n{r.error}\n"
    out = [
        f"== fit {r.stack}: {verdict(r)} (limit TZS {r.limit_tzs:,}, {r.users:,} concurrent users,"
        f" {r.availability}) ==",
        "",
        *_table(r),
    ]
    if r.plan.usage_drift:
        out += ["", drift_line(r.plan.usage_drift)]
    if r.traffic is not None:
        out += ["", traffic_line(r.traffic)]
    if r.best:
        out += _best(r)
    out += _how_far(r)
    if r.levers:
        out += ["", "Levers:"] + [f"  {lever_line(lever)}" for lever in r.levers]
    if r.aurora_serverless_v2 is not None:
        out.append(f"Aurora Serverless v2: {r.aurora_serverless_v2.why}")
    if r.notes:
        out.append(f"{len(r.notes)} candidates could not be priced (the check refuses them too), e.g.:")
        out += [f"  {note}" for note in r.notes[:3]]
    return "\n".join(out) + "\n"


def render(results: Sequence[FitResult]) -> str:
    return "\n".join(render_stack(r) for r in results)


def _markdown_stack(r: FitReport) -> list[str]:
    assert r.best is not None
    out = ["", f"**{md(r.stack)}**: {md(r.best.summary, limit=500)}", ""]
    out += [f"- levers taken: {md(levers_taken_line(r.best.levers), limit=1000)}"]
    if r.plan.usage_drift:
        out += [f"- {md(drift_line(r.plan.usage_drift), limit=500)}"]
    if r.best.az_loss is not None:
        out += [f"- AZ loss: {md(r.best.az_loss.statement, limit=500)}"]
    if r.best.db_connections is not None:
        out += [f"- database connections: {md(r.best.db_connections.statement, limit=500)}"]
    out += [
        f"- runner-up ({md(a.relation)}): TZS {a.total_tzs:,}: {md(a.summary, limit=500)}"
        for a in r.alternatives
    ]
    transfer = r.sensitivity.transfer_gb_per_user_per_month
    out += [
        f"- {md(verdicts_line('verdict by headroom', r.verdicts_by_headroom, '%'), limit=500)}",
        f"- {md(verdicts_line('verdict by transfer', transfer, 'GB/user'), limit=500)}",
    ]
    lever = r.domain_lever
    if lever is not None and lever.sensitivity is not None:
        by_transfer = lever.sensitivity.transfer_gb_per_user_per_month
        by_headroom = lever.sensitivity.headroom
        out += [
            f"- {md(verdicts_line('with a domain, by headroom', by_headroom, '%'), limit=500)}",
            f"- {md(verdicts_line('with a domain, by transfer', by_transfer, 'GB/user'), limit=500)}",
        ]
    out += [f"- lever {md(lever_line(lever), limit=1000)}" for lever in r.levers]  # with its assumption
    out += ["", "| key | from | to |", "|---|---|---|"]
    for c in r.best.changes:
        out.append(f"| {md(c.key)} | {md(format_config_value(c.from_))} | {md(format_config_value(c.to))} |")
    return out


def _fits_cell(r: FitReport) -> str:
    if r.fits:
        return "yes"
    if r.fits_with_domain and r.domain_lever is not None:
        return f"with a domain of your own (TZS {r.domain_lever.total_tzs:,})"
    return "no"


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
        best = r.best.total_tzs if r.best else None
        out.append(
            f"| {md(r.stack)} | {r.plan.total_tzs:,} | {format_tzs(best) if best is not None else '-'} |"
            f" {format_tzs(r.best.tzs_per_1000_users) if r.best else '-'} | {r.limit_tzs:,} |"
            f" {_fits_cell(r)} | {md(r.deciding_text, limit=500) if not r.fits else '-'} |"
        )
    for r in results:
        if isinstance(r, FitReport) and r.best:
            out += _markdown_stack(r)
    return "\n".join(out) + "\n"
