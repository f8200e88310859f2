"""Inputs: the catalog file, the preview JSON document, and fail-closed pricing of whatever is planned."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from budget.catalog import CatalogError, parse_catalog
from budget.estimator import estimate
from budget.preview import PreviewError, parse_preview, read_preview
from budget.rules import FREE, RULES
from budget.verdict import judge, status_for
from components.config import (
    CACHE_NODE_TYPES,
    EC2_INSTANCE_TYPES,
    RDS_INSTANCE_CLASSES,
    SUPPORTED_REGIONS,
    UNAVAILABLE_IN_REGION,
)
from tests.budget.budget_helpers import res, stack_cfg

DATA = Path(__file__).with_name("data")


@pytest.mark.parametrize(
    ("region", "key", "usd", "status"),
    [
        # transcribed exactly from the price reference
        ("us-east-1", "ec2.instance.t3.medium", 0.0416, "CONFIRMED"),
        ("af-south-1", "ec2.instance.t3.medium", 0.0542, "CONFIRMED-3P"),
        ("af-south-1", "ec2.instance.t3.large", 0.1084, "DERIVED"),
        ("af-south-1", "ec2.instance.t4g.medium", 0.043, "ESTIMATE"),
        ("eu-west-1", "ec2.instance.t3.large", 0.0912, "CONFIRMED-3P"),
        ("us-east-1", "rds.postgres.db.t3.medium.multi_az", 0.144, "DERIVED"),
        ("af-south-1", "transfer.internet.first_10tb", 0.154, "CONFIRMED"),
        ("af-south-1", "transfer.internet.over_150tb", 0.112, "CONFIRMED"),
        ("af-south-1", "elb.alb.lcu_hour", 0.0102, "ESTIMATE"),
        ("eu-west-1", "nat.hour", 0.048, "RECALLED"),
        ("af-south-1", "s3.standard", 0.0274, "RECALLED"),
        (
            "us-east-1",
            "cloudfront.transfer.south_africa_kenya_nigeria_middle_east.first_10tb",
            0.110,
            "CONFIRMED",
        ),
        ("us-east-1", "vpc.public_ipv4", 0.005, "CONFIRMED"),
        # the types added for lean configurations
        ("us-east-1", "ec2.instance.t4g.small", 0.0168, "CONFIRMED"),
        ("us-east-1", "ec2.instance.m7g.large", 0.0816, "CONFIRMED"),
        ("us-east-1", "ec2.instance.m6g.large", 0.077, "CONFIRMED"),
        ("us-east-1", "ec2.instance.t4g.xlarge", 0.1344, "CONFIRMED-3P"),
        ("eu-west-1", "ec2.instance.t3.micro", 0.0114, "CONFIRMED-3P"),
        ("eu-west-1", "ec2.instance.t4g.small", 0.0184, "CONFIRMED-3P"),
        ("eu-west-1", "ec2.instance.m6g.large", 0.086, "CONFIRMED-3P"),
        ("af-south-1", "ec2.instance.t3.micro", 0.0136, "CONFIRMED-3P"),
        ("af-south-1", "ec2.instance.t4g.small", 0.02184, "ESTIMATE"),  # 0.0168 x 1.30
        ("af-south-1", "ec2.instance.m7g.large", 0.10608, "ESTIMATE"),  # 0.0816 x 1.30
        ("af-south-1", "ec2.spot_discount.m7g", 0.88, "CONFIRMED-3P"),
        ("us-east-1", "ec2.spot_discount.m7g", 0.64, "CONFIRMED-3P"),
        ("us-east-1", "rds.postgres.db.t4g.micro.single_az", 0.016, "CONFIRMED-3P"),
        ("us-east-1", "rds.postgres.db.t4g.small.multi_az", 0.064, "CONFIRMED-3P"),
        ("af-south-1", "rds.postgres.db.t4g.micro.single_az", 0.0208, "ESTIMATE"),  # 0.016 x 1.30
        ("us-east-1", "elasticache.redis.cache.t4g.micro", 0.016, "CONFIRMED-3P"),
        ("eu-west-1", "elasticache.redis.cache.t4g.micro", 0.017, "CONFIRMED-3P"),
        ("af-south-1", "elasticache.redis.cache.t3.micro", 0.021, "CONFIRMED-3P"),
        ("af-south-1", "ec2.memory_gib.t4g.small", 2, "RECALLED"),
        ("af-south-1", "ec2.burst.t4g.micro.baseline", 0.10, "RECALLED"),
    ],
)
def test_catalog_transcriptions(catalog, region, key, usd, status):
    entry = catalog.get(region, key)
    assert (entry.amount, entry.status) == (usd, status)
    assert entry.confirmed == (status in ("CONFIRMED", "CONFIRMED-3P", "DERIVED"))
    assert entry.source and entry.source_date


def test_catalog_prices_every_type_the_config_allows_in_every_region_that_offers_it(catalog):
    for region in SUPPORTED_REGIONS:
        allowed = (*EC2_INSTANCE_TYPES, *RDS_INSTANCE_CLASSES, *CACHE_NODE_TYPES)
        offered = [t for t in allowed if t not in UNAVAILABLE_IN_REGION.get(region, {})]
        for itype in (t for t in offered if t in EC2_INSTANCE_TYPES):
            family = itype.split(".")[0]
            catalog.get(region, f"ec2.instance.{itype}")
            catalog.get(region, f"ec2.spot_discount.{family}")
            # what the capacity model and the CPU-credit line read
            assert catalog.get(region, f"ec2.vcpus.{itype}").amount >= 2
            assert catalog.get(region, f"ec2.memory_gib.{itype}").amount >= 1
            if family in ("t3", "t4g"):
                assert 0 < catalog.get(region, f"ec2.burst.{itype}.baseline").amount < 1
                catalog.get(region, f"ec2.cpu_credit.{family}")
        for klass in (t for t in offered if t in RDS_INSTANCE_CLASSES):
            for az in ("single_az", "multi_az"):
                catalog.get(region, f"rds.postgres.{klass}.{az}")
        for node in (t for t in offered if t in CACHE_NODE_TYPES):
            catalog.get(region, f"elasticache.redis.{node}")


def test_unavailable_types_name_real_regions_and_allowed_types():
    allowed = {*EC2_INSTANCE_TYPES, *RDS_INSTANCE_CLASSES, *CACHE_NODE_TYPES}
    for region, types in UNAVAILABLE_IN_REGION.items():
        assert region in SUPPORTED_REGIONS
        for name, reason in types.items():
            assert name in allowed and "(" in reason, name  # every entry says where the fact comes from


@pytest.mark.parametrize("region", SUPPORTED_REGIONS)
def test_catalog_ratios_within_a_family_hold_for_the_new_sizes(catalog, region):
    """Sizes derived by a stated rule keep it: x2 per size step, Multi-AZ = 2 x Single-AZ."""

    def get(key: str) -> float:
        return catalog.get(region, key).amount

    for small, large in (("t3.large", "t3.xlarge"), ("t4g.large", "t4g.xlarge"), ("c6g.large", "c6g.xlarge")):
        assert get(f"ec2.instance.{large}") == pytest.approx(2 * get(f"ec2.instance.{small}"), rel=0.01)
    assert get("ec2.instance.m7g.xlarge") == pytest.approx(2 * get("ec2.instance.m7g.large"))
    for klass in ("db.t3.micro", "db.t3.small", "db.t4g.micro", "db.t4g.small"):
        single, multi = (get(f"rds.postgres.{klass}.{az}") for az in ("single_az", "multi_az"))
        assert multi == pytest.approx(2 * single), klass


def test_every_estimate_says_how_it_was_derived(catalog):
    for entry in catalog.all_prices():
        if entry.status == "ESTIMATE":
            assert len(entry.source) > 20, entry.key


def test_broken_catalog_is_rejected():
    with pytest.raises(CatalogError, match="status 'GUESS'"):
        parse_catalog(
            {
                "regions": {
                    "us-east-1": {
                        "x": {"usd": 1, "unit": "h", "source": "s", "source_date": "-", "status": "GUESS"}
                    }
                }
            }
        )
    with pytest.raises(CatalogError, match="exactly one of 'usd' or 'value'"):
        parse_catalog(
            {
                "regions": {
                    "us-east-1": {"x": {"unit": "h", "source": "s", "source_date": "-", "status": "ESTIMATE"}}
                }
            }
        )


def test_rules_and_free_list_do_not_overlap():
    assert not set(RULES) & set(FREE)
    assert all(reason for reason in FREE.values())


def test_unknown_type_fails_closed_and_is_named(catalog):
    cfg = stack_cfg()
    planned = [res("aws:ec2/dedicatedHost:Host", "stray"), res("aws:ec2/vpc:Vpc", "vpc")]
    est = estimate(planned, cfg, catalog)
    assert [u.type for u in est.unpriced] == ["aws:ec2/dedicatedHost:Host"]
    assert "no pricing rule" in est.unpriced[0].reason
    assert judge(est).exit_code == 2


def test_unpriced_is_not_overridable(catalog):
    cfg = stack_cfg()
    override = cfg.budget.model_copy(update={"override": {"reason": "launch month", "approved_by": "cfo"}})
    cfg = cfg.model_copy(update={"budget": override})
    est = estimate([res("aws:ec2/dedicatedHost:Host", "stray")], cfg, catalog)
    assert judge(est).exit_code == 2


def test_free_types_and_components_cost_nothing(catalog):
    est = estimate(
        [res("aws:iam/role:Role", "role"), res("stars:index:Edge", "edge", custom=False)],
        stack_cfg(),
        catalog,
    )
    assert not est.unpriced and est.total() == 0
    assert all(p.free_reason for p in est.priced)


def test_missing_required_input_is_unpriced(catalog):
    est = estimate([res("aws:rds/instance:Instance", "db", {"engine": "postgres"})], stack_cfg(), catalog)
    assert "instanceClass" in est.unpriced[0].reason


def test_status_levels():
    assert status_for(400_001, 400_000, 300_000) == "over"
    assert status_for(400_000, 400_000, 300_000) == "warn"
    assert status_for(300_000, 400_000, 300_000) == "ok"


def test_preview_document_is_priced_with_the_same_rules(catalog):
    planned = read_preview(DATA / "preview_phase1.json")
    types = [p.type for p in planned]
    assert "aws:ec2/instance:Instance" not in types  # the delete step is not part of the result
    group = next(p for p in planned if p.type == "aws:autoscaling/group:Group")
    assert group.tier == "api"  # from the group's list of tags
    # the usage the arithmetic is written for (a domain on the load balancer, the plan-era split)
    usage: dict[str, Any] = {
        "internet_egress_gb": 600,
        "alb_active_connections": 10_000,
        "alb_new_connections_per_second": 5,
    }
    usage |= {"alb_processed_gb_per_hour": 0.82, "alb_rule_evaluations_per_second": 100}
    est = estimate(planned, stack_cfg("phase1", **usage), catalog)
    assert not est.unpriced
    # group 4 x 730 x 0.0542 = 158.264 + root 4 x 20 x 0.105 = 8.40 (template found via propertyDependencies)
    # ALB 21.17 + LCU 3.3333 x 730 x 0.0102 = 24.82 + IPv4 7.30 + egress (600 - 100) x 0.154 = 77.00
    # RDS 68.328 + 100 x 0.1495 + (150 - 100) x 0.1235 + secret 0.52 + API 5,000/10,000 x 0.065
    #     + cross-AZ 200 x 2 x 0.01
    expected = (
        158.264 + 8.40 + (21.17 + 24.82 + 7.30 + 77.00) + (68.328 + 14.95 + 6.175 + 0.52 + 0.0325 + 4.00)
    )
    assert est.total("max") == pytest.approx(expected, abs=0.01)


def _step(name: str, type_: str, parent: str | None, custom: bool = True, **inputs: object) -> dict:
    urn = f"urn:pulumi:s::stars::{type_}::{name}"
    state = {"urn": urn, "type": type_, "custom": custom, "parent": parent, "inputs": inputs}
    return {"op": "create", "urn": urn, "newState": state}


def test_preview_tiers_follow_parents_in_any_order():
    """Children listed before their parents; an untaggable child of an untagged component takes the
    component's name (as budget check attributes it under mocks); a tag always wins."""
    stack = "urn:pulumi:s::stars::pulumi:pulumi:Stack::stars-s"
    cdn = "urn:pulumi:s::stars::stars:index:Cdn::cdn"
    inner = "urn:pulumi:s::stars::stars:index:Part::part"
    steps = [
        _step("cdn-plan", "aws:pricingplanmanager/subscription:Subscription", cdn),
        _step("deep", "aws:sns/topic:Topic", inner),
        _step("tagged", "aws:sns/topic:Topic", cdn, tags={"tier": "monitoring"}),
        _step("loose", "aws:sns/topic:Topic", stack),
        _step("orphan", "aws:sns/topic:Topic", "urn:pulumi:s::stars::stars:index:Gone::gone"),
        _step("part", "stars:index:Part", cdn, custom=False),
        _step("cdn", "stars:index:Cdn", stack, custom=False),
        _step("stars-s", "pulumi:pulumi:Stack", None, custom=False),
    ]
    tiers = {p.name: p.tier for p in parse_preview({"steps": steps})}
    assert tiers == {
        "cdn-plan": "cdn",
        "deep": "cdn",  # a nested component inherits its parent's tier
        "tagged": "monitoring",
        "loose": "untiered",  # the stack is no tier
        "orphan": "untiered",
        "part": "cdn",
        "cdn": "cdn",
        "stars-s": "untiered",
    }
    cycle = [_step("a", "stars:index:A", "urn:pulumi:s::stars::stars:index:B::b", custom=False)]
    cycle.append(_step("b", "stars:index:B", cycle[0]["urn"], custom=False))
    # a parent cycle ends where it closes: b (reached last) lends its name, and a inherits it
    assert {p.name: p.tier for p in parse_preview({"steps": cycle})} == {"a": "b", "b": "b"}


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ([], "expected an object with 'steps'"),
        ({"steps": [{"nop": 1}]}, "not a step object"),
        ({"steps": [{"op": "create"}]}, "has no 'newState'"),
        ({"steps": [{"op": "create", "newState": {"urn": "u"}}]}, "needs 'urn' and 'type'"),
    ],
)
def test_malformed_preview_documents(document, message):
    with pytest.raises(PreviewError, match=message):
        parse_preview(document)


def test_preview_file_not_json(tmp_path):
    bad = tmp_path / "preview.json"
    bad.write_text("{not json", encoding="utf-8")
    with pytest.raises(PreviewError, match="not valid JSON"):
        read_preview(bad)
    assert json.loads((DATA / "preview_phase1.json").read_text())["steps"]
