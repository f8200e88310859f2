"""Volume-tiered prices (data transfer out, CloudFront): a free allowance first, then each tier in turn."""

from __future__ import annotations

from collections.abc import Sequence

from budget.catalog import Price
from budget.model import CostLine, line
from budget.rules.base import RuleContext, RuleError

TB = 1024.0  # AWS prices transfer tiers in TB of 1,024 GB (10,240 GB = "first 10 TB")

#: (tier size in GB or None for "everything above", catalog key suffix, label)
INTERNET_TIERS: Sequence[tuple[float | None, str, str]] = (
    (10 * TB, "first_10tb", "first 10 TB"),
    (40 * TB, "next_40tb", "next 40 TB"),
    (100 * TB, "next_100tb", "next 100 TB"),
    (None, "over_150tb", "over 150 TB"),
)
CLOUDFRONT_TIERS: Sequence[tuple[float | None, str, str]] = (
    (10 * TB, "first_10tb", "first 10 TB"),
    (40 * TB, "next_40tb", "next 40 TB"),
    (100 * TB, "next_100tb", "next 100 TB"),
    (350 * TB, "next_350tb", "next 350 TB"),
)


def tiered_lines(
    ctx: RuleContext,
    name: str,
    total_gb: float,
    prefix: str,
    tiers: Sequence[tuple[float | None, str, str]],
    free: Price | None,
    how: str = "",
) -> list[CostLine]:
    """Usage-based lines for ``total_gb``: the free allowance (shown at $0), then the volume tiers.

    A volume beyond the last tier the catalog prices is an error, never a silent reuse of the last price.
    """
    lines: list[CostLine] = []
    remaining = total_gb
    if free is not None and total_gb > 0:
        allowance = min(total_gb, free.amount)
        lines.append(line(f"{name} (free allowance)", "GB", allowance, free, usage_based=True, factor=0.0))
        remaining -= allowance
    for size, suffix, label in tiers:
        if remaining <= 0:
            break
        key = f"{prefix}.{suffix}"
        if not ctx.catalog.has(ctx.region, key):
            raise RuleError(
                f"{name}: {remaining:,.0f} GB fall in the '{label}' tier, which the catalog lacks ({key})"
            )
        amount = remaining if size is None else min(remaining, size)
        lines.append(line(f"{name} ({label})", "GB", amount, ctx.price(key), usage_based=True, how=how))
        remaining -= amount
    if remaining > 0:
        raise RuleError(f"{name}: {remaining:,.0f} GB beyond the last priced tier of {prefix}")
    return lines
