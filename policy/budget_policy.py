"""``stars-budget``: the monthly cost of what the engine planned, against a limit in TZS.

The policy prices ``args.resources`` with the budget package itself (its rules, catalog, estimator and
report), so a stack gets one figure whether it is priced by ``python -m budget check`` or by this pack.
Limit, warning level, rate and usage assumptions come from the pack's config (the same fields as a stack's
``stars:budget`` and ``stars:usage``, validated by the same models); the region of each resource comes
from its provider as the engine reports it. Anything unpriced is a violation that no override lifts, and so
is a bug in a rule (:class:`budget.estimator.RuleBug`); an over-limit stack passes only under an override
that names a reason and an approver.

``stars-budget-warning`` (advisory, same config) says when a stack is above the warning level, or over the
limit under an override, so both stay visible where the policies report.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from pulumi_policy import (
    EnforcementLevel,
    PolicyConfigSchema,
    ReportViolation,
    StackValidationArgs,
    StackValidationPolicy,
)
from pydantic import ValidationError

from budget.capacity import kept_measured
from budget.catalog import Catalog, load_catalog
from budget.estimator import Estimate, RuleBug, price_plan
from budget.exit_codes import ExitCode
from budget.model import PlannedResource
from budget.pricing_inputs import Placement, PricingInputs, Subject
from budget.report.build import stack_report
from budget.report.formatting import format_tzs
from budget.report.model import StackReport
from budget.rules import RULES
from components.bounded_input import MESSAGE_CHARS, short, shown
from components.config import BudgetConfig, BudgetOverride, DemandConfig, UsageConfig
from policy.resources import (
    StackResource,
    from_policy_resources,
    planned_resources,
    stack_name,
)

POLICY_NAME = "stars-budget"
WARNING_POLICY_NAME = "stars-budget-warning"
#: Drivers named in a violation (the report keeps more).
DRIVERS_SHOWN = 5
LIFECYCLE_TYPES = (
    "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration",
    "aws:s3/bucketLifecycleConfigurationV2:BucketLifecycleConfigurationV2",
)
#: Pack config keys beside BudgetConfig's fields.
USAGE_KEY = "usage"
#: Optional: the phase's demand (CPU load, so T-family credits bill on the 24-hour average, as in
#: ``budget check``) and the servers' placement (single_zone: no cross-AZ transfer). Without them the pack
#: prices the upper bound: credits at the scaling target, cross-AZ transfer paid.
DEMAND_KEY = "demand"
PLACEMENT_KEY = "placement"


class PackConfigError(ValueError):
    """The pack's config for the budget is missing or invalid; the message names each key."""


@dataclass(frozen=True)
class BudgetSettings:
    """The validated pack config: the budget block and the usage assumptions."""

    budget: BudgetConfig
    usage: UsageConfig
    demand: DemandConfig | None = None
    placement: Placement = "spread"


def _schema_of(model: type[Any]) -> dict[str, Any]:
    """A model's JSON schema, without pydantic's title noise (the CLI and Pulumi Cloud show it)."""
    schema = dict(model.model_json_schema())
    schema.pop("title", None)
    schema["properties"] = {
        key: {k: v for k, v in prop.items() if k != "title"} for key, prop in schema["properties"].items()
    }
    return schema


def config_schema(required: bool = True) -> PolicyConfigSchema:
    """The pack config of the budget policies, generated from the models that validate it.

    ``BudgetConfig``'s fields (``limit_tzs``, ``warn_tzs``, ``usd_to_tzs``, rate date and source,
    ``override``) at the top level, ``usage`` as ``UsageConfig``. The ``override`` reference is inlined:
    a policy's schema is a list of properties, with no place for definitions.
    """
    budget = _schema_of(BudgetConfig)
    properties = dict(budget["properties"])
    properties["override"] = {
        **_schema_of(BudgetOverride),
        "description": "an owner's decision to deploy over the limit: a reason (10+ characters), approved_by",
    }
    properties[USAGE_KEY] = {
        **_schema_of(UsageConfig),
        "description": "monthly usage assumptions (the fields of a stack's stars:usage block)",
    }
    properties[DEMAND_KEY] = {
        **_schema_of(DemandConfig),
        "description": "the phase's demand (a stack's stars:demand block): CPU load for T-family credits",
    }
    properties[PLACEMENT_KEY] = {
        "type": "string",
        "enum": ["spread", "single_zone"],
        "description": "stars:network.placement: single_zone servers pay no cross-AZ transfer",
    }
    return PolicyConfigSchema(
        properties=properties,
        required=[*budget.get("required", []), USAGE_KEY] if required else None,
    )


def _describe(exc: ValidationError, prefix: str = "") -> list[str]:
    lines = []
    for err in exc.errors():
        key = ".".join([prefix, *map(str, err["loc"])] if prefix else map(str, err["loc"]))
        message = err["msg"].removeprefix("Value error, ")
        if err["type"] == "missing":
            lines.append(f"{key}: missing (required)")
        elif err["type"] == "extra_forbidden":
            lines.append(f"{key}: unknown key")
        else:
            lines.append(f"{key} = {shown(err.get('input'))}: {short(message, MESSAGE_CHARS)}")
    return lines


def parse_settings(config: Mapping[str, Any]) -> BudgetSettings:
    """Validate the pack config with the stack config's own models (numbers arrive as floats from the
    engine; whole floats are accepted where an integer is required)."""
    values = dict(config)
    usage = values.pop(USAGE_KEY, None)
    demand_values = values.pop(DEMAND_KEY, None)
    placement = values.pop(PLACEMENT_KEY, "spread")
    demand = None
    problems: list[str] = []
    budget = settings_usage = None
    try:
        budget = BudgetConfig.model_validate(values)
    except ValidationError as exc:
        problems += _describe(exc)
    if usage is None:
        problems.append(f"{USAGE_KEY}: missing (required)")
    else:
        try:
            settings_usage = UsageConfig.model_validate(usage)
        except ValidationError as exc:
            problems += _describe(exc, USAGE_KEY)
    if demand_values is not None:
        try:
            demand = DemandConfig.model_validate(demand_values)
        except ValidationError as exc:
            problems += _describe(exc, DEMAND_KEY)
    if placement not in ("spread", "single_zone"):
        problems.append(f"{PLACEMENT_KEY} = {shown(placement)}: must be spread or single_zone")
    if problems or budget is None or settings_usage is None:
        raise PackConfigError(f"invalid config for {POLICY_NAME}:\n  " + "\n  ".join(problems))
    return BudgetSettings(
        budget, settings_usage, demand, "single_zone" if placement == "single_zone" else "spread"
    )


def uses_intelligent_tiering(resources: Sequence[PlannedResource]) -> bool:
    """Whether the plan moves objects to S3 Intelligent-Tiering (an enabled lifecycle transition).

    The S3 rule asks the stack config's ``cdn.intelligent_tiering``; the pack answers from what the
    program registers instead (``components/cdn.py`` adds this transition exactly when that flag is set).
    """
    for r in resources:
        if r.type not in LIFECYCLE_TYPES:
            continue
        for rule in r.inputs.get("rules") or []:
            transitions = rule.get("transitions") or []
            if rule.get("status") == "Enabled" and any(
                t.get("storageClass") == "INTELLIGENT_TIERING" for t in transitions
            ):
                return True
    return False


def pricing_inputs(
    region: str, settings: BudgetSettings, resources: Sequence[PlannedResource]
) -> PricingInputs:
    """What the rules read, from what the pack knows: the region most priced resources are in, the pack
    config's usage, demand and placement, and S3 tiering as the program registers it.

    ``websockets_via_cdn`` is the stack config's claim that ``/ws`` goes through CloudFront; the pack sees
    the distributions themselves, and the CloudFront rule reads each one's own ``/ws`` route first, so the
    pack claims nothing beyond them (False). Loads are priced at the kept runs' measured figures, which the
    pack carries (policy/bundle.py).
    """
    return PricingInputs(
        region=region,
        usage=settings.usage,
        demand=settings.demand,
        placement=settings.placement,
        intelligent_tiering=uses_intelligent_tiering(resources),
        websockets_via_cdn=False,
        measured=kept_measured(),
    )


def estimate_stack(
    resources: Sequence[StackResource], settings: BudgetSettings, catalog: Catalog | None = None
) -> Estimate:
    """Price every resource in its own region with the budget's estimator (stack-wide links and usage).

    Each planned resource carries the region :func:`policy.resources.billing_region` gives it (one region
    function with ``budget check --preview-json``); the report names the region most priced resources are
    in. A priced type whose region is unknown, or missing from the catalog, is unpriced with the reason.
    """
    catalog = catalog or load_catalog()  # cached by the loader
    planned = planned_resources(resources)
    counted = Counter(p.region for p in planned if p.type in RULES and p.region)
    home = counted.most_common(1)[0][0] if counted else ""
    subject = Subject(stack=stack_name(resources), phase="", budget=settings.budget, users=None)
    return price_plan(planned, pricing_inputs(home, settings, planned), subject, catalog)


def report_for(
    resources: Sequence[StackResource], settings: BudgetSettings, catalog: Catalog | None = None
) -> StackReport:
    """The stack's budget report: the same model (totals, status, drivers) as ``budget check``'s JSON."""
    return stack_report(estimate_stack(resources, settings, catalog))


def _money(report: StackReport) -> str:
    return (
        f"TZS {format_tzs(report.total_tzs)} a month with every group at its maximum size"
        f" (USD {report.total_usd:,.2f} at {report.usd_to_tzs:,.0f} TZS/USD)"
    )


def _drivers(report: StackReport) -> str:
    shown = report.top_drivers[:DRIVERS_SHOWN]
    items = [
        f"{d.resource} ({d.tier}) {d.line}: USD {d.monthly_usd:,.2f} ({d.share:.0%})"
        + (", usage-based" if d.usage_based else "")
        for d in shown
    ]
    return "Top drivers: " + "; ".join(items) if items else "No priced lines"


ViolationKind = Literal["unpriced_resource", "unpriced_stack", "over_limit", "far_rate"]


@dataclass(frozen=True)
class BudgetViolation:
    """One reason a stack may not proceed, as data: what kind, the line the pack reports, and the
    resource it is attached to (None: the stack)."""

    kind: ViolationKind
    message: str
    urn: str | None = None


def budget_violations(report: StackReport) -> list[BudgetViolation]:
    """Each reason the stack may not proceed; empty when it may."""
    out: list[BudgetViolation] = []
    for u in report.unpriced:
        out.append(
            BudgetViolation(
                "unpriced_resource",
                f"cannot price {u.type} '{u.name}': {u.reason}. Anything unpriced fails the budget"
                " (no override lifts it).",
                None if u.urn == "-" else u.urn,
            )
        )
    if report.unpriced:
        out.append(
            BudgetViolation(
                "unpriced_stack",
                f"stack {report.stack}: {len(report.unpriced)} resource(s) cannot be priced; the priced part"
                f" alone is {_money(report)}. {_drivers(report)}.",
            )
        )
    elif report.status == "over" and not report.overridden:
        out.append(
            BudgetViolation(
                "over_limit",
                f"stack {report.stack}: {_money(report)} is over the limit of TZS"
                f" {format_tzs(report.limit_tzs)} ({report.total_tzs / report.limit_tzs:.1f}x)."
                f" {_drivers(report)}."
                " To deploy anyway, the pack config needs an override with a reason and approved_by.",
            )
        )
    elif report.exit_code == ExitCode.OVER and report.rate_warning is not None:
        # within the limit, at a rate the catalog does not confirm
        out.append(
            BudgetViolation(
                "far_rate",
                f"stack {report.stack}: {report.rate_warning}; the pack config's override is what lifts it.",
            )
        )
    return out


def warnings(report: StackReport) -> list[str]:
    """What the advisory policy says: above the warning level, or over the limit under an override."""
    if report.unpriced:
        return []
    if report.status == "over" and report.overridden and report.override is not None:
        return [
            f"stack {report.stack}: {_money(report)} is over the limit of TZS {format_tzs(report.limit_tzs)};"
            f" it proceeds under the override approved by {report.override.approved_by}:"
            f" {report.override.reason}. {_drivers(report)}."
        ]
    if report.status == "warn":
        return [
            f"stack {report.stack}: {_money(report)} is above the warning level of TZS"
            f" {format_tzs(report.warn_tzs or 0)} (limit TZS {format_tzs(report.limit_tzs)})."
            f" {_drivers(report)}."
        ]
    return []


def validate_budget(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    """``stars-budget``: over the limit without an override, anything unpriced, or no valid config."""
    try:
        settings = parse_settings(args.get_config())
    except PackConfigError as exc:
        report_violation(str(exc), None)
        return
    try:
        report = report_for(from_policy_resources(args.resources), settings)
    except RuleBug as exc:  # not a price: the stack may not proceed on it, and no override lifts it
        report_violation(f"{exc}. The budget cannot be checked, so it fails.", None)
        return
    for violation in budget_violations(report):
        report_violation(violation.message, violation.urn)


def validate_warning(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    """``stars-budget-warning``: not applicable until it has the budget's config."""
    config = args.get_config()
    if not config:
        args.not_applicable(f"no config: give it the same config as {POLICY_NAME}")
    try:
        settings = parse_settings(config)
    except PackConfigError as exc:
        report_violation(str(exc), None)
        return
    try:
        report = report_for(from_policy_resources(args.resources), settings)
    except RuleBug:  # stars-budget reports it, as a mandatory violation
        return
    for message in warnings(report):
        report_violation(message, None)


def policies() -> list[StackValidationPolicy]:
    return [
        StackValidationPolicy(
            name=POLICY_NAME,
            description=(
                "The monthly cost of the planned resources (every auto-scaling group at its maximum, with the"
                " configured usage) stays within the limit in TZS; anything unpriced fails."
            ),
            validate=validate_budget,
            enforcement_level=EnforcementLevel.MANDATORY,
            config_schema=config_schema(),
            remediation_steps=(
                "Run `python -m budget check` for the full report and its what-ifs (or `python -m budget fit`"
                " for the cheapest configuration that carries the users), then resize; or record an"
                " override (reason and approved_by) in the pack config."
            ),
            tags=["cost", "finops"],
        ),
        StackValidationPolicy(
            name=WARNING_POLICY_NAME,
            description=(
                "Says when the monthly cost is above the warning level, or over the limit under an override."
            ),
            validate=validate_warning,
            enforcement_level=EnforcementLevel.ADVISORY,
            config_schema=config_schema(required=False),
            tags=["cost", "finops"],
        ),
    ]
