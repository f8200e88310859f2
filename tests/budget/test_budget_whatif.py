"""What-ifs: the same rules on modified inputs, never invented numbers."""

from __future__ import annotations

import pytest

from budget.whatif import all_spot, graviton, what_ifs
from tests.budget.budget_helpers import line_named, price, res, stack_cfg

UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"


def _plan() -> list:
    template = res(
        "aws:ec2/launchTemplate:LaunchTemplate",
        "api-lt",
        {
            "instanceType": "t3.medium",
            "blockDeviceMappings": [{"ebs": {"volumeSize": 20, "volumeType": "gp3"}}],
        },
        id_="lt-1",
    )
    group = res(
        "aws:autoscaling/group:Group",
        "api-asg",
        {"minSize": 2, "maxSize": 2, "launchTemplate": {"id": UNKNOWN}},
        deps={"launchTemplate": [template.urn]},
    )
    db = res(
        "aws:rds/instance:Instance",
        "db",
        {"engine": "postgres", "instanceClass": "db.t3.medium", "allocatedStorage": 20},
    )
    cache = res("aws:elasticache/replicationGroup:ReplicationGroup", "redis", {"nodeType": "cache.t3.small"})
    return [template, group, db, cache]


def test_graviton_swaps_families_same_size():
    swapped = {r.name: r.inputs for r in graviton(_plan())}
    assert swapped["api-lt"]["instanceType"] == "t4g.medium"
    assert swapped["db"]["instanceClass"] == "db.t4g.medium"
    assert swapped["redis"]["nodeType"] == "cache.t4g.small"


def test_all_spot_keeps_the_template_link_and_prices_at_the_spot_discount(catalog):
    plan = all_spot(_plan())
    group = next(r for r in plan if r.name == "api-asg")
    assert (
        group.inputs["mixedInstancesPolicy"]["instancesDistribution"]["onDemandPercentageAboveBaseCapacity"]
        == 0
    )
    assert group.property_dependencies["mixedInstancesPolicy"] == [plan[0].urn]
    priced = price(group, stack_cfg(region="us-east-1"), catalog, [plan[0]])
    # 2 x 730 h x 0.0416 x (1 - 0.56: t3.medium's own figure) = 1,460 x 0.018304 = 26.72384; nothing on demand
    assert line_named(priced, "Instance usage (Linux, spot").monthly() == pytest.approx(26.72384)
    assert not [item for item in priced.lines if "on-demand" in item.name]


def test_what_if_scenarios_are_priced_by_the_same_rules(catalog):
    cfg = stack_cfg(region="us-east-1", rds_backup_storage_gb=0, cross_az_gb=0)
    results = {w.key: w.estimate for w in what_ifs(_plan(), cfg, catalog)}
    assert list(results) == ["spot", "reserved", "graviton", "combined"]
    assert all(not est.unpriced for est in results.values())
    graviton_db = next(p for p in results["graviton"].priced if p.resource.name == "db")
    assert line_named(graviton_db, "Database instance").monthly() == pytest.approx(47.45)  # 730 x 0.065
    assert results["combined"].total() < min(results[k].total() for k in ("spot", "reserved", "graviton"))
