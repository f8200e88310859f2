"""RDS PostgreSQL instance (primary or read replica).

Instance hours by class (Multi-AZ = a standby, twice the price), storage (Multi-AZ twice), backup storage
beyond the free amount (free = the provisioned storage), and the master-password secret RDS creates in
Secrets Manager when it manages the password. A read replica is priced as its own instance. Performance
Insights is free at its 7-day retention (recalled); a longer retention is unpriced (fails closed).
Cross-AZ traffic between the app servers and the data stores is attached to the primary database.
A storage type left unset is AWS's default (io1 when ``iops`` is set, else gp2), priced as a stated
assumption; gp3 IOPS above the included baseline have no catalog price and fail closed.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from budget.model import CostLine, PlannedResource, line
from budget.rules.base import (
    RuleContext,
    RuleError,
    flag,
    number,
    opaque,
    require,
    reservable_line,
    shown,
    why_opaque,
)
from budget.rules.cpu_load import database_utilisation

TYPES = ("aws:rds/instance:Instance",)
SECRET = "aws:secretsmanager/secret:Secret"
#: gp3 storage for PostgreSQL includes 3,000 IOPS below 400 GB and 12,000 from 400 GB (infracost
#: db_instance_test, aws-prices.md); IOPS above that are billed at a price the catalog lacks.
GP3_IOPS_INCLUDED = ((400.0, 12000.0), (0.0, 3000.0))


def _source(replica: PlannedResource, ctx: RuleContext) -> PlannedResource:
    ref = replica.inputs.get("replicateSourceDb")

    def match(cand: PlannedResource, value: Any) -> bool:
        return value in (cand.id, cand.inputs.get("identifier"), cand.name) or (
            isinstance(value, str) and value.endswith(f":db:{cand.inputs.get('identifier')}")
        )

    source = ctx.linked(replica, "replicateSourceDb", ref, TYPES, match)
    if source is None:
        raise RuleError(f"read replica's source database {shown(ref)} not found among the planned resources")
    return source


def is_primary(db: PlannedResource) -> bool:
    return db.inputs.get("replicateSourceDb") in (None, "")


def price(db: PlannedResource, ctx: RuleContext) -> list[CostLine]:
    inputs = db.inputs
    source = None if is_primary(db) else _source(db, ctx)
    engine = inputs.get("engine") or (source.inputs.get("engine") if source else None)
    if engine is None:
        raise RuleError("input 'engine' is missing or unknown")
    if opaque(engine):
        raise RuleError(f"input 'engine' is {why_opaque(engine)}")
    if engine != "postgres":
        raise RuleError(f"engine '{engine}' has no prices in the catalog (only postgres)")
    klass = require(inputs, "instanceClass", db)
    multi = flag(inputs, "multiAz")
    az, az_label = ("multi_az", "Multi-AZ") if multi else ("single_az", "Single-AZ")
    role = "read replica" if source else "primary"
    retention = inputs.get("performanceInsightsRetentionPeriod") or 7
    if (
        inputs.get("performanceInsightsEnabled")
        and number(retention, "performanceInsightsRetentionPeriod") > 7
    ):
        raise RuleError("Performance Insights retention beyond the free 7 days has no price in the catalog")
    lines = [
        reservable_line(
            ctx,
            f"Database instance ({role}, {klass}, {az_label})",
            "hours",
            ctx.hours,
            ctx.price(f"rds.postgres.{klass}.{az}"),
            "discount.rds.ri_1yr_no_upfront",
            resource=db,
        )
    ]
    lines.extend(_surplus_credits(ctx, klass, primary=source is None, lines=lines))
    storage_raw = inputs.get("allocatedStorage") or (
        source.inputs.get("allocatedStorage") if source else None
    )
    if storage_raw is None:
        raise RuleError("input 'allocatedStorage' is missing or unknown")
    storage = number(storage_raw, "input 'allocatedStorage'")
    kind, assumption = _storage_type(db, source, storage)
    lines.append(
        line(
            f"Storage ({kind}, {az_label})",
            "GB-months",
            storage,
            ctx.price(f"rds.storage.{kind}.{az}"),
            assumption=assumption,
        )
    )
    if source is None:
        extra = max(0.0, ctx.inputs.usage.rds_backup_storage_gb - storage)
        lines.append(
            line(
                "Backup storage beyond the free amount (free = provisioned storage)",
                "GB-months",
                extra,
                ctx.price("rds.backup"),
                usage_based=True,
                how=f"{ctx.inputs.usage.rds_backup_storage_gb:g} GB total - {storage:g} GB free",
            )
        )
        if flag(inputs, "manageMasterUserPassword"):
            lines.append(
                line(
                    "Master password secret (created by RDS)",
                    "secrets",
                    1,
                    ctx.price("secretsmanager.secret"),
                )
            )
            if not ctx.of_type(SECRET):
                lines.append(_api_calls(ctx))
        primaries = [r for r in ctx.of_type(*TYPES) if is_primary(r)]
        if primaries and primaries[0].urn == db.urn:
            lines.append(_cross_az(ctx))
    return lines


def _cross_az(ctx: RuleContext) -> CostLine:
    """The app servers' traffic with the data stores, both directions, when it crosses zones: none in a
    single-zone plan, whose servers run in the zone of its Single-AZ database and cache node."""
    single = ctx.inputs.placement == "single_zone"
    return line(
        "Cross-AZ data transfer (app servers <-> data stores, both directions)",
        "GB",
        0.0 if single else ctx.inputs.usage.cross_az_gb * 2,
        ctx.price("transfer.inter_az"),
        usage_based=True,
        note=(
            f"stars:network.placement = single_zone: the servers run in the data stores' zone; the"
            f" {ctx.inputs.usage.cross_az_gb:g} GB a month between them cross no zone"
            if single
            else ""
        ),
    )


def _surplus_credits(ctx: RuleContext, klass: str, *, primary: bool, lines: list[CostLine]) -> list[CostLine]:
    """T-family classes always run in unlimited mode on RDS: CPU above the baseline on the 24-hour average
    bills surplus credits (not covered by reservations). The primary carries every statement (a replica's
    share of the reads is not known: none, stated); the demand gives the average (:mod:`cpu_load`)."""
    key = f"rds.burst.{klass}.baseline"
    if not ctx.catalog.has(ctx.region, key):
        return []
    baseline, vcpus = ctx.price(key), ctx.price(f"rds.vcpus.{klass}")
    usage = database_utilisation(ctx, vcpus.amount) if primary else None
    if usage is None:
        why = (
            "no stars:demand block to take the database's CPU from"
            if primary
            else "a read replica: the share of reads it takes is not known"
        )
        lines[0] = replace(lines[0], note=f"unlimited CPU credits (T-family on RDS): not priced, {why}")
        return []
    average = usage.share.at("max")
    if average <= baseline.amount:
        lines[0] = replace(
            lines[0],
            note=f"unlimited CPU credits (T-family on RDS): {usage.label()}, under the {baseline.amount:.0%}"
            f" baseline: no surplus credits ({usage.how})",
        )
        return []
    return [
        line(
            f"Surplus CPU credits (T-family, unlimited on RDS; {usage.label()} vs {baseline.amount:.0%}"
            " baseline)",
            "vCPU-hours",
            ctx.hours * vcpus.amount * (average - baseline.amount),
            ctx.price("rds.cpu_credit"),
            usage_based=True,
            also=[baseline, vcpus],
            how=f"{ctx.hours:g} h x {vcpus.amount:g} vCPU x (average - {baseline.amount:.0%}); {usage.how}",
        )
    ]


def _storage_type(db: PlannedResource, source: PlannedResource | None, storage: float) -> tuple[str, str]:
    """The storage type (a replica's is its source's) and the assumption when the program sets none;
    ``storage`` is the GB already resolved (a replica's own, else its source's)."""
    kind = db.inputs.get("storageType") or (source.inputs.get("storageType") if source else None)
    iops = db.inputs.get("iops")
    if kind is not None and opaque(kind):
        raise RuleError(f"input 'storageType' is {why_opaque(kind)}")
    assumption = ""
    if not kind:
        kind = "io1" if iops not in (None, 0) else "gp2"
        assumption = (
            f"storageType unset: AWS's default {kind} ({'iops is set' if kind == 'io1' else 'no iops'})"
        )
    if kind == "gp3" and iops not in (None, 0):
        included = next(n for least, n in GP3_IOPS_INCLUDED if storage >= least)
        if number(iops, "input 'iops'") > included:
            raise RuleError(
                f"gp3 iops {number(iops, 'iops'):g} above the {included:g} included at {storage:g} GB has no"
                " catalog price"
            )
    return str(kind), assumption


def _api_calls(ctx: RuleContext) -> CostLine:
    return line(
        "Secrets Manager API calls",
        "10k requests",
        ctx.inputs.usage.secrets_api_calls / 10_000,
        ctx.price("secretsmanager.api_calls"),
        usage_based=True,
    )
