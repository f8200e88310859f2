"""The data the estimator works on: planned resources in, cost lines out.

A cost line carries a quantity for each of the three fleet sizes (min, desired, max) because the policy
judges the worst month the stack allows (every group at its maximum) while the report also shows the
cheaper ends. Lines that do not depend on fleet size carry the same quantity three times.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from budget.catalog import Price

Size = Literal["min", "desired", "max"]
#: The three fleet sizes every cost is reported at; the policy judges ``max``.
SIZES: tuple[Size, Size, Size] = ("min", "desired", "max")
#: A stack's verdict against its limit.
Status = Literal["ok", "warn", "over"]


@dataclass(frozen=True)
class PlannedResource:
    """One resource the program would register: its type token, name, inputs (camelCase) and links.

    ``id`` is what the mocks returned (or the preview's unknown placeholder); ``property_dependencies``
    maps an input name to the URNs it came from (preview JSON), which ties an auto-scaling group to its
    launch template when the id is not known yet. ``region`` is where AWS bills it (its provider's region,
    :func:`budget.regions.region_of`); None means the stack's region. ``region_error`` says why the region
    cannot be told: a priced type is then unpriced.
    """

    type: str
    name: str
    inputs: Mapping[str, Any]
    urn: str
    tier: str = "untiered"
    id: str | None = None
    custom: bool = True
    parent: str | None = None
    property_dependencies: Mapping[str, list[str]] = field(default_factory=dict)
    region: str | None = None
    region_error: str | None = None


@dataclass(frozen=True)
class Quantity:
    """Monthly quantity at the fleets' minimum, desired and maximum sizes."""

    min: float
    desired: float
    max: float

    @classmethod
    def fixed(cls, value: float) -> Quantity:
        return cls(value, value, value)

    def at(self, size: str) -> float:
        return float(getattr(self, size))

    def scaled(self, factor: float) -> Quantity:
        return Quantity(self.min * factor, self.desired * factor, self.max * factor)

    @property
    def varies(self) -> bool:
        return not (self.min == self.desired == self.max)


@dataclass(frozen=True)
class CostLine:
    """One priced component of a resource: quantity x unit price, with the price's source.

    ``assumption`` states a default AWS applies that the program leaves unset (the AMI's root volume, a
    volume type): the line is priced on it, and every report format says so.
    """

    name: str
    unit: str
    quantity: Quantity
    unit_price_usd: float
    source: str
    usage_based: bool
    estimated: bool
    note: str = ""
    assumption: str = ""

    def monthly(self, size: str = "max") -> float:
        return self.quantity.at(size) * self.unit_price_usd


def line(
    name: str,
    unit: str,
    quantity: float | Quantity,
    price: Price,
    *,
    usage_based: bool = False,
    factor: float = 1.0,
    also: Iterable[Price] = (),
    how: str = "",
    note: str = "",
    estimated: bool = False,
    assumption: str = "",
) -> CostLine:
    """A cost line at ``price.amount x factor``; ``also`` lists further figures the unit price rests on.

    The line counts as estimated when any figure it rests on is RECALLED or ESTIMATE, or when the caller
    says so (a spot price is a market price: any figure for it is an estimate).
    """
    figures = [price, *also]
    source = "; ".join(p.cite() for p in figures)
    if how:
        source = f"{how}: {source}"
    qty = quantity if isinstance(quantity, Quantity) else Quantity.fixed(float(quantity))
    return CostLine(
        name=name,
        unit=unit,
        quantity=qty,
        unit_price_usd=price.amount * factor,
        source=source,
        usage_based=usage_based,
        estimated=estimated or not all(p.confirmed for p in figures),
        note=note,
        assumption=assumption,
    )


@dataclass(frozen=True)
class PricedResource:
    """A resource with its cost lines, or the reason it costs nothing."""

    resource: PlannedResource
    lines: tuple[CostLine, ...]
    free_reason: str | None = None

    def monthly(self, size: str = "max") -> float:
        return sum(item.monthly(size) for item in self.lines)


@dataclass(frozen=True)
class Unpriced:
    """A resource the check could not price: the check fails closed and names it."""

    urn: str
    type: str
    name: str
    reason: str
