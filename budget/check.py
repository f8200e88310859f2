"""Check stacks: each stack's config, planned (or previewed) resources, estimate and what-ifs become its
report; several stacks run in forked workers. ``budget check`` prints the result, ``budget report`` draws
it: both call :func:`check_stacks`, so the figures are the same by construction, not by re-parsing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from budget.capacity import kept_measured
from budget.catalog import CatalogError, load_catalog
from budget.estimator import estimate, estimate_preview
from budget.exit_codes import ExitCode
from budget.parallel import run_forked
from budget.plan import PlanError, plan_offline
from budget.preview import PreviewError, load_preview
from budget.project import all_stacks
from budget.report.build import stack_report
from budget.report.model import CostReport, StackError, StackResult
from budget.whatif import what_ifs
from components.bounded_input import CONFIG_VALUE_BYTES
from components.config import (
    ConfigError,
    StackConfig,
    describe_errors,
    parse_stack_config,
    read_stack_file,
)


@dataclass(frozen=True)
class Job:
    """One stack to check: where its config comes from and what to price."""

    stack: str
    stack_file: Path | None
    config_json: str | None
    preview_json: Path | None
    catalog: Path
    what_ifs: bool


def all_jobs(catalog: Path, what_ifs: bool = True) -> list[Job]:
    """One job per stack file of the project (``check --all``; ``report`` checks the same way); none when
    the project has no stack file (each command says so its own way)."""
    return [Job(name, path, None, None, catalog, what_ifs) for name, path in all_stacks()]


def _load_config(job: Job) -> StackConfig:
    if job.config_json is not None:
        if len(job.config_json.encode("utf-8", "surrogatepass")) > CONFIG_VALUE_BYTES:
            raise ConfigError(f"--config-json: larger than the {CONFIG_VALUE_BYTES // 1024} KiB limit")
        try:  # pydantic's JSON parser bounds the nesting itself (a ValidationError, not a RecursionError)
            cfg = StackConfig.model_validate_json(job.config_json)
        except ValidationError as exc:
            raise ConfigError(describe_errors(exc.errors(), {}) + " (--config-json)") from None
        if cfg.stack != job.stack:
            raise ConfigError(f"--config-json is for stack {cfg.stack!r}, not {job.stack!r}")
        return cfg
    assert job.stack_file is not None
    # The requested stack name wins, so --stack-file may point at a file of any name.
    return parse_stack_config(job.stack, read_stack_file(job.stack_file))


def run_job(job: Job) -> StackResult:
    """Check one stack; every failure becomes a :class:`StackError` (exit code 2)."""
    try:
        cfg = _load_config(job)
        catalog = load_catalog(job.catalog)
        preview = load_preview(job.preview_json) if job.preview_json else None
    except (ConfigError, CatalogError, PreviewError) as exc:
        return StackError(stack=job.stack, error=str(exc))
    measured = kept_measured()  # check prices loads at the kept runs' figures
    if preview is not None:
        source = job.stack_file.name if job.config_json is None and job.stack_file else "--config-json"
        resources = list(preview.resources)
        est = estimate_preview(preview, cfg, catalog, source, measured=measured)
    else:
        try:
            resources = plan_offline(cfg)
        except PlanError as exc:
            return StackError(stack=job.stack, error=str(exc))
        est = estimate(resources, cfg, catalog, measured=measured)
    scenarios = what_ifs(resources, cfg, catalog, measured) if job.what_ifs and not est.unpriced else []
    return stack_report(est, scenarios)


def check_stacks(jobs: Sequence[Job], single: bool) -> CostReport:
    """Every job's result, in order (forked workers when there are several); ``single`` prints as the
    stack's own object (``check --stack``) rather than ``{"stacks": [...]}``."""
    return CostReport(stacks=tuple(run_forked(run_job, jobs)), single=single)


def problems(report: CostReport) -> list[str]:
    """One line per stack that failed or is over its limit (what ``check`` prints on standard error, and
    ``report`` when a check fails)."""
    lines = []
    for doc in report.stacks:
        if isinstance(doc, StackError):
            lines.append(f"budget check: {doc.stack}: {doc.error}")
        elif doc.unpriced:
            names = ", ".join(f"{u.type} '{u.name}'" for u in doc.unpriced)
            lines.append(f"budget check: {doc.stack}: unpriced (fails closed): {names}")
        elif doc.exit_code == ExitCode.OVER and doc.status != "over" and doc.rate_warning is not None:
            lines.append(f"budget check: {doc.stack}: {doc.rate_warning}")
        elif doc.exit_code == ExitCode.OVER:
            lines.append(
                f"budget check: {doc.stack} is over budget: TZS {doc.total_tzs:,} at max size >"
                f" limit TZS {doc.limit_tzs:,}"
            )
    return lines
