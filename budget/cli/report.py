"""``python -m budget report --format html -o FILE``: the self-contained HTML page for every stack.

The figures come from a saved ``check --all --format json`` (``--input``) or from checking every stack in
this process, and the cheapest fitting configurations from a saved ``fit --all --format json``
(``--fit-input``) or from fitting every stack in this process (``--no-fit``: none). Exit 0, or 2 when a
report cannot be read or a check or fit fails on its input (over budget and no fit are what the page
shows, not failures).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from budget import check
from budget.catalog import DEFAULT_CATALOG
from budget.exit_codes import ExitCode
from budget.fit import stacks as fitting
from budget.fit.report import FitReport, FitReportError, parse_fit, reports_by_stack
from budget.html_report import render_html
from budget.project import no_stacks
from budget.report.model import ReportError, StackReport, load_report
from components.bounded_input import DOCUMENT_BYTES, InputError, read_json


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--format", choices=("html",), default="html")
    parser.add_argument("-o", "--output", required=True, help="the HTML file to write")
    parser.add_argument("--input", help="a saved `check --all --format json` report (default: run the check)")
    parser.add_argument("--fit-input", help="a saved `fit --all --format json` result (default: run the fit)")
    parser.add_argument("--no-fit", action="store_true", help="leave out the cheapest fitting configurations")


def _failed(command: str, code: int, lines: list[str]) -> ReportError:
    """Exit 1 only means over budget or no fit; anything above is an error the page cannot show."""
    return ReportError(f"budget {command} failed (exit {code}): {chr(10).join(lines)[-500:]}")


def checked_stacks() -> dict[str, StackReport]:
    """Every stack of the project, checked as ``check --all`` checks them, by name."""
    jobs = check.all_jobs(DEFAULT_CATALOG)
    if not jobs:
        raise _failed("check", ExitCode.INVALID, [no_stacks()])
    report = check.check_stacks(jobs, single=False)
    if report.exit_code > ExitCode.OVER:
        raise _failed("check", report.exit_code, check.problems(report))
    return report.verdicts()


def fitted_stacks() -> dict[str, FitReport]:
    """Every stack of the project, fitted as ``fit --all`` fits them, by name."""
    jobs = fitting.all_jobs(DEFAULT_CATALOG)
    if not jobs:
        raise _failed("fit", ExitCode.INVALID, [no_stacks()])
    results = fitting.fit_stacks(jobs)
    code = max(int(r.exit_code) for r in results)
    if code > ExitCode.OVER:
        failures = [fitting.failure_line(r) for r in results if not isinstance(r, FitReport)]
        raise _failed("fit", code, failures)
    return reports_by_stack(results)


def _json_of(path: Path) -> Any:
    try:
        return read_json(path, DOCUMENT_BYTES)
    except InputError as exc:
        raise ReportError(f"cannot read {path}: {exc}") from None


def _fits(args: argparse.Namespace) -> dict[str, FitReport]:
    if args.no_fit:
        return {}
    if args.fit_input:
        return reports_by_stack(parse_fit(_json_of(Path(args.fit_input))))
    return fitted_stacks()


def run(args: argparse.Namespace) -> int:
    try:
        stacks = load_report(Path(args.input)) if args.input else checked_stacks()
    except ReportError as exc:
        print(f"budget report: {exc}", file=sys.stderr)
        return ExitCode.INVALID
    if not stacks:
        print("budget report: no stacks to report", file=sys.stderr)
        return ExitCode.INVALID
    try:
        fits = _fits(args)
    except (ReportError, FitReportError) as exc:
        print(f"budget report: {exc}", file=sys.stderr)
        return ExitCode.INVALID
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    Path(args.output).write_text(render_html(stacks.values(), fits=fits), encoding="utf-8")
    print(f"budget report: wrote {args.output} ({len(stacks)} stacks)", file=sys.stderr)
    return ExitCode.OK
