"""Does the database take every PostgreSQL connection the servers' pools may open, and with what pool?

Every runtime process (each worker of each server) opens its own pool, and RDS for PostgreSQL refuses
connections past ``max_connections``: by default ``LEAST(DBInstanceClassMemory / 9,531,392, 5000)``, where
``DBInstanceClassMemory`` is the class's memory less what the OS and RDS keep (catalog:
``rds.postgres.max_connections.*``, ``rds.class_memory_reserve_mib``). Of those, PostgreSQL keeps
``superuser_reserved_connections`` (3) for superusers, and the plan keeps ``ADMIN_MARGIN`` for the schema
migration each booting server runs, an operator's session and monitoring.

The check is at every group's max size (the auto-scaling maximum x its workers) during an instance refresh:
a deploy launches each group's replacements before terminating the servers they replace, so up to
``REFRESH_MAX_HEALTHY_PERCENT`` (200%) of a group runs at once (``components.server_tier``), and the
connections of both must fit (review finding F8: counted at max size only, phase 3's pools took 36 of
db.t4g.micro's 43 connections and a deploy could ask for 72). Processes x pool must fit what is left.
The pool each process gets is the largest that fits, at most ``MAX_POOL`` (the runtime's own
ceiling, 10 + 10), and at least what one process needs:

    needed = max(2, ceil(statements/s / fewest processes x database time per statement / (1 - headroom)))

where the fewest processes are those of the smallest group at its minimum size (a CPU scaling policy may
hold a group there at peak, and one group may issue every statement), and the database time per statement
is the capacity model's measured figure. Two is the floor because the Store writes on at most half its
pool, so a read always finds a connection. A class where no pool of at least ``needed`` fits is rejected,
and the search takes a larger one.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import NamedTuple

from budget.capacity import CapacityModel, spec
from budget.fit.report import DbConnections
from components.config import StackConfig
from components.server_tier import REFRESH_MAX_HEALTHY_PERCENT

#: PostgreSQL's superuser_reserved_connections default (postgresql.org docs, runtime config, connections).
SUPERUSER_RESERVED = 3
#: Connections kept for the boot migration (one per booting server), an operator's psql and monitoring
#: (an assumption of this plan, stated in every report).
ADMIN_MARGIN = 10
#: Fewest connections per process: the Store's writers take at most half its pool.
MIN_POOL = 2
#: Most connections per process fit gives: the runtime's default ceiling (pool 10 + overflow 10).
MAX_POOL = 20


class GroupSize(NamedTuple):
    """One server group: its minimum and maximum servers and the runtime processes on each."""

    min_size: int
    max_size: int
    workers: int


def max_connections(model: CapacityModel, instance_class: str) -> int:
    """RDS for PostgreSQL's default max_connections for ``instance_class``."""
    catalog = model.catalog
    figures = catalog.global_prices
    memory = spec(catalog, "rds", instance_class).memory_gib * 2**30
    usable = memory - figures["rds.class_memory_reserve_mib"].amount * 2**20
    per = figures["rds.postgres.max_connections.bytes_per_connection"].amount
    return int(min(max(0.0, usable) // per, figures["rds.postgres.max_connections.cap"].amount))


def in_refresh(servers: int) -> int:
    """Servers a group of ``servers`` may run while an instance refresh launches their replacements."""
    return servers * REFRESH_MAX_HEALTHY_PERCENT // 100


def pool_needed(model: CapacityModel, statements_per_s: float, groups: Mapping[str, GroupSize]) -> int:
    """Connections one process needs (the rule in the module's text)."""
    fewest = min((max(1, g.min_size) * g.workers for g in groups.values()), default=1)
    in_flight = statements_per_s / fewest * model.measured.db_us_per_statement.value / 1e6
    return max(MIN_POOL, math.ceil(in_flight / (1 - model.settings.headroom) - 1e-9))


def check(
    model: CapacityModel, instance_class: str, groups: Mapping[str, GroupSize], statements_per_s: float
) -> DbConnections:
    """The pool per process for ``groups`` on ``instance_class``, or why none fits."""
    limit = max_connections(model, instance_class)
    room = limit - SUPERUSER_RESERVED - ADMIN_MARGIN
    at_max = sum(g.max_size * g.workers for g in groups.values())
    processes = sum(in_refresh(g.max_size) * g.workers for g in groups.values())
    needed = pool_needed(model, statements_per_s, groups)
    largest = min(MAX_POOL, room // processes) if processes else MAX_POOL
    pool = largest if largest >= needed else None
    opened = processes * (pool or needed)
    where = (
        f"max_connections {limit} less {SUPERUSER_RESERVED} superuser and {ADMIN_MARGIN} admin connections"
        f" leaves {room}"
    )
    rule = (
        f"at least {needed} per process: {statements_per_s:,.0f} statements/s x"
        f" {model.measured.db_us_per_statement.value:.0f} us over the fewest processes at a group's minimum,"
        f" headroom {model.settings.headroom:g}, never under {MIN_POOL}"
    )
    during = f"{processes} processes during an instance refresh ({at_max} at max size, replacements first)"
    if pool is None:
        statement = f"{instance_class} cannot take the pools: {during} x {needed} = {opened} connections;"
        statement += f" {where} ({rule})"
    else:
        statement = f"{instance_class} takes {during} x pool {pool} = {opened} connections; {where} ({rule})"
    return DbConnections(
        instance_class=instance_class,
        max_connections=limit,
        superuser_reserved=SUPERUSER_RESERVED,
        admin_margin=ADMIN_MARGIN,
        processes_at_max=at_max,
        needed_per_process=needed,
        pool_per_process=pool,
        opened_at_max=at_max * (pool or needed),
        fits=pool is not None,
        statement=statement,
        processes_in_refresh=processes,
        opened_in_refresh=opened,
    )


def groups_of(cfg: StackConfig) -> dict[str, GroupSize]:
    return {g: GroupSize(t.min_size, t.max_size, t.workers) for g, t in cfg.server_tiers.items()}


def statements_per_s(cfg: StackConfig) -> float:
    """The phase's database statements a second at peak (0 without a demand block)."""
    d = cfg.demand
    return d.concurrent_users * d.db_statements_per_user_per_second if d is not None else 0.0


def db_connections(cfg: StackConfig, model: CapacityModel) -> DbConnections:
    """The check for a whole stack config as it stands (its own database class and groups)."""
    return check(model, cfg.database.instance_class, groups_of(cfg), statements_per_s(cfg))


def with_pool(cfg: StackConfig, model: CapacityModel) -> StackConfig:
    """``cfg`` with every server group's ``db_pool_size`` set to the pool the check chose (unchanged when
    none fits: such a config is not proposed, :func:`check` says why)."""
    verdict = db_connections(cfg, model)
    if verdict.pool_per_process is None:
        return cfg
    pool = verdict.pool_per_process
    tiers = {g: t.model_copy(update={"db_pool_size": pool}) for g, t in cfg.server_tiers.items()}
    return cfg.model_copy(update=tiers)
