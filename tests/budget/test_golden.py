"""Golden files: every output format of the budget tools, byte for byte, for the three phase stacks.

A change to a price, a rule, a stack file or a renderer shows up here as a diff of the golden files, to
be reviewed like code. Regenerate them on purpose with ``STARS_UPDATE_GOLDEN=1 pytest tests/budget/
test_golden.py`` and read the diff before committing it.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from budget.comment import render_markdown
from budget.diff import diff_reports, render_table, to_json
from budget.html_report import render_html
from budget.report import markdown, table
from budget.report.model import CostReport, load_report

if TYPE_CHECKING:
    from tests.conftest import BudgetCli

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = Path(__file__).parent / "golden"
REVIEW_DATA = ROOT / "tests" / "budget_review" / "data"
UPDATE = os.environ.get("STARS_UPDATE_GOLDEN") == "1"
#: The HTML page prints when it was generated; the golden page is rendered at a fixed time.
GENERATED = dt.datetime(2026, 1, 16, 12, 0, tzinfo=dt.UTC)


def _compare(name: str, actual: str) -> None:
    path = GOLDEN / name
    if UPDATE:
        path.write_text(actual, encoding="utf-8")
        return
    assert path.exists(), f"no golden file {name}; run with STARS_UPDATE_GOLDEN=1 once and review it"
    expected = path.read_text(encoding="utf-8")
    if actual != expected:
        got = path.with_suffix(path.suffix + ".actual")
        got.write_text(actual, encoding="utf-8")
        pytest.fail(f"{name} differs from its golden file; the new output is in {got} (diff them)")


@pytest.fixture(scope="module")
def check_all(budget_cli: BudgetCli) -> str:
    """``python -m budget check --all --format json``, exactly as a user runs it."""
    done = budget_cli("check", "--all", "--format", "json")
    assert done.returncode in (0, 1), done.stderr
    return done.stdout


def test_check_json(check_all: str) -> None:
    _compare("check-all.json", check_all)


def test_check_table_and_markdown(check_all: str) -> None:
    docs = CostReport.loads(check_all).stacks
    _compare("check-all.txt", table.render(docs, details=True))
    _compare("check-all.md", markdown.render(docs))


def test_html_report(check_all: str, tmp_path: Path) -> None:
    saved = tmp_path / "check.json"
    saved.write_text(check_all, encoding="utf-8")
    _compare("report.html", render_html(load_report(saved).values(), generated=GENERATED))


def test_diff_and_comment() -> None:
    base, head = load_report(REVIEW_DATA / "base_all.json"), load_report(REVIEW_DATA / "head_all.json")
    diff = diff_reports(base, head)
    _compare("diff.json", json.dumps(to_json(diff), indent=2) + "\n")
    _compare("diff.txt", render_table(diff))
    _compare("comment.md", render_markdown(diff))


def test_diff_of_the_phase_stacks_against_themselves(check_all: str, tmp_path: Path) -> None:
    saved = tmp_path / "check.json"
    saved.write_text(check_all, encoding="utf-8")
    stacks = load_report(saved)
    diff = diff_reports(stacks, stacks)
    assert not diff.changed
    _compare("comment-unchanged.md", render_markdown(diff))


def test_the_report_model_round_trips_the_documented_json(check_all: str) -> None:
    """Reading the check's JSON into the typed model and writing it again changes nothing."""
    assert CostReport.loads(check_all).dumps() == check_all
    one = json.loads(check_all)["stacks"][0]
    single = json.dumps(one, indent=1, ensure_ascii=False) + "\n"
    assert CostReport.loads(single).dumps() == single


def test_fit_json(budget_cli: BudgetCli) -> None:
    """``fit --all --format json``: the plans, levers and verdicts of the three phases (the saved document
    tests/budget/test_fit_golden.py reads in the fast lane)."""
    done = budget_cli("fit", "--all", "--format", "json")
    assert done.returncode in (0, 1), done.stderr
    _compare("fit-all.json", done.stdout)
