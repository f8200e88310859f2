"""Benchmark of ``python -m budget fit --all``: does it answer within 60 s on this 2-core machine?

Measured in the same run:

- floor: a fresh interpreter that only imports pulumi and the pulumi_aws submodules the program uses;
- check --all (no what-ifs): pricing the three phase stacks once, as configured;
- fit --all: the search for every phase, with its verification, front and "how far" figures, each the
  median of ``--repeat`` fresh processes (the figures interleaved round by round);
- baseline, the naive search: every candidate the fit prices, planned whole under mocks instead of from
  reused tier plans. Its time per candidate is measured on ``--sample`` candidates drawn from the space and
  multiplied by the number of candidates ``fit --all`` priced (from its own JSON): the ratio is the naive
  search's projected time over the real one.

Prints a table and writes JSON. Run: ``.venv/bin/python bench/budget_fit.py [--repeat 3] [--json FILE]``.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script: bench/budget_fit.py
    sys.path.insert(0, str(ROOT))

from bench.budget_check import (  # noqa: E402
    STACKS,
    floor_figure,
    measure,
    print_figures,
    versions,
    write_results,
)
from bench.common import machine  # noqa: E402
from budget.capacity import load_model  # noqa: E402
from budget.catalog import load_catalog  # noqa: E402
from budget.estimator import estimate  # noqa: E402
from budget.fit.report import FitReport, parse_fit  # noqa: E402
from budget.fit.space import Choice, Space  # noqa: E402
from budget.plan import plan_offline, warm_imports  # noqa: E402
from components.config import load_stack_file  # noqa: E402

TARGET_SECONDS = 60.0
FIT = "fit --all"


def naive_seconds_per_candidate(sample: int, seed: int = 7) -> dict[str, Any]:
    """Median wall time of pricing one candidate by planning it whole under mocks (in this process)."""
    warm_imports()
    catalog = load_catalog()
    model = load_model(catalog)
    rng = random.Random(seed)
    walls = []
    for n in range(sample):
        space = Space(load_stack_file(ROOT / f"Pulumi.{STACKS[n % len(STACKS)]}.yaml"), catalog, model)
        shape = rng.choice(list(space.shapes()))
        # the shape's own server groups: one combined app group on some shapes (an NLB behind a VPC origin)
        servers = tuple(rng.choice(space.server_choices(g)) for g in shape.groups)
        databases = space.database_choices()
        caches = space.cache_choices()
        if not databases or not caches:
            continue
        choice = Choice(shape, servers, rng.choice(databases), rng.choice(caches))
        cfg = space.config(choice)
        start = time.perf_counter()
        estimate(plan_offline(cfg), cfg, catalog)
        walls.append(time.perf_counter() - start)
    return {
        "candidates_timed": len(walls),
        "median_s": round(statistics.median(walls), 4),
        "min_s": round(min(walls), 4),
        "max_s": round(max(walls), 4),
    }


def fit_counts(stdout: str, exit_code: int) -> dict[str, Any]:
    """What one ``fit --all --format json`` run printed: how many candidates and tier plans it priced."""
    results = parse_fit(json.loads(stdout))  # --all, or one --stack
    searched = [r.search for r in results if isinstance(r, FitReport) and r.search is not None]
    return {
        "exit_code": exit_code,
        "candidates_priced": sum(s.estimates for s in searched),
        "tier_plans": sum(s.tier_plans for s in searched),
        "fits": {r.stack: r.fits if isinstance(r, FitReport) else None for r in results},
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--sample", type=int, default=12, help="candidates planned whole for the baseline")
    parser.add_argument("--json", type=Path, default=ROOT / "bench" / "results" / "budget_fit.json")
    parser.add_argument(
        "--stack", help="time `fit --stack STACK` instead of `fit --all` (a smoke run; the target is --all's)"
    )
    parser.add_argument(
        "--plan-cache",
        action="store_true",
        help="keep STARS_PLAN_CACHE for the timed commands (a smoke run: not a first run's time)",
    )
    args = parser.parse_args(argv)
    fit_name, fit_args = (FIT, ["--all"])
    if args.stack:
        fit_name, fit_args = f"fit --stack {args.stack}", ["--stack", args.stack]
    py = sys.executable
    budget = [py, "-m", "budget"]
    results: dict[str, Any] = {"machine": machine(), "versions": versions(), "target_s": TARGET_SECONDS}
    outputs: dict[str, str] = {}
    figures = measure(
        [
            floor_figure(py),
            ("check --all (no what-ifs)", [[*budget, "check", "--all", "--no-what-ifs"]]),
            (fit_name, [[*budget, "fit", *fit_args, "--format", "json"]]),
        ],
        args.repeat,
        outputs,
        plan_cache=args.plan_cache,
    )
    fit = figures[2]
    # the search is deterministic: the last timed run's output gives the counts (no extra 40 s run)
    counts = fit_counts(outputs[fit_name], max(fit["exit_codes"]))
    naive = naive_seconds_per_candidate(args.sample)
    projected = naive["median_s"] * counts["candidates_priced"]
    results.update(
        figures=figures,
        fit_median_s=fit["median_s"],
        counts=counts,
        baseline={
            "what": "every priced candidate planned whole under mocks (projected from a timed sample)",
            **naive,
            "projected_s": round(projected, 1),
        },
        speedup_vs_naive=round(projected / fit["median_s"], 1) if fit["median_s"] else None,
        meets_target=fit["median_s"] < TARGET_SECONDS,
    )
    results["machine"]["loadavg_at_end"] = [round(x, 2) for x in os.getloadavg()]
    info = results["machine"]
    print_figures("budget fit benchmark", figures, info["loadavg_at_start"], info["cpus"])
    print(
        f"{fit_name} priced {counts['candidates_priced']:,} candidates from {counts['tier_plans']} tier"
        " plans;"
        f" planning each whole would take {naive['median_s']:.3f} s a candidate, {projected:,.0f} s in all:"
        f" {results['speedup_vs_naive']}x the real search"
    )
    verdict = "meets" if results["meets_target"] else "MISSES"
    print(f"{fit_name}: {fit['median_s']:.2f} s median, {verdict} the {TARGET_SECONDS:.0f} s target")
    return write_results(args.json, results)


if __name__ == "__main__":
    sys.exit(main())
