"""fit's report is one typed model: its JSON reads back to the same document, every format reads the same
objects, and a broken document is one line (never a traceback)."""

from __future__ import annotations

import json

import pytest
from budget_helpers import ROOT

from budget.fit.render import render, render_markdown
from budget.fit.report import FitFailure, FitReport, FitReportError, dumps, parse_fit
from budget.html_report import render_html
from budget.report.model import load_report


def test_the_json_round_trips_through_the_model(fit_phase1: tuple[int, str]) -> None:
    code, text = fit_phase1
    doc = json.loads(text)
    [report] = parse_fit(doc)
    assert isinstance(report, FitReport)
    assert report.to_json() == doc
    assert json.loads(dumps([report], many=False)) == doc
    # the fields users' scripts read keep their names and shapes
    assert {"stack", "limit_tzs", "fits", "plan", "best", "alternatives", "min_limit_tzs"} <= set(doc)
    assert {"max_users_within_limit", "deciding_assumption"} <= set(doc)
    assert all({"key", "from", "to"} == set(c) for c in doc["best"]["changes"])
    assert code == report.exit_code
    # one stack's entry of ``fit --all`` is the document ``fit --stack`` prints (what fit_phase1 relies on)
    [entry] = json.loads(dumps([report], many=True))["stacks"]
    assert json.dumps(entry, indent=1, ensure_ascii=False) + "\n" == dumps([report], many=False)


def test_every_format_reads_the_same_model(fit_phase1: tuple[int, str]) -> None:
    [report] = parse_fit(json.loads(fit_phase1[1]))
    assert isinstance(report, FitReport) and report.best is not None
    best = f"{report.best.total_tzs:,}"
    stacks = load_report(ROOT / "tests" / "budget_review" / "data" / "head_all.json")
    html = render_html(stacks.values(), fits={"phase1": report})
    for text in (render([report]), render_markdown([report]), html):
        assert best in text
        assert report.best.az_loss is not None and report.best.az_loss.statement in text
        assert report.deciding_text.split(";")[0] in text


def test_the_table_shows_the_domain_lever_beside_the_plans(fit_phase1: tuple[int, str]) -> None:
    """Phase 1 names no domain: the lever's total and verdict are a row of the table, not only a line."""
    [report] = parse_fit(json.loads(fit_phase1[1]))
    [lever] = [lever for lever in report.levers if lever.key == "domain"]
    assert lever.status == "needs_input" and lever.total_tzs is not None
    [row] = [line for line in render([report]).splitlines() if line.startswith("with domain (needs you)")]
    cells = row.split()
    assert f"{lever.total_tzs:,}" in cells and cells[-1] == ("yes" if lever.fits else "no")
    assert f"{round(lever.total_tzs * 1000 / report.users):,}" in cells


def test_an_error_entry_and_a_broken_document() -> None:
    failure = FitFailure(stack="phase9", error="stack file not found: Pulumi.phase9.yaml")
    doc = {"stacks": [failure.to_json()]}
    assert parse_fit(doc) == [failure]
    assert doc["stacks"][0] == {
        "schema": "stars-fit/1",
        "stack": "phase9",
        "status": "error",
        "exit_code": 2,
        "error": "stack file not found: Pulumi.phase9.yaml",
    }
    with pytest.raises(FitReportError, match=r"^fit report for phase1: plan: Field required$"):
        parse_fit(
            {
                "stack": "phase1",
                "limit_tzs": 1,
                "usd_to_tzs": 1.0,
                "users": 1,
                "availability": "x",
                "fits": False,
                "exit_code": 1,
                "best": None,
            }
        )
    with pytest.raises(FitReportError, match="'stacks' must be a list"):
        parse_fit({"stacks": {}})
