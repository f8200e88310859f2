"""``budget check --preview-json`` on documents in the real ``pulumi preview --json`` shape.

Regions from the document (its ``config``, its providers, a resource's own ``region``), every step op,
secrets, unknowns, components, deletions, and the one-line warning in every format when the stack file's
region differs. The phase documents are built from the program's own mocked plan, as the engine would
print a preview that creates the stack (``tests/policy/engine.py``), so a preview of a phase must cost
exactly what ``check`` costs under mocks.
"""

from __future__ import annotations

import contextlib
import copy
import io
import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from budget.catalog import load_catalog
from budget.cli import main
from budget.comment import render_markdown
from budget.diff import diff_reports, render_table, to_json
from budget.estimator import estimate, estimate_preview
from budget.plan import from_record
from budget.preview import PreviewError, load_preview, parse_preview, parse_preview_document
from budget.report.build import stack_report
from budget.report.formatting import format_tzs
from budget.report.model import CostReport, StackReport
from budget.rules.base import SECRET, UNKNOWN
from components.config import load_stack_file
from tests.budget.budget_helpers import ROOT, stack_cfg
from tests.policy.engine import from_plan_as_preview, preview_json, provider_urn
from tests.policy.stacks import stack_of

DATA = Path(__file__).parent / "data"
EXAMPLE = DATA / "preview_us_east_1.json"
AWS_PROVIDER = "pulumi:providers:aws"


def phase_document(phase: str = "phase1", region: str | None = None) -> dict[str, Any]:
    """The preview that creates ``phase`` in ``region`` (the stack file's by default), with its config."""
    stack, plan, cfg = stack_of(phase)
    where = region or cfg.region
    doc = preview_json(from_plan_as_preview(plan, stack, where))
    doc["config"] = {"aws:region": where, "stars:phase": phase, "stars:budget": SECRET}
    return copy.deepcopy(doc)


def _step(doc: dict[str, Any], name: str) -> dict[str, Any]:
    found = [s for s in doc["steps"] if s["urn"].rsplit("::", 1)[-1] == name]
    assert len(found) == 1, name
    return found[0]


def _check(tmp_path: Path, doc: dict[str, Any], *args: str) -> tuple[int, str]:
    """``python -m budget check --stack phase1 --preview-json <doc>``: exit code and standard output."""
    path = tmp_path / "preview.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
        code = main(["check", "--stack", "phase1", "--preview-json", str(path), "--no-what-ifs", *args])
    return code, out.getvalue()


def _mocks_total(phase: str, region: str) -> float:
    """What ``check`` prices under mocks with every AWS resource in ``region``."""
    _, plan, _ = stack_of(phase)
    resources = [from_record(r) for r in plan.resources]
    regional = [replace(r, region=region if r.region else None) for r in resources]
    # the phase's own config (its stack file, as the CLI reads it), in ``region``
    real = load_stack_file(ROOT / f"Pulumi.{phase}.yaml").model_copy(update={"region": region})
    return estimate(regional, real, load_catalog()).total("max")


def test_a_phase_preview_costs_what_check_costs_under_mocks(catalog):
    preview = parse_preview_document(phase_document("phase1"))
    cfg = load_stack_file(ROOT / "Pulumi.phase1.yaml")
    est = estimate_preview(preview, cfg, catalog, "Pulumi.phase1.yaml")
    assert not est.unpriced and not est.warnings
    assert est.total("max") == pytest.approx(_mocks_total("phase1", "af-south-1"))
    assert {p.resource.region for p in est.priced if p.resource.type.startswith("aws:")} == {"af-south-1"}


def test_a_preview_in_us_east_1_is_priced_at_us_east_1_and_says_so_in_every_format(tmp_path):
    """The issue's case: ``--stack phase1`` (af-south-1) with a preview whose config says us-east-1."""
    doc = phase_document("phase1", region="us-east-1")
    code, text = _check(tmp_path, doc, "--format", "json")
    assert code == 1  # over budget, at us-east-1 prices
    report = CostReport.loads(text).stacks[0]
    assert isinstance(report, StackReport)  # priced, if over budget
    assert report.region == "us-east-1"
    assert report.total_usd == pytest.approx(round(_mocks_total("phase1", "us-east-1"), 2))
    assert report.total_usd < round(_mocks_total("phase1", "af-south-1"), 2)
    aws = [r for r in report.resources if r.type.startswith("aws:")]
    assert aws and {r.region for r in aws} == {"us-east-1"}
    assert all(r.region == "" for r in report.resources if not r.type.startswith("aws:"))
    expected = (
        "the preview's region is us-east-1, stack phase1's is af-south-1 (Pulumi.phase1.yaml):"
        " each resource is priced where the preview puts it"
    )
    assert list(report.warnings) == [expected]
    assert json.loads(text)["warnings"] == [expected]
    _, table = _check(tmp_path, doc, "--format", "table")
    assert [ln for ln in table.splitlines() if "warning:" in ln] == [f"! warning: {expected}"]
    _, markdown = _check(tmp_path, doc, "--format", "markdown")
    assert f"> **Warning:** {expected}" in markdown.splitlines()


def test_a_preview_in_the_stack_files_region_has_no_warning(tmp_path):
    code, text = _check(tmp_path, phase_document("phase1"), "--format", "json")
    assert code == 1
    assert json.loads(text)["warnings"] == []


def test_an_explicit_provider_prices_its_resources_in_its_region(catalog):
    doc = phase_document("phase1")
    explicit = provider_urn("phase1").rsplit("::", 1)[0] + "::use1"
    doc["steps"].append(
        {
            "op": "create",
            "urn": explicit,
            "newState": {
                "urn": explicit,
                "type": AWS_PROVIDER,
                "custom": True,
                "inputs": {"region": "us-east-1"},
            },
        }
    )
    for name in ("api-asg", "api-lt"):
        _step(doc, name)["newState"]["provider"] = f"{explicit}::{UNKNOWN}"
    est = estimate_preview(parse_preview_document(doc), stack_cfg("phase1"), catalog, "Pulumi.phase1.yaml")
    by_name = {p.resource.name: p for p in est.priced}
    assert by_name["api-asg"].resource.region == "us-east-1"
    assert by_name["realtime-asg"].resource.region == "af-south-1"
    alone = estimate_preview(
        parse_preview_document(phase_document("phase1", "us-east-1")), stack_cfg("phase1"), catalog, "x"
    )
    us_asg = next(p for p in alone.priced if p.resource.name == "api-asg")
    assert by_name["api-asg"].monthly() == pytest.approx(us_asg.monthly())
    assert est.home_region == "af-south-1"


def test_a_resources_own_region_input_wins(catalog):
    doc = phase_document("phase1")
    _step(doc, "api-asg")["newState"]["inputs"]["region"] = "eu-west-1"
    planned = {p.name: p for p in parse_preview(doc)}
    assert planned["api-asg"].region == "eu-west-1" and planned["api-lt"].region == "af-south-1"


def test_the_default_provider_takes_the_config_region_when_it_is_not_listed(catalog):
    """Without its step (an unchanged default provider), the default provider's region is aws:region."""
    doc = phase_document("phase1", "eu-west-1")
    doc["steps"] = [s for s in doc["steps"] if s["newState"]["type"] != AWS_PROVIDER]
    assert {p.region for p in parse_preview(doc) if p.type.startswith("aws:")} == {"eu-west-1"}


def test_a_document_without_any_region_is_priced_in_the_stack_files_with_a_warning(catalog):
    doc = phase_document("phase1")
    del doc["config"]
    for step in doc["steps"]:
        if step["newState"]["type"] == AWS_PROVIDER:
            step["newState"]["inputs"].pop("region")
    preview = parse_preview_document(doc)
    assert preview.region is None
    est = estimate_preview(preview, stack_cfg("phase1"), catalog, "Pulumi.phase1.yaml")
    assert est.home_region == "af-south-1" and not est.unpriced
    assert len(est.warnings) == 1 and "names no region for" in est.warnings[0]
    assert "priced in stack phase1's region af-south-1 (Pulumi.phase1.yaml)" in est.warnings[0]


def test_a_region_the_catalog_lacks_is_exit_2_naming_the_region_and_resources(tmp_path, capsys):
    doc = phase_document("phase1", "ap-south-2")
    code, text = _check(tmp_path, doc, "--format", "json")
    assert code == 2
    report = json.loads(text)
    reasons = {u["name"]: u["reason"] for u in report["unpriced"]}
    assert reasons["api-asg"] == "the catalog has no prices for region ap-south-2"
    assert set(reasons.values()) == {"the catalog has no prices for region ap-south-2"}


def test_an_explicit_provider_missing_from_the_document_fails_closed(catalog):
    doc = phase_document("phase1")
    missing = "urn:pulumi:phase1::stars::pulumi:providers:aws::cdn-us-east-1"
    _step(doc, "api-asg")["newState"]["provider"] = f"{missing}::{UNKNOWN}"
    est = estimate_preview(parse_preview_document(doc), stack_cfg("phase1"), catalog, "x")
    assert [(u.name, u.reason) for u in est.unpriced] == [
        (
            "api-asg",
            "no region to price it in: its provider 'cdn-us-east-1' is not in the preview"
            " (take it with --show-sames)",
        )
    ]


def test_the_example_document_every_op_a_secret_a_deletion(catalog, tmp_path):
    """tests/budget/data/preview_us_east_1.json (the README's example)."""
    preview = load_preview(EXAMPLE)
    names = [p.name for p in preview.resources]
    assert len(names) == len(set(names))  # each URN once (the replaced EIP too)
    assert "network-nat-b" not in names and [p.name for p in preview.deleted] == ["network-nat-b"]
    db = next(p for p in preview.resources if p.name == "database-primary")
    assert db.inputs["instanceClass"] == "db.t3.medium"  # the update's newState, not its oldState
    assert db.inputs["username"] == SECRET  # the engine's secret object
    regions = {p.name: p.region for p in preview.resources if p.type.startswith("aws:")}
    assert regions["monitoring-alerts-token"] == "eu-west-1" and regions["api-asg"] == "us-east-1"
    est = estimate_preview(preview, stack_cfg("phase1"), catalog, "Pulumi.phase1.yaml")
    assert not est.unpriced
    report = stack_report(est)
    nat = report.deleted[0]
    # NAT hour 730 x 0.045 + its share of the usage's NAT data, 100 GB x 0.045 (us-east-1)
    assert nat.monthly_usd == pytest.approx(32.85 + 4.50)
    assert report.deleted_usd == pytest.approx(37.35)
    doc = report.to_json()
    assert doc["deleted"][0]["name"] == "network-nat-b" and doc["deleted"][0]["region"] == "us-east-1"
    root = [item for r in report.resources for item in r.lines if item.assumption]
    assert [item.name for item in root] == ["Root volume from the AMI (gp3, 8 GB per instance)"]
    code, text = _check(tmp_path, json.loads(EXAMPLE.read_text()), "--format", "markdown")
    assert code == 1
    assert "**Deleted by this update**: saves USD 37.35" in text and "**Assumed AWS defaults**" in text


@pytest.mark.parametrize(
    "ops",
    [
        ["create"],
        ["update"],
        ["replace"],
        ["create-replacement", "replace", "delete-replaced"],
        ["refresh", "update"],
        ["import"],
        ["same"],
    ],
)
def test_every_live_op_prices_the_resource_once_from_its_new_state(catalog, ops):
    urn = "urn:pulumi:s::stars::aws:ec2/natGateway:NatGateway::nat"
    old = {"urn": urn, "type": "aws:ec2/natGateway:NatGateway", "inputs": {"connectivityType": "public"}}
    new = {**old, "inputs": {"connectivityType": "public", "subnetId": "subnet-1"}}
    steps = [
        {"op": op, "urn": urn, "oldState": old, **({} if op == "delete-replaced" else {"newState": new})}
        for op in ops
    ]
    planned = parse_preview({"config": {"aws:region": "us-east-1"}, "steps": steps})
    assert [(p.name, p.inputs.get("subnetId"), p.region) for p in planned] == [
        ("nat", "subnet-1", "us-east-1")
    ]


@pytest.mark.parametrize(
    "op", ["read", "read-replacement", "discard", "discard-replaced", "remove-pending-replace"]
)
def test_ops_that_change_no_bill_are_not_priced(op):
    urn = "urn:pulumi:s::stars::aws:ec2/natGateway:NatGateway::nat"
    state = {"urn": urn, "type": "aws:ec2/natGateway:NatGateway", "inputs": {}}
    preview = parse_preview_document(
        {"steps": [{"op": op, "urn": urn, "oldState": state, "newState": state}]}
    )
    assert preview.resources == () and preview.deleted == ()


def test_an_unknown_op_is_refused():
    with pytest.raises(PreviewError, match="unknown op 'teleport'"):
        parse_preview({"steps": [{"op": "teleport", "urn": "u"}]})


def test_a_preview_without_its_unchanged_resources_is_refused():
    doc = phase_document("phase1")
    doc["changeSummary"] = {"same": 40, "create": 1}
    with pytest.raises(PreviewError, match="--show-sames"):
        parse_preview(doc)
    doc["steps"] = [{**s, "op": "same"} for s in doc["steps"]]
    doc["changeSummary"] = {"same": len(doc["steps"])}
    assert parse_preview(doc)


@pytest.mark.parametrize(
    ("value", "revealed"),
    [
        (SECRET, SECRET),
        (
            {"4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270", "ciphertext": "AAEC"},
            SECRET,
        ),
        (
            {
                "4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270",
                "plaintext": '"t3.large"',
            },
            "t3.large",
        ),
    ],
)
def test_secret_values_are_opaque_unless_the_document_carries_their_plaintext(value, revealed):
    urn = "urn:pulumi:s::stars::aws:ec2/launchTemplate:LaunchTemplate::lt"
    state = {"urn": urn, "type": "aws:ec2/launchTemplate:LaunchTemplate", "inputs": {"instanceType": value}}
    assert parse_preview({"steps": [{"op": "create", "urn": urn, "newState": state}]})[0].inputs == {
        "instanceType": revealed
    }


def test_a_secret_the_rules_need_fails_closed_naming_it(catalog):
    doc = phase_document("phase1")
    _step(doc, "database-primary")["newState"]["inputs"]["multiAz"] = {
        "4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270",
        "ciphertext": "AAEC",
    }
    _step(doc, "api-lt")["newState"]["inputs"]["instanceType"] = SECRET
    est = estimate_preview(parse_preview_document(doc), stack_cfg("phase1"), catalog, "x")
    assert {(u.name, u.reason) for u in est.unpriced} == {
        ("database-primary", "input 'multiAz' is a secret in the preview"),
        ("api-asg", "input 'instanceType' is a secret in the preview"),
    }


def test_components_cost_nothing_and_lend_their_name_as_tier(catalog):
    preview = load_preview(EXAMPLE)
    api = next(p for p in preview.resources if p.name == "api")
    assert not api.custom and api.tier == "api" and api.region is None
    est = estimate_preview(preview, stack_cfg("phase1"), catalog, "x")
    assert next(p for p in est.priced if p.resource.name == "api").free_reason


def test_a_deletion_the_rules_cannot_price_is_a_warning_not_a_failure(catalog):
    urn = "urn:pulumi:s::stars::aws:ec2/dedicatedHost:Host::old-host"
    state = {"urn": urn, "type": "aws:ec2/dedicatedHost:Host", "inputs": {"instanceFamily": "mac1"}}
    preview = parse_preview_document({"steps": [{"op": "delete", "urn": urn, "oldState": state}]})
    est = estimate_preview(preview, stack_cfg("phase1"), catalog, "x")
    assert not est.unpriced and not est.deleted
    assert est.warnings == (
        "deleted aws:ec2/dedicatedHost:Host 'old-host' could not be priced (no pricing rule for type"
        " aws:ec2/dedicatedHost:Host): its saving is not shown",
    )


def test_budget_diff_shows_what_a_deletion_saves(catalog):
    """Base: the phase as it stands; head: a preview that deletes its NAT gateway (its oldState)."""
    cfg = stack_cfg("phase1")
    base_doc = phase_document("phase1")
    head_doc = phase_document("phase1")
    nat = next(s for s in head_doc["steps"] if s["newState"]["type"] == "aws:ec2/natGateway:NatGateway")
    nat["op"], nat["oldState"] = "delete", nat.pop("newState")

    def report(doc: dict[str, Any]) -> Any:
        return stack_report(estimate_preview(parse_preview_document(doc), cfg, catalog, "Pulumi.phase1.yaml"))

    base, head = report(base_doc), report(head_doc)
    [gone] = head.deleted
    before = next(r for r in base.resources if r.urn == gone.urn)
    assert gone.monthly_usd == before.monthly_usd > 0  # the saving is what it costs now
    diff = diff_reports({"phase1": base}, {"phase1": head})
    [stack] = diff.stacks
    assert {r.key: r.kind for r in stack.resources}[gone.urn] == "removed"
    data = to_json(diff)["stacks"][0]
    assert data["deleted"] == [
        {
            "urn": gone.urn,
            "type": "aws:ec2/natGateway:NatGateway",
            "name": gone.name,
            "tier": gone.tier,
            "region": "af-south-1",
            "saves_usd": gone.monthly_usd,
            "saves_tzs": round(gone.monthly_usd * 2500, 2),
        }
    ]
    assert data["deleted_saves_tzs"] == round(gone.monthly_usd * 2500, 2)
    assert f"phase1: deleted by the update, saves TZS {format_tzs(gone.monthly_usd * 2500)} a month" in (
        render_table(diff)
    )
    assert f"the update deletes 1 resource(s), saving TZS {format_tzs(gone.monthly_usd * 2500)}" in (
        render_markdown(diff)
    )
    again = CostReport.from_json(CostReport(stacks=(head,), single=True).to_json()).stacks[0]
    assert again == head  # deleted[] and warnings[] round-trip through the JSON
