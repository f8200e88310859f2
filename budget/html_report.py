"""The HTML cost report: one self-contained page with, per phase, cost by tier against the limit.

The page is rendered from the check's own JSON, so it cannot disagree with the check. Charts are inline
SVG computed here (no script, no CDN, no fonts to fetch): the file opens offline, in a mail attachment or
a CI artifact, and prints.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape

from budget.fit.render import levers_taken_line
from budget.fit.report import FitReport
from budget.model import SIZES
from budget.report.formatting import format_config_value, format_tzs
from budget.report.model import StackReport, WhatIfReport

TEMPLATES = Path(__file__).with_name("templates")

#: Tier colours, colour-blind safe (Okabe-Ito), in the order tiers are drawn.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#999999", "#000000")

CHART_WIDTH = 760.0
BAR_X, BAR_Y, BAR_H = 10.0, 30.0, 34.0
LABEL_ROOM = 100.0  # px a "warn 1,000,000" label needs


@dataclass(frozen=True)
class Segment:
    """One tier's share of a stack's bar."""

    tier: str
    usd: float
    tzs: float
    x: float
    width: float
    colour: str


@dataclass(frozen=True)
class Driver:
    """One cost line, for the top drivers and the assumptions tables."""

    resource: str
    tier: str
    line: str
    quantity: str
    unit_price_usd: float
    tzs: float
    source: str
    usage_based: bool
    estimated: bool
    #: The AWS default the line is priced on, when the program leaves the setting unset.
    assumption: str = ""


@dataclass(frozen=True)
class PhaseView:
    """Everything the template draws for one stack."""

    stack: StackReport
    segments: tuple[Segment, ...]
    limit_x: float
    warn_x: float | None
    label_x: float
    label_anchor: str
    warn_apart: bool
    range_x: tuple[float, float, float] | None
    ticks: tuple[tuple[float, str], ...]
    range_tzs: Mapping[str, float]
    drivers: tuple[Driver, ...]
    assumptions: tuple[Driver, ...]
    share_of_limit: float
    bar_tzs: float
    warn_tzs: float | None
    what_ifs: tuple[WhatIfReport, ...]
    cannot_fit: tuple[str, ...]

    @property
    def usage_tzs(self) -> float:
        return self.stack.tzs(self.stack.usage_usd)

    @property
    def estimated_tzs(self) -> float:
        return sum(d.tzs for d in self.assumptions if d.estimated)

    @property
    def costly_assumptions(self) -> tuple[Driver, ...]:
        """The assumption lines that cost something (free-tier lines at TZS 0 are only counted)."""
        return tuple(d for d in self.assumptions if round(d.tzs) > 0)


def _quantity(value: Any, unit: str) -> str:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return f"{value} {unit}"
    text = f"{number:,.0f}" if number == int(number) else f"{number:,.2f}"
    return f"{text} {unit}".strip()


def _nice_step(span: float) -> float:
    """A round tick step that gives four to eight ticks over ``span``."""
    raw = span / 5 if span > 0 else 1.0
    power = 10 ** len(str(int(raw))) / 10
    for mult in (1, 2, 2.5, 5, 10):
        if raw <= mult * power:
            return mult * power
    return 10 * power


def _drivers(stack: StackReport) -> list[Driver]:
    out = [
        Driver(
            resource=resource.name,
            tier=resource.tier,
            line=line.name,
            quantity=_quantity(line.quantity, line.unit),
            unit_price_usd=float(line.unit_price_usd),
            tzs=stack.tzs(float(line.monthly_usd)),
            source=line.source,
            usage_based=line.usage_based,
            estimated=line.estimated,
            assumption=line.assumption or "",
        )
        for resource in stack.resources
        for line in resource.lines
    ]
    out.sort(key=lambda d: -d.tzs)
    return out


def phase_view(stack: StackReport, tier_order: list[str], top: int = 8) -> PhaseView:
    """Lay out one stack's chart: tier segments, the limit, the warning level and the min-max range."""
    by_tier: dict[str, float] = {}
    for resource in stack.resources:
        by_tier[resource.tier] = by_tier.get(resource.tier, 0.0) + resource.monthly_usd
    if stack.tiers:  # the check's own tier sums, so the bars equal its numbers exactly
        by_tier = {t.tier: float(t.monthly_usd) for t in stack.tiers}
    for tier in by_tier:
        if tier not in tier_order:
            tier_order.append(tier)
    range_tzs: dict[str, float] = {size: float(stack.tzs_by_size.at(size)) for size in SIZES}
    warn_tzs = float(stack.warn_tzs) if stack.warn_tzs is not None else None
    bar_tzs = stack.tzs(sum(by_tier.values()))
    scale_max = max([stack.limit_tzs, bar_tzs, stack.total_tzs, *range_tzs.values()]) * 1.08
    step = _nice_step(scale_max)
    width = CHART_WIDTH - 2 * BAR_X

    def x_of(tzs: float) -> float:
        return BAR_X + width * tzs / scale_max

    segments, cursor = [], BAR_X
    for tier in sorted(by_tier, key=tier_order.index):
        usd = by_tier[tier]
        if usd <= 0:
            continue
        seg_w = width * stack.tzs(usd) / scale_max
        colour = PALETTE[tier_order.index(tier) % len(PALETTE)]
        segments.append(Segment(tier, usd, stack.tzs(usd), round(cursor, 2), round(seg_w, 2), colour))
        cursor += seg_w
    ticks = []
    value = 0.0
    while value <= scale_max:
        ticks.append((round(x_of(value), 2), f"{value / 1000:,.0f}k" if value else "0"))
        value += step
    range_x = None
    if {"min", "desired", "max"} <= set(range_tzs):
        range_x = (x_of(range_tzs["min"]), x_of(range_tzs["desired"]), x_of(range_tzs["max"]))
    drivers = _drivers(stack)
    limit_x = round(x_of(stack.limit_tzs), 2)
    warn_x = round(x_of(warn_tzs), 2) if warn_tzs else None
    # The warning level gets its own label just left of its line when there is room; otherwise it joins
    # the limit's label, which starts right of the limit line when the limit is near the left edge.
    warn_apart = warn_x is not None and warn_x > LABEL_ROOM and limit_x - warn_x > LABEL_ROOM
    if limit_x < 2 * LABEL_ROOM:
        label_x, anchor = limit_x + 5, "start"
    elif limit_x > CHART_WIDTH * 0.7:
        label_x, anchor = limit_x, "end"
    else:
        label_x, anchor = limit_x, "middle"
    return PhaseView(
        stack=stack,
        segments=tuple(segments),
        limit_x=limit_x,
        warn_x=warn_x,
        label_x=label_x,
        label_anchor=anchor,
        warn_apart=warn_apart,
        range_x=range_x,
        ticks=tuple(ticks),
        range_tzs=range_tzs,
        drivers=tuple(drivers[:top]),
        assumptions=tuple(d for d in drivers if d.usage_based or d.estimated or d.assumption),
        share_of_limit=100.0 * stack.total_tzs / stack.limit_tzs if stack.limit_tzs else 0.0,
        bar_tzs=bar_tzs,
        warn_tzs=warn_tzs,
        what_ifs=tuple(w for w in stack.what_ifs if w.computable),
        cannot_fit=stack.cannot_fit,
    )


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9-]+", "-", text.lower()).strip("-")


def render_html(
    stacks: Iterable[StackReport],
    generated: dt.datetime | None = None,
    title: str = "",
    fits: Mapping[str, FitReport] | None = None,
) -> str:
    """The whole page for the given stacks, in their order."""
    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html", "j2"]))
    env.filters["tzs"] = format_tzs
    env.filters["slug"] = _slug
    env.filters["config_value"] = format_config_value
    env.filters["lever_titles"] = levers_taken_line
    tier_order: list[str] = []
    phases = [phase_view(s, tier_order) for s in stacks]
    rates = sorted({(s.stack.usd_to_tzs) for s in phases})
    basis = next((s.stack.basis for s in phases if s.stack.basis), "")
    when = (generated or dt.datetime.now(dt.UTC)).strftime("%Y-%m-%d %H:%M UTC")
    template = env.get_template("report.html.j2")
    return template.render(
        title=title or "STARS platform: monthly cost by phase",
        phases=phases,
        fits=fits or {},
        tiers=[(t, PALETTE[i % len(PALETTE)]) for i, t in enumerate(tier_order)],
        rates=rates,
        basis=basis,
        generated=when,
        chart_width=CHART_WIDTH,
        bar_y=BAR_Y,
        bar_h=BAR_H,
    )
