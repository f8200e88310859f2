"""The pull-request cost comment: its content, when it is posted, failing at a threshold, editing in place.

The GitHub side is a local HTTP server that answers with recorded comment listings (paginated like
GitHub's) and records what the comment step sends; nothing leaves the machine.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest

from budget.cli import main
from budget.comment import MARKER, CommentPolicy, plan_action, render_markdown
from budget.diff import diff_reports
from budget.report.model import parse_report
from tests.budget_review.review_data import DATA, clone, load, stack_of, write


def _diff(base: Any, head: Any) -> Any:
    return diff_reports(parse_report(base), parse_report(head))


def test_comment_shows_change_cause_and_verdict(base_report: Any, head_report: Any) -> None:
    body = render_markdown(_diff(base_report, head_report))
    assert body.startswith(MARKER)
    assert "| stack | baseline | usage-based | change | new monthly cost | limit | status |" in body
    assert "| phase2 | 689,175 | 87,750 | +203,075 (+29.5%) | 892,250 | 700,000 | ❌ over |" in body
    assert "Monthly cost will increase by **TZS 203,075**" in body
    assert "**phase2** no longer fits its limit: TZS 892,250 of 700,000" in body
    assert "<details><summary>phase2: 1 changed resource" in body
    assert "| realtime-asg (aws:autoscaling/group:Group) |" in body and "730 → 1,460 hours" in body


def test_unchanged_stacks_are_not_folded(base_report: Any) -> None:
    body = render_markdown(_diff(base_report, base_report))
    assert "No change in monthly cost." in body and "<details>" not in body


@pytest.mark.parametrize(
    ("policy", "post"),
    [
        (CommentPolicy(), True),
        (CommentPolicy(only_if_changed=True), True),
        (CommentPolicy(min_change_tzs=250_000), True),  # phase 2 goes over: always worth a comment
        (CommentPolicy(min_change_percent=50), True),
    ],
)
def test_policy_posts_when_it_matters(
    base_report: Any, head_report: Any, policy: CommentPolicy, post: bool
) -> None:
    assert policy.should_post(_diff(base_report, head_report)) is post


def test_thresholds_silence_small_changes(base_report: Any) -> None:
    head = clone(base_report)
    p1 = stack_of(head, "phase1")
    p1["resources"][0]["monthly_usd"] += 2.0
    p1["total_usd"] += 2.0
    p1["total_tzs"] += 5000
    diff = _diff(base_report, head)
    assert CommentPolicy().should_post(_diff(base_report, base_report))
    assert not CommentPolicy(only_if_changed=True).should_post(_diff(base_report, base_report))
    assert CommentPolicy(only_if_changed=True).should_post(diff)
    assert not CommentPolicy(min_change_tzs=10_000).should_post(diff)
    assert CommentPolicy(min_change_tzs=5_000).should_post(diff)
    assert not CommentPolicy(min_change_percent=2).should_post(diff)  # 5,000 of 372,625 = 1.3%
    assert CommentPolicy(min_change_percent=1).should_post(diff)
    assert CommentPolicy(min_change_tzs=10_000, min_change_percent=1).should_post(diff)


def test_failures(base_report: Any, head_report: Any) -> None:
    diff = _diff(base_report, head_report)
    assert CommentPolicy().failures(diff) == []
    over = CommentPolicy(fail_over_limit=True).failures(diff)
    assert [r.split()[0] for r in over] == ["phase2", "phase3"]
    assert (
        CommentPolicy(fail_increase_tzs=200_000).failures(diff)[0].startswith("phase2 rises by TZS 203,075")
    )
    assert CommentPolicy(fail_increase_tzs=250_000).failures(diff) == []
    assert CommentPolicy(fail_increase_percent=30).failures(diff) == []
    assert CommentPolicy(fail_increase_percent=25).failures(diff)


def test_plan_action_in_place() -> None:
    others = [{"id": 1, "body": "hello"}]
    ours = [*others, {"id": 7, "body": f"{MARKER}\nold"}, {"id": 9, "body": f"{MARKER}\nolder duplicate"}]
    assert plan_action(others, "new", post=True).kind == "create"
    assert plan_action(others, "new", post=False).kind == "skip"
    update = plan_action(ours, f"{MARKER}\nnew", post=False)  # a stale comment is refreshed anyway
    assert (update.kind, update.comment_id) == ("update", 7)
    same = plan_action(ours, f"{MARKER}\nold\n", post=True)
    assert (same.kind, same.comment_id) == ("skip", 7)


class _FakeGitHub(BaseHTTPRequestHandler):
    """Serves the recorded comment pages (30 per page on GitHub; two pages here) and records writes."""

    pages: ClassVar[dict[int, list[dict[str, Any]]]] = {}
    requests: ClassVar[list[tuple[str, str, Any, str]]] = []

    def log_message(self, *args: Any) -> None:
        pass

    def _send(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _record(self) -> Any:
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length)) if length else None
        self.requests.append((self.command, self.path, body, self.headers.get("Authorization", "")))
        return body

    def do_GET(self) -> None:
        self._record()
        page = 2 if "page=2" in self.path else 1
        host = f"http://{self.headers['Host']}"
        link = f'<{host}/repos/stars-corp/stars-platform/issues/42/comments?per_page=100&page=2>; rel="next"'
        self._send(200, self.pages.get(page, []), {"Link": link} if page == 1 and 2 in self.pages else None)

    def do_POST(self) -> None:
        body = self._record()
        self._send(201, {"id": 2417799999, "body": body["body"]})

    def do_PATCH(self) -> None:
        body = self._record()
        self._send(200, {"id": int(self.path.rsplit("/", 1)[1]), "body": body["body"]})


@pytest.fixture
def github() -> Iterator[tuple[str, type[_FakeGitHub]]]:
    handler = type("Handler", (_FakeGitHub,), {"pages": {}, "requests": []})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", handler
    finally:
        server.shutdown()
        server.server_close()


def _run(tmp_path: Path, base: Any, head: Any, api: str, *extra: str) -> tuple[int, dict[str, str]]:
    out = tmp_path / "github_output"
    out.write_text("", encoding="utf-8")
    argv = [
        "comment",
        "--base",
        str(write(tmp_path, "base.json", base)),
        "--head",
        str(write(tmp_path, "head.json", head)),
        "--repo",
        "stars-corp/stars-platform",
        "--pr",
        "42",
        "--api-url",
        api,
        "--github-output",
        str(out),
        "--body-file",
        str(tmp_path / "body.md"),
        *extra,
    ]
    rc = main(argv)
    outputs = dict(line.split("=", 1) for line in out.read_text(encoding="utf-8").splitlines())
    return rc, outputs


def test_step_updates_the_existing_comment_in_place(
    tmp_path: Path, github: Any, base_report: Any, head_report: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    api, handler = github
    handler.pages = {1: load("pr_comments_page1.json"), 2: load("pr_comments_page2.json")}
    monkeypatch.setenv("GITHUB_TOKEN", "test-token")
    rc, outputs = _run(tmp_path, base_report, head_report, api, "--only-if-changed", "--fail-over-limit")
    assert rc == 1  # phase 2 (and phase 3) over the limit fails the step, after commenting
    assert outputs["action"] == "update" and outputs["comment_id"] == "2417700003"
    assert (
        outputs["post"] == "true" and outputs["change_tzs"] == "203075" and outputs["over"] == "phase2,phase3"
    )
    methods = [(m, p.split("?")[0]) for m, p, _, _ in handler.requests]
    assert methods == [
        ("GET", "/repos/stars-corp/stars-platform/issues/42/comments"),
        ("GET", "/repos/stars-corp/stars-platform/issues/42/comments"),
        ("PATCH", "/repos/stars-corp/stars-platform/issues/comments/2417700003"),
    ]
    sent = handler.requests[-1][2]["body"]
    assert sent == (tmp_path / "body.md").read_text(encoding="utf-8") and "+203,075" in sent
    assert all(auth == "Bearer test-token" for *_, auth in handler.requests)


def test_step_creates_once_then_stays_quiet(
    tmp_path: Path, github: Any, base_report: Any, head_report: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    api, handler = github
    handler.pages = {1: load("pr_comments_page1.json")}
    monkeypatch.setenv("GITHUB_TOKEN", "test-token")
    rc, outputs = _run(tmp_path, base_report, head_report, api, "--only-if-changed")
    assert (rc, outputs["action"]) == (0, "create")
    assert handler.requests[-1][0] == "POST"
    handler.requests.clear()
    rc, outputs = _run(tmp_path, base_report, base_report, api, "--only-if-changed")
    assert (rc, outputs["action"], outputs["post"]) == (0, "skip", "false")
    assert [m for m, *_ in handler.requests] == ["GET"]


def test_step_without_token_is_an_input_error(
    tmp_path: Path, base_report: Any, head_report: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("GITHUB_TOKEN", raising=False)
    rc, _ = _run(tmp_path, base_report, head_report, "http://127.0.0.1:9")
    assert rc == 2


def test_step_dry_run_and_missing_base(tmp_path: Path, head_report: Any) -> None:
    empty = tmp_path / "empty.json"
    empty.write_text("", encoding="utf-8")
    head = write(tmp_path, "head.json", head_report)
    out = tmp_path / "out"
    assert (
        main(["comment", "--base", str(empty), "--head", str(head), "--dry-run", "--github-output", str(out)])
        == 0
    )
    assert "action=create" in out.read_text(encoding="utf-8")
    assert DATA.is_dir()


def test_a_far_exchange_rate_fails_the_gate_even_within_the_limit(base_report: Any, head_report: Any) -> None:
    """A rate the check refused (exit 1, its warning) fails --fail-over-limit like going over the limit."""
    head = clone(head_report)
    phase1 = stack_of(head, "phase1")
    assert phase1["status"] != "over"
    warning = (
        "usd_to_tzs 1.00 is more than 50% from the catalog's rate 2,500.00 (2026-01-16); it needs an override"
    )
    phase1.update(exit_code=1, warnings=[warning])
    failures = CommentPolicy(fail_over_limit=True).failures(_diff(base_report, head))
    assert f"phase1: {warning}" in failures
    phase1["overridden"] = True
    assert not any(
        f.startswith("phase1") for f in CommentPolicy(fail_over_limit=True).failures(_diff(base_report, head))
    )


def test_an_owner_override_is_shown_but_does_not_fail(base_report: Any, head_report: Any) -> None:
    head = clone(head_report)
    for name in ("phase2", "phase3"):
        stack_of(head, name)["overridden"] = True
    diff = _diff(base_report, head)
    assert CommentPolicy(fail_over_limit=True).failures(diff) == []
    assert "❌ over (override) |" in render_markdown(diff)


def test_a_stack_the_check_could_not_price_is_an_input_error(head_report: Any) -> None:
    from budget.report.model import ReportError

    head = clone(head_report)
    stack_of(head, "phase1").update(status="error", error="config: stars:api.instance_type")
    with pytest.raises(ReportError, match="could not price this stack: config"):
        parse_report(head)


def test_a_decrease_is_reported_as_such(base_report: Any, head_report: Any) -> None:
    body = render_markdown(_diff(head_report, base_report))
    assert "Monthly cost will decrease by **TZS 203,075**" in body
    assert "| phase2 | 892,250 | 87,750 | -203,075 (-22.8%) | 689,175 | 700,000 | ⚠️ warn |" in body
    assert "**phase2** fits within its limit: TZS 689,175 of 700,000 (98%)" in body
