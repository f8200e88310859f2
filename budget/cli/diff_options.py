"""What ``diff`` and ``comment`` share: the two check reports they compare and the policy options that say
when to comment and when to fail (kept apart from :mod:`budget.cli.options`, which ``check`` imports, so
the hook does not load the comment's modules)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from budget.comment import CommentPolicy
from budget.diff import CostDiff, diff_reports
from budget.report.model import ReportError, load_report


def add_diff_inputs(p: argparse.ArgumentParser) -> None:
    """``--base``, ``--head`` and ``--top`` (diff and comment)."""
    p.add_argument("--base", help="check report (JSON) of the base branch; omitted or empty: no baseline")
    p.add_argument("--head", required=True, help="check report (JSON) of the head")
    p.add_argument("--top", type=int, default=10, help="changed resources shown per stack")


def add_policy_options(p: argparse.ArgumentParser) -> None:
    """When to comment and when to fail (diff and comment)."""
    g = p.add_argument_group("when to comment and when to fail")
    g.add_argument(
        "--only-if-changed", action="store_true", help="comment only when some stack's cost changes"
    )
    g.add_argument(
        "--min-change-tzs", type=float, metavar="TZS", help="comment only if a stack moves this much"
    )
    g.add_argument(
        "--min-change-percent", type=float, metavar="PCT", help="comment only if a stack moves this %%"
    )
    g.add_argument("--fail-over-limit", action="store_true", help="exit 1 when any stack is over its limit")
    g.add_argument("--fail-increase-tzs", type=float, metavar="TZS", help="exit 1 when a stack rises by more")
    g.add_argument(
        "--fail-increase-percent", type=float, metavar="PCT", help="exit 1 when a stack rises by more %%"
    )


def policy_of(args: argparse.Namespace) -> CommentPolicy:
    return CommentPolicy(
        only_if_changed=args.only_if_changed,
        min_change_tzs=args.min_change_tzs,
        min_change_percent=args.min_change_percent,
        fail_over_limit=args.fail_over_limit,
        fail_increase_tzs=args.fail_increase_tzs,
        fail_increase_percent=args.fail_increase_percent,
    )


def load_diff(args: argparse.Namespace, command: str) -> CostDiff | None:
    """``--base`` (none: no baseline) against ``--head``; None after one line naming a report it cannot
    read."""
    try:
        base = load_report(Path(args.base)) if args.base else {}
        return diff_reports(base, load_report(Path(args.head)))
    except ReportError as exc:
        print(f"budget {command}: {exc}", file=sys.stderr)
        return None
