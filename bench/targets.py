"""The issue's targets, checked against measured figures; a miss says by how much.

A target "applies" only when the run is at the target's scale (a quick run cannot prove 25,000
connections); the exit code looks only at targets that apply.
"""

from __future__ import annotations

from typing import Any

CONNECTIONS_TARGET = 25_000
HOLD_SECONDS = 60.0
P99_DELIVERY_MS = 100.0
DELIVERY_RATE = 10_000.0
CPU_RATIO = 4.0
KB_PER_CONN = 20.0
API_RPS = 1000.0
API_P99_MS = 50.0
DB_QPS = 5000.0


def _pct(measured: float, goal: float) -> str:
    return f"{(measured - goal) / goal * 100:+.0f}%"


def _t(target: str, goal: str, measured: Any, met: bool, margin: str, applies: bool = True) -> dict[str, Any]:
    return {
        "target": target,
        "goal": goal,
        "measured": measured,
        "met": met,
        "margin": margin,
        "applies": applies,
    }


def fanout_targets(params: Any, out: dict[str, Any]) -> list[dict[str, Any]]:
    ours = out["servers"].get("ours")
    if not ours or not ours.get("windows"):
        return []
    res: list[dict[str, Any]] = []
    published = [w for w in ours["windows"] if not w.get("idle")]
    win = published[-1] if published and not params.sweep else None
    at_scale = (
        params.connections >= CONNECTIONS_TARGET and params.duration >= HOLD_SECONDS and not params.sweep
    )
    held = ours.get("connections_held_at_end", 0)
    errors = ours.get("connect_failures", 0) + ours.get("client_errors", 0)
    if not params.sweep:
        res.append(
            _t(
                f"{params.connections:,} connections held {params.duration:g}s, {params.workers} workers",
                "25,000 / 60 s / 2 workers / 0 errors",
                f"{held:,} held, {errors} errors",
                held >= params.connections and errors == 0 and ours.get("server_alive", False),
                f"{held - params.connections:+,} connections, {errors} errors",
                applies=at_scale and params.workers == 2,
            )
        )
    if win is not None:
        p99 = win["p99_ms"]
        rate = win["deliveries_per_s"]
        res.append(
            _t(
                f"p99 delivery latency at {rate:,.0f} deliveries/s",
                "< 100 ms at >= 10,000/s",
                f"{p99} ms" if p99 is not None else "no deliveries",
                p99 is not None and p99 < P99_DELIVERY_MS and rate >= 0.98 * DELIVERY_RATE,
                f"{p99 - P99_DELIVERY_MS:+.1f} ms" if p99 is not None else "no deliveries",
                applies=win["target_deliveries_per_s"] >= DELIVERY_RATE,
            )
        )
    elif params.sweep:
        best = ours.get("max_rate_p99_under_100ms")
        res.append(
            _t(
                "highest delivery rate with p99 < 100 ms (sweep)",
                ">= 10,000 deliveries/s",
                f"{best:,.0f}/s" if best else "none",
                bool(best and best >= DELIVERY_RATE),
                _pct(best, DELIVERY_RATE) if best else "-",
            )
        )
    lost = sum(w["lost"] for w in published)
    res.append(_t("messages lost", "0", lost, lost == 0, f"{lost} lost"))
    kb = ours["memory"]["rss_per_conn_kb"]
    res.append(
        _t(
            "server memory per idle connection (RSS)",
            "<= 20 KB",
            f"{kb} KB",
            kb <= KB_PER_CONN,
            f"{kb - KB_PER_CONN:+.1f} KB",
            applies=ours.get("connections_opened", 0) >= 1000,
        )
    )
    for name in ("baseline-nodeflate", "baseline"):
        r = out.get("ratios", {}).get(name, {}).get("deliveries_per_server_cpu_s")
        if r is None:
            continue
        res.append(
            _t(
                f"deliveries per server CPU-second vs {name}",
                ">= 4x",
                f"{r:.2f}x",
                r >= CPU_RATIO,
                f"{r / CPU_RATIO * 100:.0f}% of the goal",
                applies=name == "baseline-nodeflate" or "baseline-nodeflate" not in out.get("ratios", {}),
            )
        )
    return res


def api_targets(params: Any, out: dict[str, Any]) -> list[dict[str, Any]]:
    wins = out.get("windows", [])
    if not wins:
        return []
    main = wins[0]
    p99 = main["p99_ms"]
    res = [
        _t(
            f"API at {main['target_rps']:,.0f} requests/s",
            "1,000 req/s, p99 < 50 ms, 0 errors",
            f"{main['throughput_rps']:,.0f} req/s, p99 {p99} ms, {main['errors']} errors",
            bool(main["pass"]) and main["throughput_rps"] >= 0.98 * API_RPS,
            f"p99 {p99 - API_P99_MS:+.1f} ms" if p99 is not None else "no responses",
            applies=params.rate >= API_RPS,
        )
    ]
    return res


def db_targets(seconds: float, out: dict[str, Any]) -> list[dict[str, Any]]:
    """5,000 database queries/s: the database tier on the runtime's own data path (the Store), at the
    API's mix, counted by PostgreSQL; each query's p99 under the plan's 50 ms. Through the HTTP API the
    same statements arrive at 0.8 per request, so the API benchmark reports them but cannot drive
    5,000/s on two cores (see bench/README.md)."""
    q = out.get("queries")
    if not q:
        return []
    qps, p99 = q["queries_per_s"], q["p99_ms"]
    return [
        _t(
            "database queries/s, runtime Store, API mix (PostgreSQL's count), p99 < 50 ms",
            ">= 5,000/s, p99 < 50 ms",
            f"{qps:,.0f}/s, p99 {p99} ms",
            qps >= DB_QPS and p99 is not None and p99 < API_P99_MS,
            _pct(qps, DB_QPS),
            applies=seconds >= 5.0,
        )
    ]
