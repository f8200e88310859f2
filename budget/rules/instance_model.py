"""One price model for an EC2 instance, whether an auto-scaling group launches it or it stands alone.

The group rule (:mod:`budget.rules.autoscaling_group`) and the instance rule differ only in how many
instances run for how long and where their settings are written (a launch template, or the instance's own
inputs). What an instance-hour, an EBS volume, a surplus CPU credit, a detailed-monitoring metric and a
public IPv4 address cost is decided here, once, so the two cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from budget.model import SIZES, CostLine, PlannedResource, Quantity, line
from budget.rules.base import (
    RuleContext,
    RuleError,
    choice,
    flag,
    number,
    opaque,
    require,
    shown,
    unreadable,
    unreadable_list,
    why_opaque,
)
from budget.rules.cpu_load import Utilisation

LAUNCH_TEMPLATE = "aws:ec2/launchTemplate:LaunchTemplate"
SUBNET = "aws:ec2/subnet:Subnet"
#: Root device names of the AMIs in use (Amazon Linux: /dev/xvda; Ubuntu and Windows: /dev/sda1). A
#: launch template that maps neither leaves the AMI's own root volume in place.
ROOT_DEVICES = ("/dev/xvda", "/dev/sda1")

#: EC2 detailed monitoring publishes 7 metrics per instance (infracost instance_test: 7 x $0.30 = $2.10).
DETAILED_METRICS_PER_INSTANCE = 7
#: Burstable families and the credit mode they launch in when the credit specification names none
#: (AWS, burstable performance instances: T3, T3a and T4g start in unlimited mode, T2 in standard).
BURSTABLE = {"t2": "standard", "t3": "unlimited", "t3a": "unlimited", "t4g": "unlimited"}
CREDIT_MODES = ("standard", "unlimited")
#: AWS's default type for a new EBS volume whose mapping names none (EC2 EbsBlockDevice ``VolumeType``).
#: A root device keeps the AMI's type instead (below).
DEFAULT_VOLUME_TYPE = "gp2"
#: gp3 includes 3,000 IOPS and 125 MB/s; more is billed separately, at prices the catalog lacks.
GP3_BASELINE = {"iops": 3000.0, "throughput": 125.0}
#: Types that bill provisioned IOPS per IOPS-month besides storage (catalog ``ebs.<type>.iops``).
PROVISIONED_IOPS = ("io1", "io2")
#: io2's IOPS price falls in tiers above 32,000 IOPS: a flat ``ebs.io2.iops`` holds only below that.
IO2_FLAT_IOPS = 32000.0
#: Magnetic (``standard``) volumes also bill I/O requests, for which the usage block has no figure.
MAGNETIC_IO = "I/O requests are billed per million too: not priced, stars:usage has no figure for them"


@dataclass(frozen=True)
class Fleet:
    """Instance-hours a month per size, split into on-demand, reserved and spot."""

    on_demand: Quantity
    reserved: Quantity
    spot: Quantity

    @property
    def total(self) -> Quantity:
        return Quantity(*(self.on_demand.at(s) + self.reserved.at(s) + self.spot.at(s) for s in SIZES))


def usage_lines(
    ctx: RuleContext,
    fleet: Fleet,
    on_demand_type: str,
    spot_type: str,
    *,
    how: str = "",
    spot_how: str = "",
    spot_assumption: str = "",
) -> list[CostLine]:
    """Instance-hour lines: on demand, 1-year no-upfront reserved (on-demand x (1 - RI discount)) and spot
    (on-demand x (1 - typical spot discount), always estimated: a market price). Empty parts are left out.

    ``how`` explains the on-demand hours, ``spot_how`` which type spot runs on.
    """
    od_price = ctx.price(f"ec2.instance.{on_demand_type}")
    lines: list[CostLine] = []
    if any(fleet.on_demand.at(s) for s in SIZES):
        lines.append(
            line(
                f"Instance usage (Linux, on-demand, {on_demand_type})",
                "hours",
                fleet.on_demand,
                od_price,
                how=how,
            )
        )
    if any(fleet.reserved.at(s) for s in SIZES):
        discount = ctx.price("discount.ec2.ri_1yr_no_upfront")
        lines.append(
            line(
                f"Instance usage (Linux, reserved 1 yr no upfront, {on_demand_type})",
                "hours",
                fleet.reserved,
                od_price,
                factor=1 - discount.amount,
                also=[discount],
                how="on-demand x (1 - RI discount)",
            )
        )
    if any(fleet.spot.at(s) for s in SIZES):
        discount = ctx.catalog.spot_discount(ctx.region, spot_type)
        lines.append(
            line(
                f"Instance usage (Linux, spot, {spot_type})",
                "hours",
                fleet.spot,
                ctx.price(f"ec2.instance.{spot_type}"),
                factor=1 - discount.amount,
                also=[discount],
                how="on-demand x (1 - typical spot discount)" + (f"; {spot_how}" if spot_how else ""),
                estimated=True,
                note="spot prices move with the market",
                assumption=spot_assumption,
            )
        )
    return lines


def noted(lines: list[CostLine], note: str) -> list[CostLine]:
    """``lines`` with ``note`` added to the first one (the instance hours a note about them belongs to)."""
    if not note or not lines:
        return lines
    first = lines[0]
    return [replace(first, note="; ".join(n for n in (first.note, note) if n)), *lines[1:]]


def credit_mode(itype: str, specification: Any) -> str | None:
    """The CPU credit mode a burstable type runs in ("standard" or "unlimited"); None for other types.

    Unset is the family's default; a value the preview cannot show fails closed, since it decides whether
    surplus credits are billed.
    """
    default = BURSTABLE.get(itype.split(".")[0])
    if default is None:
        return None
    return choice(specification, "cpuCredits", "creditSpecification", CREDIT_MODES) or default


def surplus_credits(
    ctx: RuleContext,
    itype: str,
    credit_specification: Any,
    hours: Quantity,
    utilisation: Utilisation | None,
    *,
    no_target: str,
) -> tuple[CostLine | None, str]:
    """Surplus CPU credits of burstable instances in unlimited mode: vCPU-hours above the baseline.

    AWS bills them when an instance's 24-hour average CPU exceeds its type's baseline: instance-hours x
    vCPUs x (average - baseline) at each size (:mod:`budget.rules.cpu_load` finds the average). Without
    one there is no utilisation to price: the second value is a note saying so (``no_target`` says why);
    an average under the baseline bills nothing, and the note says that too.
    """
    if credit_mode(itype, credit_specification) != "unlimited":
        return None, ""
    if utilisation is None:
        return (
            None,
            f"unlimited CPU credits: CPU above the baseline bills surplus credits; not priced, {no_target}",
        )
    family = itype.split(".")[0]
    baseline = ctx.price(f"ec2.burst.{itype}.baseline")
    vcpus = ctx.price(f"ec2.vcpus.{itype}")
    surplus = Quantity(
        *(hours.at(s) * vcpus.amount * max(0.0, utilisation.share.at(s) - baseline.amount) for s in SIZES)
    )
    if not any(surplus.at(s) for s in SIZES):
        return None, (
            f"unlimited CPU credits: {utilisation.label()} at max size, under the {baseline.amount:.0%}"
            f" baseline: no surplus credits ({utilisation.how})"
        )
    return (
        line(
            f"Surplus CPU credits (unlimited mode; {utilisation.label()} vs {baseline.amount:.0%} baseline)",
            "vCPU-hours",
            surplus,
            ctx.price(f"ec2.cpu_credit.{family}"),
            usage_based=True,
            also=[baseline, vcpus],
            how=(
                f"instance-hours x {vcpus.amount:g} vCPU x (average CPU - {baseline.amount:.0%});"
                f" {utilisation.how}"
            ),
        ),
        "",
    )


def volume_lines(
    ctx: RuleContext,
    ebs: Mapping[str, Any],
    *,
    what: str,
    field: str,
    root: bool,
    instance_months: Quantity,
    owner: PlannedResource,
) -> list[CostLine]:
    """One EBS volume on each instance: GB-months, and IOPS-months for provisioned-IOPS types.

    What a root device's mapping leaves unset is the AMI's: its size (``stars:usage.ami_root_volume_gb``)
    and its type (``ami_root_volume_type``; Pulumi's ``rootBlockDevice.volumeType``: "Defaults to the
    volume type that the AMI uses"). Any other volume without a type is AWS's default gp2. Each default
    taken is stated as the line's assumption.
    """
    assumptions = []
    usage = ctx.inputs.usage
    if ebs.get("volumeSize") is None and root:
        size = float(usage.ami_root_volume_gb)
        assumptions.append(
            f"volumeSize unset: the AMI's root volume size, stars:usage.ami_root_volume_gb = {size:g} GB"
        )
    else:
        size = number(require(ebs, "volumeSize", owner), f"{field} volumeSize")
        if size <= 0:
            raise RuleError(f"{field} volumeSize must be positive, not {size:g}")
    kind = ebs.get("volumeType")
    if kind in (None, "") and root:
        kind = usage.ami_root_volume_type
        assumptions.append(
            f"volumeType unset on the root device: the AMI's, stars:usage.ami_root_volume_type = {kind}"
        )
    elif kind in (None, ""):
        kind = DEFAULT_VOLUME_TYPE
        assumptions.append(f"volumeType unset: AWS's default {DEFAULT_VOLUME_TYPE}")
    elif opaque(kind):
        raise RuleError(f"{field} volumeType is {why_opaque(kind)}")
    elif not isinstance(kind, str):
        raise RuleError(f"{field} volumeType is not a type name: {type(kind).__name__}")
    _within_gp3_baseline(ebs, kind, field)
    iops = 0.0
    if kind in PROVISIONED_IOPS:
        iops = number(require(ebs, "iops", owner), f"{field} iops")
        if iops <= 0 or (kind == "io2" and iops > IO2_FLAT_IOPS):
            raise RuleError(f"{field} {kind} iops {iops:g} has no catalog price")
    lines = [
        line(
            f"{what} ({kind}, {size:g} GB per instance)",
            "GB-months",
            instance_months.scaled(size),
            ctx.price(f"ebs.{kind}"),
            assumption="; ".join(assumptions),
            note=MAGNETIC_IO if kind == "standard" else "",
        )
    ]
    if iops:
        lines.append(
            line(
                f"{what} provisioned IOPS ({kind}, {iops:g} per instance)",
                "IOPS-months",
                instance_months.scaled(iops),
                ctx.price(f"ebs.{kind}.iops"),
            )
        )
    return lines


def linked_template(
    owner: PlannedResource, ctx: RuleContext, spec: Mapping[str, Any], prop: str
) -> PlannedResource:
    """The launch template ``spec`` (``{id | name | launchTemplateId | launchTemplateName}``) names, among
    the planned resources; not found is an error (its settings would be guessed)."""
    ref = spec.get("id") or spec.get("launchTemplateId") or spec.get("name") or spec.get("launchTemplateName")

    def match(cand: PlannedResource, value: Any) -> bool:
        return value in (cand.id, cand.inputs.get("name"), cand.name)

    template = ctx.linked(owner, prop, ref, (LAUNCH_TEMPLATE,), match)
    if template is None:
        raise RuleError(f"launch template {shown(ref)} not found among the planned resources")
    return template


def template_volume_lines(
    template: PlannedResource, ctx: RuleContext, instance_months: Quantity
) -> list[CostLine]:
    """Each instance's EBS volumes: the template's mappings, and the AMI's root volume when it maps none."""
    mappings = template.inputs.get("blockDeviceMappings") or []
    if not isinstance(mappings, list):
        raise RuleError(f"blockDeviceMappings are {unreadable_list(mappings)}")
    lines: list[CostLine] = []
    root_mapped = False
    for n, mapping in enumerate(mappings):
        if not isinstance(mapping, Mapping):
            raise RuleError(f"blockDeviceMappings[{n}] is {unreadable(mapping)}")
        device = mapping.get("deviceName")
        is_root = device in ROOT_DEVICES
        root_mapped = root_mapped or is_root
        ebs = mapping.get("ebs")
        if mapping.get("noDevice") or mapping.get("virtualName") or ebs is None:
            continue  # a suppressed device or an instance-store volume: no EBS charge
        if not isinstance(ebs, Mapping):
            raise RuleError(f"blockDeviceMappings[{n}].ebs is {unreadable(ebs)}")
        what = "Root volume" if is_root else f"EBS volume {device}"
        lines.extend(
            volume_lines(
                ctx,
                ebs,
                what=what,
                field=f"blockDeviceMappings[{n}]",
                root=is_root,
                instance_months=instance_months,
                owner=template,
            )
        )
    if not root_mapped:
        lines.append(
            ami_root_volume_line(
                ctx,
                instance_months,
                f"launch template '{template.name}' maps no root device ({' or '.join(ROOT_DEVICES)})",
            )
        )
    return lines


def ami_root_volume_line(ctx: RuleContext, instance_months: Quantity, unmapped: str) -> CostLine:
    """The AMI's own root volume, kept when nothing maps the root device (``unmapped`` says what maps
    none): ``stars:usage.ami_root_volume_gb`` / ``ami_root_volume_type``, an assumption every report marks."""
    usage = ctx.inputs.usage
    size, kind = float(usage.ami_root_volume_gb), usage.ami_root_volume_type
    if kind in PROVISIONED_IOPS:
        raise RuleError(
            f"{unmapped}, and the AMI's root volume type {kind} (stars:usage.ami_root_volume_type) bills"
            " provisioned IOPS the usage block does not state"
        )
    return line(
        f"Root volume from the AMI ({kind}, {size:g} GB per instance)",
        "GB-months",
        instance_months.scaled(size),
        ctx.price(f"ebs.{kind}"),
        assumption=(
            f"{unmapped}: the AMI's root volume, stars:usage.ami_root_volume_gb = {size:g} GB and"
            f" ami_root_volume_type = {kind} (Amazon Linux 2023's default)"
        ),
    )


def monitoring_line(ctx: RuleContext, instance_months: Quantity) -> CostLine:
    """Detailed monitoring: its metrics, billed like custom metrics, per instance-month."""
    return line(
        "Detailed monitoring (7 metrics per instance)",
        "metric-months",
        instance_months.scaled(DETAILED_METRICS_PER_INSTANCE),
        ctx.price("cloudwatch.metric.detailed_monitoring"),
    )


def public_ipv4_line(ctx: RuleContext, hours: Quantity) -> CostLine:
    """A public IPv4 address per instance-hour (billed since 2024-02-01, like any public address)."""
    return line("Public IPv4 address per instance", "hours", hours, ctx.price("vpc.public_ipv4"))


def interfaces_ask_public_ipv4(interfaces: Any, whose: str = "") -> bool | None:
    """What a launch template's network interfaces say about a public IPv4 address: True when one asks
    for it, False when those that say decline, None when none says (the subnet decides)."""
    interfaces = interfaces or []
    if not isinstance(interfaces, list):
        raise RuleError(
            f"{whose}networkInterfaces are {unreadable_list(interfaces)}: public addresses cannot be told"
        )
    said = [i for i in interfaces if isinstance(i, Mapping) and i.get("associatePublicIpAddress") is not None]
    return any(flag(i, "associatePublicIpAddress") for i in said) if said else None


def public_ipv4_lines(
    owner: PlannedResource, ctx: RuleContext, asked: bool | None, subnets: Any, prop: str, hours: Quantity
) -> list[CostLine]:
    """The public IPv4 address each instance holds for ``hours``: as ``asked`` when the instance or its
    template says; otherwise as its subnet assigns one.

    No subnet named: the instance launches in the default VPC, whose default subnets assign one (AWS's
    default; a stated assumption). A subnet in this preview: its ``mapPublicIpOnLaunch`` (unknown until
    deploy fails closed). A subnet outside the preview: AWS's default for a subnet one creates, none.
    """
    if asked is not None:
        return [public_ipv4_line(ctx, hours)] if asked else []
    if subnets is None or subnets == "" or subnets == []:
        assumption = (
            f"'{owner.name}' names no subnet ({prop}): it launches in the default VPC, whose default"
            " subnets assign every instance a public IPv4 address (AWS's default)"
        )
        return [replace(public_ipv4_line(ctx, hours), assumption=assumption)]
    named = subnets if isinstance(subnets, list) else [subnets]
    urns = set(owner.property_dependencies.get(prop, ()))
    for subnet in ctx.of_type(SUBNET):
        if subnet.urn not in urns and (subnet.id is None or subnet.id not in named):
            continue
        maps = subnet.inputs.get("mapPublicIpOnLaunch")
        if opaque(maps):
            raise RuleError(f"subnet '{subnet.name}' mapPublicIpOnLaunch is {why_opaque(maps)}")
        if flag(subnet.inputs, "mapPublicIpOnLaunch"):
            note = f"subnet '{subnet.name}' assigns a public IPv4 address on launch (mapPublicIpOnLaunch)"
            return [replace(public_ipv4_line(ctx, hours), note=note)]
    return []


def _within_gp3_baseline(ebs: Mapping[str, Any], kind: str, field: str) -> None:
    if kind != "gp3":
        return
    for key, included in GP3_BASELINE.items():
        value = ebs.get(key)
        if value is not None and number(value, f"{field} {key}") > included:
            raise RuleError(f"{field} gp3 {key} above the included {included:g} has no catalog price")
