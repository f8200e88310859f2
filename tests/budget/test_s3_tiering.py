"""S3 Intelligent-Tiering against Standard: priced from the stated cold share, chosen by fit.

Hand arithmetic, af-south-1 catalog: Standard USD 0.0274 per GB-month; Intelligent-Tiering Frequent Access
0.0274, Infrequent Access 0.0149, monitoring 0.003 per 1,000 objects. Phase 1 stores 500 GB in 500,000
objects. With nothing cold, tiering adds only its fee: 500 x 0.0274 + 500 x 0.003 = 13.70 + 1.50 = 15.20
against Standard's 13.70. With half of it cold: 250 x 0.0274 + 250 x 0.0149 + 1.50 = 6.85 + 3.725 + 1.50 =
12.075, below 13.70. It pays from a cold share of 1.50 / (500 x (0.0274 - 0.0149)) = 0.24.
"""

from __future__ import annotations

import pytest

from budget.capacity import load_model
from budget.catalog import Catalog, load_catalog
from budget.fit.space import Space
from components.config import StackConfig, load_stack_file
from tests.budget.budget_helpers import ROOT, line_named, price, res, stack_cfg


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog()


def _phase1(**usage: float) -> StackConfig:
    cfg = load_stack_file(ROOT / "Pulumi.phase1.yaml")
    return cfg.model_copy(update={"usage": cfg.usage.model_copy(update=usage)})


def test_the_cold_share_is_billed_at_infrequent_access(catalog: Catalog) -> None:
    cfg = stack_cfg("phase1", s3_infrequent_share=0.5)
    priced = price(res("aws:s3/bucket:Bucket", "cdn-bucket"), cfg, catalog)
    assert line_named(priced, "Storage (Intelligent-Tiering, Frequent").monthly() == pytest.approx(6.85)
    assert line_named(priced, "Storage (Intelligent-Tiering, Infrequent").monthly() == pytest.approx(3.725)
    assert line_named(priced, "Intelligent-Tiering monitoring").monthly() == pytest.approx(1.50)


def test_with_nothing_cold_the_storage_is_all_frequent_access(catalog: Catalog) -> None:
    priced = price(res("aws:s3/bucket:Bucket", "cdn-bucket"), stack_cfg("phase1"), catalog)
    storage = [item for item in priced.lines if item.name.startswith("Storage")]
    assert [item.name for item in storage] == [
        "Storage (Intelligent-Tiering, Frequent Access; no tier moves assumed)"
    ]
    assert storage[0].monthly() == pytest.approx(13.70)


@pytest.mark.parametrize(("cold", "tiering"), [(0.0, False), (0.23, False), (0.25, True), (0.5, True)])
def test_fit_takes_tiering_only_when_the_cold_share_pays_its_fee(
    catalog: Catalog, cold: float, tiering: bool
) -> None:
    space = Space(_phase1(s3_infrequent_share=cold), catalog, load_model(catalog))
    assert space.tiering_pays() is tiering


def test_a_cold_share_outside_zero_to_one_is_refused() -> None:
    for bad in (-0.1, 1.5):
        with pytest.raises(ValueError, match="s3_infrequent_share"):
            cfg = load_stack_file(ROOT / "Pulumi.phase1.yaml")
            StackConfig.model_validate(
                {**cfg.model_dump(), "usage": {**cfg.usage.model_dump(), "s3_infrequent_share": bad}}
            )
