"""The cost diff between two check reports: per stack and per resource, in TZS and %."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from budget.cli import main
from budget.diff import diff_reports, render_table, to_json
from budget.report.model import ReportError, load_report, parse_report
from tests.budget_review.review_data import clone, stack_of, write


def test_adding_a_websocket_server_shows_in_phase2_only(base_report: Any, head_report: Any) -> None:
    diff = diff_reports(parse_report(base_report), parse_report(head_report))
    by_name = {s.stack: s for s in diff.stacks}
    assert [s.stack for s in diff.stacks] == ["phase1", "phase2", "phase3"]
    assert not by_name["phase1"].changed and not by_name["phase3"].changed
    p2 = by_name["phase2"]
    base_tzs = stack_of(base_report, "phase2")["total_tzs"]
    head_tzs = stack_of(head_report, "phase2")["total_tzs"]
    assert p2.base_tzs == base_tzs and p2.head_tzs == head_tzs
    assert p2.change_tzs == pytest.approx(head_tzs - base_tzs)
    assert p2.change_percent == pytest.approx(100 * (head_tzs - base_tzs) / base_tzs)
    assert (p2.base_status, p2.status, p2.newly_over) == ("warn", "over", True)
    [change] = p2.resources
    assert (change.name, change.kind, change.tier) == ("realtime-asg", "changed", "realtime")
    assert change.delta_tzs == pytest.approx(p2.change_tzs, abs=1)
    hours = next(line for line in change.lines if line.unit == "hours")
    assert (hours.base_quantity, hours.head_quantity) == (730, 1460)


def test_added_and_removed_resources_and_stacks(base_report: Any, head_report: Any) -> None:
    head = clone(head_report)
    p1 = stack_of(head, "phase1")
    dashboard = next(r for r in p1["resources"] if r["name"] == "monitoring-dashboard")
    p1["resources"].remove(dashboard)
    extra = clone(dashboard) | {"urn": "urn:pulumi:phase1::stars::x::ws-extra", "name": "ws-extra"}
    extra["monthly_usd"] = 10.0
    p1["resources"].append(extra)
    p1["total_usd"] += 7.0
    p1["total_tzs"] += 7.0 * 2500
    head["stacks"] = [s for s in head["stacks"] if s["stack"] != "phase3"]
    diff = diff_reports(parse_report(base_report), parse_report(head))
    by_name = {s.stack: s for s in diff.stacks}
    kinds = {r.name: (r.kind, round(r.delta_tzs)) for r in by_name["phase1"].resources}
    assert kinds == {"ws-extra": ("added", 25000), "monitoring-dashboard": ("removed", -7500)}
    assert by_name["phase1"].change_tzs == pytest.approx(17500)
    gone = by_name["phase3"]
    assert (gone.status, gone.head_tzs, gone.change_percent) == ("removed", 0.0, -100.0)


def test_new_stack_has_no_percentage(head_report: Any) -> None:
    diff = diff_reports({}, parse_report(head_report))
    assert all(s.change_percent is None and s.base_status is None for s in diff.stacks)
    assert all(r.kind == "added" for s in diff.stacks for r in s.resources)


def test_report_containers_single_list_and_object(head_report: Any) -> None:
    one = stack_of(head_report, "phase2")
    assert list(parse_report(one)) == ["phase2"]
    assert list(parse_report(head_report["stacks"])) == ["phase1", "phase2", "phase3"]
    assert list(parse_report({"stacks": {s["stack"]: s for s in head_report["stacks"]}})) == [
        "phase1",
        "phase2",
        "phase3",
    ]
    assert parse_report([]) == {}


def test_bad_reports_are_rejected(tmp_path: Path, head_report: Any) -> None:
    with pytest.raises(ReportError):
        parse_report({"hello": 1})
    broken = clone(stack_of(head_report, "phase1"))
    broken["total_usd"] = "lots"
    with pytest.raises(ReportError, match="total_usd"):
        parse_report(broken)
    bad = tmp_path / "bad.json"
    bad.write_text("{not json", encoding="utf-8")
    with pytest.raises(ReportError, match="not valid JSON"):
        load_report(bad)
    empty = tmp_path / "empty.json"
    empty.write_text("", encoding="utf-8")
    assert load_report(empty) == {}


def test_table_and_json_forms(base_report: Any, head_report: Any) -> None:
    diff = diff_reports(parse_report(base_report), parse_report(head_report))
    table = render_table(diff)
    assert "+203,075" in table and "+29.5%" in table and "realtime-asg" in table
    data = to_json(diff)
    json.dumps(data)
    p2 = next(s for s in data["stacks"] if s["stack"] == "phase2")
    assert p2["change_tzs"] == 203075 and p2["status"] == "over"
    assert p2["resources"][0]["change"] == "changed"


def test_cli_formats_and_exit_codes(
    tmp_path: Path, base_report: Any, head_report: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    base = write(tmp_path, "base.json", base_report)
    head = write(tmp_path, "head.json", head_report)
    assert main(["diff", "--base", str(base), "--head", str(head), "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["change_tzs"] == 203075
    assert main(["diff", "--base", str(base), "--head", str(head), "--fail-over-limit"]) == 1
    assert "phase2 is over its limit" in capsys.readouterr().err
    out = tmp_path / "diff.md"
    assert (
        main(["diff", "--base", str(base), "--head", str(head), "--format", "markdown", "-o", str(out)]) == 0
    )
    assert out.read_text(encoding="utf-8").startswith("<!-- stars-budget-comment -->")
    assert main(["diff", "--base", str(tmp_path / "missing.json"), "--head", str(head)]) == 2
