"""The README's tables must be what the tools say: the check's verdicts and the fit per phase."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tests.conftest import BudgetCli

ROOT = Path(__file__).resolve().parents[1]
ROW = re.compile(r"^\| (phase\d) \| (.+?) \| (.+?) \| (.+?) \| ([\d,]+) \| (\w+) \((\d+\.\d)×\) \|$")


def _readme_rows() -> dict[str, tuple[str, ...]]:
    rows = {}
    for line in (ROOT / "README.md").read_text(encoding="utf-8").splitlines():
        match = ROW.match(line)
        if match:
            rows[match.group(1)] = match.groups()[1:]
    return rows


def _money(usd: float, tzs: float) -> str:
    return f"{usd:,.2f} / {round(tzs):,}"


def test_readme_verdicts_match_the_check(budget_cli: BudgetCli) -> None:
    run = budget_cli("check", "--all", "--format", "json")
    assert run.returncode in (0, 1), run.stderr
    reports = {doc["stack"]: doc for doc in json.loads(run.stdout)["stacks"]}
    rows = _readme_rows()
    assert set(rows) == set(reports) == {"phase1", "phase2", "phase3"}
    for stack, doc in reports.items():
        tzs = doc["totals_tzs"]
        expected = (
            _money(doc["totals"]["min"], tzs["min"]),
            _money(doc["totals"]["desired"], tzs["desired"]),
            _money(doc["totals"]["max"], tzs["max"]),
            f"{doc['limit_tzs']:,}",
            doc["status"],
            f"{doc['total_tzs'] / doc['limit_tzs']:.1f}",
        )
        assert rows[stack] == expected, f"README row for {stack} is stale; the check says {expected}"


FIT_ROW = re.compile(
    r"^\| (phase\d) \| ([\d,]+) \| TZS ([\d,]+) \(([\d,]+) per 1,000\) \| TZS ([\d,]+) \(([\d,]+) per 1,000\)"
    r" \| ([\d,]+) \| (yes|no) \| (.+) \|$"
)


def test_readme_fit_table_matches_budget_fit(budget_cli: BudgetCli) -> None:
    """The README's table per phase (plan, cheapest, limit, fits, what decides it) is ``fit --all``'s."""
    run = budget_cli("fit", "--all", "--format", "json")
    assert run.returncode in (0, 1), run.stderr
    fits = {doc["stack"]: doc for doc in json.loads(run.stdout)["stacks"]}
    rows = {}
    for line in (ROOT / "README.md").read_text(encoding="utf-8").splitlines():
        match = FIT_ROW.match(line)
        if match:
            rows[match.group(1)] = match.groups()[1:]
    assert set(rows) == set(fits) == {"phase1", "phase2", "phase3"}
    for stack, doc in fits.items():
        users, plan, plan_k, best, best_k, limit, fits_word, decides = rows[stack]
        expected = (
            f"{doc['users']:,}",
            f"{doc['plan']['total_tzs']:,}",
            f"{doc['plan']['tzs_per_1000_users']:,}",
            f"{doc['best']['total_tzs']:,}",
            f"{doc['best']['tzs_per_1000_users']:,}",
            f"{doc['limit_tzs']:,}",
            "yes" if doc["fits"] else "no",
        )
        assert (users, plan, plan_k, best, best_k, limit, fits_word) == expected, (
            f"README row for {stack} is stale"
        )
        deciding = doc["deciding_assumption"]
        if deciding["key"] == "fixed_costs":
            assert decides.startswith(f"fixed costs: TZS {doc['zero_traffic_tzs']:,} with no transfer"), stack
        else:
            assert decides.startswith("transfer: fits at") and f"{deciding['fits_at']:g} GB" in decides, stack
    _check_aurora_sentence([fits[s]["aurora_serverless_v2"] for s in ("phase1", "phase2", "phase3")])


def _check_aurora_sentence(floors: list[dict[str, object]]) -> None:
    """The README's Aurora Serverless v2 figures (its floor, and the cheapest plans with it) are fit's."""
    text = " ".join((ROOT / "README.md").read_text(encoding="utf-8").split())
    floor = " / ".join(f"{f['floor_tzs']:,}" for f in floors)
    with_floor = " / ".join(f"{f['best_with_floor_tzs']:,}" for f in floors)
    assert f"The floor costs TZS {floor} a month" in text, "README's Aurora floor figures are stale"
    assert f"would still cost TZS {with_floor}, each above its limit" in text, "stale Aurora totals"
    assert not any(f["would_fit"] for f in floors), "README says no Aurora configuration changes a verdict"
