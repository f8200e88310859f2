"""The result of ``budget fit`` for one stack: the plan, the cheapest fitting configuration, the front.

JSON fields (kept exactly; more may be added): ``stack, limit_tzs, fits, plan{total_tzs, config},
best{total_tzs, tzs_per_1000_users, changes[{key, from, to}], config, capacity{connections,
deliveries_per_s, api_rps}}, alternatives[], min_limit_tzs, max_users_within_limit,
deciding_assumption``. Configs are in the stack file's own shape (``aws:region``, ``stars:api`` ...).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from budget.exit_codes import ExitCode
from budget.fit.aurora import AuroraFloor
from budget.model import SIZES
from budget.report.formatting import per_thousand
from components.config import CONFIG_KEYS, NAMESPACE, StackConfig

SCHEMA = "stars-fit/1"


def stack_file_config(cfg: StackConfig) -> dict[str, Any]:
    """A config as the stack file writes it: ``aws:region`` and one ``stars:<key>`` block each."""
    dumped = cfg.model_dump(mode="json", exclude_none=False)
    out: dict[str, Any] = {"aws:region": cfg.region}
    for key, name in CONFIG_KEYS.items():
        value = dumped.get(name)
        if value is not None:
            out[f"{NAMESPACE}:{key}"] = value
    return out


def flatten(data: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in data.items():
        path = f"{prefix}.{key}" if prefix else key
        if isinstance(value, Mapping) and value:
            out.update(flatten(value, path))
        else:
            out[path] = value
    return out


def changes(before: StackConfig, after: StackConfig) -> list[dict[str, Any]]:
    """Every config key whose value differs, as ``{key, from, to}`` in the stack file's naming; a block
    the new config no longer has (``stars:api`` when one ``stars:app`` group replaces two) is one change."""
    old_blocks, new_blocks = stack_file_config(before), stack_file_config(after)
    old, new = flatten(old_blocks), flatten(new_blocks)
    gone = [k for k in old_blocks if k not in new_blocks]
    keys = [k for k in new if old.get(k, None) != new[k]]
    keys += [k for k in old if k not in new and k.split(".")[0] not in gone]
    out = [{"key": k, "from": old.get(k), "to": new.get(k)} for k in keys]
    return out + [{"key": k, "from": old_blocks[k], "to": None} for k in gone]


@dataclass(frozen=True)
class PlanFigures:
    """A configuration and what it costs (TZS a month at each size)."""

    config: StackConfig
    totals_tzs: Mapping[str, int]
    users: int
    by_tier_tzs: Mapping[str, int] = field(default_factory=dict)
    #: What its servers carry at max size (capacity model), and whether that covers the demand.
    capacity: Mapping[str, float] = field(default_factory=dict)
    carries: bool | None = None

    @property
    def total_tzs(self) -> int:
        return self.totals_tzs["max"]

    def to_json(self) -> dict[str, Any]:
        return {
            "total_tzs": self.total_tzs,
            "totals_tzs": {s: self.totals_tzs[s] for s in SIZES},
            "tzs_per_1000_users": per_thousand(self.total_tzs, self.users),
            "by_tier_tzs": dict(self.by_tier_tzs),
            "capacity": dict(self.capacity),
            "carries_demand": self.carries,
            "config": stack_file_config(self.config),
        }


@dataclass(frozen=True)
class Proposal:
    """A configuration the search proposes, as it differs from the plan."""

    figures: PlanFigures
    changes: tuple[Mapping[str, Any], ...]
    availability: str
    latency: str
    summary: str

    def to_json(self) -> dict[str, Any]:
        return {
            **self.figures.to_json(),
            "summary": self.summary,
            "availability": self.availability,
            "latency": self.latency,
            "changes": [dict(c) for c in self.changes],
        }


@dataclass(frozen=True)
class FitReport:
    """One stack's answer."""

    stack: str
    limit_tzs: int
    usd_to_tzs: float
    users: int
    availability: str
    plan: PlanFigures
    best: Proposal | None
    alternatives: tuple[Proposal, ...] = ()
    min_limit_tzs: int | None = None
    max_users_within_limit: int | None = None
    deciding_assumption: Mapping[str, Any] | None = None
    assumptions: tuple[Mapping[str, Any], ...] = ()
    zero_traffic_tzs: int | None = None
    zero_traffic_by_tier_tzs: Mapping[str, int] = field(default_factory=dict)
    capacity_model: Mapping[str, Any] = field(default_factory=dict)
    demand: Mapping[str, Any] = field(default_factory=dict)
    notes: tuple[str, ...] = ()
    #: Aurora Serverless v2's floor in place of the database: could an unsearched engine change the verdict?
    aurora_serverless_v2: AuroraFloor | None = None
    verified: bool = False
    search: Mapping[str, Any] = field(default_factory=dict)

    @property
    def fits(self) -> bool:
        return self.best is not None and self.best.figures.total_tzs <= self.limit_tzs

    @property
    def exit_code(self) -> ExitCode:
        return ExitCode.OK if self.fits else ExitCode.OVER

    def to_json(self) -> dict[str, Any]:
        return {
            "schema": SCHEMA,
            "stack": self.stack,
            "limit_tzs": self.limit_tzs,
            "usd_to_tzs": self.usd_to_tzs,
            "users": self.users,
            "availability": self.availability,
            "fits": self.fits,
            "exit_code": int(self.exit_code),
            "plan": self.plan.to_json(),
            "best": self.best.to_json() if self.best else None,
            "verified": self.verified,
            "alternatives": [a.to_json() for a in self.alternatives],
            "min_limit_tzs": self.min_limit_tzs,
            "max_users_within_limit": self.max_users_within_limit,
            "deciding_assumption": dict(self.deciding_assumption) if self.deciding_assumption else None,
            "assumptions": [dict(a) for a in self.assumptions],
            "zero_traffic_tzs": self.zero_traffic_tzs,
            "zero_traffic_by_tier_tzs": dict(self.zero_traffic_by_tier_tzs),
            "demand": dict(self.demand),
            "capacity_model": dict(self.capacity_model),
            "notes": list(self.notes),
            "aurora_serverless_v2": (
                self.aurora_serverless_v2.to_json() if self.aurora_serverless_v2 else None
            ),
            "search": dict(self.search),
        }


@dataclass(frozen=True)
class FitFailure:
    """A stack that could not be fitted (bad config, no demand block, unusable measurements): exit 2."""

    stack: str
    error: str

    exit_code = ExitCode.INVALID

    def to_json(self) -> dict[str, Any]:
        return {"schema": SCHEMA, "stack": self.stack, "status": "error", "exit_code": 2, "error": self.error}


FitResult = FitReport | FitFailure


def dumps(results: list[FitResult], many: bool) -> str:
    data = {"stacks": [r.to_json() for r in results]} if many else results[0].to_json()
    return json.dumps(data, indent=1, ensure_ascii=False) + "\n"
