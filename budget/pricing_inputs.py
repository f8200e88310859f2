"""What pricing reads of a stack: the rules' inputs, and whose bill the priced plan is.

Three callers price plans: ``budget check`` (a stack file, or a preview with its stack file), ``budget fit``
(thousands of candidate configs) and the policy pack (the engine's resources and the pack's config, with no
stack file at all). Each builds these two values explicitly, so a rule can read only what every caller
states: a rule that needs something else does not type-check, and at run time fails loudly (the estimator
raises it as a ``RuleBug`` naming the resource) instead of pricing with a guess.

The runtime's measured costs are one of these inputs (``measured``): the CPU-credit rules take a server
group's and the database's load from them. ``check`` and the pack state the kept runs' figures, ``fit``
those it sizes with (``--measured``), so a fit sizes and prices with the same figures and its price cache
keys on them.

Rates are not among the rules' inputs: every price (and the Reserved Instance and bundle discounts) comes
from the catalog, and the exchange rate is the budget's, which only the report reads.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from budget.capacity import Measured, Unmeasured
from components.config import BudgetConfig, DemandConfig, StackConfig, UsageConfig

Placement = Literal["spread", "single_zone"]


@dataclass(frozen=True)
class PricingInputs:
    """Everything a pricing rule reads besides the resources and the catalog (hashable: fit caches by it).

    ``region`` prices a resource whose provider names none; ``usage`` is the monthly usage block;
    ``demand`` the phase's load (None: CPU credits are priced at each group's target, an upper bound);
    ``placement`` single_zone means no cross-AZ transfer; ``intelligent_tiering`` prices the asset bucket
    at S3 Intelligent-Tiering; ``websockets_via_cdn`` says ``/ws`` reaches viewers through CloudFront;
    ``measured`` the runtime's measured costs a load is priced from (or why there are none).
    """

    region: str
    usage: UsageConfig
    demand: DemandConfig | None
    placement: Placement
    intelligent_tiering: bool
    websockets_via_cdn: bool
    measured: Measured | Unmeasured

    @classmethod
    def of(cls, cfg: StackConfig, measured: Measured | Unmeasured) -> PricingInputs:
        """A stack file's (or a fit candidate's) inputs: each field read from its block of the config, and
        the measured figures the caller prices with."""
        return cls(
            region=cfg.region,
            usage=cfg.usage,
            demand=cfg.demand,
            placement=cfg.network.placement,
            intelligent_tiering=cfg.cdn.intelligent_tiering,
            websockets_via_cdn=cfg.load_balancer.websockets_via_cdn,
            measured=measured,
        )


@dataclass(frozen=True)
class Subject:
    """Whose plan is priced, for the report: the stack, its phase ("" when unknown), its budget and users."""

    stack: str
    phase: str
    budget: BudgetConfig
    users: int | None

    @classmethod
    def of(cls, cfg: StackConfig) -> Subject:
        users = cfg.demand.concurrent_users if cfg.demand is not None else None
        return cls(stack=cfg.stack, phase=cfg.phase, budget=cfg.budget, users=users)
