"""The cost report of one check: one typed model that every output format reads.

``python -m budget check --format json`` prints :meth:`CostReport.to_json`; ``diff``, ``comment``, the HTML
report and the guard read it back with :meth:`CostReport.from_json`. The formats never re-parse each
other's output or reach into raw mappings: a concept such as "this line rests on an estimated price" is a
field here, decided once by the check. The JSON schema is documented in ``budget/README.md``;
``to_json(from_json(doc)) == doc`` for every document the check writes (a golden test holds this).

Reports from older versions, or trimmed by hand, are still read: keys that such a document lacks take a
documented default (see each ``from_json``), and the few figures the check always writes but a trimmed
document may miss (TZS totals, the usage-based total) are derived from what it does carry.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from budget.exit_codes import ExitCode
from budget.model import SIZES
from components.bounded_input import DOCUMENT_BYTES, InputError, load_json

#: How every report's warning about the exchange rate begins (``budget.policy`` writes it; the CLI names
#: it on stderr).
RATE_WARNING = "usd_to_tzs"

SCHEMA = "stars-budget/1"
#: Price statuses that make a line "estimated" when a document predates the ``estimated`` flag.
ESTIMATED_STATUSES = ("RECALLED", "ESTIMATE")


class ReportError(ValueError):
    """A document that is not a readable budget report; commands turn it into exit code 2."""


# ------------------------------------------------------------------------------------------ reading helpers


def _number(data: Mapping[str, Any], key: str, where: str) -> float:
    """A required number, kept as the JSON gave it (int or float) so documents round-trip exactly."""
    value = data.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ReportError(f"{where}: '{key}' must be a number, got {value!r}")
    return value


def _count(data: Mapping[str, Any], key: str, where: str) -> int:
    """A whole number the check writes (counts, exit codes); missing counts are 0."""
    value = data.get(key, 0)
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int):
        raise ReportError(f"{where}: '{key}' must be a whole number, got {value!r}")
    return value


def _optional_count(data: Mapping[str, Any], key: str, where: str) -> int | None:
    return _count(data, key, where) if data.get(key) is not None else None


def _optional_number(data: Mapping[str, Any], key: str, where: str) -> float | None:
    return _number(data, key, where) if data.get(key) is not None else None


def _mapping(value: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ReportError(f"{where}: expected an object, got {str(value)[:60]!r}")
    return value


def _list(data: Mapping[str, Any], key: str, where: str) -> list[Any]:
    value = data.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise ReportError(f"{where}: '{key}' must be a list")
    return value


def estimated_from_source(source: str) -> bool:
    """Whether a citation names a RECALLED or ESTIMATE figure (only for documents without the flag)."""
    return any(f"[{s}]" in source or f"({s})" in source for s in ESTIMATED_STATUSES)


# ------------------------------------------------------------------------------------------------- parts


@dataclass(frozen=True)
class SizeFigures:
    """One figure at the fleets' minimum, desired and maximum sizes (USD, or whole TZS)."""

    min: float
    desired: float
    max: float

    def at(self, size: str) -> float:
        return float(getattr(self, size))

    def to_json(self) -> dict[str, float]:
        return {"min": self.min, "desired": self.desired, "max": self.max}

    @classmethod
    def from_json(cls, data: Any, where: str) -> SizeFigures:
        data = _mapping(data, where)
        return cls(*(_number(data, size, where) for size in SIZES))

    @classmethod
    def same(cls, value: float) -> SizeFigures:
        return cls(value, value, value)


@dataclass(frozen=True)
class LineAtSize:
    quantity: float
    monthly_usd: float

    def to_json(self) -> dict[str, float]:
        return {"quantity": self.quantity, "monthly_usd": self.monthly_usd}


@dataclass(frozen=True)
class LineReport:
    """One priced component of a resource: quantity x unit price at max size, with its source.

    ``by_size`` is present when the quantity depends on the fleet size; ``estimated`` is True when the
    unit price rests on a RECALLED or ESTIMATE figure (or on a spot price); ``assumption`` states the AWS
    default the line is priced on when the program leaves a setting unset.
    """

    name: str
    unit: str
    quantity: float
    unit_price_usd: float
    monthly_usd: float
    source: str
    usage_based: bool
    estimated: bool
    by_size: Mapping[str, LineAtSize] | None = None
    note: str | None = None
    assumption: str | None = None

    def monthly_at(self, size: str) -> float:
        return self.by_size[size].monthly_usd if self.by_size else self.monthly_usd

    def to_json(self) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "name": self.name,
            "unit": self.unit,
            "quantity": self.quantity,
            "unit_price_usd": self.unit_price_usd,
            "monthly_usd": self.monthly_usd,
            "source": self.source,
            "usage_based": self.usage_based,
            "estimated": self.estimated,
        }
        if self.by_size is not None:
            doc["by_size"] = {size: self.by_size[size].to_json() for size in SIZES}
        if self.note is not None:
            doc["note"] = self.note
        if self.assumption is not None:
            doc["assumption"] = self.assumption
        return doc

    @classmethod
    def from_json(cls, data: Any, where: str) -> LineReport:
        data = _mapping(data, where)
        source = str(data.get("source", ""))
        by_size: dict[str, LineAtSize] | None = None
        if data.get("by_size") is not None:
            raw = _mapping(data["by_size"], f"{where} by_size")
            by_size = {
                size: LineAtSize(
                    quantity=_number(_mapping(raw.get(size), f"{where} {size}"), "quantity", where),
                    monthly_usd=_number(raw[size], "monthly_usd", where),
                )
                for size in SIZES
            }
        estimated = data.get("estimated")
        return cls(
            name=str(data.get("name", "")),
            unit=str(data.get("unit", "")),
            quantity=data.get("quantity") if isinstance(data.get("quantity"), int | float) else 0.0,
            unit_price_usd=_optional_number(data, "unit_price_usd", where) or 0.0,
            monthly_usd=_number(data, "monthly_usd", where),
            source=source,
            usage_based=bool(data.get("usage_based", False)),
            estimated=bool(estimated) if estimated is not None else estimated_from_source(source),
            by_size=by_size,
            note=str(data["note"]) if data.get("note") is not None else None,
            assumption=str(data["assumption"]) if data.get("assumption") is not None else None,
        )


@dataclass(frozen=True)
class ResourceReport:
    """One planned resource: its monthly cost at each size and its lines, or why it costs nothing.

    ``region`` is where AWS bills it ("" for what no AWS region holds: components, providers, the stack).
    """

    urn: str
    type: str
    name: str
    tier: str
    monthly_usd: float
    monthly_usd_by_size: SizeFigures
    lines: tuple[LineReport, ...]
    free_reason: str | None = None
    region: str = ""

    @property
    def key(self) -> str:
        """How a diff matches this resource between two reports: its URN (type and name if none)."""
        return self.urn or f"{self.type}::{self.name}"

    def to_json(self) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "urn": self.urn,
            "type": self.type,
            "name": self.name,
            "tier": self.tier,
            "region": self.region,
            "monthly_usd": self.monthly_usd,
            "monthly_usd_by_size": self.monthly_usd_by_size.to_json(),
            "lines": [item.to_json() for item in self.lines],
        }
        if self.free_reason is not None:
            doc["free_reason"] = self.free_reason
        return doc

    @classmethod
    def from_json(cls, data: Any, where: str) -> ResourceReport:
        data = _mapping(data, where)
        name = str(data.get("name", ""))
        here = f"{where} {name}"
        monthly = _number(data, "monthly_usd", here)
        by_size = data.get("monthly_usd_by_size")
        return cls(
            urn=str(data.get("urn") or ""),
            type=str(data.get("type", "")),
            name=name,
            tier=str(data.get("tier") or "other"),
            monthly_usd=monthly,
            monthly_usd_by_size=(
                SizeFigures.from_json(by_size, here) if by_size is not None else SizeFigures.same(monthly)
            ),
            lines=tuple(LineReport.from_json(item, here) for item in _list(data, "lines", here)),
            free_reason=str(data["free_reason"]) if data.get("free_reason") is not None else None,
            region=str(data.get("region") or ""),
        )


@dataclass(frozen=True)
class TierReport:
    """The cost of one infrastructure tier (the ``tier`` tag: network, api, database ...)."""

    tier: str
    monthly_usd: float
    monthly_usd_by_size: SizeFigures

    def to_json(self) -> dict[str, Any]:
        return {
            "tier": self.tier,
            "monthly_usd": self.monthly_usd,
            "monthly_usd_by_size": self.monthly_usd_by_size.to_json(),
        }

    @classmethod
    def from_json(cls, data: Any, where: str) -> TierReport:
        data = _mapping(data, where)
        monthly = _number(data, "monthly_usd", where)
        by_size = data.get("monthly_usd_by_size")
        return cls(
            tier=str(data.get("tier", "")),
            monthly_usd=monthly,
            monthly_usd_by_size=(
                SizeFigures.from_json(by_size, where) if by_size is not None else SizeFigures.same(monthly)
            ),
        )


@dataclass(frozen=True)
class Driver:
    """One of the costliest lines at max size, with its share of the total."""

    resource: str
    tier: str
    line: str
    monthly_usd: float
    share: float
    usage_based: bool

    def to_json(self) -> dict[str, Any]:
        return {
            "resource": self.resource,
            "tier": self.tier,
            "line": self.line,
            "monthly_usd": self.monthly_usd,
            "share": self.share,
            "usage_based": self.usage_based,
        }

    @classmethod
    def from_json(cls, data: Any, where: str) -> Driver:
        data = _mapping(data, where)
        return cls(
            resource=str(data.get("resource", "")),
            tier=str(data.get("tier", "")),
            line=str(data.get("line", "")),
            monthly_usd=_number(data, "monthly_usd", where),
            share=_optional_number(data, "share", where) or 0.0,
            usage_based=bool(data.get("usage_based", False)),
        )


@dataclass(frozen=True)
class WhatIfReport:
    """A scenario priced with the same rules on modified inputs, or why it could not be priced."""

    key: str
    title: str
    computable: bool
    total_usd: float = 0.0
    total_tzs: int = 0
    totals: SizeFigures = SizeFigures(0.0, 0.0, 0.0)
    fixed_min_usd: float = 0.0
    fits: bool = False
    estimated_lines: int = 0
    reason: str = ""

    def to_json(self) -> dict[str, Any]:
        if not self.computable:
            return {"key": self.key, "title": self.title, "computable": False, "reason": self.reason}
        return {
            "key": self.key,
            "title": self.title,
            "computable": True,
            "total_usd": self.total_usd,
            "total_tzs": self.total_tzs,
            "totals": self.totals.to_json(),
            "fixed_min_usd": self.fixed_min_usd,
            "fits": self.fits,
            "estimated_lines": self.estimated_lines,
        }

    @classmethod
    def from_json(cls, data: Any, where: str) -> WhatIfReport:
        data = _mapping(data, where)
        key, title = str(data.get("key", "")), str(data.get("title", ""))
        if not data.get("computable"):
            return cls(key, title, False, reason=str(data.get("reason", "")))
        return cls(
            key=key,
            title=title,
            computable=True,
            total_usd=_number(data, "total_usd", where),
            total_tzs=_count(data, "total_tzs", where),
            totals=SizeFigures.from_json(data.get("totals"), where),
            fixed_min_usd=_number(data, "fixed_min_usd", where),
            fits=bool(data.get("fits")),
            estimated_lines=_count(data, "estimated_lines", where),
        )


@dataclass(frozen=True)
class UnpricedReport:
    """A resource the check could not price: it fails closed and names it."""

    urn: str
    type: str
    name: str
    reason: str

    def to_json(self) -> dict[str, str]:
        return {"urn": self.urn, "type": self.type, "name": self.name, "reason": self.reason}

    @classmethod
    def from_json(cls, data: Any, where: str) -> UnpricedReport:
        data = _mapping(data, where)
        return cls(*(str(data.get(k, "")) for k in ("urn", "type", "name", "reason")))


@dataclass(frozen=True)
class OverrideReport:
    """The owner's recorded decision to deploy over the limit."""

    reason: str
    approved_by: str

    def to_json(self) -> dict[str, str]:
        return {"reason": self.reason, "approved_by": self.approved_by}


# ------------------------------------------------------------------------------------------------ stacks


@dataclass(frozen=True)
class StackReport:
    """The verdict on one stack: totals at each size, per tier and resource, drivers, what-ifs."""

    stack: str
    region: str
    usd_to_tzs: float
    limit_tzs: float
    warn_tzs: float | None
    status: str
    total_usd: float
    total_tzs: float
    totals: SizeFigures
    resources: tuple[ResourceReport, ...]
    phase: str = ""
    usd_to_tzs_date: str = ""
    usd_to_tzs_source: str = ""
    basis: str = ""
    exit_code: int = ExitCode.OK
    override: OverrideReport | None = None
    overridden: bool = False
    #: Whole TZS at each size; None when a trimmed document lacks them (see :attr:`tzs_by_size`).
    totals_tzs: SizeFigures | None = None
    #: None when a trimmed document lacks it (see :attr:`usage_usd`).
    usage_based_usd: float | None = None
    lines: int = 0
    estimated_lines: int = 0
    usage_based_lines: int = 0
    free_resources: int = 0
    tiers: tuple[TierReport, ...] = ()
    top_drivers: tuple[Driver, ...] = ()
    what_ifs: tuple[WhatIfReport, ...] = ()
    cannot_fit: tuple[str, ...] = ()
    unpriced: tuple[UnpricedReport, ...] = ()
    catalog: str = ""
    schema: str = SCHEMA
    #: One-line statements every format prints (e.g. the preview's region differs from the stack file's).
    warnings: tuple[str, ...] = ()
    #: Why the exchange rate needs an override (also one of ``warnings``), None when it is near the
    #: catalog's: readers take it from here, never by searching the warnings.
    rate_warning: str | None = None
    #: The phase's concurrent users (``stars:demand``; None without one) and the figure the project steers
    #: by: TZS a month per 1,000 of them, at max size.
    users: int | None = None
    tzs_per_1000_users: int | None = None
    #: Resources the update deletes (a preview's ``delete`` steps), priced as they cost now: the saving.
    deleted: tuple[ResourceReport, ...] = ()

    def tzs(self, usd: float) -> float:
        return usd * self.usd_to_tzs

    @property
    def usage_usd(self) -> float:
        """The part of the max-size total that rests on usage assumptions (transfer, requests, LCUs...)."""
        if self.usage_based_usd is not None:
            return float(self.usage_based_usd)
        return sum(item.monthly_usd for r in self.resources for item in r.lines if item.usage_based)

    @property
    def deleted_usd(self) -> float:
        """What the deletions save a month at max size (USD)."""
        return sum(r.monthly_usd for r in self.deleted)

    @property
    def assumed(self) -> list[tuple[ResourceReport, LineReport]]:
        """Every line priced on an AWS default the program leaves unset, with its resource."""
        return [(r, item) for r in self.resources for item in r.lines if item.assumption]

    @property
    def tzs_by_size(self) -> SizeFigures:
        """min / desired / max in TZS: the check's own whole figures, or converted at the stack's rate."""
        if self.totals_tzs is not None:
            return self.totals_tzs
        return SizeFigures(*(self.totals.at(size) * self.usd_to_tzs for size in SIZES))

    def to_json(self) -> dict[str, Any]:
        return {
            "schema": self.schema,
            "stack": self.stack,
            "phase": self.phase,
            "region": self.region,
            "usd_to_tzs": self.usd_to_tzs,
            "usd_to_tzs_date": self.usd_to_tzs_date,
            "usd_to_tzs_source": self.usd_to_tzs_source,
            "limit_tzs": self.limit_tzs,
            "warn_tzs": self.warn_tzs,
            "basis": self.basis,
            "status": self.status,
            "exit_code": int(self.exit_code),
            "override": self.override.to_json() if self.override else None,
            "overridden": self.overridden,
            "total_usd": self.total_usd,
            "total_tzs": self.total_tzs,
            "users": self.users,
            "tzs_per_1000_users": self.tzs_per_1000_users,
            "totals": self.totals.to_json(),
            "totals_tzs": self.tzs_by_size.to_json(),
            "usage_based_usd": self.usage_usd,
            "lines": self.lines,
            "estimated_lines": self.estimated_lines,
            "usage_based_lines": self.usage_based_lines,
            "free_resources": self.free_resources,
            "tiers": [t.to_json() for t in self.tiers],
            "top_drivers": [d.to_json() for d in self.top_drivers],
            "what_ifs": [w.to_json() for w in self.what_ifs],
            "cannot_fit": list(self.cannot_fit),
            "unpriced": [u.to_json() for u in self.unpriced],
            "warnings": list(self.warnings),
            "rate_warning": self.rate_warning,
            "catalog": self.catalog,
            "resources": [r.to_json() for r in self.resources],
            "deleted": [r.to_json() for r in self.deleted],
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> StackReport:
        name = str(data["stack"])
        total_usd = _number(data, "total_usd", name)
        rate = _number(data, "usd_to_tzs", name)
        override = data.get("override")
        totals = data.get("totals")
        warnings = tuple(str(w) for w in _list(data, "warnings", name))
        return cls(
            schema=str(data.get("schema", SCHEMA)),
            stack=name,
            phase=str(data.get("phase", "")),
            region=str(data.get("region", "")),
            usd_to_tzs=rate,
            usd_to_tzs_date=str(data.get("usd_to_tzs_date", "")),
            usd_to_tzs_source=str(data.get("usd_to_tzs_source", "")),
            limit_tzs=_number(data, "limit_tzs", name),
            warn_tzs=_optional_number(data, "warn_tzs", name),
            basis=str(data.get("basis", "")),
            status=str(data.get("status", "")),
            exit_code=_count(data, "exit_code", name),
            override=(
                OverrideReport(str(override.get("reason", "")), str(override.get("approved_by", "")))
                if isinstance(override, Mapping)
                else None
            ),
            overridden=bool(data.get("overridden", False)),
            total_usd=total_usd,
            total_tzs=_number(data, "total_tzs", name) if "total_tzs" in data else total_usd * rate,
            totals=(
                SizeFigures.from_json(totals, f"{name} totals")
                if totals is not None
                else SizeFigures.same(total_usd)
            ),
            totals_tzs=(
                SizeFigures.from_json(data["totals_tzs"], f"{name} totals_tzs")
                if data.get("totals_tzs") is not None
                else None
            ),
            usage_based_usd=_optional_number(data, "usage_based_usd", name),
            lines=_count(data, "lines", name),
            estimated_lines=_count(data, "estimated_lines", name),
            usage_based_lines=_count(data, "usage_based_lines", name),
            free_resources=_count(data, "free_resources", name),
            tiers=tuple(TierReport.from_json(t, f"{name} tiers") for t in _list(data, "tiers", name)),
            top_drivers=tuple(
                Driver.from_json(d, f"{name} top_drivers") for d in _list(data, "top_drivers", name)
            ),
            what_ifs=tuple(
                WhatIfReport.from_json(w, f"{name} what_ifs") for w in _list(data, "what_ifs", name)
            ),
            cannot_fit=tuple(str(s) for s in _list(data, "cannot_fit", name)),
            unpriced=tuple(
                UnpricedReport.from_json(u, f"{name} unpriced") for u in _list(data, "unpriced", name)
            ),
            catalog=str(data.get("catalog", "")),
            resources=tuple(ResourceReport.from_json(r, name) for r in _list(data, "resources", name)),
            warnings=warnings,
            rate_warning=_rate_warning(data, warnings, name),
            users=_optional_count(data, "users", name),
            tzs_per_1000_users=_optional_count(data, "tzs_per_1000_users", name),
            deleted=tuple(
                ResourceReport.from_json(r, f"{name} deleted") for r in _list(data, "deleted", name)
            ),
        )


def _rate_warning(data: Mapping[str, Any], warnings: tuple[str, ...], name: str) -> str | None:
    """The document's ``rate_warning``; a report written before that field existed states it only among
    its warnings, by the prefix check gives it (read here once, at the boundary)."""
    if "rate_warning" in data:
        value = data["rate_warning"]
        if value is not None and not isinstance(value, str):
            raise ReportError(f"{name}: rate_warning must be a string or null")
        return value
    return next((w for w in warnings if w.startswith(RATE_WARNING)), None)


@dataclass(frozen=True)
class StackError:
    """A stack that could not be checked at all (bad config, bad preview file): exit code 2."""

    stack: str
    error: str
    schema: str = SCHEMA
    status: str = "error"
    exit_code: int = ExitCode.INVALID

    def to_json(self) -> dict[str, Any]:
        return {
            "schema": self.schema,
            "stack": self.stack,
            "status": self.status,
            "exit_code": int(self.exit_code),
            "error": self.error,
        }


StackResult = StackReport | StackError


def stack_from_json(data: Any) -> StackResult:
    """One stack of a report: its verdict, or the error the check recorded for it."""
    if not isinstance(data, Mapping) or "stack" not in data:
        raise ReportError(f"not a stack of a budget check report: {str(data)[:80]!r}")
    if data.get("status") == "error":
        return StackError(
            stack=str(data["stack"]),
            error=str(data.get("error", "unknown error")),
            schema=str(data.get("schema", SCHEMA)),
        )
    return StackReport.from_json(data)


def _stack_entries(data: Any) -> list[Any]:
    """The stacks of a document, whatever its container: one stack, a list, or an object holding them."""
    if isinstance(data, list):
        return data
    if isinstance(data, Mapping):
        if "stack" in data and ("resources" in data or data.get("status") == "error"):
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


@dataclass(frozen=True)
class CostReport:
    """What one run of the check produced: one result per stack, in the order they were checked.

    ``single`` reports print as the stack's own object (``check --stack``); others as
    ``{"stacks": [...]}`` (``check --all``, the shape ``diff`` and ``report`` read).
    """

    stacks: tuple[StackResult, ...]
    single: bool = False

    @property
    def exit_code(self) -> int:
        """The highest code of any stack (0 when there are none)."""
        return max((int(s.exit_code) for s in self.stacks), default=int(ExitCode.OK))

    def to_json(self) -> dict[str, Any]:
        if self.single and len(self.stacks) == 1:
            return self.stacks[0].to_json()
        return {"stacks": [s.to_json() for s in self.stacks]}

    def dumps(self) -> str:
        """The JSON text ``check --format json`` prints."""
        return json.dumps(self.to_json(), indent=1, ensure_ascii=False) + "\n"

    def verdicts(self) -> dict[str, StackReport]:
        """The checked stacks by name; a stack the check could not price makes the report unusable."""
        out: dict[str, StackReport] = {}
        for s in self.stacks:
            if isinstance(s, StackError):
                raise ReportError(f"{s.stack}: the check could not price this stack: {s.error}")
            out[s.stack] = s
        return out

    @classmethod
    def from_json(cls, data: Any) -> CostReport:
        single = isinstance(data, Mapping) and "stack" in data
        return cls(tuple(stack_from_json(entry) for entry in _stack_entries(data)), single=single)

    @classmethod
    def loads(cls, text: str, where: str = "the report") -> CostReport:
        try:
            data = load_json(text, DOCUMENT_BYTES)
        except InputError as exc:
            raise ReportError(f"{where}: {exc}") from None
        return cls.from_json(data)


def load_report(path: Path) -> dict[str, StackReport]:
    """A saved check report's verdicts by stack; an empty file means "no stacks" (a base without budget)."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ReportError(f"cannot read {path}: {exc.strerror}") from exc
    if not text.strip():
        return {}
    return CostReport.loads(text, str(path)).verdicts()


def parse_report(data: Any) -> dict[str, StackReport]:
    """Every stack of a report document by name (an empty list is a valid report: no stacks yet)."""
    return CostReport.from_json(data).verdicts()
