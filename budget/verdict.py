"""The budget verdict: judge the worst month the stack allows (every group at its maximum) against the limit.
(The module was budget/policy.py, a name the policy pack's package has too.)

over: the max-size total exceeds ``limit_tzs``; warn: it exceeds ``warn_tzs``; ok otherwise. An owner's
override (with a reason) lets an over-budget stack proceed; nothing lets an unpriced one proceed.

The exchange rate is part of the verdict: a ``usd_to_tzs`` further than :data:`RATE_TOLERANCE` from the
catalog's dated rate could shrink any total below any limit, so it fails the check like an over-limit
total, and the same recorded override (reason, approver) is what lets it proceed.
"""

from __future__ import annotations

from dataclasses import dataclass

from budget.catalog import Catalog
from budget.estimator import Estimate
from budget.exit_codes import ExitCode
from budget.model import Status
from budget.report.model import RATE_WARNING
from components.config import BudgetConfig

#: The catalog's dated USD->TZS rate (a ``value`` entry in ``global``).
RATE_KEY = "fx.usd_to_tzs"
#: How far (as a fraction of the catalog's rate) a stack's rate may be from it without an override.
RATE_TOLERANCE = 0.5


@dataclass(frozen=True)
class Verdict:
    status: Status
    total_usd: float
    total_tzs: float
    overridden: bool
    unpriced: int
    #: why the exchange rate needs an override (one line), or None when it is near the catalog's
    rate_warning: str | None = None

    @property
    def needs_override(self) -> bool:
        return self.status == "over" or self.rate_warning is not None

    @property
    def exit_code(self) -> ExitCode:
        """0 within budget (or overridden), 1 over budget or an unconfirmed rate, 2 anything unpriced
        (never overridable)."""
        if self.unpriced:
            return ExitCode.INVALID
        if self.needs_override and not self.overridden:
            return ExitCode.OVER
        return ExitCode.OK


def rate_warning(budget: BudgetConfig, catalog: Catalog) -> str | None:
    """Why ``budget.usd_to_tzs`` needs an override: further than 50% from the catalog's dated rate, or a
    catalog without one to hold it against (fail closed). None when it is within."""
    ref = catalog.global_prices.get(RATE_KEY)
    rate = budget.usd_to_tzs
    if ref is None or ref.amount <= 0:
        return (
            f"{RATE_WARNING} {rate:,.2f}: the catalog has no dated rate ({RATE_KEY}) to hold it against;"
            " it needs an override (reason, approved_by)"
        )
    if abs(rate - ref.amount) <= RATE_TOLERANCE * ref.amount:
        return None
    return (
        f"{RATE_WARNING} {rate:,.2f} is more than {RATE_TOLERANCE:.0%} from the catalog's rate"
        f" {ref.amount:,.2f} ({ref.source_date}); it needs an override (reason, approved_by)"
    )


def status_for(total_tzs: float, limit_tzs: float, warn_tzs: float) -> Status:
    if total_tzs > limit_tzs:
        return "over"
    if total_tzs > warn_tzs:
        return "warn"
    return "ok"


def judge(est: Estimate) -> Verdict:
    budget = est.subject.budget
    total_usd = est.total("max")
    total_tzs = total_usd * budget.usd_to_tzs
    status = status_for(total_tzs, budget.limit_tzs, budget.warn_tzs)
    rate = rate_warning(budget, est.catalog)
    return Verdict(
        status=status,
        total_usd=total_usd,
        total_tzs=total_tzs,
        overridden=(status == "over" or rate is not None) and budget.override is not None,
        unpriced=len(est.unpriced),
        rate_warning=rate,
    )
