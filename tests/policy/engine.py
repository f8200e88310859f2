"""What the Pulumi engine would hand the policy pack, built without the CLI.

From a stack's mocked plan: every resource the program registers, plus what the engine adds (the stack
resource, default providers carrying the stack's ``aws:region``), each custom resource with its provider
(the explicit provider of its recorded region, such as the CDN's us-east-1 one, else the default) and its
component parent, properties as the engine serializes them (outputs: the inputs plus what the
provider answered, the id among them). From the same plan, a fresh stack's preview: every id and every
computed output unknown, and every input that comes from one of them unknown too, with the property
dependencies that name its source (what ``pulumi preview --json`` shows as ``newState``).

``policy_resources`` turns either into the SDK's ``PolicyResource`` objects exactly as its analyzer does
(deserialized properties behind the unknown-checking proxy, parents and dependencies as objects);
``analyze_stack_request`` into the gRPC message the engine sends a running pack.
"""

from __future__ import annotations

import base64
import binascii
import copy
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from google.protobuf import json_format, struct_pb2
from pulumi.runtime import proto
from pulumi_policy import (
    PolicyCustomTimeouts,
    PolicyProviderResource,
    PolicyResource,
    PolicyResourceOptions,
    ReportViolation,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.deserialize import deserialize_properties
from pulumi_policy.proxy import UNKNOWN_STRING_VALUE, unknown_checking_proxy

from components.planning.mocks import PROJECT, Plan, RecordedResource

AWS_VERSION = "7.51.1"
AWS_PROVIDER = "pulumi:providers:aws"
RANDOM_VERSION = "4.21.4"


@dataclass
class EngineResource:
    """One resource as the engine reports it to a stack policy."""

    type: str
    name: str
    urn: str
    props: dict[str, Any]
    custom: bool
    parent: str | None = None
    provider: str | None = None  # the provider resource's URN
    property_dependencies: dict[str, list[str]] = field(default_factory=dict)


def _urn(stack: str, typ: str, name: str) -> str:
    return f"urn:pulumi:{stack}::{PROJECT}::{typ}::{name}"


def stack_urn(stack: str) -> str:
    return _urn(stack, "pulumi:pulumi:Stack", f"{PROJECT}-{stack}")


def provider_urn(stack: str, package: str = "aws") -> str:
    version = AWS_VERSION if package == "aws" else RANDOM_VERSION
    return _urn(stack, f"pulumi:providers:{package}", f"default_{version.replace('.', '_')}")


def _parent(record: RecordedResource, components: Mapping[str, str], stack: str) -> str:
    """The mocks record no parents; children of a component are named ``f"{component}-<part>"``."""
    return components.get(record.name.split("-")[0], stack_urn(stack))


def _providers_by_region(plan: Plan, region: str) -> dict[str, str]:
    """The program's explicit AWS providers by the region they manage (the stack's own region stays with
    the default provider: the mocks record a region, not which provider of that region)."""
    out: dict[str, str] = {}
    for r in plan.resources:
        if r.type == AWS_PROVIDER and r.region != region:
            out.setdefault(r.region, r.urn)
    return out


def from_plan(plan: Plan, stack: str, region: str) -> list[EngineResource]:
    """The engine's view of a planned stack after an update (every value known)."""
    components = {r.name: r.urn for r in plan.resources if not r.custom}
    explicit = _providers_by_region(plan, region)
    out = [
        EngineResource("pulumi:pulumi:Stack", f"{PROJECT}-{stack}", stack_urn(stack), {}, custom=False),
        EngineResource(
            "pulumi:providers:aws",
            provider_urn(stack).rsplit("::", 1)[-1],
            provider_urn(stack),
            {"region": region, "version": AWS_VERSION},
            custom=True,
        ),
        EngineResource(
            "pulumi:providers:random",
            provider_urn(stack, "random").rsplit("::", 1)[-1],
            provider_urn(stack, "random"),
            {"version": RANDOM_VERSION},
            custom=True,
        ),
    ]
    for r in plan.resources:
        if not r.custom:
            out.append(EngineResource(r.type, r.name, r.urn, {}, False, parent=stack_urn(stack)))
            continue
        if r.type.startswith("pulumi:providers:"):  # an explicit provider: its inputs, no provider
            props = {**copy.deepcopy(r.inputs), "version": AWS_VERSION}
            out.append(EngineResource(r.type, r.name, r.urn, props, True, _parent(r, components, stack)))
            continue
        package = r.type.split(":", 1)[0]
        provider = provider_urn(stack, package)
        if package == "aws":
            provider = explicit.get(r.region, provider)
        out.append(
            EngineResource(
                r.type,
                r.name,
                r.urn,
                copy.deepcopy({**r.state, "id": r.id}),
                True,
                parent=_parent(r, components, stack),
                provider=provider,
            )
        )
    return out


def named(resources: Sequence[EngineResource], name: str) -> EngineResource:
    matches = [e for e in resources if e.name == name]
    assert len(matches) == 1, f"expected one resource named {name}, found {len(matches)}"
    return matches[0]


# -- a fresh stack's preview ----------------------------------------------------------------------------


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for v in value.values():
            yield from _strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v)


def _decoded(text: str) -> str:
    """User data is base64 of a script that may name ARNs; look inside it too."""
    try:
        return base64.b64decode(text, validate=True).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return ""


def from_plan_as_preview(plan: Plan, stack: str, region: str) -> list[EngineResource]:
    """The engine's view of the same stack in a preview that creates it.

    A record's id and the outputs the mock added are unknown (unless equal to one of its own inputs,
    which the program knows); an input string that equals or contains another resource's unknown value
    becomes unknown, and its top-level property depends on that resource.
    """
    records = {r.urn: r for r in plan.resources}
    unknown_of: dict[str, set[str]] = {}
    for r in plan.resources:
        own = set(_strings(r.inputs))
        computed = {v for k, v in r.state.items() if k not in r.inputs and isinstance(v, str)}
        # (not the random provider's placeholder id "none", a literal elsewhere: no geographic restriction)
        unknown_of[r.urn] = {v for v in {r.id, *computed} if len(v) >= 4} - own - {"none"}

    def sources(text: str, urn: str) -> set[str]:
        seen = {text, _decoded(text)}
        return {
            other
            for other, values in unknown_of.items()
            if other != urn and any(v == s or v in s for v in values for s in seen if s)
        }

    def substitute(value: Any, urn: str, deps: set[str]) -> Any:
        if isinstance(value, str):
            found = sources(value, urn)
            deps |= found
            return UNKNOWN_STRING_VALUE if found else value
        if isinstance(value, Mapping):
            return {k: substitute(v, urn, deps) for k, v in value.items()}
        if isinstance(value, list):
            return [substitute(v, urn, deps) for v in value]
        return value

    out = []
    for e in from_plan(plan, stack, region):
        record = records.get(e.urn)
        if record is None or not e.custom:
            out.append(e)
            continue
        props: dict[str, Any] = {}
        deps: dict[str, list[str]] = {}
        for key, value in record.inputs.items():
            found: set[str] = set()
            props[key] = substitute(copy.deepcopy(value), record.urn, found)
            if found:
                deps[key] = sorted(found)
        for key in record.state:
            if key not in record.inputs:
                props[key] = UNKNOWN_STRING_VALUE
        props["id"] = UNKNOWN_STRING_VALUE
        out.append(replace(e, props=props, property_dependencies=deps))
    return out


def preview_json(resources: Sequence[EngineResource]) -> dict[str, Any]:
    """The ``pulumi preview --json`` document of a preview: ``newState`` holds the inputs."""
    steps = []
    for e in resources:
        deps = e.property_dependencies
        inputs = {k: v for k, v in e.props.items() if v != UNKNOWN_STRING_VALUE or k in deps}
        state = {
            "urn": e.urn,
            "type": e.type,
            "custom": e.custom,
            "id": "",
            "parent": e.parent,
            "provider": e.provider,
            "inputs": inputs,
            "propertyDependencies": e.property_dependencies,
        }
        steps.append({"op": "create", "urn": e.urn, "newState": state})
    return {"steps": steps, "diagnostics": [], "changeSummary": {"create": len(steps)}}


# -- what the SDK builds from them ----------------------------------------------------------------------


def policy_resources(resources: Sequence[EngineResource]) -> list[PolicyResource]:
    """``StackValidationArgs.resources`` as the SDK's analyzer builds them from the engine's request."""
    by_urn = {e.urn: e for e in resources}
    built: dict[str, PolicyResource] = {}
    for e in resources:
        provider = None
        if e.provider is not None:
            p = by_urn[e.provider]
            props = unknown_checking_proxy(deserialize_properties(p.props))
            provider = PolicyProviderResource(p.type, props, p.urn, p.name)
        options = PolicyResourceOptions(False, [], None, [], PolicyCustomTimeouts(0, 0, 0), [], e.parent)
        props = unknown_checking_proxy(deserialize_properties(copy.deepcopy(e.props)))
        built[e.urn] = PolicyResource(e.type, props, e.urn, e.name, options, provider, None, [], {})
    for e in resources:
        r = built[e.urn]
        r.parent = built.get(e.parent or "")
        r.property_dependencies = {
            k: [built[u] for u in urns if u in built] for k, urns in e.property_dependencies.items()
        }
    return list(built.values())


def args(resources: Sequence[EngineResource], config: Mapping[str, Any] | None = None) -> StackValidationArgs:
    return StackValidationArgs(policy_resources(resources), dict(config or {}))


def run_each(
    policies: Mapping[str, StackValidationPolicy],
    resources: Sequence[EngineResource],
    config: Mapping[str, Any] | None = None,
) -> dict[str, list[tuple[str, str | None]]]:
    """Every policy's (message, URN) pairs, all reading one set of arguments.

    Building the arguments (a deep copy and deserialisation of every resource) is most of a policy's run
    here; the analyzer builds them once per policy, which matters only to a policy that writes into what
    it reads, and the pack's policies only read (their resources are the SDK's read-only proxies)."""
    shared = args(resources, config)
    found: dict[str, list[tuple[str, str | None]]] = {}
    for name, policy in policies.items():
        lines: list[tuple[str, str | None]] = []

        def report(message: str, urn: str | None = None, into: list[tuple[str, str | None]] = lines) -> None:
            into.append((message, urn))

        reporter: ReportViolation = report
        policy.validate(shared, reporter)
        found[name] = lines
    return found


def run(
    policy: StackValidationPolicy,
    resources: Sequence[EngineResource],
    config: Mapping[str, Any] | None = None,
) -> list[tuple[str, str | None]]:
    """The (message, URN) pairs a stack policy reports."""
    return run_each({policy.name: policy}, resources, config)[policy.name]


def analyze_stack_request(resources: Sequence[EngineResource]) -> proto.AnalyzeStackRequest:
    """The gRPC request the engine sends a running pack for stack validation."""

    def struct(values: Mapping[str, Any]) -> struct_pb2.Struct:
        s = struct_pb2.Struct()
        json_format.ParseDict(dict(values), s)
        return s

    by_urn = {e.urn: e for e in resources}
    request = proto.AnalyzeStackRequest()
    for e in resources:
        resource = request.resources.add()
        resource.type = e.type
        resource.urn = e.urn
        resource.name = e.name
        resource.properties.CopyFrom(struct(e.props))
        if e.parent:
            resource.parent = e.parent
        if e.provider:
            p = by_urn[e.provider]
            resource.provider.type = p.type
            resource.provider.urn = p.urn
            resource.provider.name = p.name
            resource.provider.properties.CopyFrom(struct(p.props))
        for key, urns in e.property_dependencies.items():
            resource.propertyDependencies[key].urns.extend(urns)
    return request
