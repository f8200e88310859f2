"""The cost difference between two budget checks (base branch and head), per stack and per resource.

The inputs are the JSON that ``python -m budget check --format json`` prints, for one stack or many, so
the diff never prices anything itself: it compares two verdicts the check already reached. Money is
compared in USD (what the catalog holds) and shown in TZS at each side's own recorded rate, so a change
of exchange rate between base and head is visible in the TZS change rather than hidden. A head checked
from a ``pulumi preview --json`` document also names what the update deletes (its ``deleted[]``, priced
from the steps' ``oldState``): the diff shows each with what deleting it saves a month.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from budget.exit_codes import ExitCode
from budget.report.formatting import format_percent, format_tzs
from budget.report.model import LineReport, ResourceReport, StackReport
from budget.textgrid import grid

ChangeKind = Literal["added", "removed", "changed"]

#: Changes smaller than this (USD per month) are rounding noise, not a change.
EPSILON_USD = 0.005


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
    base: StackReport | None
    head: StackReport | None
    resources: tuple[ResourceChange, ...]

    @property
    def base_tzs(self) -> float:
        return float(self.base.total_tzs) if self.base else 0.0

    @property
    def head_tzs(self) -> float:
        return float(self.head.total_tzs) if self.head else 0.0

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
        return float(side.limit_tzs) if side else None

    @property
    def status(self) -> str:
        """The head's verdict ("ok", "warn", "over"), or "removed" for a stack the head no longer has."""
        return self.head.status if self.head else "removed"

    @property
    def base_status(self) -> str | None:
        return self.base.status if self.base else None

    @property
    def deleted(self) -> tuple[ResourceReport, ...]:
        """What the head's preview deletes, each priced as it costs now."""
        return self.head.deleted if self.head else ()

    @property
    def deleted_saves_tzs(self) -> float:
        return self.head.tzs(self.head.deleted_usd) if self.head else 0.0

    @property
    def changed(self) -> bool:
        return abs(self.change_tzs) >= 0.5 or bool(self.resources) or bool(self.deleted)

    @property
    def newly_over(self) -> bool:
        return self.status == "over" and self.base_status != "over"

    @property
    def overridden(self) -> bool:
        """Over the limit with the owner's recorded override: reported, but not a policy failure."""
        return bool(self.head and self.head.overridden)

    @property
    def unconfirmed_rate(self) -> str | None:
        """Why the head's exchange rate needs the owner's override (check's own warning), or None.

        A rate far from the catalog's dated one fails the check (exit 1) like going over the limit, even
        when the total looks within it: a tiny rate would otherwise make any stack "fit".
        """
        if self.head is None or self.head.overridden or self.head.exit_code != ExitCode.OVER:
            return None
        return self.head.rate_warning


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


# ---------------------------------------------------------------------------------------------- diffing


def _line_changes(base: ResourceReport | None, head: ResourceReport | None) -> tuple[LineChange, ...]:
    def keyed(resource: ResourceReport | None) -> dict[tuple[str, int], LineReport]:
        out: dict[tuple[str, int], LineReport] = {}
        for line in resource.lines if resource else ():
            n = sum(1 for name, _ in out if name == line.name)
            out[(line.name, n)] = line
        return out

    old, new = keyed(base), keyed(head)
    changes = []
    for key in list(new) + [k for k in old if k not in new]:
        a, b = old.get(key), new.get(key)
        base_usd = float(a.monthly_usd) if a else 0.0
        head_usd = float(b.monthly_usd) if b else 0.0
        if a and b and abs(head_usd - base_usd) < EPSILON_USD and a.quantity == b.quantity:
            continue
        changes.append(
            LineChange(
                name=key[0],
                unit=(b if b is not None else old[key]).unit,
                base_quantity=float(a.quantity) if a else None,
                head_quantity=float(b.quantity) if b else None,
                base_usd=base_usd,
                head_usd=head_usd,
            )
        )
    return tuple(changes)


def diff_stack(name: str, base: StackReport | None, head: StackReport | None) -> StackDiff:
    """Compare one stack; resources are matched by URN and sorted by the size of their change."""
    base_res = {r.key: r for r in base.resources} if base else {}
    head_res = {r.key: r for r in head.resources} if head else {}
    changes: list[ResourceChange] = []
    for key in list(head_res) + [k for k in base_res if k not in head_res]:
        a, b = base_res.get(key), head_res.get(key)
        base_usd = float(a.monthly_usd) if a else 0.0
        head_usd = float(b.monthly_usd) if b else 0.0
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


def diff_reports(base: Mapping[str, StackReport], head: Mapping[str, StackReport]) -> CostDiff:
    """Compare two reports stack by stack (stacks only on one side are new or removed)."""
    names = list(head) + [n for n in base if n not in head]
    return CostDiff(stacks=tuple(diff_stack(n, base.get(n), head.get(n)) for n in names))


# ---------------------------------------------------------------------------------------------- output


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
                "deleted": [
                    {
                        "urn": r.key,
                        "type": r.type,
                        "name": r.name,
                        "tier": r.tier,
                        "region": r.region,
                        "saves_usd": round(r.monthly_usd, 4),
                        "saves_tzs": round(s.head.tzs(r.monthly_usd), 2) if s.head else 0.0,
                    }
                    for r in s.deleted
                ],
                "deleted_saves_tzs": round(s.deleted_saves_tzs, 2),
            }
        )
    return {
        "base_tzs": round(diff.base_tzs, 2),
        "head_tzs": round(diff.head_tzs, 2),
        "change_tzs": round(diff.change_tzs, 2),
        "stacks": stacks,
    }


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
    out = grid(header, rows, right={1, 2, 3, 4, 5})
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
        out += grid(
            ["change", "resource", "type", "tier", "USD before", "USD after", "TZS"], res_rows, {4, 5, 6}
        )
        if len(s.resources) > top:
            out.append(f"... and {len(s.resources) - top} more")
    for s in diff.stacks:
        if not s.deleted or s.head is None:
            continue
        out += ["", f"{s.stack}: deleted by the update, saves TZS {format_tzs(s.deleted_saves_tzs)} a month"]
        out += grid(
            ["resource", "type", "tier", "region", "saves USD", "saves TZS"],
            [
                [
                    r.name,
                    r.type,
                    r.tier,
                    r.region,
                    f"{r.monthly_usd:,.2f}",
                    format_tzs(s.head.tzs(r.monthly_usd)),
                ]
                for r in s.deleted
            ],
            {4, 5},
        )
    if not diff.changed:
        out += ["", "No cost change."]
    return "\n".join(out) + "\n"
