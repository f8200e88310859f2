"""What the rules read of a stack (``PricingInputs``), as each caller builds it, and rule bugs failing loudly.

``check`` builds the inputs from a stack file (also when it prices a preview), ``fit`` from each candidate
config, the policy pack from its own config and the engine's resources (tests/policy/test_pack_budget.py).
A rule that raises anything but ``RuleError`` or a missing price is a bug: the estimator raises it, naming
the resource, where it used to report the resource unpriced with a cause that was not one.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from budget.capacity import Measured, Unmeasured, kept_measured, load_model
from budget.catalog import load_catalog
from budget.cli import main
from budget.estimator import RuleBug, estimate, estimate_preview
from budget.fit.pricer import Pricer
from budget.fit.space import Choice, Space
from budget.plan import plan_offline
from budget.preview import parse_preview_document
from budget.pricing_inputs import PricingInputs, Subject
from budget.rules import RULES, RuleContext, RuleError
from components.config import load_stack_file
from tests.budget.budget_helpers import ROOT, res, stack_cfg, unpriced
from tests.policy.engine import from_plan_as_preview, preview_json
from tests.policy.stacks import stack_of

CATALOG = load_catalog()
SNS = "aws:sns/topic:Topic"


@pytest.mark.parametrize("phase", ["phase1", "phase2", "phase3"])
def test_a_stack_files_inputs_are_its_blocks(phase: str) -> None:
    cfg = load_stack_file(ROOT / f"Pulumi.{phase}.yaml")
    inputs = PricingInputs.of(cfg, kept_measured())
    assert inputs.region == cfg.region and inputs.usage is cfg.usage and inputs.demand is cfg.demand
    assert inputs.placement == cfg.network.placement
    assert inputs.intelligent_tiering is cfg.cdn.intelligent_tiering
    assert inputs.websockets_via_cdn is cfg.load_balancer.websockets_via_cdn
    assert cfg.demand is not None  # each phase states its demand
    assert Subject.of(cfg) == Subject(cfg.stack, cfg.phase, cfg.budget, cfg.demand.concurrent_users)
    with pytest.raises(dataclasses.FrozenInstanceError):
        inputs.region = "us-east-1"  # type: ignore[misc]  # frozen: what a rule reads cannot change under it
    # equal values, equal keys: fit's cache reuses a tier's lines exactly when its inputs are equal
    assert {inputs: 1}[PricingInputs.of(cfg.model_copy(), kept_measured())] == 1
    other = cfg.model_copy(update={"usage": cfg.usage.model_copy(update={"sns_notifications": 1.0})})
    assert PricingInputs.of(other, kept_measured()) != inputs


def test_a_rule_sees_the_inputs_not_the_stack_config() -> None:
    """Nothing else of the config reaches a rule: the context has no ``cfg`` to reach a tier block by."""
    fields = {f.name for f in dataclasses.fields(RuleContext)}
    assert "inputs" in fields and "cfg" not in fields
    assert {f.name for f in dataclasses.fields(PricingInputs)} == {
        "region",
        "usage",
        "demand",
        "placement",
        "intelligent_tiering",
        "websockets_via_cdn",
        "measured",
    }


def test_a_previews_inputs_are_its_stack_files_and_its_region_names_the_report() -> None:
    stack, plan, cfg = stack_of("phase1")
    doc = preview_json(from_plan_as_preview(plan, stack, "us-east-1"))
    doc["config"] = {"aws:region": "us-east-1"}
    est = estimate_preview(parse_preview_document(doc), cfg, CATALOG, "Pulumi.phase1.yaml")
    assert est.inputs == PricingInputs.of(cfg, kept_measured()) and est.subject == Subject.of(cfg)
    assert est.home_region == "us-east-1" != cfg.region
    assert not est.unpriced


def _candidate(space: Space, websockets_via_cdn: bool) -> Any:
    shape = next(s for s in space.shapes() if s.websockets_via_cdn is websockets_via_cdn)
    servers = tuple(space.server_choices(group, shape.zones)[0] for group in shape.groups)
    return space.config(Choice(shape, servers, space.database_choices()[0], space.cache_choices()[0]))


def test_a_fit_candidates_inputs_carry_its_routed_usage_and_price_as_check_does() -> None:
    space = Space(stack_cfg("phase1"), CATALOG, load_model(CATALOG))  # TLS: /ws may go either way
    pricer = Pricer(CATALOG)
    for via_cdn in (True, False):
        cfg = _candidate(space, via_cdn)
        priced = pricer.price(cfg)
        assert priced.estimate.inputs == PricingInputs.of(cfg, kept_measured())
        assert priced.estimate.inputs.websockets_via_cdn is via_cdn
        # usage follows the route: WebSocket frames are CloudFront's only when /ws goes through it
        assert (priced.estimate.inputs.usage.cloudfront_websocket_egress_gb > 0) is via_cdn
        whole = estimate(plan_offline(cfg), cfg, CATALOG)
        assert priced.total() == pytest.approx(whole.total(), abs=0.005)
        assert [u.reason for u in priced.estimate.unpriced] == [u.reason for u in whole.unpriced]


def test_the_measured_figures_are_an_input_each_caller_states() -> None:
    """The CPU-credit rules priced loads from a process-wide folder that ``fit --measured`` set and never
    reset, outside fit's cache key; now the figures are a pricing input: stated, compared, nothing left
    behind."""
    cfg = stack_cfg("phase1", region="us-east-1")
    kept = kept_measured()
    assert isinstance(kept, Measured)
    per_delivery = kept.realtime_us_per_delivery
    slow = dataclasses.replace(
        kept, realtime_us_per_delivery=dataclasses.replace(per_delivery, value=1_000 * per_delivery.value)
    )
    resources = plan_offline(cfg)
    base = estimate(resources, cfg, CATALOG, measured=kept)
    busy = estimate(resources, cfg, CATALOG, measured=slow)
    credits = [li.name for p in busy.priced for li in p.lines if li.name.startswith("Surplus CPU credits")]
    assert credits and busy.total() > base.total()
    assert estimate(resources, cfg, CATALOG).total() == base.total()  # the default: the kept runs'
    assert PricingInputs.of(cfg, slow) != PricingInputs.of(cfg, kept)  # so fit's cache keys apart
    pricer = Pricer(CATALOG, slow)
    assert pricer.price(cfg).total() == pytest.approx(busy.total(), abs=0.005)
    assert Pricer(CATALOG).price(cfg).total() == pytest.approx(base.total(), abs=0.005)


def test_no_measured_figures_leave_a_loaded_group_unpriced_with_the_reason() -> None:
    cfg = stack_cfg("phase1", region="us-east-1")
    est = estimate(plan_offline(cfg), cfg, CATALOG, measured=Unmeasured("no kept run qualifies"))
    reasons = {u.reason for u in est.unpriced}
    assert reasons and all(r.endswith("CPU load: no kept run qualifies") for r in reasons)
    no_demand = cfg.model_copy(update={"demand": None})  # nothing to take a load from: no figure needed
    assert not estimate(plan_offline(no_demand), no_demand, CATALOG, measured=Unmeasured("none")).unpriced


def _buggy(resource: Any, ctx: RuleContext) -> Any:
    return ctx.inputs.api.instance_type  # type: ignore[attr-defined]  # the bug: no such input


def test_a_rule_bug_fails_the_check_naming_the_resource(monkeypatch: pytest.MonkeyPatch) -> None:
    """An AttributeError inside a rule used to become "unpriced: unexpected inputs": now it is raised."""
    monkeypatch.setitem(RULES, SNS, _buggy)
    cfg = stack_cfg()
    with pytest.raises(
        RuleBug, match=r"the rule for aws:sns/topic:Topic failed on 'alarms' \(AttributeError"
    ) as exc:
        estimate([res(SNS, "alarms")], cfg, CATALOG)
    assert isinstance(exc.value.__cause__, AttributeError)


def test_a_rule_bug_stops_fit_instead_of_skipping_the_candidate(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fit treats an unpriced candidate as one to pass over: a bug must stop it, not narrow the search."""
    monkeypatch.setitem(RULES, SNS, _buggy)
    with pytest.raises(RuleBug, match="AttributeError"):
        Pricer(CATALOG).price(stack_cfg())


@pytest.mark.parametrize("error", [RuleError("input 'x' is missing"), KeyError("x"), TypeError("x")])
def test_only_a_rule_error_means_unpriced(monkeypatch: pytest.MonkeyPatch, error: Exception) -> None:
    def rule(resource: Any, ctx: RuleContext) -> Any:
        raise error

    monkeypatch.setitem(RULES, SNS, rule)
    if isinstance(error, RuleError):
        assert unpriced(res(SNS, "alarms"), stack_cfg(), CATALOG).reason == "input 'x' is missing"
    else:
        with pytest.raises(RuleBug, match=type(error).__name__):
            estimate([res(SNS, "alarms")], stack_cfg(), CATALOG)


def test_a_rule_bug_is_one_line_and_exit_2_from_the_command(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Fail closed without a traceback: the check judges nothing and says which rule failed on what."""
    monkeypatch.setitem(RULES, SNS, _buggy)
    code = main(["check", "--stack", "phase1", "--format", "json", "--no-what-ifs"])
    out, err = capsys.readouterr()
    assert code == 2 and not out and err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith("budget check: the rule for aws:sns/topic:Topic failed on ")
    assert "(AttributeError" in err and err.endswith("nothing was judged (please report it)\n")
