"""The HTML report: self-contained, and its chart renders in headless Chromium with the check's numbers."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from budget.html_report import render_html
from budget.report.formatting import format_tzs
from budget.report.model import LineReport, load_report
from tests.browser import chromium
from tests.budget_review.review_data import DATA

if TYPE_CHECKING:
    from tests.conftest import BudgetCli

ROOT = Path(__file__).resolve().parents[2]


def _report(tmp_path: Path, source: Path = DATA / "head_all.json") -> tuple[Path, dict[str, Any]]:
    stacks = load_report(source)
    page = tmp_path / "report.html"
    page.write_text(render_html(stacks.values()), encoding="utf-8")
    return page, json.loads(source.read_text(encoding="utf-8"))


def test_page_is_self_contained(tmp_path: Path) -> None:
    page, _ = _report(tmp_path)
    html = page.read_text(encoding="utf-8")
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html), "the page must not load anything"
    assert "@import" not in html and "<script" not in html
    assert html.count('<section class="phase"') == 3


def _estimated(line: dict[str, Any]) -> bool:
    return LineReport.model_validate({"monthly_usd": 1.0, **line}).estimated


def test_estimated_lines_are_recognised() -> None:
    assert _estimated({"estimated": True})
    assert not _estimated({"estimated": False, "source": "x [ESTIMATE]"})
    # a document written before the flag existed: the citation's status decides
    assert _estimated({"source": "no figure found; x 1.30 [ESTIMATE]"})
    assert not _estimated({"source": "infracost golden file, n/a [CONFIRMED]"})


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as instance:
        yield instance


@pytest.mark.browser
def test_chart_renders_with_the_checks_numbers(tmp_path: Path, browser: Any) -> None:
    page_file, report = _report(tmp_path)
    page = browser.new_page(viewport={"width": 1100, "height": 900})
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    page.goto(page_file.as_uri())
    assert all(url.startswith("file://") for url in requests), requests
    for stack in report["stacks"]:
        name = stack["stack"]
        section = page.locator(f'section[data-stack="{name}"]')
        assert section.locator(".total-tzs").inner_text() == f"TZS {format_tzs(stack['total_tzs'])}"
        assert section.locator(".total-usd").inner_text() == f"USD {stack['total_usd']:,.2f}"
        assert section.locator(".limit-tzs").inner_text() == f"TZS {format_tzs(stack['limit_tzs'])}"
        tiers: dict[str, float] = {}
        for resource in stack["resources"]:
            tiers[resource["tier"]] = tiers.get(resource["tier"], 0.0) + resource["monthly_usd"]
        priced = {t for t, usd in tiers.items() if usd > 0}
        bars = section.locator("svg.chart rect.seg")
        assert bars.count() == len(priced)
        widths = {}
        for i in range(bars.count()):
            bar = bars.nth(i)
            box = bar.bounding_box()
            assert box and box["width"] > 0 and box["height"] > 0
            widths[bar.get_attribute("data-tier")] = box["width"]
            tier = bar.get_attribute("data-tier")
            assert float(bar.get_attribute("data-tzs") or 0) == pytest.approx(
                tiers[tier] * stack["usd_to_tzs"], abs=1
            )
        assert set(widths) == priced
        # bar lengths are proportional to cost: compare the two largest tiers
        big = sorted(priced, key=lambda t: -tiers[t])[:2]
        assert widths[big[0]] / widths[big[1]] == pytest.approx(tiers[big[0]] / tiers[big[1]], rel=0.02)
        assert section.locator(".limit-line").bounding_box()
        for size in ("min", "desired", "max"):
            text = section.locator(f".range-{size} b").inner_text()
            assert text == f"TZS {format_tzs(stack['totals'][size] * stack['usd_to_tzs'])}"
    page.screenshot(path=str(tmp_path / "report.png"), full_page=True)
    page.close()


def test_report_command(tmp_path: Path, budget_cli: BudgetCli) -> None:
    """The page from saved reports (this run's ``fit --all``), and fitted in process as ``report`` does
    without ``--fit-input``; an empty report is refused."""
    from budget.cli import main

    fitted = tmp_path / "fit.json"
    fitted.write_text(budget_cli("fit", "--all", "--format", "json").stdout, encoding="utf-8")
    out = tmp_path / "site" / "cost.html"
    saved = ["--input", str(DATA / "head_all.json")]
    assert main(["report", "--format", "html", "-o", str(out), *saved, "--fit-input", str(fitted)]) == 0
    html = out.read_text(encoding="utf-8")
    assert html.count('<section class="phase"') == 3
    assert {f'<table class="fit" data-stack="phase{n}">' in html for n in (1, 2, 3)} == {True}
    empty = tmp_path / "empty.json"
    empty.write_text("[]", encoding="utf-8")
    assert main(["report", "-o", str(tmp_path / "x.html"), "--input", str(empty)]) == 2


def test_report_fits_in_process_without_a_saved_fit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fit_phase1: tuple[int, str]
) -> None:
    """Without ``--fit-input`` the report runs fit's own jobs in process: here phase 1's alone, whose search
    answers with this run's one search of phase 1 (``fit_phase1``: the job ``fit --all`` ran, the same
    search and JSON), so the report's own path is what is checked, not a second search of the same stack
    (``fit --all``'s whole answer is read above)."""
    from budget.cli import main
    from budget.fit import stacks as fitting
    from budget.fit.report import parse_fit

    every = fitting.all_jobs
    monkeypatch.setattr(
        fitting, "all_jobs", lambda *a, **k: [j for j in every(*a, **k) if j.stack == "phase1"]
    )
    [searched] = parse_fit(json.loads(fit_phase1[1]))
    ran: list[str] = []

    def search(job: fitting.FitJob) -> Any:
        assert job.stack_file == ROOT / "Pulumi.phase1.yaml" and job.domain is None
        ran.append(job.stack)
        return searched

    monkeypatch.setattr(fitting, "run_job", search)
    out = tmp_path / "cost.html"
    assert main(["report", "-o", str(out), "--input", str(DATA / "head_all.json")]) == 0
    assert ran == ["phase1"]
    html = out.read_text(encoding="utf-8")
    assert '<table class="fit" data-stack="phase1">' in html
    assert '<table class="fit" data-stack="phase2">' not in html
    assert 'class="fit-sensitivity"' in html


def test_each_phase_shows_its_cheapest_fitting_configuration(tmp_path: Path) -> None:
    """The page shows, per phase, the plan's cost, the cheapest deployable one, its runner-ups, the AZ-loss
    check, the verdict's sensitivity, the levers and what decides the fit: read from the typed fit report."""
    from budget.fit.report import parse_fit, reports_by_stack, stack_file_config
    from components.config import load_stack_file

    config = stack_file_config(load_stack_file(ROOT / "Pulumi.phase2.yaml"))
    figures = {
        "total_tzs": 2_000_000,
        "totals_tzs": {"min": 1, "desired": 2, "max": 2_000_000},
        "config": config,
    }
    fit = {
        "stacks": [
            {
                "stack": "phase2",
                "limit_tzs": 700_000,
                "usd_to_tzs": 2500.0,
                "availability": "single_az",
                "fits": False,
                "exit_code": 1,
                "users": 50_000,
                "plan": {
                    "total_tzs": 6_849_579,
                    "totals_tzs": {"min": 1, "desired": 2, "max": 6_849_579},
                    "tzs_per_1000_users": 136_992,
                    "config": config,
                },
                "best": {
                    **figures,
                    "tzs_per_1000_users": 40_000,
                    "summary": "app 2 x t4g.small",
                    "levers": ["graviton", "valkey"],
                    "changes": [{"key": "stars:api.instance_type", "from": "t3.medium", "to": "t4g.small"}],
                    "az_loss": {
                        "required": False,
                        "carries": False,
                        "zones": 2,
                        "statement": "single-AZ by its availability class",
                    },
                },
                "alternatives": [
                    {
                        **figures,
                        "total_tzs": 2_100_000,
                        "tzs_per_1000_users": 42_000,
                        "summary": "app 2 x t4g.medium",
                        "relation": "within 10% of the cheapest",
                    }
                ],
                "min_limit_tzs": 2_000_000,
                "max_users_within_limit": 12_300,
                "deciding_assumption": {
                    "key": "transfer_gb_per_user_per_month",
                    "stated": 0.3,
                    "fits_at": 0.05,
                    "unit": "GB per user per month",
                    "why": "the plan's range",
                    "change": 0.8333,
                    "headroom": 0.3,
                },
                "verdicts_by_headroom": [
                    {"value": 0.1, "total_tzs": 650_000, "tzs_per_1000_users": 13_000, "fits": True}
                ],
                "levers": [
                    {
                        "key": "reserved_3yr",
                        "title": "3-year reservations",
                        "status": "rejected",
                        "saves_tzs": -5,
                        "why": "commits three years",
                    },
                    {
                        "key": "domain",
                        "title": "a domain of your own",
                        "status": "needs_input",
                        "saves_tzs": 1_200_000,
                        "total_tzs": 650_001,
                        "fits": True,
                        "why": "run fit --domain NAME",
                        "sensitivity": {
                            "transfer_gb_per_user_per_month": [
                                {
                                    "value": 0.05,
                                    "total_tzs": 600_000,
                                    "tzs_per_1000_users": 12_000,
                                    "fits": True,
                                },
                                {
                                    "value": 0.5,
                                    "total_tzs": 900_000,
                                    "tzs_per_1000_users": 18_000,
                                    "fits": False,
                                },
                            ],
                            "headroom": [
                                {
                                    "value": 0.3,
                                    "total_tzs": 650_001,
                                    "tzs_per_1000_users": 13_000,
                                    "fits": True,
                                }
                            ],
                        },
                    },
                ],
                "aurora_serverless_v2": {
                    "acu_per_instance": 0.5,
                    "instances": 1,
                    "storage_gb": 250,
                    "floor_tzs": 1,
                    "database_tzs": 2,
                    "cheaper_than_database": True,
                    "best_with_floor_tzs": 3,
                    "would_fit": False,
                    "why": "not deployable by this program; its floor costs at least X",
                },
            }
        ]
    }
    stacks = load_report(DATA / "head_all.json")
    html = render_html(stacks.values(), fits=reports_by_stack(parse_fit(fit)))
    section = html[html.index('data-stack="phase2"') :]
    assert "The cheapest configuration that carries 50,000 users" in html
    assert "TZS 2,000,000 a month" in section and "buys 12,300 concurrent users" in section
    assert "transfer_gb_per_user_per_month: stated 0.3 GB per user per month" in section
    assert "83% change) at 30% headroom" in section
    assert "stars:api.instance_type" in section and html.count('class="fit"') == 1
    assert "runner-up (within 10% of the cheapest): app 2 x t4g.medium" in section
    assert "AZ loss: single-AZ by its availability class." in section
    assert "Levers taken: Graviton (arm64) servers; Valkey instead of Redis OSS." in section
    assert "10% headroom" in section and "650,000 (fits)" in section
    assert 'data-lever="reserved_3yr"' in section and "commits three years" in section
    assert "Aurora Serverless v2: not deployable by this program; its floor costs at least X." in section
    # the verdict with the company's domain (what an expert prices) has its own row
    row = section[section.index('class="fit-with-domain"') :].split("</tr>")[0]
    assert "--domain NAME" in row and "650,001" in row and "13,000" in row and ">yes<" in row
    # how firm that verdict is: its own sensitivity, hosted zone counted
    tables = section.split('class="fit-sensitivity fit-domain-sensitivity"')
    assert len(tables) == 3
    assert "30% headroom" in tables[1] and "650,001 (fits)" in tables[1]
    assert "900,000 (over)" in tables[2] and "600,000 (fits)" in tables[2]
