"""Plain-text table for the terminal (and for the guard's message in ``pulumi preview``/``up``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

SIZES = ("min", "desired", "max")

STATUS_TEXT = {
    "ok": "OK: within budget",
    "warn": "WARN: above the warning level, within the limit",
    "over": "OVER BUDGET",
    "error": "ERROR",
}


def _grid(rows: Sequence[Sequence[str]], right: Sequence[int] = ()) -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    out = []
    for n, row in enumerate(rows):
        cells = [cell.rjust(widths[i]) if i in right else cell.ljust(widths[i]) for i, cell in enumerate(row)]
        out.append("  ".join(cells).rstrip())
        if n == 0:
            out.append("  ".join("-" * w for w in widths))
    return out


def render_stack(doc: dict[str, Any]) -> str:
    """One stack's report."""
    if doc.get("status") == "error":
        return f"== {doc['stack']}: ERROR ==\n{doc['error']}\n"
    rate = doc["usd_to_tzs"]
    out = [
        f"== {doc['stack']} ({doc['region']}): {STATUS_TEXT[doc['status']]} ==",
        f"USD->TZS {rate:,.0f} ({doc['usd_to_tzs_date']}); limit TZS {doc['limit_tzs']:,},"
        f" warning TZS {doc['warn_tzs']:,}; policy judges the max-size month",
        "",
    ]
    sizes = ("min", "desired", "max")
    rows = [["", *sizes]]
    rows.append(["USD / month", *(f"{doc['totals'][s]:,.2f}" for s in sizes)])
    rows.append(["TZS / month", *(f"{doc['totals_tzs'][s]:,}" for s in sizes)])
    rows.append(["% of limit", *(f"{100 * doc['totals_tzs'][s] / doc['limit_tzs']:.0f}%" for s in sizes)])
    out += _grid(rows, right=(1, 2, 3))
    out.append("")
    rows = [["tier", "min USD", "desired USD", "max USD", "max TZS"]]
    for t in doc["tiers"]:
        by = t["monthly_usd_by_size"]
        rows.append(
            [
                t["tier"],
                f"{by['min']:,.2f}",
                f"{by['desired']:,.2f}",
                f"{by['max']:,.2f}",
                f"{by['max'] * rate:,.0f}",
            ]
        )
    out += _grid(rows, right=(1, 2, 3, 4))
    out.append("")
    out.append("Top cost drivers (max size):")
    rows = [["resource", "line", "USD", "share", "kind"]]
    for d in doc["top_drivers"]:
        rows.append(
            [
                d["resource"],
                d["line"][:96],
                f"{d['monthly_usd']:,.2f}",
                f"{100 * d['share']:.0f}%",
                "usage" if d["usage_based"] else "fixed",
            ]
        )
    out += _grid(rows, right=(2, 3))
    out.append("")
    out.append("Usage-based lines (from the stack's stars:usage assumptions; * = estimated price):")
    rows = [["resource", "line", "quantity", "USD"]]
    for r in doc["resources"]:
        for item in r["lines"]:
            if item["usage_based"]:
                mark = " *" if item["estimated"] else ""
                rows.append(
                    [
                        r["name"],
                        item["name"][:96] + mark,
                        f"{item['quantity']:,.2f} {item['unit']}",
                        f"{item['monthly_usd']:,.2f}",
                    ]
                )
    out += _grid(rows, right=(2, 3))
    out.append("")
    out.append(
        f"{doc['lines']} cost lines ({doc['usage_based_lines']} usage-based,"
        f" USD {doc['usage_based_usd']:,.2f};"
        f" {doc['estimated_lines']} on estimated prices); {doc['free_resources']} resources free by type"
    )
    if doc["what_ifs"]:
        out.append("")
        out.append("What would fit (max size, same rules on modified inputs):")
        rows = [["what-if", "USD", "TZS", "fits"]]
        for w in doc["what_ifs"]:
            if w["computable"]:
                rows.append(
                    [
                        w["title"],
                        f"{w['total_usd']:,.2f}",
                        f"{w['total_tzs']:,}",
                        "yes" if w["fits"] else "no",
                    ]
                )
            else:
                rows.append([w["title"], "-", "-", f"not computable: {w['reason']}"])
        out += _grid(rows, right=(1, 2))
    for statement in doc["cannot_fit"]:
        out.append(f"! {statement}")
    if doc["override"]:
        out.append(f"OVERRIDE by {doc['override']['approved_by']}: {doc['override']['reason']}")
    if doc["unpriced"]:
        out.append("")
        out.append(f"UNPRICED ({len(doc['unpriced'])}) - the check fails closed:")
        for u in doc["unpriced"]:
            out.append(f"  {u['type']} '{u['name']}': {u['reason']}")
    return "\n".join(out) + "\n"


def render_details(doc: dict[str, Any]) -> str:
    """Every priced resource with every cost line at min / desired / max size (``--details``)."""
    if doc.get("status") == "error":
        return ""
    rows = [["resource / line", "quantity (max)", "unit price", "min USD", "desired USD", "max USD", ""]]
    for r in sorted(doc["resources"], key=lambda r: (r["tier"], r["name"])):
        if not r["lines"]:
            continue
        by = r["monthly_usd_by_size"]
        rows.append([f"{r['tier']}/{r['name']} ({r['type']})", "", "", *(f"{by[s]:,.2f}" for s in SIZES), ""])
        for item in r["lines"]:
            sizes = item.get("by_size") or {s: {"monthly_usd": item["monthly_usd"]} for s in SIZES}
            marks = ("usage " if item["usage_based"] else "") + ("est." if item["estimated"] else "")
            rows.append(
                [
                    f"  {item['name'][:90]}",
                    f"{item['quantity']:,.2f} {item['unit']}",
                    f"{item['unit_price_usd']:.6g}",
                    *(f"{sizes[s]['monthly_usd']:,.2f}" for s in SIZES),
                    marks.strip(),
                ]
            )
    return f"-- {doc['stack']}: every cost line --\n" + "\n".join(_grid(rows, right=(1, 2, 3, 4, 5))) + "\n"


def render(docs: Sequence[dict[str, Any]], details: bool = False) -> str:
    parts = []
    for doc in docs:
        parts.append(render_stack(doc))
        if details:
            parts.append(render_details(doc))
    return "\n".join(parts)
