"""fit's report is one typed model: its JSON reads back to the same document, every format reads the same
objects, and a broken document is one line (never a traceback)."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from budget.capacity import Figure
from budget.fit.render import render, render_markdown, traffic_line
from budget.fit.report import (
    CapacityModelFigures,
    FitFailure,
    FitReport,
    FitReportError,
    PlanFigures,
    SearchStats,
    TrafficFigures,
    dumps,
    parse_fit,
)
from budget.html_report import render_html
from budget.report.model import load_report
from components.config import DemandConfig, StackConfig, load_stack_file
from tests.budget.budget_helpers import ROOT


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
    assert isinstance(report, FitReport)  # phase 1 is searched, not a failure
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


def test_the_sub_documents_are_typed_and_read_back_equal(fit_phase1: tuple[int, str]) -> None:
    """The configs, demand, traffic, capacity model and search statistics are models, not mappings: a
    report read back from its own JSON equals it, and the JSON is the same text, byte for byte (an int
    turned float would print ``3.0`` for ``3``; dict equality would not see it)."""
    text = fit_phase1[1]
    [report] = parse_fit(json.loads(text))
    assert isinstance(report, FitReport) and report.best is not None
    assert dumps([report], many=False) == text
    assert parse_fit(json.loads(dumps([report], many=False))) == [report]
    # the plan's config is the stack file's own, read as the config model (under the report's stack name)
    assert report.plan.config == load_stack_file(ROOT / "Pulumi.phase1.yaml")
    assert all(isinstance(p.config, StackConfig) for p in (report.best, *report.alternatives))
    assert report.best.config.stack == "phase1" and report.best.config != report.plan.config
    assert isinstance(report.demand, DemandConfig) and report.demand == report.plan.config.demand
    assert isinstance(report.traffic, TrafficFigures)
    assert report.traffic.wire_gb == pytest.approx(
        report.traffic.total_gb - report.traffic.deflate_saved_gb, abs=0.02
    )
    assert report.traffic.deflate.saved == pytest.approx(1 - report.traffic.deflate.ratio, abs=1e-4)
    assert isinstance(report.capacity_model, CapacityModelFigures)
    assert report.capacity_model.headroom == report.headroom
    assert all(isinstance(f, Figure) and f.source for f in report.capacity_model.figures.values())
    assert isinstance(report.search, SearchStats) and report.search.shapes > 0
    # every format reads the same objects: the table's traffic line and headroom come from them
    table = render([report])
    assert traffic_line(report.traffic) in table
    assert f"(headroom {report.capacity_model.headroom})" in table


def _with(doc: dict[str, Any], path: tuple[str | int, ...], value: Any) -> dict[str, Any]:
    """``doc`` with the leaf at ``path`` replaced (``...``: removed)."""
    out = copy.deepcopy(doc)
    node: Any = out
    for key in path[:-1]:
        node = node[key]
    if value is ...:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return out


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        (("traffic", "deflate", "ratio"), "high", "traffic.deflate.ratio: Input should be a valid number"),
        (("traffic", "wire_gb"), ..., "traffic.wire_gb: Field required"),
        (
            ("capacity_model", "figures", "kb_per_connection", "unit"),
            ...,
            "kb_per_connection.unit: Field required",
        ),
        (
            ("capacity_model", "cpu_target_percent"),
            70.5,
            "capacity_model.cpu_target_percent: Input should be",
        ),
        (("search", "shapes"), "many", "search.shapes: Input should be a valid integer"),
        (("search", "rejected"), "none", "search.rejected: Input should be a valid list"),
        (("demand", "concurrent_users"), 0, "demand.concurrent_users: Input should be greater than 0"),
        (("demand", "surprise"), 1, "demand.surprise: Extra inputs are not permitted"),
        (
            ("plan", "config", "aws:region"),
            "mars-1",
            "plan.config: invalid stack configuration: aws:region = 'mars-1'",
        ),
        (
            ("best", "config"),
            [],
            "best.config: Input should be a valid dictionary or instance of StackConfig",
        ),
        (
            ("alternatives", 0, "config", "stars:bogus"),
            {},
            "alternatives.0.config: invalid stack configuration: stars:bogus: unknown key",
        ),
        (("plan", "config"), ..., "plan.config: Field required"),
    ],
)
def test_a_malformed_sub_document_is_one_line_naming_it(
    fit_phase1: tuple[int, str], path: tuple[str | int, ...], value: Any, message: str
) -> None:
    doc = json.loads(fit_phase1[1])
    with pytest.raises(FitReportError) as refused:
        parse_fit(_with(doc, path, value))
    line = str(refused.value)
    assert line.startswith("fit report for phase1: ") and message in line and "\n" not in line


def test_a_config_is_read_with_its_reports_stack_name(fit_phase1: tuple[int, str]) -> None:
    """A stack file does not name its stack: a plan read alone, without its report, says so."""
    plan = json.loads(fit_phase1[1])["plan"]
    with pytest.raises(ValueError, match="read with its report's stack name"):
        PlanFigures.model_validate(plan)
    assert PlanFigures.model_validate(plan, context={"stack": "phase1"}).config.stack == "phase1"


_LEAVES = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=20), st.just([]), st.just({})
)


@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_any_damaged_sub_document_is_read_or_refused_in_one_line(
    fit_phase1: tuple[int, str], data: Any
) -> None:
    """Whatever a saved document's typed sub-documents hold, parse_fit reads it or raises FitReportError."""
    doc = json.loads(fit_phase1[1])
    section = data.draw(st.sampled_from(["plan", "demand", "traffic", "capacity_model", "search"]))
    node: Any = doc[section]
    path: list[str | int] = [section]
    while isinstance(node, dict) and node and data.draw(st.booleans()):
        key = data.draw(st.sampled_from(sorted(node)))
        node, path = node[key], [*path, key]
    try:
        parse_fit(_with(doc, tuple(path), data.draw(_LEAVES)))
    except FitReportError as exc:
        assert "\n" not in str(exc)
