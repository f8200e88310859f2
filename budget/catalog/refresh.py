"""Keeping the price catalog fresh: ``prices refresh`` from the AWS Price List API and ``prices show``.

Refresh asks the Price List query API (boto3 ``pricing.get_products``) for each catalog key it knows how
to ask for, and rewrites only those entries, with status CONFIRMED and a source naming the service, SKU
and publication date. Everything it cannot fetch or cannot pin to exactly one price stays as it was and is
reported, so a refresh never silently swaps a sourced figure for a guess. The catalog file is edited
line by line (its comments, anchors and order survive) and re-validated before it is written.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from budget.catalog import CONFIRMED_STATUSES, Catalog, CatalogError, Price, parse_catalog
from budget.textgrid import grid

#: The Price List query API is served from us-east-1 (and ap-south-1) whatever region is priced.
PRICING_REGION = "us-east-1"

Attributes = Mapping[str, str]


@dataclass(frozen=True)
class Query:
    """How to ask the Price List API for one catalog figure.

    ``filters`` narrow the server-side search (TERM_MATCH); ``match`` picks products by attributes the
    API cannot filter on well (usage types carry a region prefix); ``per`` converts the API's unit to the
    catalog's (S3 prices one request, the catalog 1,000); ``first_tier`` takes the price dimension that
    starts at 0 (the first volume tier).
    """

    service: str
    filters: Mapping[str, str]
    unit: str
    match: Callable[[Attributes], bool] = lambda _a: True
    per: float = 1.0
    first_tier: bool = True


def _usage(name: str) -> Callable[[Attributes], bool]:
    """Match a usage type exactly, with or without its region prefix ("AFS1-", "EU-"; none in us-east-1).

    Exact matching keeps look-alikes apart: "NatGateway-Hours" is not "RegionalNatGateway-Hours".
    """
    pattern = re.compile(rf"(?:[A-Z]{{2,4}}[0-9]?-)?{re.escape(name)}")
    return lambda a: bool(pattern.fullmatch(a.get("usagetype", "")))


def _postgres_storage(a: Attributes) -> bool:
    """RDS storage is listed per engine ("PostgreSQL") in newer offers and as "Any" in older ones."""
    return a.get("databaseEngine") in ("PostgreSQL", "Any")


_DEPLOYMENT = {"single_az": "Single-AZ", "multi_az": "Multi-AZ"}
_RDS_VOLUME = {"gp3": "General Purpose-GP3", "gp2": "General Purpose"}


#: Catalog keys with one fixed query.
_FIXED_QUERIES: dict[str, Query] = {
    "elb.alb.hour": Query(
        "AWSELB", {"productFamily": "Load Balancer-Application"}, "Hrs", _usage("LoadBalancerUsage")
    ),
    "elb.alb.lcu_hour": Query(
        "AWSELB", {"productFamily": "Load Balancer-Application"}, "LCU-Hrs", _usage("LCUUsage")
    ),
    "elb.nlb.hour": Query(
        "AWSELB", {"productFamily": "Load Balancer-Network"}, "Hrs", _usage("LoadBalancerUsage")
    ),
    "elb.nlb.nlcu_hour": Query(
        "AWSELB", {"productFamily": "Load Balancer-Network"}, "LCU-Hrs", _usage("LCUUsage")
    ),
    "s3.standard": Query("AmazonS3", {"productFamily": "Storage", "volumeType": "Standard"}, "GB-Mo"),
    "s3.requests.put": Query(
        "AmazonS3", {"productFamily": "API Request", "group": "S3-API-Tier1"}, "Requests", per=1000
    ),
    "s3.requests.get": Query(
        "AmazonS3", {"productFamily": "API Request", "group": "S3-API-Tier2"}, "Requests", per=1000
    ),
    "nat.hour": Query("AmazonEC2", {"productFamily": "NAT Gateway"}, "Hrs", _usage("NatGateway-Hours")),
    "nat.gb": Query("AmazonEC2", {"productFamily": "NAT Gateway"}, "GB", _usage("NatGateway-Bytes")),
    "secretsmanager.secret": Query("AWSSecretsManager", {"productFamily": "Secret"}, "Secrets"),
    "secretsmanager.api_calls": Query(
        "AWSSecretsManager", {"productFamily": "API Request"}, "API Requests", per=10000
    ),
    "cloudwatch.dashboard": Query("AmazonCloudWatch", {"productFamily": "Dashboard"}, "Dashboards"),
    "cloudwatch.alarm.standard": Query(
        "AmazonCloudWatch", {"productFamily": "Alarm"}, "Alarms", _usage("CW:AlarmMonitorUsage")
    ),
    "cloudwatch.logs.ingest": Query(
        "AmazonCloudWatch", {"productFamily": "Data Payload"}, "GB", _usage("DataProcessing-Bytes")
    ),
}


def _ec2_instance(m: re.Match[str]) -> Query:
    filters = {
        "productFamily": "Compute Instance",
        "instanceType": m[1],
        "operatingSystem": "Linux",
        "tenancy": "Shared",
        "preInstalledSw": "NA",
        "capacitystatus": "Used",
        "licenseModel": "No License required",
    }
    return Query("AmazonEC2", filters, "Hrs")


def _rds_instance(m: re.Match[str]) -> Query:
    filters = {
        "productFamily": "Database Instance",
        "instanceType": m[1],
        "databaseEngine": "PostgreSQL",
        "deploymentOption": _DEPLOYMENT[m[2]],
    }
    return Query("AmazonRDS", filters, "Hrs")


def _rds_storage(m: re.Match[str]) -> Query:
    filters = {
        "productFamily": "Database Storage",
        "volumeType": _RDS_VOLUME[m[1]],
        "deploymentOption": _DEPLOYMENT[m[2]],
    }
    return Query("AmazonRDS", filters, "GB-Mo", _postgres_storage)


#: Catalog key families: the key's pattern and the query its parts make.
_PATTERN_QUERIES: tuple[tuple[re.Pattern[str], Callable[[re.Match[str]], Query]], ...] = (
    (re.compile(r"ec2\.instance\.(.+)"), _ec2_instance),
    (
        re.compile(r"ebs\.(gp2|gp3|io1|sc1|st1|standard)"),
        lambda m: Query("AmazonEC2", {"productFamily": "Storage", "volumeApiName": m[1]}, "GB-Mo"),
    ),
    (re.compile(r"rds\.postgres\.(db\..+)\.(single_az|multi_az)"), _rds_instance),
    (re.compile(r"rds\.storage\.(gp2|gp3)\.(single_az|multi_az)"), _rds_storage),
    (
        re.compile(r"elasticache\.redis\.(cache\..+)"),
        lambda m: Query(
            "AmazonElastiCache",
            {"productFamily": "Cache Instance", "instanceType": m[1], "cacheEngine": "Redis"},
            "Hrs",
        ),
    ),
)


def query_for(key: str) -> Query | None:
    """The Price List query for a catalog key, or None when the key has no query (left unrefreshed)."""
    if key in _FIXED_QUERIES:
        return _FIXED_QUERIES[key]
    for pattern, build in _PATTERN_QUERIES:
        if m := pattern.fullmatch(key):
            return build(m)
    return None


# ---------------------------------------------------------------------------------------------- fetching


@dataclass(frozen=True)
class Fetched:
    """One price as the Price List API gives it, already in the catalog's unit."""

    usd: float
    service: str
    sku: str
    publication: str

    def source(self) -> str:
        return f"AWS Price List API, {self.service} {self.sku}, publication {self.publication}"


def _on_demand_price(item: Mapping[str, Any], query: Query) -> float | None:
    """The on-demand USD price per ``query.unit`` of one product (first volume tier), if there is one."""
    for term in (item.get("terms", {}).get("OnDemand") or {}).values():
        dims = list((term.get("priceDimensions") or {}).values())
        dims = [
            d for d in dims if d.get("unit", "").lower() == query.unit.lower() and "USD" in d["pricePerUnit"]
        ]
        if query.first_tier:
            dims = [d for d in dims if str(d.get("beginRange", "0")) in ("0", "0.0")]
        prices = {float(d["pricePerUnit"]["USD"]) for d in dims}
        if len(prices) == 1:
            return prices.pop()
    return None


def fetch(client: Any, region: str, key: str, query: Query) -> Fetched:
    """Ask for one figure; exactly one distinct price must come back, or the key is left alone."""
    filters = [{"Type": "TERM_MATCH", "Field": "regionCode", "Value": region}]
    filters += [{"Type": "TERM_MATCH", "Field": k, "Value": v} for k, v in query.filters.items()]
    found: dict[float, list[tuple[str, str]]] = {}
    token: str | None = None
    while True:
        kwargs: dict[str, Any] = {"ServiceCode": query.service, "Filters": filters, "FormatVersion": "aws_v1"}
        if token:
            kwargs["NextToken"] = token
        page = client.get_products(**kwargs)
        for raw in page.get("PriceList", []):
            item = json.loads(raw) if isinstance(raw, str) else raw
            product = item.get("product", {})
            attributes = product.get("attributes", {})
            if attributes.get("locationType", "AWS Region") != "AWS Region":
                continue  # Outposts, Local Zones and Wavelength Zones carry the region code too
            if not query.match(attributes):
                continue
            price = _on_demand_price(item, query)
            if price is not None:
                sku = str(product.get("sku", "?"))
                found.setdefault(price, []).append((sku, str(item.get("publicationDate", ""))[:10]))
        token = page.get("NextToken")
        if not token:
            break
    if not found:
        raise LookupError("no matching on-demand product")
    if len(found) > 1:
        shown = ", ".join(f"{p:g}" for p in sorted(found))
        raise LookupError(f"{sum(map(len, found.values()))} products with different prices ({shown})")
    price, skus = next(iter(found.items()))
    sku, publication = sorted(skus)[0]
    return Fetched(usd=round(price * query.per, 10), service=query.service, sku=sku, publication=publication)


# ---------------------------------------------------------------------------------------------- refresh


@dataclass(frozen=True)
class Change:
    """A refreshed entry: old and new figure (equal when the API confirms the catalog)."""

    key: str
    old: Price
    new_usd: float
    source: str

    @property
    def percent(self) -> float | None:
        return None if not self.old.amount else 100.0 * (self.new_usd - self.old.amount) / self.old.amount


@dataclass
class RefreshResult:
    region: str
    changes: list[Change] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    written: bool = False


def _flow(entry: Mapping[str, Any]) -> str:
    """One catalog entry as the file writes it: a one-line YAML flow mapping."""
    return yaml.safe_dump(dict(entry), default_flow_style=True, sort_keys=False, width=10_000).strip()


def rewrite_entries(text: str, region: str, entries: Mapping[str, Mapping[str, Any]]) -> str:
    """Replace the given keys' lines inside ``regions.<region>`` and leave every other line as it is."""
    lines = text.splitlines(keepends=True)
    in_regions = in_region = False
    todo = dict(entries)
    for i, line in enumerate(lines):
        if re.match(r"^\S", line):
            in_regions = line.startswith("regions:")
            in_region = False
            continue
        if in_regions and (m := re.match(r"^  (\S[^:]*):\s*$", line)):
            in_region = m[1].strip("'\"") == region
            continue
        if in_region and (m := re.match(r"^    ([^\s:]+):\s", line)) and m[1] in todo:
            lines[i] = f"    {m[1]}: {_flow(todo.pop(m[1]))}\n"
    if todo:
        raise CatalogError(f"entries not found in region {region}: {sorted(todo)}")
    return "".join(lines)


def refresh(
    client: Any,
    catalog_path: Path,
    region: str,
    today: dt.date | None = None,
    dry_run: bool = False,
    keys: Iterable[str] | None = None,
) -> RefreshResult:
    """Refresh one region's entries from the Price List API; write the file unless ``dry_run``."""
    text = catalog_path.read_text(encoding="utf-8")
    catalog = parse_catalog(yaml.safe_load(text), where=catalog_path.name)
    if region not in catalog.regions:
        raise CatalogError(f"region {region} is not in the catalog (regions: {', '.join(catalog.regions)})")
    date = (today or dt.date.today()).isoformat()
    result = RefreshResult(region=region)
    updates: dict[str, dict[str, Any]] = {}
    wanted = set(keys) if keys else None
    for key, price in catalog.regions[region].items():
        if wanted is not None and key not in wanted:
            continue
        query = query_for(key)
        if not price.is_price:
            result.skipped.append((key, "not a price (a discount, factor or allowance)"))
            continue
        if query is None:
            result.skipped.append((key, "no Price List query for this key"))
            continue
        try:
            fetched = fetch(client, region, key, query)
        except LookupError as exc:
            result.skipped.append((key, str(exc)))
            continue
        result.changes.append(Change(key, price, fetched.usd, fetched.source()))
        updates[key] = {
            "usd": fetched.usd,
            "unit": price.unit,
            "status": "CONFIRMED",
            "source_date": date,
            "source": fetched.source(),
        }
    if updates and not dry_run:
        new_text = rewrite_entries(text, region, updates)
        parse_catalog(yaml.safe_load(new_text), where=catalog_path.name)  # never write a broken catalog
        catalog_path.write_text(new_text, encoding="utf-8")
        result.written = True
    return result


def render_refresh(result: RefreshResult) -> str:
    """The change table (old → new, %) and the list of what was left as it was, and why."""
    counts = f"{len(result.changes)} fetched, {len(result.skipped)} unchanged"
    out = [f"Price List refresh for {result.region}: {counts}"]
    if result.changes:
        rows = [
            (
                c.key,
                f"{c.old.amount:g}",
                f"{c.new_usd:g}",
                "same" if c.percent is not None and abs(c.percent) < 1e-9 else _pct(c.percent),
                f"{c.old.status} → CONFIRMED",
            )
            for c in result.changes
        ]
        out += ["", *grid(("key", "old USD", "new USD", "change", "status"), rows, right={1, 2, 3})]
    if result.skipped:
        out += ["", "Left as they were:"]
        out += [f"  {key}: {why}" for key, why in result.skipped]
    verb = "written to the catalog" if result.written else "not written (dry run)" if result.changes else ""
    if verb:
        out += ["", f"Changes {verb}."]
    return "\n".join(out) + "\n"


def _pct(value: float | None) -> str:
    return "new" if value is None else f"{value:+.1f}%"


# ---------------------------------------------------------------------------------------------- show


def show(catalog: Catalog, region: str | None = None, fmt: str = "table") -> str:
    """Every figure with its source, date and whether it is confirmed or estimated."""
    prices = [p for p in catalog.all_prices() if region in (None, p.region) or p.region == "global"]
    prices.sort(key=lambda p: (p.region != "global", p.region, p.key))
    if fmt == "json":
        data = [
            {
                "region": p.region,
                "key": p.key,
                "usd" if p.is_price else "value": p.amount,
                "unit": p.unit,
                "status": p.status,
                "confirmed": p.status in CONFIRMED_STATUSES,
                "source": p.source,
                "source_date": p.source_date,
            }
            for p in prices
        ]
        return json.dumps(data, indent=2) + "\n"
    rows = [
        (
            p.region,
            p.key,
            f"{p.amount:g}" + ("" if p.is_price else " (value)"),
            p.unit,
            p.status,
            "confirmed" if p.status in CONFIRMED_STATUSES else "estimated",
            p.source_date,
            p.source if len(p.source) <= 90 else p.source[:87] + "...",
        )
        for p in prices
    ]
    header = ("region", "key", "USD", "unit", "status", "kind", "source date", "source")
    counts: dict[str, int] = {}
    for p in prices:
        counts[p.status] = counts.get(p.status, 0) + 1
    summary = ", ".join(f"{n} {s}" for s, n in sorted(counts.items()))
    return "\n".join([*grid(header, rows, right={2}), "", f"{len(prices)} figures: {summary}"]) + "\n"
