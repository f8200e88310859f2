"""One job per stack, in processes forked after the heavy imports (``check --all`` and ``fit --all``)."""

from __future__ import annotations

import contextlib
import multiprocessing
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TypeVar

from budget.plan import warm_imports

Job = TypeVar("Job")
Result = TypeVar("Result")


def stack_files(root: Path) -> list[Path]:
    """Every ``Pulumi.<stack>.yaml`` in ``root`` (not the project file ``Pulumi.yaml``), by name."""
    return sorted(p for p in root.glob("Pulumi.*.yaml") if p.name != "Pulumi.yaml")


def run_forked(run: Callable[[Job], Result], jobs: Sequence[Job]) -> list[Result]:
    """``run`` on every job, in up to three forked workers when there are several: the parent imports
    pulumi, the provider modules and the program once, and each worker inherits them, so it pays only for
    its own stack (the caller's module has imported what ``run`` needs). An import failure is left for each
    worker to report as its own error."""
    if len(jobs) == 1 or "fork" not in multiprocessing.get_all_start_methods():
        return [run(job) for job in jobs]
    with contextlib.suppress(ImportError):
        warm_imports()
    with multiprocessing.get_context("fork").Pool(processes=min(len(jobs), 3)) as pool:
        return pool.map(run, jobs)
