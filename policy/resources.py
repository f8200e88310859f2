"""What a CrossGuard stack validation sees, as the budget and the security baseline read it.

The engine hands a stack policy every resource with its properties (outputs, which include the inputs),
its provider (type, name and inputs such as ``region``), its parent and, per input, the resources the value
came from (``property_dependencies``). During a preview, values not known until deploy are sentinel
strings. This module turns that into the two views the checks already understand, so neither is written
twice:

- :func:`planned_resources`: the budget's :class:`~budget.model.PlannedResource` list, through the same
  parser as ``python -m budget check --preview-json`` (tiers, links, unknowns: one conversion);
- :func:`recorded_resources`: the baseline's :class:`~components.planning.mocks.RecordedResource` list, with
  links to resources not created yet stood in by those resources' ids, and every other unknown value
  raising :class:`~pulumi_policy.proxy.UnknownValueError` when read, as the SDK's own proxy does.

A top-level property that is unknown and depends on no resource is one the provider computes and the program
did not set: both views read it as absent, as ``newState.inputs`` in a preview document would.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, TypeGuard

from pulumi_policy import PolicyResource
from pulumi_policy.deserialize import serialize_properties
from pulumi_policy.proxy import (
    UNKNOWN_ARCHIVE_VALUE,
    UNKNOWN_ARRAY_VALUE,
    UNKNOWN_ASSET_VALUE,
    UNKNOWN_BOOLEAN_VALUE,
    UNKNOWN_NUMBER_VALUE,
    UNKNOWN_OBJECT_VALUE,
    UNKNOWN_STRING_VALUE,
    UnknownValueError,
)

from budget.model import PlannedResource
from budget.plan import tier_of
from budget.preview import parse_preview
from budget.regions import ProviderView, RegionError, region_of
from budget.rules.base import UNKNOWN
from components.planning.mocks import RecordedResource

#: Every sentinel the engine uses for a value not known until deploy, one per kind of value.
UNKNOWNS = frozenset(
    {
        UNKNOWN_STRING_VALUE,
        UNKNOWN_BOOLEAN_VALUE,
        UNKNOWN_NUMBER_VALUE,
        UNKNOWN_ARRAY_VALUE,
        UNKNOWN_OBJECT_VALUE,
        UNKNOWN_ASSET_VALUE,
        UNKNOWN_ARCHIVE_VALUE,
    }
)
STACK_TYPE = "pulumi:pulumi:Stack"


def is_unknown(value: Any) -> TypeGuard[str]:
    return isinstance(value, str) and value in UNKNOWNS


@dataclass(frozen=True)
class StackResource:
    """One resource as the engine reported it, as plain data (no SDK proxies)."""

    type: str
    name: str
    urn: str
    #: Properties with the engine's unknown sentinels left in place.
    props: Mapping[str, Any]
    custom: bool
    parent: str | None = None
    provider_type: str | None = None
    provider_name: str | None = None
    provider_props: Mapping[str, Any] | None = None
    property_dependencies: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def is_provider(self) -> bool:
        return self.type.startswith("pulumi:providers:")

    @property
    def known_id(self) -> str | None:
        """The cloud id, when the engine knows it (an existing resource, or after the update)."""
        value = self.props.get("id")
        return value if isinstance(value, str) and value and not is_unknown(value) else None

    def deps(self, prop: str) -> tuple[str, ...]:
        return tuple(self.property_dependencies.get(prop, ()))

    def program_inputs(self) -> dict[str, Any]:
        """The properties without those the provider computes (unknown, and from no other resource)."""
        return {k: v for k, v in self.props.items() if not (is_unknown(v) and not self.deps(k))}


def from_policy_resources(resources: Sequence[PolicyResource]) -> list[StackResource]:
    """The engine's resources (``StackValidationArgs.resources``) as :class:`StackResource` values.

    A resource with a provider is a custom resource; component resources and the stack have none.
    """
    out = []
    for r in resources:
        provider = r.provider
        out.append(
            StackResource(
                type=r.resource_type,
                name=r.name,
                urn=r.urn,
                props=dict(serialize_properties(r.props)),
                custom=provider is not None or r.resource_type.startswith("pulumi:providers:"),
                parent=r.parent.urn if r.parent is not None else r.opts.parent if r.opts else None,
                provider_type=provider.resource_type if provider else None,
                provider_name=provider.name if provider else None,
                provider_props=dict(serialize_properties(provider.props)) if provider else None,
                property_dependencies={
                    k: tuple(d.urn for d in v) for k, v in (r.property_dependencies or {}).items()
                },
            )
        )
    return out


def stack_name(resources: Sequence[StackResource]) -> str:
    """The stack's name, from a URN (``urn:pulumi:<stack>::<project>::...``)."""
    for r in resources:
        if r.urn.startswith("urn:pulumi:") and "::" in r.urn:
            return r.urn.removeprefix("urn:pulumi:").split("::", 1)[0]
    return ""


def billing_region(resource: StackResource) -> str:
    """:func:`budget.regions.region_of` for a resource as the engine reports it: its own ``region`` input
    (a computed, unknown ``region`` output is not one), else its provider's ``region`` input."""
    provider = ProviderView(resource.provider_type, resource.provider_name, resource.provider_props)
    return region_of(resource.program_inputs().get("region"), provider, unknown=is_unknown)


# -- the budget's view ----------------------------------------------------------------------------------


def replace_unknowns(value: Any, by: str) -> Any:
    """``value`` with every unknown in it, of any kind and at any depth, replaced by ``by``."""
    if is_unknown(value):
        return by
    if isinstance(value, Mapping):
        return {k: replace_unknowns(v, by) for k, v in value.items()}
    if isinstance(value, list):
        return [replace_unknowns(v, by) for v in value]
    return value


def preview_document(resources: Sequence[StackResource]) -> dict[str, Any]:
    """The resources as a ``pulumi preview --json`` document (one step each), the budget's preview input."""
    steps = []
    for r in resources:
        state = {
            "urn": r.urn,
            "type": r.type,
            "custom": r.custom,
            "id": r.known_id,
            "parent": r.parent,
            # Every kind of unknown as the one placeholder the rules know: an unknown boolean read as
            # a plain string would count as false and under-price.
            "inputs": replace_unknowns(r.program_inputs(), UNKNOWN),
            "propertyDependencies": {k: list(v) for k, v in r.property_dependencies.items()},
        }
        steps.append({"op": "same", "urn": r.urn, "newState": state})
    return {"steps": steps}


def planned_resources(resources: Sequence[StackResource]) -> list[PlannedResource]:
    """What the budget prices: the same parser as ``budget check --preview-json``, so one conversion, each
    resource with the region :func:`billing_region` gives it (or why it has none)."""
    regions: dict[str, tuple[str | None, str | None]] = {}
    for r in resources:
        try:
            regions[r.urn] = (billing_region(r), None)
        except RegionError as exc:
            regions[r.urn] = (None, str(exc))
    planned = parse_preview(preview_document(resources), where="stack validation")
    return [
        replace(p, region=regions[p.urn][0], region_error=regions[p.urn][1]) if p.urn in regions else p
        for p in planned
    ]


# -- the baseline's view --------------------------------------------------------------------------------


class KnownDict(dict):
    """A dict whose unknown values raise :class:`UnknownValueError` when read, like the SDK's proxy.

    It stays a real ``dict`` (the baseline tests ``isinstance(value, dict)``); overriding ``__iter__``
    makes ``dict(x)`` and ``{**x}`` read through ``__getitem__`` too.
    """

    def __init__(self, data: Mapping[str, Any], path: tuple[str, ...] = ()) -> None:
        super().__init__({k: _known(v, (*path, str(k))) for k, v in data.items()})
        self.path = path

    def __getitem__(self, key: Any) -> Any:
        return _checked(super().__getitem__(key), (*self.path, str(key)))

    def get(self, key: Any, default: Any = None) -> Any:
        if key not in self:
            return default
        return self[key]

    def __iter__(self) -> Iterator[Any]:
        return super().__iter__()

    def items(self) -> list[tuple[Any, Any]]:  # type: ignore[override]  # each value checked, not a view
        return [(k, self[k]) for k in self]

    def values(self) -> list[Any]:  # type: ignore[override]  # each value checked, not a view
        return [self[k] for k in self]


class KnownList(list):
    """A list whose unknown items raise :class:`UnknownValueError` when read (see :class:`KnownDict`)."""

    def __init__(self, data: Sequence[Any], path: tuple[str, ...] = ()) -> None:
        super().__init__(_known(v, (*path, str(i))) for i, v in enumerate(data))
        self.path = path

    def __getitem__(self, index: Any) -> Any:
        if isinstance(index, slice):
            return [self[i] for i in range(len(self))[index]]
        return _checked(super().__getitem__(index), (*self.path, str(index)))

    def __iter__(self) -> Iterator[Any]:
        return (self[i] for i in range(len(self)))

    def __add__(self, other: Any) -> list[Any]:
        return [*self, *other]

    def __radd__(self, other: Any) -> list[Any]:
        return [*other, *self]


def _known(value: Any, path: tuple[str, ...]) -> Any:
    if isinstance(value, Mapping):
        return KnownDict(value, path)
    if isinstance(value, list):
        return KnownList(value, path)
    return value


def _checked(value: Any, path: tuple[str, ...]) -> Any:
    if is_unknown(value):
        raise UnknownValueError(value, list(path))
    return value


def _stand_in(value: Any, stand_ins: Sequence[str]) -> Any:
    """``value`` with its unknowns replaced by the ids of the resources it depends on, where that is
    unambiguous: one dependency, or a list of unknowns with one dependency per item (subnets, groups)."""
    if len(stand_ins) == 1:
        return replace_unknowns(value, stand_ins[0])
    if isinstance(value, list) and value and len(value) == len(stand_ins) and all(map(is_unknown, value)):
        return list(stand_ins)
    return value


def _tier(resource: StackResource, by_urn: Mapping[str, StackResource]) -> str:
    """The tier a resource belongs to: the component it is registered under (this program's components
    are its tiers), else its own ``tier`` tag."""
    parent = by_urn.get(resource.parent or "")
    if parent is not None and not parent.custom and parent.type != STACK_TYPE:
        return parent.name
    tier = tier_of(resource.type, resource.props, "")
    return "" if is_unknown(tier) else tier


class UnknownRegion(str):
    """A region known only at deploy (the provider's ``region`` comes from another resource): comparing
    it raises :class:`UnknownValueError`, so a check that needs it is undecided in the preview."""

    provider: str

    def __new__(cls, sentinel: str, provider: str) -> UnknownRegion:
        made = super().__new__(cls, sentinel)
        made.provider = provider
        return made

    def _unknown(self, other: object) -> bool:
        raise UnknownValueError(str.__str__(self), [self.provider, "region"])

    __eq__ = __ne__ = _unknown
    __hash__ = str.__hash__


def _record_region(resource: StackResource) -> str:
    """:func:`billing_region`; "" when the resource has none to tell (not AWS, or a provider without one),
    an :class:`UnknownRegion` when its provider's region is unknown until deploy."""
    try:
        return billing_region(resource)
    except RegionError:
        region = (resource.provider_props or {}).get("region")
        if is_unknown(region):
            return UnknownRegion(region, resource.provider_name or "provider")
        return ""


def recorded_resources(resources: Sequence[StackResource]) -> list[RecordedResource]:
    """What the baseline checks: the program's resources (not the stack or providers) as mocks records.

    A resource's id is its cloud id when known, else its URN. An input the engine says comes from one
    resource (or a list with one resource per item) stands in that resource's id, so the baseline can
    follow links before the ids exist; a value the provider computes is absent from ``inputs`` and, in
    ``state``, stands in the resource's own id. Any other unknown raises when a check reads it. Its
    ``region`` is where its provider (or its own override) puts it (:func:`_record_region`).
    """
    by_urn = {r.urn: r for r in resources}
    ids = {r.urn: r.known_id or r.urn for r in resources}
    out = []
    for r in resources:
        if r.is_provider or r.type == STACK_TYPE:
            continue
        own_id = ids[r.urn]
        inputs: dict[str, Any] = {}
        computed: dict[str, Any] = {}
        for key, value in r.program_inputs().items():
            deps = r.deps(key)
            inputs[key] = _stand_in(value, [ids.get(d, d) for d in deps]) if deps else value
        for key, value in r.props.items():
            if key not in inputs and isinstance(value, str):
                computed[key] = own_id  # an unknown output (arn, name, domain): the resource itself
        region = _record_region(r)
        out.append(
            RecordedResource(
                type=r.type,
                name=r.name,
                inputs=KnownDict(inputs, (r.name,)),
                id=own_id,
                tier=_tier(r, by_urn),
                urn=r.urn,
                custom=r.custom,
                state=KnownDict({**inputs, **computed}, (r.name,)),
                region=region,
            )
        )
    return out
