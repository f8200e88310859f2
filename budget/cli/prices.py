"""``python -m budget prices show | refresh``: every catalog figure with its source, date and status, or a
region's entries rebuilt from the AWS Price List API (which needs AWS credentials). Exit 0, or 2 for a bad
catalog, an unknown region, missing credentials or an API that fails (the catalog is then unchanged).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from budget.catalog import DEFAULT_CATALOG, CatalogError, load_catalog
from budget.catalog.refresh import PRICING_REGION, refresh, render_refresh, show
from budget.exit_codes import ExitCode


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="prices_command", required=True)
    p = sub.add_parser("show", help="every price with its source, date and status")
    p.add_argument("--region", help="only this region (and the global prices)")
    p.add_argument("--format", choices=("table", "json"), default="table")
    p.add_argument("--catalog", default=str(DEFAULT_CATALOG), help=argparse.SUPPRESS)
    p = sub.add_parser("refresh", help="rebuild a region's prices from the AWS Price List API")
    p.add_argument("--region", required=True)
    p.add_argument("--dry-run", action="store_true", help="report the changes, write nothing")
    p.add_argument("--catalog", default=str(DEFAULT_CATALOG), help="catalog file to update")


def run(args: argparse.Namespace) -> int:
    return run_show(args) if args.prices_command == "show" else run_refresh(args)


def run_show(args: argparse.Namespace) -> int:
    """``prices show``: every catalog figure with its source, date and status."""
    try:
        catalog = load_catalog(Path(args.catalog))
    except CatalogError as exc:
        print(f"budget prices: {exc}", file=sys.stderr)
        return ExitCode.INVALID
    if args.region and args.region not in catalog.regions:
        print(f"budget prices: region {args.region} is not in the catalog", file=sys.stderr)
        return ExitCode.INVALID
    sys.stdout.write(show(catalog, region=args.region, fmt=args.format))
    return ExitCode.OK


def run_refresh(args: argparse.Namespace) -> int:
    """``prices refresh``: rebuild a region's entries from the AWS Price List API."""
    # Local: importing boto3 takes about 0.2 s (measured), which ``prices show`` (offline) need not pay.
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError  # local with boto3 (same package family)

    session = boto3.Session()
    if session.get_credentials() is None:
        print(
            "budget prices refresh: no AWS credentials found. The Price List API needs an AWS identity "
            "(any IAM user or role allowed pricing:GetProducts); set AWS_PROFILE or AWS_ACCESS_KEY_ID/"
            "AWS_SECRET_ACCESS_KEY. The catalog was not changed.",
            file=sys.stderr,
        )
        return ExitCode.INVALID
    client = session.client("pricing", region_name=PRICING_REGION)
    try:
        result = refresh(client, Path(args.catalog), args.region, dry_run=args.dry_run)
    except (BotoCoreError, ClientError) as exc:
        print(
            f"budget prices refresh: the Price List API failed: {exc}. The catalog was not changed.",
            file=sys.stderr,
        )
        return ExitCode.INVALID
    except CatalogError as exc:
        print(f"budget prices refresh: {exc}", file=sys.stderr)
        return ExitCode.INVALID
    sys.stdout.write(render_refresh(result))
    return ExitCode.OK
