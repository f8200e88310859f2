"""Where the pack is wired in: the pull-request preview, its config from the stack files, the pack's
project file, and the READMEs that name its policies and commands."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path
from typing import Any

import yaml

from policy.budget_policy import POLICY_NAME, WARNING_POLICY_NAME, parse_settings
from policy.configure import main as configure
from policy.pack import policies
from tests.infra.conftest import ROOT, stack_config

PULUMI_ACTION = "pulumi/actions@v7"


def _preview_steps() -> list[dict[str, Any]]:
    wf = yaml.safe_load((ROOT / ".github" / "workflows" / "pull-request.yml").read_text(encoding="utf-8"))
    return list(wf["jobs"]["preview"]["steps"])


def test_the_pull_request_preview_runs_the_pack_with_each_stacks_budget(tmp_path: Path) -> None:
    steps = _preview_steps()
    [at] = [i for i, s in enumerate(steps) if s.get("uses") == PULUMI_ACTION]
    pulumi = steps[at]["with"]
    assert pulumi["policyPacks"] == "policy"
    assert pulumi["policyPackConfigs"] == "${{ runner.temp }}/policy-config.json"
    [config] = [s for s in steps[:at] if "-m policy.configure" in s.get("run", "")]
    assert config["env"] == {"STACK": "${{ matrix.stack }}"}
    # The step's own shell, as the runner would run it, for one stack:
    env = {**os.environ, "RUNNER_TEMP": str(tmp_path), "STACK": "phase2"}
    run = subprocess.run(
        ["bash", "-e", "-c", config["run"]], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert run.returncode == 0, run.stderr
    written = json.loads((tmp_path / "policy-config.json").read_text(encoding="utf-8"))
    assert set(written) == {POLICY_NAME, WARNING_POLICY_NAME}
    settings = parse_settings(written[POLICY_NAME])
    assert (settings.budget, settings.usage) == (stack_config("phase2").budget, stack_config("phase2").usage)


def test_configure_names_a_broken_stack_file(tmp_path: Path, capsys: Any) -> None:
    broken = tmp_path / "Pulumi.phase1.yaml"
    broken.write_text("config:\n  stars:budget: {limit_tzs: 0}\n", encoding="utf-8")
    assert configure(["--stack", "phase1", "--stack-file", str(broken)]) == 2
    assert "stars:budget.limit_tzs" in capsys.readouterr().err


def test_the_pack_runs_in_the_projects_environment() -> None:
    project = yaml.safe_load((ROOT / "policy" / "PulumiPolicy.yaml").read_text(encoding="utf-8"))
    assert project["runtime"]["name"] == "python"
    assert (ROOT / "policy" / project["runtime"]["options"]["virtualenv"]).resolve() == ROOT / ".venv"
    assert re.fullmatch(r"\d+\.\d+\.\d+", project["version"])
    assert "-r ../requirements.txt" in (ROOT / "policy" / "requirements.txt").read_text(encoding="utf-8")
    assert re.search(r"^pulumi-policy==\d+\.\d+\.\d+$", (ROOT / "requirements.txt").read_text(), re.M)


def test_the_readmes_name_every_policy_and_the_commands() -> None:
    pack_readme = (ROOT / "policy" / "README.md").read_text(encoding="utf-8")
    documented = re.findall(r"^\| `(stars-[a-z0-9-]+)` \| (mandatory|advisory) \|", pack_readme, flags=re.M)
    assert documented == [(p.name, p.enforcement_level.value) for p in policies()]  # type: ignore[union-attr]  # each sets one
    for command in ("pulumi policy publish", "python -m policy.bundle", "--policy-pack policy"):
        assert command in pack_readme
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    rows = [line for line in readme.splitlines() if line.startswith("| policy pack (CrossGuard) |")]
    assert len(rows) == 1 and "--policy-pack policy" in rows[0] and "pulumi policy publish" in rows[0]
    assert "pulumi preview --stack phase1 --policy-pack policy" in readme
