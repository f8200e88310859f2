"""The budget policy: judge the worst month the stack allows (every group at its maximum) against the limit.

over: the max-size total exceeds ``limit_tzs``; warn: it exceeds ``warn_tzs``; ok otherwise. An owner's
override (with a reason) lets an over-budget stack proceed; nothing lets an unpriced one proceed.
"""

from __future__ import annotations

from dataclasses import dataclass

from budget.estimator import Estimate
from budget.exit_codes import ExitCode
from budget.model import Status


@dataclass(frozen=True)
class Verdict:
    status: Status
    total_usd: float
    total_tzs: float
    overridden: bool
    unpriced: int

    @property
    def exit_code(self) -> ExitCode:
        """0 within budget (or overridden), 1 over budget, 2 anything unpriced (never overridable)."""
        if self.unpriced:
            return ExitCode.INVALID
        if self.status == "over" and not self.overridden:
            return ExitCode.OVER
        return ExitCode.OK


def status_for(total_tzs: float, limit_tzs: float, warn_tzs: float) -> Status:
    if total_tzs > limit_tzs:
        return "over"
    if total_tzs > warn_tzs:
        return "warn"
    return "ok"


def judge(est: Estimate) -> Verdict:
    budget = est.cfg.budget
    total_usd = est.total("max")
    total_tzs = total_usd * budget.usd_to_tzs
    status = status_for(total_tzs, budget.limit_tzs, budget.warn_tzs)
    return Verdict(
        status=status,
        total_usd=total_usd,
        total_tzs=total_tzs,
        overridden=status == "over" and budget.override is not None,
        unpriced=len(est.unpriced),
    )
