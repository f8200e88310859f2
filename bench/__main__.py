"""Command line: ``python -m bench fanout|api|hostile|all``; prints a summary table and writes JSON.

Every run has a global timeout and stops everything it started (see bench.procs).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Coroutine
from typing import Any

import uvloop

from bench import deflate as deflate_bench
from bench import faults as faults_bench
from bench import hostile as hostile_bench
from bench import procs
from bench.api import WINDOW_HEADERS, ApiParams, run_api, window_row
from bench.common import fmt, machine, table, versions, write_json
from bench.fanout import FanoutParams, run_fanout
from bench.targets import api_targets, db_targets, fanout_targets


def _run(coro: Coroutine[Any, Any, dict[str, Any]]) -> dict[str, Any]:
    return uvloop.run(coro)


def _log(msg: str) -> None:
    print(msg, flush=True)


def fanout_params(args: argparse.Namespace) -> FanoutParams:
    return FanoutParams(
        workload=args.workload,
        connections=args.connections,
        workers=args.workers,
        rate=args.rate,
        duration=args.duration,
        clients=args.clients,
        payload=args.payload,
        baseline=args.baseline,
        sweep=args.sweep,
        sweep_start=args.sweep_start,
        sweep_factor=args.sweep_factor,
        sweep_duration=args.sweep_duration,
        sweep_max=args.sweep_max,
        profile=args.profile,
        drain=args.drain,
        idle=args.idle,
        deflate=args.deflate == "on",
    )


def run_fanout_cmd(params: FanoutParams, label: str = "fanout") -> dict[str, Any]:
    _log(
        f"== {label}: {params.workload}, {params.connections:,} connections, {params.workers} workers, "
        + (
            f"sweep from {params.sweep_start:,.0f} deliveries/s x{params.sweep_factor}"
            if params.sweep
            else f"{params.rate:g} messages/s for {params.duration:g}s"
        )
    )
    out = _run(run_fanout(params, _log))
    result = {"benchmark": label, "params": params.__dict__, **out}
    result["targets"] = fanout_targets(params, out)
    print_fanout(result)
    return result


def print_fanout(result: dict[str, Any]) -> None:
    rows = []
    for name, r in result["servers"].items():
        if not r["windows"]:
            rows.append([name, r.get("connections_opened"), r.get("connect_rate"), *["-"] * 5])
            rows[-1] += [r["memory"]["rss_per_conn_kb"], "-", "-", "-", "-"]
        for w in r["windows"]:
            if w.get("idle"):
                idle = f"idle: {w['server_cpu_cores']} cores, {w['server_cpu_us_per_connection_s']} us/conn-s"
                rows.append([name, w["connections_open"], r.get("connect_rate"), 0, idle, *["-"] * 3])
                rows[-1] += [r["memory"]["rss_per_conn_kb"], "-", w["client_cpu_cores"], w["other_cpu_cores"]]
                rows[-1].append("-")
                continue
            rows.append(
                [
                    name,
                    r.get("connections_held_at_end"),
                    r.get("connect_rate"),
                    w["deliveries_per_s"],
                    w["p50_ms"],
                    w["p99_ms"],
                    w["max_ms"],
                    w["server_cpu_us_per_delivery"],
                    r["memory"]["rss_per_conn_kb"],
                    w["lost"],
                    w["client_cpu_cores"],
                    w["other_cpu_cores"],
                    "yes" if w["pass"] else "no",
                ]
            )
    print()
    print(
        table(
            [
                "server",
                "held",
                "conn/s",
                "deliv/s",
                "p50 ms",
                "p99 ms",
                "max ms",
                "CPU us/deliv",
                "KB/conn",
                "lost",
                "client cores",
                "other cores",
                "p99<100",
            ],
            rows,
        )
    )
    for name, ratios in result.get("ratios", {}).items():
        label = name if " / " in name else f"ours / {name}"  # "<baseline> / floor" names both sides
        print(f"\n{label}: " + ", ".join(f"{k} {fmt(v, 2)}" for k, v in ratios.items()))
    print_targets(result["targets"])


def print_targets(targets: list[dict[str, Any]]) -> None:
    if not targets:
        return
    print()
    print(
        table(
            ["target", "goal", "measured", "met", "by"],
            [
                [t["target"], t["goal"], t["measured"], "yes" if t["met"] else "NO", t["margin"]]
                for t in targets
            ],
        )
    )


def run_api_cmd(params: ApiParams) -> dict[str, Any]:
    _log(f"== api: {params.rate:g} requests/s for {params.duration:g}s, {params.workers} workers")
    out = _run(run_api(params, _log))
    result = {"benchmark": "api", **out}
    result["targets"] = api_targets(params, out)
    rows = [
        [
            *window_row(w),
            w["db_queries_per_s"],
            w["server_cpu_cores"],
            w["db_cpu_cores"],
            w["client_cpu_cores"],
            "yes" if w["pass"] else "no",
        ]
        for w in out.get("windows", [])
    ]
    headers = [*WINDOW_HEADERS, "db q/s", "server cores", "db cores", "client cores", "p99<50"]
    print()
    print(table(headers, rows))
    print_targets(result["targets"])
    return result


def _add_fanout(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    fan = sub.add_parser("fanout", help="WebSocket fan-out, ours and the baseline")
    fan.add_argument("--workload", choices=["broadcast", "rooms"], default="rooms")
    fan.add_argument("--connections", type=int, default=25_000)
    fan.add_argument("--workers", type=int, default=2)
    fan.add_argument("--rate", type=float, default=1000.0, help="messages published per second")
    fan.add_argument("--duration", type=float, default=60.0)
    fan.add_argument("--clients", type=int, default=0, help="load-client processes (0: auto, >= 2)")
    fan.add_argument("--payload", type=int, default=64, help="padding bytes per message")
    fan.add_argument(
        "--baseline",
        choices=["none", "only", "minimal", "nodeflate", "default", "floor", "both"],
        default="both",
        help="floor: ours, baseline-nodeflate and bench/floor_server.py (the least a relay can do)",
    )
    fan.add_argument("--sweep", action="store_true", help="raise the rate until p99 >= 100 ms or a loss")
    fan.add_argument("--sweep-start", type=float, default=2500.0, help="first sweep step, deliveries/s")
    fan.add_argument("--sweep-factor", type=float, default=1.5)
    fan.add_argument("--sweep-duration", type=float, default=8.0)
    fan.add_argument("--drain", type=float, default=5.0, help="seconds to wait for late deliveries")
    fan.add_argument("--profile", help="directory for py-spy profiles of the servers (first window)")
    fan.add_argument("--sweep-max", type=float, default=400_000.0, help="last sweep step, deliveries/s")
    fan.add_argument(
        "--deflate",
        choices=["on", "off"],
        default="on",
        help="ours with permessage-deflate (STARS_WS_DEFLATE=1)",
    )
    fan.add_argument(
        "--idle",
        action="store_true",
        help="first a window of --duration s with nothing published (idle-connection CPU); --rate 0: only it",
    )


def _add_api(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    api = sub.add_parser("api", help="REST publish + history against PostgreSQL and Redis")
    api.add_argument("--rate", type=float, default=1000.0, help="requests per second")
    api.add_argument("--duration", type=float, default=30.0)
    api.add_argument("--workers", type=int, default=2)
    api.add_argument("--read-ratio", type=float, default=0.5)
    api.add_argument("--profile", help="directory for py-spy profiles of the server (first window)")
    api.add_argument("--extra-rates", default="", help="comma-separated further rates (capacity)")


def _add_the_others(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """floor, db, fuzz, faults, hostile and all."""
    floor = sub.add_parser("floor", help="CPU of one small write per loopback socket: the floor per delivery")
    floor.add_argument("--connections", type=int, default=2000)
    sub.add_parser("deflate", help="permessage-deflate on realistic frames: bytes saved against CPU")

    db = sub.add_parser(
        "db", help="CPU per durable publish (Store vs a one-statement prototype); queries/s at the API mix"
    )
    db.add_argument("--seconds", type=float, default=5.0)
    db.add_argument("--concurrency", type=int, default=32)

    fuzz = sub.add_parser("fuzz", help="protocol fuzzing (Hypothesis) against a live server for N minutes")
    fuzz.add_argument("--minutes", type=float, default=5.0)
    fuzz.add_argument("--examples", type=int, default=500, help="frames per Hypothesis round")

    faults = sub.add_parser(
        "faults", help="fault scenarios on loopback: losses, duplicates, false acks, resume time"
    )
    faults.add_argument("--quick", action="store_true", help="short scenarios (as in the tests)")
    faults.add_argument("--only", default="", help="comma-separated scenario names")

    hostile = sub.add_parser(
        "hostile",
        help="hostile HTTP clients (300 MB body, slow headers, REST flood) and a client's round trips",
    )
    hostile.add_argument("--quick", action="store_true", help="tiny sizes (as in the smoke test)")

    every = sub.add_parser("all", help="the full set (about 10 minutes), or a small one with --quick")
    every.add_argument("--quick", action="store_true", help="small numbers, about a minute")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--json", help="write the results to this JSON file")
    parser.add_argument("--timeout", type=float, default=1500, help="global time limit, seconds")
    sub = parser.add_subparsers(dest="command", required=True)
    _add_fanout(sub)
    _add_api(sub)
    _add_the_others(sub)
    return parser


def _runs(args: argparse.Namespace) -> list[dict[str, Any]]:
    """Run the command ``args`` names; its results, one a run."""
    if args.command == "fanout":
        return [run_fanout_cmd(fanout_params(args))]
    if args.command == "api":
        extra = tuple(float(x) for x in args.extra_rates.split(",") if x.strip())
        params = ApiParams(
            rate=args.rate,
            duration=args.duration,
            workers=args.workers,
            read_ratio=args.read_ratio,
            extra_rates=extra,
            profile=args.profile,
        )
        return [run_api_cmd(params)]
    if args.command == "db":
        return [run_db_cmd(args.seconds, args.concurrency)]
    if args.command == "floor":
        return [run_floor_cmd(args.connections)]
    if args.command == "deflate":
        return [run_deflate_cmd()]
    if args.command == "fuzz":
        return [run_fuzz_cmd(args.minutes, args.examples)]
    if args.command == "faults":
        return [run_faults_cmd(args.quick, args.only)]
    if args.command == "hostile":
        return [run_hostile_cmd(args.quick)]
    return run_all(args.quick)


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command == "faults":
        try:
            args.only = faults_bench.scenario_names(args.only)
        except ValueError as exc:
            parser.error(f"faults --only: {exc}")
    results: dict[str, Any] = {"machine": machine(), "versions": versions()}
    with procs.global_timeout(args.timeout):
        results["runs"] = _runs(args)
    results["machine"]["loadavg_at_end"] = [round(x, 2) for x in __import__("os").getloadavg()]
    write_json(args.json, results)
    if args.json:
        print(f"\nwrote {args.json}")
    met = [t["met"] for r in results["runs"] for t in r.get("targets", []) if t["applies"]]
    return 0 if all(met) else 1


def run_all(quick: bool) -> list[dict[str, Any]]:
    """Hold + latency at 10k deliveries/s (rooms), the broadcast sweep, broadcast to 25,000 sockets,
    the rooms sweep, the API, the database and the floor."""
    if quick:
        hold = FanoutParams(
            workload="rooms", connections=400, workers=2, rate=100, duration=5, settle=1, drain=3
        )
        sweep = FanoutParams(
            workload="broadcast",
            connections=200,
            workers=1,
            sweep=True,
            sweep_start=2000,
            sweep_factor=2.0,
            sweep_max=8000,
            sweep_duration=3,
            baseline="nodeflate",
            settle=1,
            drain=3,
        )
        api = ApiParams(rate=200, duration=5, workers=1, channels=20, prefill=60)
        scale = FanoutParams(
            workload="broadcast",
            connections=400,
            workers=2,
            rate=5,
            duration=5,
            settle=1,
            drain=3,
            baseline="nodeflate",
        )
    else:
        hold = FanoutParams(workload="rooms", connections=25_000, workers=2, rate=1000, duration=60)
        sweep = FanoutParams(
            workload="broadcast",
            connections=1000,  # one burst per message stays short: the rate, not the burst, sets p99
            workers=2,
            sweep=True,
            sweep_start=5000,
            baseline="nodeflate",
        )
        api = ApiParams(rate=1000, duration=30, workers=2, extra_rates=(1500.0,))
        # Fan-out cost at the plan's scale: one message a second to all 25,000 sockets (25,000 deliveries/s).
        scale = FanoutParams(
            workload="broadcast", connections=25_000, workers=2, rate=1, duration=30, baseline="nodeflate"
        )
    rooms_sweep = FanoutParams(
        workload="rooms",
        connections=400 if quick else 2000,
        workers=1 if quick else 2,
        sweep=True,
        sweep_start=500 if quick else 1000,
        sweep_factor=2.0 if quick else 1.5,
        sweep_max=1000 if quick else 400_000,
        sweep_duration=3 if quick else 8,
        baseline="nodeflate",
        settle=1 if quick else 3,
        drain=3 if quick else 5,
    )
    return [
        run_fanout_cmd(hold, "fanout-hold"),
        run_fanout_cmd(sweep, "fanout-sweep-broadcast"),
        run_fanout_cmd(scale, "fanout-broadcast-scale"),
        run_fanout_cmd(rooms_sweep, "fanout-sweep-rooms"),
        run_api_cmd(api),
        run_db_cmd(1.0 if quick else 5.0, 32),
        run_floor_cmd(200 if quick else 2000),
    ]


def run_db_cmd(seconds: float, concurrency: int) -> dict[str, Any]:
    from bench.dbpath import run_db  # local: alembic and SQLAlchemy, 1.2 s (measured) no other command needs

    _log(f"== db: durable publishes from {concurrency} tasks for {seconds:g}s, in-process; then the API mix")
    out = _run(run_db(seconds, concurrency))
    for name in ("store", "one-statement"):
        r = out[name]
        _log(
            f"   {name}: {r['publishes_per_s']:,.0f} publishes/s, {r['app_cpu_us_per_publish']} us app CPU"
            f" and {r['db_cpu_us_per_publish']} us database CPU per publish"
        )
    q = out["queries"]
    _log(
        f"   queries (API mix, {q['concurrency']} tasks): {q['queries_per_s']:,.0f} statements/s"
        f" by PostgreSQL's count ({q['statements_per_call']} per Store call,"
        f" {q['publishes_per_statement']} publishes per publish statement),"
        f" p50 {q['p50_ms']} ms, p99 {q['p99_ms']} ms,"
        f" {q['app_cpu_us_per_query']} us app + {q['db_cpu_us_per_query']} us database CPU per query"
    )
    result = {"benchmark": "db", **out, "targets": db_targets(seconds, out)}
    print_targets(result["targets"])
    return result


def run_fuzz_cmd(minutes: float, examples: int) -> dict[str, Any]:
    from bench.fuzz import run_fuzz  # local: Hypothesis, 0.3 s (measured) no other command needs

    _log(f"== fuzz: protocol frames from Hypothesis against a live server for {minutes:g} minutes")
    out = run_fuzz(seconds=minutes * 60, examples=examples, log=_log)
    _log(f"   {out['frames']:,} frames ({out['frames_per_s']}/s), {out['acknowledged']:,} acknowledged")
    _log(f"   errors by code: {out['errors_by_code']}; closes by code: {out['closes_by_code']}")
    _log(f"   findings: {len(out['findings'])}")
    for finding in out["findings"]:
        _log(f"   - {finding}")
    met = not out["findings"]
    target = {"target": "fuzz findings", "goal": "0", "measured": str(len(out["findings"])), "met": met}
    return {"benchmark": "fuzz", **out, "targets": [{**target, "applies": True, "margin": ""}]}


def run_faults_cmd(quick: bool, only: list[str]) -> dict[str, Any]:
    out = faults_bench.run_faults(quick=quick, only=only, log=_log)
    faults_bench.print_table(out["scenarios"])
    return {"benchmark": "faults", **out}


def run_hostile_cmd(quick: bool) -> dict[str, Any]:
    out = _run(
        hostile_bench.run_hostile(hostile_bench.QUICK if quick else hostile_bench.HostileParams(), _log)
    )
    hostile_bench.print_table(out["phases"])
    return {"benchmark": "hostile", **out}


def run_floor_cmd(connections: int) -> dict[str, Any]:
    from bench.floor import run_floor  # local: the runtime's send path, 0.5 s (measured) others need not pay

    _log(f"== floor: one small frame written to each of {connections:,} loopback sockets")
    out = _run(run_floor(connections, rounds=20 if connections < 1000 else 50))
    _log("   CPU per delivery, us: " + ", ".join(f"{k} {v}" for k, v in out.items() if isinstance(v, float)))
    return {"benchmark": "floor", **out}


def run_deflate_cmd() -> dict[str, Any]:
    _log("== deflate: realistic frames, compressed once as the runtime sends them")
    out = deflate_bench.measure()
    headers = ["frame", "bytes", "deflated", "saved", "compress us", "us/delivery at 10", "client inflate us"]
    rows = [
        [
            r["frame"],
            r["plain_bytes"],
            r["deflated_bytes"],
            f"{r['saved']:.1%}",
            r["compress_once_us"],
            r["compress_us_per_delivery_at_10"],
            r["client_inflate_us"],
        ]
        for r in out["frames"]
    ]
    print(table(headers, rows))
    return {"benchmark": "deflate", **out}


if __name__ == "__main__":
    sys.exit(main())
