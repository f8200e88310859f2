"""``python -m budget check``: price the planned stack(s), judge them against their limits, print a report.

Exit codes: 0 within budget (warnings allowed, or over with the owner's override), 1 over budget,
2 bad input (stack config, preview file, catalog) or anything unpriced. With several stacks the highest wins.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from budget.check import Job, all_jobs, check_stacks, problems
from budget.cli.options import FORMATS, UsageError, add_catalog_option, add_stack_options
from budget.project import no_stacks, stack_file
from budget.report import markdown, table
from budget.report.model import CostReport
from components.bounded_input import CONFIG_VALUE_BYTES


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_stack_options(parser)
    parser.add_argument(
        "--config-json", help="validated stack config as JSON ('-' = stdin); used by the guard"
    )
    parser.add_argument("--preview-json", type=Path, help="price a 'pulumi preview --json' document")
    parser.add_argument("--format", choices=FORMATS, default="table")
    parser.add_argument("--json-out", type=Path, help="also write the JSON report to this file")
    add_catalog_option(parser)
    parser.add_argument("--no-what-ifs", action="store_true", help="skip the what-if scenarios")
    parser.add_argument("--details", action="store_true", help="table: also list every cost line")


def _jobs(args: argparse.Namespace) -> list[Job]:
    if args.all:
        if args.stack_file or args.config_json or args.preview_json:
            raise UsageError(
                "--all takes no --stack-file, --config-json or --preview-json (they describe one stack)"
            )
        jobs = all_jobs(args.catalog, not args.no_what_ifs)
        if not jobs:
            raise UsageError(no_stacks())
        return jobs
    config_json = None
    if args.config_json == "-":
        config_json = sys.stdin.read(CONFIG_VALUE_BYTES + 1)
    elif args.config_json is not None:
        try:
            config_json = Path(args.config_json).read_text(encoding="utf-8")
        except OSError as exc:
            raise UsageError(f"--config-json: cannot read {args.config_json} ({exc.strerror})") from None
    path = args.stack_file or stack_file(args.stack)
    return [Job(args.stack, path, config_json, args.preview_json, args.catalog, not args.no_what_ifs)]


def render(report: CostReport, fmt: str, details: bool = False) -> str:
    if fmt == "json":
        return report.dumps()
    if fmt == "markdown":
        return markdown.render(report.stacks)
    return table.render(report.stacks, details=details)


def run(args: argparse.Namespace) -> int:
    report = check_stacks(_jobs(args), single=not args.all)
    sys.stdout.write(render(report, args.format, details=args.details))
    if args.json_out:
        args.json_out.write_text(report.dumps(), encoding="utf-8")
    for line in problems(report):
        print(line, file=sys.stderr)
    return report.exit_code
