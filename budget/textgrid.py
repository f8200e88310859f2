"""Plain-text tables, shared by every terminal output (reports, the catalog refresh, fit).

It lives below both ``budget.report`` and ``budget.catalog`` so that neither imports the other for it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence


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
