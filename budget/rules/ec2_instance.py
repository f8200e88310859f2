"""A standalone EC2 instance, priced with the same model as the instances an auto-scaling group launches.

One instance that runs all month: instance hours by ``instanceType``, on demand, 1-year no-upfront
reserved (its ``purchase = reserved-1yr`` tag, or the reserved what-if) or spot
(``instanceMarketOptions.marketType = "spot"``: on-demand x (1 - the typical spot discount), marked
estimated); its root volume from ``rootBlockDevice``, or the AMI's when it sets none (an assumption every
report marks); ``ebsBlockDevices``; detailed monitoring (``monitoring``); a public IPv4 address
(``associatePublicIpAddress``). Burstable types in unlimited mode bill surplus CPU credits, but a lone
instance has no CPU target to take the utilisation from: as for a group without one, a note on the
instance hours says they are not priced.

An instance launched from a launch template (``launchTemplate``) takes what it does not set itself from
the template, as AWS does: the type, market options, credit mode, monitoring, a public address from the
template's network interfaces, and its block device mappings. Versions: ``$Latest``, ``$Default`` or one
the preview leaves unknown (the template's own new version) are the template as planned; a fixed number
may name an older version, whose settings the preview does not hold, so it is refused.

What changes the bill in a way this rule cannot price fails closed, naming the input: a fixed template
version, block devices mapped both on the instance and in its template (AWS merges them device by device),
dedicated tenancy or a dedicated host (on the instance or in the template's placement), the EBS-optimized
fee of a previous-generation type, a market type other than spot.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from budget.model import CostLine, PlannedResource, Quantity
from budget.rules import instance_model
from budget.rules.base import (
    UNKNOWN,
    RuleContext,
    RuleError,
    choice,
    flag,
    opaque,
    require,
    reserved_pricing,
    unreadable,
    unreadable_list,
    why_opaque,
)

TYPES = ("aws:ec2/instance:Instance",)
#: Previous-generation types that bill an hourly fee when ``ebsOptimized`` is on (AWS's EBS-optimized
#: instance table, previous generation; RECALLED, and agreeing with infracost's instance_test: r3.xlarge
#: bills "EBS-optimized usage", m3.large does not). Current types are EBS-optimized at no extra charge.
EBS_OPTIMIZED_FEE = frozenset(
    {
        "c1.xlarge",
        "c3.xlarge",
        "c3.2xlarge",
        "c3.4xlarge",
        "g2.2xlarge",
        "i2.xlarge",
        "i2.2xlarge",
        "i2.4xlarge",
        "m1.large",
        "m1.xlarge",
        "m2.2xlarge",
        "m2.4xlarge",
        "m3.xlarge",
        "m3.2xlarge",
        "r3.xlarge",
        "r3.2xlarge",
        "r3.4xlarge",
    }
)
NO_TARGET = "a standalone instance has no CPU target to take the utilisation from"
#: Template versions that are the template as this preview plans it.
PLANNED_VERSIONS = ("$Latest", "$Default")
#: Inputs an instance takes from its launch template when it leaves them unset (same names in both).
LENT = ("instanceType", "instanceMarketOptions", "creditSpecification", "ebsOptimized")


def price(instance: PlannedResource, ctx: RuleContext) -> list[CostLine]:
    _refuse_what_has_no_price(instance.inputs)
    template = _template(instance, ctx)
    inputs = _with_template(instance.inputs, template.inputs) if template else instance.inputs
    itype = require(inputs, "instanceType", instance)
    if not isinstance(itype, str):
        raise RuleError(f"input 'instanceType' is not a type name: {type(itype).__name__}")
    if itype in EBS_OPTIMIZED_FEE and flag(inputs, "ebsOptimized"):
        raise RuleError(
            f"ebsOptimized on {itype} bills an hourly EBS-optimized fee the catalog has no price for"
        )
    hours, nothing = Quantity.fixed(ctx.hours), Quantity.fixed(0.0)
    if _spot(inputs):
        fleet = instance_model.Fleet(on_demand=nothing, reserved=nothing, spot=hours)
    elif reserved_pricing(instance, ctx):
        fleet = instance_model.Fleet(on_demand=nothing, reserved=hours, spot=nothing)
    else:
        fleet = instance_model.Fleet(on_demand=hours, reserved=nothing, spot=nothing)
    lines = instance_model.usage_lines(ctx, fleet, itype, itype)
    _, note = instance_model.surplus_credits(
        ctx, itype, inputs.get("creditSpecification"), hours, None, no_target=NO_TARGET
    )
    lines = instance_model.noted(lines, note)
    one = Quantity.fixed(1.0)  # instance-months
    lines.extend(_volumes(instance, ctx, one, template))
    if flag(inputs, "monitoring"):
        lines.append(instance_model.monitoring_line(ctx, one))
    asked = (
        None if inputs.get("associatePublicIpAddress") is None else flag(inputs, "associatePublicIpAddress")
    )
    if asked is None and inputs.get("networkInterfaces"):
        asked = False  # attached interfaces bring their own addresses
    lines.extend(
        instance_model.public_ipv4_lines(instance, ctx, asked, inputs.get("subnetId"), "subnetId", hours)
    )
    return lines


def _template(instance: PlannedResource, ctx: RuleContext) -> PlannedResource | None:
    """The launch template the instance is launched from, if any (its version checked)."""
    spec = instance.inputs.get("launchTemplate")
    if spec in (None, {}):
        return None
    if not isinstance(spec, Mapping):
        raise RuleError(f"launchTemplate is {unreadable(spec)}")
    version = spec.get("version")
    if version is not None and not opaque(version) and version not in PLANNED_VERSIONS:
        raise RuleError(
            f"launchTemplate.version {version!r}: a fixed version may be an older one than this preview"
            " plans, whose settings it does not hold; use $Latest or $Default"
        )
    if opaque(version) and version != UNKNOWN:
        raise RuleError(f"launchTemplate.version is {why_opaque(version)}")
    template = instance_model.linked_template(instance, ctx, spec, "launchTemplate")
    try:
        _refuse_what_has_no_price(template.inputs.get("placement") or {})
    except RuleError as exc:
        raise RuleError(f"launch template '{template.name}' placement: {exc}") from exc
    return template


def _with_template(own: Mapping[str, Any], lent: Mapping[str, Any]) -> dict[str, Any]:
    """The instance's inputs with what it leaves unset taken from its template (AWS's precedence)."""
    merged = dict(own)
    for key in LENT:
        if merged.get(key) is None and lent.get(key) is not None:
            merged[key] = lent[key]
    if merged.get("monitoring") is None:
        monitoring = lent.get("monitoring")
        if isinstance(monitoring, Mapping) or opaque(monitoring):
            merged["monitoring"] = (
                monitoring.get("enabled") if isinstance(monitoring, Mapping) else monitoring
            )
    interfaces = lent.get("networkInterfaces")
    if merged.get("associatePublicIpAddress") is None:
        merged["associatePublicIpAddress"] = instance_model.interfaces_ask_public_ipv4(
            interfaces, whose="the launch template's "
        )
    for interface in (i for i in interfaces or [] if isinstance(i, Mapping)):
        if merged.get("subnetId") is None:
            merged["subnetId"] = interface.get("subnetId")
    return merged


def _refuse_what_has_no_price(inputs: Any) -> None:
    """Inputs that change what AWS bills in ways the catalog and this rule do not price."""
    if not isinstance(inputs, Mapping):
        raise RuleError(f"the settings are {unreadable(inputs)}")
    for key in ("hostId", "hostResourceGroupArn"):
        if inputs.get(key) not in (None, ""):
            raise RuleError(
                f"{key}: an instance on a dedicated host is billed through the host, which has no rule"
            )
    tenancy = inputs.get("tenancy")
    if opaque(tenancy):
        raise RuleError(f"input 'tenancy' is {why_opaque(tenancy)}")
    if tenancy not in (None, "", "default"):
        raise RuleError(f"tenancy {tenancy!r}: dedicated instances have no catalog price")


def _spot(inputs: Mapping[str, Any]) -> bool:
    """Whether the instance is a spot instance (no market type: AWS launches it on demand)."""
    return (
        choice(inputs.get("instanceMarketOptions"), "marketType", "instanceMarketOptions", ("spot",))
        == "spot"
    )


def _volumes(
    instance: PlannedResource, ctx: RuleContext, one: Quantity, template: PlannedResource | None
) -> list[CostLine]:
    """The root volume (``rootBlockDevice``, else the AMI's) and each of ``ebsBlockDevices``; or, when
    the instance maps none and its template does, the template's mappings."""
    inputs = instance.inputs
    root = inputs.get("rootBlockDevice")
    if template is not None:
        own = root is not None or bool(inputs.get("ebsBlockDevices"))
        lent = bool(template.inputs.get("blockDeviceMappings"))
        if own and lent:
            raise RuleError(
                "block devices mapped both on the instance and in its launch template: AWS merges them"
                " device by device, which this rule does not model; map them in one place"
            )
        if not own:
            return instance_model.template_volume_lines(template, ctx, one)
    lines: list[CostLine] = []
    if root is None:
        lines.append(
            instance_model.ami_root_volume_line(
                ctx, one, f"instance '{instance.name}' sets no rootBlockDevice"
            )
        )
    elif isinstance(root, Mapping):
        lines.extend(
            instance_model.volume_lines(
                ctx,
                root,
                what="Root volume",
                field="rootBlockDevice",
                root=True,
                instance_months=one,
                owner=instance,
            )
        )
    else:
        raise RuleError(f"rootBlockDevice is {unreadable(root)}")
    devices = inputs.get("ebsBlockDevices") or []
    if not isinstance(devices, list):
        raise RuleError(f"ebsBlockDevices are {unreadable_list(devices)}")
    for n, device in enumerate(devices):
        if not isinstance(device, Mapping):
            raise RuleError(f"ebsBlockDevices[{n}] is {unreadable(device)}")
        name = device.get("deviceName")
        label = name if isinstance(name, str) and name and not opaque(name) else f"[{n}]"
        lines.extend(
            instance_model.volume_lines(
                ctx,
                device,
                what=f"EBS volume {label}",
                field=f"ebsBlockDevices[{n}]",
                root=False,
                instance_months=one,
                owner=instance,
            )
        )
    return lines
