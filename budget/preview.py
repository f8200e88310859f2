"""Input from ``pulumi preview --json``: price the steps' ``newState`` (type, inputs) with the same rules.

Steps that delete or only read are skipped; a resource replaced in place appears once (the last state per
URN). Values unknown until deploy are the placeholder ``04da6b54-...``; rules resolve links through each
state's ``propertyDependencies`` instead of ids. A resource's tier is its ``tier`` tag, else its parent's
tier; a component's, when neither gives one, is its name (this program's components are its tiers), so an
untaggable resource (a CloudFront plan subscription) is attributed as under mocks.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from budget.model import PlannedResource
from budget.plan import tier_of

STACK_TYPE = "pulumi:pulumi:Stack"
UNTIERED = "untiered"
SKIPPED_OPS = frozenset(
    {
        "delete",
        "delete-replaced",
        "discard",
        "discard-replaced",
        "read",
        "read-replacement",
        "remove-pending-replace",
    }
)


class PreviewError(ValueError):
    """The preview file is missing, not JSON, or not a ``pulumi preview --json`` document."""


def _name(urn: str) -> str:
    return urn.rsplit("::", 1)[-1]


def _check_links(state: dict[str, Any], where: str) -> None:
    """``parent``, ``id`` and ``propertyDependencies`` link resources: a wrong shape is refused."""
    for key in ("parent", "id"):
        if state.get(key) is not None and not isinstance(state[key], str):
            raise PreviewError(f"{where}.{key} must be a string")
    deps = state.get("propertyDependencies")
    if deps is None:
        return
    if not isinstance(deps, dict) or not all(
        isinstance(urns, list) and all(isinstance(u, str) for u in urns) for urns in deps.values()
    ):
        raise PreviewError(f"{where}.propertyDependencies must map input names to lists of URNs")


def parse_preview(document: Any, where: str = "preview") -> list[PlannedResource]:
    """The planned resources of a preview document."""
    if not isinstance(document, dict) or not isinstance(document.get("steps"), list):
        raise PreviewError(
            f"{where}: not a 'pulumi preview --json' document (expected an object with 'steps': [...])"
        )
    states: dict[str, dict[str, Any]] = {}
    for n, step in enumerate(document["steps"]):
        if not isinstance(step, dict) or not isinstance(step.get("op"), str):
            raise PreviewError(f"{where}: steps[{n}] is not a step object with an 'op'")
        if step["op"] in SKIPPED_OPS:
            continue
        state = step.get("newState")
        if not isinstance(state, dict):
            raise PreviewError(f"{where}: steps[{n}] ({step['op']}) has no 'newState'")
        urn = state.get("urn") or step.get("urn")
        if not isinstance(urn, str) or not isinstance(state.get("type"), str):
            raise PreviewError(f"{where}: steps[{n}].newState needs 'urn' and 'type'")
        if not isinstance(state.get("inputs", {}), dict):
            raise PreviewError(f"{where}: steps[{n}].newState.inputs is not an object")
        _check_links(state, f"{where}: steps[{n}].newState")
        states[urn] = state
    tiers: dict[str, str] = {}

    def tier(urn: str) -> str:
        """The tier of ``urn``'s state, its parents resolved first whatever order the steps list them in
        (iteratively: a parent chain of any length; a parent outside the document or a cycle is untiered)."""
        chain: list[str] = []
        node: str | None = urn
        while node is not None and node in states and node not in tiers and node not in chain:
            chain.append(node)
            node = states[node].get("parent")
        inherited = tiers.get(node, UNTIERED) if node is not None else UNTIERED
        for link in reversed(chain):
            state = states[link]
            fallback = inherited
            if fallback == UNTIERED and state.get("custom") is False and state["type"] != STACK_TYPE:
                fallback = _name(link)  # a component
            inherited = tiers[link] = tier_of(state["type"], state.get("inputs") or {}, fallback)
        return tiers[urn]

    resources = []
    for urn, state in states.items():
        inputs = state.get("inputs") or {}
        parent = state.get("parent")
        deps = state.get("propertyDependencies") or {}
        resources.append(
            PlannedResource(
                type=state["type"],
                name=_name(urn),
                inputs=inputs,
                urn=urn,
                tier=tier(urn),
                id=state.get("id") or None,
                custom=bool(state.get("custom", True)),
                parent=parent,
                property_dependencies={k: list(v) for k, v in deps.items()},
            )
        )
    return resources


def read_preview(path: Path) -> list[PlannedResource]:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise PreviewError(f"preview file not found: {path}") from None
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise PreviewError(f"{path}: not valid JSON ({exc})") from None
    return parse_preview(document, where=str(path))
