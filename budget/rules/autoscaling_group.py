"""EC2 through an auto-scaling group and its launch template.

Instance hours at the group's min, desired and max size; the on-demand and spot shares from the
mixed-instances policy, each on the type AWS would launch (on demand: the first override, or the cheapest
per capacity unit under ``lowest-price``; spot: the cheapest per unit under ``lowest-price``, the dearest
under the capacity-based strategies, which do not choose by price: a stated assumption), counting
instances from each override's ``weightedCapacity``; a scheduled off-peak scale-down; EBS volumes,
detailed-monitoring metrics and public IPv4 addresses per instance; for burstable types in unlimited
credit mode, surplus CPU credits at the group's CPU target. A launch template that maps no root device
still launches the AMI's root volume, priced at ``stars:usage.ami_root_volume_gb`` /
``ami_root_volume_type`` (an assumption every report marks); an EBS volume without a type is AWS's
default gp2. The launch template itself is free: it is priced here, through the group that launches it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from budget.model import SIZES, CostLine, PlannedResource, Quantity
from budget.rules.base import (
    RuleContext,
    RuleError,
    flag,
    number,
    opaque,
    require,
    reserved_pricing,
    unreadable,
    unreadable_list,
    why_opaque,
)
from budget.rules.cpu_load import group_utilisation
from budget.rules.instance_model import (
    Fleet,
    credit_mode,
    interfaces_ask_public_ipv4,
    linked_template,
    monitoring_line,
    noted,
    public_ipv4_lines,
    surplus_credits,
    template_volume_lines,
    usage_lines,
)

TYPES = ("aws:autoscaling/group:Group",)
SCHEDULE = "aws:autoscaling/schedule:Schedule"
POLICY = "aws:autoscaling/policy:Policy"
#: Spot allocation strategies that choose pools by capacity, not price: the spot type cannot be told.
CAPACITY_STRATEGIES = ("capacity-optimized", "capacity-optimized-prioritized", "price-capacity-optimized")


@dataclass(frozen=True)
class Choice:
    """An instance type the group launches and the capacity units one instance counts for."""

    itype: str
    weight: float = 1.0

    def instances(self, units: float) -> float:
        """Instances that provide ``units`` (whole ones when weighted: AWS may overshoot by one)."""
        return units if self.weight == 1 else float(math.ceil(units / self.weight - 1e-9))


@dataclass(frozen=True)
class Mix:
    """Where the group's capacity goes: the on-demand and spot types, the split, and what it assumes."""

    on_demand: Choice
    spot: Choice
    base: float = 0.0
    percent: float = 100.0
    how: str = ""
    assumption: str = ""


@dataclass(frozen=True)
class OffPeak:
    """The scheduled scale-down: hours per day and the group's sizes during them."""

    hours_per_day: float
    min_size: float | None
    desired: float | None
    max_size: float | None
    how: str


def _launch_template(group: PlannedResource, ctx: RuleContext) -> PlannedResource:
    """The group's launch template (its own, or its mixed-instances policy's)."""
    inputs = group.inputs
    spec: Mapping[str, Any] | None = inputs.get("launchTemplate")
    prop = "launchTemplate"
    mixed = inputs.get("mixedInstancesPolicy")
    if spec is None and isinstance(mixed, Mapping):
        lt = mixed.get("launchTemplate") or {}
        spec = lt.get("launchTemplateSpecification") if isinstance(lt, Mapping) else None
        prop = "mixedInstancesPolicy"
    if not isinstance(spec, Mapping):
        raise RuleError(
            "no launchTemplate (or mixedInstancesPolicy launch template) to take the instance type from"
        )
    return linked_template(group, ctx, spec, prop)


def _choices(group: PlannedResource, template: PlannedResource) -> list[Choice]:
    """The types the group may launch: its mixed policy's overrides, else the template's type."""
    mixed = group.inputs.get("mixedInstancesPolicy")
    lt = mixed.get("launchTemplate") if isinstance(mixed, Mapping) else None
    overrides = lt.get("overrides") if isinstance(lt, Mapping) else None
    if overrides is None or overrides == []:
        return [Choice(str(require(template.inputs, "instanceType", template)))]
    if not isinstance(overrides, list):
        raise RuleError(f"mixedInstancesPolicy overrides are {unreadable_list(overrides)}")
    choices = []
    for n, override in enumerate(overrides):
        if not isinstance(override, Mapping):
            raise RuleError(f"mixedInstancesPolicy override {n} is {unreadable(override)}")
        if override.get("instanceRequirements"):
            raise RuleError(
                "an override selects types by attributes (instanceRequirements): which types AWS launches"
                " cannot be told"
            )
        if override.get("launchTemplateSpecification"):
            raise RuleError("an override with its own launch template is not priced (its volumes may differ)")
        itype = override.get("instanceType")
        if itype in (None, ""):
            itype = require(template.inputs, "instanceType", template)
        elif opaque(itype):
            raise RuleError(f"override {n}'s instanceType is {why_opaque(itype)}")
        weight = number(override.get("weightedCapacity") or 1, f"override {n}'s weightedCapacity")
        if weight <= 0:
            raise RuleError(f"override {n}'s weightedCapacity must be positive, not {weight:g}")
        choices.append(Choice(str(itype), weight))
    return choices


def _per_unit(choice: Choice, ctx: RuleContext, spot: bool) -> float:
    """The modelled hourly price of one capacity unit of ``choice`` (spot: on demand x (1 - discount))."""
    price = ctx.price(f"ec2.instance.{choice.itype}").amount
    if spot:
        price *= 1 - ctx.catalog.spot_discount(ctx.region, choice.itype).amount
    return price / choice.weight


def _mix(group: PlannedResource, template: PlannedResource, ctx: RuleContext) -> Mix:
    """The on-demand / spot split and the type each part runs on."""
    choices = _choices(group, template)
    mixed = group.inputs.get("mixedInstancesPolicy")
    if not isinstance(mixed, Mapping):
        return Mix(choices[0], choices[0])
    dist = mixed.get("instancesDistribution") or {}
    if not isinstance(dist, Mapping):
        raise RuleError(f"instancesDistribution is {unreadable(dist)}")
    base = number(_or(dist.get("onDemandBaseCapacity"), 0), "onDemandBaseCapacity")
    percent = number(
        _or(dist.get("onDemandPercentageAboveBaseCapacity"), 100), "onDemandPercentageAboveBaseCapacity"
    )
    if not 0 <= percent <= 100 or base < 0:
        raise RuleError(f"on-demand base {base:g} / percentage {percent:g} out of range")
    hows: list[str] = []
    on_strategy = dist.get("onDemandAllocationStrategy") or "prioritized"
    if on_strategy == "prioritized":
        on_demand = choices[0]
    elif on_strategy == "lowest-price":
        on_demand = min(choices, key=lambda c: _per_unit(c, ctx, spot=False))
    else:
        raise RuleError(f"onDemandAllocationStrategy {on_strategy!r} has no rule")
    if len(choices) > 1:
        hows.append(f"on demand on {on_demand.itype} ({on_strategy})")
    spot, assumption = on_demand, ""
    if percent < 100 and len({c.itype for c in choices}) > 1:
        spot_strategy = dist.get("spotAllocationStrategy") or "lowest-price"
        if spot_strategy == "lowest-price":
            spot = min(choices, key=lambda c: _per_unit(c, ctx, spot=True))
        elif spot_strategy in CAPACITY_STRATEGIES:
            spot = max(choices, key=lambda c: _per_unit(c, ctx, spot=True))
            assumption = (
                f"spotAllocationStrategy {spot_strategy} picks spot pools by capacity, not price: spot priced"
                f" on the dearest type per capacity unit ({spot.itype}), an upper bound"
            )
        else:
            raise RuleError(f"spotAllocationStrategy {spot_strategy!r} has no rule")
        hows.append(f"spot on {spot.itype} ({spot_strategy})")
    elif percent < 100:
        spot = choices[0]
    if any(c.weight != 1 for c in choices):
        hows.append("instances = capacity units / weightedCapacity, rounded up")
    return Mix(on_demand, spot, base, percent, "; ".join(hows), assumption)


def _or(value: Any, default: float) -> Any:
    return default if value is None else value


def _cron_hour(recurrence: Any) -> float | None:
    """Hour of day of a daily cron ("M H * * *"), or None for anything else."""
    if not isinstance(recurrence, str):
        return None
    parts = recurrence.split()
    if len(parts) != 5 or parts[2:] != ["*", "*", "*"] or not (parts[0].isdigit() and parts[1].isdigit()):
        return None
    return int(parts[1]) + int(parts[0]) / 60


def _size(value: Any) -> float | None:
    if value is None or opaque(value):
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
    """On-demand capacity among ``count`` units: the base, then ``percent`` of the rest (the split)."""
    return min(count, base) + max(0.0, count - base) * percent / 100.0


def fleet_hours(group: PlannedResource, ctx: RuleContext, off_peak: OffPeak | None, mix: Mix) -> Fleet:
    """Instance-hours a month per size, split by purchase option (each on its type, per ``mix``).

    A desired capacity unknown until deploy is priced at the minimum size (the policy judges the
    maximum); an unknown minimum or maximum fails closed, naming it.
    """
    inputs = group.inputs
    low = number(require(inputs, "minSize", group), "minSize")
    high = number(require(inputs, "maxSize", group), "maxSize")
    desired_raw = inputs.get("desiredCapacity")
    desired = low if desired_raw is None or opaque(desired_raw) else number(desired_raw, "desiredCapacity")
    base, percent = mix.base, mix.percent
    peak = {"min": low, "desired": desired, "max": high}
    periods: dict[str, list[tuple[float, float]]] = {}  # size -> [(capacity units, hours)]
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

    def split(units: float) -> tuple[float, float]:
        """(on-demand, spot) instances for ``units`` of capacity."""
        on_demand = _on_demand(units, base, percent)
        return mix.on_demand.instances(on_demand), mix.spot.instances(units - on_demand)

    reserved_count = 0.0
    if reserved_pricing(group, ctx):
        # 1-year reservations (the group's purchase tag, or the what-if) cover only the baseline that runs
        # all month on demand: the fewest on-demand instances in any period at the minimum size.
        reserved_count = min(split(n)[0] for n, _ in periods["min"])
    od, rs, sp = [], [], []
    for size in SIZES:
        on_demand = sum(split(n)[0] * h for n, h in periods[size])
        spot = sum(split(n)[1] * h for n, h in periods[size])
        reserved = reserved_count * month
        od.append(on_demand - reserved)
        rs.append(reserved)
        sp.append(spot)
    return Fleet(Quantity(*od), Quantity(*rs), Quantity(*sp))


def price(group: PlannedResource, ctx: RuleContext) -> list[CostLine]:
    template = _launch_template(group, ctx)
    lt = template.inputs
    mix = _mix(group, template, ctx)
    off_peak = _off_peak(group, ctx)
    fleet = fleet_hours(group, ctx, off_peak, mix)
    how = "; ".join(h for h in (off_peak.how if off_peak else "", mix.how) if h)
    od_type, spot_type = mix.on_demand.itype, mix.spot.itype
    lines = usage_lines(
        ctx, fleet, od_type, spot_type, how=how, spot_how=mix.how, spot_assumption=mix.assumption
    )
    by_type: dict[str, Quantity] = {}
    for itype, hours in ((od_type, fleet.on_demand), (od_type, fleet.reserved), (spot_type, fleet.spot)):
        if itype in by_type:
            hours = Quantity(*(by_type[itype].at(s) + hours.at(s) for s in SIZES))
        by_type[itype] = hours
    target = _cpu_target(group, ctx)
    utilisation = None
    if any(credit_mode(t, lt.get("creditSpecification")) == "unlimited" for t in by_type):
        vcpu_hours = Quantity(
            *(sum(h.at(s) * ctx.price(f"ec2.vcpus.{t}").amount for t, h in by_type.items()) for s in SIZES)
        )
        utilisation = group_utilisation(ctx, group.tier, vcpu_hours, target)
    credits = [
        surplus_credits(
            ctx,
            itype,
            lt.get("creditSpecification"),
            hours,
            utilisation,
            no_target="neither a stars:demand block nor a CPU target gives the group's utilisation",
        )
        for itype, hours in by_type.items()
    ]
    lines = noted(lines, next((n for _, n in credits if n), ""))
    lines.extend(credit for credit, _ in credits if credit is not None)
    instance_months = fleet.total.scaled(1 / ctx.hours)
    lines.extend(template_volume_lines(template, ctx, instance_months))
    monitoring = lt.get("monitoring")
    if isinstance(monitoring, Mapping) and flag(monitoring, "enabled"):
        lines.append(monitoring_line(ctx, instance_months))
    asked = interfaces_ask_public_ipv4(lt.get("networkInterfaces"))
    # a group placed by availabilityZones names no subnets: the default VPC's
    subnets = group.inputs.get("vpcZoneIdentifiers")
    lines.extend(public_ipv4_lines(group, ctx, asked, subnets, "vpcZoneIdentifiers", fleet.total))
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
            and tracking.get("targetValue") is not None
            and not opaque(tracking.get("targetValue"))
        ):
            return number(tracking["targetValue"], "targetValue")
    return None
