"""The review tools on the real check: the pull request of the issue (one more WebSocket server in phase 2)
and the HTML report of the three stacks, compared number for number with the check's JSON."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import yaml

from budget.comment import CommentPolicy, render_markdown
from budget.diff import diff_reports
from budget.html_report import render_html
from budget.report.formatting import format_tzs
from budget.report.model import parse_report
from tests.budget_review.test_review_html import browser  # noqa: F401  (fixture)

if TYPE_CHECKING:
    from tests.conftest import BudgetCli

ROOT = Path(__file__).resolve().parents[2]


def _check(*args: str) -> Any:
    done = subprocess.run(
        [sys.executable, "-m", "budget", "check", *args, "--format", "json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert done.returncode in (0, 1), done.stderr
    return json.loads(done.stdout)


@pytest.fixture(scope="module")
def all_stacks(budget_cli: BudgetCli) -> Any:
    done = budget_cli("check", "--all", "--format", "json")
    assert done.returncode in (0, 1), done.stderr
    return json.loads(done.stdout)


def test_pr_adding_a_websocket_server_to_phase2(tmp_path: Path) -> None:
    stack_file = ROOT / "Pulumi.phase2.yaml"
    config = yaml.safe_load(stack_file.read_text(encoding="utf-8"))
    realtime = config["config"]["stars:realtime"]
    realtime["desired_capacity"] += 1
    realtime["max_size"] += 1
    changed = tmp_path / "Pulumi.phase2.yaml"
    changed.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")

    base = _check("--stack", "phase2")
    head = _check("--stack", "phase2", "--stack-file", str(changed))
    diff = diff_reports(parse_report(base), parse_report(head))
    [p2] = diff.stacks
    assert p2.change_tzs == head["total_tzs"] - base["total_tzs"] > 0
    top = p2.resources[0]
    assert (top.name, top.kind, top.tier) == ("realtime-asg", "changed", "realtime")

    body = render_markdown(diff, CommentPolicy(only_if_changed=True, fail_over_limit=True))
    assert CommentPolicy(only_if_changed=True).should_post(diff)
    assert f"{format_tzs(p2.change_tzs, signed=True)} (" in body
    assert f"| {format_tzs(head['total_tzs'])} | {format_tzs(head['limit_tzs'])} |" in body
    assert "| realtime-asg (aws:autoscaling/group:Group) |" in body
    verdict = "fits within" if head["status"] != "over" else "is over"
    assert f"**phase2** {verdict} its limit" in body


@pytest.mark.browser
def test_html_report_shows_the_checks_numbers(tmp_path: Path, all_stacks: Any, browser: Any) -> None:  # noqa: F811
    stacks = parse_report(all_stacks)
    page_file = tmp_path / "report.html"
    page_file.write_text(render_html(stacks.values()), encoding="utf-8")
    page = browser.new_page(viewport={"width": 1100, "height": 900})
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    page.goto(page_file.as_uri())
    assert all(url.startswith("file://") for url in requests)
    assert {s["stack"] for s in all_stacks["stacks"]} == {"phase1", "phase2", "phase3"}
    for doc in all_stacks["stacks"]:
        section = page.locator(f'section[data-stack="{doc["stack"]}"]')
        assert section.locator(".total-tzs").inner_text() == f"TZS {doc['total_tzs']:,}"
        assert section.locator(".limit-tzs").inner_text() == f"TZS {doc['limit_tzs']:,}"
        for size in ("min", "desired", "max"):
            assert section.locator(f".range-{size} b").inner_text() == f"TZS {doc['totals_tzs'][size]:,}"
        tiers = {t["tier"]: t["monthly_usd"] for t in doc["tiers"] if t["monthly_usd"] > 0}
        bars = section.locator("svg.chart rect.seg")
        assert bars.count() == len(tiers)
        for i in range(bars.count()):
            box = bars.nth(i).bounding_box()
            assert box and box["width"] > 0 and box["height"] > 0
            tier = bars.nth(i).get_attribute("data-tier")
            assert float(bars.nth(i).get_attribute("data-tzs") or 0) == pytest.approx(
                tiers[tier] * doc["usd_to_tzs"], abs=2
            )
        assert section.locator(".status").inner_text() == doc["status"]
        usage = f"TZS {format_tzs(doc['usage_based_usd'] * doc['usd_to_tzs'])} a month"
        assert section.locator(".assumption-summary").inner_text().startswith(usage)
    page.screenshot(path=str(tmp_path / "report.png"), full_page=True)
    page.close()
