"""Markdown for pull-request comments: verdict, totals, tiers, drivers, what-ifs, unpriced resources."""

from __future__ import annotations

from collections.abc import Sequence

from budget.model import SIZES
from budget.report.formatting import status_label
from budget.report.md_escape import md
from budget.report.model import StackError, StackResult


def render_stack(doc: StackResult) -> str:
    if isinstance(doc, StackError):
        return f"### {status_label('error').icon} {md(doc.stack)}: error\n\n{md(doc.error, limit=1000)}\n"
    rate = doc.usd_to_tzs
    tzs = doc.tzs_by_size
    out = [
        f"### {status_label(doc.status).icon} {md(doc.stack)} ({md(doc.region)}): **{doc.status}**,"
        f" TZS {doc.total_tzs:,} at max size vs limit TZS {doc.limit_tzs:,}",
        "",
        f"USD→TZS {rate:,.0f} ({doc.usd_to_tzs_date}); warning level TZS {doc.warn_tzs:,}."
        + (
            f" TZS {doc.tzs_per_1000_users:,} per 1,000 concurrent users ({doc.users:,} users)."
            if doc.tzs_per_1000_users is not None and doc.users
            else ""
        ),
        *(f"\n> **Warning:** {md(w, limit=500)}" for w in doc.warnings),
        "",
        "| | min | desired | max |",
        "|---|---:|---:|---:|",
        "| USD / month | " + " | ".join(f"{doc.totals.at(s):,.2f}" for s in SIZES) + " |",
        "| TZS / month | " + " | ".join(f"{tzs.at(s):,.0f}" for s in SIZES) + " |",
        "",
        "| tier | max USD | max TZS |",
        "|---|---:|---:|",
    ]
    out += [f"| {md(t.tier)} | {t.monthly_usd:,.2f} | {t.monthly_usd * rate:,.0f} |" for t in doc.tiers]
    out += ["", "**Top cost drivers**", "", "| resource | line | USD | share |", "|---|---|---:|---:|"]
    out += [
        f"| {md(d.resource)} | {md(d.line)}{' (usage)' if d.usage_based else ''} | {d.monthly_usd:,.2f} |"
        f" {100 * d.share:.0f}% |"
        for d in doc.top_drivers
    ]
    if doc.what_ifs:
        out += [
            "",
            "**What would fit** (max size)",
            "",
            "| what-if | USD | TZS | fits |",
            "|---|---:|---:|---|",
        ]
        for w in doc.what_ifs:
            if w.computable:
                fits = "yes" if w.fits else "no"
                out.append(f"| {md(w.title)} | {w.total_usd:,.2f} | {w.total_tzs:,} | {fits} |")
            else:
                out.append(f"| {md(w.title)} | - | - | not computable |")
    if doc.assumed:
        out += ["", "**Assumed AWS defaults** (the program leaves these unset)", ""]
        out += [
            f"- {md(r.name)} {md(item.name)}: USD {item.monthly_usd:,.2f}; {md(item.assumption, limit=500)}"
            for r, item in doc.assumed
        ]
    if doc.deleted:
        out += [
            "",
            f"**Deleted by this update**: saves USD {doc.deleted_usd:,.2f}"
            f" / TZS {doc.tzs(doc.deleted_usd):,.0f} a month at max size",
            "",
            "| resource | type | region | USD |",
            "|---|---|---|---:|",
        ]
        out += [
            f"| {md(r.name)} | {md(r.type)} | {md(r.region)} | {r.monthly_usd:,.2f} |" for r in doc.deleted
        ]
    out += [f"\n> {md(s, limit=500)}" for s in doc.cannot_fit]
    if doc.override:
        override = doc.override
        out.append(f"\n**Override** by {md(override.approved_by)}: {md(override.reason, limit=500)}")
    if doc.unpriced:
        out += ["", f"**Unpriced ({len(doc.unpriced)})**: the check fails closed.", ""]
        out += [f"- {md(u.type)} {md(u.name)}: {md(u.reason, limit=500)}" for u in doc.unpriced]
    out.append(
        f"\n<sub>{doc.lines} cost lines, {doc.usage_based_lines} usage-based, {doc.estimated_lines}"
        " on estimated prices (RECALLED/ESTIMATE).</sub>"
    )
    return "\n".join(out) + "\n"


def render(docs: Sequence[StackResult]) -> str:
    return "## Budget check\n\n" + "\n".join(render_stack(doc) for doc in docs)
