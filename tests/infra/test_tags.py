"""Cost allocation tags on every taggable resource; the untaggable list is checked against the SDK."""

from __future__ import annotations

import importlib
import inspect

from components.planning.baseline import UNTAGGABLE_TYPES, Finding, tag_violations
from components.planning.mocks import Plan
from tests.infra.conftest import planned
from tests.infra.helpers import mutated


def _has_tags_input(token: str) -> bool:
    """Whether the SDK class behind a type token accepts ``tags`` (``aws:s3/bucket:Bucket`` -> s3.Bucket)."""
    package, module_path, cls_name = token.split(":")
    module = module_path.split("/")[0]
    root = {"aws": "pulumi_aws", "random": "pulumi_random"}[package]
    mod = importlib.import_module(root if module == "index" else f"{root}.{module}")
    return "tags" in inspect.signature(getattr(mod, cls_name)._internal_init).parameters


def test_every_taggable_resource_is_tagged(stack_plan: Plan, phase: str) -> None:
    assert tag_violations(stack_plan.resources) == []
    for r in stack_plan.resources:
        if r.custom and r.type not in UNTAGGABLE_TYPES and r.type != "aws:autoscaling/group:Group":
            assert r.inputs["tags"]["phase"] == phase
            assert r.inputs["tags"]["project"] == "stars"


def test_untaggable_list_matches_the_provider() -> None:
    used = {r.type for p in ("phase1", "phase2", "phase3") for r in planned(p).resources if r.custom}
    for token in sorted(used):
        assert _has_tags_input(token) is (token not in UNTAGGABLE_TYPES), token


def test_launch_template_tags_instances_and_volumes(stack_plan: Plan) -> None:
    lt = next(r for r in stack_plan.resources if r.name == "api-lt")
    kinds = {spec["resourceType"]: spec["tags"] for spec in lt.inputs["tagSpecifications"]}
    assert {"instance", "volume"} <= set(kinds)
    assert all(tags["tier"] == "api" for tags in kinds.values())


def test_a_missing_tag_is_reported() -> None:
    broken = mutated(
        planned("phase1").resources, "network-vpc", lambda r: r.inputs["tags"].pop("cost-center")
    )
    assert tag_violations(broken) == [
        Finding("cost-allocation-tags", "network-vpc", "missing tags ['cost-center'] (aws:ec2/vpc:Vpc)")
    ]
    wrong = mutated(planned("phase1").resources, "cache-redis", lambda r: r.inputs["tags"].update(tier="api"))
    assert tag_violations(wrong) == [
        Finding("cost-allocation-tags", "cache-redis", "tag tier='api' but the resource belongs to 'cache'")
    ]
