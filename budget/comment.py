"""The pull-request cost comment: its Markdown, when it is worth posting, and updating it in place.

One comment per pull request, found again by a hidden marker and edited rather than posted anew, so a
busy pull request does not collect a stack of stale cost comments. Whether to post is a pure decision on
the diff (thresholds in TZS or %), and the GitHub calls go through a small client whose base URL can point
at a recorded server, so the whole step runs in tests without GitHub.
"""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from budget.diff import CostDiff, ResourceChange, StackDiff
from budget.report.formatting import format_percent, format_tzs, status_label
from budget.report.md_escape import md

MARKER = "<!-- stars-budget-comment -->"


# ---------------------------------------------------------------------------------------------- policy


@dataclass(frozen=True)
class CommentPolicy:
    """When a comment is worth posting and when the pipeline should fail.

    A stack's change *matters* when it is non-zero and reaches at least one of the given thresholds
    (any change if none is given). A stack that goes over its limit in this pull request always matters.
    """

    only_if_changed: bool = False
    min_change_tzs: float | None = None
    min_change_percent: float | None = None
    fail_over_limit: bool = False
    fail_increase_tzs: float | None = None
    fail_increase_percent: float | None = None

    def stack_matters(self, stack: StackDiff) -> bool:
        if stack.newly_over:
            return True
        if not stack.changed:
            return False
        if self.min_change_tzs is None and self.min_change_percent is None:
            return True
        by_tzs = self.min_change_tzs is not None and abs(stack.change_tzs) >= self.min_change_tzs
        pct = stack.change_percent
        by_pct = self.min_change_percent is not None and (pct is None or abs(pct) >= self.min_change_percent)
        return by_tzs or by_pct

    def should_post(self, diff: CostDiff) -> bool:
        """Post unless a quiet option is set and no stack's change matters."""
        quiet = self.only_if_changed or self.min_change_tzs is not None or self.min_change_percent is not None
        return not quiet or any(self.stack_matters(s) for s in diff.stacks)

    def failures(self, diff: CostDiff) -> list[str]:
        """Why the pipeline should fail (empty: it passes)."""
        reasons = []
        for s in diff.stacks:
            head, limit, change = (
                format_tzs(s.head_tzs),
                format_tzs(s.limit_tzs or 0),
                format_tzs(s.change_tzs),
            )
            if self.fail_over_limit and s.status == "over" and not s.overridden:
                reasons.append(f"{s.stack} is over its limit: TZS {head} > TZS {limit}")
            if self.fail_over_limit and s.unconfirmed_rate:
                reasons.append(f"{s.stack}: {s.unconfirmed_rate}")
            if self.fail_increase_tzs is not None and s.change_tzs > self.fail_increase_tzs:
                allowed = format_tzs(self.fail_increase_tzs)
                reasons.append(f"{s.stack} rises by TZS {change} (allowed: {allowed})")
            pct = s.change_percent
            rises = s.change_tzs > 0 and (pct is None or pct > (self.fail_increase_percent or 0))
            if self.fail_increase_percent is not None and rises:
                allowed = f"+{self.fail_increase_percent:g}%"
                reasons.append(f"{s.stack} rises by {format_percent(pct)} (allowed: {allowed})")
        return reasons


# ---------------------------------------------------------------------------------------------- markdown


def _quantity(value: float | None) -> str:
    if value is None:
        return "–"
    return f"{value:,.0f}" if value == int(value) else f"{value:,.2f}"


def _headline(diff: CostDiff) -> str:
    if not diff.changed:
        return "No change in monthly cost."
    amount = f"**TZS {format_tzs(abs(diff.change_tzs))}**"
    if round(diff.change_tzs) > 0:
        return f"Monthly cost will increase by {amount}"
    if round(diff.change_tzs) < 0:
        return f"Monthly cost will decrease by {amount}"
    return "Resources changed, with no net change in monthly cost."


def _explain(change: ResourceChange) -> str:
    """What moved inside a resource, e.g. "Instance usage: 730 → 1,460 hours"."""
    if change.kind != "changed":
        return change.kind
    parts = []
    for line in sorted(change.lines, key=lambda x: -abs(x.delta_usd))[:2]:
        if line.base_quantity != line.head_quantity:
            moved = f"{_quantity(line.base_quantity)} → {_quantity(line.head_quantity)}"
            parts.append(f"{md(line.name)}: {moved} {md(line.unit)}")
        else:
            parts.append(f"{md(line.name)}: price changed")
    return "; ".join(parts) or "changed"


def _fits(stack: StackDiff) -> str:
    if stack.head is None or stack.limit_tzs is None:
        return ""
    share = 100.0 * stack.head_tzs / stack.limit_tzs if stack.limit_tzs else 0.0
    verb = "fits within" if stack.status != "over" else "no longer fits" if stack.newly_over else "is over"
    amounts = f"TZS {format_tzs(stack.head_tzs)} of {format_tzs(stack.limit_tzs)} ({share:.0f}%)"
    return f"**{md(stack.stack)}** {verb} its limit: {amounts}"


def render_markdown(
    diff: CostDiff, policy: CommentPolicy | None = None, top: int = 10, title: str = ""
) -> str:
    """The comment body: the summary table, then each changed stack's top resources folded below."""
    policy = policy or CommentPolicy()
    head_rate = next((s.head.usd_to_tzs for s in diff.stacks if s.head), None)
    basis = next((s.head.basis for s in diff.stacks if s.head and s.head.basis), "")
    lines = [MARKER, f"### {title or '💰 Monthly cost estimate (TZS)'}", ""]
    lines.append(_headline(diff))
    lines += [
        "",
        "| stack | baseline | usage-based | change | new monthly cost | limit | status |",
        "|---|---:|---:|---:|---:|---:|---|",
    ]
    for s in diff.stacks:
        change = f"{format_tzs(s.change_tzs, signed=True)} ({format_percent(s.change_percent)})"
        lines.append(
            f"| {md(s.stack)} | {format_tzs(s.base_tzs)} | {format_tzs(s.usage_tzs)} | {change} "
            f"| {format_tzs(s.head_tzs)} | {format_tzs(s.limit_tzs) if s.limit_tzs is not None else '–'} "
            f"| {status_label(s.status).short(s.status)}{' (override)' if s.overridden else ''} |"
        )
    lines.append("")
    for s in diff.stacks:
        if s.changed and s.head is not None:
            lines.append(_fits(s) + "  ")
    for s in diff.stacks:
        if not s.resources:
            continue
        shown = s.resources[:top]
        lines += [
            "",
            f"<details><summary>{md(s.stack)}: {len(s.resources)} changed resource"
            f"{'s' if len(s.resources) != 1 else ''} (top {len(shown)})</summary>",
            "",
            "| resource | tier | what changed | before | after | change |",
            "|---|---|---|---:|---:|---:|",
        ]
        rate_base = s.base.usd_to_tzs if s.base else None
        rate_head = s.head.usd_to_tzs if s.head else None
        for r in shown:
            before = format_tzs(r.base_usd * rate_base) if rate_base and r.kind != "added" else "–"
            after = format_tzs(r.head_usd * rate_head) if rate_head and r.kind != "removed" else "–"
            lines.append(
                f"| {md(r.name)} ({md(r.type)}) | {md(r.tier)} | {_explain(r)} | {before} | {after} "
                f"| {format_tzs(r.delta_tzs, signed=True)} |"
            )
        lines += ["", "</details>"]
    for s in diff.stacks:
        if s.deleted and s.head is not None:
            head = s.head
            items = ", ".join(
                f"{md(r.name)} ({md(r.type)}) TZS {format_tzs(head.tzs(r.monthly_usd))}" for r in s.deleted
            )
            lines += [
                "",
                f"{md(s.stack)}: the update deletes {len(s.deleted)} resource(s), saving"
                f" TZS {format_tzs(s.deleted_saves_tzs)} a month: {items}.",
            ]
    reasons = policy.failures(diff)
    if reasons:
        lines += ["", "**Budget policy fails:**", *(f"- {md(r)}" for r in reasons)]
    lines += [
        "",
        "<sub>Amounts in TZS per month"
        + (f" at {head_rate:,.0f} TZS/USD" if head_rate else "")
        + (f", fleets at their {basis} size (the check's basis)" if basis else "")
        + "; usage-based costs rest on each stack's usage assumptions. "
        "Generated by <code>python -m budget diff</code>.</sub>",
    ]
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------------------------- in place


@dataclass(frozen=True)
class CommentAction:
    """What to do on the pull request: create a comment, update one, or nothing."""

    kind: Literal["create", "update", "skip"]
    comment_id: int | None = None
    reason: str = ""


def plan_action(
    existing: Sequence[dict[str, Any]], body: str, post: bool, marker: str = MARKER
) -> CommentAction:
    """Decide create/update/skip from the pull request's current comments.

    An existing marked comment is always kept up to date (even when the change no longer matters), so it
    never shows stale numbers; a new one is created only when the change matters.
    """
    ours = [c for c in existing if marker in (c.get("body") or "")]
    if ours:
        first = ours[0]
        if (first.get("body") or "").strip() == body.strip():
            return CommentAction("skip", int(first["id"]), "the comment already shows these numbers")
        return CommentAction("update", int(first["id"]), "updating the existing cost comment")
    if post:
        return CommentAction("create", None, "posting a new cost comment")
    return CommentAction("skip", None, "the cost change does not pass the comment thresholds")


class GitHubError(RuntimeError):
    """A GitHub API call failed."""


class GitHubComments:
    """The three REST calls the comment step needs: list, create, update issue comments."""

    def __init__(self, api_url: str, repository: str, token: str, timeout: float = 30.0) -> None:
        self.api_url = api_url.rstrip("/")
        self.repository = repository
        self.token = token
        self.timeout = timeout

    def _request(self, method: str, url: str, payload: dict[str, Any] | None = None) -> tuple[Any, str]:
        data = json.dumps(payload).encode() if payload is not None else None
        req = urllib.request.Request(url, data=data, method=method)
        req.add_header("Accept", "application/vnd.github+json")
        req.add_header("X-GitHub-Api-Version", "2022-11-28")
        if self.token:
            req.add_header("Authorization", f"Bearer {self.token}")
        if data is not None:
            req.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                body = resp.read().decode() or "null"
                return json.loads(body), resp.headers.get("Link", "")
        except urllib.error.HTTPError as exc:
            detail = exc.read().decode(errors="replace")[:300]
            raise GitHubError(f"{method} {url}: HTTP {exc.code} {detail}") from exc
        except urllib.error.URLError as exc:
            raise GitHubError(f"{method} {url}: {exc.reason}") from exc

    def list(self, issue: int) -> list[dict[str, Any]]:
        url: str | None = f"{self.api_url}/repos/{self.repository}/issues/{issue}/comments?per_page=100"
        comments: list[dict[str, Any]] = []
        while url:
            page, link = self._request("GET", url)
            comments.extend(page or [])
            match = re.search(r'<([^>]+)>;\s*rel="next"', link)
            url = match.group(1) if match else None
        return comments

    def create(self, issue: int, body: str) -> dict[str, Any]:
        url = f"{self.api_url}/repos/{self.repository}/issues/{issue}/comments"
        return self._request("POST", url, {"body": body})[0]

    def update(self, comment_id: int, body: str) -> dict[str, Any]:
        url = f"{self.api_url}/repos/{self.repository}/issues/comments/{comment_id}"
        return self._request("PATCH", url, {"body": body})[0]


def publish(client: GitHubComments, issue: int, body: str, post: bool) -> CommentAction:
    """Create or update the cost comment on a pull request, as :func:`plan_action` decides."""
    action = plan_action(client.list(issue), body, post)
    if action.kind == "create":
        created = client.create(issue, body)
        return CommentAction("create", int(created.get("id", 0)) or None, action.reason)
    if action.kind == "update" and action.comment_id is not None:
        client.update(action.comment_id, body)
    return action
