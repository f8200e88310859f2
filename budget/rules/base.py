"""What a pricing rule sees: the stack's pricing inputs, the catalog for the resource's region, every planned
resource.

Rules resolve links between resources here (an auto-scaling group to its launch template, a schedule to its
group) by id under mocks and by ``propertyDependencies`` URNs in a preview, where ids are still unknown.
A value a preview cannot show (unknown until deploy, or a secret) is *opaque*: a rule that needs it fails
closed with the input named (:func:`require`, :func:`flag`, :func:`number`), never guesses.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from budget.catalog import Catalog, Price
from budget.model import CostLine, PlannedResource, Quantity, line
from budget.pricing_inputs import PricingInputs
from components.bounded_input import shown as shown_input
from components.tagging import PURCHASE_TAG, PURCHASE_VALUES

#: The placeholder ``pulumi preview --json`` prints for a value not known until deploy.
UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"
#: What ``pulumi preview --json`` prints for a secret input (the parser turns every secret form into it).
SECRET = "[secret]"


def opaque(value: Any) -> bool:
    """Whether a value is one the preview cannot show: unknown until deploy, or a secret."""
    return isinstance(value, str) and value in (UNKNOWN, SECRET)


def why_opaque(value: Any) -> str:
    return "a secret in the preview" if value == SECRET else "unknown until deploy"


def shown(value: Any) -> str:
    """A value as a message shows it: an opaque one by what it is, never its placeholder; any other cut
    short (``components.bounded_input.shown``)."""
    return f"({why_opaque(value)})" if opaque(value) else shown_input(value)


def unreadable(value: Any) -> str:
    """Why an input that should be a mapping cannot be read: opaque in the preview, or another shape."""
    return why_opaque(value) if opaque(value) else f"not a mapping ({type(value).__name__})"


def unreadable_list(value: Any) -> str:
    """Why an input that should be a list cannot be read: opaque in the preview, or another shape."""
    return why_opaque(value) if opaque(value) else f"not a list ({type(value).__name__})"


class RuleError(ValueError):
    """A resource cannot be priced (a required input is missing or has no catalog price)."""


@dataclass(frozen=True)
class PricingOptions:
    """Purchase options for the what-ifs: 1-year no-upfront reservations for the always-on baseline."""

    reserved: bool = False


@dataclass(frozen=True)
class RuleContext:
    """One resource's view: ``region`` is where AWS bills that resource (None: the inputs' region).

    ``inputs`` is all a rule reads of the stack (:class:`~budget.pricing_inputs.PricingInputs`), never the
    whole stack config: the policy pack has none, and fit's cache keys on exactly these values.
    """

    inputs: PricingInputs
    catalog: Catalog
    resources: Sequence[PlannedResource]
    options: PricingOptions = PricingOptions()
    resource_region: str | None = None

    @property
    def region(self) -> str:
        return self.resource_region or self.inputs.region

    def in_region(self, region: str | None) -> RuleContext:
        """The same context for a resource billed in ``region``."""
        return self if region == self.resource_region else replace(self, resource_region=region)

    @property
    def hours(self) -> float:
        return self.catalog.hours_per_month

    def price(self, key: str) -> Price:
        return self.catalog.get(self.region, key)

    def of_type(self, *types: str) -> list[PlannedResource]:
        return [r for r in self.resources if r.type in types]

    def is_first(self, resource: PlannedResource, *types: str) -> bool:
        """Whether ``resource`` is the first of ``types`` in plan order (stack-wide usage attaches there)."""
        same = self.of_type(*types)
        return bool(same) and same[0].urn == resource.urn

    def linked(
        self,
        source: PlannedResource,
        prop: str,
        value: Any,
        types: Iterable[str],
        match: Callable[[PlannedResource, Any], bool] | None = None,
    ) -> PlannedResource | None:
        """The resource of ``types`` that ``source``'s input ``prop`` refers to.

        Known values are matched against the candidates' id (or ``match``); an unknown value (preview)
        is resolved through ``source.property_dependencies[prop]``.
        """
        candidates = self.of_type(*types)
        if value is not None and not opaque(value):
            for cand in candidates:
                if (match or _id_match)(cand, value):
                    return cand
        urns = set(source.property_dependencies.get(prop, ()))
        hits = [c for c in candidates if c.urn in urns]
        return hits[0] if len(hits) == 1 else None


def _id_match(candidate: PlannedResource, value: Any) -> bool:
    return candidate.id is not None and candidate.id == value


def choice(setting: Any, key: str, field: str, allowed: Sequence[str]) -> str | None:
    """``setting[key]`` of an optional mapping input ``field``: one of ``allowed``, or None when either is
    unset. Anything else (opaque in the preview, another shape, another value) fails closed, naming it."""
    if setting is None:
        return None
    if not isinstance(setting, Mapping):
        raise RuleError(f"{field} is {unreadable(setting)}")
    value = setting.get(key)
    if value in (None, ""):
        return None
    if opaque(value):
        raise RuleError(f"{field}.{key} is {why_opaque(value)}")
    if value not in allowed:
        raise RuleError(f"{field}.{key} {value!r} has no rule (known: {', '.join(allowed)})")
    return str(value)


def known(value: Any, what: str) -> Any:
    """``value``, unless the preview cannot show it: then an error naming ``what`` (never a guess)."""
    if opaque(value):
        raise RuleError(f"{what} is {why_opaque(value)}")
    return value


def require(inputs: Mapping[str, Any], key: str, resource: PlannedResource) -> Any:
    """An input the rule cannot price without: missing or unknown is an error naming the input."""
    value = inputs.get(key)
    if value is None:
        raise RuleError(f"input '{key}' is missing or unknown")
    if opaque(value):
        raise RuleError(f"input '{key}' is {why_opaque(value)}")
    return value


def flag(inputs: Mapping[str, Any], key: str, default: bool = False) -> bool:
    """A boolean input; unknown until deploy is an error (guessing either way could under-price)."""
    value = inputs.get(key, default)
    if value is None:
        return default
    if opaque(value):
        raise RuleError(f"input '{key}' is {why_opaque(value)}")
    if isinstance(value, str):
        return value.lower() == "true"
    return bool(value)


def number(value: Any, what: str) -> float:
    """A count or size; unknown until deploy (or secret) is an error naming it, never a guess.

    NaN and infinity ("nan", "inf" parse as floats) are no count: an error too, so no total becomes NaN.
    """
    if opaque(value):
        raise RuleError(f"{what} is {why_opaque(value)}")
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise RuleError(f"{what} is not a number: {value!r}")
    try:
        result = float(value)
    except (ValueError, OverflowError):
        raise RuleError(f"{what} is not a number: {value!r}") from None
    if not math.isfinite(result):
        raise RuleError(f"{what} is not a finite number: {value!r}")
    return result


Rule = Callable[[PlannedResource, RuleContext], list[CostLine]]


#: ``purchase`` tag values the rules price: on demand, or the 1-year no-upfront reservation.
RESERVED_1YR = PURCHASE_VALUES["reserved_1yr"]
PURCHASES = ("on-demand", RESERVED_1YR)


def committed(resource: PlannedResource) -> bool:
    """Whether the resource's ``purchase`` tag records a 1-year reservation (the stack's ``commitment``).

    Tags are a map, or a list of ``{key, value}`` on an auto-scaling group. Tags unknown until deploy
    count as on demand, the higher price; a purchase value the rules have no price for is an error.
    """
    tags = resource.inputs.get("tags")
    if isinstance(tags, list):
        values = [t.get("value") for t in tags if isinstance(t, Mapping) and t.get("key") == PURCHASE_TAG]
        value = values[0] if values else None
    else:
        value = tags.get(PURCHASE_TAG) if isinstance(tags, Mapping) else None
    if value is None or opaque(value):
        return False
    if value not in PURCHASES:
        raise RuleError(f"tag {PURCHASE_TAG}={value!r} has no price (known: {', '.join(PURCHASES)})")
    return value == RESERVED_1YR


def reserved_pricing(resource: PlannedResource, ctx: RuleContext) -> bool:
    """Reserved pricing for the resource's always-on part: its own commitment, or the reserved what-if."""
    return ctx.options.reserved or committed(resource)


def reservable_line(
    ctx: RuleContext,
    name: str,
    unit: str,
    quantity: float | Quantity,
    price: Price,
    discount_key: str,
    *,
    resource: PlannedResource,
) -> CostLine:
    """A line for an always-on instance: on demand, or 1-year no-upfront reserved when the resource's
    ``purchase`` tag records the commitment or the reserved what-if asks."""
    if not reserved_pricing(resource, ctx):
        return line(f"{name}, on-demand", unit, quantity, price)
    discount = ctx.price(discount_key)
    return line(
        f"{name}, reserved 1 yr no upfront",
        unit,
        quantity,
        price,
        factor=1 - discount.amount,
        also=[discount],
        how="on-demand x (1 - RI discount)",
    )
