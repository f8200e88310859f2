"""``python -m bench.client_faults [--out FILE]``: both clients through the runtime's faults, as figures.

Runs the fault scenarios of bench.clients.faults (kill -9 and restart, drain onto a second server,
Redis down 10 s, a silent network cut; Python in-process, JavaScript in headless Chromium), the same
runs tests/clients asserts, and collects each run's acknowledged, delivered, missed and duplicated
messages and its resume time into JSON, with the machine it ran on. About a minute; it starts and
stops its own Redis, PostgreSQL, servers and browser. A run with any problem (a missed message, no
resume, ...) is reported and no figures are written: they would not be trusted.
"""

from __future__ import annotations

import argparse
import contextlib
import secrets
import sys
from typing import Any

from bench.browser import chromium
from bench.clients.cluster import Cluster, cluster
from bench.clients.faults import FAULTS, FaultRun, Handle, run_fault
from bench.clients.handles import JsHandle, PyHandle
from bench.common import machine, table, write_json
from bench.servers import postgres_server

CLIENTS = ("python", "js")


def _one(kind: str, browser: Any, started: Cluster, fault: str) -> FaultRun:
    started.heal()
    handle: Handle = (
        JsHandle(browser, started.b.http, started.secret) if kind == "js" else PyHandle(started.secret)
    )
    try:
        run = run_fault(handle, started, fault)
        errors = handle.page_errors()
    finally:
        with contextlib.suppress(Exception):
            handle.close()
    if errors:
        raise SystemExit(f"{kind} {fault}: page errors {errors}; figures not trusted")
    return run


def run(
    faults: tuple[str, ...] = tuple(FAULTS), clients: tuple[str, ...] = CLIENTS
) -> list[dict[str, object]]:
    """Each fault for each client (all of them by default), in the tests' order; exits on any problem."""
    runs: list[FaultRun] = []
    with (
        postgres_server() as postgres,
        cluster(postgres, secrets.token_urlsafe(32)) as started,
        chromium() as browser,
    ):
        for kind in clients:
            for fault in faults:
                runs.append(_one(kind, browser, started, fault))
    problems = [f"{r.client} {r.fault}: {p}" for r in runs for p in r.problems()]
    if problems:
        raise SystemExit("client fault runs failed; figures not trusted:\n" + "\n".join(problems))
    return [r.figures() for r in runs]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.client_faults", description=__doc__)
    parser.add_argument("--out", help="write the figures as JSON to this file")
    args = parser.parse_args(argv)
    rows = run()
    keys = ["fault", "client", "acked", "delivered", "missed", "duplicates", "resume_s"]
    print(table(keys, [[row[k] for k in keys] for row in rows]))
    write_json(args.out, {"machine": machine(), "scenarios": "bench/clients/faults.py", "runs": rows})
    return 0


if __name__ == "__main__":
    sys.exit(main())
