"""The README's budget verdict table must be what the check says for the stacks as configured."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

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


def test_readme_verdicts_match_the_check() -> None:
    run = subprocess.run(
        [sys.executable, "-m", "budget", "check", "--all", "--no-what-ifs", "--format", "json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
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
