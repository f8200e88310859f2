"""Database tier: RDS PostgreSQL in private subnets, encrypted, with an RDS-managed master password.

The master password is generated and rotated by RDS in Secrets Manager (``manage_master_user_password``):
it never appears in config, state inputs or user data; servers read it by the secret's ARN.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, cast

import pulumi
import pulumi_aws as aws

from components.config import DatabaseConfig
from components.network import POSTGRES_PORT
from components.tagging import PURCHASE_TAG, purchase_tags, tier_tags

DB_NAME = "stars"
INSTANCE = "aws:rds/instance:Instance"
#: ``stars:database`` values that set only values of the instances' inputs (their class, storage and the
#: purchase tag), never which resources the tier registers: a planner that plans the tier once may write
#: them into that plan for each value (:func:`value_inputs`; ``budget fit`` does, and
#: tests/budget/test_fit_value_only.py holds it against planning each value).
VALUE_ONLY = ("instance_class", "allocated_storage_gb", "max_allocated_storage_gb", "commitment")
MASTER_USERNAME = "stars_admin"
#: UTC windows: 00:00-01:00 UTC is 03:00-04:00 in Dar es Salaam, the quietest hour.
BACKUP_WINDOW = "00:00-01:00"
MAINTENANCE_WINDOW = "sun:01:30-sun:02:30"
#: The parameter group's settings: TLS only, slow statements logged, idle transactions and runaway
#: statements cut, dead clients noticed, pg_stat_statements loaded.
PARAMETERS: list[aws.rds.ParameterGroupParameterArgsDict] = [
    {"name": "rds.force_ssl", "value": "1"},
    {"name": "log_min_duration_statement", "value": "200"},
    {"name": "idle_in_transaction_session_timeout", "value": "60000"},
    {"name": "statement_timeout", "value": "30000"},
    {"name": "tcp_keepalives_idle", "value": "60"},
    {"name": "shared_preload_libraries", "value": "pg_stat_statements", "apply_method": "pending-reboot"},
]


@dataclass
class DatabaseArgs:
    """Inputs of :class:`Database` (from ``stars:database``)."""

    config: DatabaseConfig
    subnet_ids: list[pulumi.Input[str]]
    security_group_id: pulumi.Input[str]
    tags: dict[str, str] = field(default_factory=dict)
    #: a single-zone plan's zone: the primary is placed there, beside the servers (None: AWS chooses)
    availability_zone: str | None = None


def parameter_family(engine_version: str) -> str:
    """``16`` or ``16.4`` -> ``postgres16``."""
    return f"postgres{engine_version.split('.')[0]}"


class Database(pulumi.ComponentResource):
    """Primary instance (Multi-AZ per config) and an optional same-region read replica."""

    def __init__(self, name: str, args: DatabaseArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("stars:index:Database", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        cfg = args.config
        tags = tier_tags(args.tags, name)
        stack = args.tags.get("stack", pulumi.get_stack())

        self.subnet_group = aws.rds.SubnetGroup(
            f"{name}-subnets",
            subnet_ids=args.subnet_ids,
            description="STARS database: private subnets only",
            tags=tags,
            opts=child,
        )
        self.parameter_group = aws.rds.ParameterGroup(
            f"{name}-params",
            family=parameter_family(cfg.engine_version),
            description="STARS PostgreSQL settings",
            parameters=PARAMETERS,
            tags=tags,
            opts=child,
        )
        common = self._instance_settings(args)
        self.primary = self._primary(name, stack, args, common)
        self.replica: aws.rds.Instance | None = None
        if cfg.read_replica:
            self.replica = self._replica(name, stack, args, common)

        self.address = self.primary.address
        # manage_master_user_password: RDS keeps the master secret, and its ARN, in Secrets Manager
        self.master_secret_arn = self.primary.master_user_secrets.apply(lambda s: cast(str, s[0].secret_arn))
        self.replica_address = self.replica.address if self.replica else None
        self.register_outputs(
            {
                "address": self.primary.address,
                "master_secret_arn": self.master_secret_arn,
                "replica_address": self.replica_address,
            }
        )

    def _instance_settings(self, args: DatabaseArgs) -> dict[str, Any]:
        """What the primary and its replica share: size, encryption, private placement, settings, upkeep."""
        cfg = args.config
        return {
            "instance_class": cfg.instance_class,
            "storage_encrypted": True,
            "publicly_accessible": False,
            "vpc_security_group_ids": [args.security_group_id],
            "db_subnet_group_name": self.subnet_group.name,
            "parameter_group_name": self.parameter_group.name,
            "port": POSTGRES_PORT,
            "performance_insights_enabled": cfg.performance_insights,
            "performance_insights_retention_period": 7 if cfg.performance_insights else None,
            "deletion_protection": cfg.deletion_protection,
            "auto_minor_version_upgrade": True,
            "copy_tags_to_snapshot": True,
            "maintenance_window": MAINTENANCE_WINDOW,
            "apply_immediately": False,
        }

    def _primary(self, name: str, stack: str, args: DatabaseArgs, common: dict[str, Any]) -> aws.rds.Instance:
        """The primary: RDS keeps its master password, backups nightly, a final snapshot on delete."""
        cfg = args.config
        return aws.rds.Instance(
            f"{name}-primary",
            identifier=f"stars-{stack}-db",
            engine="postgres",
            engine_version=cfg.engine_version,
            db_name=DB_NAME,
            username=MASTER_USERNAME,
            manage_master_user_password=True,
            storage_type=cfg.storage_type,
            allocated_storage=cfg.allocated_storage_gb,
            max_allocated_storage=cfg.max_allocated_storage_gb,
            multi_az=cfg.multi_az,
            # a single-zone plan pins the primary to the servers' zone (AWS picks one otherwise)
            availability_zone=args.availability_zone,
            backup_retention_period=cfg.backup_retention_days,
            backup_window=BACKUP_WINDOW,
            skip_final_snapshot=False,
            final_snapshot_identifier=f"stars-{stack}-db-final",
            tags={**tier_tags(args.tags, name, f"stars-{stack}-db"), **purchase_tags(cfg.commitment)},
            opts=pulumi.ResourceOptions(parent=self),
            **common,
        )

    def _replica(self, name: str, stack: str, args: DatabaseArgs, common: dict[str, Any]) -> aws.rds.Instance:
        """A same-region read replica of the primary.

        A replica inherits engine, storage, encryption and credentials from its source; it takes no final
        snapshot (RDS does not support one for replicas) and keeps no backups of its own."""
        cfg = args.config
        return aws.rds.Instance(
            f"{name}-replica",
            identifier=f"stars-{stack}-db-replica",
            replicate_source_db=self.primary.identifier,
            storage_type=cfg.storage_type,
            max_allocated_storage=cfg.max_allocated_storage_gb,
            multi_az=False,
            backup_retention_period=0,
            skip_final_snapshot=True,
            tags={
                **tier_tags(args.tags, name, f"stars-{stack}-db-replica"),
                **purchase_tags(cfg.commitment),
            },
            opts=pulumi.ResourceOptions(parent=self),
            **common,
        )


def value_inputs(
    cfg: DatabaseConfig, resource_type: str, resource_name: str, inputs: Mapping[str, Any]
) -> dict[str, Any] | None:
    """The inputs (as planned: camelCase, numbers as floats) of the instance named ``resource_name`` with
    ``cfg``'s :data:`VALUE_ONLY` values, whatever values it was planned at (the replica takes no allocated
    storage: it has its source's); None for every other resource."""
    if resource_type != INSTANCE:
        return None
    tags = {k: v for k, v in inputs["tags"].items() if k != PURCHASE_TAG}
    out = {
        **inputs,
        "instanceClass": cfg.instance_class,
        "maxAllocatedStorage": float(cfg.max_allocated_storage_gb),
        "tags": {**tags, **purchase_tags(cfg.commitment)},
    }
    if resource_name.endswith("-primary"):
        out["allocatedStorage"] = float(cfg.allocated_storage_gb)
    return out
