"""The pack: its name, description and policies (``__main__.py`` only hands them to ``PolicyPack``)."""

from __future__ import annotations

from pulumi_policy import EnforcementLevel, Policy

from policy import baseline_policies, budget_policy

PACK_NAME = "stars"
DESCRIPTION = (
    "STARS guardrails: the monthly budget in TZS (priced with the budget package's rules and catalog)"
    " and the security baseline, one policy per concern."
)
#: Each policy sets its own level; this applies only to a policy that would not.
DEFAULT_ENFORCEMENT = EnforcementLevel.MANDATORY


def policies() -> list[Policy]:
    """Every policy of the pack, budget first."""
    return [*budget_policy.policies(), *baseline_policies.policies()]
