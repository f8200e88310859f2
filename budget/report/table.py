"""Plain-text table for the terminal (and for the guard's message in ``pulumi preview``/``up``)."""

from __future__ import annotations

from collections.abc import Sequence

from budget.model import SIZES
from budget.report.formatting import status_label
from budget.report.model import StackError, StackResult
from budget.textgrid import grid


def render_stack(doc: StackResult) -> str:
    """One stack's report."""
    if isinstance(doc, StackError):
        return f"== {doc.stack}: ERROR ==\n{doc.error}\n"
    rate = doc.usd_to_tzs
    warn = f"{doc.warn_tzs:,}" if doc.warn_tzs is not None else "-"
    out = [
        f"== {doc.stack} ({doc.region}): {status_label(doc.status).text} ==",
        f"USD->TZS {rate:,.0f} ({doc.usd_to_tzs_date}); limit TZS {doc.limit_tzs:,},"
        f" warning TZS {warn}; policy judges the max-size month",
        *(
            [f"TZS {doc.tzs_per_1000_users:,} a month per 1,000 concurrent users ({doc.users:,} users)"]
            if doc.tzs_per_1000_users is not None and doc.users
            else []
        ),
        *(f"! warning: {w}" for w in doc.warnings),
        "",
    ]
    tzs = doc.tzs_by_size
    out += grid(
        ["", *SIZES],
        [
            ["USD / month", *(f"{doc.totals.at(s):,.2f}" for s in SIZES)],
            ["TZS / month", *(f"{tzs.at(s):,.0f}" for s in SIZES)],
            ["% of limit", *(f"{100 * tzs.at(s) / doc.limit_tzs:.0f}%" for s in SIZES)],
        ],
        right=(1, 2, 3),
    )
    out.append("")
    out += grid(
        ["tier", "min USD", "desired USD", "max USD", "max TZS"],
        [
            [
                t.tier,
                *(f"{t.monthly_usd_by_size.at(s):,.2f}" for s in SIZES),
                f"{t.monthly_usd_by_size.max * rate:,.0f}",
            ]
            for t in doc.tiers
        ],
        right=(1, 2, 3, 4),
    )
    out.append("")
    out.append("Top cost drivers (max size):")
    out += grid(
        ["resource", "line", "USD", "share", "kind"],
        [
            [
                d.resource,
                d.line[:96],
                f"{d.monthly_usd:,.2f}",
                f"{100 * d.share:.0f}%",
                "usage" if d.usage_based else "fixed",
            ]
            for d in doc.top_drivers
        ],
        right=(2, 3),
    )
    out.append("")
    out.append("Usage-based lines (from the stack's stars:usage assumptions; * = estimated price):")
    out += grid(
        ["resource", "line", "quantity", "USD"],
        [
            [
                r.name,
                item.name[:96] + (" *" if item.estimated else ""),
                f"{item.quantity:,.2f} {item.unit}",
                f"{item.monthly_usd:,.2f}",
            ]
            for r in doc.resources
            for item in r.lines
            if item.usage_based
        ],
        right=(2, 3),
    )
    if doc.assumed:
        out.append("")
        out.append("Priced on AWS defaults the program leaves unset (assumptions; see each line):")
        out += grid(
            ["resource", "line", "USD", "assumption"],
            [
                [r.name, item.name[:60], f"{item.monthly_usd:,.2f}", item.assumption or ""]
                for r, item in doc.assumed
            ],
            right=(2,),
        )
    if doc.deleted:
        out.append("")
        out.append(
            f"Deleted by this update (priced from the preview's oldState): saves USD {doc.deleted_usd:,.2f}"
            f" / TZS {doc.tzs(doc.deleted_usd):,.0f} a month at max size"
        )
        out += grid(
            ["resource", "type", "tier", "region", "USD"],
            [[r.name, r.type, r.tier, r.region, f"{r.monthly_usd:,.2f}"] for r in doc.deleted],
            right=(4,),
        )
    out.append("")
    out.append(
        f"{doc.lines} cost lines ({doc.usage_based_lines} usage-based,"
        f" USD {doc.usage_usd:,.2f};"
        f" {doc.estimated_lines} on estimated prices); {doc.free_resources} resources free by type"
    )
    if doc.what_ifs:
        out.append("")
        out.append("What would fit (max size, same rules on modified inputs):")
        out += grid(
            ["what-if", "USD", "TZS", "fits"],
            [
                [w.title, f"{w.total_usd:,.2f}", f"{w.total_tzs:,}", "yes" if w.fits else "no"]
                if w.computable
                else [w.title, "-", "-", f"not computable: {w.reason}"]
                for w in doc.what_ifs
            ],
            right=(1, 2),
        )
    for statement in doc.cannot_fit:
        out.append(f"! {statement}")
    if doc.override:
        out.append(f"OVERRIDE by {doc.override.approved_by}: {doc.override.reason}")
    if doc.unpriced:
        out.append("")
        out.append(f"UNPRICED ({len(doc.unpriced)}) - the check fails closed:")
        for u in doc.unpriced:
            out.append(f"  {u.type} '{u.name}': {u.reason}")
    return "\n".join(out) + "\n"


def render_details(doc: StackResult) -> str:
    """Every priced resource with every cost line at min / desired / max size (``--details``)."""
    if isinstance(doc, StackError):
        return ""
    rows = []
    for r in sorted(doc.resources, key=lambda r: (r.tier, r.name)):
        if not r.lines:
            continue
        by = r.monthly_usd_by_size
        rows.append([f"{r.tier}/{r.name} ({r.type})", "", "", *(f"{by.at(s):,.2f}" for s in SIZES), ""])
        for item in r.lines:
            marks = " ".join(
                mark
                for mark, on in (
                    ("usage", item.usage_based),
                    ("est.", item.estimated),
                    ("assumed", item.assumption),
                )
                if on
            )
            rows.append(
                [
                    f"  {item.name[:90]}",
                    f"{item.quantity:,.2f} {item.unit}",
                    f"{item.unit_price_usd:.6g}",
                    *(f"{item.monthly_at(s):,.2f}" for s in SIZES),
                    marks,
                ]
            )
    header = ["resource / line", "quantity (max)", "unit price", "min USD", "desired USD", "max USD", ""]
    body = grid(header, rows, right=(1, 2, 3, 4, 5))
    return f"-- {doc.stack}: every cost line --\n" + "\n".join(body) + "\n"


def render(docs: Sequence[StackResult], details: bool = False) -> str:
    parts = []
    for doc in docs:
        parts.append(render_stack(doc))
        if details:
            parts.append(render_details(doc))
    return "\n".join(parts)
