"""The CPU a burstable server or database runs at over 24 hours: what unlimited-mode credits are billed on.

AWS bills surplus CPU credits of a T-family instance in unlimited mode only when its average CPU over a
rolling 24 hours exceeds the type's baseline (EC2: USD 0.05 per vCPU-hour for T3; RDS db.t3/db.t4g always
run unlimited: USD 0.075). A server that idles below its baseline pays none, whatever its scaling target.

The average comes from the phase's demand through the capacity model (``budget.capacity``), at the
measured costs the pricing inputs carry (``PricingInputs.measured``): the CPU the group's peak load
needs (connections, deliveries, API requests, or the database's statements) over the daily profile's
peak-to-average ratio, spread over the vCPUs the fleet runs at each size (arm64 vCPUs taken as fast as
the measuring machine's, the capacity model's default). Above the group's CPU target the group adds
servers, so the average is held to the target; a stack without a demand block has no load to take: its
groups are priced at their CPU target, as an upper bound, and said so.
"""

from __future__ import annotations

from dataclasses import dataclass

from budget.capacity import Measured, Settings, Unmeasured, average_cores, database_average_cores
from budget.model import SIZES, Quantity
from budget.rules.base import RuleContext, RuleError

#: The server groups whose load the demand describes (``components.stack``'s tiers).
SERVER_GROUPS = ("api", "realtime", "app")


@dataclass(frozen=True)
class Utilisation:
    """A fleet's average CPU per vCPU at each size (0-1), and how it was found."""

    share: Quantity
    how: str
    from_demand: bool

    def label(self) -> str:
        at_max = self.share.at("max")
        return f"24-hour average CPU {at_max:.1%}" if self.from_demand else f"CPU at the {at_max:.0%} target"


def _measured(ctx: RuleContext, what: str) -> Measured:
    """The measured costs the inputs carry; without them the resource cannot be priced (a RuleError)."""
    measured = ctx.inputs.measured
    if isinstance(measured, Unmeasured):
        raise RuleError(f"{what}: {measured.reason}")
    return measured


def group_utilisation(
    ctx: RuleContext, tier: str, vcpu_hours: Quantity, target: float | None
) -> Utilisation | None:
    """A server group's average CPU per vCPU at each size, ``vcpu_hours`` being its fleet's vCPU-hours a
    month at each size; None when neither a demand nor a CPU target gives one."""
    demand = ctx.inputs.demand
    cap = target / 100 if target is not None else 1.0
    if demand is None or tier not in SERVER_GROUPS:
        if target is None:
            return None
        why = "no stars:demand block" if demand is None else f"tier {tier!r} carries no load the demand names"
        return Utilisation(
            Quantity.fixed(cap), f"{why}: CPU taken at the group's target, an upper bound", False
        )
    average, peak = average_cores(_measured(ctx, "the group's CPU load"), demand, tier)
    speed = Settings().arm64_speed
    load_hours = average / speed * ctx.hours

    def share(size: str) -> float:
        fleet = vcpu_hours.at(size)
        return min(cap, load_hours / fleet) if fleet > 0 else cap

    how = (
        f"the {tier} load at peak needs {peak:.3f} cores (capacity model), / {demand.peak_to_average:g}"
        f" (daily profile) = {average:.3f} cores on average, over the fleet's vCPUs"
        + (f", at most the {target:g}% target" if target is not None else "")
    )
    return Utilisation(Quantity(*(share(size) for size in SIZES)), how, True)


def database_utilisation(ctx: RuleContext, vcpus: float) -> Utilisation | None:
    """The primary database's average CPU per vCPU (every statement on the primary); None without demand."""
    demand = ctx.inputs.demand
    if demand is None:
        return None
    average, peak = database_average_cores(_measured(ctx, "the database's CPU load"), demand)
    share = min(1.0, average / Settings().arm64_speed / vcpus)
    how = (
        f"{demand.concurrent_users * demand.db_statements_per_user_per_second:,.0f} statements/s at peak need"
        f" {peak:.3f} cores (capacity model), / {demand.peak_to_average:g} (daily profile) = {average:.3f}"
        f" cores on average over {vcpus:g} vCPUs; all statements on the primary"
    )
    return Utilisation(Quantity.fixed(share), how, True)
