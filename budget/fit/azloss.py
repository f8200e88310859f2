"""Does a configuration carry its peak with one availability zone lost?

A group's servers are spread evenly over the stack's zones (``stars:network.az_count``; the auto-scaling
group balances them), so losing a zone loses its fullest share: ``ceil(servers / zones)``. What is left must
still be at least the servers the capacity model asks for at the phase's peak, with the same headroom kept
(N+1 per zone). The data stores survive a zone's loss only Multi-AZ: the RDS standby of the same class takes
over, and the cache's replica of the same node type is promoted (automatic failover).

A phase whose availability class is ``multi_az`` must carry it (the search sizes its groups so); a
``single_az`` phase is told plainly what a zone's loss does to it.
"""

from __future__ import annotations

import math

from budget.capacity import CapacityModel, Loads
from budget.demand import demand_of
from budget.fit.report import AzLoss, TierAzLoss
from components.config import StackConfig


def az_loss(cfg: StackConfig, model: CapacityModel) -> AzLoss:
    """What one zone's loss leaves of ``cfg``'s servers at max size, against its peak demand."""
    demand = demand_of(cfg)
    loads = Loads.of(demand)
    zones = cfg.network.az_count
    tiers = []
    for group, tier in cfg.server_tiers.items():
        needed = model.size_servers(tier.instance_type, loads.of_group(group)).count
        left = tier.max_size - math.ceil(tier.max_size / zones)
        tiers.append(
            TierAzLoss(
                group=group,
                servers=tier.max_size,
                zones=zones,
                left_with_zone_lost=left,
                needed_at_peak=needed,
                carries=left >= needed,
            )
        )
    stores = cfg.database.multi_az and cfg.cache.automatic_failover and cfg.cache.num_cache_clusters >= 2
    servers_carry = all(t.carries for t in tiers)
    required = demand.availability == "multi_az"
    return AzLoss(
        required=required,
        carries=servers_carry and stores,
        zones=zones,
        servers=tiers,
        data_stores=(
            "the database's Multi-AZ standby (same class) takes over and the cache's replica is promoted"
            if stores
            else "the database and the cache live in one zone: losing it stops the service until the zone"
            " returns or the database is restored from a backup in another zone"
        ),
        statement=_statement(required, servers_carry, stores, tiers),
    )


def _statement(required: bool, servers_carry: bool, stores: bool, tiers: list[TierAzLoss]) -> str:
    short = [t for t in tiers if not t.carries]
    detail = "; ".join(
        f"{t.group}: {t.left_with_zone_lost} of {t.servers} servers left, {t.needed_at_peak} needed at peak"
        for t in (short or tiers)
    )
    if servers_carry and stores:
        return f"carries its peak with one zone lost ({detail})"
    if required:
        return f"DOES NOT carry its peak with one zone lost, which its availability class requires ({detail})"
    servers = "its servers carry the peak" if servers_carry else "its servers do not carry the peak"
    return (
        f"single-AZ by its availability class: with one zone lost {servers} ({detail}), and its data stores"
        f" {'survive' if stores else 'are down with their zone'}"
    )
