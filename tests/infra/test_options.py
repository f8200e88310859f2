"""The options a cheaper plan needs, on phase-like configs: each registers under mocks, matches the provider
schema and keeps the security baseline; each breakage of it is reported with its own message."""

from __future__ import annotations

from typing import Any

from components.config import StackConfig
from components.planning.baseline import violations
from components.planning.mocks import RecordedResource, plan_resources
from tests.infra.conftest import stack_config
from tests.infra.helpers import named
from tests.infra.schema import schema_errors
from tests.infra.test_phases import variant

RESERVED = {"commitment": "reserved_1yr"}


def sound(res: list[RecordedResource]) -> list[RecordedResource]:
    """The plan, after asserting the baseline holds and every input matches the provider schema."""
    assert violations(res) == []
    assert [f"{r.name}: {e}" for r in res if r.custom for e in schema_errors(r.type, r.inputs)] == []
    return res


def with_tiers(base: StackConfig, **tiers: dict[str, Any]) -> StackConfig:
    """``base`` with some keys of its server tiers (api, realtime, app) changed."""
    return variant(base, **{k: {**getattr(base, k).model_dump(), **v} for k, v in tiers.items()})


# ---------------------------------------------------------------------------------------- commitments


def test_commitments_are_tags_on_the_resources_they_price(phase: str) -> None:
    base = stack_config(phase)
    cfg = variant(with_tiers(base, api=RESERVED, realtime=RESERVED), database=RESERVED, cache=RESERVED)
    res = sound(plan_resources(cfg))
    for tier in ("api", "realtime"):
        tags = {t["key"]: t for t in named(res, f"{tier}-asg").inputs["tags"]}
        # on the group only: instances above the reserved minimum run on demand
        assert tags["purchase"] == {"key": "purchase", "value": "reserved-1yr", "propagateAtLaunch": False}
        lt_tags = named(res, f"{tier}-lt").inputs["tagSpecifications"][0]["tags"]
        assert "purchase" not in lt_tags
    databases = [r for r in res if r.type == "aws:rds/instance:Instance"]
    assert len(databases) == 1 + base.database.read_replica
    assert all(r.inputs["tags"]["purchase"] == "reserved-1yr" for r in databases)
    assert named(res, "cache-redis").inputs["tags"]["purchase"] == "reserved-1yr"
    assert "purchase" not in named(res, "cache-auth").inputs["tags"]  # only what the commitment covers


def test_no_commitment_adds_no_tag(phase: str) -> None:
    res = plan_resources(stack_config(phase))
    assert not any(
        "purchase" in (r.inputs.get("tags") or {}) for r in res if isinstance(r.inputs.get("tags"), dict)
    )
    assert not any(t["key"] == "purchase" for t in named(res, "api-asg").inputs["tags"])
