"""What several commands share: the stack-choosing options of ``check`` and ``fit``, the headroom bound of
``fit`` and ``capacity``, and the usage error. Commands import this, :mod:`budget.cli.diff_options` and the
library, never each other (tests/test_import_cycles.py holds it)."""

from __future__ import annotations

import argparse
from pathlib import Path

from budget.catalog import DEFAULT_CATALOG

FORMATS = ("table", "json", "markdown")

#: The share of every capacity a plan may keep spare: 0 (none) to 0.9 (a tenth of each server used).
HEADROOM_RANGE = (0.0, 0.9)


class UsageError(Exception):
    """Options that contradict each other: the entry point prints the usage and this line, exit 2."""


def add_stack_options(parser: argparse.ArgumentParser) -> None:
    """``--stack NAME | --all`` and ``--stack-file`` (check and fit)."""
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--stack", help="stack name (reads Pulumi.<stack>.yaml from the project root)")
    which.add_argument("--all", action="store_true", help="every Pulumi.<stack>.yaml in the project root")
    parser.add_argument("--stack-file", type=Path, help="read the stack config from this file instead")


def add_catalog_option(
    parser: argparse.ArgumentParser, help: str = "price catalog (default: built in)"
) -> None:
    parser.add_argument("--catalog", type=Path, default=DEFAULT_CATALOG, help=help)


def headroom_error(command: str, headroom: float) -> str | None:
    """One line naming a headroom outside 0-0.9 (a share of capacity kept spare), else None."""
    low, high = HEADROOM_RANGE
    if low <= headroom <= high:
        return None
    return (
        f"budget {command}: --headroom {headroom:g} is outside {low:g}-{high:g}"
        " (the share of every capacity kept spare)"
    )
