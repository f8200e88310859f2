"""``python -m budget diff --base BASE.json --head HEAD.json``: the cost change between two check reports.

Exit 0, 1 when a ``--fail-*`` policy fails, 2 for a report it cannot read. ``comment`` shares its inputs
and policy options (``budget.cli.diff_options``).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from budget.cli.diff_options import add_diff_inputs, add_policy_options, load_diff, policy_of
from budget.comment import render_markdown
from budget.diff import render_table, to_json
from budget.exit_codes import ExitCode


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_diff_inputs(parser)
    parser.add_argument("--format", choices=("table", "json", "markdown"), default="table")
    parser.add_argument("-o", "--output", help="write to this file instead of standard output")
    add_policy_options(parser)


def run(args: argparse.Namespace) -> int:
    diff = load_diff(args, "diff")
    if diff is None:
        return ExitCode.INVALID
    policy = policy_of(args)
    if args.format == "json":
        text = json.dumps(to_json(diff), indent=2) + "\n"
    elif args.format == "markdown":
        text = render_markdown(diff, policy, top=args.top)
    else:
        text = render_table(diff, top=args.top)
    if args.output and args.output != "-":
        Path(args.output).write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    reasons = policy.failures(diff)
    for reason in reasons:
        print(f"budget diff: {reason}", file=sys.stderr)
    return ExitCode.OVER if reasons else ExitCode.OK
