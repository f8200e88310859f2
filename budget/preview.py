"""Input from ``pulumi preview --json``: price what the engine planned, each resource where it is billed.

What is read (``budget/README.md`` has an example document):

- ``config``: the stack's configuration as the engine saw it; ``aws:region`` is the default provider's
  region (a secret value is ``"[secret]"`` and unreadable).
- ``changeSummary``: the count of steps per operation. When it counts more ``same`` steps than the document
  lists, the preview was taken without ``--show-sames`` and leaves unchanged resources out: pricing it would
  understate the month, so it is refused.
- ``steps[]``: ``op``, ``urn``, ``provider`` (``<provider URN>::<provider id>``), ``newState`` and
  ``oldState`` (``type``, ``custom``, ``id``, ``parent``, ``provider``, ``inputs``,
  ``propertyDependencies``). What exists after the update is the ``newState`` of ``same``, ``create``,
  ``update``, ``replace``, ``create-replacement``, ``import``, ``import-replacement`` and ``refresh`` (the
  last state per URN); ``delete`` removes a resource for good and its ``oldState`` is priced as the saving;
  ``delete-replaced`` (the old half of a replacement), ``read``, ``read-replacement``, ``discard``,
  ``discard-replaced`` and ``remove-pending-replace`` change no bill. Any other op is refused.
- Values: ``04da6b54-...`` is unknown until deploy and stays so (a rule that needs it fails closed, naming
  it); a secret (``"[secret]"``, or the engine's ``{"4dabf18193072939515e22adb298388d":
  "1b47061264138c4ac30d75fd1eb44270", ...}`` object) is opaque unless it carries its ``plaintext``.
- Regions: a resource's own ``region`` input (pulumi-aws v7), else its provider's: an explicit
  ``pulumi:providers:aws`` step's ``region`` input, or for a default provider the ``config``'s
  ``aws:region``, through :func:`budget.regions.region_of`. A resource the document gives no region is
  priced in the stack file's (the check says so).
- Tiers: a resource's ``tier`` tag, else its parent's tier; a component's, when neither gives one, is its
  name (this program's components are its tiers).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from budget.model import PlannedResource
from budget.plan import tier_of
from budget.regions import AWS_PROVIDER, REGION_NAME, ProviderView, RegionError, region_of
from budget.rules.base import SECRET
from components.bounded_input import (
    DOCUMENT_BYTES,
    MAX_DEPTH,
    InputError,
    depth_of,
    load_json,
    read_json,
)

STACK_TYPE = "pulumi:pulumi:Stack"
UNTIERED = "untiered"
#: Ops whose ``newState`` exists after the update.
LIVE_OPS = frozenset(
    {"same", "create", "update", "replace", "create-replacement", "import", "import-replacement", "refresh"}
)
#: Ops that delete a resource for good: its ``oldState`` is what the deletion saves.
DELETE_OPS = frozenset({"delete"})
#: Ops that change no bill: the old half of a replacement, reads of resources this stack does not manage,
#: and state bookkeeping.
NO_BILL_OPS = frozenset(
    {"delete-replaced", "read", "read-replacement", "discard", "discard-replaced", "remove-pending-replace"}
)
#: The engine's marker of a secret value (``resource.SecretSig``) and its signature key.
SIG_KEY = "4dabf18193072939515e22adb298388d"
SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270"


class PreviewError(ValueError):
    """The preview file is missing, not JSON, or not a ``pulumi preview --json`` document."""


@dataclass(frozen=True)
class Preview:
    """What a preview document plans: the resources after the update, the ones it deletes, its region.

    ``region`` is the document's ``aws:region`` (else its default AWS provider's ``region`` input), None
    when it has none; ``notes`` are what the reader could not use, for the report's warnings.
    """

    resources: tuple[PlannedResource, ...]
    deleted: tuple[PlannedResource, ...] = ()
    region: str | None = None
    notes: tuple[str, ...] = ()


def _name(urn: str) -> str:
    return urn.rsplit("::", 1)[-1]


def _type_of_urn(urn: str) -> str:
    """The type token in a URN (``...::<parent type>$<type>::<name>``)."""
    parts = urn.split("::")
    return parts[-2].rsplit("$", 1)[-1] if len(parts) >= 4 else ""


def reveal(value: Any, depth: int = 0) -> Any:
    """``value`` with every secret as :data:`~budget.rules.base.SECRET`, or as its plaintext when the
    engine's secret object carries one (a state or event stream taken with ``--show-secrets``).

    A plaintext is JSON inside the document; the document and the plaintexts in it nest no deeper than
    :data:`MAX_DEPTH` together (deeper, the secret stays opaque), so a plaintext cannot recurse without end.
    """
    if isinstance(value, Mapping):
        if value.get(SIG_KEY) == SECRET_SIG:
            plaintext = value.get("plaintext")
            if isinstance(plaintext, str) and depth < MAX_DEPTH:
                try:
                    return reveal(load_json(plaintext, DOCUMENT_BYTES, MAX_DEPTH - depth), depth)
                except InputError:
                    return SECRET
            return SECRET
        return {k: reveal(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list):
        return [reveal(v, depth + 1) for v in value]
    return value


def _check_state(state: Any, where: str) -> dict[str, Any]:
    """A ``newState``/``oldState``: ``urn`` and ``type`` strings, ``inputs`` an object, links well formed."""
    if not isinstance(state, dict):
        raise PreviewError(f"{where} is not an object")
    if not isinstance(state.get("urn"), str) or not isinstance(state.get("type"), str):
        raise PreviewError(f"{where} needs 'urn' and 'type'")
    if state.get("inputs") is not None and not isinstance(state["inputs"], dict):
        raise PreviewError(f"{where}.inputs is not an object")
    for key in ("parent", "id", "provider"):
        if state.get(key) is not None and not isinstance(state[key], str):
            raise PreviewError(f"{where}.{key} must be a string")
    deps = state.get("propertyDependencies")
    if deps is not None and (
        not isinstance(deps, dict)
        or not all(isinstance(urns, list) and all(isinstance(u, str) for u in urns) for urns in deps.values())
    ):
        raise PreviewError(f"{where}.propertyDependencies must map input names to lists of URNs")
    return state


def _config_region(document: Mapping[str, Any], where: str) -> tuple[str | None, list[str]]:
    config = document.get("config")
    if config is None:
        return None, []
    if not isinstance(config, dict):
        raise PreviewError(f"{where}: 'config' is not an object")
    region = config.get("aws:region")
    if region is None:
        return None, []
    if region == SECRET:
        return None, [
            "the preview's config hides aws:region (a secret): the default provider's region is unread"
        ]
    if not isinstance(region, str) or not REGION_NAME.match(region):
        raise PreviewError(f"{where}: config aws:region is not an AWS region name: {str(region)[:40]!r}")
    return region, []


def _check_complete(document: Mapping[str, Any], listed_same: int, where: str) -> None:
    """Refuse a preview that leaves unchanged resources out (taken without ``--show-sames``)."""
    summary = document.get("changeSummary")
    if summary is None:
        return
    if not isinstance(summary, dict) or not all(
        isinstance(n, int) and not isinstance(n, bool) for n in summary.values()
    ):
        raise PreviewError(f"{where}: 'changeSummary' must map operations to counts")
    expected = summary.get("same", 0)
    if listed_same < expected:
        raise PreviewError(
            f"{where}: the preview counts {expected} unchanged resources but lists {listed_same}: it was"
            " taken without --show-sames, so the stack's unchanged resources are missing and its month would"
            " be understated. Run `pulumi preview --json --show-sames`."
        )


class _Document:
    """The states of one document and how to resolve their providers and tiers."""

    def __init__(self, document: Any, where: str) -> None:
        if not isinstance(document, dict) or not isinstance(document.get("steps"), list):
            raise PreviewError(
                f"{where}: not a 'pulumi preview --json' document (expected an object with 'steps': [...])"
            )
        if depth_of(document) > MAX_DEPTH:
            raise PreviewError(f"{where}: nested deeper than {MAX_DEPTH} levels (not a preview)")
        self.where = where
        self.config_region, self.notes = _config_region(document, where)
        #: URN -> (state, provider reference) for what exists after the update, and for deletions.
        self.live: dict[str, tuple[dict[str, Any], str]] = {}
        self.gone: dict[str, tuple[dict[str, Any], str]] = {}
        listed_same = 0
        for n, step in enumerate(document["steps"]):
            here = f"{where}: steps[{n}]"
            if not isinstance(step, dict) or not isinstance(step.get("op"), str):
                raise PreviewError(f"{here} is not a step object with an 'op'")
            op = step["op"]
            ref = step.get("provider") or ""
            if not isinstance(ref, str):
                raise PreviewError(f"{here}.provider must be a string")
            if op in LIVE_OPS:
                listed_same += op == "same"
                if op == "refresh" and step.get("newState") is None:
                    continue  # refreshed away: a later step recreates it, or it is gone
                if not isinstance(step.get("newState"), dict):
                    raise PreviewError(f"{here} ({op}) has no 'newState'")
                state = _check_state(step["newState"], f"{here}.newState ({op})")
                self.live[state["urn"]] = (state, ref or state.get("provider") or "")
            elif op in DELETE_OPS:
                if not isinstance(step.get("oldState"), dict):
                    raise PreviewError(f"{here} ({op}) has no 'oldState' (the resource it deletes)")
                state = _check_state(step["oldState"], f"{here}.oldState ({op})")
                self.gone[state["urn"]] = (state, ref or state.get("provider") or "")
            elif op not in NO_BILL_OPS:
                raise PreviewError(f"{here}: unknown op {op!r} (its effect on the bill cannot be told)")
        _check_complete(document, listed_same, where)
        for urn in self.live:
            self.gone.pop(urn, None)
        self.tiers: dict[str, str] = {}

    def provider(self, ref: str) -> ProviderView | None:
        """The provider a reference names, from its own step when listed; a default AWS provider that is
        not listed is configured from the document's ``aws:region``. None: no provider named."""
        if not ref:
            return None
        urn = ref.rsplit("::", 1)[0] if ref.count("::") >= 4 else ref
        found = self.live.get(urn) or self.gone.get(urn)
        name, typ = _name(urn), _type_of_urn(urn)
        inputs: dict[str, Any] | None = dict(reveal(found[0].get("inputs") or {})) if found else None
        if typ == AWS_PROVIDER and name.startswith("default"):
            inputs = inputs or {}
            if inputs.get("region") in (None, "", SECRET) and self.config_region:
                inputs["region"] = self.config_region
        return ProviderView(typ, name, inputs)

    def region(
        self, state: Mapping[str, Any], inputs: Mapping[str, Any], ref: str
    ) -> tuple[str | None, str | None]:
        """(region, why not) of an AWS resource; (None, None) when only the stack file can say."""
        if not state["type"].startswith("aws:") or state.get("custom") is False:
            return None, None
        view = self.provider(ref)
        if view is None:  # no provider named: the default provider, configured from the document
            if not self.config_region and inputs.get("region") in (None, ""):
                return None, None
            view = ProviderView(AWS_PROVIDER, "default", {"region": self.config_region})
        try:
            return region_of(inputs.get("region"), view), None
        except RegionError as exc:
            if (
                view.type == AWS_PROVIDER
                and (view.name or "").startswith("default")
                and not (view.inputs or {}).get("region")
            ):
                return None, None  # a default provider with no region anywhere: the stack file's
            if view.inputs is None:
                return None, (f"its provider '{view.name}' is not in the preview (take it with --show-sames)")
            return None, str(exc)

    def tier(self, urn: str, states: Mapping[str, tuple[dict[str, Any], str]]) -> str:
        """The tier of ``urn``'s state, its parents resolved first whatever order the steps list them in
        (iteratively: a parent chain of any length; a parent outside the document or a cycle is untiered)."""
        chain: list[str] = []
        node: str | None = urn
        while node is not None and node in states and node not in self.tiers and node not in chain:
            chain.append(node)
            node = states[node][0].get("parent")
        inherited = self.tiers.get(node, UNTIERED) if node is not None else UNTIERED
        for link in reversed(chain):
            state = states[link][0]
            fallback = inherited
            if fallback == UNTIERED and state.get("custom") is False and state["type"] != STACK_TYPE:
                fallback = _name(link)  # a component
            inputs = reveal(state.get("inputs") or {})
            inherited = self.tiers[link] = tier_of(state["type"], inputs, fallback)
        return self.tiers[urn]

    def planned(self, states: Mapping[str, tuple[dict[str, Any], str]]) -> tuple[PlannedResource, ...]:
        lookup = {**self.live, **states}
        out = []
        for urn, (state, ref) in states.items():
            inputs = reveal(state.get("inputs") or {})
            region, why = self.region(state, inputs, ref)
            deps = state.get("propertyDependencies") or {}
            out.append(
                PlannedResource(
                    type=state["type"],
                    name=_name(urn),
                    inputs=inputs,
                    urn=urn,
                    tier=self.tier(urn, lookup),
                    id=state.get("id") or None,
                    custom=bool(state.get("custom", True)),
                    parent=state.get("parent"),
                    property_dependencies={k: list(v) for k, v in deps.items()},
                    region=region,
                    region_error=why,
                )
            )
        return tuple(out)

    def home_region(self) -> str | None:
        """The document's region: its ``aws:region``, else a listed default AWS provider's ``region``."""
        if self.config_region:
            return self.config_region
        for urn, (state, _) in self.live.items():
            region = (state.get("inputs") or {}).get("region")
            default = state["type"] == AWS_PROVIDER and _name(urn).startswith("default")
            if default and isinstance(region, str) and REGION_NAME.match(region):
                return region
        return None


def parse_preview_document(document: Any, where: str = "preview") -> Preview:
    """The resources a preview document plans, the ones it deletes, and its region."""
    doc = _Document(document, where)
    resources = doc.planned(doc.live)
    return Preview(resources, doc.planned(doc.gone), doc.home_region(), tuple(doc.notes))


def parse_preview(document: Any, where: str = "preview") -> list[PlannedResource]:
    """The planned resources of a preview document (what exists after the update)."""
    return list(parse_preview_document(document, where).resources)


def load_preview(path: Path) -> Preview:
    """Read and parse a ``pulumi preview --json`` file."""
    if not Path(path).exists():
        raise PreviewError(f"preview file not found: {path}")
    try:
        document = read_json(path, DOCUMENT_BYTES)
    except InputError as exc:
        raise PreviewError(f"{path}: {exc}") from None
    return parse_preview_document(document, where=str(path))


def read_preview(path: Path) -> list[PlannedResource]:
    """The planned resources of a ``pulumi preview --json`` file."""
    return list(load_preview(path).resources)
