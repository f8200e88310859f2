"""EC2 through an auto-scaling group and its launch template.

Instance hours at the group's min, desired and max size; the spot share from the mixed-instances policy;
a scheduled off-peak scale-down; root volumes, detailed-monitoring metrics and public IPv4 addresses per
instance; for burstable types in unlimited credit mode, surplus CPU credits at the group's CPU target.
The launch template itself is free: it is priced here, through the group that launches it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from budget.model import SIZES, CostLine, PlannedResource, Quantity, line
from budget.rules.base import UNKNOWN, RuleContext, RuleError, flag, number, require, reserved_pricing

TYPES = ("aws:autoscaling/group:Group",)
LAUNCH_TEMPLATE = "aws:ec2/launchTemplate:LaunchTemplate"
SCHEDULE = "aws:autoscaling/schedule:Schedule"
POLICY = "aws:autoscaling/policy:Policy"
#: EC2 detailed monitoring publishes 7 metrics per instance (infracost instance_test: 7 x $0.30 = $2.10).
DETAILED_METRICS_PER_INSTANCE = 7
#: Burstable families: launched in unlimited credit mode unless the launch template says "standard".
BURSTABLE = ("t3", "t3a", "t4g")


@dataclass(frozen=True)
class OffPeak:
    """The scheduled scale-down: hours per day and the group's sizes during them."""

    hours_per_day: float
    min_size: float | None
    desired: float | None
    max_size: float | None
    how: str


@dataclass(frozen=True)
class Fleet:
    """Instance-hours per size, split into on-demand, reserved and spot."""

    on_demand: Quantity
    reserved: Quantity
    spot: Quantity

    @property
    def total(self) -> Quantity:
        return Quantity(*(self.on_demand.at(s) + self.reserved.at(s) + self.spot.at(s) for s in SIZES))


def _launch_template(group: PlannedResource, ctx: RuleContext) -> tuple[PlannedResource, str | None]:
    """The group's launch template and the instance type its mixed policy overrides it with (if any)."""
    inputs = group.inputs
    spec: Mapping[str, Any] | None = inputs.get("launchTemplate")
    prop = "launchTemplate"
    override_type: str | None = None
    mixed = inputs.get("mixedInstancesPolicy")
    if spec is None and isinstance(mixed, Mapping):
        lt = mixed.get("launchTemplate") or {}
        spec = lt.get("launchTemplateSpecification")
        prop = "mixedInstancesPolicy"
        overrides = lt.get("overrides") or []
        types = [o.get("instanceType") for o in overrides if o.get("instanceType")]
        if len(set(types)) > 1:
            raise RuleError(f"mixed policy overrides several instance types {sorted(set(types))}; not priced")
        override_type = types[0] if types else None
    if not isinstance(spec, Mapping):
        raise RuleError(
            "no launchTemplate (or mixedInstancesPolicy launch template) to take the instance type from"
        )
    ref = spec.get("id") or spec.get("launchTemplateId") or spec.get("name") or spec.get("launchTemplateName")

    def match(cand: PlannedResource, value: Any) -> bool:
        return value in (cand.id, cand.inputs.get("name"), cand.name)

    template = ctx.linked(group, prop, ref, (LAUNCH_TEMPLATE,), match)
    if template is None:
        raise RuleError(f"launch template {ref!r} not found among the planned resources")
    return template, override_type


def _cron_hour(recurrence: Any) -> float | None:
    """Hour of day of a daily cron ("M H * * *"), or None for anything else."""
    if not isinstance(recurrence, str):
        return None
    parts = recurrence.split()
    if len(parts) != 5 or parts[2:] != ["*", "*", "*"] or not (parts[0].isdigit() and parts[1].isdigit()):
        return None
    return int(parts[1]) + int(parts[0]) / 60


def _size(value: Any) -> float | None:
    if value is None or value == UNKNOWN:
        return None
    size = number(value, "schedule size")
    return None if size < 0 else size  # -1 means "leave unchanged"


def _off_peak(group: PlannedResource, ctx: RuleContext) -> OffPeak | None:
    """The off-peak window from the group's two daily schedules (scale down, scale up), if it has them."""
    names = {group.id, group.inputs.get("name"), group.name} - {None}
    schedules = [
        s
        for s in ctx.of_type(SCHEDULE)
        if s.inputs.get("autoscalingGroupName") in names
        or group.urn in s.property_dependencies.get("autoscalingGroupName", ())
    ]
    if not schedules:
        return None
    if len(schedules) != 2:
        raise RuleError(f"expected a scale-down and a scale-up schedule, found {len(schedules)}")

    def ceiling(s: PlannedResource) -> float:
        size = _size(s.inputs.get("maxSize"))
        return float("inf") if size is None else size

    down, up = sorted(schedules, key=ceiling)
    start, end = _cron_hour(down.inputs.get("recurrence")), _cron_hour(up.inputs.get("recurrence"))
    if start is None or end is None:
        raise RuleError("schedules are not daily crons ('M H * * *'); off-peak hours unknown")
    hours = (end - start) % 24
    return OffPeak(
        hours_per_day=hours,
        min_size=_size(down.inputs.get("minSize")),
        desired=_size(down.inputs.get("desiredCapacity")),
        max_size=_size(down.inputs.get("maxSize")),
        how=f"off-peak {hours:g} h/day from schedules '{down.name}' ({down.inputs.get('recurrence')})"
        f" and '{up.name}' ({up.inputs.get('recurrence')})",
    )


def _on_demand(count: float, base: float, percent: float) -> float:
    """On-demand instances among ``count``: the base, then ``percent`` of the rest (the policy's split)."""
    return min(count, base) + max(0.0, count - base) * percent / 100.0


def fleet_hours(group: PlannedResource, ctx: RuleContext, off_peak: OffPeak | None) -> Fleet:
    """Instance-hours a month per size, split by purchase option."""
    inputs = group.inputs
    low = number(require(inputs, "minSize", group), "minSize")
    high = number(require(inputs, "maxSize", group), "maxSize")
    desired_raw = inputs.get("desiredCapacity")
    desired = low if desired_raw in (None, UNKNOWN) else number(desired_raw, "desiredCapacity")
    base, percent = 0.0, 100.0
    mixed = inputs.get("mixedInstancesPolicy")
    if isinstance(mixed, Mapping):
        dist = mixed.get("instancesDistribution") or {}
        base = number(dist.get("onDemandBaseCapacity", 0), "onDemandBaseCapacity")
        percent = number(
            dist.get("onDemandPercentageAboveBaseCapacity", 100), "onDemandPercentageAboveBaseCapacity"
        )
    peak = {"min": low, "desired": desired, "max": high}
    periods: dict[str, list[tuple[float, float]]] = {}  # size -> [(instances, hours)]
    month = ctx.hours
    for size, count in peak.items():
        if off_peak is None or off_peak.hours_per_day == 0:
            periods[size] = [(count, month)]
            continue
        off_low = low if off_peak.min_size is None else off_peak.min_size
        off_high = high if off_peak.max_size is None else off_peak.max_size
        off = {
            "min": off_low,
            "desired": off_peak.desired
            if off_peak.desired is not None
            else min(max(desired, off_low), off_high),
            "max": off_high,
        }[size]
        off_hours = month * off_peak.hours_per_day / 24
        periods[size] = [(count, month - off_hours), (off, off_hours)]
    reserved_count = 0.0
    if reserved_pricing(group, ctx):
        # 1-year reservations (the group's purchase tag, or the what-if) cover only the baseline that runs
        # all month on demand: the fewest on-demand instances in any period at the minimum size.
        reserved_count = min(_on_demand(n, base, percent) for n, _ in periods["min"])
    od, rs, sp = [], [], []
    for size in SIZES:
        on_demand = sum(_on_demand(n, base, percent) * h for n, h in periods[size])
        total = sum(n * h for n, h in periods[size])
        reserved = reserved_count * month
        od.append(on_demand - reserved)
        rs.append(reserved)
        sp.append(total - on_demand)
    return Fleet(Quantity(*od), Quantity(*rs), Quantity(*sp))


def price(group: PlannedResource, ctx: RuleContext) -> list[CostLine]:
    template, override_type = _launch_template(group, ctx)
    lt = template.inputs
    itype = override_type or require(lt, "instanceType", template)
    family = str(itype).split(".")[0]
    od_price = ctx.price(f"ec2.instance.{itype}")
    off_peak = _off_peak(group, ctx)
    fleet = fleet_hours(group, ctx, off_peak)
    how = off_peak.how if off_peak else ""
    lines: list[CostLine] = []
    credit_line, note = _cpu_credits(group, template, str(itype), fleet, ctx)
    if any(fleet.on_demand.at(s) for s in SIZES):
        lines.append(
            line(
                f"Instance usage (Linux, on-demand, {itype})",
                "hours",
                fleet.on_demand,
                od_price,
                how=how,
                note=note,
            )
        )
    if any(fleet.reserved.at(s) for s in SIZES):
        discount = ctx.price("discount.ec2.ri_1yr_no_upfront")
        lines.append(
            line(
                f"Instance usage (Linux, reserved 1 yr no upfront, {itype})",
                "hours",
                fleet.reserved,
                od_price,
                factor=1 - discount.amount,
                also=[discount],
                how="on-demand x (1 - RI discount)",
            )
        )
    if any(fleet.spot.at(s) for s in SIZES):
        discount = ctx.price(f"ec2.spot_discount.{family}")
        lines.append(
            line(
                f"Instance usage (Linux, spot, {itype})",
                "hours",
                fleet.spot,
                od_price,
                factor=1 - discount.amount,
                also=[discount],
                how="on-demand x (1 - typical spot discount)",
                estimated=True,
                note="spot prices move with the market",
            )
        )
    if credit_line is not None:
        lines.append(credit_line)
    instance_months = fleet.total.scaled(1 / ctx.hours)
    lines.extend(_root_volumes(template, ctx, instance_months))
    monitoring = lt.get("monitoring")
    if isinstance(monitoring, Mapping) and flag(monitoring, "enabled"):
        lines.append(
            line(
                "Detailed monitoring (7 metrics per instance)",
                "metric-months",
                instance_months.scaled(DETAILED_METRICS_PER_INSTANCE),
                ctx.price("cloudwatch.metric.detailed_monitoring"),
            )
        )
    interfaces = lt.get("networkInterfaces") or []
    if any(str(i.get("associatePublicIpAddress")).lower() == "true" for i in interfaces):
        lines.append(
            line("Public IPv4 address per instance", "hours", fleet.total, ctx.price("vpc.public_ipv4"))
        )
    return lines


def _cpu_target(group: PlannedResource, ctx: RuleContext) -> float | None:
    """The group's target-tracking CPU target (percent), from its scaling policy, if it has one."""
    names = {group.id, group.inputs.get("name"), group.name} - {None}
    for policy in ctx.of_type(POLICY):
        linked = policy.inputs.get(
            "autoscalingGroupName"
        ) in names or group.urn in policy.property_dependencies.get("autoscalingGroupName", ())
        tracking = policy.inputs.get("targetTrackingConfiguration") or {}
        metric = (tracking.get("predefinedMetricSpecification") or {}).get("predefinedMetricType")
        if (
            linked
            and metric == "ASGAverageCPUUtilization"
            and tracking.get("targetValue") not in (None, UNKNOWN)
        ):
            return number(tracking["targetValue"], "targetValue")
    return None


def _cpu_credits(
    group: PlannedResource, template: PlannedResource, itype: str, fleet: Fleet, ctx: RuleContext
) -> tuple[CostLine | None, str]:
    """Surplus CPU credits of burstable instances in unlimited mode, at the group's CPU target.

    Target tracking holds the group's average CPU at its target; above the type's baseline, unlimited mode
    bills the difference per vCPU-hour. Without a CPU target there is no utilisation to price: a note says so.
    """
    family = itype.split(".")[0]
    credits = template.inputs.get("creditSpecification") or {}
    if family not in BURSTABLE or credits.get("cpuCredits", "unlimited") != "unlimited":
        return None, ""
    target = _cpu_target(group, ctx)
    if target is None:
        return None, (
            "unlimited CPU credits: CPU above the baseline bills surplus credits; not priced, the group"
            " has no CPU target to take the utilisation from"
        )
    baseline = ctx.price(f"ec2.burst.{itype}.baseline")
    vcpus = ctx.price(f"ec2.vcpus.{itype}")
    surplus = max(0.0, target / 100 - baseline.amount)
    if surplus == 0:
        return None, ""
    return (
        line(
            f"Surplus CPU credits (unlimited mode; CPU at the {target:g}% target"
            f" vs {baseline.amount:.0%} baseline)",
            "vCPU-hours",
            fleet.total.scaled(vcpus.amount * surplus),
            ctx.price(f"ec2.cpu_credit.{family}"),
            usage_based=True,
            also=[baseline, vcpus],
            how=f"instance-hours x {vcpus.amount:g} vCPU x ({target:g}% - {baseline.amount:.0%})",
        ),
        "",
    )


def _root_volumes(template: PlannedResource, ctx: RuleContext, instance_months: Quantity) -> list[CostLine]:
    mappings = template.inputs.get("blockDeviceMappings") or []
    if not mappings:
        raise RuleError(f"launch template '{template.name}' sets no root volume (blockDeviceMappings)")
    lines = []
    for mapping in mappings:
        ebs = mapping.get("ebs") or {}
        size = number(require(ebs, "volumeSize", template), "volumeSize")
        kind = ebs.get("volumeType") or "gp2"
        lines.append(
            line(
                f"Root volume ({kind}, {size:g} GB per instance)",
                "GB-months",
                instance_months.scaled(size),
                ctx.price(f"ebs.{kind}"),
            )
        )
    return lines
