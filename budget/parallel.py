"""One job per stack, in processes forked after the heavy imports (``check --all`` and ``fit --all``)."""

from __future__ import annotations

import contextlib
import importlib
import multiprocessing
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TypeVar

Job = TypeVar("Job")
Result = TypeVar("Result")


def stack_files(root: Path) -> list[Path]:
    """Every ``Pulumi.<stack>.yaml`` in ``root`` (not the project file ``Pulumi.yaml``), by name."""
    return sorted(p for p in root.glob("Pulumi.*.yaml") if p.name != "Pulumi.yaml")


def run_forked(
    run: Callable[[Job], Result], jobs: Sequence[Job], preload: Sequence[str] = ()
) -> list[Result]:
    """``run`` on every job, in up to three forked workers when there are several: the parent imports
    pulumi, the provider modules, the program and ``preload`` once, and each worker inherits them, so it
    pays only for its own stack. An import failure is left for each worker to report as its own error."""
    if len(jobs) == 1 or "fork" not in multiprocessing.get_all_start_methods():
        return [run(job) for job in jobs]
    from budget.plan import warm_imports

    with contextlib.suppress(ImportError):
        warm_imports()
        for module in preload:
            importlib.import_module(module)
    with multiprocessing.get_context("fork").Pool(processes=min(len(jobs), 3)) as pool:
        return pool.map(run, jobs)
