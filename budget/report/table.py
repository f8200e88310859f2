"""Plain-text table for the terminal (and for the guard's message in ``pulumi preview``/``up``)."""

from __future__ import annotations

from collections.abc import Sequence

from budget.model import SIZES
from budget.report.formatting import status_label
from budget.report.model import StackError, StackReport, StackResult
from budget.textgrid import grid


def render_stack(doc: StackResult) -> str:
    """One stack's report: the verdict, then each section in the order a reviewer reads them."""
    if isinstance(doc, StackError):
        return f"== {doc.stack}: ERROR ==\n{doc.error}\n"
    out = [*_header(doc), *_totals(doc), "", *_tiers(doc), "", *_drivers(doc), "", *_usage_lines(doc)]
    out += _assumed(doc) + _deleted(doc)
    out.append("")
    out.append(
        f"{doc.lines} cost lines ({doc.usage_based_lines} usage-based,"
        f" USD {doc.usage_usd:,.2f};"
        f" {doc.estimated_lines} on estimated prices); {doc.free_resources} resources free by type"
    )
    out += _what_ifs(doc)
    out += [f"! {statement}" for statement in doc.cannot_fit]
    if doc.override:
        out.append(f"OVERRIDE by {doc.override.approved_by}: {doc.override.reason}")
    if doc.unpriced:
        out.append("")
        out.append(f"UNPRICED ({len(doc.unpriced)}) - the check fails closed:")
        out += [f"  {u.type} '{u.name}': {u.reason}" for u in doc.unpriced]
    return "\n".join(out) + "\n"


def _header(doc: StackReport) -> list[str]:
    """The verdict, the rate and limits, the figure we steer by and the warnings."""
    warn = f"{doc.warn_tzs:,}" if doc.warn_tzs is not None else "-"
    per_users = (
        [f"TZS {doc.tzs_per_1000_users:,} a month per 1,000 concurrent users ({doc.users:,} users)"]
        if doc.tzs_per_1000_users is not None and doc.users
        else []
    )
    return [
        f"== {doc.stack} ({doc.region}): {status_label(doc.status).text} ==",
        f"USD->TZS {doc.usd_to_tzs:,.0f} ({doc.usd_to_tzs_date}); limit TZS {doc.limit_tzs:,},"
        f" warning TZS {warn}; policy judges the max-size month",
        *per_users,
        *(f"! warning: {w}" for w in doc.warnings),
        "",
    ]


def _totals(doc: StackReport) -> list[str]:
    tzs = doc.tzs_by_size
    return grid(
        ["", *SIZES],
        [
            ["USD / month", *(f"{doc.totals.at(s):,.2f}" for s in SIZES)],
            ["TZS / month", *(f"{tzs.at(s):,.0f}" for s in SIZES)],
            ["% of limit", *(f"{100 * tzs.at(s) / doc.limit_tzs:.0f}%" for s in SIZES)],
        ],
        right=(1, 2, 3),
    )


def _tiers(doc: StackReport) -> list[str]:
    return grid(
        ["tier", "min USD", "desired USD", "max USD", "max TZS"],
        [
            [
                t.tier,
                *(f"{t.monthly_usd_by_size.at(s):,.2f}" for s in SIZES),
                f"{t.monthly_usd_by_size.max * doc.usd_to_tzs:,.0f}",
            ]
            for t in doc.tiers
        ],
        right=(1, 2, 3, 4),
    )


def _drivers(doc: StackReport) -> list[str]:
    return [
        "Top cost drivers (max size):",
        *grid(
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
        ),
    ]


def _usage_lines(doc: StackReport) -> list[str]:
    return [
        "Usage-based lines (from the stack's stars:usage assumptions; * = estimated price):",
        *grid(
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
        ),
    ]


def _assumed(doc: StackReport) -> list[str]:
    if not doc.assumed:
        return []
    return [
        "",
        "Priced on AWS defaults the program leaves unset (assumptions; see each line):",
        *grid(
            ["resource", "line", "USD", "assumption"],
            [
                [r.name, item.name[:60], f"{item.monthly_usd:,.2f}", item.assumption or ""]
                for r, item in doc.assumed
            ],
            right=(2,),
        ),
    ]


def _deleted(doc: StackReport) -> list[str]:
    if not doc.deleted:
        return []
    return [
        "",
        f"Deleted by this update (priced from the preview's oldState): saves USD {doc.deleted_usd:,.2f}"
        f" / TZS {doc.tzs(doc.deleted_usd):,.0f} a month at max size",
        *grid(
            ["resource", "type", "tier", "region", "USD"],
            [[r.name, r.type, r.tier, r.region, f"{r.monthly_usd:,.2f}"] for r in doc.deleted],
            right=(4,),
        ),
    ]


def _what_ifs(doc: StackReport) -> list[str]:
    if not doc.what_ifs:
        return []
    return [
        "",
        "What would fit (max size, same rules on modified inputs):",
        *grid(
            ["what-if", "USD", "TZS", "fits"],
            [
                [w.title, f"{w.total_usd:,.2f}", f"{w.total_tzs:,}", "yes" if w.fits else "no"]
                if w.computable
                else [w.title, "-", "-", f"not computable: {w.reason}"]
                for w in doc.what_ifs
            ],
            right=(1, 2),
        ),
    ]


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
