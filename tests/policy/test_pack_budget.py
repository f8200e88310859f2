"""stars-budget and stars-budget-warning: one price model with ``budget check``, regions from providers,
config validated by the stack config's models, and every way a stack may not proceed."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from google.protobuf import json_format, struct_pb2
from pulumi_policy.policy import _NotApplicableError
from pulumi_policy.proxy import UNKNOWN_BOOLEAN_VALUE

from budget.capacity import kept_measured
from budget.catalog import load_catalog
from budget.estimator import estimate
from budget.plan import from_record
from budget.pricing_inputs import PricingInputs
from budget.report.build import stack_report
from budget.report.model import CostReport, StackReport, UnpricedReport
from budget.rules import RULES
from components.config import BudgetConfig, DemandConfig, UsageConfig
from components.planning.mocks import plan
from policy.budget_policy import (
    POLICY_NAME,
    WARNING_POLICY_NAME,
    PackConfigError,
    budget_violations,
    config_schema,
    parse_settings,
    policies,
    pricing_inputs,
    report_for,
)
from policy.resources import from_policy_resources, planned_resources
from tests.infra.conftest import ROOT, stack_config
from tests.infra.test_phases import variant
from tests.policy.engine import (
    EngineResource,
    from_plan,
    named,
    policy_resources,
    preview_json,
    provider_urn,
    run,
    stack_urn,
)
from tests.policy.stacks import OPTIONS, budget_config, known, option_config, preview, stack_of

if TYPE_CHECKING:
    from tests.conftest import BudgetCli

BUDGET, WARNING = policies()
OVERRIDE = {"reason": "launch month, reserved instances on order", "approved_by": "cfo@stars.example"}


def report(resources: list[EngineResource], config: dict[str, Any]) -> StackReport:
    return report_for(from_policy_resources(policy_resources(resources)), parse_settings(config))


def planned(resources: list[EngineResource]) -> list[Any]:
    """The planned resources without their providers' regions: priced in the stack config's region."""
    return [
        replace(p, region=None) for p in planned_resources(from_policy_resources(policy_resources(resources)))
    ]


def monthly(doc: StackReport, name: str) -> float:
    return next(r.monthly_usd for r in doc.resources if r.name == name)


def test_the_policies_are_named_and_levelled() -> None:
    assert (
        (BUDGET.name, WARNING.name)
        == (POLICY_NAME, WARNING_POLICY_NAME)
        == ("stars-budget", "stars-budget-warning")
    )
    assert BUDGET.enforcement_level is not None and WARNING.enforcement_level is not None  # both set
    assert BUDGET.enforcement_level.value == "mandatory"
    assert WARNING.enforcement_level.value == "advisory"
    assert BUDGET.description and WARNING.description


def test_an_over_limit_stack_fails_with_its_total_and_drivers(phase: str) -> None:
    config = budget_config(phase)
    doc = report(known(phase), config)
    found = run(BUDGET, known(phase), config)
    assert len(found) == 1, found
    message, urn = found[0]
    assert urn is None  # the stack as a whole
    assert f"TZS {doc.total_tzs:,} a month" in message
    assert f"over the limit of TZS {config['limit_tzs']:,}" in message
    assert f"USD {doc.total_usd:,.2f}" in message
    assert "Top drivers: " in message
    for driver in doc.top_drivers[:3]:
        assert f"{driver.resource} ({driver.tier}) {driver.line}: USD {driver.monthly_usd:,.2f}" in message
    assert run(WARNING, known(phase), config) == []  # over is the mandatory policy's verdict


def test_within_the_limit_passes_and_the_warning_level_is_advisory(phase: str) -> None:
    total = report(known(phase), budget_config(phase)).total_tzs
    roomy = budget_config(phase, limit_tzs=total + 1, warn_tzs=total + 1)
    assert run(BUDGET, known(phase), roomy) == []
    assert run(WARNING, known(phase), roomy) == []
    close = budget_config(phase, limit_tzs=total + 1, warn_tzs=total - 1)
    assert run(BUDGET, known(phase), close) == []
    [(message, _)] = run(WARNING, known(phase), close)
    assert f"above the warning level of TZS {total - 1:,}" in message


def test_an_override_lets_an_over_limit_stack_proceed_and_stays_visible() -> None:
    config = budget_config("phase2", override=OVERRIDE)
    assert run(BUDGET, known("phase2"), config) == []
    [(message, _)] = run(WARNING, known("phase2"), config)
    assert "proceeds under the override approved by cfo@stars.example" in message
    assert OVERRIDE["reason"] in message


@pytest.mark.parametrize(
    ("override", "fragment"),
    [
        ({"reason": "too short", "approved_by": "cfo"}, "override.reason"),
        ({"reason": "a long enough reason", "approved_by": ""}, "override.approved_by"),
        ({"reason": "a long enough reason"}, "override.approved_by: missing"),
        ({"approved_by": "cfo"}, "override.reason: missing"),
    ],
)
def test_an_override_counts_only_with_a_reason_and_an_approver(
    override: dict[str, str], fragment: str
) -> None:
    found = run(BUDGET, known("phase1"), budget_config("phase1", override=override))
    assert len(found) == 1
    assert found[0][0].startswith(f"invalid config for {POLICY_NAME}")
    assert fragment in found[0][0]


def _stray(stack: str) -> EngineResource:
    urn = f"urn:pulumi:{stack}::stars::aws:ec2/dedicatedHost:Host::stray"
    tags = {"project": "stars", "phase": stack, "tier": "api", "cost-center": "x"}
    return EngineResource(
        "aws:ec2/dedicatedHost:Host",
        "stray",
        urn,
        {"instanceFamily": "mac1", "tags": tags, "id": "h-0123"},
        True,
        parent=stack_urn(stack),
        provider=provider_urn(stack),
    )


def test_an_unpriced_resource_fails_closed_even_under_an_override() -> None:
    resources = [*known("phase1"), _stray("phase1")]
    config = budget_config("phase1", limit_tzs=10**9, warn_tzs=10**9, override=OVERRIDE)
    found = run(BUDGET, resources, config)
    assert (
        "cannot price aws:ec2/dedicatedHost:Host 'stray': no pricing rule for type"
        " aws:ec2/dedicatedHost:Host. Anything unpriced fails the budget (no override lifts it).",
        _stray("phase1").urn,
    ) in found
    assert any(m.startswith("stack phase1: 1 resource(s) cannot be priced") for m, _ in found)
    assert run(WARNING, resources, config) == []


@pytest.fixture(scope="module")
def check_all(budget_cli: BudgetCli) -> dict[str, dict[str, Any]]:
    """``python -m budget check --all``'s JSON, per stack (what the CLI, CI and the guard print)."""
    run_ = budget_cli("check", "--all", "--format", "json")
    assert run_.returncode in (0, 1), run_.stderr
    return {doc["stack"]: doc for doc in json.loads(run_.stdout)["stacks"]}


def _same_totals(doc: StackReport, cli: dict[str, Any]) -> None:
    assert doc.total_usd == cli["total_usd"]  # rounded to the cent by the same report builder
    assert doc.total_tzs == cli["total_tzs"]
    assert doc.totals.to_json() == cli["totals"]
    assert doc.status == cli["status"]
    assert [d.to_json() for d in doc.top_drivers] == cli["top_drivers"]
    assert doc.unpriced == () and cli["unpriced"] == []


def test_the_total_is_budget_checks_to_the_cent(phase: str, check_all: dict[str, dict[str, Any]]) -> None:
    _same_totals(report(known(phase), budget_config(phase)), check_all[phase])


def test_a_preview_is_priced_as_budget_check_prices_its_document(tmp_path: Path) -> None:
    """In the preview that creates phase 3, ids and links are unknown; the pack and
    ``budget check --preview-json`` read the same document the same way, and agree with the plan."""
    document = tmp_path / "preview.json"
    document.write_text(json.dumps(preview_json(preview("phase3"))), encoding="utf-8")
    cmd = [sys.executable, "-m", "budget", "check", "--stack", "phase3", "--preview-json", str(document)]
    cmd += ["--no-what-ifs", "--format", "json"]
    cli = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=180)
    assert cli.returncode in (0, 1), cli.stderr
    from_cli = json.loads(cli.stdout)  # one stack: its report alone
    doc = report(preview("phase3"), budget_config("phase3"))
    _same_totals(doc, from_cli)
    assert doc.total_usd == report(known("phase3"), budget_config("phase3")).total_usd


def _checks_report(name: str) -> StackReport:
    """What ``budget check`` reports for a stack's config: its mocked plan priced in the stack's region."""
    _, plan_, cfg = stack_of(name)
    return stack_report(estimate([from_record(r) for r in plan_.resources], cfg, load_catalog()))


@pytest.mark.parametrize("option", sorted(OPTIONS))
def test_each_option_is_priced_as_budget_check_prices_it(option: str) -> None:
    """The combined app tier with commitments, an NLB with /ws through CloudFront (priced from the
    distribution, not from config the pack lacks), a flat-rate plan under a us-east-1 provider."""
    checked = _checks_report(option)
    doc = report(known(option), budget_config(option))
    assert doc.total_usd == checked.total_usd
    assert doc.totals.to_json() == checked.totals.to_json()
    assert [d.to_json() for d in doc.top_drivers] == [d.to_json() for d in checked.top_drivers]
    assert doc.unpriced == checked.unpriced == ()
    assert doc.total_usd == report(preview(option), budget_config(option)).total_usd


def test_the_plans_web_acl_and_subscription_are_priced_in_us_east_1() -> None:
    resources = known("plan-business")
    provider = named(resources, "cdn-us-east-1")
    assert provider.type == "pulumi:providers:aws" and provider.props["region"] == "us-east-1"
    assert named(resources, "cdn-waf").provider == named(resources, "cdn-plan").provider == provider.urn
    assert named(resources, "cdn-distribution").provider == provider_urn("phase1")
    doc = report(resources, budget_config("plan-business"))
    assert monthly(doc, "cdn-plan") == 200.0  # the Business plan's flat fee
    assert monthly(doc, "cdn-waf") == monthly(doc, "cdn-distribution") == 0.0  # within the plan


def _without_websocket_routes(resources: list[EngineResource]) -> None:
    dist = named(resources, "cdn-distribution").props
    dist["orderedCacheBehaviors"] = []
    dist["origins"] = [o for o in dist["origins"] if "customOriginConfig" not in o]


def test_websockets_on_a_flat_rate_plan_are_read_from_the_distribution() -> None:
    """/ws through a distribution on a plan has no sourced price; the pack's config has no
    ``websockets_via_cdn`` and its usage no WebSocket traffic: the distribution's /ws route decides."""
    cfg = option_config("plan-business")
    with_ws = variant(cfg, load_balancer={"websockets_via_cdn": True})
    resources = from_plan(plan(with_ws), with_ws.stack, with_ws.region)
    config = budget_config("plan-business", override=OVERRIDE)
    assert not any(config["usage"][k] for k in config["usage"] if "websocket" in k)
    found = run(BUDGET, resources, config)
    dist = named(resources, "cdn-distribution")
    assert any(
        "'cdn-distribution': WebSocket traffic through a distribution on the Business flat-rate plan" in m
        and urn == dist.urn
        for m, urn in found
    ), found
    _without_websocket_routes(resources)
    assert run(BUDGET, resources, config) == []


def _explicit_provider(stack: str, name: str, region: str) -> EngineResource:
    urn = f"urn:pulumi:{stack}::stars::pulumi:providers:aws::{name}"
    return EngineResource("pulumi:providers:aws", name, urn, {"region": region}, True)


def test_each_resource_is_priced_in_its_providers_region() -> None:
    """The API tier under an explicit us-east-1 provider: its group costs what budget's rules say in
    us-east-1, the rest stays in the default provider's af-south-1."""
    resources = known("phase1")
    explicit = _explicit_provider("phase1", "us-east", "us-east-1")
    for name in ("api-asg", "api-lt"):
        named(resources, name).provider = explicit.urn
    doc = report([*resources, explicit], budget_config("phase1"))
    cfg = stack_config("phase1")
    catalog = load_catalog()

    def alone(region: str, name: str) -> float:
        est = estimate(planned(known("phase1")), cfg.model_copy(update={"region": region}), catalog)
        return round(next(p.monthly("max") for p in est.priced if p.resource.name == name), 2)

    assert monthly(doc, "api-asg") == alone("us-east-1", "api-asg") != alone("af-south-1", "api-asg")
    assert monthly(doc, "realtime-asg") == alone("af-south-1", "realtime-asg")
    assert doc.region == "af-south-1"  # where most priced resources are


def test_a_resources_own_region_input_wins_over_its_provider() -> None:
    """pulumi-aws v7 lets a resource name its region; AWS bills it there."""
    resources = known("phase1")
    named(resources, "api-asg").props["region"] = "eu-west-1"
    cfg = stack_config("phase1").model_copy(update={"region": "eu-west-1"})
    est = estimate(planned(known("phase1")), cfg, load_catalog())
    expected = round(next(p.monthly("max") for p in est.priced if p.resource.name == "api-asg"), 2)
    assert monthly(report(resources, budget_config("phase1")), "api-asg") == expected


def test_the_default_providers_region_decides_not_the_stack_file() -> None:
    resources = known("phase2")
    named(resources, provider_urn("phase2").rsplit("::", 1)[-1]).props["region"] = "eu-west-1"
    cfg = stack_config("phase2")
    assert cfg.region == "af-south-1"
    expected = estimate(
        planned(known("phase2")), cfg.model_copy(update={"region": "eu-west-1"}), load_catalog()
    )
    doc = report(resources, budget_config("phase2"))
    assert doc.region == "eu-west-1"
    assert doc.total_usd == round(expected.total("max"), 2)


@pytest.mark.parametrize(
    ("provider_props", "fragment"),
    [
        ({"region": "ap-south-2", "version": "7.51.1"}, "the catalog has no prices for region ap-south-2"),
        ({"version": "7.51.1"}, "sets no region (set aws:region"),
        ({"region": "04da6b54-80e4-46f7-96ec-b56ff0331ba9"}, "is unknown until deploy"),
    ],
)
def test_a_region_that_cannot_be_priced_fails_closed(provider_props: dict[str, str], fragment: str) -> None:
    resources = known("phase1")
    named(resources, provider_urn("phase1").rsplit("::", 1)[-1]).props = provider_props
    found = run(BUDGET, resources, budget_config("phase1", override=OVERRIDE))
    asg = named(resources, "api-asg").urn
    assert any(fragment in message and urn == asg for message, urn in found), found
    assert any(m.startswith("stack phase1:") and "cannot be priced" in m for m, _ in found)


def test_a_value_unknown_until_deploy_fails_closed_whatever_its_kind() -> None:
    """An unknown boolean arrives as its own sentinel string; read as a plain string it would count as
    false and price a Multi-AZ database as single-AZ. Every kind reaches the rules as *unknown*."""
    resources = preview("phase1")
    db = named(resources, "database-primary")
    db.props["multiAz"] = UNKNOWN_BOOLEAN_VALUE
    db.property_dependencies["multiAz"] = [named(resources, "network-vpc").urn]
    found = run(BUDGET, resources, budget_config("phase1", override=OVERRIDE))
    assert any("'database-primary': input 'multiAz' is unknown until deploy" in m for m, _ in found), found


def test_intelligent_tiering_is_read_from_what_the_program_registers() -> None:
    resources = known("phase1")
    lifecycle = named(resources, "cdn-lifecycle")
    with_it = report(resources, budget_config("phase1"))
    lifecycle.props["rules"] = [r for r in lifecycle.props["rules"] if r["id"] != "intelligent-tiering"]
    without = report(resources, budget_config("phase1"))
    lines = {r.name: [li.name for li in r.lines] for r in (*with_it.resources, *without.resources)}
    assert any("Intelligent-Tiering" in n for n in [li.name for r in with_it.resources for li in r.lines])
    assert "Storage (Standard)" in lines["cdn-bucket"]
    cfg = stack_config("phase1")
    standard = cfg.model_copy(update={"cdn": cfg.cdn.model_copy(update={"intelligent_tiering": False})})
    est = estimate(planned(known("phase1")), standard, load_catalog())
    assert without.total_usd == round(est.total("max"), 2)


def test_a_rule_bug_fails_the_budget_even_under_an_override(monkeypatch: pytest.MonkeyPatch) -> None:
    """The rules see only the pack's pricing inputs (no tier block to read); a rule that reads what is not
    there is a bug, reported as a mandatory violation naming it, never priced as $0 or passed."""
    monkeypatch.setitem(RULES, "aws:sns/topic:Topic", lambda resource, ctx: ctx.inputs.api.instance_type)
    found = run(BUDGET, known("phase1"), budget_config("phase1", override=OVERRIDE))
    assert len(found) == 1, found
    message, urn = found[0]
    assert "the rule for aws:sns/topic:Topic failed on 'monitoring-alarms' (AttributeError" in message
    assert "fails" in message and urn is None
    assert run(WARNING, known("phase1"), budget_config("phase1", override=OVERRIDE)) == []


@pytest.mark.parametrize("phase", ["phase1", "phase2", "phase3"])
def test_the_packs_pricing_inputs_are_the_stack_files_but_for_what_it_reads_from_resources(
    phase: str,
) -> None:
    """Built from the engine's resources and the pack config: the stack file's region, usage, demand,
    placement and S3 tiering; ``websockets_via_cdn`` is left to each distribution's own /ws route."""
    resources = planned_resources(from_policy_resources(policy_resources(known(phase))))
    settings = parse_settings(budget_config(phase))
    cfg = stack_config(phase)
    inputs = pricing_inputs(cfg.region, settings, resources)
    assert inputs == replace(PricingInputs.of(cfg, kept_measured()), websockets_via_cdn=False)
    assert cfg.load_balancer.websockets_via_cdn  # the one field the pack does not take from the stack


@pytest.mark.parametrize(
    ("config", "fragments"),
    [
        ({}, ["limit_tzs: missing", "warn_tzs: missing", "usage: missing"]),
        ({"warn_tzs": 500_000}, ["warn_tzs (500000) must not exceed limit_tzs (400000)"]),
        ({"limit_tzs": 400_000.5}, ["limit_tzs = 400000.5"]),
        ({"limit_tzs": -1}, ["limit_tzs = -1"]),
        ({"budget": 1}, ["budget: unknown key"]),
    ],
)
def test_an_invalid_config_is_a_violation_naming_each_key(
    config: dict[str, Any], fragments: list[str]
) -> None:
    values = {} if config == {} else budget_config("phase1", **config)
    [(message, urn)] = run(BUDGET, known("phase1"), values)
    assert message.startswith(f"invalid config for {POLICY_NAME}:") and urn is None
    for fragment in fragments:
        assert fragment in message


def test_a_typo_in_the_usage_block_is_named() -> None:
    usage = {**budget_config("phase1")["usage"], "cloudfront_egres_gb": 1}
    [(message, _)] = run(BUDGET, known("phase1"), budget_config("phase1", usage=usage))
    assert "usage.cloudfront_egres_gb: unknown key" in message


def test_the_config_is_read_as_the_engine_sends_it() -> None:
    """The engine passes the config as a protobuf Struct: every number arrives as a float."""
    struct = struct_pb2.Struct()
    json_format.ParseDict(budget_config("phase3"), struct)
    sent = json_format.MessageToDict(struct)
    assert isinstance(sent["limit_tzs"], float)
    settings = parse_settings(sent)
    assert settings.budget == stack_config("phase3").budget
    assert settings.usage == stack_config("phase3").usage


def test_the_schema_is_the_stack_configs_models() -> None:
    schema = config_schema()
    assert set(schema.properties) == {*BudgetConfig.model_fields, "usage", "demand", "placement"}
    assert schema.required == ["limit_tzs", "warn_tzs", "usage"]
    assert set(schema.properties["usage"]["properties"]) == set(UsageConfig.model_fields)
    assert set(schema.properties["demand"]["properties"]) == set(DemandConfig.model_fields)
    assert schema.properties["placement"]["enum"] == ["spread", "single_zone"]
    override = schema.properties["override"]
    assert override["properties"]["reason"]["minLength"] == 10
    assert set(override["required"]) == {"reason", "approved_by"}
    assert "$ref" not in json.dumps(schema.properties)  # a policy's schema has no definitions section
    assert config_schema(required=False).required is None


def test_the_warning_policy_needs_the_budgets_config() -> None:
    with pytest.raises(_NotApplicableError):
        run(WARNING, known("phase1"), {})
    [(message, _)] = run(WARNING, known("phase1"), {"limit_tzs": 1})
    assert message.startswith(f"invalid config for {POLICY_NAME}")


def test_without_demand_the_pack_prices_the_upper_bound_and_placement_decides_cross_az() -> None:
    """An older pack config (no ``demand``) still prices: T-family credits at the scaling target, never
    less than with the phase's demand; ``placement: single_zone`` drops the cross-AZ transfer."""
    full = budget_config("phase1")
    assert full["placement"] == "spread" and "demand" in full
    bare = {k: v for k, v in full.items() if k != "demand"}
    with_demand, upper = report(known("phase1"), full), report(known("phase1"), bare)
    assert upper.total_usd > with_demand.total_usd
    cross_az = "Cross-AZ data transfer (app servers <-> data stores, both directions)"

    def cross_az_usd(doc: StackReport) -> float:
        return sum(line.monthly_usd for r in doc.resources for line in r.lines if line.name == cross_az)

    single = report(known("phase1"), {**full, "placement": "single_zone"})
    assert cross_az_usd(with_demand) > 0 and cross_az_usd(single) == 0
    assert single.total_usd == pytest.approx(with_demand.total_usd - cross_az_usd(with_demand))


def test_a_bad_placement_or_demand_is_named() -> None:
    config = {**budget_config("phase1"), "placement": "everywhere"}
    with pytest.raises(PackConfigError, match="placement = 'everywhere'"):
        parse_settings(config)
    config = {**budget_config("phase1"), "demand": {"concurrent_users": -1}}
    with pytest.raises(PackConfigError, match=r"demand\.concurrent_users"):
        parse_settings(config)


def test_each_violation_says_its_kind_as_data() -> None:
    """What the pack reports is a line per violation; its callers read the kind, not the line's prefix."""
    golden = ROOT / "tests" / "budget" / "golden" / "check-all.json"
    report = CostReport.loads(golden.read_text(encoding="utf-8")).verdicts()["phase1"]
    [over] = budget_violations(report)
    assert over.kind == "over_limit" and over.urn is None
    assert "is over the limit of TZS 400,000" in over.message
    unpriced = report.model_copy(
        update={"unpriced": (UnpricedReport(urn="urn:x", type="aws:x/y:Z", name="z", reason="no rule"),)}
    )
    kinds = [v.kind for v in budget_violations(unpriced)]
    assert kinds == ["unpriced_resource", "unpriced_stack"]
