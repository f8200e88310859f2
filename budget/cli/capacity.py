"""``python -m budget capacity``: the measured figures with their runs, and what one server of each type
carries at the given headroom. Exit 0, or 2 for a bad catalog, bad benchmark runs or headroom."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from budget.capacity import MEASURED, CapacityError, Settings, load_model
from budget.capacity_report import CapacityReport, ServerCapacity, ServerUnsized
from budget.catalog import CatalogError, load_catalog
from budget.cli.options import add_catalog_option, headroom_error
from budget.exit_codes import ExitCode
from budget.textgrid import grid


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--format", choices=("table", "json"), default="table")
    add_catalog_option(parser, help="price catalog (specifications)")
    parser.add_argument("--measured", type=Path, default=MEASURED, help="folder of kept benchmark runs")
    parser.add_argument("--headroom", type=float, default=Settings.headroom)


def _carries(s: ServerCapacity | ServerUnsized) -> list[str]:
    """One type's row: what it carries, or why it cannot be sized."""
    if isinstance(s, ServerUnsized):
        return [s.instance_type, s.error, "", "", ""]
    return [s.instance_type, *(f"{v:,}" for v in (s.cpu_cores, s.connections, s.deliveries_per_s, s.api_rps))]


def render_table(report: CapacityReport) -> str:
    rows = [[name, f"{f.value:g}", f.unit, f.source] for name, f in report.figures.items()]
    out = [f"Measured (slowest counted window of the kept runs: {', '.join(report.runs)})", ""]
    out += grid(["figure", "value", "unit", "run"], rows, right=(1,))
    out += ["", f"One server at headroom {report.headroom:g} carries:", ""]
    out += grid(
        ["type", "cores", "connections", "deliveries/s", "API req/s"],
        [_carries(s) for s in report.per_server],
        right=(1, 2, 3, 4),
    )
    return "\n".join(out) + "\n"


def run(args: argparse.Namespace) -> int:
    bad = headroom_error("capacity", args.headroom)
    if bad:
        print(bad, file=sys.stderr)
        return ExitCode.INVALID
    try:
        catalog = load_catalog(args.catalog)
        model = load_model(catalog, Settings(headroom=args.headroom), args.measured)
    except (CatalogError, CapacityError) as exc:
        print(f"budget capacity: {exc}", file=sys.stderr)
        return ExitCode.INVALID
    report = CapacityReport.of(model)
    sys.stdout.write(report.dumps() if args.format == "json" else render_table(report))
    return ExitCode.OK
