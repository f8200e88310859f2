"""The USD price catalog: one data file, one loader."""

from budget.catalog.loader import (
    CONFIRMED_STATUSES,
    DEFAULT_CATALOG,
    STATUSES,
    Catalog,
    CatalogError,
    MissingPrice,
    Price,
    load_catalog,
    parse_catalog,
)

__all__ = [
    "CONFIRMED_STATUSES",
    "DEFAULT_CATALOG",
    "STATUSES",
    "Catalog",
    "CatalogError",
    "MissingPrice",
    "Price",
    "load_catalog",
    "parse_catalog",
]
