"""The guard in the program: it refuses before any resource is registered; an override needs a reason."""

from __future__ import annotations

import asyncio
import json
import re
import runpy
import subprocess
import threading
from pathlib import Path
from typing import Any

import pulumi
import pytest
import yaml
from pulumi.runtime.stack import run_pulumi_func

from budget.guard import TIMEOUT_SECONDS, BudgetRefused, enforce_budget
from components.config import BudgetOverride
from components.planning.mocks import RecordingMocks
from tests.budget.budget_helpers import ROOT, stack_cfg


def _config(phase: str = "phase1", **budget: Any) -> dict[str, str]:
    """The stack file's config as the engine hands it to the program (strings; objects as JSON)."""
    document = yaml.safe_load((ROOT / f"Pulumi.{phase}.yaml").read_text(encoding="utf-8"))
    config = document["config"]
    config["stars:budget"].update(budget)
    return {
        key: value if isinstance(value, str) else json.dumps(value, default=str)
        for key, value in config.items()
    }


def _run_program(
    config: dict[str, str], stack: str = "phase1", exports: dict[str, Any] | None = None
) -> tuple[list[Any], BaseException | None]:
    """Run ``__main__.py`` under recording mocks (own thread and loop); return the records and any error."""
    result: dict[str, Any] = {}

    def body() -> None:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        mocks = RecordingMocks(stack=stack, region="af-south-1")
        try:
            pulumi.runtime.set_mocks(mocks, project="stars", stack=stack, preview=False)
            pulumi.runtime.set_all_config(config)

            def program() -> None:
                real_export = pulumi.export

                def export(name: str, value: Any) -> None:
                    if exports is not None:
                        exports[name] = value
                    real_export(name, value)

                pulumi.export = export
                try:
                    runpy.run_path(str(ROOT / "__main__.py"), run_name="__main__")
                finally:
                    pulumi.export = real_export

            loop.run_until_complete(run_pulumi_func(program))
        except BaseException as exc:
            result["error"] = exc
        finally:
            result["records"] = list(mocks.records)
            loop.close()

    worker = threading.Thread(target=body)
    worker.start()
    worker.join()
    return result["records"], result.get("error")


def test_over_budget_stack_registers_nothing():
    records, error = _run_program(_config("phase1"))  # phase 1 as configured is over its limit
    assert isinstance(error, BudgetRefused)
    assert "over budget" in str(error) and "OVER BUDGET" in str(error)
    assert records == []


def test_override_with_reason_lets_the_program_run():
    exports: dict[str, Any] = {}
    records, error = _run_program(
        _config("phase1", override={"reason": "launch month traffic accepted", "approved_by": "cfo"}),
        exports=exports,
    )
    assert error is None
    assert any(r.type == "aws:autoscaling/group:Group" for r in records)
    assert exports["budget_override_reason"] == "launch month traffic accepted"
    assert exports["budget_status"] == "over" and exports["budget_monthly_tzs_max"] > 400_000


def test_override_without_reason_is_rejected_before_anything():
    records, error = _run_program(_config("phase1", override={"reason": "", "approved_by": "cfo"}))
    assert error is not None and "stars:budget.override.reason" in str(error)
    assert records == []


def _fake(code: int, doc: dict[str, Any] | None = None) -> Any:
    def run(cmd: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
        assert cmd[1:4] == ["-m", "budget", "check"] and "--config-json" in cmd
        assert json.loads(kwargs["input"])["stack"] == "phase1"  # the exact config, on stdin
        if doc is not None:
            Path(cmd[cmd.index("--json-out") + 1]).write_text(json.dumps(doc), encoding="utf-8")
        return subprocess.CompletedProcess(cmd, code, stdout="REPORT", stderr="")

    return run


def test_a_check_that_does_not_finish_is_refused_in_one_message() -> None:
    """The guard's time bound: a hung check is killed and the update refused with the bound named, not
    ended by a traceback (subprocess.run raises TimeoutExpired after killing the child)."""
    seen: dict[str, Any] = {}

    def hangs(cmd: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
        seen.update(kwargs)
        raise subprocess.TimeoutExpired(cmd, kwargs["timeout"])

    with pytest.raises(BudgetRefused) as refused:
        enforce_budget(stack_cfg(), run=hangs)
    assert seen["timeout"] == TIMEOUT_SECONDS == 300
    assert str(refused.value).splitlines() == [
        "budget check for stack phase1 did not finish within 300 s and was stopped: the update is refused"
        " (a check that cannot finish never passes); nothing was changed."
    ]


def test_unpriced_is_refused_even_with_an_override():
    cfg = stack_cfg()
    cfg = cfg.model_copy(
        update={
            "budget": cfg.budget.model_copy(
                update={"override": BudgetOverride(reason="accepted for a test", approved_by="x")}
            )
        }
    )
    with pytest.raises(BudgetRefused, match="never overridable"):
        enforce_budget(cfg, run=_fake(2))


def test_guard_returns_the_override_reason_for_export():
    cfg = stack_cfg()
    override = cfg.budget.model_copy(
        update={"override": BudgetOverride(reason="launch month ok", approved_by="cfo")}
    )
    cfg = cfg.model_copy(update={"budget": override})
    doc = {  # the fields the guard reads, in the check's JSON shape for one stack
        "stack": "phase1",
        "status": "over",
        "overridden": True,
        "total_tzs": 2_000_000,
        "total_usd": 800.0,
        "usd_to_tzs": 2500.0,
        "limit_tzs": 400_000,
        "resources": [],
    }
    result = enforce_budget(cfg, run=_fake(0, doc))
    assert result.override_reason == "launch month ok" and result.total_tzs == 2_000_000


def test_guard_refuses_over_budget():
    with pytest.raises(BudgetRefused, match="over budget"):
        enforce_budget(stack_cfg(), run=_fake(1))


def test_precommit_hook_runs_the_real_command():
    config = yaml.safe_load((ROOT / ".pre-commit-config.yaml").read_text(encoding="utf-8"))
    hooks = {hook["id"]: hook for repo in config["repos"] for hook in repo["hooks"]}
    hook = hooks["budget-check"]
    assert "-m budget check --all" in hook["entry"] and hook["pass_filenames"] is False
    pattern = re.compile(hook["files"])
    for path in (
        "Pulumi.phase1.yaml",
        "Pulumi.yaml",
        "components/stack.py",
        "budget/rules/eip.py",
        "__main__.py",
    ):
        assert pattern.search(path), path
    assert not pattern.search("runtime/hub.py")
    assert (ROOT / hook["entry"].split()[0]).name == "python"
