"""The mocked run itself: it completes, records every tier and can be repeated in one process."""

from __future__ import annotations

import asyncio
import threading

import pulumi
import pytest
from pulumi.runtime.mocks import MockCallArgs
from pulumi.runtime.settings import SETTINGS
from pulumi.runtime.stack import run_pulumi_func

from components.config import StackConfig
from components.planning.mocks import Plan, RecordingMocks, plan_resources
from components.stack import tiers_of
from tests.infra.conftest import planned, stack_config


def test_every_tier_is_registered(stack_plan: Plan, cfg: StackConfig) -> None:
    tiers = {r.tier for r in stack_plan.resources}
    assert tiers == set(tiers_of(cfg)) and {"api", "realtime"} <= tiers
    components = {r.name for r in stack_plan.resources if not r.custom}
    assert components == set(tiers_of(cfg))


def test_records_carry_urn_and_tier(stack_plan: Plan, cfg: StackConfig) -> None:
    for r in stack_plan.resources:
        assert r.urn == f"urn:pulumi:{cfg.stack}::stars::{r.type}::{r.name}"
        assert r.tier == r.name.split("-")[0]
        assert r.id


def test_repeated_runs_give_the_same_plan(stack_plan: Plan, cfg: StackConfig) -> None:
    again = plan_resources(cfg)
    assert [(r.type, r.name, r.inputs) for r in again] == [
        (r.type, r.name, r.inputs) for r in stack_plan.resources
    ]


def test_a_failing_program_raises_and_the_next_run_works(monkeypatch: pytest.MonkeyPatch) -> None:
    import components.stack

    cfg = stack_config("phase1")

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("tier exploded")

    with monkeypatch.context() as m:
        m.setattr(components.stack, "Cache", broken)
        with pytest.raises(RuntimeError, match="tier exploded"):
            plan_resources(cfg)
    assert len(plan_resources(cfg)) == len(planned("phase1").resources)


def test_unknown_invokes_are_refused() -> None:
    mocks = RecordingMocks(stack="phase1", region="af-south-1")
    with pytest.raises(NotImplementedError, match="aws:ec2/getVpc:getVpc"):
        mocks.call(MockCallArgs(token="aws:ec2/getVpc:getVpc", args={}, provider=""))


def test_a_caller_inside_pulumi_keeps_its_settings() -> None:
    """The budget guard plans from inside a running Pulumi program: the caller's runtime must not change."""
    seen: dict[str, object] = {}

    def caller() -> None:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        pulumi.runtime.set_mocks(
            RecordingMocks(stack="outer", region="eu-west-1"), project="outer", stack="outer"
        )
        seen["records"] = len(plan_resources(stack_config("phase2")))
        seen["stack"], seen["project"] = pulumi.get_stack(), pulumi.get_project()
        seen["foreign_tasks"] = [t for t in SETTINGS.outputs if t.get_loop() is not loop]
        loop.run_until_complete(run_pulumi_func(lambda: None))  # the outer program still finishes
        loop.close()

    worker = threading.Thread(target=caller)
    worker.start()
    worker.join()
    assert seen == {
        "records": len(planned("phase2").resources),
        "stack": "outer",
        "project": "outer",
        "foreign_tasks": [],
    }


def test_stacks_can_be_planned_at_the_same_time() -> None:
    counts: dict[str, int] = {}

    def run(phase: str) -> None:
        counts[phase] = len(plan_resources(stack_config(phase)))

    workers = [threading.Thread(target=run, args=(p,)) for p in ("phase1", "phase2", "phase3")]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    assert counts == {p: len(planned(p).resources) for p in ("phase1", "phase2", "phase3")}


def test_planning_skips_the_sdks_stack_capture_and_other_threads_keep_it(
    cfg: StackConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A mocked run never asks the SDK for the registering stack (nothing under mocks reads it); a
    resource registered outside a planning thread (the program the budget guard runs beside) still does."""
    from pulumi.runtime import resource as pulumi_resource

    from components.planning import mocks

    plan_resources(cfg)  # wraps the SDK's capture, once per process
    assert pulumi_resource._get_stack_trace is mocks._stack_trace
    captured: list[str] = []

    def counting() -> object:
        captured.append(threading.current_thread().name)
        return mocks._NO_STACK

    monkeypatch.setattr(mocks, "_sdk_stack_trace", counting)
    records = plan_resources(cfg)
    assert len(records) > 50 and captured == []
    pulumi_resource._get_stack_trace()  # this thread is not planning: the SDK's own capture runs
    assert captured == [threading.current_thread().name]
