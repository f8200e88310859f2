"""Spot discounts by size: the Spot Advisor gives a figure per instance type and region, and sizes of
one family differ (af-south-1: t4g.small 66%, t4g.medium 54%), so a size's own figure is used where the
catalog has one and its family's otherwise (the independent fit review's F7)."""

from __future__ import annotations

import pytest

from budget.catalog import Catalog


@pytest.mark.parametrize(
    ("region", "instance_type", "discount", "key"),
    [
        ("af-south-1", "t4g.small", 0.66, "ec2.spot_discount.t4g.small"),
        ("af-south-1", "t4g.medium", 0.54, "ec2.spot_discount.t4g.medium"),
        ("af-south-1", "c6g.large", 0.72, "ec2.spot_discount.c6g.large"),
        ("us-east-1", "t3.medium", 0.56, "ec2.spot_discount.t3.medium"),
        # no figure for the size: the family's (an ESTIMATE in the catalog, named so in every report)
        ("af-south-1", "t4g.micro", 0.70, "ec2.spot_discount.t4g"),
        ("af-south-1", "c6g.xlarge", 0.50, "ec2.spot_discount.c6g"),
    ],
)
def test_a_sizes_own_figure_before_its_familys(
    catalog: Catalog, region: str, instance_type: str, discount: float, key: str
) -> None:
    found = catalog.spot_discount(region, instance_type)
    assert found.amount == discount and found is catalog.get(region, key)


def test_every_size_figure_names_the_spot_advisor_and_its_date(catalog: Catalog) -> None:
    sized = [
        (region, key, price)
        for region, prices in catalog.regions.items()
        for key, price in prices.items()
        if key.startswith("ec2.spot_discount.") and key.count(".") == 3
    ]
    assert len(sized) == 18
    for region, key, price in sized:
        assert price.source_date == "2025-06-28" and "Spot Instance Advisor" in price.source
        assert f"{region} {key.removeprefix('ec2.spot_discount.')} " in price.source
