"""Load and validate the USD price catalog (``prices.yaml``).

The catalog is data, not code, so that a later ``prices refresh`` can rebuild it from the AWS Price List API
without touching a rule. Every figure keeps its source, date and status; a rule that asks for a figure the
catalog lacks gets :class:`MissingPrice`, which the estimator turns into an "unpriced" error (fail closed).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Literal

from components.bounded_input import CATALOG_BYTES, InputError, read_yaml

PriceStatus = Literal["CONFIRMED", "CONFIRMED-3P", "DERIVED", "RECALLED", "ESTIMATE"]
STATUSES: tuple[str, ...] = ("CONFIRMED", "CONFIRMED-3P", "DERIVED", "RECALLED", "ESTIMATE")
#: Statuses whose figure is printed in a source or computed from printed figures by a stated rule.
CONFIRMED_STATUSES = frozenset({"CONFIRMED", "CONFIRMED-3P", "DERIVED"})
DEFAULT_CATALOG = Path(__file__).with_name("prices.yaml")
#: No catalog figure (a price, an allowance, a rate) reaches this: it also refuses inf and NaN.
MAX_FIGURE = 1e9
_FIELDS = {"usd", "value", "unit", "source", "source_date", "status"}


class CatalogError(ValueError):
    """The catalog file itself is broken (bad YAML, a missing field, an unknown status)."""


class MissingPrice(LookupError):
    """A rule needs a figure the catalog does not have for this region: the resource is unpriced."""

    def __init__(self, region: str, key: str) -> None:
        super().__init__(f"no catalog price '{key}' for region {region}")
        self.region = region
        self.key = key


@dataclass(frozen=True)
class Price:
    """One catalog figure: a USD price (``is_price``) or a non-price value (free allowance, discount)."""

    key: str
    region: str
    amount: float
    unit: str
    source: str
    source_date: str
    status: PriceStatus
    is_price: bool

    @property
    def confirmed(self) -> bool:
        """CONFIRMED, CONFIRMED-3P and DERIVED count as confirmed; RECALLED and ESTIMATE as estimated."""
        return self.status in CONFIRMED_STATUSES

    def cite(self) -> str:
        """Short citation for a report line: the source, its date and the status."""
        date = "" if self.source_date in ("", "-", "n/a") else f", {self.source_date}"
        return f"{self.source}{date} [{self.status}]"


@dataclass(frozen=True)
class Catalog:
    """Prices by region plus region-independent (``global``) prices."""

    hours_per_month: float
    regions: dict[str, dict[str, Price]]
    global_prices: dict[str, Price]
    path: str

    def get(self, region: str, key: str) -> Price:
        """The figure for ``key`` in ``region``, else in ``global``; :class:`MissingPrice` if neither."""
        found = self.regions.get(region, {}).get(key) or self.global_prices.get(key)
        if found is None:
            raise MissingPrice(region, key)
        return found

    def has(self, region: str, key: str) -> bool:
        return key in self.regions.get(region, {}) or key in self.global_prices

    def spot_discount(self, region: str, instance_type: str) -> Price:
        """The typical spot discount of ``instance_type`` in ``region``: the size's own figure where the
        Spot Advisor gives one (``ec2.spot_discount.t4g.small``), else its family's
        (``ec2.spot_discount.t4g``): sizes of one family differ (af-south-1: t4g.small 66%, medium 54%)."""
        own = f"ec2.spot_discount.{instance_type}"
        if self.has(region, own):
            return self.get(region, own)
        return self.get(region, f"ec2.spot_discount.{instance_type.split('.')[0]}")

    def all_prices(self) -> list[Price]:
        """Every entry, for listings and consistency tests."""
        out = list(self.global_prices.values())
        for prices in self.regions.values():
            out.extend(prices.values())
        return out


def _entry(region: str, key: str, raw: Any, where: str) -> Price:
    if not isinstance(raw, dict):
        raise CatalogError(f"{where}: {key}: expected a mapping")
    unknown = set(raw) - _FIELDS
    if unknown:
        raise CatalogError(f"{where}: {key}: unknown field(s) {sorted(unknown)}")
    if ("usd" in raw) == ("value" in raw):
        raise CatalogError(f"{where}: {key}: exactly one of 'usd' or 'value' is required")
    for field in ("unit", "source", "source_date", "status"):
        if not isinstance(raw.get(field), str) or not raw[field].strip():
            raise CatalogError(f"{where}: {key}: '{field}' is required (text)")
    if raw["status"] not in STATUSES:
        raise CatalogError(f"{where}: {key}: status {raw['status']!r} is not one of {', '.join(STATUSES)}")
    amount = raw.get("usd", raw.get("value"))
    if isinstance(amount, bool) or not isinstance(amount, int | float) or not 0 <= amount < MAX_FIGURE:
        raise CatalogError(f"{where}: {key}: the figure must be a number from 0 below 1e9, not {amount!r}")
    return Price(
        key=key,
        region=region,
        amount=float(amount),
        unit=raw["unit"],
        source=raw["source"],
        source_date=raw["source_date"],
        status=raw["status"],
        is_price="usd" in raw,
    )


def parse_catalog(document: Any, where: str = "catalog") -> Catalog:
    """Validate a loaded catalog document (see the schema at the top of ``prices.yaml``)."""
    if not isinstance(document, dict) or not isinstance(document.get("regions"), dict):
        raise CatalogError(f"{where}: expected a mapping with 'regions'")
    global_raw = document.get("global") or {}
    global_prices = {key: _entry("global", key, raw, where) for key, raw in global_raw.items()}
    regions: dict[str, dict[str, Price]] = {}
    for region, entries in document["regions"].items():
        if not isinstance(entries, dict):
            raise CatalogError(f"{where}: region {region}: expected a mapping of prices")
        clash = set(entries) & set(global_prices)
        if clash:
            raise CatalogError(f"{where}: {region}: keys also in global: {sorted(clash)}")
        regions[region] = {key: _entry(region, key, raw, where) for key, raw in entries.items()}
    hours = document.get("hours_per_month", 730)
    return Catalog(hours_per_month=float(hours), regions=regions, global_prices=global_prices, path=where)


@cache
def load_catalog(path: Path = DEFAULT_CATALOG) -> Catalog:
    """Read and validate a catalog file (cached: the file is read once per process)."""
    if not Path(path).exists():
        raise CatalogError(f"price catalog not found: {path}")
    try:
        document = read_yaml(Path(path), CATALOG_BYTES)
    except InputError as exc:
        raise CatalogError(f"price catalog {path}: {exc}") from None
    return parse_catalog(document, where=Path(path).name)
