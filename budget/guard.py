"""The guard inside the Pulumi program: check the budget before any resource is registered.

It runs ``python -m budget check`` as a subprocess (same interpreter), passing the exact validated
config on stdin, so the check prices what this update would deploy, and reads the check's typed JSON
report (``--json-out``), never its printed table. Planning in this process would work
(components.planning.mocks.plan runs the mocked program in its own thread with its own Pulumi
settings), and the subprocess is kept for two other reasons:

- A time bound. A check that hangs (a stuck planner, a mock waiting on an output that never
  resolves) is killed at ``TIMEOUT_SECONDS`` and the update refused. A thread cannot be killed: it
  would keep the live engine's process waiting, or running beside the deployment.
- Isolation. The mocked run's Pulumi runtime state, module globals and memory stay out of the
  process that is registering real resources, and ``_clean_env`` keeps the engine's ``PULUMI_*``
  settings away from it, so the check cannot reach the live engine. The check's planner calls
  ``build_stack``, never ``__main__``, so the guard does not recurse.

A forked child would give both, but this process runs the language host's gRPC threads, and forking a
process with running threads (gRPC's own fork support is off by default) can leave the child holding
a lock no thread will release; a fresh interpreter costs its imports again and is safe.

Over budget without an override, or anything unpriced: raise, so ``pulumi preview``/``up`` fail with the
report and change nothing. With an override the update proceeds; the reason is logged and exported.
Unpriced resources are never overridable.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pulumi

from budget.exit_codes import ExitCode
from budget.report.model import CostReport, ReportError, StackReport
from components.config import StackConfig

ROOT = Path(__file__).resolve().parents[1]
TIMEOUT_SECONDS = 300

Runner = Callable[..., "subprocess.CompletedProcess[str]"]


class BudgetRefused(pulumi.RunError):
    """The budget check refused the update; the message carries its report."""


@dataclass(frozen=True)
class GuardResult:
    status: str
    total_tzs: int
    total_usd: float
    override_reason: str | None


def check_command(cfg: StackConfig, json_out: Path) -> list[str]:
    """The check the guard runs (plans under mocks in a fresh interpreter, killed at the time bound)."""
    return [
        sys.executable,
        "-m",
        "budget",
        "check",
        "--stack",
        cfg.stack,
        "--config-json",
        "-",
        "--format",
        "table",
        "--json-out",
        str(json_out),
    ]


def _clean_env() -> dict[str, str]:
    """The environment without the engine's PULUMI_* settings: the check runs its own mocked program."""
    return {key: value for key, value in os.environ.items() if not key.startswith("PULUMI_")}


def enforce_budget(cfg: StackConfig, run: Runner = subprocess.run) -> GuardResult:
    """Run the budget check for ``cfg``; raise :class:`BudgetRefused` unless the stack may proceed."""
    with tempfile.TemporaryDirectory(prefix="budget-guard-") as tmp:
        json_out = Path(tmp) / "report.json"
        try:
            proc = run(
                check_command(cfg, json_out),
                input=cfg.model_dump_json(),
                capture_output=True,
                text=True,
                cwd=ROOT,
                timeout=TIMEOUT_SECONDS,
                env=_clean_env(),
            )
        except subprocess.TimeoutExpired:  # the child is killed by then (subprocess.run's contract)
            raise BudgetRefused(
                f"budget check for stack {cfg.stack} did not finish within {TIMEOUT_SECONDS} s and was"
                " stopped: the update is refused (a check that cannot finish never passes); nothing was"
                " changed."
            ) from None
        report = (proc.stdout or "") + (proc.stderr or "")
        doc: StackReport | None = None
        if json_out.exists():
            try:
                doc = CostReport.loads(json_out.read_text(encoding="utf-8")).verdicts().get(cfg.stack)
            except ReportError:
                doc = None
    if proc.returncode == ExitCode.INVALID:
        raise BudgetRefused(
            f"budget check for stack {cfg.stack}: invalid input or unpriced resources (never overridable);"
            f" nothing was changed.\n{report}"
        )
    if proc.returncode == ExitCode.OVER:
        raise BudgetRefused(
            f"budget check for stack {cfg.stack}: over budget (or at an exchange rate far from the"
            " catalog's); nothing was changed. To deploy anyway, set stars:budget.override with a reason"
            f" and approved_by.\n{report}"
        )
    if proc.returncode != ExitCode.OK or doc is None:
        raise BudgetRefused(f"budget check for stack {cfg.stack} failed (exit {proc.returncode}).\n{report}")
    override = cfg.budget.override
    reason = None
    if doc.overridden and override is not None:
        reason = override.reason
        pulumi.log.warn(
            f"budget override for stack {cfg.stack} by {override.approved_by}: {override.reason}"
            f" (TZS {doc.total_tzs:,} at max size > limit TZS {doc.limit_tzs:,})"
        )
    pulumi.log.info(report)
    return GuardResult(
        status=doc.status,
        total_tzs=int(doc.total_tzs),
        total_usd=float(doc.total_usd),
        override_reason=reason,
    )
