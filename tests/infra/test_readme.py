"""components/README.md states what each phase registers; this keeps that table true."""

from __future__ import annotations

import re
from collections import Counter

from tests.infra.conftest import ROOT, planned

PHASES = ("phase1", "phase2", "phase3")


def test_resource_type_table_matches_the_program() -> None:
    text = (ROOT / "components" / "README.md").read_text(encoding="utf-8")
    rows = re.findall(r"^\| `([a-z]+:[^`]+)` \| (\d+) \| (\d+) \| (\d+) \|$", text, flags=re.M)
    documented = {t: tuple(int(n) for n in counts) for t, *counts in rows}
    counts = {p: Counter(r.type for r in planned(p).resources if r.custom) for p in PHASES}
    actual = {t: tuple(counts[p][t] for p in PHASES) for t in set().union(*counts.values())}
    assert documented == actual
    totals = re.search(r"^\| total \| (\d+) \| (\d+) \| (\d+) \|$", text, flags=re.M)
    assert totals is not None
    assert tuple(int(n) for n in totals.groups()) == tuple(sum(counts[p].values()) for p in PHASES)
