"""``python -m budget comment``: write the pull request's cost comment and create or update it in place.

Without ``--pr`` (or with ``--dry-run``) nothing is posted. Exit 0, 1 when a ``--fail-*`` policy fails,
2 for a report it cannot read or a GitHub API that refuses.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from budget.cli.diff_options import add_diff_inputs, add_policy_options, load_diff, policy_of
from budget.comment import GitHubComments, GitHubError, plan_action, publish, render_markdown
from budget.exit_codes import ExitCode


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_diff_inputs(parser)
    parser.add_argument("--body-file", help="also write the comment body here")
    parser.add_argument("--repo", help="owner/name (default: $GITHUB_REPOSITORY)")
    parser.add_argument("--pr", type=int, help="pull request number; without it nothing is posted")
    parser.add_argument("--api-url", help="GitHub API base URL (default: $GITHUB_API_URL or api.github.com)")
    parser.add_argument(
        "--token-env", default="GITHUB_TOKEN", help="environment variable that holds the token"
    )
    parser.add_argument("--dry-run", action="store_true", help="decide and print, post nothing")
    parser.add_argument("--github-output", help="append step outputs here (default: $GITHUB_OUTPUT)")
    add_policy_options(parser)


def _github_output(path: str | None, values: dict[str, str]) -> None:
    if not path:
        return
    with open(path, "a", encoding="utf-8") as fh:
        for key, value in values.items():
            fh.write(f"{key}={value}\n")


def run(args: argparse.Namespace) -> int:
    diff = load_diff(args, "comment")
    if diff is None:
        return ExitCode.INVALID
    policy = policy_of(args)
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
