"""Fit stacks named by their files: each stack's input errors become its :class:`FitFailure` (exit 2);
several stacks run in forked workers. ``budget fit`` prints the results, ``budget report`` draws them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from budget.capacity import MEASURED, CapacityError, Settings, load_model
from budget.catalog import CatalogError, load_catalog
from budget.demand import DemandError
from budget.fit.levers import with_domain
from budget.fit.pricer import FitError
from budget.fit.report import FitFailure, FitResult
from budget.fit.run import fit_stack
from budget.parallel import run_forked
from budget.plan import PlanError
from budget.project import all_stacks
from components.bounded_input import one_line, short, shown
from components.config import ConfigError, parse_stack_config, read_stack_file


@dataclass(frozen=True)
class FitJob:
    """One stack to fit: its file, the catalog and benchmark runs to fit with, and the options."""

    stack: str
    stack_file: Path
    catalog: Path
    measured: Path
    headroom: float
    domain: str | None = None


def all_jobs(catalog: Path, measured: Path = MEASURED, headroom: float = Settings.headroom) -> list[FitJob]:
    """One job per stack file of the project (``fit --all``; ``report`` fits the same way)."""
    return [FitJob(name, path, catalog, measured, headroom) for name, path in all_stacks()]


def failure_line(failure: FitFailure) -> str:
    """What ``fit`` prints on standard error for a stack it could not fit (``report`` quotes it)."""
    return f"budget fit: {failure.stack}: {one_line(failure.error)}"


def run_job(job: FitJob) -> FitResult:
    """Fit one stack; every failure of the input becomes a FitFailure (exit code 2)."""
    try:
        stated = parse_stack_config(job.stack, read_stack_file(job.stack_file))
        cfg = stated
        if job.domain is not None:
            try:
                cfg = with_domain(stated, job.domain)
            except ValueError as exc:
                raise ConfigError(f"--domain {shown(job.domain)}: {short(str(exc), 200)}") from None
        catalog = load_catalog(job.catalog)
        model = load_model(catalog, Settings(headroom=job.headroom), job.measured)
        return fit_stack(cfg, catalog, model, written_from=stated)
    except (ConfigError, CatalogError, DemandError, CapacityError, FitError, PlanError) as exc:
        return FitFailure(stack=job.stack, error=str(exc))


def fit_stacks(jobs: Sequence[FitJob]) -> list[FitResult]:
    """Every job's result, in order (forked workers when there are several)."""
    return run_forked(run_job, jobs)
