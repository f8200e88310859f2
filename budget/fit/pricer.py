"""Price a candidate configuration with check's own rules and catalog, planning as little as possible.

A whole mocked plan takes 150-400 ms; a search prices thousands of candidates. A tier's resources depend
only on the config it reads (``components.stack.TIER_READS``, held by a test), so each tier is planned
alone once per distinct reading and the plans are reused; the candidate's resources (the union of its
tiers) are then priced by the estimator exactly as ``check`` prices a whole plan. The figures the search
reports are re-planned whole under mocks and priced by ``check``'s path (:func:`verify`), and must agree
to the cent.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from budget.catalog import Catalog
from budget.estimator import Estimate, estimate
from budget.model import SIZES, PlannedResource
from budget.plan import from_record, plan_offline
from components.config import StackConfig
from components.planning.mocks import plan_tiers
from components.stack import COMMON_READS, TIER_READS, TIERS

#: Two totals "agree" when every size differs by less than half a cent.
CENT = 0.005


class FitError(RuntimeError):
    """The search cannot go on: its fast planner disagrees with check's path, or the input is unusable."""


def _at(data: dict[str, Any], path: str) -> Any:
    node: Any = data
    for key in path.split("."):
        node = node.get(key) if isinstance(node, dict) else None
    return node


def plan_key(cfg: StackConfig, tier: str, dumped: dict[str, Any] | None = None) -> str:
    """What a tier's plan depends on: the values of the config paths it reads."""
    data = dumped if dumped is not None else cfg.model_dump(mode="json")
    return json.dumps({p: _at(data, p) for p in (*COMMON_READS, *TIER_READS[tier])}, sort_keys=True)


@dataclass
class Priced:
    """One candidate's estimate (or why it cannot be priced)."""

    cfg: StackConfig
    estimate: Estimate

    @property
    def priced(self) -> bool:
        return not self.estimate.unpriced

    def total(self, size: str = "max") -> float:
        return self.estimate.total(size)

    def tzs(self, size: str = "max") -> float:
        return self.estimate.total(size) * self.cfg.budget.usd_to_tzs

    def by_tier(self) -> dict[str, float]:
        return self.estimate.by_tier("max")

    def why_unpriced(self) -> str:
        return "; ".join(f"{u.name}: {u.reason}" for u in self.estimate.unpriced)


class Pricer:
    """Prices candidates; counts the tier plans and estimates it made (the benchmark reports them)."""

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        self._plans: dict[tuple[str, str], tuple[PlannedResource, ...]] = {}
        self.tier_plans = 0
        self.estimates = 0

    def resources(self, cfg: StackConfig, tiers: Iterable[str] = TIERS) -> list[PlannedResource]:
        """The candidate's planned resources, from cached tier plans (planning the missing tiers once)."""
        dumped = cfg.model_dump(mode="json")
        keys = {tier: plan_key(cfg, tier, dumped) for tier in tiers}
        missing = tuple(t for t, k in keys.items() if (t, k) not in self._plans)
        if missing:
            records = plan_tiers(cfg, missing)
            self.tier_plans += len(missing)
            for tier in missing:
                self._plans[(tier, keys[tier])] = tuple(from_record(r) for r in records if r.tier == tier)
        out = [r for t, k in keys.items() for r in self._plans[(t, k)]]
        out.sort(key=lambda r: r.urn)
        return out

    def price(self, cfg: StackConfig) -> Priced:
        self.estimates += 1
        return Priced(cfg, estimate(self.resources(cfg), cfg, self.catalog))


def verify(priced: Priced, catalog: Catalog) -> Estimate:
    """Re-plan ``priced``'s config whole under mocks and price it by check's path; they must agree."""
    full = estimate(plan_offline(priced.cfg), priced.cfg, catalog)
    if full.unpriced:
        raise FitError(f"{priced.cfg.stack}: check cannot price the fitted config: {full.unpriced[0].reason}")
    for size in SIZES:
        fast, whole = priced.total(size), full.total(size)
        if abs(fast - whole) >= CENT:
            raise FitError(
                f"{priced.cfg.stack}: the search's planner says USD {fast:.4f} at {size} size, check's path"
                f" {whole:.4f}; a tier reads config it does not declare (components.stack.TIER_READS)"
            )
    return full
