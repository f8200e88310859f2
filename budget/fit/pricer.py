"""Price a candidate configuration with check's own rules and catalog, planning as little as possible.

A whole mocked plan takes 150-400 ms; a search prices thousands of candidates. A tier's resources depend
only on the config it reads (``components.stack.TIER_READS``, held by a test), so each tier is planned
alone once per distinct reading and the plans are reused; the values that set only values of a tier's
inputs (``components.stack.VALUE_ONLY``: instance types, sizes, classes, purchase options, price class)
are left out of that reading and written into the plan for each candidate. The candidate's resources
(the union of its tiers) are then priced by the estimator exactly as ``check`` prices a whole plan, with
the candidate's :class:`~budget.pricing_inputs.PricingInputs` (all a rule reads of a config). The figures
the search reports are re-planned whole under mocks and priced by ``check``'s path (:func:`verify`), and
must agree to the cent.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any

from budget.capacity import Measured, Unmeasured, kept_measured
from budget.catalog import Catalog
from budget.estimator import Estimate, estimate, price_in_region
from budget.fit import plan_cache
from budget.model import SIZES, PlannedResource, PricedResource, Unpriced
from budget.plan import from_record
from budget.pricing_inputs import PricingInputs, Subject
from budget.rules import RuleContext
from components import cdn
from components.config import StackConfig
from components.planning.baseline import violations
from components.planning.mocks import plan_resources, plan_tiers
from components.stack import COMMON_READS, TIER_READS, VALUE_ONLY, config_reads, tiers_of, value_inputs

#: Two totals "agree" when every size differs by less than half a cent.
CENT = 0.005


class FitError(RuntimeError):
    """The search cannot go on: its fast planner disagrees with check's path, or the input is unusable."""


def _at(data: dict[str, Any], path: str) -> Any:
    node: Any = data
    for key in path.split("."):
        node = node.get(key) if isinstance(node, dict) else None
    return node


# A tier's VALUE_ONLY config values (components.stack.VALUE_ONLY: each component says which of its values
# they are) set only values of its inputs, which :func:`written_at` writes into a plan of the tier made at
# other values. The search tries every instance type, purchase option, count, database class and CDN
# price class for each structure, so without this it would plan the server tiers (three quarters of its
# plans) again for each.
_VALUE_PATHS = tuple(sorted({p for paths in VALUE_ONLY.values() for p in paths}))
#: The values a tier's plan is written at: its VALUE_ONLY paths' values, in that order.
Values = tuple[Any, ...]


def _split_reads(cfg: StackConfig) -> tuple[dict[str, Any], dict[str, Values]]:
    """The config as the tier plans read it without the values :func:`written_at` writes, and those
    values by tier."""
    data = config_reads(cfg)
    values = {tier: tuple(_at(data, p) for p in paths) for tier, paths in VALUE_ONLY.items()}
    for path in _VALUE_PATHS:
        *parents, last = path.split(".")
        node = _at(data, ".".join(parents))
        if isinstance(node, dict):
            node.pop(last, None)
    return data, values


def _plan_reads(cfg: StackConfig) -> dict[str, Any]:
    """The config as the tier plans read it, without the values :func:`written_at` writes."""
    return _split_reads(cfg)[0]


def plan_key(cfg: StackConfig, tier: str, dumped: dict[str, Any] | None = None) -> str:
    """What a tier's plan depends on: the values of the config paths it reads (but ``VALUE_ONLY``)."""
    data = dumped if dumped is not None else _plan_reads(cfg)
    return json.dumps({p: _at(data, p) for p in (*COMMON_READS, *TIER_READS[tier])}, sort_keys=True)


def written_at(resources: tuple[PlannedResource, ...], cfg: StackConfig) -> tuple[PlannedResource, ...]:
    """``resources`` (a plan of their tiers) with the inputs ``cfg``'s VALUE_ONLY values give them (each
    component's own ``value_inputs``), whatever values the plan was made at."""
    out = []
    for r in resources:
        inputs = value_inputs(cfg, r.type, r.name, r.inputs)
        out.append(r if inputs is None else replace(r, inputs=inputs))
    return tuple(out)


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


#: Tier plans by (tier, the config values it reads), shared by every Pricer in the process. A tier's plan
#: depends on nothing else (the premise of the search's own reuse), so fits that one process runs
#: one after another (several stacks' what-ifs, a test worker's fits) plan each distinct tier once.
#: Bounded: emptied when full (a phase's whole fit plans a few hundred).
_TIER_PLANS: dict[tuple[str, str], tuple[PlannedResource, ...]] = {}
_TIER_PLANS_MAX = 20_000
#: Bound of a Pricer's written plans (a phase's whole fit writes a few thousand).
_WRITTEN_MAX = 20_000


class Pricer:
    """Prices candidates; counts the tier plans and estimates it needed (the benchmark reports them).

    ``measured``: the figures the rules price loads with (fit's capacity model's; None: the kept runs')."""

    def __init__(self, catalog: Catalog, measured: Measured | Unmeasured | None = None) -> None:
        self.catalog = catalog
        self.measured = kept_measured() if measured is None else measured
        self._plans: dict[tuple[str, str], tuple[PlannedResource, ...]] = {}  # those this search used
        self._prices: dict[tuple[str, str, Values, int, PricingInputs], list[PricedResource | Unpriced]] = {}
        #: Plans written at a candidate's values, by (tier, plan key, values): candidates share them.
        self._written: dict[tuple[str, str, Values], tuple[PlannedResource, ...]] = {}
        self.tier_plans = 0
        self.estimates = 0

    @staticmethod
    def _keys(cfg: StackConfig, tiers: Iterable[str]) -> tuple[dict[str, str], dict[str, Values]]:
        """Each tier's plan key (:func:`plan_key`) and the values its plan is written at, the config
        dumped once for all of them."""
        dumped, values = _split_reads(cfg)
        return {tier: plan_key(cfg, tier, dumped) for tier in tiers}, values

    def _resources(
        self, cfg: StackConfig, keys: dict[str, str], values: dict[str, Values]
    ) -> dict[str, tuple[PlannedResource, ...]]:
        """The candidate's planned resources by tier, from cached tier plans (planning the missing tiers
        once), written at ``cfg``'s values (:func:`written_at`)."""
        missing = tuple(t for t, k in keys.items() if (t, k) not in self._plans)
        if missing:
            # counted whether planned now or by an earlier search of this process: the figure is the
            # search's size, the same however the process came to it
            self.tier_plans += len(missing)
            found = {t: _TIER_PLANS[(t, keys[t])] for t in missing if (t, keys[t]) in _TIER_PLANS}
            in_memory = set(found)
            for tier in missing:
                kept = None if tier in found else plan_cache.load(tier, keys[tier])
                if kept is not None:  # another process planned it (STARS_PLAN_CACHE)
                    found[tier] = kept
            unplanned = tuple(t for t in missing if t not in found)
            if unplanned:
                records = plan_tiers(cfg, unplanned)
                for tier in unplanned:
                    found[tier] = tuple(from_record(r) for r in records if r.tier == tier)
                    plan_cache.store(tier, keys[tier], found[tier])
            new = [t for t in missing if t not in in_memory]
            if new:
                if len(_TIER_PLANS) + len(new) > _TIER_PLANS_MAX:
                    _TIER_PLANS.clear()
                _TIER_PLANS.update({(t, keys[t]): found[t] for t in new})
            self._plans.update({(t, keys[t]): found[t] for t in missing})
        out = {}
        for t, k in keys.items():
            if t not in VALUE_ONLY:
                out[t] = self._plans[(t, k)]
                continue
            at = (t, k, values[t])
            written = self._written.get(at)
            if written is None:
                if len(self._written) >= _WRITTEN_MAX:
                    self._written.clear()
                written = self._written[at] = written_at(self._plans[(t, k)], cfg)
            out[t] = written
        return out

    def price(self, cfg: StackConfig) -> Priced:
        """Price a candidate: each tier's lines are reused when its plan, the structure of the whole
        (every URN) and the pricing inputs are those of a candidate priced before."""
        self.estimates += 1
        keys, values = self._keys(cfg, tiers_of(cfg))
        by_tier = self._resources(cfg, keys, values)
        resources = sorted((r for plan in by_tier.values() for r in plan), key=lambda r: r.urn)
        # the values written are part of what was priced: a tier's own with its lines, the CDN's with all
        structure = hash((tuple(r.urn for r in resources), *(getattr(cfg.cdn, k) for k in cdn.VALUE_ONLY)))
        inputs = PricingInputs.of(cfg, self.measured)
        ctx = RuleContext(inputs=inputs, catalog=self.catalog, resources=tuple(resources))
        results: list[PricedResource | Unpriced] = []
        for tier, key in keys.items():
            at = (tier, key, values.get(tier, ()), structure, inputs)
            found = self._prices.get(at)
            if found is None:
                found = [price_in_region(r, ctx) for r in by_tier[tier]]
                self._prices[at] = found
            results += found
        order = {r.urn: i for i, r in enumerate(resources)}
        results.sort(key=lambda x: order[x.resource.urn if isinstance(x, PricedResource) else x.urn])
        priced = tuple(r for r in results if isinstance(r, PricedResource))
        unpriced = tuple(r for r in results if isinstance(r, Unpriced))
        return Priced(cfg, Estimate(Subject.of(cfg), inputs, self.catalog, priced, unpriced))


def verify(priced: Priced, catalog: Catalog) -> Estimate:
    """Re-plan ``priced``'s config whole under mocks and price it by check's path: the two must agree to
    the cent, and the plan must hold the security baseline (a proposal is something one can deploy)."""
    records = plan_resources(priced.cfg)
    breaches = violations(records)
    if breaches:
        raise FitError(f"{priced.cfg.stack}: the proposed config breaks the security baseline: {breaches[0]}")
    full = estimate(
        [from_record(r) for r in records], priced.cfg, catalog, measured=priced.estimate.inputs.measured
    )
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
