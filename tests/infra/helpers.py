"""Small lookups over recorded resources, shared by the infra tests."""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable

from components.planning.mocks import RecordedResource


def of_type(resources: Iterable[RecordedResource], typ: str) -> list[RecordedResource]:
    return [r for r in resources if r.type == typ]


def named(resources: Iterable[RecordedResource], name: str) -> RecordedResource:
    matches = [r for r in resources if r.name == name]
    assert len(matches) == 1, f"expected one resource named {name}, found {len(matches)}"
    return matches[0]


def mutated(
    resources: list[RecordedResource], name: str, change: Callable[[RecordedResource], object]
) -> list[RecordedResource]:
    """A deep copy of ``resources`` with ``change`` applied to the resource called ``name``."""
    copied = copy.deepcopy(resources)
    change(named(copied, name))
    return copied
