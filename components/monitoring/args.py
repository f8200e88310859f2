"""What the monitoring tier watches (from the other tiers) and how closely (from the config)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

import pulumi

Level = Literal["basic", "enhanced", "production"]
LEVELS: tuple[Level, ...] = ("basic", "enhanced", "production")


@dataclass
class MonitoringArgs:
    """Inputs of :class:`Monitoring`: what to watch (from the other tiers) and how closely (config)."""

    level: Level
    region: str
    phase: str
    alarm_email: str | None
    dashboard: bool
    budget_limit_usd: float
    alb_arn_suffix: pulumi.Input[str]
    target_group_arn_suffixes: Mapping[str, pulumi.Input[str]]
    asg_names: Mapping[str, pulumi.Input[str]]
    asg_floor: Mapping[str, int]
    database_id: pulumi.Input[str]
    database_allocated_gb: int
    replica_id: pulumi.Input[str] | None
    cache_member_ids: list[str]
    distribution_id: pulumi.Input[str] | None = None
    #: ``network``: the load balancer is an NLB (``alb_arn_suffix`` is then its ``net/...`` suffix).
    load_balancer_type: Literal["application", "network"] = "application"
    tags: dict[str, str] = field(default_factory=dict)
