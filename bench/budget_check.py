"""Benchmark of ``python -m budget check --all``: is it fit for a pre-commit hook (target: < 5 s wall)?

Measured in the same run, each as the median of ``--repeat`` fresh processes:

- floor: a fresh interpreter that only imports pulumi and the pulumi_aws submodules the program uses (no
  planning, no pricing): the least any offline check of a Pulumi program can cost here;
- naive: one ``check --stack phaseN`` process per stack, one after the other (what a hook would do without
  ``--all``);
- check --all (the hook's command, without what-ifs) and check --all with what-ifs and JSON.

Prints a table and writes JSON (machine, versions, figures, ratio to the floor).
Run: ``.venv/bin/python bench/budget_check.py [--repeat 5] [--json bench/results/budget_check.json]``
(``--no-naive`` leaves out the naive figure: the test suite's smoke run).
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script: bench/budget_check.py
    sys.path.insert(0, str(ROOT))

from bench.common import machine  # noqa: E402
from budget.plan import provider_modules  # noqa: E402
from budget.rules import FREE, RULES  # noqa: E402

TARGET_SECONDS = 5.0
STACKS = ("phase1", "phase2", "phase3")


def floor_figure(py: str) -> tuple[str, list[list[str]]]:
    """The floor every budget benchmark is measured against: importing what pricing needs."""
    return ("floor: import pulumi + used pulumi_aws submodules", [[py, "-c", _floor_code()]])


def _floor_code() -> str:
    modules = provider_modules([*RULES, *FREE])
    return "import importlib, pulumi\n" + "".join(
        f"hasattr(importlib.import_module({m!r}), '__bench__')\n" for m in modules
    )


def _wall(args: list[str], plan_cache: bool = False) -> tuple[float, int, str]:
    # measured as a user first runs it: without tier plans kept by earlier runs (STARS_PLAN_CACHE), unless
    # the caller asks to keep them (a smoke run that checks the benchmark's workings, not its figures)
    env = {k: v for k, v in os.environ.items() if plan_cache or k != "STARS_PLAN_CACHE"}
    start = time.perf_counter()
    proc = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, check=False, env=env)
    return time.perf_counter() - start, proc.returncode, proc.stdout


def measure(
    figures: list[tuple[str, list[list[str]]]],
    repeat: int,
    outputs: dict[str, str] | None = None,
    plan_cache: bool = False,
) -> list[dict[str, Any]]:
    """Median, min and max wall seconds of each figure's commands (run in sequence), ``repeat`` times,
    and each one's ratio to the first figure (the floor). ``outputs`` receives each figure's last
    standard output, for a caller that reads what the command printed without running it again;
    ``plan_cache`` keeps ``STARS_PLAN_CACHE`` for the commands (warm tier plans: not a first run's time).

    The figures are interleaved round by round, so a change in the machine's load hits them all alike.
    """
    walls: dict[str, list[float]] = {name: [] for name, _ in figures}
    codes: dict[str, set[int]] = {name: set() for name, _ in figures}
    for _ in range(repeat):
        for name, commands in figures:
            total = 0.0
            for cmd in commands:
                seconds, code, stdout = _wall(cmd, plan_cache)
                total += seconds
                codes[name].add(code)
                if outputs is not None:
                    outputs[name] = stdout
            walls[name].append(total)
    out: list[dict[str, Any]] = [
        {
            "name": name,
            "command": " && ".join(" ".join(c[1:]) for c in commands),
            "median_s": round(statistics.median(walls[name]), 3),
            "min_s": round(min(walls[name]), 3),
            "max_s": round(max(walls[name]), 3),
            "runs": [round(w, 3) for w in walls[name]],
            "exit_codes": sorted(codes[name]),
        }
        for name, commands in figures
    ]
    floor = out[0]["median_s"] if out else 0.0
    for fig in out:
        fig["ratio_to_floor"] = round(fig["median_s"] / floor, 2) if floor else None
    return out


def print_figures(title: str, figures: list[dict[str, Any]], load: Any, cpus: int) -> None:
    """The figures as a table: median, min and max wall seconds, the ratio to the floor, exit codes."""
    width = max(len(f["name"]) for f in figures)
    print(f"{title} ({cpus} CPUs, load {load})")
    print(f"{'figure'.ljust(width)}  median s   min s   max s  x floor  exit")
    for fig in figures:
        print(
            f"{fig['name'].ljust(width)}  {fig['median_s']:8.2f}  {fig['min_s']:6.2f}  {fig['max_s']:6.2f}"
            f"  {fig['ratio_to_floor']:7.2f}  {','.join(map(str, fig['exit_codes']))}"
        )


def write_results(path: Path, results: dict[str, Any]) -> int:
    """Write the JSON, say where, and exit 0 when the target is met (1 when it is missed)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")
    return 0 if results["meets_target"] else 1


def versions() -> dict[str, str]:
    out = {}
    for package in ("pulumi", "pulumi_aws", "pydantic", "PyYAML"):
        try:
            out[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            out[package] = "missing"
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--json", type=Path, default=ROOT / "bench" / "results" / "budget_check.json")
    parser.add_argument(
        "--no-naive",
        action="store_true",
        help="leave out the naive figure (a smoke run that checks the benchmark's workings)",
    )
    args = parser.parse_args(argv)
    py = sys.executable
    check = [py, "-m", "budget", "check"]
    results: dict[str, Any] = {"machine": machine(), "versions": versions(), "target_s": TARGET_SECONDS}
    naive = ("naive: one check process per stack", [[*check, "--stack", s, "--no-what-ifs"] for s in STACKS])
    figures = measure(
        [
            floor_figure(py),
            *([] if args.no_naive else [naive]),
            ("check --all (pre-commit hook)", [[*check, "--all", "--no-what-ifs"]]),
            ("check --all with what-ifs, JSON", [[*check, "--all", "--format", "json"]]),
        ],
        args.repeat,
    )
    hook, what_ifs = figures[-2], figures[-1]
    results["figures"] = figures
    results["hook_median_s"] = hook["median_s"]
    results["hook_ratio_to_floor"] = hook["ratio_to_floor"]
    results["meets_target"] = hook["median_s"] < TARGET_SECONDS and what_ifs["median_s"] < TARGET_SECONDS
    results["machine"]["loadavg_at_end"] = [round(x, 2) for x in os.getloadavg()]
    info = results["machine"]
    print_figures("budget check benchmark", figures, info["loadavg_at_start"], info["cpus"])
    verdict = "meets" if results["meets_target"] else "MISSES"
    print(f"check --all: {hook['median_s']:.2f} s median, {verdict} the {TARGET_SECONDS:.0f} s target")
    return write_results(args.json, results)


if __name__ == "__main__":
    sys.exit(main())
