"""fit's typed report on the saved ``fit --all`` document (golden/fit-all.json, held to the live command
by tests/budget/test_golden.py::test_fit_json): the model round-trips it and every format reads it,
without a search, so ``make test-fast`` checks the fit report's model too."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from budget.fit.render import render, render_markdown
from budget.fit.report import FitReport, dumps, parse_fit
from budget.html_report import render_html
from budget.report.model import load_report
from tests.budget.budget_helpers import SAVED_FIT

HERE = Path(__file__).parent
TEXT = SAVED_FIT.read_text(encoding="utf-8")


def _reports() -> list[FitReport]:
    reports = parse_fit(json.loads(TEXT))
    assert all(isinstance(r, FitReport) for r in reports)
    return [r for r in reports if isinstance(r, FitReport)]


def test_the_saved_document_round_trips_through_the_model() -> None:
    reports = _reports()
    assert [r.stack for r in reports] == ["phase1", "phase2", "phase3"]
    assert dumps(reports, many=True) == TEXT  # byte for byte, as the command printed it
    for report in reports:  # each entry is also the document ``fit --stack`` prints
        [again] = parse_fit(json.loads(dumps([report], many=False)))
        assert again == report


@pytest.mark.parametrize("stack", ["phase1", "phase2", "phase3"])
def test_every_format_reads_the_same_model(stack: str) -> None:
    [report] = [r for r in _reports() if r.stack == stack]
    assert report.best is not None and report.best.az_loss is not None
    best = f"{report.best.total_tzs:,}"
    checks = load_report(HERE.parent / "budget_review" / "data" / "head_all.json")
    html = render_html(checks.values(), fits={stack: report})
    for text in (render([report]), render_markdown([report]), html):
        assert best in text
        assert report.best.az_loss.statement in text
        assert report.deciding_text.split(";")[0] in text


def test_a_changed_figure_is_a_different_report() -> None:
    """The round trip can fail: one figure changed in the document reads back as a different report."""
    doc = json.loads(TEXT)
    doc["stacks"][0]["best"]["total_tzs"] += 1
    assert parse_fit(doc) != _reports()
