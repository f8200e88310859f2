"""Offline input: run the Pulumi program under mocks and take every resource it registers.

The program's own planner (``components.planning.mocks.plan_resources``) calls ``build_stack`` directly, never
``__main__``, so the budget guard does not recurse. The check prices exactly what would be deployed.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from budget.model import PlannedResource
from budget.rules import FREE, RULES
from components.config import StackConfig

if TYPE_CHECKING:
    from components.planning.mocks import RecordedResource


class PlanError(RuntimeError):
    """The program could not be planned (import failure or an exception while registering resources)."""


def provider_modules(type_tokens: Iterable[str]) -> list[str]:
    """The provider SDK modules behind type tokens: ``aws:ec2/vpc:Vpc`` -> ``pulumi_aws.ec2``."""
    modules = set()
    for token in type_tokens:
        package, _, rest = token.partition(":")
        if package in ("aws", "random") and "/" in rest:
            modules.add("pulumi_random" if package == "random" else f"pulumi_aws.{rest.split('/')[0]}")
    return sorted(modules)


def warm_imports() -> None:
    """Load the provider modules the program can use, once, before forking one worker per stack.

    ``pulumi_aws`` loads its submodules lazily on first use, which is most of a first mocked run; loading
    only the submodules of the types the rules know (not the SDK's 250) in the parent lets every forked
    worker start warm.
    """
    for name in provider_modules([*RULES, *FREE]):
        try:
            module = importlib.import_module(name)
            hasattr(module, "__budget_warm__")  # any non-introspection attribute forces the lazy load
        except ImportError:
            continue
    importlib.import_module("components.stack")


def tier_of(type_token: str, inputs: Mapping[str, Any], fallback: str = "untiered") -> str:
    """The ``tier`` cost-allocation tag (map tags, or an auto-scaling group's list of tags)."""
    tags = inputs.get("tags")
    if isinstance(tags, Mapping) and isinstance(tags.get("tier"), str):
        return tags["tier"]
    if isinstance(tags, list):
        for tag in tags:
            if isinstance(tag, Mapping) and tag.get("key") == "tier" and isinstance(tag.get("value"), str):
                return tag["value"]
    return fallback


def from_record(record: RecordedResource) -> PlannedResource:
    """A mocks record as a :class:`PlannedResource` (a record's ``tier`` is its name's first part).

    The mocks follow each resource's provider reference to the region it manages (the stack's, or an
    explicit provider's); an AWS resource is priced there.
    """
    return PlannedResource(
        type=record.type,
        name=record.name,
        inputs=dict(record.inputs),
        urn=record.urn,
        tier=record.tier or tier_of(record.type, record.inputs),
        id=record.id,
        custom=record.custom,
        region=record.region or None if record.type.startswith("aws:") else None,
    )


def plan_offline(cfg: StackConfig) -> list[PlannedResource]:
    """Plan ``cfg`` under Pulumi mocks and return what the program would register."""
    try:  # local: it imports pulumi (about 0.3 s, measured), which a preview check never needs
        from components.planning.mocks import plan_resources
    except ImportError as exc:
        raise PlanError(f"cannot plan offline: components.planning.mocks is not importable ({exc})") from None
    try:
        records = plan_resources(cfg)
    except Exception as exc:  # the program failed: report it, price nothing
        raise PlanError(
            f"planning stack {cfg.stack} under mocks failed: {type(exc).__name__}: {exc}"
        ) from None
    return [from_record(r) for r in records]
