"""Aurora Serverless v2's floor: priced from the catalog by hand-checkable arithmetic, and it says the
verdict could change exactly when the cheapest plan with the floor in place of its database fits."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from budget.catalog import Catalog, load_catalog
from budget.fit.aurora import ACU_KEY, STORAGE_KEY, AuroraFloor, aurora_floor
from budget.fit.report import AuroraReport

REGION = "af-south-1"


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    """The real catalog with round Aurora prices (USD 0.20 per ACU-hour, USD 0.10 per GB-month)."""
    real = load_catalog()
    regional = dict(real.regions[REGION])
    regional[ACU_KEY] = replace(regional[ACU_KEY], amount=0.20, source="hand-made for a test")
    regional[STORAGE_KEY] = replace(regional[STORAGE_KEY], amount=0.10, source="hand-made for a test")
    return replace(real, regions={**real.regions, REGION: regional})


def _floor(catalog: Catalog, **overrides: Any) -> AuroraFloor | None:
    args: dict[str, Any] = {
        "catalog": catalog,
        "region": REGION,
        "usd_to_tzs": 2500.0,
        "limit_tzs": 400_000,
        "multi_az": False,
        "storage_gb": 100,
        "best_total_tzs": 500_000,
        "database_tzs": 200_000,
        "zero_traffic_tzs": 300_000,
        "zero_traffic_database_tzs": 200_000,
    }
    args.update(overrides)
    return aurora_floor(**args)


def test_floor_is_half_an_acu_per_instance_plus_storage(catalog: Catalog) -> None:
    # one instance: 0.5 ACU x 0.20 x 730 h = 73.00; 100 GB x 0.10 = 10.00; USD 83.00 = TZS 207,500
    single = _floor(catalog)
    assert single is not None
    assert single.floor_tzs == 207_500
    assert single.best_with_floor_tzs == 500_000 - 200_000 + 207_500
    assert single.zero_traffic_with_floor_tzs == 300_000 - 200_000 + 207_500
    assert not single.cheaper_than_database
    # surviving an AZ's loss takes a second instance in another AZ; storage is billed once
    multi = _floor(catalog, multi_az=True)
    assert multi is not None
    assert multi.instances == 2
    assert multi.floor_tzs == round((2 * 73.0 + 10.0) * 2500)


def test_verdict_changes_only_when_the_floor_brings_the_plan_within_the_limit(catalog: Catalog) -> None:
    over = _floor(catalog)
    assert over is not None and not over.would_fit
    assert "no Aurora configuration changes the verdict" in over.why()
    # a database costing more than the floor plus the excess over the limit: the floor would fit
    within = _floor(catalog, database_tzs=320_000)
    assert within is not None
    assert within.best_with_floor_tzs == 387_500 <= within.limit_tzs
    assert within.would_fit and within.cheaper_than_database
    assert "worth building" in within.why()
    doc = AuroraReport.of(within).to_json()
    assert doc["would_fit"] is True and doc["deployable"] is False and doc["why"] == within.why()
    assert all("hand-made for a test" in source for source in doc["sources"])
    # exactly at the limit fits (the check passes at the limit, as everywhere)
    edge = _floor(catalog, database_tzs=307_500)
    assert edge is not None and edge.best_with_floor_tzs == 400_000 and edge.would_fit


def test_no_price_no_claim(catalog: Catalog) -> None:
    regional = {k: v for k, v in catalog.regions[REGION].items() if k != ACU_KEY}
    without = replace(catalog, regions={**catalog.regions, REGION: regional})
    assert _floor(without) is None
