"""CloudWatch Logs Infrequent Access: the stack file's ``stars:monitoring.log_class`` reaches the log groups,
check prices it by hand arithmetic, an unknown class fails closed, and fit picks the cheaper class."""

from __future__ import annotations

import pytest

from budget.capacity import load_model
from budget.catalog import Catalog, load_catalog
from budget.fit.space import Space
from components.config import StackConfig, load_stack_file
from components.planning.mocks import plan_resources
from tests.budget.budget_helpers import ROOT, price, res, unpriced

LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog()


def _phase3(log_class: str) -> StackConfig:
    data = load_stack_file(ROOT / "Pulumi.phase3.yaml").model_dump()
    data["monitoring"]["log_class"] = log_class
    return StackConfig.model_validate(data)


def test_the_log_groups_get_the_class() -> None:
    groups = [r for r in plan_resources(_phase3("infrequent_access")) if r.type == LOG_GROUP]
    assert groups and {g.inputs["logGroupClass"] for g in groups} == {"INFREQUENT_ACCESS"}
    with pytest.raises(ValueError, match="log_class"):
        _phase3("archive")


def test_infrequent_access_by_hand(catalog: Catalog) -> None:
    cfg = _phase3("infrequent_access")  # af-south-1: 120 GB ingested, 60 GB stored a month
    one = res(LOG_GROUP, "app-logs", {"logGroupClass": "INFREQUENT_ACCESS"})
    priced = price(one, cfg, catalog)
    # Standard af-south-1: USD 0.65 per GB ingested, 0.039 per GB-month stored (catalog ESTIMATE);
    # Infrequent Access: half the ingestion, storage x 0.05 / 0.03
    hand = 120 * 0.65 * 0.5 + 60 * 0.039 * 1.6667
    assert priced.monthly("max") == pytest.approx(hand, abs=0.005)
    standard = price(res(LOG_GROUP, "app-logs", {}), cfg, catalog)
    assert standard.monthly("max") == pytest.approx(120 * 0.65 + 60 * 0.039, abs=0.005)
    assert "no price" in unpriced(res(LOG_GROUP, "x", {"logGroupClass": "DELIVERY"}), cfg, catalog).reason


def test_fit_takes_the_cheaper_class(catalog: Catalog) -> None:
    cfg = load_stack_file(ROOT / "Pulumi.phase3.yaml")
    space = Space(cfg, catalog, load_model(catalog))
    # 120 x 0.65 x 0.5 + 60 x 0.039 x 1.6667 = 42.90 < 120 x 0.65 + 60 x 0.039 = 80.34
    assert space.log_class == "infrequent_access"
    stored_only = cfg.model_copy(
        update={"usage": cfg.usage.model_copy(update={"logs_ingested_gb": 0, "logs_stored_gb": 100})}
    )
    assert Space(stored_only, catalog, load_model(catalog)).log_class == "standard"
