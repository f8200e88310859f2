"""The CLI: exit codes (0 within budget, 1 over, 2 invalid or unpriced), formats, and the real stacks."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import yaml

from budget.catalog import load_catalog
from budget.cli import main
from budget.estimator import estimate
from budget.plan import plan_offline
from components.config import load_stack_file
from tests.budget.budget_helpers import ROOT

if TYPE_CHECKING:
    pass

DATA = Path(__file__).with_name("data")


def _stack_file(tmp_path: Path, phase: str = "phase1", **budget: object) -> Path:
    document = yaml.safe_load((ROOT / f"Pulumi.{phase}.yaml").read_text(encoding="utf-8"))
    document["config"]["stars:budget"].update(budget)
    path = tmp_path / f"Pulumi.{phase}.yaml"
    path.write_text(yaml.safe_dump(document), encoding="utf-8")
    return path


def _run(capsys, *args: str) -> tuple[int, str, str]:
    code = main(["check", *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_within_budget_exits_0_with_the_documented_json(tmp_path, capsys):
    path = _stack_file(tmp_path, limit_tzs=100_000_000, warn_tzs=90_000_000)
    code, out, _ = _run(capsys, "--stack", "phase1", "--stack-file", str(path), "--format", "json")
    assert code == 0
    doc = json.loads(out)
    assert doc["status"] == "ok" and doc["stack"] == "phase1" and doc["region"] == "af-south-1"
    for key in ("usd_to_tzs", "limit_tzs", "total_usd", "total_tzs", "totals", "resources"):
        assert key in doc
    assert doc["totals"]["min"] <= doc["totals"]["desired"] <= doc["totals"]["max"] == doc["total_usd"]
    # TZS come from the unrounded USD total: equal to the estimate's own figure, and within half a cent
    # of USD (as printed) at the rate
    est = estimate(plan_offline(load_stack_file(path)), load_stack_file(path), load_catalog())
    assert doc["total_tzs"] == round(est.total("max") * doc["usd_to_tzs"]) == doc["totals_tzs"]["max"]
    assert abs(doc["total_tzs"] - doc["total_usd"] * doc["usd_to_tzs"]) <= 0.005 * doc["usd_to_tzs"] + 0.5
    priced = [r for r in doc["resources"] if r["lines"]]
    assert priced and all({"urn", "type", "name", "tier", "monthly_usd"} <= set(r) for r in priced)
    first = priced[0]["lines"][0]
    assert {"name", "unit", "quantity", "unit_price_usd", "monthly_usd", "source", "usage_based"} <= set(
        first
    )
    assert any(line["usage_based"] for r in priced for line in r["lines"])
    assert [w["key"] for w in doc["what_ifs"]] == ["spot", "reserved", "graviton", "combined"]


def test_warning_level_still_exits_0(tmp_path, capsys):
    path = _stack_file(tmp_path, limit_tzs=100_000_000, warn_tzs=1_000)
    code, out, _ = _run(capsys, "--stack", "phase1", "--stack-file", str(path), "--no-what-ifs")
    assert code == 0 and "WARN" in out


def test_over_budget_exits_1_with_table(capsys):
    code, out, err = _run(capsys, "--stack", "phase1", "--no-what-ifs")
    assert code == 1
    assert "OVER BUDGET" in out and "Top cost drivers" in out and "tier" in out
    assert "over budget" in err


def test_override_lets_an_over_budget_stack_pass(tmp_path, capsys):
    path = _stack_file(tmp_path, override={"reason": "launch month traffic accepted", "approved_by": "cfo"})
    code, out, _ = _run(
        capsys, "--stack", "phase1", "--stack-file", str(path), "--format", "json", "--no-what-ifs"
    )
    doc = json.loads(out)
    assert code == 0 and doc["status"] == "over" and doc["overridden"]
    assert doc["override"]["reason"] == "launch month traffic accepted"


def test_override_without_a_reason_is_invalid_config(tmp_path, capsys):
    path = _stack_file(tmp_path, override={"approved_by": "cfo"})
    code, _, err = _run(capsys, "--stack", "phase1", "--stack-file", str(path))
    assert code == 2
    assert "stars:budget.override.reason: missing" in err


def test_malformed_stack_config_exits_2_naming_the_key(tmp_path, capsys):
    path = _stack_file(tmp_path, limit_tzss=5)
    code, _, err = _run(capsys, "--stack", "phase1", "--stack-file", str(path))
    assert code == 2 and "stars:budget.limit_tzss: unknown key" in err
    broken = tmp_path / "Pulumi.phase9.yaml"
    broken.write_text("config: [unclosed", encoding="utf-8")
    code, _, err = _run(capsys, "--stack", "phase9", "--stack-file", str(broken))
    assert code == 2 and "not valid YAML" in err
    code, _, err = _run(capsys, "--stack", "nosuch")
    assert code == 2 and "stack file not found" in err


def test_preview_json_priced_with_the_same_rules(capsys):
    preview = DATA / "preview_phase1.json"
    code, out, _ = _run(
        capsys, "--stack", "phase1", "--preview-json", str(preview), "--format", "json", "--no-what-ifs"
    )
    doc = json.loads(out)
    # 303.57 USD x 2,500 = 758,925 TZS > 400,000 (390.96 before TLS: phase 1's usage now sends no bytes
    # out of the ALB directly, CloudFront carries the API, so the ALB's 77.00 of egress is gone; 313.96
    # before the demand counted its real-time frames and averaged the load balancer's connections)
    assert code == 1
    assert doc["total_usd"] == 303.57
    names = {r["name"] for r in doc["resources"]}
    assert {"api-asg", "edge-alb", "database-primary"} <= names


def test_malformed_preview_json_exits_2(tmp_path, capsys):
    bad = tmp_path / "preview.json"
    bad.write_text('{"steps": "nope"}', encoding="utf-8")
    code, out, err = _run(capsys, "--stack", "phase1", "--preview-json", str(bad), "--format", "json")
    assert code == 2 and "not a 'pulumi preview --json' document" in err
    assert json.loads(out)["status"] == "error"


def test_unknown_type_in_preview_exits_2_and_names_it(tmp_path, capsys):
    document = json.loads((DATA / "preview_phase1.json").read_text(encoding="utf-8"))
    urn = "urn:pulumi:phase1::stars::aws:ec2/dedicatedHost:Host::bastion-host"
    document["steps"].append(
        {
            "op": "create",
            "newState": {
                "urn": urn,
                "type": "aws:ec2/dedicatedHost:Host",
                "inputs": {"instanceFamily": "mac1"},
            },
        }
    )
    path = tmp_path / "preview.json"
    path.write_text(json.dumps(document), encoding="utf-8")
    code, out, err = _run(capsys, "--stack", "phase1", "--preview-json", str(path))
    assert code == 2
    assert "aws:ec2/dedicatedHost:Host 'bastion-host'" in err and "UNPRICED" in out


def test_markdown_format(capsys):
    code, out, _ = _run(capsys, "--stack", "phase1", "--format", "markdown")
    assert code == 1 and out.startswith("## Budget check") and "| what-if |" in out


def test_all_stacks_real_command_json(budget_cli):
    """The command the pre-commit hook and CI run: every stack, in parallel processes."""
    proc = budget_cli("check", "--all", "--format", "json")
    doc = json.loads(proc.stdout)
    assert [s["stack"] for s in doc["stacks"]] == ["phase1", "phase2", "phase3"]
    assert proc.returncode == max(s["exit_code"] for s in doc["stacks"])
    assert all(not s["unpriced"] for s in doc["stacks"])


def test_stack_file_of_any_name_and_a_broken_catalog(tmp_path, capsys):
    path = _stack_file(tmp_path, limit_tzs=100_000_000, warn_tzs=90_000_000)
    other = tmp_path / "proposal.yaml"
    other.write_text(path.read_text(encoding="utf-8"), encoding="utf-8")
    code, out, _ = _run(
        capsys, "--stack", "phase1", "--stack-file", str(other), "--format", "json", "--no-what-ifs"
    )
    assert code == 0 and json.loads(out)["stack"] == "phase1"
    catalog = tmp_path / "prices.yaml"
    catalog.write_text("regions: {us-east-1: {x: {usd: 1}}}", encoding="utf-8")
    code, _, err = _run(capsys, "--stack", "phase1", "--catalog", str(catalog))
    assert code == 2 and "'unit' is required" in err


def test_details_lists_every_cost_line(capsys):
    code, out, _ = _run(capsys, "--stack", "phase1", "--details", "--no-what-ifs")
    assert code == 1
    assert "every cost line" in out and "Root volume (gp3, 20 GB per instance)" in out


def _lean_stack_file(tmp_path: Path) -> Path:
    """Phase 1 with the lean options: one app group of t4g.small in public subnets, small data stores,
    everything always-on reserved for a year."""
    document = yaml.safe_load((ROOT / "Pulumi.phase1.yaml").read_text(encoding="utf-8"))
    config = document["config"]
    config["stars:network"]["private_egress"] = "public"
    config.pop("stars:api")
    app = config.pop("stars:realtime")
    app.update(
        instance_type="t4g.small", min_size=2, desired_capacity=2, max_size=3, commitment="reserved_1yr"
    )
    config["stars:app"] = app
    config["stars:database"].update(
        instance_class="db.t4g.micro",
        allocated_storage_gb=20,
        max_allocated_storage_gb=100,
        commitment="reserved_1yr",
    )
    config["stars:cache"].update(node_type="cache.t3.micro", commitment="reserved_1yr")
    path = tmp_path / "Pulumi.phase1.yaml"
    path.write_text(yaml.safe_dump(document), encoding="utf-8")
    return path


def test_stack_file_with_the_lean_options(tmp_path, capsys):
    """stars:app + public egress + commitments + small types: everything priced, each option visible."""
    path = _lean_stack_file(tmp_path)
    code, out, _ = _run(capsys, "--stack", "phase1", "--stack-file", str(path), "--format", "json")
    doc = json.loads(out)
    assert code == 1 and doc["unpriced"] == []  # priced (and still over the limit)
    lines = {(r["name"], line["name"]): line for r in doc["resources"] for line in r["lines"]}
    # 2 x 730 h x 0.02184 (af-south-1 t4g.small, ESTIMATE) x (1 - 0.373) = 19.99
    assert (
        lines["app-asg", "Instance usage (Linux, reserved 1 yr no upfront, t4g.small)"]["monthly_usd"]
        == 19.99
    )
    # the third instance (max 3) on demand: 730 x 0.02184 = 15.94
    assert lines["app-asg", "Instance usage (Linux, on-demand, t4g.small)"]["monthly_usd"] == 15.94
    # public IPv4 per instance at max: 3 x 730 x 0.005 = 10.95
    assert lines["app-asg", "Public IPv4 address per instance"]["monthly_usd"] == 10.95
    # 730 x 0.0208 (db.t4g.micro, 0.016 x 1.30) x (1 - 0.296) = 10.69
    db = "Database instance (primary, db.t4g.micro, Single-AZ), reserved 1 yr no upfront"
    assert lines["database-primary", db]["monthly_usd"] == 10.69
    # 730 x 0.021 (cache.t3.micro) x (1 - 0.317) = 10.47
    cache = "Cache nodes (1 x cache.t3.micro, Redis OSS), reserved 1 yr no upfront"
    assert lines["cache-redis", cache]["monthly_usd"] == 10.47
    types = {r["type"] for r in doc["resources"]}
    assert not types & {"aws:ec2/natGateway:NatGateway", "aws:ec2/eip:Eip", "aws:ec2/vpcEndpoint:VpcEndpoint"}
    assert {t["tier"] for t in doc["tiers"]} >= {"app", "network"} and "api" not in {
        t["tier"] for t in doc["tiers"]
    }
    # af-south-1 offers no cache.t4g: the Graviton what-if cannot price the cache and says so
    graviton = next(w for w in doc["what_ifs"] if w["key"] == "graviton")
    assert not graviton["computable"] and "cache.t4g.micro" in graviton["reason"]
    plan = json.loads(_run(capsys, "--stack", "phase1", "--format", "json", "--no-what-ifs")[1])
    assert doc["total_usd"] < plan["total_usd"]


def test_lean_options_priced_the_same_from_a_preview_document(tmp_path, capsys):
    """The purchase tags and the public IPv4 travel in the resources' inputs, so a preview prices them too."""
    cfg = load_stack_file(_lean_stack_file(tmp_path))
    planned = plan_offline(cfg)
    steps = [
        {
            "op": "same",
            "newState": {
                "urn": r.urn,
                "type": r.type,
                "id": r.id or "",
                "custom": r.custom,
                "inputs": dict(r.inputs),
            },
        }
        for r in planned
    ]
    preview = tmp_path / "preview.json"
    preview.write_text(json.dumps({"steps": steps}), encoding="utf-8")
    stack = str(tmp_path / "Pulumi.phase1.yaml")
    args = ("--stack", "phase1", "--stack-file", stack, "--format", "json", "--no-what-ifs")
    from_preview = json.loads(_run(capsys, *args, "--preview-json", str(preview))[1])
    from_mocks = json.loads(_run(capsys, *args)[1])
    assert from_preview["unpriced"] == [] and from_preview["totals"] == from_mocks["totals"]
    reserved = [
        line["name"] for r in from_preview["resources"] for line in r["lines"] if "reserved" in line["name"]
    ]
    assert len(reserved) == 3  # the app group's minimum, the database, the cache
