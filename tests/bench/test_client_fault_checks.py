"""bench.clients.faults judges a run the same way for the client tests and the benchmark: each way a
client can fail a fault scenario is a problem, and a clean run has none."""

from __future__ import annotations

from typing import Any

import pytest

from bench.clients.faults import FAULTS, FaultRun

BROKE = [("disconnected", {"code": 1001, "reason": "keepalive timeout"}), ("resubscribed", {})]
GAP = [("recovered", {"from": 4, "to": 6, "count": 3})]


def _run(fault: str, **change: Any) -> FaultRun:
    fields: dict[str, Any] = {
        "client": "python",
        "fault": fault,
        "resume_s": 0.4,
        "acked": [1, 2, 3, 4, 5, 6],
        "delivered": [1, 2, 3, 4, 5, 6],
        "events": [] if fault == "redis-down" else BROKE + GAP,
        "state": "connected",
    }
    return FaultRun(**{**fields, **change})


@pytest.mark.parametrize("fault", list(FAULTS))
def test_a_clean_run_has_no_problem(fault: str) -> None:
    run = _run(fault)
    assert run.problems() == []
    assert run.figures() == {"client": "python", "fault": fault, "resume_s": 0.4, "acked": 6, "delivered": 6,
                             "missed": 0, "duplicates": 0}  # fmt: skip


@pytest.mark.parametrize(
    ("fault", "change", "problem"),
    [
        ("kill9", {"delivered": [1, 2, 3, 5, 6]}, "missed [4], 0 duplicates"),
        ("kill9", {"delivered": [1, 2, 3, 4, 4, 5, 6]}, "missed [], 1 duplicates"),
        ("drain", {"delivered": [1, 2, 4, 3, 5, 6]}, "not in order from the first offset"),
        ("drain", {"events": [("resubscribed", {})]}, "its own connection broke"),
        ("kill9", {"events": BROKE}, "no well-formed recovered gap"),
        (
            "network-cut",
            {"events": [*BROKE, ("recovered", {"from": 4, "to": 6, "count": 2})]},
            "no well-formed",
        ),
        (
            "drain",
            {"events": [("disconnected", {"code": 1006}), ("resubscribed", {})]},
            "without a 1001 close",
        ),
        (
            "network-cut",
            {"events": [("disconnected", {"reason": "eof"}), ("resubscribed", {}), *GAP]},
            "keepalive",
        ),
        ("redis-down", {"state": "reconnecting"}, "ends reconnecting, not connected"),
        ("redis-down", {"resume_s": None, "not_resumed": "not resumed within 30s"}, "not resumed within 30s"),
    ],
)
def test_each_failure_is_a_problem(fault: str, change: dict[str, Any], problem: str) -> None:
    problems = _run(fault, **change).problems()
    assert any(problem in p for p in problems), problems
