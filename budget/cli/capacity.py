"""``python -m budget capacity``: the measured figures with their runs, and what one server of each type
carries at the given headroom. Exit 0, or 2 for a bad catalog, bad benchmark runs or headroom."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from budget.capacity import MEASURED, CapacityError, CapacityModel, Load, Settings, load_model
from budget.catalog import CatalogError, load_catalog
from budget.cli.options import add_catalog_option, headroom_error
from budget.exit_codes import ExitCode
from budget.textgrid import grid
from components.config import EC2_INSTANCE_TYPES


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--format", choices=("table", "json"), default="table")
    add_catalog_option(parser, help="price catalog (specifications)")
    parser.add_argument("--measured", type=Path, default=MEASURED, help="folder of kept benchmark runs")
    parser.add_argument("--headroom", type=float, default=Settings.headroom)


def per_server(model: CapacityModel) -> list[dict[str, Any]]:
    """What one server of each instance type the config allows carries (or why it cannot be sized)."""
    servers: list[dict[str, Any]] = []
    for itype in EC2_INSTANCE_TYPES:
        try:
            s = model.size_servers(itype, Load(connections=1.0))
        except CapacityError as exc:
            servers.append({"instance_type": itype, "error": str(exc)})
            continue
        carried = model.carried(s.cpu_cores_per_server, s.connections_per_server)
        servers.append(
            {
                "instance_type": itype,
                "cpu_cores": round(s.cpu_cores_per_server, 3),
                **{k: int(v) for k, v in carried.items()},
                "estimated": s.estimated,
            }
        )
    return servers


def render_table(model: CapacityModel, servers: list[dict[str, Any]]) -> str:
    rows = [[name, f"{f.value:g}", f.unit, f.source] for name, f in model.measured.figures().items()]
    out = [f"Measured (slowest counted window of the kept runs: {', '.join(model.measured.runs)})", ""]
    out += grid(["figure", "value", "unit", "run"], rows, right=(1,))
    out += ["", f"One server at headroom {model.settings.headroom:g} carries:", ""]
    out += grid(
        ["type", "cores", "connections", "deliveries/s", "API req/s"],
        [
            [
                s["instance_type"],
                *(f"{s[k]:,}" for k in ("cpu_cores", "connections", "deliveries_per_s", "api_rps")),
            ]
            if "error" not in s
            else [s["instance_type"], s["error"], "", "", ""]
            for s in servers
        ],
        right=(1, 2, 3, 4),
    )
    return "\n".join(out) + "\n"


def render_json(model: CapacityModel, servers: list[dict[str, Any]]) -> str:
    doc = {
        "headroom": model.settings.headroom,
        "runs": list(model.measured.runs),
        "figures": {k: f.to_json() for k, f in model.measured.figures().items()},
        "per_server": servers,
    }
    return json.dumps(doc, indent=1) + "\n"


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
    servers = per_server(model)
    render = render_json if args.format == "json" else render_table
    sys.stdout.write(render(model, servers))
    return ExitCode.OK
