"""Command-line entry points of the review tools: ``diff``, ``comment``, ``report`` and ``prices``.

They are registered into the budget CLI by :func:`register`, so ``python -m budget diff ...`` works; this
module also runs on its own (``python -m budget.review_cli diff ...``). Exit codes follow the check:
0 fine, 1 a budget policy fails, 2 bad input or a service that cannot be reached.

Each command imports its module when it runs: ``check`` (the pre-deploy guard) builds this parser too and
should not pay for Jinja2 or boto3.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from budget.exit_codes import ExitCode

if TYPE_CHECKING:
    from budget.comment import CommentPolicy
    from budget.diff import CostDiff


def _add_policy_options(p: argparse.ArgumentParser) -> None:
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


def _policy(args: argparse.Namespace) -> CommentPolicy:
    from budget.comment import CommentPolicy

    return CommentPolicy(
        only_if_changed=args.only_if_changed,
        min_change_tzs=args.min_change_tzs,
        min_change_percent=args.min_change_percent,
        fail_over_limit=args.fail_over_limit,
        fail_increase_tzs=args.fail_increase_tzs,
        fail_increase_percent=args.fail_increase_percent,
    )


def _load_diff(args: argparse.Namespace) -> CostDiff:
    from budget.diff import diff_reports
    from budget.report.model import load_report

    base = load_report(Path(args.base)) if args.base else {}
    return diff_reports(base, load_report(Path(args.head)))


def _write(text: str, output: str | None) -> None:
    if output and output != "-":
        Path(output).write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)


def run_diff(args: argparse.Namespace) -> int:
    """``diff``: print the change between two check reports."""
    import json

    from budget.comment import render_markdown
    from budget.diff import render_table, to_json
    from budget.report.model import ReportError

    try:
        diff = _load_diff(args)
    except ReportError as exc:
        print(f"budget diff: {exc}", file=sys.stderr)
        return ExitCode.INVALID
    policy = _policy(args)
    if args.format == "json":
        text = json.dumps(to_json(diff), indent=2) + "\n"
    elif args.format == "markdown":
        text = render_markdown(diff, policy, top=args.top)
    else:
        text = render_table(diff, top=args.top)
    _write(text, args.output)
    reasons = policy.failures(diff)
    for reason in reasons:
        print(f"budget diff: {reason}", file=sys.stderr)
    return ExitCode.OVER if reasons else ExitCode.OK


def _github_output(path: str | None, values: dict[str, str]) -> None:
    if not path:
        return
    with open(path, "a", encoding="utf-8") as fh:
        for key, value in values.items():
            fh.write(f"{key}={value}\n")


def run_comment(args: argparse.Namespace) -> int:
    """``comment``: write the PR comment body and create or update it on the pull request."""
    from budget.comment import GitHubComments, GitHubError, plan_action, publish, render_markdown
    from budget.report.model import ReportError

    try:
        diff = _load_diff(args)
    except ReportError as exc:
        print(f"budget comment: {exc}", file=sys.stderr)
        return ExitCode.INVALID
    policy = _policy(args)
    body = render_markdown(diff, policy, top=args.top)
    post = policy.should_post(diff)
    if args.body_file:
        Path(args.body_file).write_text(body, encoding="utf-8")
    repo = args.repo or os.environ.get("GITHUB_REPOSITORY", "")
    token = os.environ.get(args.token_env, "")
    if args.dry_run or not args.pr:
        action = plan_action([], body, post)
        print(f"budget comment: {'would post' if post else 'would not post'} (dry run)", file=sys.stderr)
        if not args.body_file:
            sys.stdout.write(body)
    else:
        if not repo or not token:
            print(
                f"budget comment: need --repo (or GITHUB_REPOSITORY) and ${args.token_env}", file=sys.stderr
            )
            return ExitCode.INVALID
        client = GitHubComments(
            args.api_url or os.environ.get("GITHUB_API_URL", "https://api.github.com"), repo, token
        )
        try:
            action = publish(client, args.pr, body, post)
        except GitHubError as exc:
            print(f"budget comment: {exc}", file=sys.stderr)
            return ExitCode.INVALID
        print(f"budget comment: {action.kind} ({action.reason})", file=sys.stderr)
    _github_output(
        args.github_output or os.environ.get("GITHUB_OUTPUT"),
        {
            "post": str(post).lower(),
            "action": action.kind,
            "comment_id": str(action.comment_id or ""),
            "change_tzs": f"{diff.change_tzs:.0f}",
            "over": ",".join(s.stack for s in diff.over),
        },
    )
    reasons = policy.failures(diff)
    for reason in reasons:
        print(f"budget comment: {reason}", file=sys.stderr)
    return ExitCode.OVER if reasons else ExitCode.OK


def _add_diff_inputs(p: argparse.ArgumentParser) -> None:
    p.add_argument("--base", help="check report (JSON) of the base branch; omitted or empty: no baseline")
    p.add_argument("--head", required=True, help="check report (JSON) of the head")
    p.add_argument("--top", type=int, default=10, help="changed resources shown per stack")


def run_report(args: argparse.Namespace) -> int:
    """``report``: the HTML page for every stack (from a saved check report, or by running the check)."""
    from budget.fit.report import FitReportError, parse_fit, reports_by_stack
    from budget.html_report import render_html
    from budget.report.model import ReportError, load_report, parse_report

    try:
        stacks = load_report(Path(args.input)) if args.input else parse_report(_check_all())
    except ReportError as exc:
        print(f"budget report: {exc}", file=sys.stderr)
        return ExitCode.INVALID
    if not stacks:
        print("budget report: no stacks to report", file=sys.stderr)
        return ExitCode.INVALID
    try:
        fits = (
            reports_by_stack(parse_fit(_json_of(Path(args.fit_input)) if args.fit_input else _fit_all()))
            if not args.no_fit
            else {}
        )
    except (ReportError, FitReportError) as exc:
        print(f"budget report: {exc}", file=sys.stderr)
        return ExitCode.INVALID
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    Path(args.output).write_text(render_html(stacks.values(), fits=fits), encoding="utf-8")
    print(f"budget report: wrote {args.output} ({len(stacks)} stacks)", file=sys.stderr)
    return ExitCode.OK


def _json_of(path: Path) -> Any:
    from budget.report.model import ReportError
    from components.bounded_input import DOCUMENT_BYTES, InputError, read_json

    try:
        return read_json(path, DOCUMENT_BYTES)
    except InputError as exc:
        raise ReportError(f"cannot read {path}: {exc}") from None


def _budget_json(command: str) -> Any:
    """The JSON of ``python -m budget <command> --all --format json``, from the command itself (the same
    numbers by design); exit 1 only means over budget or no fit, anything above is an error."""
    import json
    import subprocess

    from budget.report.model import ReportError

    cmd = [sys.executable, "-m", "budget", command, "--all", "--format", "json"]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode > 1:
        raise ReportError(f"budget {command} failed (exit {done.returncode}): {done.stderr.strip()[-500:]}")
    try:
        return json.loads(done.stdout)
    except json.JSONDecodeError as exc:
        raise ReportError(f"budget {command} printed no JSON: {exc}") from exc


def _fit_all() -> Any:
    return _budget_json("fit")


def _check_all() -> Any:
    return _budget_json("check")


def run_prices_show(args: argparse.Namespace) -> int:
    """``prices show``: every catalog figure with its source, date and status."""
    from budget.catalog import CatalogError, load_catalog
    from budget.catalog.refresh import show

    try:
        catalog = load_catalog(Path(args.catalog))
    except CatalogError as exc:
        print(f"budget prices: {exc}", file=sys.stderr)
        return ExitCode.INVALID
    if args.region and args.region not in catalog.regions:
        print(f"budget prices: region {args.region} is not in the catalog", file=sys.stderr)
        return ExitCode.INVALID
    sys.stdout.write(show(catalog, region=args.region, fmt=args.format))
    return ExitCode.OK


def run_prices_refresh(args: argparse.Namespace) -> int:
    """``prices refresh``: rebuild a region's entries from the AWS Price List API (needs AWS credentials)."""
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    from budget.catalog import CatalogError
    from budget.catalog.refresh import PRICING_REGION, refresh, render_refresh

    session = boto3.Session()
    if session.get_credentials() is None:
        print(
            "budget prices refresh: no AWS credentials found. The Price List API needs an AWS identity "
            "(any IAM user or role allowed pricing:GetProducts); set AWS_PROFILE or AWS_ACCESS_KEY_ID/"
            "AWS_SECRET_ACCESS_KEY. The catalog was not changed.",
            file=sys.stderr,
        )
        return ExitCode.INVALID
    client = session.client("pricing", region_name=PRICING_REGION)
    try:
        result = refresh(client, Path(args.catalog), args.region, dry_run=args.dry_run)
    except (BotoCoreError, ClientError) as exc:
        print(
            f"budget prices refresh: the Price List API failed: {exc}. The catalog was not changed.",
            file=sys.stderr,
        )
        return ExitCode.INVALID
    except CatalogError as exc:
        print(f"budget prices refresh: {exc}", file=sys.stderr)
        return ExitCode.INVALID
    sys.stdout.write(render_refresh(result))
    return ExitCode.OK


def register(subparsers: Any) -> None:
    """Add the review subcommands to the budget CLI's subparsers (each sets ``func``)."""
    p = subparsers.add_parser("diff", help="cost change between two check reports (base vs head)")
    _add_diff_inputs(p)
    p.add_argument("--format", choices=("table", "json", "markdown"), default="table")
    p.add_argument("-o", "--output", help="write to this file instead of standard output")
    _add_policy_options(p)
    p.set_defaults(func=run_diff)

    p = subparsers.add_parser("comment", help="post or update the pull request's cost comment")
    _add_diff_inputs(p)
    p.add_argument("--body-file", help="also write the comment body here")
    p.add_argument("--repo", help="owner/name (default: $GITHUB_REPOSITORY)")
    p.add_argument("--pr", type=int, help="pull request number; without it nothing is posted")
    p.add_argument("--api-url", help="GitHub API base URL (default: $GITHUB_API_URL or api.github.com)")
    p.add_argument("--token-env", default="GITHUB_TOKEN", help="environment variable that holds the token")
    p.add_argument("--dry-run", action="store_true", help="decide and print, post nothing")
    p.add_argument("--github-output", help="append step outputs here (default: $GITHUB_OUTPUT)")
    _add_policy_options(p)
    p.set_defaults(func=run_comment)

    p = subparsers.add_parser("report", help="self-contained HTML cost report for every stack")
    p.add_argument("--format", choices=("html",), default="html")
    p.add_argument("-o", "--output", required=True, help="the HTML file to write")
    p.add_argument("--input", help="a saved `check --all --format json` report (default: run the check)")
    p.add_argument("--fit-input", help="a saved `fit --all --format json` result (default: run the fit)")
    p.add_argument("--no-fit", action="store_true", help="leave out the cheapest fitting configurations")
    p.set_defaults(func=run_report)

    from budget.catalog import DEFAULT_CATALOG

    prices = subparsers.add_parser("prices", help="show or refresh the price catalog")
    sub = prices.add_subparsers(dest="prices_command", required=True)
    p = sub.add_parser("show", help="every price with its source, date and status")
    p.add_argument("--region", help="only this region (and the global prices)")
    p.add_argument("--format", choices=("table", "json"), default="table")
    p.add_argument("--catalog", default=str(DEFAULT_CATALOG), help=argparse.SUPPRESS)
    p.set_defaults(func=run_prices_show)
    p = sub.add_parser("refresh", help="rebuild a region's prices from the AWS Price List API")
    p.add_argument("--region", required=True)
    p.add_argument("--dry-run", action="store_true", help="report the changes, write nothing")
    p.add_argument("--catalog", default=str(DEFAULT_CATALOG), help="catalog file to update")
    p.set_defaults(func=run_prices_refresh)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m budget.review_cli", description=__doc__.splitlines()[0])
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
