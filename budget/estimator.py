"""Turn planned resources into priced resources with the rules; collect whatever cannot be priced.

Nothing is skipped silently: each resource is priced by its type's rule, or listed free with a reason, or
reported as unpriced (unknown type, missing input, missing catalog price), which fails the check.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from budget.catalog import Catalog, MissingPrice
from budget.model import SIZES, PlannedResource, PricedResource, Unpriced
from budget.rules import RULES, PricingOptions, RuleContext, RuleError, free_reason
from components.config import StackConfig

ON_DEMAND = PricingOptions()


@dataclass(frozen=True)
class Estimate:
    """The priced plan of one stack."""

    cfg: StackConfig
    catalog: Catalog
    priced: tuple[PricedResource, ...]
    unpriced: tuple[Unpriced, ...]

    def total(self, size: str = "max") -> float:
        return sum(p.monthly(size) for p in self.priced)

    def totals(self) -> dict[str, float]:
        return {size: self.total(size) for size in SIZES}

    def usage_total(self, size: str = "max") -> float:
        return sum(li.monthly(size) for p in self.priced for li in p.lines if li.usage_based)

    def by_tier(self, size: str = "max") -> dict[str, float]:
        tiers: dict[str, float] = {}
        for p in self.priced:
            tiers[p.resource.tier] = tiers.get(p.resource.tier, 0.0) + p.monthly(size)
        return tiers


def price_resource(resource: PlannedResource, ctx: RuleContext) -> PricedResource | Unpriced:
    """One resource through its rule; any failure becomes an :class:`Unpriced` entry naming the cause."""
    rule = RULES.get(resource.type)
    if rule is None:
        reason = free_reason(resource.type, resource.custom)
        if reason is not None:
            return PricedResource(resource, (), free_reason=reason)
        return Unpriced(
            resource.urn, resource.type, resource.name, f"no pricing rule for type {resource.type}"
        )
    try:
        return PricedResource(resource, tuple(rule(resource, ctx)))
    except MissingPrice as exc:
        return Unpriced(resource.urn, resource.type, resource.name, str(exc))
    except RuleError as exc:
        return Unpriced(resource.urn, resource.type, resource.name, str(exc))
    except (
        KeyError,
        TypeError,
        ValueError,
        AttributeError,
    ) as exc:  # malformed inputs: fail closed, say where
        return Unpriced(
            resource.urn, resource.type, resource.name, f"unexpected inputs ({type(exc).__name__}: {exc})"
        )


def estimate(
    resources: Sequence[PlannedResource],
    cfg: StackConfig,
    catalog: Catalog,
    options: PricingOptions = ON_DEMAND,
) -> Estimate:
    """Price every planned resource of one stack."""
    ctx = RuleContext(cfg=cfg, catalog=catalog, resources=tuple(resources), options=options)
    priced: list[PricedResource] = []
    unpriced: list[Unpriced] = []
    if cfg.region not in catalog.regions:
        unpriced.append(Unpriced("-", "-", "-", f"the catalog has no prices for region {cfg.region}"))
        return Estimate(cfg, catalog, (), tuple(unpriced))
    for resource in resources:
        result = price_resource(resource, ctx)
        (unpriced if isinstance(result, Unpriced) else priced).append(result)  # type: ignore[arg-type]
    return Estimate(cfg, catalog, tuple(priced), tuple(unpriced))
