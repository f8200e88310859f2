"""ElastiCache replication group (Redis OSS or Valkey): node hours x nodes.

Valkey nodes cost 0.8 x the Redis OSS price (catalog factor). Backups: the snapshot kept by a one-day
retention is not priced (AWS keeps one backup per cluster free; recalled, not sourced; see the README).
"""

from __future__ import annotations

from budget.model import CostLine, PlannedResource, line
from budget.rules.base import (
    RuleContext,
    RuleError,
    known,
    number,
    require,
    reservable_line,
    reserved_pricing,
)

TYPES = ("aws:elasticache/replicationGroup:ReplicationGroup",)


def node_count(inputs: dict) -> float:
    """Nodes in the group; a count unknown until deploy (or secret) fails closed, naming it."""
    if inputs.get("numCacheClusters") is not None:
        return number(inputs["numCacheClusters"], "input 'numCacheClusters'")
    if inputs.get("numNodeGroups") is not None:
        groups = number(inputs["numNodeGroups"], "input 'numNodeGroups'")
        replicas = number(inputs.get("replicasPerNodeGroup") or 0, "input 'replicasPerNodeGroup'")
        return groups * (replicas + 1)
    return 1.0  # the provider's default: one primary, no replicas


def price(group: PlannedResource, ctx: RuleContext) -> list[CostLine]:
    inputs = dict(group.inputs)
    node = require(inputs, "nodeType", group)
    engine = str(known(inputs.get("engine"), "input 'engine'") or "redis").lower()
    nodes = node_count(inputs)
    redis = ctx.price(f"elasticache.redis.{node}")
    if engine == "redis":
        base = reservable_line(
            ctx,
            f"Cache nodes ({nodes:g} x {node}, Redis OSS)",
            "node-hours",
            nodes * ctx.hours,
            redis,
            "discount.elasticache.ri_1yr_no_upfront",
            resource=group,
        )
        return [base]
    if engine != "valkey":
        raise RuleError(f"engine '{engine}' has no prices in the catalog (redis, valkey)")
    factor = ctx.price("elasticache.valkey_factor")
    valkey = line(
        f"Cache nodes ({nodes:g} x {node}, Valkey)",
        "node-hours",
        nodes * ctx.hours,
        redis,
        factor=factor.amount,
        also=[factor],
        how="Redis OSS price x Valkey factor",
    )
    if not reserved_pricing(group, ctx):
        return [valkey]
    discount = ctx.price("discount.elasticache.ri_1yr_no_upfront")
    return [
        line(
            f"Cache nodes ({nodes:g} x {node}, Valkey), reserved 1 yr no upfront",
            "node-hours",
            nodes * ctx.hours,
            redis,
            factor=factor.amount * (1 - discount.amount),
            also=[factor, discount],
            how="Redis OSS price x Valkey factor x (1 - RI discount)",
        )
    ]
