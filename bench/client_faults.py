"""``python -m bench.client_faults [--out FILE]``: both clients through the runtime's faults, as figures.

Runs the fault suite of tests/clients (kill -9 and restart, drain onto a second server, Redis down
10 s, a silent network cut; Python in-process, JavaScript in headless Chromium) and collects each
run's acknowledged, delivered, missed and duplicated messages and its resume time into JSON, with the
machine it ran on. About a minute; it starts and stops its own Redis, PostgreSQL and servers.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from bench.common import machine, table, write_json

ROOT = Path(__file__).resolve().parents[1]
SUITE = "tests/clients/test_clients_faults.py"
FIGURES_ENV = "BENCH_CLIENT_FAULTS_JSON"  # where the suite writes its figures (tests/clients)


def run(timeout: float = 480.0) -> list[dict[str, object]]:
    with tempfile.TemporaryDirectory(prefix="client-faults-") as tmp:
        figures = Path(tmp) / "figures.json"
        done = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:randomly", "-p", "no:cacheprovider", SUITE],
            cwd=ROOT, env={**os.environ, FIGURES_ENV: str(figures)}, timeout=timeout, check=False,
        )  # fmt: skip
        if done.returncode != 0 or not figures.exists():
            raise SystemExit(f"client fault suite failed (exit {done.returncode}); figures not trusted")
        return list(json.loads(figures.read_text()))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.client_faults", description=__doc__)
    parser.add_argument("--out", help="write the figures as JSON to this file")
    args = parser.parse_args(argv)
    rows = run()
    keys = ["fault", "client", "acked", "delivered", "missed", "duplicates", "resume_s"]
    print(table(keys, [[row[k] for k in keys] for row in rows]))
    write_json(args.out, {"machine": machine(), "suite": SUITE, "runs": rows})
    return 0


if __name__ == "__main__":
    sys.exit(main())
