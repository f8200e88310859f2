"""How amounts, statuses and tables look in every text format (terminal, Markdown, HTML, PR comment)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass


def format_tzs(value: float, signed: bool = False) -> str:
    """TZS are shown whole, with thousands separators; a sign only where a change is meant."""
    rounded = round(value)
    text = f"{abs(rounded):,}"
    if signed:
        return ("+" if rounded > 0 else "-" if rounded < 0 else "±") + text
    return ("-" if rounded < 0 else "") + text


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


def grid(header: Sequence[str], rows: Iterable[Sequence[str]], right: Iterable[int] = ()) -> list[str]:
    """A plain-text table: columns padded to their widest cell, a dashed rule under the header.

    Columns whose index is in ``right`` are right-aligned (numbers); trailing spaces are trimmed.
    """
    table = [list(header), *(list(r) for r in rows)]
    aligned_right = set(right)
    widths = [max(len(row[i]) for row in table) for i in range(len(table[0]))]

    def fmt(row: list[str]) -> str:
        cells = (
            c.rjust(w) if i in aligned_right else c.ljust(w)
            for i, (c, w) in enumerate(zip(row, widths, strict=True))
        )
        return "  ".join(cells).rstrip()

    return [fmt(table[0]), "  ".join("-" * w for w in widths), *(fmt(r) for r in table[1:])]


def per_thousand(tzs: float, users: int) -> int:
    """The figure the project steers by: TZS per 1,000 concurrent users per month."""
    return round(tzs * 1000 / users) if users else 0
