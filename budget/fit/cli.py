"""``python -m budget fit --stack phaseN | --all [--format table|json|markdown] [--write]``.

Exit codes as ``check``: 0 a fitting plan exists (for every stack), 1 none fits (for some stack), 2 bad
input (stack config, demand block, catalog, benchmark runs). With several stacks the highest wins.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from budget.exit_codes import ExitCode
from budget.parallel import run_forked, stack_files

ROOT = Path(__file__).resolve().parents[2]
FORMATS = ("table", "json", "markdown")


@dataclass(frozen=True)
class FitJob:
    stack: str
    stack_file: Path
    catalog: Path
    measured: Path
    headroom: float
    domain: str | None = None


def run_job(job: FitJob) -> Any:
    """Fit one stack; every failure of the input becomes a FitFailure (exit code 2)."""
    from budget.capacity import CapacityError, Settings, load_model, price_with
    from budget.catalog import CatalogError, load_catalog
    from budget.demand import DemandError
    from budget.fit.levers import with_domain
    from budget.fit.pricer import FitError
    from budget.fit.report import FitFailure
    from budget.fit.run import fit_stack
    from budget.plan import PlanError
    from components.bounded_input import short, shown
    from components.config import ConfigError, parse_stack_config, read_stack_file

    try:
        stated = parse_stack_config(job.stack, read_stack_file(job.stack_file))
        cfg = stated
        if job.domain is not None:
            try:
                cfg = with_domain(stated, job.domain)
            except ValueError as exc:
                raise ConfigError(f"--domain {shown(job.domain)}: {short(str(exc), 200)}") from None
        catalog = load_catalog(job.catalog)
        model = load_model(catalog, Settings(headroom=job.headroom), job.measured)
        price_with(job.measured)  # the rules take the servers' and database's load from the same runs
        return fit_stack(cfg, catalog, model, written_from=stated)
    except (ConfigError, CatalogError, DemandError, CapacityError, FitError, PlanError) as exc:
        return FitFailure(stack=job.stack, error=str(exc))


#: The share of every capacity a plan may keep spare: 0 (none) to 0.9 (a tenth of each server used).
HEADROOM_RANGE = (0.0, 0.9)


def headroom_error(command: str, headroom: float) -> str | None:
    """One line naming a headroom outside 0-0.9 (a share of capacity kept spare), else None."""
    low, high = HEADROOM_RANGE
    if low <= headroom <= high:
        return None
    return (
        f"budget {command}: --headroom {headroom:g} is outside {low:g}-{high:g}"
        " (the share of every capacity kept spare)"
    )


def run_fit(args: argparse.Namespace) -> int:
    from budget.fit.render import render, render_markdown
    from budget.fit.report import FitFailure, FitReport, dumps
    from budget.fit.write import WriteError, write_fit
    from components.config import stack_name_of

    bad = headroom_error("fit", args.headroom)
    if bad:
        print(bad, file=sys.stderr)
        return ExitCode.INVALID
    if args.all:
        if args.stack_file:
            print("budget fit: --all takes no --stack-file (it describes one stack)", file=sys.stderr)
            return ExitCode.INVALID
        if args.domain:
            print("budget fit: --all takes no --domain (each stack names its own)", file=sys.stderr)
            return ExitCode.INVALID
        files = stack_files(ROOT)
        if not files:
            print(f"budget fit: no Pulumi.<stack>.yaml files in {ROOT}", file=sys.stderr)
            return ExitCode.INVALID
        stacks = [(stack_name_of(f), f) for f in files]
    else:
        stacks = [(args.stack, args.stack_file or ROOT / f"Pulumi.{args.stack}.yaml")]
    jobs = [FitJob(s, p, args.catalog, args.measured, args.headroom, args.domain) for s, p in stacks]
    results = run_forked(run_job, jobs, preload=("budget.fit.run",))
    if args.format == "json":
        sys.stdout.write(dumps(results, many=args.all))
    elif args.format == "markdown":
        sys.stdout.write(render_markdown(results))
    else:
        sys.stdout.write(render(results))
    code = max(int(r.exit_code) for r in results)
    paths = dict(stacks)
    for r in results:
        if isinstance(r, FitFailure):
            print(f"budget fit: {r.stack}: {r.error}", file=sys.stderr)
        elif args.write and isinstance(r, FitReport):
            if not r.fits:
                print(
                    f"budget fit: {r.stack}: nothing fits; {paths[r.stack].name} left as it is",
                    file=sys.stderr,
                )
                continue
            try:
                keys = write_fit(r, paths[r.stack])
            except (WriteError, OSError) as exc:
                print(f"budget fit: {r.stack}: {exc}", file=sys.stderr)
                code = max(code, int(ExitCode.INVALID))
                continue
            print(f"budget fit: {r.stack}: wrote {len(keys)} keys to {paths[r.stack].name}", file=sys.stderr)
    return code


def register(subparsers: Any, default_catalog: Path) -> None:
    from budget.capacity import MEASURED, Settings

    p = subparsers.add_parser("fit", help="the cheapest configuration that carries a phase's users")
    which = p.add_mutually_exclusive_group(required=True)
    which.add_argument("--stack", help="stack name (reads Pulumi.<stack>.yaml from the project root)")
    which.add_argument("--all", action="store_true", help="every Pulumi.<stack>.yaml in the project root")
    p.add_argument("--stack-file", type=Path, help="read the stack config from this file instead")
    p.add_argument("--format", choices=FORMATS, default="table")
    p.add_argument("--write", action="store_true", help="write a fitting configuration into the stack file")
    p.add_argument(
        "--domain",
        help="search as if stars:loadBalancer.domain named this domain (one you control; --write writes it)",
    )
    p.add_argument("--catalog", type=Path, default=default_catalog, help="price catalog (default: built in)")
    p.add_argument("--measured", type=Path, default=MEASURED, help="folder of kept benchmark runs")
    p.add_argument(
        "--headroom", type=float, default=Settings.headroom, help="share of every capacity kept spare"
    )
    p.set_defaults(func=run_fit)

    p = subparsers.add_parser(
        "capacity", help="the capacity model: measured figures and what a server carries"
    )
    p.add_argument("--format", choices=("table", "json"), default="table")
    p.add_argument("--catalog", type=Path, default=default_catalog, help="price catalog (specifications)")
    p.add_argument("--measured", type=Path, default=MEASURED, help="folder of kept benchmark runs")
    p.add_argument("--headroom", type=float, default=Settings.headroom)
    p.set_defaults(func=run_capacity)


def run_capacity(args: argparse.Namespace) -> int:
    """``capacity``: the measured figures with their runs, and what one server of each type carries."""
    import json

    from budget.capacity import CapacityError, Load, Settings, load_model
    from budget.catalog import CatalogError, load_catalog
    from budget.textgrid import grid
    from components.config import EC2_INSTANCE_TYPES

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
    rows: list[list[str]] = []
    servers: list[dict[str, Any]] = []
    for name, figure in model.measured.figures().items():
        rows.append([name, f"{figure.value:g}", figure.unit, figure.source])
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
    if args.format == "json":
        doc = {
            "headroom": model.settings.headroom,
            "runs": list(model.measured.runs),
            "figures": {k: f.to_json() for k, f in model.measured.figures().items()},
            "per_server": servers,
        }
        sys.stdout.write(json.dumps(doc, indent=1) + "\n")
        return ExitCode.OK
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
    sys.stdout.write("\n".join(out) + "\n")
    return ExitCode.OK
