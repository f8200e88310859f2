"""Price refresh from the AWS Price List API (on recorded get_products responses, botocore's Stubber, no
network) and the catalog listing."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml
from botocore.stub import Stubber

from budget.catalog import DEFAULT_CATALOG, parse_catalog
from budget.catalog.refresh import fetch, query_for, refresh, render_refresh, rewrite_entries, show
from tests.budget_review.review_data import DATA

TODAY = dt.date(2026, 11, 27)


@pytest.fixture
def catalog(tmp_path: Path) -> Path:
    path = tmp_path / "prices.yaml"
    shutil.copy(DATA / "catalog_small.yaml", path)
    return path


@pytest.fixture
def pricing() -> Iterator[tuple[Any, Stubber]]:
    """A Price List client answering the recorded calls in order, and failing on any other call."""
    client = boto3.client(
        "pricing", region_name="us-east-1", aws_access_key_id="testing", aws_secret_access_key="testing"
    )
    recorded = json.loads((DATA / "pricing_af-south-1.json").read_text(encoding="utf-8"))["calls"]
    with Stubber(client) as stubber:
        for call in recorded:
            stubber.add_response("get_products", call["response"], call["request"])
        yield client, stubber
        stubber.assert_no_pending_responses()


def test_refresh_updates_what_it_can_pin_and_reports_the_rest(catalog: Path, pricing: Any) -> None:
    client, _ = pricing
    before = catalog.read_text(encoding="utf-8")
    result = refresh(client, catalog, "af-south-1", today=TODAY)
    assert result.written
    changed = {c.key: (c.old.amount, c.new_usd) for c in result.changes}
    assert changed == {
        "ec2.instance.t3.medium": (0.0542, 0.0542),
        "ec2.instance.t3.large": (0.1084, 0.1084),
        "ec2.instance.t4g.medium": (0.043, 0.0434),
        "elb.alb.hour": (0.029, 0.0294),
        "elb.alb.lcu_hour": (0.0102, 0.0104),
        "rds.postgres.db.t3.medium.single_az": (0.0936, 0.094),  # the Outposts product is not the region's
        "s3.standard": (0.0274, 0.0274),  # first 50 TB tier of three
        "s3.requests.put": (0.006, 0.006),  # per request in the API, per 1,000 in the catalog
    }
    skipped = dict(result.skipped)
    assert skipped["ec2.spot_discount.t3"].startswith("not a price")
    assert skipped["elasticache.redis.cache.t3.small"] == "no matching on-demand product"
    assert skipped["transfer.inter_az"] == "no Price List query for this key"

    after = parse_catalog(yaml.safe_load(catalog.read_text(encoding="utf-8")))
    t4g = after.get("af-south-1", "ec2.instance.t4g.medium")
    assert (t4g.amount, t4g.status, t4g.source_date, t4g.unit) == (0.0434, "CONFIRMED", "2026-11-27", "hour")
    assert t4g.source == "AWS Price List API, AmazonEC2 ZK2N3CQ8E6V9WQ7M, publication 2026-11-13"
    cache = after.get("af-south-1", "elasticache.redis.cache.t3.small")
    assert (cache.amount, cache.status) == (0.0442, "ESTIMATE")  # untouched
    assert after.get("us-east-1", "ec2.instance.t3.medium").amount == 0.0416  # other regions untouched
    # only the refreshed lines changed: comments, anchors and the other entries stay byte for byte
    old_lines, new_lines = before.splitlines(), catalog.read_text(encoding="utf-8").splitlines()
    assert len(old_lines) == len(new_lines)
    differ = {o.split(":")[0].strip() for o, n in zip(old_lines, new_lines, strict=True) if o != n}
    assert differ == set(changed)

    text = render_refresh(result)
    assert "ec2.instance.t4g.medium" in text and "+0.9%" in text and "ESTIMATE → CONFIRMED" in text
    assert "Left as they were:" in text and "no matching on-demand product" in text
    assert "written to the catalog" in text


def test_dry_run_reports_without_writing(catalog: Path, pricing: Any) -> None:
    client, _ = pricing
    before = catalog.read_text(encoding="utf-8")
    result = refresh(client, catalog, "af-south-1", today=TODAY, dry_run=True)
    assert not result.written and len(result.changes) == 8
    assert catalog.read_text(encoding="utf-8") == before
    assert "not written (dry run)" in render_refresh(result)


def test_every_catalog_price_is_either_queried_or_reported(tmp_path: Path) -> None:
    """The real catalog: the keys with a Price List query cover the stack's main cost drivers."""
    catalog = parse_catalog(yaml.safe_load(DEFAULT_CATALOG.read_text(encoding="utf-8")))
    for region, prices in catalog.regions.items():
        queried = {k for k, p in prices.items() if p.is_price and query_for(k)}
        for must in (
            "ec2.instance.t3.medium",
            "elb.alb.hour",
            "rds.postgres.db.t3.medium.single_az",
            "nat.hour",
        ):
            assert must in queried, (region, must)


def test_rewrite_keeps_the_real_catalog_valid() -> None:
    text = DEFAULT_CATALOG.read_text(encoding="utf-8")
    entry = {
        "usd": 0.05,
        "unit": "hour",
        "status": "CONFIRMED",
        "source_date": "2026-11-27",
        "source": "x: y",
    }
    new = rewrite_entries(text, "af-south-1", {"ec2.instance.t3.medium": entry})
    catalog = parse_catalog(yaml.safe_load(new))
    assert catalog.get("af-south-1", "ec2.instance.t3.medium").amount == 0.05
    assert catalog.get("us-east-1", "ec2.instance.t3.medium").amount != 0.05
    assert sum(a != b for a, b in zip(text.splitlines(), new.splitlines(), strict=True)) == 1


def test_show_lists_source_date_and_confirmation(catalog: Path) -> None:
    cat = parse_catalog(yaml.safe_load(catalog.read_text(encoding="utf-8")))
    table = show(cat, region="af-south-1")
    regions = {line.split()[0] for line in table.splitlines()[2:] if line.strip() and "figures:" not in line}
    assert regions == {"global", "af-south-1"}
    row = next(line for line in table.splitlines() if "ec2.instance.t4g.medium" in line)
    assert "ESTIMATE" in row and "estimated" in row
    row = next(line for line in table.splitlines() if "transfer.inter_az" in line)
    assert "CONFIRMED" in row and "confirmed" in row
    data = json.loads(show(cat, fmt="json"))
    assert {d["region"] for d in data} == {"global", "us-east-1", "af-south-1"}
    t3 = next(d for d in data if d["key"] == "ec2.instance.t3.large")
    assert t3["confirmed"] is True and t3["status"] == "DERIVED" and t3["source_date"] == "-"


def test_refresh_without_credentials_is_a_clear_error(
    catalog: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from budget.cli import main

    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(catalog.parent / "no-credentials"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(catalog.parent / "no-config"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.delenv("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", raising=False)
    monkeypatch.delenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", raising=False)
    before = catalog.read_text(encoding="utf-8")
    assert main(["prices", "refresh", "--region", "af-south-1", "--catalog", str(catalog)]) == 2
    assert "no AWS credentials" in capsys.readouterr().err
    assert catalog.read_text(encoding="utf-8") == before


def test_show_command(catalog: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from budget.cli import main

    assert main(["prices", "show", "--catalog", str(catalog), "--format", "json"]) == 0
    assert len(json.loads(capsys.readouterr().out)) == 13
    assert main(["prices", "show", "--catalog", str(catalog), "--region", "eu-west-1"]) == 2


def test_products_with_different_prices_are_not_guessed_between() -> None:
    """Two matching products at different prices: the key is left alone rather than one picked."""
    client = boto3.client(
        "pricing", region_name="us-east-1", aws_access_key_id="testing", aws_secret_access_key="testing"
    )
    recorded = json.loads((DATA / "pricing_af-south-1.json").read_text(encoding="utf-8"))["calls"]
    wanted = ("ec2.instance.t3.large", "ec2.instance.t4g.medium")
    t3, t4g = (json.loads(c["response"]["PriceList"][0]) for c in recorded if c["key"] in wanted)
    t4g["product"]["attributes"]["instanceType"] = "t3.large"  # same query, another price
    query = query_for("ec2.instance.t3.large")
    assert query is not None
    with Stubber(client) as stubber:
        stubber.add_response(
            "get_products", {"FormatVersion": "aws_v1", "PriceList": [json.dumps(t3), json.dumps(t4g)]}
        )
        with pytest.raises(LookupError, match=r"2 products with different prices \(0.0434, 0.1084\)"):
            fetch(client, "af-south-1", "ec2.instance.t3.large", query)


def test_usage_types_match_exactly_with_or_without_region_prefix() -> None:
    nat = query_for("nat.hour")
    assert nat is not None
    assert nat.match({"usagetype": "AFS1-NatGateway-Hours"}) and nat.match({"usagetype": "NatGateway-Hours"})
    assert nat.match({"usagetype": "EU-NatGateway-Hours"})
    assert not nat.match({"usagetype": "AFS1-RegionalNatGateway-Hours"})
    assert not nat.match({"usagetype": "AFS1-NatGateway-Bytes"})
