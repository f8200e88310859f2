"""The cost difference between two budget checks (base branch and head), per stack and per resource.

The inputs are the JSON that ``python -m budget check --format json`` prints, for one stack or many, so
the diff never prices anything itself: it compares two verdicts the check already reached. Money is
compared in USD (what the catalog holds) and shown in TZS at each side's own recorded rate, so a change
of exchange rate between base and head is visible in the TZS change rather than hidden.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

ChangeKind = Literal["added", "removed", "changed"]

#: Changes smaller than this (USD per month) are rounding noise, not a change.
EPSILON_USD = 0.005


class ReportError(ValueError):
    """A check report that cannot be read; the CLI turns it into exit code 2."""


@dataclass(frozen=True)
class LineCost:
    """One priced line of a resource as the check reported it."""

    name: str
    unit: str
    quantity: float
    unit_price_usd: float
    monthly_usd: float
    source: str
    usage_based: bool


@dataclass(frozen=True)
class ResourceCost:
    """One planned resource with its monthly cost and lines."""

    key: str
    type: str
    name: str
    tier: str
    monthly_usd: float
    lines: tuple[LineCost, ...]


@dataclass(frozen=True)
class StackCost:
    """One stack's verdict from the check, reduced to what a diff and a report need."""

    stack: str
    region: str
    usd_to_tzs: float
    limit_tzs: float
    status: str
    total_usd: float
    total_tzs: float
    totals_usd: Mapping[str, float]
    resources: Mapping[str, ResourceCost]
    raw: Mapping[str, Any] = field(repr=False, compare=False)
    overridden: bool = False
    basis: str = ""

    @property
    def usage_usd(self) -> float:
        """The part of the total that rests on usage assumptions (transfer, requests, LCUs...)."""
        reported = self.raw.get("usage_based_usd")
        if isinstance(reported, int | float) and not isinstance(reported, bool):
            return float(reported)
        return sum(line.monthly_usd for r in self.resources.values() for line in r.lines if line.usage_based)

    @property
    def totals_tzs(self) -> dict[str, float]:
        """min / desired / max in TZS: the check's own figures when it gives them, else converted here."""
        reported = self.raw.get("totals_tzs")
        if isinstance(reported, Mapping) and reported:
            return {k: float(v) for k, v in reported.items() if isinstance(v, int | float)}
        return {k: v * self.usd_to_tzs for k, v in self.totals_usd.items()}

    def tzs(self, usd: float) -> float:
        return usd * self.usd_to_tzs


@dataclass(frozen=True)
class LineChange:
    """A line whose quantity or price moved (how a resource change is explained)."""

    name: str
    unit: str
    base_quantity: float | None
    head_quantity: float | None
    base_usd: float
    head_usd: float

    @property
    def delta_usd(self) -> float:
        return self.head_usd - self.base_usd


@dataclass(frozen=True)
class ResourceChange:
    """A resource added, removed or changed in cost between base and head."""

    key: str
    type: str
    name: str
    tier: str
    kind: ChangeKind
    base_usd: float
    head_usd: float
    delta_tzs: float
    lines: tuple[LineChange, ...]

    @property
    def delta_usd(self) -> float:
        return self.head_usd - self.base_usd


@dataclass(frozen=True)
class StackDiff:
    """One stack's baseline, new cost, change and verdict. A side is None when the stack is new or gone."""

    stack: str
    base: StackCost | None
    head: StackCost | None
    resources: tuple[ResourceChange, ...]

    @property
    def base_tzs(self) -> float:
        return self.base.total_tzs if self.base else 0.0

    @property
    def head_tzs(self) -> float:
        return self.head.total_tzs if self.head else 0.0

    @property
    def change_tzs(self) -> float:
        return self.head_tzs - self.base_tzs

    @property
    def change_percent(self) -> float | None:
        """The change relative to the baseline; None when there is no baseline to compare with."""
        if not self.base_tzs:
            return None
        return 100.0 * self.change_tzs / self.base_tzs

    @property
    def usage_tzs(self) -> float:
        return self.head.tzs(self.head.usage_usd) if self.head else 0.0

    @property
    def limit_tzs(self) -> float | None:
        side = self.head or self.base
        return side.limit_tzs if side else None

    @property
    def status(self) -> str:
        """The head's verdict ("ok", "warn", "over"), or "removed" for a stack the head no longer has."""
        return self.head.status if self.head else "removed"

    @property
    def base_status(self) -> str | None:
        return self.base.status if self.base else None

    @property
    def changed(self) -> bool:
        return abs(self.change_tzs) >= 0.5 or bool(self.resources)

    @property
    def newly_over(self) -> bool:
        return self.status == "over" and self.base_status != "over"

    @property
    def overridden(self) -> bool:
        """Over the limit with the owner's recorded override: reported, but not a policy failure."""
        return bool(self.head and self.head.overridden)


@dataclass(frozen=True)
class CostDiff:
    """The diff of every stack present on either side, in the head's order."""

    stacks: tuple[StackDiff, ...]

    @property
    def base_tzs(self) -> float:
        return sum(s.base_tzs for s in self.stacks)

    @property
    def head_tzs(self) -> float:
        return sum(s.head_tzs for s in self.stacks)

    @property
    def change_tzs(self) -> float:
        return self.head_tzs - self.base_tzs

    @property
    def changed(self) -> bool:
        return any(s.changed for s in self.stacks)

    @property
    def over(self) -> tuple[StackDiff, ...]:
        return tuple(s for s in self.stacks if s.status == "over")


# ---------------------------------------------------------------------------------------------- reading


def _number(data: Mapping[str, Any], key: str, where: str) -> float:
    value = data.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ReportError(f"{where}: '{key}' must be a number, got {value!r}")
    return float(value)


def _line(data: Mapping[str, Any], where: str) -> LineCost:
    return LineCost(
        name=str(data.get("name", "")),
        unit=str(data.get("unit", "")),
        quantity=float(data.get("quantity") or 0.0),
        unit_price_usd=float(data.get("unit_price_usd") or 0.0),
        monthly_usd=_number(data, "monthly_usd", where),
        source=str(data.get("source", "")),
        usage_based=bool(data.get("usage_based", False)),
    )


def _resource(data: Mapping[str, Any], where: str) -> ResourceCost:
    rtype = str(data.get("type", ""))
    name = str(data.get("name", ""))
    key = str(data.get("urn") or f"{rtype}::{name}")
    lines = tuple(_line(item, f"{where} {name}") for item in data.get("lines") or ())
    return ResourceCost(
        key=key,
        type=rtype,
        name=name,
        tier=str(data.get("tier") or "other"),
        monthly_usd=_number(data, "monthly_usd", f"{where} {name}"),
        lines=lines,
    )


def parse_stack(data: Mapping[str, Any]) -> StackCost:
    """Read one stack of a check report."""
    if not isinstance(data, Mapping) or "stack" not in data:
        raise ReportError(f"not a stack of a budget check report: {str(data)[:80]!r}")
    name = str(data["stack"])
    if data.get("status") == "error":
        raise ReportError(
            f"{name}: the check could not price this stack: {data.get('error', 'unknown error')}"
        )
    resources: dict[str, ResourceCost] = {}
    for item in data.get("resources") or ():
        resource = _resource(item, name)
        resources[resource.key] = resource
    totals = data.get("totals") or {}
    total_usd = _number(data, "total_usd", name)
    rate = _number(data, "usd_to_tzs", name)
    return StackCost(
        stack=name,
        region=str(data.get("region", "")),
        usd_to_tzs=rate,
        limit_tzs=_number(data, "limit_tzs", name),
        status=str(data.get("status", "")),
        total_usd=total_usd,
        total_tzs=float(data["total_tzs"]) if "total_tzs" in data else total_usd * rate,
        totals_usd={k: float(v) for k, v in totals.items() if isinstance(v, int | float)},
        resources=resources,
        raw=data,
        overridden=bool(data.get("overridden", False)),
        basis=str(data.get("basis", "")),
    )


def stack_entries(data: Any) -> list[Mapping[str, Any]]:
    """The stacks of a report, whatever its container: one stack, a list, or an object holding them."""
    if isinstance(data, list):
        return data
    if isinstance(data, Mapping):
        if "stack" in data and "resources" in data:
            return [data]
        stacks = data.get("stacks")
        if isinstance(stacks, list):
            return stacks
        if isinstance(stacks, Mapping):
            return list(stacks.values())
        values = list(data.values())
        if values and all(isinstance(v, Mapping) and "stack" in v for v in values):
            return values
    raise ReportError("not a budget check report: expected one stack, a list of stacks or {'stacks': [...]}")


def parse_report(data: Any) -> dict[str, StackCost]:
    """Every stack of a report by name (an empty list is a valid report: no stacks yet)."""
    stacks: dict[str, StackCost] = {}
    for entry in stack_entries(data):
        stack = parse_stack(entry)
        stacks[stack.stack] = stack
    return stacks


def load_report(path: Path) -> dict[str, StackCost]:
    """Read a saved check report; an empty file counts as "no stacks" (the base had no budget yet)."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ReportError(f"cannot read {path}: {exc.strerror}") from exc
    if not text.strip():
        return {}
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ReportError(f"{path} is not JSON: {exc}") from exc
    return parse_report(data)


# ---------------------------------------------------------------------------------------------- diffing


def _line_changes(base: ResourceCost | None, head: ResourceCost | None) -> tuple[LineChange, ...]:
    def keyed(resource: ResourceCost | None) -> dict[tuple[str, int], LineCost]:
        out: dict[tuple[str, int], LineCost] = {}
        for line in resource.lines if resource else ():
            n = sum(1 for name, _ in out if name == line.name)
            out[(line.name, n)] = line
        return out

    old, new = keyed(base), keyed(head)
    changes = []
    for key in list(new) + [k for k in old if k not in new]:
        a, b = old.get(key), new.get(key)
        base_usd = a.monthly_usd if a else 0.0
        head_usd = b.monthly_usd if b else 0.0
        if a and b and abs(head_usd - base_usd) < EPSILON_USD and a.quantity == b.quantity:
            continue
        changes.append(
            LineChange(
                name=key[0],
                unit=(b or a).unit,  # type: ignore[union-attr]
                base_quantity=a.quantity if a else None,
                head_quantity=b.quantity if b else None,
                base_usd=base_usd,
                head_usd=head_usd,
            )
        )
    return tuple(changes)


def diff_stack(name: str, base: StackCost | None, head: StackCost | None) -> StackDiff:
    """Compare one stack; resources are matched by URN and sorted by the size of their change."""
    base_res = base.resources if base else {}
    head_res = head.resources if head else {}
    changes: list[ResourceChange] = []
    for key in list(head_res) + [k for k in base_res if k not in head_res]:
        a, b = base_res.get(key), head_res.get(key)
        base_usd = a.monthly_usd if a else 0.0
        head_usd = b.monthly_usd if b else 0.0
        kind: ChangeKind = "added" if a is None else "removed" if b is None else "changed"
        lines = _line_changes(a, b)
        if kind == "changed" and abs(head_usd - base_usd) < EPSILON_USD and not lines:
            continue
        ref = b or a
        assert ref is not None
        base_tzs = base.tzs(base_usd) if base else 0.0
        head_tzs = head.tzs(head_usd) if head else 0.0
        changes.append(
            ResourceChange(
                key=key,
                type=ref.type,
                name=ref.name,
                tier=ref.tier,
                kind=kind,
                base_usd=base_usd,
                head_usd=head_usd,
                delta_tzs=head_tzs - base_tzs,
                lines=lines,
            )
        )
    changes.sort(key=lambda c: (-abs(c.delta_tzs), c.name))
    return StackDiff(stack=name, base=base, head=head, resources=tuple(changes))


def diff_reports(base: Mapping[str, StackCost], head: Mapping[str, StackCost]) -> CostDiff:
    """Compare two reports stack by stack (stacks only on one side are new or removed)."""
    names = list(head) + [n for n in base if n not in head]
    return CostDiff(stacks=tuple(diff_stack(n, base.get(n), head.get(n)) for n in names))


# ---------------------------------------------------------------------------------------------- output


def format_tzs(value: float, signed: bool = False) -> str:
    """TZS are shown whole, with thousands separators; a sign only where a change is meant."""
    rounded = round(value)
    text = f"{abs(rounded):,}"
    if signed:
        return ("+" if rounded > 0 else "-" if rounded < 0 else "±") + text
    return ("-" if rounded < 0 else "") + text


def format_percent(value: float | None) -> str:
    if value is None:
        return "new"
    return f"{value:+.1f}%"


def to_json(diff: CostDiff) -> dict[str, Any]:
    """The diff as plain data, for tools and for the workflow's later steps."""
    stacks = []
    for s in diff.stacks:
        stacks.append(
            {
                "stack": s.stack,
                "base_tzs": round(s.base_tzs, 2),
                "head_tzs": round(s.head_tzs, 2),
                "change_tzs": round(s.change_tzs, 2),
                "change_percent": None if s.change_percent is None else round(s.change_percent, 2),
                "usage_based_tzs": round(s.usage_tzs, 2),
                "limit_tzs": s.limit_tzs,
                "base_status": s.base_status,
                "status": s.status,
                "overridden": s.overridden,
                "resources": [
                    {
                        "urn": r.key,
                        "type": r.type,
                        "name": r.name,
                        "tier": r.tier,
                        "change": r.kind,
                        "base_usd": round(r.base_usd, 4),
                        "head_usd": round(r.head_usd, 4),
                        "change_usd": round(r.delta_usd, 4),
                        "change_tzs": round(r.delta_tzs, 2),
                        "lines": [
                            {
                                "name": line.name,
                                "unit": line.unit,
                                "base_quantity": line.base_quantity,
                                "head_quantity": line.head_quantity,
                                "base_usd": round(line.base_usd, 4),
                                "head_usd": round(line.head_usd, 4),
                            }
                            for line in r.lines
                        ],
                    }
                    for r in s.resources
                ],
            }
        )
    return {
        "base_tzs": round(diff.base_tzs, 2),
        "head_tzs": round(diff.head_tzs, 2),
        "change_tzs": round(diff.change_tzs, 2),
        "stacks": stacks,
    }


def _table(rows: Iterable[Iterable[str]], header: Iterable[str], right: set[int]) -> list[str]:
    grid = [list(header), *[list(r) for r in rows]]
    widths = [max(len(row[i]) for row in grid) for i in range(len(grid[0]))]

    def fmt(row: list[str]) -> str:
        cells = (
            c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True))
        )
        return "  ".join(cells).rstrip()

    return [fmt(grid[0]), "  ".join("-" * w for w in widths), *(fmt(r) for r in grid[1:])]


def render_table(diff: CostDiff, top: int = 10) -> str:
    """The terminal form: one summary table, then each stack's changed resources."""
    header = ["stack", "baseline TZS", "new TZS", "change TZS", "change", "limit TZS", "status"]
    rows = [
        [
            s.stack,
            format_tzs(s.base_tzs),
            format_tzs(s.head_tzs),
            format_tzs(s.change_tzs, signed=True),
            format_percent(s.change_percent),
            format_tzs(s.limit_tzs) if s.limit_tzs is not None else "-",
            s.status,
        ]
        for s in diff.stacks
    ]
    out = _table(rows, header, right={1, 2, 3, 4, 5})
    for s in diff.stacks:
        if not s.resources:
            continue
        out += ["", f"{s.stack}: changed resources"]
        res_rows = [
            [
                r.kind,
                r.name,
                r.type,
                r.tier,
                f"{r.base_usd:,.2f}",
                f"{r.head_usd:,.2f}",
                format_tzs(r.delta_tzs, True),
            ]
            for r in s.resources[:top]
        ]
        out += _table(
            res_rows, ["change", "resource", "type", "tier", "USD before", "USD after", "TZS"], {4, 5, 6}
        )
        if len(s.resources) > top:
            out.append(f"... and {len(s.resources) - top} more")
    if not diff.changed:
        out += ["", "No cost change."]
    return "\n".join(out) + "\n"
