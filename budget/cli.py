"""``python -m budget check``: price the planned stack(s), judge them against their limits, print a report.

Exit codes: 0 within budget (warnings allowed, or over with the owner's override), 1 over budget,
2 bad input (stack config, preview file, catalog) or anything unpriced. With several stacks the highest wins.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from budget.catalog import DEFAULT_CATALOG, CatalogError, load_catalog
from budget.exit_codes import ExitCode
from budget.parallel import run_forked, stack_files
from budget.policy import RATE_WARNING
from budget.report import markdown, table
from budget.report.build import stack_report
from budget.report.model import CostReport, StackError, StackResult
from components.bounded_input import CONFIG_VALUE_BYTES

ROOT = Path(__file__).resolve().parents[1]
FORMATS = ("table", "json", "markdown")


@dataclass(frozen=True)
class Job:
    """One stack to check: where its config comes from and what to price."""

    stack: str
    stack_file: Path | None
    config_json: str | None
    preview_json: Path | None
    catalog: Path
    what_ifs: bool


def _load_config(job: Job) -> Any:
    from pydantic import ValidationError

    from components.config import (
        ConfigError,
        StackConfig,
        describe_errors,
        parse_stack_config,
        read_stack_file,
    )

    if job.config_json is not None:
        if len(job.config_json.encode("utf-8", "surrogatepass")) > CONFIG_VALUE_BYTES:
            raise ConfigError(f"--config-json: larger than the {CONFIG_VALUE_BYTES // 1024} KiB limit")
        try:  # pydantic's JSON parser bounds the nesting itself (a ValidationError, not a RecursionError)
            cfg = StackConfig.model_validate_json(job.config_json)
        except ValidationError as exc:
            raise ConfigError(describe_errors(exc.errors(), {}) + " (--config-json)") from None
        if cfg.stack != job.stack:
            raise ConfigError(f"--config-json is for stack {cfg.stack!r}, not {job.stack!r}")
        return cfg
    assert job.stack_file is not None
    # The requested stack name wins, so --stack-file may point at a file of any name.
    return parse_stack_config(job.stack, read_stack_file(job.stack_file))


def run_job(job: Job) -> StackResult:
    """Check one stack; every failure becomes a :class:`StackError` (exit code 2)."""
    from budget.estimator import estimate, estimate_preview
    from budget.plan import PlanError, plan_offline
    from budget.preview import PreviewError, load_preview
    from budget.whatif import what_ifs
    from components.config import ConfigError

    try:
        cfg = _load_config(job)
        catalog = load_catalog(job.catalog)
        preview = load_preview(job.preview_json) if job.preview_json else None
    except (ConfigError, CatalogError, PreviewError) as exc:
        return StackError(job.stack, str(exc))
    if preview is not None:
        source = job.stack_file.name if job.config_json is None and job.stack_file else "--config-json"
        resources = list(preview.resources)
        est = estimate_preview(preview, cfg, catalog, source)
    else:
        try:
            resources = plan_offline(cfg)
        except PlanError as exc:
            return StackError(job.stack, str(exc))
        est = estimate(resources, cfg, catalog)
    scenarios = what_ifs(resources, cfg, catalog) if job.what_ifs and not est.unpriced else []
    return stack_report(est, scenarios)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m budget", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    check = sub.add_parser("check", help="price the planned stack(s) and judge them against their budget")
    which = check.add_mutually_exclusive_group(required=True)
    which.add_argument("--stack", help="stack name (reads Pulumi.<stack>.yaml from the project root)")
    which.add_argument("--all", action="store_true", help="every Pulumi.<stack>.yaml in the project root")
    check.add_argument("--stack-file", type=Path, help="read the stack config from this file instead")
    check.add_argument(
        "--config-json", help="validated stack config as JSON ('-' = stdin); used by the guard"
    )
    check.add_argument("--preview-json", type=Path, help="price a 'pulumi preview --json' document")
    check.add_argument("--format", choices=FORMATS, default="table")
    check.add_argument("--json-out", type=Path, help="also write the JSON report to this file")
    check.add_argument(
        "--catalog", type=Path, default=DEFAULT_CATALOG, help="price catalog (default: built in)"
    )
    check.add_argument("--no-what-ifs", action="store_true", help="skip the what-if scenarios")
    check.add_argument("--details", action="store_true", help="table: also list every cost line")
    from budget.fit.cli import register as register_fit
    from budget.review_cli import register  # review tools: diff, comment, report, prices

    register(sub)
    register_fit(sub, DEFAULT_CATALOG)
    return parser


def _jobs(args: argparse.Namespace, parser: argparse.ArgumentParser) -> list[Job]:
    common = {"catalog": args.catalog, "what_ifs": not args.no_what_ifs}
    if args.all:
        if args.stack_file or args.config_json or args.preview_json:
            parser.error(
                "--all takes no --stack-file, --config-json or --preview-json (they describe one stack)"
            )
        from components.config import stack_name_of

        files = stack_files(ROOT)
        if not files:
            parser.error(f"no Pulumi.<stack>.yaml files in {ROOT}")
        return [Job(stack_name_of(f), f, None, None, **common) for f in files]
    config_json = None
    if args.config_json == "-":
        config_json = sys.stdin.read(CONFIG_VALUE_BYTES + 1)
    elif args.config_json is not None:
        try:
            config_json = Path(args.config_json).read_text(encoding="utf-8")
        except OSError as exc:
            parser.error(f"--config-json: cannot read {args.config_json} ({exc.strerror})")
    stack_file = args.stack_file or ROOT / f"Pulumi.{args.stack}.yaml"
    return [Job(args.stack, stack_file, config_json, args.preview_json, **common)]


def render(report: CostReport, fmt: str, details: bool = False) -> str:
    if fmt == "json":
        return report.dumps()
    if fmt == "markdown":
        return markdown.render(report.stacks)
    return table.render(report.stacks, details=details)


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command != "check":
        return int(args.func(args))
    jobs = _jobs(args, parser)
    report = CostReport(
        tuple(run_forked(run_job, jobs, preload=("budget.estimator", "budget.whatif"))), single=not args.all
    )
    sys.stdout.write(render(report, args.format, details=args.details))
    if args.json_out:
        args.json_out.write_text(report.dumps(), encoding="utf-8")
    for doc in report.stacks:
        if isinstance(doc, StackError):
            print(f"budget check: {doc.stack}: {doc.error}", file=sys.stderr)
        elif doc.unpriced:
            names = ", ".join(f"{u.type} '{u.name}'" for u in doc.unpriced)
            print(f"budget check: {doc.stack}: unpriced (fails closed): {names}", file=sys.stderr)
        elif doc.exit_code == ExitCode.OVER and doc.status != "over":
            rate = next(w for w in doc.warnings if w.startswith(RATE_WARNING))
            print(f"budget check: {doc.stack}: {rate}", file=sys.stderr)
        elif doc.exit_code == ExitCode.OVER:
            print(
                f"budget check: {doc.stack} is over budget: TZS {doc.total_tzs:,} at max size >"
                f" limit TZS {doc.limit_tzs:,}",
                file=sys.stderr,
            )
    return report.exit_code
