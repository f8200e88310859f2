"""How amounts, statuses and tables look in every text format (terminal, Markdown, HTML, PR comment)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


def format_tzs(value: float, signed: bool = False) -> str:
    """TZS are shown whole, with thousands separators; a sign only where a change is meant."""
    rounded = round(value)
    text = f"{abs(rounded):,}"
    if signed:
        return ("+" if rounded > 0 else "-" if rounded < 0 else "±") + text
    return ("-" if rounded < 0 else "") + text


def format_config_value(value: Any) -> str:
    """A config value as a change table shows it: a whole block (one that goes or comes) by its size."""
    if isinstance(value, Mapping):
        return f"(the block, {len(value)} keys)"
    return "-" if value is None else str(value)


def format_percent(value: float | None) -> str:
    """A relative change; "new" when there is nothing to compare with."""
    if value is None:
        return "new"
    return f"{value:+.1f}%"


@dataclass(frozen=True)
class StatusLabel:
    """How a verdict reads: a sentence for the terminal and an icon for Markdown."""

    text: str
    icon: str

    def short(self, status: str) -> str:
        """Icon and status word, as in a comment's table cell ("✅ ok")."""
        return f"{self.icon} {status}".strip()


#: Every status a stack can have in any report, and "removed" for a stack a pull request deletes.
STATUS_LABELS: dict[str, StatusLabel] = {
    "ok": StatusLabel("OK: within budget", "✅"),
    "warn": StatusLabel("WARN: above the warning level, within the limit", "⚠️"),
    "over": StatusLabel("OVER BUDGET", "❌"),
    "error": StatusLabel("ERROR", "⛔"),
    "removed": StatusLabel("REMOVED", ""),
}


def status_label(status: str) -> StatusLabel:
    return STATUS_LABELS.get(status, StatusLabel(status.upper(), ""))


def per_thousand(tzs: float, users: int) -> int:
    """The figure the project steers by: TZS per 1,000 concurrent users per month."""
    return round(tzs * 1000 / users) if users else 0
