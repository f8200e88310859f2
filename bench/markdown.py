"""Markdown tables from a benchmark JSON file, for the README: ``python -m bench.markdown results.json``."""

from __future__ import annotations

import json
import sys
from typing import Any

from bench.api import WINDOW_HEADERS, window_row
from bench.common import fmt


def _table(headers: list[str], rows: list[list[Any]]) -> str:
    out = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    out += ["| " + " | ".join(fmt(c) for c in row) + " |" for row in rows]
    return "\n".join(out)


def fanout(run: dict[str, Any]) -> str:
    rows = []
    for name, r in run["servers"].items():
        mem = r["memory"]["rss_per_conn_kb"]
        if not r["windows"]:
            rows.append([name, r.get("connections_opened"), r.get("connect_rate"), *["-"] * 7, mem, "-"])
        for w in r["windows"]:
            rows.append(
                [
                    name + (" (retry)" if w.get("retry") else ""),
                    w["connections_open"],
                    r.get("connect_rate"),
                    round(w["target_deliveries_per_s"]),
                    w["deliveries_per_s"],
                    w["p50_ms"],
                    w["p99_ms"],
                    w["max_ms"],
                    w["lost"],
                    w["server_cpu_us_per_delivery"],
                    mem,
                    f"{w['client_cpu_cores']:.2f} / {w['other_cpu_cores']:.2f}",
                ]
            )
    headers = [
        "server",
        "connections",
        "connect/s",
        "target deliv/s",
        "deliv/s",
        "p50 ms",
        "p99 ms",
        "max ms",
        "lost",
        "server CPU µs/deliv",
        "KB/conn idle",
        "clients / others (cores)",
    ]
    text = _table(headers, rows)
    for name, ratios in run.get("ratios", {}).items():
        label = name if " / " in name else f"ours / {name}"
        text += f"\n\n{label}: " + ", ".join(f"{k} **{fmt(v, 2)}**" for k, v in ratios.items())
    return text


def api(run: dict[str, Any]) -> str:
    rows = [
        [
            *window_row(w),
            w["db_queries_per_s"],
            w["db_data_queries_per_s"],
            w["db_queries_per_request"],
            w["server_cpu_us_per_request"],
            " + ".join(f"{c:.2f}" for c in w["server_cpu_cores_by_process"] if c > 0.01),
        ]
        for w in run["windows"]
    ]
    headers = [
        *WINDOW_HEADERS,
        "DB stmts/s",
        "of which data",
        "stmts/request",
        "server CPU µs/req",
        "worker cores",
    ]
    text = _table(headers, rows)
    top = run.get("db_top_statements", [])
    if top:
        text += "\n\nPostgreSQL's statement counts over the run (pg_stat_statements):\n\n"
        text += _table(
            ["calls", "mean ms", "statement"], [[t["calls"], t["mean_ms"], t["query"]] for t in top[:6]]
        )
    return text


def targets(run: dict[str, Any]) -> str:
    rows = [
        [t["target"], t["goal"], t["measured"], ("met" if t["met"] else "**missed**"), t["margin"]]
        for t in run.get("targets", [])
        if t["applies"]
    ]
    return _table(["target", "goal", "measured", "", "by"], rows) if rows else ""


def db(run: dict[str, Any]) -> list[str]:
    """The two publish paths side by side, and the API mix on the Store when the run measured it."""
    parts = [
        _table(
            ["publish path", "publishes/s", "app CPU µs/publish", "DB CPU µs/publish"],
            [
                [
                    n,
                    run[n]["publishes_per_s"],
                    run[n]["app_cpu_us_per_publish"],
                    run[n]["db_cpu_us_per_publish"],
                ]
                for n in ("store", "one-statement")
            ],
        )
    ]
    q = run.get("queries")
    if q:
        parts.append(
            _table(
                [
                    "API mix on the Store",
                    "queries/s (PostgreSQL)",
                    "per call",
                    "publishes/statement",
                    "p50 ms",
                    "p99 ms",
                    "app CPU µs/query",
                    "DB CPU µs/query",
                ],
                [
                    [
                        f"{q['concurrency']} tasks",
                        q["queries_per_s"],
                        q["statements_per_call"],
                        q.get("publishes_per_statement"),
                        q["p50_ms"],
                        q["p99_ms"],
                        q["app_cpu_us_per_query"],
                        q["db_cpu_us_per_query"],
                    ]
                ],
            )
        )
    return parts


def _machine(m: dict[str, Any], v: dict[str, Any]) -> str:
    """One line: the machine, its load at start and end, the commit and the versions that matter."""
    return (
        f"Machine: {m['cpu_model']}, {m['cpus']} vCPUs, {m['memory_gb']} GB, Linux {m['kernel']}, "
        f"Python {m['python']}; load average {m['loadavg_at_start']} at start, {m.get('loadavg_at_end')} "
        f"at end; {m['time_utc']}; commit {v.get('git_commit')}. "
        + ", ".join(
            f"{k} {v[k]}"
            for k in ("starlette", "uvicorn", "websockets", "broadcaster", "redis", "SQLAlchemy")
        )
        + f", {v.get('redis-server', '').split(' sha')[0]}, {v.get('postgres')}."
    )


def _fanout_params(p: dict[str, Any]) -> str:
    return (
        f"{p['workload']}, {p['connections']:,} connections, {p['workers']} workers, "
        + (
            f"sweep x{p['sweep_factor']} from {p['sweep_start']:,.0f} deliveries/s, "
            f"{p['sweep_duration']:g} s per step"
            if p["sweep"]
            else f"{p['rate']:g} messages/s for {p['duration']:g} s"
        )
        + "."
    )


def _body(run: dict[str, Any]) -> list[str]:
    """A run's own tables and lines (no targets), by the kind of benchmark."""
    kind = run["benchmark"]
    if kind.startswith("fanout"):
        return [_fanout_params(run["params"]), fanout(run)]
    if kind == "api":
        return [api(run)]
    if kind == "db":
        return db(run)
    if kind == "floor":
        return [
            ", ".join(f"{k}: {v} µs" for k, v in run.items() if isinstance(v, float))
            + f" ({run['connections']:,} sockets, {run['frame_bytes']}-byte frame)."
        ]
    return []


def render(doc: dict[str, Any]) -> str:
    parts = [_machine(doc["machine"], doc["versions"])]
    for run in doc["runs"]:
        parts.append(f"#### {run['benchmark']}")
        parts += _body(run)
        t = targets(run)
        if t:
            parts.append(t)
    return "\n\n".join(parts) + "\n"


if __name__ == "__main__":
    with open(sys.argv[1]) as f:
        print(render(json.load(f)))
