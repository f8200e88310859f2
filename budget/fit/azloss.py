"""Does a configuration carry its peak with one availability zone lost?

A group's servers are spread evenly over the stack's zones (``stars:network.az_count``; the auto-scaling
group balances them), so losing a zone loses its fullest share: ``ceil(servers / zones)``, judged at the
group's minimum size (its CPU scaling policy may hold it there at peak), and on its on-demand servers
only: a spot server may be reclaimed when capacity is scarcest, as it is while a zone is down. What is
left must still be at least the servers the capacity model asks for at the phase's peak, with the same
headroom kept (N+1 per zone). The data stores survive a zone's loss only Multi-AZ: the RDS standby of the
same class takes over, and the cache's replica of the same node type is promoted (automatic failover).

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
    """What one zone's loss leaves of ``cfg``'s servers at their minimum size, against the peak demand.

    The groups scale on CPU (target tracking), and connections rather than CPU may decide a group's count,
    so at peak a group may sit at its minimum: that is the size a zone's loss must be judged at."""
    demand = demand_of(cfg)
    loads = Loads.of(demand)
    zones = cfg.network.az_count
    tiers = []
    for group, tier in cfg.server_tiers.items():
        needed = model.size_servers(tier.instance_type, loads.of_group(group)).count
        on_demand = min(tier.spot.on_demand_base, tier.min_size) if tier.spot.enabled else tier.min_size
        # the worst case: the lost zone held on-demand servers only; spot servers are not counted on
        left = max(0, on_demand - math.ceil(tier.min_size / zones))
        tiers.append(
            TierAzLoss(
                group=group,
                servers=tier.min_size,
                max_servers=tier.max_size,
                zones=zones,
                left_with_zone_lost=left,
                needed_at_peak=needed,
                carries=left >= needed,
                spot_servers=tier.min_size - on_demand,
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
        f"{t.group}: {t.left_with_zone_lost} of its minimum {t.servers} servers left (max {t.max_servers}),"
        f" {t.needed_at_peak} needed at peak"
        + (f"; its {t.spot_servers} spot servers not counted on" if t.spot_servers else "")
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
