"""PostgreSQL's own statement counts (``pg_stat_statements``): how many statements the database ran,
so that queries/s are the database's figure, not the client's count of its calls."""

from __future__ import annotations

from typing import Any

import asyncpg


async def pg_counters(url: str) -> tuple[int, int]:
    """(statements executed, of which data statements, i.e. not BEGIN/COMMIT/ROLLBACK) so far,
    cluster-wide, from PostgreSQL itself."""
    conn = await asyncpg.connect(url)
    try:
        row = await conn.fetchrow(
            "SELECT coalesce(sum(calls), 0) AS calls, coalesce(sum(calls) FILTER (WHERE upper(query) NOT IN"
            " ('BEGIN', 'COMMIT', 'ROLLBACK')), 0) AS data FROM pg_stat_statements"
            " WHERE query NOT ILIKE '%pg_stat%'"
        )
        return int(row["calls"]), int(row["data"])
    finally:
        await conn.close()


async def pg_top(url: str, n: int = 10) -> list[dict[str, Any]]:
    """The statements PostgreSQL ran most over the whole run: how many round trips a request costs."""
    conn = await asyncpg.connect(url)
    try:
        rows = await conn.fetch(
            "SELECT calls, round(mean_exec_time::numeric, 3) AS ms,"
            " left(regexp_replace(query, '\\s+', ' ', 'g'), 90) AS query FROM pg_stat_statements"
            " WHERE query NOT ILIKE '%pg_stat%' ORDER BY calls DESC LIMIT $1",
            n,
        )
        return [{"calls": r["calls"], "mean_ms": float(r["ms"]), "query": r["query"]} for r in rows]
    finally:
        await conn.close()


def enable_pg_stat_statements(postgres: Any) -> None:
    conf = postgres.data / "postgresql.conf"
    with conf.open("a") as f:
        f.write("\nshared_preload_libraries = 'pg_stat_statements'\npg_stat_statements.track = all\n")


async def create_extension(url: str) -> None:
    conn = await asyncpg.connect(url)
    try:
        await conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
    finally:
        await conn.close()
