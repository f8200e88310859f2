"""Turn planned resources into priced resources with the rules; collect whatever cannot be priced.

Nothing is skipped silently: each resource is priced by its type's rule, or listed free with a reason, or
reported as unpriced (unknown type, missing input, missing catalog price, a region the catalog lacks or that
cannot be told), which fails the check. Each resource is priced in its own region (where its provider puts
it, :mod:`budget.regions`); a resource without one is priced in the inputs' region.

A rule says a resource cannot be priced by raising :class:`RuleError` (or the catalog's
:class:`MissingPrice`); any other exception is a bug in the rule, not a fact about the resource, so it is
raised as :class:`RuleBug` naming the resource: the check fails loudly instead of reporting a cause that
is not one (and fit cannot quietly skip every candidate the bug touches).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from budget.capacity import Measured, Unmeasured, kept_measured
from budget.catalog import Catalog, MissingPrice
from budget.model import SIZES, PlannedResource, PricedResource, Unpriced
from budget.preview import Preview
from budget.pricing_inputs import PricingInputs, Subject
from budget.rules import RULES, PricingOptions, RuleContext, RuleError, free_reason
from components.config import StackConfig

ON_DEMAND = PricingOptions()


class RuleBug(RuntimeError):
    """A rule failed with something other than :class:`RuleError` or :class:`MissingPrice`: a bug."""


@dataclass(frozen=True)
class Estimate:
    """The priced plan of one stack.

    ``subject`` is whose plan it is (stack, phase, budget) and ``inputs`` what the rules read;
    ``region`` is the region the report names (a preview's own, else the inputs'); ``warnings`` are
    one-line statements every format prints; ``deleted`` are the resources the update deletes, priced as
    they are now (what deleting them saves a month).
    """

    subject: Subject
    inputs: PricingInputs
    catalog: Catalog
    priced: tuple[PricedResource, ...]
    unpriced: tuple[Unpriced, ...]
    region: str = ""
    warnings: tuple[str, ...] = ()
    deleted: tuple[PricedResource, ...] = ()

    @property
    def home_region(self) -> str:
        return self.region or self.inputs.region

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
    """One resource through its rule: unpriceable (:class:`RuleError`, :class:`MissingPrice`) becomes an
    :class:`Unpriced` entry naming the cause; anything else the rule raises is a :class:`RuleBug`."""
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
    except (MissingPrice, RuleError) as exc:
        return Unpriced(resource.urn, resource.type, resource.name, str(exc))
    except Exception as exc:
        raise RuleBug(
            f"the rule for {resource.type} failed on '{resource.name}' ({type(exc).__name__}: {exc}):"
            " a bug in the rule, not a price"
        ) from exc


def price_in_region(resource: PlannedResource, ctx: RuleContext) -> PricedResource | Unpriced:
    """One resource through its rule in the region AWS bills it in (free and unknown types need none)."""
    if resource.type not in RULES:
        return price_resource(resource, ctx)
    if resource.region_error:
        return Unpriced(
            resource.urn, resource.type, resource.name, f"no region to price it in: {resource.region_error}"
        )
    region = resource.region or ctx.inputs.region
    if region not in ctx.catalog.regions:
        return Unpriced(
            resource.urn, resource.type, resource.name, f"the catalog has no prices for region {region}"
        )
    return price_resource(resource, ctx.in_region(region))


def _price_all(
    resources: Sequence[PlannedResource], ctx: RuleContext
) -> tuple[list[PricedResource], list[Unpriced]]:
    priced: list[PricedResource] = []
    unpriced: list[Unpriced] = []
    for resource in resources:
        result = price_in_region(resource, ctx)
        if isinstance(result, Unpriced):
            unpriced.append(result)
        else:
            priced.append(result)
    return priced, unpriced


def estimate(
    resources: Sequence[PlannedResource],
    cfg: StackConfig,
    catalog: Catalog,
    options: PricingOptions = ON_DEMAND,
    measured: Measured | Unmeasured | None = None,
) -> Estimate:
    """Price every planned resource of a stack config (a stack file's, or a fit candidate's), with the
    ``measured`` figures (None: the kept runs')."""
    inputs = PricingInputs.of(cfg, kept_measured() if measured is None else measured)
    return price_plan(resources, inputs, Subject.of(cfg), catalog, options)


def price_plan(
    resources: Sequence[PlannedResource],
    inputs: PricingInputs,
    subject: Subject,
    catalog: Catalog,
    options: PricingOptions = ON_DEMAND,
    *,
    region: str = "",
    warnings: Sequence[str] = (),
    deleted: Sequence[PlannedResource] = (),
) -> Estimate:
    """Price every planned resource of one stack, each in its own region.

    ``deleted`` (a preview's deletions) are priced among themselves, with the same rules and usage, as
    what they cost now; one that cannot be priced is named in a warning (its saving is not claimed).
    """
    ctx = RuleContext(inputs=inputs, catalog=catalog, resources=tuple(resources), options=options)
    priced, unpriced = _price_all(resources, ctx)
    notes = list(warnings)
    gone: list[PricedResource] = []
    if deleted:
        gone, failed = _price_all(deleted, replace(ctx, resources=tuple(deleted)))
        notes += [
            f"deleted {u.type} '{u.name}' could not be priced ({u.reason}): its saving is not shown"
            for u in failed
        ]
    return Estimate(
        subject,
        inputs,
        catalog,
        tuple(priced),
        tuple(unpriced),
        region,
        tuple(notes),
        tuple(g for g in gone if g.lines),
    )


def preview_warnings(preview: Preview, cfg: StackConfig, source: str) -> list[str]:
    """One line for each thing a reader of the report must know about where the preview was priced.

    ``source`` names where the stack's config came from (its stack file, or ``--config-json``).
    """
    out = list(preview.notes)
    if preview.region and preview.region != cfg.region:
        out.append(
            f"the preview's region is {preview.region}, stack {cfg.stack}'s is {cfg.region} ({source}):"
            " each resource is priced where the preview puts it"
        )
    fallback = [p.name for p in preview.resources if p.type in RULES and not p.region and not p.region_error]
    if fallback:
        shown = ", ".join(fallback[:5]) + (f" and {len(fallback) - 5} more" if len(fallback) > 5 else "")
        out.append(
            f"the preview names no region for {len(fallback)} priced resource(s) ({shown}): priced in"
            f" stack {cfg.stack}'s region {cfg.region} ({source})"
        )
    return out


def estimate_preview(
    preview: Preview,
    cfg: StackConfig,
    catalog: Catalog,
    source: str,
    options: PricingOptions = ON_DEMAND,
    measured: Measured | Unmeasured | None = None,
) -> Estimate:
    """Price a ``pulumi preview --json`` document: its resources where it puts them, its deletions as
    savings, and the report in the preview's region (the stack file's only when the preview has none);
    ``measured`` as :func:`estimate`'s."""
    return price_plan(
        preview.resources,
        PricingInputs.of(cfg, kept_measured() if measured is None else measured),
        Subject.of(cfg),
        catalog,
        options,
        region=preview.region or cfg.region,
        warnings=preview_warnings(preview, cfg, source),
        deleted=preview.deleted,
    )
