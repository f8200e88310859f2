"""``python -m budget fit --stack phaseN | --all [--format table|json|markdown] [--write]``.

Exit codes as ``check``: 0 a fitting plan exists (for every stack), 1 none fits (for some stack), 2 bad
input (stack config, demand block, catalog, benchmark runs). With several stacks the highest wins.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from budget.capacity import MEASURED, Settings
from budget.cli.options import FORMATS, add_catalog_option, add_stack_options, headroom_error
from budget.exit_codes import ExitCode
from budget.fit.render import render, render_markdown
from budget.fit.report import FitFailure, FitReport, dumps
from budget.fit.stacks import FitJob, all_jobs, failure_line, fit_stacks
from budget.fit.write import WriteError, write_fit
from budget.project import no_stacks, stack_file


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_stack_options(parser)
    parser.add_argument("--format", choices=FORMATS, default="table")
    parser.add_argument(
        "--write", action="store_true", help="write a fitting configuration into the stack file"
    )
    parser.add_argument(
        "--domain",
        help="search as if stars:loadBalancer.domain named this domain (one you control; --write writes it)",
    )
    add_catalog_option(parser)
    parser.add_argument("--measured", type=Path, default=MEASURED, help="folder of kept benchmark runs")
    parser.add_argument(
        "--headroom", type=float, default=Settings.headroom, help="share of every capacity kept spare"
    )


def _jobs(args: argparse.Namespace) -> list[FitJob] | str:
    """The stacks to fit, or the line that says why the options cannot be run."""
    if not args.all:
        path = args.stack_file or stack_file(args.stack)
        return [FitJob(args.stack, path, args.catalog, args.measured, args.headroom, args.domain)]
    if args.stack_file:
        return "budget fit: --all takes no --stack-file (it describes one stack)"
    if args.domain:
        return "budget fit: --all takes no --domain (each stack names its own)"
    jobs = all_jobs(args.catalog, args.measured, args.headroom)
    return jobs or f"budget fit: {no_stacks()}"


def _write(report: FitReport, path: Path) -> int:
    """``--write``: a fitting plan into its stack file; the exit code of the write."""
    if not report.fits:
        print(f"budget fit: {report.stack}: nothing fits; {path.name} left as it is", file=sys.stderr)
        return ExitCode.OK
    try:
        keys = write_fit(report, path)
    except (WriteError, OSError) as exc:
        print(f"budget fit: {report.stack}: {exc}", file=sys.stderr)
        return ExitCode.INVALID
    print(f"budget fit: {report.stack}: wrote {len(keys)} keys to {path.name}", file=sys.stderr)
    return ExitCode.OK


def run(args: argparse.Namespace) -> int:
    bad = headroom_error("fit", args.headroom)
    jobs = _jobs(args) if bad is None else bad
    if isinstance(jobs, str):
        print(jobs, file=sys.stderr)
        return ExitCode.INVALID
    results = fit_stacks(jobs)
    if args.format == "json":
        sys.stdout.write(dumps(results, many=args.all))
    elif args.format == "markdown":
        sys.stdout.write(render_markdown(results))
    else:
        sys.stdout.write(render(results))
    code = max(int(r.exit_code) for r in results)
    paths = {j.stack: j.stack_file for j in jobs}
    for r in results:  # one stack's lines together, in the order the stacks were fitted
        if isinstance(r, FitFailure):
            print(failure_line(r), file=sys.stderr)
        elif args.write:
            code = max(code, int(_write(r, paths[r.stack])))
    return code
