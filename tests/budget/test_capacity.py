"""The capacity model reads the kept benchmark runs: the slowest window that met its target counts."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from budget.capacity import MEASURED, CapacityError, load_measured

KEPT = json.loads((MEASURED / "2vcpu-shared.json").read_text(encoding="utf-8"))


def _hold(cores: float, p99: float, connections: int = 25_000) -> dict[str, Any]:
    run = copy.deepcopy(next(r for r in KEPT["runs"] if r["benchmark"] == "fanout-hold"))
    ours = run["servers"]["ours"]
    window = ours["windows"][0]
    window.update(server_cpu_cores=cores, p99_ms=p99, connections_open=connections)
    window["server_cpu_us_per_delivery"] = cores * 1e6 / window["deliveries_per_s"]
    return run


def _keep(folder: Path, name: str, *runs: dict[str, Any], when: str = "2026-12-01") -> None:
    api = next(r for r in KEPT["runs"] if r["benchmark"] == "api")
    data = {"machine": {"time_utc": f"{when}T00:00:00Z"}, "runs": [*runs, api]}
    (folder / name).write_text(json.dumps(data), encoding="utf-8")


def test_the_kept_runs_give_every_figure_with_its_source() -> None:
    measured = load_measured()
    figures = measured.figures()
    assert all(f.value > 0 and f.source for f in figures.values())
    assert "2vcpu-shared.json" in measured.runs
    # 0.655 cores for 25,000 connections in the kept full run: 26.2 us per connection-second
    assert figures["realtime_us_per_connection"].value >= 26.2


def test_the_slowest_qualifying_run_wins_and_names_itself(tmp_path: Path) -> None:
    _keep(tmp_path, "a.json", _hold(0.655, 37.6), when="2026-11-27")
    _keep(tmp_path, "b.json", _hold(1.31, 60.0), when="2026-11-30")  # twice as slow, still under 100 ms
    measured = load_measured(tmp_path)
    assert measured.realtime_us_per_connection.value == pytest.approx(1.31e6 / 25_000)
    assert measured.realtime_us_per_connection.source.startswith("b.json (2026-11-30)")


def test_a_window_that_missed_its_target_does_not_count(tmp_path: Path) -> None:
    _keep(tmp_path, "a.json", _hold(0.655, 37.6), _hold(5.0, 226.0))  # the second missed p99 < 100 ms
    assert load_measured(tmp_path).realtime_us_per_connection.value == pytest.approx(26.2)


def test_no_qualifying_run_is_an_error(tmp_path: Path) -> None:
    _keep(tmp_path, "a.json", _hold(0.655, 500.0))
    with pytest.raises(CapacityError, match="no kept benchmark run qualifies"):
        load_measured(tmp_path)


def test_the_capacity_command_names_every_figure_and_run(capsys: pytest.CaptureFixture[str]) -> None:
    from budget.cli import main

    assert main(["capacity", "--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["headroom"] == 0.3 and "2vcpu-shared.json" in doc["runs"]
    assert all(f["source"] for f in doc["figures"].values())
    t3 = next(s for s in doc["per_server"] if s["instance_type"] == "t3.medium")
    # 2 vCPU x 0.7 = 1.4 cores; / 26.2 us per connection-second = 53,435 connections
    assert t3["cpu_cores"] == 1.4 and t3["connections"] == 53_435
