"""The cost report of one check: one typed model that every output format reads.

``python -m budget check --format json`` prints :meth:`CostReport.to_json`; ``diff``, ``comment``, the HTML
report and the guard read it back with :meth:`CostReport.from_json`. The formats never re-parse each
other's output or reach into raw mappings: a concept such as "this line rests on an estimated price" is a
field here, decided once by the check. The JSON schema is documented in ``budget/README.md``;
``to_json(from_json(doc)) == doc`` byte for byte for every document the check writes (a golden test holds
this). Each field is declared once: pydantic reads and writes it, in the order declared.

Reports from older versions, or trimmed by hand, are still read: a key such a document lacks (or writes as
``null``) takes its field's default, and the few figures the check always writes but a trimmed document may
miss (TZS totals, the usage-based total, the per-size totals) are derived from what it does carry. A
document that is not a report is refused with a one-line :class:`ReportError`, never a traceback.
"""

from __future__ import annotations

import json
import math
import types
from collections.abc import Mapping
from contextlib import suppress
from pathlib import Path
from typing import Annotated, Any, Literal, Self, TypeVar, Union, get_args, get_origin

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    StrictInt,
    ValidationError,
    field_serializer,
    model_serializer,
    model_validator,
)

from budget.exit_codes import ExitCode
from budget.model import SIZES
from components.bounded_input import DOCUMENT_BYTES, InputError, load_json

#: How every report's warning about the exchange rate begins (``budget.verdict`` writes it; the CLI names
#: it on stderr).
RATE_WARNING = "usd_to_tzs"

SCHEMA = "stars-budget/1"
#: Price statuses that make a line "estimated" when a document predates the ``estimated`` flag.
ESTIMATED_STATUSES = ("RECALLED", "ESTIMATE")


class ReportError(ValueError):
    """A document that is not a readable budget report; commands turn it into exit code 2."""


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _number(value: Any) -> Any:
    """A number stays the int or float the JSON gave, so documents round-trip byte for byte; a bool is no
    number (pydantic would take True for 1), and a figure no float holds (NaN, an int past 1e308) is
    refused here rather than compared as never over the limit or crashing a format later."""
    if not _is_number(value):
        raise ValueError(f"must be a number, got {str(value)[:60]!r}")
    try:
        finite = math.isfinite(value)
    except OverflowError:
        finite = False
    if not finite:
        raise ValueError(f"must be a finite number, got {str(value)[:60]!r}")
    return value


#: Money, rates and quantities: int or float exactly as written.
Number = Annotated[int | float, BeforeValidator(_number)]
#: Counts and exit codes: whole numbers only (no bool, no 2.0, no "2").
Count = StrictInt


def _is_none(value: Any) -> bool:
    return value is None


def _omitted_when_none() -> Any:
    """A key the check writes only when it has a value (the JSON never holds it as null)."""
    return Field(default=None, exclude_if=_is_none)


def _admits_none(annotation: Any) -> bool:
    return annotation is None or (
        get_origin(annotation) in (Union, types.UnionType) and type(None) in get_args(annotation)
    )


def estimated_from_source(source: str) -> bool:
    """Whether a citation names a RECALLED or ESTIMATE figure (only for documents without the flag)."""
    return any(f"[{s}]" in source or f"({s})" in source for s in ESTIMATED_STATUSES)


class _Model(BaseModel):
    """Frozen; unknown keys of a newer document are ignored; a missing key, or a null where the field takes
    no null, takes the field's default (older and hand-trimmed reports)."""

    model_config = ConfigDict(frozen=True, extra="ignore", populate_by_name=True)

    @model_validator(mode="before")
    @classmethod
    def _read(cls, data: Any) -> Any:
        """Nulls dropped where the field takes none, then the class's derived figures filled in."""
        if not isinstance(data, Mapping):
            return data  # a value pydantic refuses by its type
        required = _takes_no_null(cls)
        return cls._derived({k: v for k, v in data.items() if v is not None or k not in required})

    @classmethod
    def _derived(cls, data: dict[str, Any]) -> dict[str, Any]:
        """The figures a trimmed document may lack, from those it carries (none by default)."""
        return data

    def to_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True)


M = TypeVar("M", bound=_Model)
_NO_NULL: dict[type[_Model], frozenset[str]] = {}


def _takes_no_null(model: type[_Model]) -> frozenset[str]:
    """The keys of ``model`` whose field takes no null: a null there means "missing" (looked up once)."""
    if model not in _NO_NULL:
        fields = model.model_fields.items()
        _NO_NULL[model] = frozenset(f.alias or k for k, f in fields if not _admits_none(f.annotation))
    return _NO_NULL[model]


def _validate(model: type[M], data: Any, name: str) -> M:
    """``model`` read from ``data``; a refusal is one line naming the stack and the key."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "the document"
        msg = first["msg"].removeprefix("Value error, ")
        raise ReportError(f"{_one_line(name)[:60]}: {where}: {msg}") from None


def _one_line(text: str) -> str:
    """A document's text (a stack's name, its recorded error) inside a message that must stay one line."""
    return " ".join(text.split())


def _same_sizes(data: dict[str, Any], key: str, total: str) -> None:
    """A trimmed document without per-size figures: the one total stands for every size."""
    if key not in data and _is_number(data.get(total)):
        data[key] = {size: data[total] for size in SIZES}


# ------------------------------------------------------------------------------------------------- parts


class SizeFigures(_Model):
    """One figure at the fleets' minimum, desired and maximum sizes (USD, or whole TZS)."""

    min: Number
    desired: Number
    max: Number

    def at(self, size: str) -> float:
        return float(getattr(self, size))

    @classmethod
    def same(cls, value: float) -> Self:
        return cls(min=value, desired=value, max=value)


class LineAtSize(_Model):
    quantity: Number
    monthly_usd: Number


class LinesAtSizes(_Model):
    """A line's quantity and cost at each size, when the quantity depends on the fleet size."""

    min: LineAtSize
    desired: LineAtSize
    max: LineAtSize

    def at(self, size: str) -> LineAtSize:
        line: LineAtSize = getattr(self, size)
        return line


class LineReport(_Model):
    """One priced component of a resource: quantity x unit price at max size, with its source.

    ``by_size`` is present when the quantity depends on the fleet size; ``estimated`` is True when the
    unit price rests on a RECALLED or ESTIMATE figure (or on a spot price); ``assumption`` states the AWS
    default the line is priced on when the program leaves a setting unset.
    """

    name: str = ""
    unit: str = ""
    quantity: Number = 0.0
    unit_price_usd: Number = 0.0
    monthly_usd: Number
    source: str = ""
    usage_based: bool = False
    #: A document written before the flag existed: the citation's status decides (see ``_derived``).
    estimated: bool = False
    by_size: LinesAtSizes | None = _omitted_when_none()
    note: str | None = _omitted_when_none()
    assumption: str | None = _omitted_when_none()

    @classmethod
    def _derived(cls, data: dict[str, Any]) -> dict[str, Any]:
        if "estimated" not in data and isinstance(data.get("source", ""), str):
            data["estimated"] = estimated_from_source(data.get("source", ""))
        return data

    def monthly_at(self, size: str) -> float:
        return self.by_size.at(size).monthly_usd if self.by_size else self.monthly_usd


class ResourceReport(_Model):
    """One planned resource: its monthly cost at each size and its lines, or why it costs nothing.

    ``region`` is where AWS bills it ("" for what no AWS region holds: components, providers, the stack).
    """

    urn: str = ""
    type: str = ""
    name: str = ""
    tier: str = "other"
    region: str = ""
    monthly_usd: Number
    monthly_usd_by_size: SizeFigures
    lines: tuple[LineReport, ...] = ()
    free_reason: str | None = _omitted_when_none()

    @classmethod
    def _derived(cls, data: dict[str, Any]) -> dict[str, Any]:
        if data.get("tier") == "":
            del data["tier"]  # an untagged resource is "other", as the check files it
        _same_sizes(data, "monthly_usd_by_size", "monthly_usd")
        return data

    @property
    def key(self) -> str:
        """How a diff matches this resource between two reports: its URN (type and name if none)."""
        return self.urn or f"{self.type}::{self.name}"


class TierReport(_Model):
    """The cost of one infrastructure tier (the ``tier`` tag: network, api, database ...)."""

    tier: str = ""
    monthly_usd: Number
    monthly_usd_by_size: SizeFigures

    @classmethod
    def _derived(cls, data: dict[str, Any]) -> dict[str, Any]:
        _same_sizes(data, "monthly_usd_by_size", "monthly_usd")
        return data


class Driver(_Model):
    """One of the costliest lines at max size, with its share of the total."""

    resource: str = ""
    tier: str = ""
    line: str = ""
    monthly_usd: Number
    share: Number = 0.0
    usage_based: bool = False


#: The keys a what-if the check could not price writes (the figures mean nothing for it).
_NOT_COMPUTABLE_KEYS = ("key", "title", "computable", "reason")


class WhatIfReport(_Model):
    """A scenario priced with the same rules on modified inputs, or why it could not be priced."""

    key: str = ""
    title: str = ""
    computable: bool = False
    total_usd: Number = 0.0
    total_tzs: Count = 0
    totals: SizeFigures = SizeFigures.same(0.0)
    fixed_min_usd: Number = 0.0
    fits: bool = False
    estimated_lines: Count = 0
    reason: str = ""

    @classmethod
    def _derived(cls, data: dict[str, Any]) -> dict[str, Any]:
        """A priced what-if must carry its figures; one that could not be priced carries only its reason."""
        if not data.get("computable"):
            return {k: data[k] for k in _NOT_COMPUTABLE_KEYS if k in data}
        missing = [k for k in ("total_usd", "totals", "fixed_min_usd") if k not in data]
        if missing:
            raise ValueError(f"a computable what-if needs '{missing[0]}'")
        return data

    @model_serializer(mode="wrap")
    def _written(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        doc: dict[str, Any] = handler(self)
        if not self.computable:
            return {k: doc[k] for k in _NOT_COMPUTABLE_KEYS}
        del doc["reason"]
        return doc


class UnpricedReport(_Model):
    """A resource the check could not price: it fails closed and names it."""

    urn: str = ""
    type: str = ""
    name: str = ""
    reason: str = ""


class OverrideReport(_Model):
    """The owner's recorded decision to deploy over the limit."""

    reason: str = ""
    approved_by: str = ""


# ------------------------------------------------------------------------------------------------ stacks


class StackReport(_Model):
    """The verdict on one stack: totals at each size, per tier and resource, drivers, what-ifs."""

    schema_: str = Field(default=SCHEMA, alias="schema")
    stack: str
    phase: str = ""
    region: str = ""
    usd_to_tzs: Number
    usd_to_tzs_date: str = ""
    usd_to_tzs_source: str = ""
    limit_tzs: Number
    warn_tzs: Number | None = None
    basis: str = ""
    status: str = ""
    exit_code: Count = ExitCode.OK
    override: OverrideReport | None = None
    overridden: bool = False
    total_usd: Number
    total_tzs: Number
    #: The phase's concurrent users (``stars:demand``; None without one) and the figure the project steers
    #: by: TZS a month per 1,000 of them, at max size.
    users: Count | None = None
    tzs_per_1000_users: Count | None = None
    totals: SizeFigures
    #: Whole TZS at each size; None when a trimmed document lacks them (see :attr:`tzs_by_size`).
    totals_tzs: SizeFigures | None = None
    #: None when a trimmed document lacks it (see :attr:`usage_usd`).
    usage_based_usd: Number | None = None
    lines: Count = 0
    estimated_lines: Count = 0
    usage_based_lines: Count = 0
    free_resources: Count = 0
    tiers: tuple[TierReport, ...] = ()
    top_drivers: tuple[Driver, ...] = ()
    what_ifs: tuple[WhatIfReport, ...] = ()
    cannot_fit: tuple[str, ...] = ()
    unpriced: tuple[UnpricedReport, ...] = ()
    #: One-line statements every format prints (e.g. the preview's region differs from the stack file's).
    warnings: tuple[str, ...] = ()
    #: Why the exchange rate needs an override (also one of ``warnings``), None when it is near the
    #: catalog's: readers take it from here, never by searching the warnings.
    rate_warning: str | None = None
    catalog: str = ""
    resources: tuple[ResourceReport, ...] = ()
    #: Resources the update deletes (a preview's ``delete`` steps), priced as they cost now: the saving.
    deleted: tuple[ResourceReport, ...] = ()

    @classmethod
    def _derived(cls, data: dict[str, Any]) -> dict[str, Any]:
        """A trimmed document's TZS total and per-size totals from its USD total, its rate warning from
        its warnings."""
        usd, rate = data.get("total_usd"), data.get("usd_to_tzs")
        if "total_tzs" not in data and isinstance(usd, int | float) and isinstance(rate, int | float):
            with suppress(OverflowError):  # a hostile figure: total_tzs stays missing, refused as such
                data["total_tzs"] = usd * rate
        _same_sizes(data, "totals", "total_usd")
        if "rate_warning" not in data:
            # a report written before the field existed states it only among its warnings, by the prefix
            # the check gives it (read here once, at the boundary)
            warnings = data.get("warnings")
            if isinstance(warnings, list | tuple):
                found = (w for w in warnings if isinstance(w, str) and w.startswith(RATE_WARNING))
                data["rate_warning"] = next(found, None)
        return data

    @field_serializer("totals_tzs")
    def _totals_tzs(self, _: SizeFigures | None) -> SizeFigures:
        """Always written: the check's whole figures, or a trimmed document's converted at its rate."""
        return self.tzs_by_size

    @field_serializer("usage_based_usd")
    def _usage_based_usd(self, _: float | None) -> float:
        """Always written: the check's figure, or a trimmed document's summed from its usage lines."""
        return self.usage_usd

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
        return SizeFigures.model_validate({size: self.totals.at(size) * self.usd_to_tzs for size in SIZES})


class StackError(_Model):
    """A stack that could not be checked at all (bad config, bad preview file): exit code 2."""

    schema_: str = Field(default=SCHEMA, alias="schema")
    stack: str
    status: Literal["error"] = "error"
    #: Always 2, whatever a document says: a stack the check could not price never passes.
    exit_code: Literal[ExitCode.INVALID] = ExitCode.INVALID
    error: str = "unknown error"

    @classmethod
    def _derived(cls, data: dict[str, Any]) -> dict[str, Any]:
        data.pop("exit_code", None)
        return data


StackResult = StackReport | StackError


def stack_from_json(data: Any) -> StackResult:
    """One stack of a report: its verdict, or the error the check recorded for it."""
    if not isinstance(data, Mapping) or "stack" not in data:
        raise ReportError(f"not a stack of a budget check report: {str(data)[:80]!r}")
    model: type[StackReport] | type[StackError] = StackError if data.get("status") == "error" else StackReport
    return _validate(model, data, str(data["stack"]))


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


class CostReport(_Model):
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
                raise ReportError(_one_line(f"{s.stack}: the check could not price this stack: {s.error}"))
            out[s.stack] = s
        return out

    @classmethod
    def from_json(cls, data: Any) -> CostReport:
        single = isinstance(data, Mapping) and "stack" in data
        return cls(stacks=tuple(stack_from_json(entry) for entry in _stack_entries(data)), single=single)

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
